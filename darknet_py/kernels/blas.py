"""BLAS-like kernels on flat arrays (Darknet's blas.c): fill, copy, axpy, scal, bias and its gradient.

All take flat contiguous arrays and explicit sizes; none validates or allocates. Parallel loops split
the outer dimension so that every iteration writes its own slice.
"""
from ._jit import parallel_kernel, prange


@parallel_kernel
def fill(x, value):
    """x[:] = value."""
    for i in prange(x.size):
        x[i] = value


@parallel_kernel
def copy(src, dst):
    """dst[:n] = src[:n], n = src.size."""
    for i in prange(src.size):
        dst[i] = src[i]


@parallel_kernel
def axpy(alpha, x, y):
    """y += alpha * x (n = x.size)."""
    for i in prange(x.size):
        y[i] += alpha * x[i]


@parallel_kernel
def scal(alpha, x):
    """x *= alpha."""
    for i in prange(x.size):
        x[i] *= alpha


@parallel_kernel
def add_bias(output, biases, batch, n, size):
    """output[b, i, :] += biases[i]; output is (batch, n, size)."""
    for bi in prange(batch * n):
        base = bi * size
        bias = biases[bi % n]
        for s in range(size):
            output[base + s] += bias


@parallel_kernel
def scale_bias(output, scales, batch, n, size):
    """output[b, i, :] *= scales[i]; output is (batch, n, size)."""
    for bi in prange(batch * n):
        base = bi * size
        scale = scales[bi % n]
        for s in range(size):
            output[base + s] *= scale


@parallel_kernel
def backward_bias(bias_updates, delta, batch, n, size):
    """bias_updates[i] += sum over b, s of delta[b, i, s]; accumulates like Darknet."""
    for i in prange(n):
        acc = 0.0
        for b in range(batch):
            base = (b * n + i) * size
            for s in range(size):
                acc += delta[base + s]
        bias_updates[i] += acc
