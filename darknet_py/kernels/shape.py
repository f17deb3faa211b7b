"""Copy-like kernels that move values between layouts: route, upsample/downsample, reorg.

Forward kernels overwrite their output; backward kernels accumulate (+=) unless told otherwise
(``accumulate=False`` reproduces Darknet's overwriting reorg/downsample backward in compat mode).
"""
from ._jit import parallel_kernel, prange


@parallel_kernel
def route_copy(src, dst, batch, size, dst_offset, dst_stride):
    """dst[b, dst_offset : dst_offset+size] = src[b, :]; src is (B, size), dst is (B, dst_stride)."""
    for b in prange(batch):
        s0 = b * size
        d0 = b * dst_stride + dst_offset
        for i in range(size):
            dst[d0 + i] = src[s0 + i]


@parallel_kernel
def route_add(dy, dx, batch, size, dy_offset, dy_stride):
    """dx[b, :] += dy[b, dy_offset : dy_offset+size]; the backward of route_copy."""
    for b in prange(batch):
        s0 = b * dy_stride + dy_offset
        d0 = b * size
        for i in range(size):
            dx[d0 + i] += dy[s0 + i]


@parallel_kernel
def route_copy_part(src, src_stride, src_offset, dst, batch, size, dst_offset, dst_stride):
    """dst[b, dst_offset : dst_offset+size] = src[b, src_offset : src_offset+size] (route with groups:
    src is (B, src_stride), each item contributes one contiguous slice)."""
    for b in prange(batch):
        s0 = b * src_stride + src_offset
        d0 = b * dst_stride + dst_offset
        for i in range(size):
            dst[d0 + i] = src[s0 + i]


@parallel_kernel
def route_add_part(dy, dy_stride, dy_offset, dx, batch, size, dx_offset, dx_stride):
    """dx[b, dx_offset : dx_offset+size] += dy[b, dy_offset : dy_offset+size]; the backward of route_copy_part."""
    for b in prange(batch):
        s0 = b * dy_stride + dy_offset
        d0 = b * dx_stride + dx_offset
        for i in range(size):
            dx[d0 + i] += dy[s0 + i]


@parallel_kernel
def upsample_spread(small, big, planes, h, w, big_h, big_w, stride, scale, accumulate):
    """big[p, y, x] (=|+=) scale * small[p, y//stride, x//stride] for y < h*stride, x < w*stride.

    small is (planes, h, w), big is (planes, big_h, big_w) with big_h >= h*stride (a downsample's
    input may have rows past h*stride; Darknet leaves them alone, so do we)."""
    for p in prange(planes):
        for yy in range(h * stride):
            srow = (p * h + yy // stride) * w
            brow = (p * big_h + yy) * big_w
            for xx in range(w * stride):
                v = scale * small[srow + xx // stride]
                if accumulate:
                    big[brow + xx] += v
                else:
                    big[brow + xx] = v


@parallel_kernel
def upsample_gather(big, small, planes, h, w, big_h, big_w, stride, scale, accumulate):
    """small[p, y, x] (=|+=) scale * sum of big's stride x stride block at (y*stride, x*stride)."""
    for row in prange(planes * h):                  # one small row per iteration: disjoint writes
        p = row // h
        yy = row - p * h
        for xx in range(w):
            acc = 0.0
            for dy in range(stride):
                brow = (p * big_h + yy * stride + dy) * big_w + xx * stride
                for dx in range(stride):
                    acc += big[brow + dx]
            if accumulate:
                small[row * w + xx] += scale * acc
            else:
                small[row * w + xx] = scale * acc


@parallel_kernel
def reorg(x, out, batch, c, h, w, stride, forward, accumulate):
    """Darknet's reorg_cpu index mapping (golden README section 5), over an input of (c, h, w).

    For every (b, k, j, i) of (batch, c, h, w): a = i + w*(j + h*(k + c*b)) and
    p = w2 + w*stride*(h2 + h*stride*(c2 + oc*b)) with oc = c/stride^2, c2 = k % oc, o = k // oc,
    w2 = i*stride + o % stride, h2 = j*stride + o // stride. The map a -> p is a permutation of the
    flat buffer; forward=0 gathers out[a] = x[p] (Darknet's non-reverse forward), forward=1 scatters
    out[p] = x[a] (its inverse). Being a permutation, every write lands on its own element."""
    oc = c // (stride * stride)
    for bk in prange(batch * c):
        b = bk // c
        k = bk - b * c
        c2 = k % oc
        o = k // oc
        for j in range(h):
            h2 = j * stride + o // stride
            for i in range(w):
                w2 = i * stride + o % stride
                a = i + w * (j + h * (k + c * b))
                p = w2 + w * stride * (h2 + h * stride * (c2 + oc * b))
                if forward:
                    if accumulate:
                        out[p] += x[a]
                    else:
                        out[p] = x[a]
                else:
                    if accumulate:
                        out[a] += x[p]
                    else:
                        out[a] = x[p]


@parallel_kernel
def crop(x, y, planes, h, w, out_h, out_w, dh, dw, flip, scale, trans):
    """y[p, i, j] = x[p, i + dh, col] * scale + trans, col = w - dw - j - 1 if flip else j + dw."""
    for row in prange(planes * out_h):
        p = row // out_h
        i = row - p * out_h
        src = (p * h + i + dh) * w
        for j in range(out_w):
            col = w - dw - j - 1 if flip else j + dw
            y[row * out_w + j] = x[src + col] * scale + trans


# ---------------------------------------------------------------- inference fast paths (same results)

_IDX = 0xFFFFFFFF   # index mask: proves to LLVM that an index is >= 0 (no wraparound selects)
_CHUNK = 16384      # elements per parallel task of a copy (64 KiB of float32)


@parallel_kernel
def route_copy_fast(src, dst, batch, size, dst_offset, dst_stride):
    """``route_copy`` split into chunks so both threads copy even for batch 1."""
    chunks = (size + _CHUNK - 1) // _CHUNK
    for t in prange(batch * chunks):
        b = t // chunks
        i0 = (t - b * chunks) * _CHUNK
        i1 = min(size, i0 + _CHUNK)
        s0 = b * size
        d0 = b * dst_stride + dst_offset
        for i in range(i0, i1):
            dst[(d0 + i) & _IDX] = src[(s0 + i) & _IDX]


@parallel_kernel
def upsample_spread_fast(small, big, planes, h, w, big_h, big_w, stride, scale):
    """``upsample_spread`` with accumulate=False, same values: one big row per iteration, each
    small value written to its ``stride`` neighbours (no division per output element)."""
    for row in prange(planes * h * stride):          # (p, yy) of big, yy < h*stride
        p = row // (h * stride)
        yy = row - p * (h * stride)
        srow = (p * h + yy // stride) * w
        brow = (p * big_h + yy) * big_w
        if stride == 2:
            for xx in range(w):
                v = scale * small[(srow + xx) & _IDX]
                big[(brow + 2 * xx) & _IDX] = v
                big[(brow + 2 * xx + 1) & _IDX] = v
        else:
            for xx in range(w):
                v = scale * small[(srow + xx) & _IDX]
                for d in range(stride):
                    big[(brow + xx * stride + d) & _IDX] = v
