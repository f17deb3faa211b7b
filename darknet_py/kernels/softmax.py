"""Softmax and cross-entropy kernels (Darknet's blas.c softmax_cpu, softmax_x_ent_cpu, logistic_x_ent_cpu).

Softmaxes are strided like Darknet's softmax_cpu: ``count`` independent softmaxes of ``n`` values,
softmax number q = (b, g) with b < count // groups, g < groups starts at
b*batch_offset + g*group_offset and steps by ``stride``. [softmax] uses stride 1 over contiguous
groups; [region] uses stride w*h (one softmax over the class axis per anchor and cell).
"""
import numpy as np

from ._jit import parallel_kernel, prange


@parallel_kernel
def softmax_forward(x, y, offset, n, count, groups, batch_offset, group_offset, stride, temp):
    """y = exp(x/T - max/T) / sum, per strided group (Darknet's softmax(), max subtracted for range)."""
    for q in prange(count):                         # one softmax per iteration: disjoint writes
        b = q // groups
        start = offset + b * batch_offset + (q - b * groups) * group_offset
        largest = -np.inf
        for i in range(n):
            v = x[start + i * stride]
            if v > largest:
                largest = v
        total = 0.0
        for i in range(n):
            e = np.exp(x[start + i * stride] / temp - largest / temp)
            total += e
            y[start + i * stride] = e
        for i in range(n):
            y[start + i * stride] /= total


@parallel_kernel
def softmax_backward(y, dy, dx, offset, n, count, groups, batch_offset, group_offset, stride, temp):
    """dx += (1/T) * y * (dy - <dy, y>) per strided group: the softmax Jacobian (symmetric) times dy."""
    for q in prange(count):
        b = q // groups
        start = offset + b * batch_offset + (q - b * groups) * group_offset
        dot = 0.0
        for i in range(n):
            dot += dy[start + i * stride] * y[start + i * stride]
        for i in range(n):
            k = start + i * stride
            dx[k] += y[k] * (dy[k] - dot) / temp


@parallel_kernel
def softmax_cross_entropy(p, truth, delta, loss):
    """delta = t - p (minus the gradient w.r.t. the logits); loss = -log(p) where t != 0, else 0.

    Darknet's loss ignores t's value (it assumes one-hot truths); so do we, to report its cost."""
    for i in prange(p.size):
        t = truth[i]
        loss[i] = -np.log(p[i]) if t != 0 else 0.0
        delta[i] = t - p[i]


@parallel_kernel
def logistic_cross_entropy(p, truth, delta, loss):
    """delta = t - p; loss = -t log p - (1-t) log(1-p) (binary cross-entropy of sigmoid outputs)."""
    for i in prange(p.size):
        t = truth[i]
        loss[i] = -t * np.log(p[i]) - (1.0 - t) * np.log(1.0 - p[i])
        delta[i] = t - p[i]


@parallel_kernel
def logistic_backward(y, dy, dx):
    """dx += dy * y * (1 - y): the logistic Jacobian (diagonal), from the output like Darknet."""
    for i in prange(y.size):
        dx[i] += dy[i] * y[i] * (1.0 - y[i])
