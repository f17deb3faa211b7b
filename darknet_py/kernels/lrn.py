"""Local response normalization across channels ([lrn] / [normalization], Darknet's normalization_layer.c).

y[b,k,s] = x[b,k,s] * norms[b,k,s]^-beta with norms = kappa + alpha * (sum of x^2 over a channel window).
The intended window of channel k is [k - (size-1)//2, k + size//2] clipped to [0, c).
Loops own one (b, s) column: all channels of one pixel, so writes never collide.
"""
import numpy as np

from ._jit import parallel_kernel, prange


@parallel_kernel
def lrn_forward(x, y, norms, batch, c, spatial, size, alpha, beta, kappa):
    """The centred window summed directly (no running sum, so no cancellation and no NaN)."""
    lo_off = (size - 1) // 2
    hi_off = size // 2
    for bs in prange(batch * spatial):
        b = bs // spatial
        base = b * c * spatial + (bs - b * spatial)
        for k in range(c):
            acc = 0.0
            for j in range(max(0, k - lo_off), min(c, k + hi_off + 1)):
                v = x[base + j * spatial]
                acc += v * v
            n = kappa + alpha * acc
            norms[base + k * spatial] = n
            y[base + k * spatial] = x[base + k * spatial] * n ** -beta


@parallel_kernel
def lrn_backward(x, y, norms, dy, dx, batch, c, spatial, size, alpha, beta):
    """True gradient, accumulated: dx_i += dy_i n_i^-beta - 2 alpha beta x_i sum_{k: i in W(k)} dy_k y_k / n_k.

    i lies in W(k) exactly when i - size//2 <= k <= i + (size-1)//2."""
    lo_off = (size - 1) // 2
    hi_off = size // 2
    for bs in prange(batch * spatial):
        b = bs // spatial
        base = b * c * spatial + (bs - b * spatial)
        for i in range(c):
            acc = 0.0
            for k in range(max(0, i - hi_off), min(c, i + lo_off + 1)):
                o = base + k * spatial
                acc += dy[o] * y[o] / norms[o]
            o = base + i * spatial
            dx[o] += dy[o] * norms[o] ** -beta - 2.0 * alpha * beta * x[o] * acc


@parallel_kernel
def lrn_forward_darknet(x, y, norms, batch, c, spatial, size, alpha, beta, kappa):
    """Darknet's CPU forward, bug included: a running window that starts one channel short.

    norms[0] = kappa + alpha * sum_{j < size//2} x_j^2; norms[k] = norms[k-1] - alpha x^2[k-(size-1)//2-1]
    (if >= 0) + alpha x^2[k+size//2] (if < c). For odd size this is the centred sum minus x^2[size//2],
    so norms can go negative and pow gives NaN, like Darknet. alpha and kappa should arrive as scalars
    of x's dtype so the running sum rounds like Darknet's float arithmetic."""
    for bs in prange(batch * spatial):
        b = bs // spatial
        base = b * c * spatial + (bs - b * spatial)
        n = kappa
        for k in range(size // 2):
            if k < c:
                v = x[base + k * spatial]
                n += alpha * (v * v)
        norms[base] = n
        for k in range(1, c):
            prev = k - (size - 1) // 2 - 1
            nxt = k + size // 2
            if prev >= 0:
                v = x[base + prev * spatial]
                n -= alpha * (v * v)
            if nxt < c:
                v = x[base + nxt * spatial]
                n += alpha * (v * v)
            norms[base + k * spatial] = n
        for k in range(c):
            o = base + k * spatial
            y[o] = x[o] * np.float64(norms[o]) ** -beta


@parallel_kernel
def lrn_backward_darknet(norms, dy, dx, n, beta):
    """Darknet's approximation, overwriting: dx = dy * norms^-beta (ignores norms' dependence on x)."""
    for i in prange(n):
        dx[i] = dy[i] * np.float64(norms[i]) ** -beta
