"""Index-mapping kernels: im2col / col2im (Darknet's im2col.c, col2im.c), the per-location products
of [local], and shortcut's strided/sampled add between maps of different sizes (blas.c shortcut_cpu).

An image is (channels, height, width) flat; its column matrix is (channels*ksize*ksize, out_h*out_w)
flat, row ``(c*ksize + ky)*ksize + kx``, column ``oy*out_w + ox``, reading the image at
(oy*stride + ky - pad, ox*stride + kx - pad) and 0 outside it; out_h = (height + 2*pad - ksize)/stride + 1.

``im2col_ext`` / ``col2im_ext`` generalise both (AlexeyAB's im2col_cpu_ext / col2im_cpu_ext): separate
vertical and horizontal strides, a dilation (taps ``ky*dilation``) and the output size given by the
caller (the fork's conv computes it without the dilation, and taps that fall outside read 0).
"""
from ._jit import parallel_kernel, prange


@parallel_kernel
def im2col_ext(im, channels, height, width, ksize, stride_y, stride_x, pad, dilation, out_h, out_w, col):
    """col[:] = the (channels*ksize*ksize, out_h*out_w) column matrix reading im at
    (oy*stride_y + ky*dilation - pad, ox*stride_x + kx*dilation - pad), 0 outside (overwrites)."""
    zero = col.dtype.type(0)
    for r in prange(channels * ksize * ksize):             # one row of col per iteration: disjoint
        kx = r % ksize
        ky = (r // ksize) % ksize
        c = r // (ksize * ksize)
        base = c * height * width
        row = r * out_h * out_w
        for oy in range(out_h):
            y = oy * stride_y + ky * dilation - pad
            dst = row + oy * out_w
            if y < 0 or y >= height:
                for ox in range(out_w):
                    col[dst + ox] = zero
                continue
            src = base + y * width
            for ox in range(out_w):
                x = ox * stride_x + kx * dilation - pad
                col[dst + ox] = im[src + x] if (x >= 0 and x < width) else zero


@parallel_kernel
def col2im_ext(col, channels, height, width, ksize, stride_y, stride_x, pad, dilation, out_h, out_w, im):
    """im += the column matrix of ``im2col_ext`` scattered back (its adjoint); accumulates."""
    for c in prange(channels):                              # one image channel per iteration: disjoint
        base = c * height * width
        for k in range(ksize * ksize):
            ky = k // ksize
            kx = k % ksize
            row = (c * ksize * ksize + k) * out_h * out_w
            for oy in range(out_h):
                y = oy * stride_y + ky * dilation - pad
                if y < 0 or y >= height:
                    continue
                dst = base + y * width
                src = row + oy * out_w
                for ox in range(out_w):
                    x = ox * stride_x + kx * dilation - pad
                    if x >= 0 and x < width:
                        im[dst + x] += col[src + ox]


def im2col(im, channels, height, width, ksize, stride, pad, col):
    """col[:] = the column matrix of im (overwrites; every element of the matrix is written):
    ``im2col_ext`` with one stride, no dilation and Darknet's output size."""
    out_h = (height + 2 * pad - ksize) // stride + 1
    out_w = (width + 2 * pad - ksize) // stride + 1
    im2col_ext(im, channels, height, width, ksize, stride, stride, pad, 1, out_h, out_w, col)


def col2im(col, channels, height, width, ksize, stride, pad, im):
    """im += the column matrix scattered back (the adjoint of im2col); accumulates like Darknet
    (per channel, kernel offset, output row, output column: ``col2im_ext``'s order)."""
    out_h = (height + 2 * pad - ksize) // stride + 1
    out_w = (width + 2 * pad - ksize) // stride + 1
    col2im_ext(col, channels, height, width, ksize, stride, stride, pad, 1, out_h, out_w, im)


_IDX = 0xFFFFFFFF   # index mask: proves to LLVM that an index is >= 0, so no wraparound select blocks vectors


@parallel_kernel
def im2col_fast(im, channels, height, width, ksize, stride, pad, oy0, oy1, col):
    """The columns of output rows oy0 <= oy < oy1 of ``im2col`` (all of it: 0, out_h), as a
    (channels*ksize*ksize, (oy1-oy0)*out_w) matrix; same values, faster: per row of col, the output
    columns whose input x lies inside the image are found once (lo <= ox < hi), so the copy loop has
    no bounds test and is a contiguous memcpy for stride 1 (a strided gather otherwise)."""
    out_w = (width + 2 * pad - ksize) // stride + 1
    out_h = oy1 - oy0
    zero = col.dtype.type(0)
    for r in prange(channels * ksize * ksize):             # one row of col per iteration: disjoint
        kx = r % ksize
        ky = (r // ksize) % ksize
        c = r // (ksize * ksize)
        base = c * height * width
        row = r * out_h * out_w
        shift = kx - pad                                   # x = ox*stride + shift
        lo = max(0, (stride - 1 - shift) // stride)        # first ox with x >= 0
        hi = min(out_w, (width - 1 - shift) // stride + 1)  # one past the last ox with x < width
        if hi < lo:
            hi = lo
        for oy in range(out_h):
            y = (oy + oy0) * stride + ky - pad
            dst = row + oy * out_w
            if y < 0 or y >= height:
                for ox in range(out_w):
                    col[(dst + ox) & _IDX] = zero
                continue
            for ox in range(lo):
                col[(dst + ox) & _IDX] = zero
            src = base + y * width + shift
            if stride == 1:
                for ox in range(lo, hi):
                    col[(dst + ox) & _IDX] = im[(src + ox) & _IDX]
            else:
                for ox in range(lo, hi):
                    col[(dst + ox) & _IDX] = im[(src + ox * stride) & _IDX]
            for ox in range(hi, out_w):
                col[(dst + ox) & _IDX] = zero


@parallel_kernel
def col2im_fast(col, channels, height, width, ksize, stride, pad, im):
    """``col2im`` with the same result, bitwise: one image row per iteration (channels*height tasks, so
    a 3-channel input still splits evenly), gathering for each kernel offset k, in the same k order
    as ``col2im`` adds them, the one column-matrix row that lands on it; the columns whose x lies
    inside the image are found once per k, so the add loop has no bounds test (contiguous for stride 1)."""
    out_h = (height + 2 * pad - ksize) // stride + 1
    out_w = (width + 2 * pad - ksize) // stride + 1
    for cy in prange(channels * height):                   # one image row per iteration: disjoint
        c = cy // height
        y = cy - c * height
        dst = cy * width
        for k in range(ksize * ksize):
            ky = k // ksize
            kx = k - ky * ksize
            t = y + pad - ky                               # oy * stride
            if t < 0 or t % stride != 0:
                continue
            oy = t // stride
            if oy >= out_h:
                continue
            src = (c * ksize * ksize + k) * out_h * out_w + oy * out_w
            shift = kx - pad                               # x = ox*stride + shift
            lo = max(0, (stride - 1 - shift) // stride)
            hi = min(out_w, (width - 1 - shift) // stride + 1)
            if stride == 1:
                for ox in range(lo, hi):
                    im[(dst + ox + shift) & _IDX] += col[(src + ox) & _IDX]
            else:
                for ox in range(lo, hi):
                    im[(dst + ox * stride + shift) & _IDX] += col[(src + ox) & _IDX]


# [local]: weights (locations, n, k) with k = c*ksize*ksize, columns (k, locations), output (n, locations).

@parallel_kernel
def local_forward(weights, col, out, n, k, locations):
    """out[f, j] += sum_p weights[j, f, p] * col[p, j] (each location has its own filters)."""
    for j in prange(locations):                             # one output column per iteration: disjoint
        for f in range(n):
            w = (j * n + f) * k
            acc = 0.0
            for p in range(k):
                acc += weights[w + p] * col[p * locations + j]
            out[f * locations + j] += acc


@parallel_kernel
def local_backward_weights(delta, col, weight_updates, n, k, locations):
    """weight_updates[j, f, p] += delta[f, j] * col[p, j]."""
    for j in prange(locations):
        for f in range(n):
            d = delta[f * locations + j]
            w = (j * n + f) * k
            for p in range(k):
                weight_updates[w + p] += d * col[p * locations + j]


@parallel_kernel
def local_backward_input(weights, delta, col, n, k, locations):
    """col[p, j] = sum_f weights[j, f, p] * delta[f, j] (overwrites; col2im then adds it to the image)."""
    for j in prange(locations):
        for p in range(k):
            acc = 0.0
            for f in range(n):
                acc += weights[(j * n + f) * k + p] * delta[f * locations + j]
            col[p * locations + j] = acc


# [shortcut]: maps of different sizes meet by striding the larger one and sampling into it.

@parallel_kernel
def shortcut(batch, w1, h1, c1, add, w2, h2, c2, s1, s2, out):
    """out[hit] = s1 * out[hit] + s2 * add[src] (Darknet's shortcut_cpu). ``add`` is (B, c1, h1, w1),
    ``out`` (B, c2, h2, w2); stride = w1/w2 and sample = w2/w1 (each at least 1) pair add's pixel
    (i*stride, j*stride) with out's (i*sample, j*sample) over the smaller of the two sizes and channels.
    Positions of ``out`` that are not hit keep their value (they are not multiplied by s1)."""
    stride = max(w1 // w2, 1)
    sample = max(w2 // w1, 1)
    minw, minh, minc = min(w1, w2), min(h1, h2), min(c1, c2)
    for bk in prange(batch * minc):                        # one (item, channel) of out per iteration
        b = bk // minc
        k = bk - b * minc
        for j in range(minh):
            for i in range(minw):
                o = i * sample + w2 * (j * sample + h2 * (k + c2 * b))
                a = i * stride + w1 * (j * stride + h1 * (k + c1 * b))
                out[o] = s1 * out[o] + s2 * add[a]


@parallel_kernel
def shortcut_hits_axpy(batch, w1, h1, c1, w2, h2, c2, alpha, x, y):
    """y[hit] += alpha * x[hit] over the positions of a (B, c2, h2, w2) map that ``shortcut`` hits."""
    sample = max(w2 // w1, 1)
    minw, minh, minc = min(w1, w2), min(h1, h2), min(c1, c2)
    for bk in prange(batch * minc):
        b = bk // minc
        k = bk - b * minc
        for j in range(minh):
            for i in range(minw):
                o = i * sample + w2 * (j * sample + h2 * (k + c2 * b))
                y[o] += alpha * x[o]
