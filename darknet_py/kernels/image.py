"""Image kernels on Darknet's float CHW layout: index = (k*h + y)*w + x, values in [0, 1].

Darknet's resize_image is two separable linear passes in float32 with "align corners" scales and no
antialiasing (README of ../shared/golden2, §2.5). The kernels reproduce its float32 arithmetic:
every operand is float32 (``one`` is passed in as a float32 so that ``one - dx`` does not widen to
float64), and the two products are rounded before they are added, as C does without FMA.
"""
from ._jit import parallel_kernel, prange


@parallel_kernel
def hwc_bytes_to_chw(src, dst, height, width, channels):
    """dst[k, y, x] = src[y, x, k] / 255 (divided in float64, stored in dst's dtype, like stb's loader)."""
    plane = height * width
    for k in prange(channels):
        for p in range(plane):
            dst[k * plane + p] = src[p * channels + k] / 255.0


@parallel_kernel
def resize_columns(src, part, rows, src_w, dst_w, ix, dx, one):
    """Pass 1: part[r, c] = (1-dx[c])*src[r, ix[c]] + dx[c]*src[r, ix[c]+1] for every row r of every
    channel (``rows`` = channels*src_h); the last output column (or a 1-wide source) copies the last
    source column."""
    for r in prange(rows):
        s = r * src_w
        d = r * dst_w
        for c in range(dst_w):
            if c == dst_w - 1 or src_w == 1:
                part[d + c] = src[s + src_w - 1]
            else:
                i = s + ix[c]
                part[d + c] = (one - dx[c]) * src[i] + dx[c] * src[i + 1]


@parallel_kernel
def resize_rows(part, dst, channels, src_h, dst_h, width, iy, dy, one):
    """Pass 2: dst[k, r] = (1-dy[r])*part[k, iy[r]] + dy[r]*part[k, iy[r]+1]; the last output row (or
    a 1-high source) gets only the first term, which is Darknet's nearly black last row."""
    for kr in prange(channels * dst_h):
        k = kr // dst_h
        r = kr - k * dst_h
        top = (k * src_h + iy[r]) * width
        out = kr * width
        w0 = one - dy[r]
        if r == dst_h - 1 or src_h == 1:
            for c in range(width):
                dst[out + c] = w0 * part[top + c]
        else:
            w1 = dy[r]
            for c in range(width):
                dst[out + c] = w0 * part[top + c] + w1 * part[top + width + c]


@parallel_kernel
def embed(src, dst, channels, src_h, src_w, dst_h, dst_w, dx, dy, background):
    """dst = background everywhere, src placed with its top-left corner at (dx, dy) (letterbox)."""
    for kr in prange(channels * dst_h):
        k = kr // dst_h
        y = kr - k * dst_h
        out = kr * dst_w
        sy = y - dy
        for x in range(dst_w):
            sx = x - dx
            if 0 <= sy < src_h and 0 <= sx < src_w:
                dst[out + x] = src[(k * src_h + sy) * src_w + sx]
            else:
                dst[out + x] = background
