"""Batch-normalisation kernels (Darknet's blas.c mean/variance/normalize and their deltas).

Buffers are flat (batch, n, spatial); per-channel vectors are (n,). Every kernel runs one channel per
prange iteration, so iterations write disjoint slices. Statistics accumulate in float64.

Darknet's forward (kept in both modes): mean over batch*spatial, the UNBIASED variance (divide by
batch*spatial - 1), x_norm = (x - mean) / (sqrt(var) + 1e-6) with the epsilon outside the sqrt.
Two backward kernels: ``backward_darknet`` is Darknet's (1/sqrt(var + 1e-5), epsilon inside, and a
variance term that assumes the biased variance); ``backward_true`` is the exact gradient of the forward.
"""
import math

from ._jit import kernel, parallel_kernel, prange

FORWARD_EPS = 1e-6     # normalize_cpu: (x - mean) / (sqrt(var) + .000001f)
DARKNET_BACKWARD_EPS = 1e-5   # mean_delta_cpu / variance_delta_cpu / normalize_delta_cpu: var + .00001f


@parallel_kernel
def mean_variance(x, mean, variance, batch, n, spatial):
    """mean[i], variance[i] of channel i; variance unbiased, like Darknet's variance_cpu."""
    count = batch * spatial
    for i in prange(n):
        acc = 0.0
        for b in range(batch):
            base = (b * n + i) * spatial
            for s in range(spatial):
                acc += x[base + s]
        m = acc / count
        mean[i] = m
        m = mean[i]                                     # Darknet subtracts the stored (float) mean
        acc = 0.0
        for b in range(batch):
            base = (b * n + i) * spatial
            for s in range(spatial):
                d = x[base + s] - m
                acc += d * d
        variance[i] = acc / (count - 1)                 # count == 1: 0/0 = NaN, as in Darknet


@parallel_kernel
def normalize(x, mean, variance, out, batch, n, spatial):
    """out = (x - mean) / (sqrt(variance) + 1e-6) per channel (out may be x)."""
    for i in prange(n):
        m = mean[i]
        s_ = math.sqrt(variance[i]) + FORWARD_EPS
        for b in range(batch):
            base = (b * n + i) * spatial
            for s in range(spatial):
                out[base + s] = (x[base + s] - m) / s_          # a division, like Darknet (not * 1/s)


@parallel_kernel
def rolling_update(rolling, stat, n):
    """rolling = .99 * rolling + .01 * stat (Darknet: scal_cpu(.99) then axpy_cpu(.01))."""
    for i in prange(n):
        rolling[i] *= 0.99
        rolling[i] += 0.01 * stat[i]


@parallel_kernel
def backward_scale(x_norm, delta, scale_updates, batch, n, spatial):
    """scale_updates[i] += sum over batch and space of delta * x_norm."""
    for i in prange(n):
        acc = 0.0
        for b in range(batch):
            base = (b * n + i) * spatial
            for s in range(spatial):
                acc += delta[base + s] * x_norm[base + s]
        scale_updates[i] += acc


@parallel_kernel
def backward_darknet(x, mean, variance, delta, batch, n, spatial, fork=False):
    """delta (w.r.t. x_norm) -> Darknet's delta w.r.t. x, in place (mean_delta, variance_delta, normalize_delta).

    ``fork``: AlexeyAB's normalize_delta_cpu divides by sqrt(var) + 1e-5 instead of sqrt(var + 1e-5)
    (not a gradient of either forward; compat only)."""
    count = batch * spatial
    for i in prange(n):
        m = mean[i]
        var_eps = variance[i] + DARKNET_BACKWARD_EPS
        sum_d = 0.0
        sum_dx = 0.0
        for b in range(batch):
            base = (b * n + i) * spatial
            for s in range(spatial):
                sum_d += delta[base + s]
                sum_dx += delta[base + s] * (x[base + s] - m)
        mean_delta = sum_d * (-1.0 / math.sqrt(var_eps))
        variance_delta = sum_dx * (-0.5 * var_eps ** -1.5)
        inv_std = 1.0 / (math.sqrt(variance[i]) + FORK_EPS) if fork else 1.0 / math.sqrt(var_eps)
        for b in range(batch):
            base = (b * n + i) * spatial
            for s in range(spatial):
                j = base + s
                delta[j] = (delta[j] * inv_std + variance_delta * 2.0 * (x[j] - m) / count
                            + mean_delta / count)


@parallel_kernel
def backward_true(x_norm, variance, delta, batch, n, spatial):
    """delta (w.r.t. x_norm) -> the exact gradient w.r.t. x of Darknet's training forward, in place.

    With s = sqrt(v) + 1e-6, N = batch*spatial and v the unbiased variance:
    dx = (d - mean(d)) / s - x_norm * sum(d * x_norm) / (sqrt(v) * (N - 1))."""
    count = batch * spatial
    for i in prange(n):
        sd = math.sqrt(variance[i])
        s = sd + FORWARD_EPS
        sum_d = 0.0
        sum_dx = 0.0
        for b in range(batch):
            base = (b * n + i) * spatial
            for q in range(spatial):
                sum_d += delta[base + q]
                sum_dx += delta[base + q] * x_norm[base + q]
        mean_d = sum_d / count
        coef = sum_dx / (sd * (count - 1))
        for b in range(batch):
            base = (b * n + i) * spatial
            for q in range(spatial):
                j = base + q
                delta[j] = (delta[j] - mean_d) / s - x_norm[j] * coef


@parallel_kernel
def backward_frozen(variance, delta, batch, n, spatial):
    """delta /= sqrt(variance) + 1e-6: the exact gradient when the statistics are constants (inference)."""
    for i in prange(n):
        inv = 1.0 / (math.sqrt(variance[i]) + FORWARD_EPS)
        for b in range(batch):
            base = (b * n + i) * spatial
            for s in range(spatial):
                delta[base + s] *= inv


# ---------------------------------------------------------------- inference: fused and folded forms

@kernel
def inference_coefficients(scales, biases, rolling_mean, rolling_variance, a, b, n):
    """a[c] = scale / (sqrt(var) + 1e-6), b[c] = bias - mean * a[c]: the inference batch norm
    scale*(x - mean)/(sqrt(var) + 1e-6) + bias as x*a + b (equal within float rounding).
    Serial: O(channels) work, cheaper than waking the thread pool (runs every inference forward)."""
    for c in range(n):
        ac = float(scales[c]) / (math.sqrt(float(rolling_variance[c])) + FORWARD_EPS)
        a[c] = ac
        b[c] = float(biases[c]) - float(rolling_mean[c]) * ac


@parallel_kernel
def fold_weights(weights, a, folded, n, k):
    """folded[c, :] = weights[c, :] * a[c] for (n, k) row-major weights (batch norm folded in)."""
    for c in prange(n):
        ac = a[c]
        base = c * k
        for p in range(k):
            folded[base + p] = weights[base + p] * ac


@kernel
def same_values(x, y, n):
    """True when x[:n] == y[:n] element-wise (NaN never equal: a NaN parameter refolds every time)."""
    diff = 0
    for i in range(n):
        diff += x[i] != y[i]
    return diff == 0


# ---------------------------------------------------------------- training: fewer, vectorised passes
# The sums below run in 8 independent float64 lanes (summed pairwise at the end) instead of one
# sequential accumulator: numba has no reassociation (fastmath off), so one accumulator is a chain of
# dependent adds that cannot vectorise. The lanes change only the order of a float64 sum of float32
# values, so mean/variance equal the sequential ones within a float64 rounding (in practice the same
# float32). Indexes are masked to 32 bits (_IDX): numba then drops its negative-index checks and the
# SLP vectorizer sees 8 consecutive loads.

_IDX = 0xFFFFFFFF


@parallel_kernel
def mean_variance_train(x, mean, variance, rolling_mean, rolling_variance, batch, n, spatial):
    """``mean_variance`` then ``rolling_update`` of both statistics, in one parallel region (channel
    per iteration). Same formulas: the variance is unbiased and taken around the stored (float) mean."""
    count = batch * spatial
    s8 = spatial - spatial % 8
    for i in prange(n):
        a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = 0.0
        for b in range(batch):
            base = (b * n + i) * spatial
            for s in range(0, s8, 8):
                j = (base + s) & _IDX
                a0 += x[j]
                a1 += x[j + 1]
                a2 += x[j + 2]
                a3 += x[j + 3]
                a4 += x[j + 4]
                a5 += x[j + 5]
                a6 += x[j + 6]
                a7 += x[j + 7]
            for s in range(s8, spatial):
                a0 += x[(base + s) & _IDX]
        mean[i] = (((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7))) / count
        m = mean[i]                                     # Darknet subtracts the stored (float) mean
        a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = 0.0
        for b in range(batch):
            base = (b * n + i) * spatial
            for s in range(0, s8, 8):
                j = (base + s) & _IDX
                d0 = x[j] - m
                d1 = x[j + 1] - m
                d2 = x[j + 2] - m
                d3 = x[j + 3] - m
                d4 = x[j + 4] - m
                d5 = x[j + 5] - m
                d6 = x[j + 6] - m
                d7 = x[j + 7] - m
                a0 += d0 * d0
                a1 += d1 * d1
                a2 += d2 * d2
                a3 += d3 * d3
                a4 += d4 * d4
                a5 += d5 * d5
                a6 += d6 * d6
                a7 += d7 * d7
            for s in range(s8, spatial):
                d = x[(base + s) & _IDX] - m
                a0 += d * d
        variance[i] = (((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7))) / (count - 1)
        rolling_mean[i] *= 0.99                         # rolling_update, same two roundings
        rolling_mean[i] += 0.01 * mean[i]
        rolling_variance[i] *= 0.99
        rolling_variance[i] += 0.01 * variance[i]


# ---------------------------------------------------------------- AlexeyAB's fork (compat="alexeyab")
# The fork's CPU batch norm (its blas.c / batchnorm_layer.c, golden_alexeyab README 5.1): the epsilon
# 1e-5 INSIDE the sqrt in the forward, rolling statistics r = .9 r + .1 stat, and a backward whose
# last term divides by sqrt(var) + 1e-5 (epsilon outside there). Run only under net.flavour == "alexeyab".

FORK_EPS = 1e-5


@parallel_kernel
def normalize_fork(x, mean, variance, out, batch, n, spatial):
    """out = (x - mean) / sqrt(variance + 1e-5) per channel (out may be x): the fork's normalize_cpu."""
    for i in prange(n):
        m = mean[i]
        s_ = math.sqrt(variance[i] + FORK_EPS)
        for b in range(batch):
            base = (b * n + i) * spatial
            for s in range(spatial):
                out[base + s] = (x[base + s] - m) / s_


@parallel_kernel
def rolling_update_fork(rolling, stat, n):
    """rolling = .9 * rolling + .1 * stat (the fork's scal_cpu(.9) then axpy_cpu(.1))."""
    for i in prange(n):
        rolling[i] *= 0.9
        rolling[i] += 0.1 * stat[i]
