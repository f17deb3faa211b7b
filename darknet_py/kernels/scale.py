"""Products of two layers' outputs (AlexeyAB's [sam] and [scale_channels]) and their gradients.

Flat NCHW buffers, explicit sizes. ``x`` is the previous layer's output, ``f`` the ``from`` layer's.
Parallel loops own disjoint output slices.
"""
from ._jit import parallel_kernel, prange


@parallel_kernel
def mul(a, b, out):
    """out = a * b elementwise."""
    for i in prange(out.size):
        out[i] = a[i] * b[i]


@parallel_kernel
def mul_add(a, b, out):
    """out += a * b elementwise."""
    for i in prange(out.size):
        out[i] += a[i] * b[i]


@parallel_kernel
def scale_channels_forward(x, f, y, batch, c, spatial, scale_wh):
    """y[b, k, s] = x[b, k] * f[b, k, s]; with ``scale_wh`` y[b, k, s] = x[b, s] * f[b, k, s]."""
    for bk in prange(batch * c):
        b = bk // c
        base = bk * spatial
        for s in range(spatial):
            scale = x[b * spatial + s] if scale_wh else x[bk]
            y[base + s] = scale * f[base + s]


@parallel_kernel
def scale_channels_backward_scale(dy, f, dx, batch, c, spatial, scale_wh):
    """dx[b, k] += sum_s dy[b, k, s] * f[b, k, s]; with ``scale_wh`` dx[b, s] += sum_k dy * f."""
    if scale_wh:
        for bs in prange(batch * spatial):
            b = bs // spatial
            s = bs - b * spatial
            acc = dx[bs]
            for k in range(c):
                i = (b * c + k) * spatial + s
                acc += dy[i] * f[i]
            dx[bs] = acc
    else:
        for bk in prange(batch * c):
            acc = dx[bk]
            base = bk * spatial
            for s in range(spatial):
                acc += dy[base + s] * f[base + s]
            dx[bk] = acc


@parallel_kernel
def scale_channels_backward_scaled(dy, x, df, batch, c, spatial, scale_wh):
    """df[b, k, s] += x[b, k] * dy[b, k, s] (``scale_wh``: x[b, s])."""
    for bk in prange(batch * c):
        b = bk // c
        base = bk * spatial
        for s in range(spatial):
            scale = x[b * spatial + s] if scale_wh else x[bk]
            df[base + s] += scale * dy[base + s]
