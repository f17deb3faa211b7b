"""gemm against a float64 numpy reference: four transpose cases, odd shapes, alpha/beta, both dtypes.

Shapes are chosen to straddle every blocking boundary of the kernel (MR x NR register tile, the
narrow NR2 tail, KC, MC, NC, in-place versus packed A and B) while keeping each product small. The
file compiles gemm three times (float32, float64, and read-only/strided float32 operands: ~12 s
each when cold, then loaded from numba's on-disk cache). No timing assertions: see
tools/bench_gemm.py for speed.
"""
import inspect

import numba
import numpy as np
import pytest

from darknet_py.kernels import gemm as gemm_module
from darknet_py.kernels.gemm import DIRECT_B_MAX_K, GENERATED_BEGIN, GENERATED_END, KC, MC, MR, NC, NR, NR2, gemm

DTYPES = [np.float32, np.float64]
CASES = [(False, False), (False, True), (True, False), (True, True)]
SHAPES = [  # (M, N, K)
    (1, 1, 1),
    (1, 37, 5),
    (29, 1, 17),
    (3, 5, 1),
    (MR, NR, 7),                        # exactly one register tile
    (MR + 1, NR + 1, KC + 1),           # one past every tile edge, two K blocks
    (2 * MR - 1, NR + NR2, 33),         # full + narrow-tail columns
    (17, NR2 - 3, 40),                  # only a narrow, partial tail
    (MC + 9, 169, 70),                  # two row blocks; N = 169 = 5 * 32 + 9 like yolov3-tiny's 13x13
    (11, NC + 45, 9),                   # two column blocks
    (70, 45, 2 * KC + 3),               # three K blocks
    (MR + 2, 3 * NR + 5, DIRECT_B_MAX_K),        # NN reads B in place up to this k
    (MR + 2, 3 * NR + 5, DIRECT_B_MAX_K + 1),    # ... and packs it from here on
]


def _operands(rng, dtype, trans_a, trans_b, m, n, k):
    a = rng.standard_normal((k, m) if trans_a else (m, k)).astype(dtype)
    b = rng.standard_normal((n, k) if trans_b else (k, n)).astype(dtype)
    c = rng.standard_normal((m, n)).astype(dtype)
    return a, b, c


def _reference(trans_a, trans_b, alpha, a, b, beta, c):
    a64 = a.astype(np.float64)
    b64 = b.astype(np.float64)
    op_a = a64.T if trans_a else a64
    op_b = b64.T if trans_b else b64
    ref = beta * c.astype(np.float64) + alpha * (op_a @ op_b)
    # Rounding bound for a k-term dot product accumulated in the working precision.
    scale = abs(beta) * np.abs(c.astype(np.float64)) + abs(alpha) * (np.abs(op_a) @ np.abs(op_b))
    return ref, scale


def _check(trans_a, trans_b, alpha, a, b, beta, c):
    k = a.shape[0] if trans_a else a.shape[1]
    ref, scale = _reference(trans_a, trans_b, alpha, a, b, beta, c)
    gemm(trans_a, trans_b, alpha, a, b, beta, c)
    eps = np.finfo(c.dtype).eps
    err = np.abs(c.astype(np.float64) - ref)
    bound = 2 * (k + 2) * eps * scale + 1e-300
    assert np.all(err <= bound), "max err/bound %g" % np.max(err / bound)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("trans_a,trans_b", CASES, ids=["NN", "NT", "TN", "TT"])
@pytest.mark.parametrize("m,n,k", SHAPES, ids=["%dx%dx%d" % s for s in SHAPES])
def test_matches_numpy(dtype, trans_a, trans_b, m, n, k):
    rng = np.random.default_rng(m * 10007 + n * 101 + k)
    a, b, c = _operands(rng, dtype, trans_a, trans_b, m, n, k)
    _check(trans_a, trans_b, 1.0, a, b, 0.0, c)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("alpha,beta", [(1.0, 1.0), (0.5, 2.0), (-1.5, 0.25), (0.0, 3.0), (2.0, -1.0)])
@pytest.mark.parametrize("trans_a,trans_b", CASES, ids=["NN", "NT", "TN", "TT"])
def test_alpha_beta(dtype, alpha, beta, trans_a, trans_b):
    rng = np.random.default_rng(7)
    a, b, c = _operands(rng, dtype, trans_a, trans_b, MR + 3, NR + NR2 + 5, KC + 20)
    _check(trans_a, trans_b, alpha, a, b, beta, c)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_random_shapes(dtype):
    rng = np.random.default_rng(1234)
    for _ in range(12):
        m, n, k = (int(v) for v in rng.integers(1, 90, size=3))
        trans_a, trans_b = bool(rng.integers(2)), bool(rng.integers(2))
        a, b, c = _operands(rng, dtype, trans_a, trans_b, m, n, k)
        _check(trans_a, trans_b, float(rng.uniform(-2, 2)), a, b, float(rng.uniform(-2, 2)), c)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_k_zero_only_scales_c(dtype):
    c = np.arange(12, dtype=dtype).reshape(3, 4)
    gemm(False, False, 1.0, np.empty((3, 0), dtype), np.empty((0, 4), dtype), 0.5, c)
    np.testing.assert_array_equal(c, 0.5 * np.arange(12, dtype=dtype).reshape(3, 4))
    gemm(True, True, 1.0, np.empty((0, 3), dtype), np.empty((4, 0), dtype), 1.0, c)
    np.testing.assert_array_equal(c, 0.5 * np.arange(12, dtype=dtype).reshape(3, 4))


def test_empty_c_is_a_no_op():
    a = np.ones((0, 5), np.float32)
    gemm(False, False, 1.0, a, np.ones((5, 3), np.float32), 0.0, np.empty((0, 3), np.float32))
    gemm(False, False, 1.0, np.ones((4, 5), np.float32), np.ones((5, 0), np.float32), 0.0,
         np.empty((4, 0), np.float32))


def test_beta_zero_keeps_nan_like_darknet():
    """Darknet's gemm_cpu does C *= beta, so NaN * 0 stays NaN (BLAS would overwrite C).

    Callers therefore zero or prefill C; this test pins the semantics down.
    """
    c = np.full((MR + 1, NR + 1), np.nan, np.float32)
    c[0, 0] = 5.0
    gemm(False, False, 1.0, np.ones((MR + 1, 3), np.float32), np.ones((3, NR + 1), np.float32), 0.0, c)
    assert c[0, 0] == 3.0
    assert np.isnan(c.ravel()[1:]).all()


@pytest.mark.parametrize("trans_a,trans_b", CASES, ids=["NN", "NT", "TN", "TT"])
def test_views_of_flat_buffers_write_only_c(trans_a, trans_b):
    """Callers pass reshaped views of flat buffers; nothing outside C's view may change."""
    m, n, k = 13, 45, 19
    rng = np.random.default_rng(3)
    a_flat = rng.standard_normal(m * k + 8).astype(np.float32)
    b_flat = rng.standard_normal(k * n + 8).astype(np.float32)
    c_flat = rng.standard_normal(m * n + 16).astype(np.float32)
    a = a_flat[3:3 + m * k].reshape((k, m) if trans_a else (m, k))
    b = b_flat[5:5 + k * n].reshape((n, k) if trans_b else (k, n))
    c = c_flat[7:7 + m * n].reshape(m, n)
    before = c_flat.copy()
    a_copy, b_copy = a_flat.copy(), b_flat.copy()
    ref, _ = _reference(trans_a, trans_b, 1.0, a, b, 1.0, c)
    gemm(trans_a, trans_b, 1.0, a, b, 1.0, c)
    np.testing.assert_allclose(c, ref, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(c_flat[:7], before[:7])
    np.testing.assert_array_equal(c_flat[7 + m * n:], before[7 + m * n:])
    np.testing.assert_array_equal(a_flat, a_copy)
    np.testing.assert_array_equal(b_flat, b_copy)


def test_same_bits_for_any_thread_count():
    """Every element is accumulated in k order whatever the split, so threads change no bit."""
    results = []
    saved = numba.get_num_threads()
    try:
        for threads in sorted({1, saved}):
            numba.set_num_threads(threads)
            for m, n in ((MC + 9, 70), (20, 2 * NR + 7)):
                a, b, c = _operands(np.random.default_rng(m), np.float32, False, False, m, n, KC + 5)
                gemm(False, False, 1.0, a, b, 0.5, c)
                results.append((threads, m, c))
    finally:
        numba.set_num_threads(saved)
    by_shape = {}
    for threads, m, c in results:
        by_shape.setdefault(m, []).append(c)
    for outs in by_shape.values():
        for other in outs[1:]:
            np.testing.assert_array_equal(outs[0], other)


def test_exact_arithmetic_is_exact_float64():
    """Small integers and power-of-two alpha/beta make every product and sum exact: any lost,
    doubled or misplaced term (packing, padding, K blocks, beta applied once) shows as a difference."""
    rng = np.random.default_rng(5)
    m, n, k = 19, 50, KC + 11
    a = rng.integers(-8, 9, (m, k)).astype(np.float64)
    b = rng.integers(-8, 9, (k, n)).astype(np.float64)
    c = rng.integers(-8, 9, (m, n)).astype(np.float64)
    expected = 0.25 * c + 0.5 * (a @ b)
    gemm(False, False, 0.5, a, b, 0.25, c)
    np.testing.assert_array_equal(c, expected)


@pytest.mark.parametrize("trans_a,trans_b", CASES, ids=["NN", "NT", "TN", "TT"])
def test_read_only_and_strided_operands(trans_a, trans_b):
    """A and B are read in place when possible: read-only or non-contiguous arrays must work too."""
    rng = np.random.default_rng(9)
    m, n, k = MR * 2, NR + 7, 20
    a, b, c = _operands(rng, np.float32, trans_a, trans_b, m, n, k)
    a_wide = np.zeros((a.shape[0], 2 * a.shape[1]), np.float32)
    a_wide[:, ::2] = a
    a_strided = a_wide[:, ::2]
    b.flags.writeable = False
    ref, _ = _reference(trans_a, trans_b, 1.0, a, b, 0.5, c)
    gemm(trans_a, trans_b, 1.0, a_strided, b, 0.5, c)
    np.testing.assert_allclose(c, ref, rtol=1e-4, atol=1e-4)


def test_generated_kernels_match_their_generator():
    """The register-tile kernels are generated text; keep the file in sync with the generator."""
    text = inspect.getsource(gemm_module)
    start = text.index(GENERATED_BEGIN) + len(GENERATED_BEGIN)
    end = text.index(GENERATED_END)
    expected = "\n\n" + gemm_module._micro_kernel_source(MR, NR, "_micro") + "\n\n" \
        + gemm_module._micro_kernel_source(MR, NR2, "_micro_narrow") + "\n\n"
    assert text[start:end] == expected, "regenerate: python -c \"...print(_micro_kernel_source(...))\""


def test_in_place_b_never_reads_past_its_end():
    """NN with small k reads B in place, except column tails (packed, else the 32-wide kernel would
    read past B's last column). B here ends exactly at a PROT_NONE page: a stray read faults."""
    import ctypes
    import mmap
    import sys
    if not sys.platform.startswith("linux"):
        pytest.skip("needs mprotect")
    page = mmap.PAGESIZE
    region = mmap.mmap(-1, 2 * page)
    words = np.frombuffer(region, np.float32)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    guard = words.ctypes.data + page
    assert libc.mprotect(guard, page, 0) == 0          # PROT_NONE
    try:
        m, n, k = MR, NR + 5, 3
        rng = np.random.default_rng(4)
        a = rng.standard_normal((m, k)).astype(np.float32)
        b = words[page // 4 - k * n:page // 4].reshape(k, n)
        b[...] = rng.standard_normal((k, n))
        c = np.zeros((m, n), np.float32)
        ref, _ = _reference(False, False, 1.0, a, b, 0.0, c)
        gemm(False, False, 1.0, a, b, 0.0, c)
        np.testing.assert_allclose(c, ref, rtol=1e-5, atol=1e-5)
    finally:
        libc.mprotect(guard, page, 3)                   # PROT_READ | PROT_WRITE
