"""Darknet's flatten() (blas.c), used by [reorg] flatten=1: a per-item transpose of (layers, size).

forward=True: out[b, i, c] = x[b, c, i] (channel-major to position-major); forward=False: the inverse.
``accumulate`` adds instead of writing (the backward of the default mode).
"""
from ._jit import parallel_kernel, prange


@parallel_kernel
def flatten(x, out, batch, layers, size, forward, accumulate):
    for bc in prange(batch * layers):            # one (item, layer) row per iteration: disjoint writes
        b = bc // layers
        c = bc - b * layers
        for i in range(size):
            i1 = b * layers * size + c * size + i
            i2 = b * layers * size + i * layers + c
            src, dst = (i1, i2) if forward else (i2, i1)
            if accumulate:
                out[dst] += x[src]
            else:
                out[dst] = x[src]
