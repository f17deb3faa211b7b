"""Binary convolution kernels (Darknet's binarize_weights / binarize_cpu, convolutional_layer.c).

Weights (n, size) row-major, ``size`` = c/groups * k * k values per filter: binary[f, i] = m_f if
w[f, i] > 0 else -m_f, with m_f = mean |w[f, :]|. Inputs: +1 where x > 0, else -1 (no scale).
"""
from ._jit import parallel_kernel, prange


@parallel_kernel
def binarize_weights(weights, n, size, binary):
    """binary[f, :] = sign(weights[f, :]) * mean(|weights[f, :]|), sign(0) = -1 like Darknet."""
    for f in prange(n):
        base = f * size
        acc = 0.0
        for i in range(size):
            acc += abs(weights[base + i])
        mean = acc / size
        for i in range(size):
            binary[base + i] = mean if weights[base + i] > 0 else -mean


@parallel_kernel
def binarize_input(x, n, binary):
    """binary[:n] = +1 where x > 0, else -1 (Darknet's binarize_cpu)."""
    for i in prange(n):
        binary[i] = 1.0 if x[i] > 0 else -1.0


@parallel_kernel
def binary_weight_gradient(weights, grad, n, size, updates):
    """updates += the gradient w.r.t. the real weights of ``grad`` (w.r.t. the binarised ones):
    b_fi = s_fi m_f with s = sign(w), m_f = mean_j |w_fj|, so db_fi/dw_fj = s_fi s_fj / size almost
    everywhere (sign is flat) and d/dw_fj = s_fj / size * sum_i s_fi grad_fi."""
    for f in prange(n):
        base = f * size
        acc = 0.0
        for i in range(size):
            acc += grad[base + i] if weights[base + i] > 0 else -grad[base + i]
        acc /= size
        for j in range(size):
            updates[base + j] += acc if weights[base + j] > 0 else -acc
