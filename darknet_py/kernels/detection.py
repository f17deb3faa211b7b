"""Backward kernels of the detection heads ([yolo], [region]).

Their output is laid out (batch, anchor, entry, h, w): ``blocks`` = batch*anchors blocks of
``entries`` planes of ``spatial`` = h*w values. ``kinds[e]`` says what the forward did to entry e:
RAW (copied), SIGMOID (logistic) or SOFTMAX (handled by kernels.softmax.softmax_backward).
"""
from ._jit import parallel_kernel, prange

RAW, SIGMOID, SOFTMAX = 0, 1, 2


@parallel_kernel
def entries_backward(y, dy, dx, kinds, blocks, entries, spatial):
    """dx += dy for RAW entries, dx += dy * y * (1 - y) for SIGMOID ones; SOFTMAX entries are skipped."""
    for plane in prange(blocks * entries):           # one entry plane per iteration: disjoint writes
        kind = kinds[plane % entries]
        base = plane * spatial
        if kind == RAW:
            for s in range(base, base + spatial):
                dx[s] += dy[s]
        elif kind == SIGMOID:
            for s in range(base, base + spatial):
                dx[s] += dy[s] * y[s] * (1.0 - y[s])
