"""Normalization kernels on flat NCHW buffers: index = (b*C + c)*S + s, S = h*w."""
import numpy as np

from ._jit import parallel_kernel, prange


@parallel_kernel
def l2normalize_forward(x, y, norms, batch, channels, spatial, eps):
    """y[b,:,s] = x[b,:,s] / max(||x[b,:,s]||, eps); norms[b*S + s] keeps the divisor.

    eps = 0 reproduces Darknet exactly (an all-zero vector gives 0/0 = NaN)."""
    for bs in prange(batch * spatial):              # one (b, s) column per iteration: disjoint writes
        b = bs // spatial
        base = b * channels * spatial + (bs - b * spatial)
        acc = 0.0                                   # float64 accumulator whatever x's dtype
        for c in range(channels):
            acc += x[base + c * spatial] ** 2
        n = max(np.sqrt(acc), eps)
        norms[bs] = n
        for c in range(channels):
            y[base + c * spatial] = x[base + c * spatial] / n


@parallel_kernel
def l2normalize_backward(y, norms, dy, dx, batch, channels, spatial):
    """dx[b,:,s] += (dy - y * <dy, y>) / n. Accumulates; never overwrites dx.

    This is the Jacobian-vector product of y = x/||x||; at a zero vector (n = eps, y = 0) it is dy/eps."""
    for bs in prange(batch * spatial):
        b = bs // spatial
        base = b * channels * spatial + (bs - b * spatial)
        dot = 0.0
        for c in range(channels):
            dot += dy[base + c * spatial] * y[base + c * spatial]
        for c in range(channels):
            i = base + c * spatial
            dx[i] += (dy[i] - y[i] * dot) / norms[bs]
