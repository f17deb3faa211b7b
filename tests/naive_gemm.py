"""Naive gemm twin for tests: the textbook triple loop, in the order darknet_py's gemm promises.

For every C element: c = beta * c, then c += (alpha * a_ik) * b_kj for k = 0, 1, ... with one
rounding per step, compiled with the same flags as the real gemm (FMA contraction, no reassociation),
so on one CPU target the two agree BITWISE whatever the tiles, packing and threads of the real one.
Also used by tests/test_isa.py's subprocesses (NUMBA_CPU_NAME=haswell / generic).
"""
import numpy as np

from darknet_py.kernels._jit import gemm_kernel


@gemm_kernel
def naive_gemm(trans_a, trans_b, alpha, a, b, beta, c):
    m, n = c.shape
    k = a.shape[0] if trans_a else a.shape[1]
    al = c.dtype.type(alpha)
    be = c.dtype.type(beta)
    for i in range(m):
        for j in range(n):
            acc = c[i, j] * be
            for p in range(k):
                x = al * (a[p, i] if trans_a else a[i, p])
                acc += x * (b[j, p] if trans_b else b[p, j])
            c[i, j] = acc


def operands(rng, dtype, trans_a, trans_b, m, n, k, integers=False):
    """Random a, b, c of the shapes gemm expects; ``integers``: small integers (every sum exact)."""
    def draw(shape):
        if integers:
            return rng.integers(-8, 9, shape).astype(dtype)
        return rng.standard_normal(shape).astype(dtype)
    return draw((k, m) if trans_a else (m, k)), draw((n, k) if trans_b else (k, n)), draw((m, n))


def check_bitwise(gemm, trans_a, trans_b, alpha, a, b, beta, c):
    """Run ``gemm`` and the naive twin on copies of c; assert the same bits."""
    expected = c.copy()
    naive_gemm(trans_a, trans_b, alpha, a, b, beta, expected)
    got = c.copy()
    gemm(trans_a, trans_b, alpha, a, b, beta, got)
    np.testing.assert_array_equal(got, expected)
    return got
