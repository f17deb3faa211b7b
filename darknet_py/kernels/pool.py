"""Pooling kernels on flat NCHW buffers (Darknet's maxpool_layer.c / avgpool_layer.c).

Every parallel loop runs over (batch, channel) planes or (batch, channel, row) rows, so each
iteration writes its own slice: pooling windows never cross a channel plane.
"""
import numpy as np

from ._jit import kernel, parallel_kernel, prange


@parallel_kernel
def maxpool_backward(indexes, dy, dx, planes, out_size):
    """dx[indexes[o]] += dy[o]. Windows overlap (stride < size), so the loop owns whole planes."""
    for p in prange(planes):
        for o in range(p * out_size, (p + 1) * out_size):
            idx = indexes[o]
            if idx >= 0:
                dx[idx] += dy[o]


@parallel_kernel
def avgpool_forward(x, y, planes, spatial):
    """y[p] = mean of x over plane p (global average pooling: (B, C, H, W) -> (B, C))."""
    for p in prange(planes):
        acc = 0.0
        base = p * spatial
        for s in range(spatial):
            acc += x[base + s]
        y[p] = acc / spatial


@parallel_kernel
def avgpool_backward(dy, dx, planes, spatial):
    """dx[p, :] += dy[p] / spatial."""
    for p in prange(planes):
        g = dy[p] / spatial
        base = p * spatial
        for s in range(spatial):
            dx[base + s] += g


_IDX = 0xFFFFFFFF   # index mask: proves to LLVM that an index is >= 0 (no wraparound selects)


@kernel
def _window_max(x, in_base, h, w, top, left, size, lowest):
    """(max, its flat index) of the size x size window of the plane at in_base whose corner is (top,
    left), cells outside the plane skipped (-FLT_MAX start, strict >: the first maximum in row-major
    order wins); (lowest, -1) when the window lies wholly outside. Darknet's maxpool window."""
    best = lowest
    best_i = -1
    for n in range(size):
        cur_h = top + n
        for m in range(size):
            cur_w = left + m
            if cur_h >= 0 and cur_h < h and cur_w >= 0 and cur_w < w:
                idx = in_base + cur_h * w + cur_w
                v = x[idx]
                if v > best:
                    best = v
                    best_i = idx
    return best, best_i


@parallel_kernel
def maxpool_forward_values(x, y, batch, c, h, w, out_h, out_w, size, stride, pad):
    """The values of ``maxpool_forward`` (bitwise: same window order, same strict >), without the
    argmax indexes, for inference. Columns whose window lies inside the input run without bounds
    tests; 2x2 stride-2 windows (yolov3-tiny) have their own loop of four loads."""
    offset = -(pad // 2)
    lowest = y.dtype.type(-np.finfo(np.float32).max)
    jlo = min(out_w, max(0, (-offset + stride - 1) // stride))    # first column whose window starts >= 0
    jhi = min(out_w, max(jlo, (w - size - offset) // stride + 1))  # one past the last wholly inside
    for row in prange(batch * c * out_h):          # one output row per iteration
        plane = row // out_h
        i = row - plane * out_h
        in_base = plane * h * w
        out0 = row * out_w
        top = offset + i * stride
        if size == 2 and stride == 2 and top >= 0 and top + 1 < h:
            r0 = in_base + top * w + offset
            r1 = r0 + w
            for j in range(jlo, jhi):
                q = 2 * j
                best = lowest
                v = x[(r0 + q) & _IDX]
                best = v if v > best else best
                v = x[(r0 + q + 1) & _IDX]
                best = v if v > best else best
                v = x[(r1 + q) & _IDX]
                best = v if v > best else best
                v = x[(r1 + q + 1) & _IDX]
                best = v if v > best else best
                y[(out0 + j) & _IDX] = best
        else:
            for j in range(jlo, jhi):
                y[(out0 + j) & _IDX] = lowest
            for n in range(size):
                cur_h = top + n
                if cur_h < 0 or cur_h >= h:
                    continue
                r = in_base + cur_h * w + offset
                for m in range(size):
                    for j in range(jlo, jhi):
                        v = x[(r + j * stride + m) & _IDX]
                        o = (out0 + j) & _IDX
                        best = y[o]
                        y[o] = v if v > best else best
        for j in range(out_w):                      # edge columns: windows that cross the border
            if j < jlo or j >= jhi:
                y[out0 + j] = _window_max(x, in_base, h, w, top, offset + j * stride, size, lowest)[0]


@parallel_kernel
def maxpool_forward_fast(x, y, indexes, batch, c, h, w, out_h, out_w, size, stride, pad):
    """``maxpool_forward`` (values AND argmax indexes, bitwise: same window order, same strict >) with
    ``maxpool_forward_values``' loop structure: columns whose window lies inside the input run without
    bounds tests, 2x2 stride-2 windows have their own loop of four loads. For training forwards."""
    offset = -(pad // 2)
    lowest = y.dtype.type(-np.finfo(np.float32).max)
    jlo = min(out_w, max(0, (-offset + stride - 1) // stride))    # first column whose window starts >= 0
    jhi = min(out_w, max(jlo, (w - size - offset) // stride + 1))  # one past the last wholly inside
    for row in prange(batch * c * out_h):          # one output row per iteration
        plane = row // out_h
        i = row - plane * out_h
        in_base = plane * h * w
        out0 = row * out_w
        top = offset + i * stride
        if size == 2 and stride == 2 and top >= 0 and top + 1 < h:
            r0 = in_base + top * w + offset
            r1 = r0 + w
            for j in range(jlo, jhi):
                q = r0 + 2 * j
                best = lowest
                bi = -1
                v = x[q & _IDX]
                if v > best:
                    best = v
                    bi = q
                v = x[(q + 1) & _IDX]
                if v > best:
                    best = v
                    bi = q + 1
                q = r1 + 2 * j
                v = x[q & _IDX]
                if v > best:
                    best = v
                    bi = q
                v = x[(q + 1) & _IDX]
                if v > best:
                    best = v
                    bi = q + 1
                y[(out0 + j) & _IDX] = best
                indexes[(out0 + j) & _IDX] = bi
        else:
            for j in range(jlo, jhi):
                y[(out0 + j) & _IDX] = lowest
                indexes[(out0 + j) & _IDX] = -1
            for n in range(size):
                cur_h = top + n
                if cur_h < 0 or cur_h >= h:
                    continue
                r = in_base + cur_h * w + offset
                for m in range(size):
                    for j in range(jlo, jhi):
                        idx = r + j * stride + m
                        v = x[idx & _IDX]
                        o = (out0 + j) & _IDX
                        if v > y[o]:
                            y[o] = v
                            indexes[o] = idx
        for j in range(out_w):                      # edge columns: windows that cross the border
            if j < jlo or j >= jhi:
                y[out0 + j], indexes[out0 + j] = _window_max(x, in_base, h, w, top, offset + j * stride, size,
                                                             lowest)


@parallel_kernel
def maxpool_forward_xy(x, y, indexes, batch, c, h, w, out_h, out_w, size, stride_x, stride_y, pad):
    """y[b,k,i,j] = max of the size x size window at (i*stride_y - pad//2, j*stride_x - pad//2)
    (stride_x / stride_y: AlexeyAB's; Darknet's one stride is both).

    Cells outside the input count as -FLT_MAX (Darknet); ties go to the first maximum in row-major
    window order (strict >). indexes[o] keeps the flat input index of the winner (-1 if the window
    lies wholly outside the input), read by maxpool_backward."""
    offset = -(pad // 2)
    lowest = -np.finfo(np.float32).max
    for row in prange(batch * c * out_h):          # one output row per iteration
        plane = row // out_h
        i = row - plane * out_h
        in_base = plane * h * w
        for j in range(out_w):
            out = row * out_w + j
            y[out], indexes[out] = _window_max(x, in_base, h, w, offset + i * stride_y, offset + j * stride_x,
                                               size, lowest)


def maxpool_forward(x, y, indexes, batch, c, h, w, out_h, out_w, size, stride, pad):
    """Darknet's maxpool: ``maxpool_forward_xy`` with one stride (the reference the fast kernels
    below are checked against, bitwise)."""
    maxpool_forward_xy(x, y, indexes, batch, c, h, w, out_h, out_w, size, stride, stride, pad)


@parallel_kernel
def maxpool_depth_forward(x, y, indexes, batch, c, spatial, groups):
    """y[b, g, s] = max over channels k = g, g+groups, ... < c of x[b, k, s] (AlexeyAB's maxpool_depth);
    the first maximum in increasing k wins (strict >); indexes keep the winner's flat input index."""
    lowest = -np.finfo(np.float32).max
    for bg in prange(batch * groups):               # one output plane per iteration
        b = bg // groups
        g = bg - b * groups
        for s in range(spatial):
            best = lowest
            best_i = -1
            for k in range(g, c, groups):
                idx = (b * c + k) * spatial + s
                if x[idx] > best:
                    best = x[idx]
                    best_i = idx
            y[bg * spatial + s] = best
            indexes[bg * spatial + s] = best_i


@kernel
def maxpool_scatter(indexes, dy, dx):
    """dx[indexes[o]] += dy[o] for every output o. Serial: several outputs may share a winner
    (maxpool_depth's planes interleave, so the per-plane split of maxpool_backward does not apply)."""
    for o in range(dy.size):
        idx = indexes[o]
        if idx >= 0:
            dx[idx] += dy[o]


@parallel_kernel
def local_avgpool_forward(x, y, batch, c, h, w, out_h, out_w, size, stride_x, stride_y, pad):
    """y = mean of the VALID cells of each size x size window at (i*stride_y - pad//2, j*stride_x - pad//2)
    (AlexeyAB's [local_avgpool]: border windows divide by their count of cells inside the input)."""
    offset = -(pad // 2)
    for row in prange(batch * c * out_h):
        plane = row // out_h
        i = row - plane * out_h
        in_base = plane * h * w
        for j in range(out_w):
            acc = y.dtype.type(0.0)
            count = 0
            for n in range(size):
                cur_h = offset + i * stride_y + n
                for m in range(size):
                    cur_w = offset + j * stride_x + m
                    if cur_h >= 0 and cur_h < h and cur_w >= 0 and cur_w < w:
                        acc += x[in_base + cur_h * w + cur_w]
                        count += 1
            y[row * out_w + j] = acc / count if count > 0 else 0.0


@parallel_kernel
def local_avgpool_backward(dy, dx, batch, c, h, w, out_h, out_w, size, stride_x, stride_y, pad, by_count):
    """dx[cell] += dy[o] / n for every valid cell of output o's window; n = the window's count of valid
    cells (``by_count``: the true gradient) or size*size (AlexeyAB's backward). One plane per iteration:
    windows overlap, planes do not."""
    offset = -(pad // 2)
    for plane in prange(batch * c):
        in_base = plane * h * w
        for i in range(out_h):
            for j in range(out_w):
                count = size * size
                if by_count:
                    count = 0
                    for n in range(size):
                        cur_h = offset + i * stride_y + n
                        for m in range(size):
                            cur_w = offset + j * stride_x + m
                            if cur_h >= 0 and cur_h < h and cur_w >= 0 and cur_w < w:
                                count += 1
                if count == 0:
                    continue
                g = dy[(plane * out_h + i) * out_w + j] / count
                for n in range(size):
                    cur_h = offset + i * stride_y + n
                    for m in range(size):
                        cur_w = offset + j * stride_x + m
                        if cur_h >= 0 and cur_h < h and cur_w >= 0 and cur_w < w:
                            dx[in_base + cur_h * w + cur_w] += g
