"""Kernels of the hierarchical softmax (Darknet's softmax_tree): one softmax per group of a class tree
(darknet_py/tree.py).

Layout: ``items`` blocks of ``item_size`` values; inside a block, class k of the tree at spatial
position s sits at ``base + k*spatial + s``. [softmax] tree= has items = batch, spatial = 1, base = 0;
a [region] head with a tree (Darknet's GPU softmax_tree) would have items = batch*anchors,
spatial = w*h and base = the first class plane.
"""
import numpy as np

from ._jit import parallel_kernel, prange


@parallel_kernel
def group_softmax_forward(x, y, offsets, sizes, items, item_size, spatial, base, temp):
    """y = exp(x/T - max/T) / sum over each group of classes [offset, offset + size), per item and position."""
    groups = offsets.size
    for q in prange(items * spatial * groups):     # one (item, position, group) each: disjoint writes
        g = q % groups
        r = q // groups
        start = base + (r // spatial) * item_size + offsets[g] * spatial + r % spatial
        end = start + sizes[g] * spatial
        largest = -np.inf
        for i in range(start, end, spatial):
            largest = max(largest, x[i])
        total = 0.0
        for i in range(start, end, spatial):
            e = np.exp(x[i] / temp - largest / temp)
            total += e
            y[i] = e
        for i in range(start, end, spatial):
            y[i] /= total


@parallel_kernel
def group_softmax_backward(y, dy, dx, offsets, sizes, items, item_size, spatial, base, temp):
    """dx += (1/T) y (dy - <dy, y>) per group: each group's softmax Jacobian."""
    groups = offsets.size
    for q in prange(items * spatial * groups):
        g = q % groups
        r = q // groups
        start = base + (r // spatial) * item_size + offsets[g] * spatial + r % spatial
        end = start + sizes[g] * spatial
        dot = 0.0
        for i in range(start, end, spatial):
            dot += dy[i] * y[i]
        for i in range(start, end, spatial):
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
