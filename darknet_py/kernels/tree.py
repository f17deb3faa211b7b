"""Kernels of the hierarchical softmax ([softmax] tree=, Darknet's softmax_tree): one softmax per group
of a class tree (darknet_py/tree.py), per batch item; groups are contiguous runs of ``inputs`` values."""
import numpy as np

from ._jit import parallel_kernel, prange


@parallel_kernel
def group_softmax_forward(x, y, offsets, sizes, batch, inputs, temp):
    """y = exp(x/T - max/T) / sum over each group [offset, offset + size) of every item."""
    groups = offsets.size
    for q in prange(batch * groups):              # one (item, group) per iteration: disjoint writes
        b = q // groups
        start = b * inputs + offsets[q - b * groups]
        n = sizes[q - b * groups]
        largest = -np.inf
        for i in range(start, start + n):
            largest = max(largest, x[i])
        total = 0.0
        for i in range(start, start + n):
            e = np.exp(x[i] / temp - largest / temp)
            total += e
            y[i] = e
        for i in range(start, start + n):
            y[i] /= total


@parallel_kernel
def group_softmax_backward(y, dy, dx, offsets, sizes, batch, inputs, temp):
    """dx += (1/T) y (dy - <dy, y>) per group: each group's softmax Jacobian."""
    groups = offsets.size
    for q in prange(batch * groups):
        b = q // groups
        start = b * inputs + offsets[q - b * groups]
        n = sizes[q - b * groups]
        dot = 0.0
        for i in range(start, start + n):
            dot += dy[i] * y[i]
        for i in range(start, start + n):
            dx[i] += y[i] * (dy[i] - dot) / temp


@parallel_kernel
def mask_unlabelled_groups(truth, delta, loss, offsets, sizes, batch, inputs):
    """Zero the delta and loss of every group whose truth has no positive value (no label there:
    Darknet's loader fills those with SECRET_NUM and its GPU code masks them the same way)."""
    groups = offsets.size
    for q in prange(batch * groups):
        b = q // groups
        start = b * inputs + offsets[q - b * groups]
        n = sizes[q - b * groups]
        labelled = False
        for i in range(start, start + n):
            if truth[i] > 0:
                labelled = True
        if not labelled:
            for i in range(start, start + n):
                delta[i] = 0.0
                loss[i] = 0.0
