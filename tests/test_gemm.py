"""gemm: every ISA's kernel against a naive twin (bitwise) and numpy (independent oracle).

Every (ISA, dtype) driver of darknet_py.kernels.gemm is called directly (``gemm_for``): each is
compiled for the CPU numba targets in this process, so all of them run on any x86-64 host with FMA,
whichever one ``gemm`` chose. The kernels promise Darknet's order of operations (c = beta * c, then
one FMA per k in k order) whatever the tile, packing or thread split; tests/naive_gemm.py does the
same roundings in the same order, so the comparison is EXACT (bitwise) for float32 and float64.
An independent oracle (numpy in float64) checks small-integer operands, where every sum is exact
in any order, and random operands against a rounding bound.

Shapes straddle every blocking boundary of each variant's tile (MR x NR, the narrow tail, KC, MC,
NC, in-place versus packed A and B) plus 1s and primes. Compiles: each driver once per dtype (six
drivers, ~4 s each when cold, then loaded from numba's on-disk cache), the twin once per dtype,
and the chosen driver once more for read-only/strided float32 operands. Subprocess checks of the
choice under NUMBA_CPU_NAME are in tests/test_isa.py. No timing assertions: see tools/bench_gemm.py.
"""

import numba
import numpy as np
import pytest

from darknet_py.kernels import gemm as gemm_module
from darknet_py.kernels.gemm import (DIRECT_B_MAX_K, ISA, ISAS, TILES, VECTOR_BYTES,
                                     gemm, gemm_for)
from naive_gemm import check_bitwise, operands

DTYPES = [np.float32, np.float64]
VARIANTS = [(isa, dtype) for isa in ISAS for dtype in DTYPES]
CASES = [(False, False), (False, True), (True, False), (True, True)]
CASE_IDS = ["NN", "NT", "TN", "TT"]


def _tile(isa, dtype):
    return TILES[isa, np.dtype(dtype).str[1:]]


def _shapes(t):
    """(M, N, K) around every boundary of tile ``t``."""
    return [
        (1, 1, 1),
        (1, 37, 5),
        (29, 1, 17),
        (3, 5, 1),
        (31, 53, 97),                           # primes
        (t.mr, t.nr, 7),                        # exactly one register tile
        (t.mr + 1, t.nr + 1, t.kc + 1),         # one past every tile edge, two K blocks
        (2 * t.mr - 1, t.nr + t.nr2, 33),       # full + narrow-tail columns
        (17, max(1, t.nr2 - 3), 40),            # only a partial tail
        (t.mc + 9, 169, 70),                    # two row blocks; N = 169 like yolov3-tiny's 13x13
        (11, t.nc + 45, 9),                     # two column blocks
        (70, 45, 2 * t.kc + 3),                 # three K blocks
        (t.mr + 2, 3 * t.nr + 5, DIRECT_B_MAX_K),       # NN reads B in place up to this k
        (t.mr + 2, 3 * t.nr + 5, DIRECT_B_MAX_K + 1),   # ... and packs it from here on
        (max(1, t.direct_b_max_m), 2 * t.nr + 3, 70),   # in place for few rows (DIRECT_B_MAX_M) ...
        (t.direct_b_max_m + 1, 2 * t.nr + 3, 70),       # ... packed past them
    ]


SHAPE_CASES = [(isa, dtype, s) for isa, dtype in VARIANTS for s in _shapes(_tile(isa, dtype))]


def _reference(trans_a, trans_b, alpha, a, b, beta, c):
    a64 = a.astype(np.float64)
    b64 = b.astype(np.float64)
    op_a = a64.T if trans_a else a64
    op_b = b64.T if trans_b else b64
    ref = beta * c.astype(np.float64) + alpha * (op_a @ op_b)
    # Rounding bound for a k-term dot product accumulated in the working precision.
    scale = abs(beta) * np.abs(c.astype(np.float64)) + abs(alpha) * (np.abs(op_a) @ np.abs(op_b))
    return ref, scale


def _check_bound(fn, trans_a, trans_b, alpha, a, b, beta, c):
    k = a.shape[0] if trans_a else a.shape[1]
    ref, scale = _reference(trans_a, trans_b, alpha, a, b, beta, c)
    fn(trans_a, trans_b, alpha, a, b, beta, c)
    eps = np.finfo(c.dtype).eps
    err = np.abs(c.astype(np.float64) - ref)
    bound = 2 * (k + 2) * eps * scale + 1e-300
    assert np.all(err <= bound), "max err/bound %g" % np.max(err / bound)


@pytest.mark.parametrize("trans_a,trans_b", CASES, ids=CASE_IDS)
@pytest.mark.parametrize("isa,dtype,shape", SHAPE_CASES,
                         ids=["%s-%s-%dx%dx%d" % (i, np.dtype(d).name, *s) for i, d, s in SHAPE_CASES])
def test_every_isa_equals_the_naive_twin_bitwise(isa, dtype, shape, trans_a, trans_b):
    m, n, k = shape
    rng = np.random.default_rng(m * 10007 + n * 101 + k)
    a, b, c = operands(rng, dtype, trans_a, trans_b, m, n, k)
    check_bitwise(gemm_for(isa, dtype), trans_a, trans_b, 1.0, a, b, 0.0, c)
    check_bitwise(gemm_for(isa, dtype), trans_a, trans_b, -1.5, a, b, 0.75, c)   # packed A, beta


@pytest.mark.parametrize("trans_a,trans_b", CASES, ids=CASE_IDS)
@pytest.mark.parametrize("isa,dtype", VARIANTS, ids=["%s-%s" % (i, np.dtype(d).name) for i, d in VARIANTS])
def test_every_isa_is_exact_on_small_integers(isa, dtype, trans_a, trans_b):
    """Small integers and dyadic alpha/beta make every product and sum exact in either dtype: any
    lost, doubled or misplaced term (packing, padding, K blocks, beta applied once) shows."""
    t = _tile(isa, dtype)
    m, n, k = t.mc + t.mr + 1, 2 * t.nr + t.nr2 + 3, t.kc + 11
    a, b, c = operands(np.random.default_rng(5), dtype, trans_a, trans_b, m, n, k, integers=True)
    ref, _ = _reference(trans_a, trans_b, 0.5, a, b, 0.25, c)
    gemm_for(isa, dtype)(trans_a, trans_b, 0.5, a, b, 0.25, c)
    np.testing.assert_array_equal(c, ref)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("alpha,beta", [(1.0, 1.0), (0.5, 2.0), (-1.5, 0.25), (0.0, 3.0), (2.0, -1.0)])
@pytest.mark.parametrize("trans_a,trans_b", CASES, ids=CASE_IDS)
def test_alpha_beta(dtype, alpha, beta, trans_a, trans_b):
    t = _tile(ISA, dtype)
    rng = np.random.default_rng(7)
    a, b, c = operands(rng, dtype, trans_a, trans_b, t.mr + 3, t.nr + t.nr2 + 5, t.kc + 20)
    _check_bound(gemm, trans_a, trans_b, alpha, a, b, beta, c)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_random_shapes_within_rounding_of_numpy(dtype):
    rng = np.random.default_rng(1234)
    for _ in range(12):
        m, n, k = (int(v) for v in rng.integers(1, 90, size=3))
        trans_a, trans_b = bool(rng.integers(2)), bool(rng.integers(2))
        a, b, c = operands(rng, dtype, trans_a, trans_b, m, n, k)
        _check_bound(gemm, trans_a, trans_b, float(rng.uniform(-2, 2)), a, b, float(rng.uniform(-2, 2)), c)


def test_gemm_calls_the_chosen_isa():
    rng = np.random.default_rng(8)
    for dtype in DTYPES:
        a, b, c = operands(rng, dtype, False, True, 9, 40, 13)
        check_bitwise(gemm, False, True, 1.0, a, b, 0.5, c)
        assert gemm_module.tile(dtype).startswith(ISA + " ")


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


@pytest.mark.parametrize("isa", ISAS)
def test_beta_zero_keeps_nan_like_darknet(isa):
    """Darknet's gemm_cpu does C *= beta, so NaN * 0 stays NaN (BLAS would overwrite C).

    Callers therefore zero or prefill C; this test pins the semantics down.
    """
    t = _tile(isa, np.float32)
    c = np.full((t.mr + 1, t.nr + 1), np.nan, np.float32)
    c[0, 0] = 5.0
    gemm_for(isa)(False, False, 1.0, np.ones((t.mr + 1, 3), np.float32), np.ones((3, t.nr + 1), np.float32), 0.0, c)
    assert c[0, 0] == 3.0
    assert np.isnan(c.ravel()[1:]).all()


@pytest.mark.parametrize("trans_a,trans_b", CASES, ids=CASE_IDS)
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
    t = _tile(ISA, np.float32)
    results = []
    saved = numba.get_num_threads()
    try:
        for threads in sorted({1, saved}):
            numba.set_num_threads(threads)
            for m, n in ((t.mc + 9, 70), (20, 2 * t.nr + 7)):
                a, b, c = operands(np.random.default_rng(m), np.float32, False, False, m, n, t.kc + 5)
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


@pytest.mark.parametrize("trans_a,trans_b", CASES, ids=CASE_IDS)
def test_read_only_and_strided_operands(trans_a, trans_b):
    """A and B are read in place when possible: read-only or non-contiguous arrays must work too."""
    t = _tile(ISA, np.float32)
    rng = np.random.default_rng(9)
    m, n, k = t.mr * 2, t.nr + 7, 20
    a, b, c = operands(rng, np.float32, trans_a, trans_b, m, n, k)
    a_wide = np.zeros((a.shape[0], 2 * a.shape[1]), np.float32)
    a_wide[:, ::2] = a
    a_strided = a_wide[:, ::2]
    b.flags.writeable = False
    ref, _ = _reference(trans_a, trans_b, 1.0, a, b, 0.5, c)
    gemm(trans_a, trans_b, 1.0, a_strided, b, 0.5, c)
    np.testing.assert_allclose(c, ref, rtol=1e-4, atol=1e-4)


def test_each_variant_is_its_own_jitted_function_with_its_tile():
    """The cache-safety argument of the module docstring: one jitted function per (ISA, dtype), with
    a distinct qualified name (so its own cache entry) and its tile bound in its own globals."""
    names = set()
    for (isa, dtype), t in TILES.items():
        driver = gemm_for(isa, np.float64 if dtype == "f8" else np.float32)
        names.add(driver.py_func.__qualname__)
        g = driver.py_func.__globals__
        assert (g["MR"], g["NR"], g["NR2"], g["KC"], g["MC"], g["NC"], g["DIRECT_B_MAX_M"]) == tuple(t)
        assert g["_micro"].tile == (t.mr, t.nr, VECTOR_BYTES[isa])
        assert g["_micro_narrow"].tile == (t.mr, t.nr2, VECTOR_BYTES[isa])
        assert g["_short"].tile == (t.mr, t.nr, VECTOR_BYTES[isa])           # row tails: 1 .. mr-1 rows
        assert g["_short_narrow"].tile == (t.mr, t.nr2, VECTOR_BYTES[isa])
        assert g["_block"].py_func.__globals__ is g and g["_block"].py_func.__qualname__ != "_block"
        assert t.mc % t.mr == 0 and t.nc % t.nr == 0
    assert len(names) == len(TILES)
    assert not hasattr(gemm_module, "MR"), "a module-level tile constant would be shared by every variant"


@pytest.mark.parametrize("isa", ISAS)
def test_in_place_b_never_reads_past_its_end(isa):
    """NN with small k reads B in place, except column tails (packed, else the NR-wide kernel would
    read past B's last column). B here ends exactly at a PROT_NONE page: a stray read faults."""
    import ctypes
    import mmap
    import sys
    if not sys.platform.startswith("linux"):
        pytest.skip("needs mprotect")
    t = _tile(isa, np.float32)
    page = mmap.PAGESIZE
    region = mmap.mmap(-1, 2 * page)
    words = np.frombuffer(region, np.float32)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    guard = words.ctypes.data + page
    assert libc.mprotect(guard, page, 0) == 0          # PROT_NONE
    try:
        m, n, k = t.mr, t.nr + 5, 3
        rng = np.random.default_rng(4)
        a = rng.standard_normal((m, k)).astype(np.float32)
        b = words[page // 4 - k * n:page // 4].reshape(k, n)
        b[...] = rng.standard_normal((k, n))
        c = np.zeros((m, n), np.float32)
        ref, _ = _reference(False, False, 1.0, a, b, 0.0, c)
        gemm_for(isa)(False, False, 1.0, a, b, 0.0, c)
        np.testing.assert_allclose(c, ref, rtol=1e-5, atol=1e-5)
    finally:
        libc.mprotect(guard, page, 3)                   # PROT_READ | PROT_WRITE


# ---------------------------------------------------------------- conv_gemm (implicit im2col)

CONV_GEOMETRIES = [     # (channels, height, width, ksize, stride, pad, filters)
    (3, 9, 7, 3, 1, 1, 5),          # odd sizes, few columns (a partial panel)
    (8, 20, 19, 3, 1, 1, 4),        # more columns than filters: gemm splits them between threads
    (5, 13, 11, 3, 2, 1, 7),        # stride 2
    (4, 6, 5, 2, 3, 2, 3),          # even kernel, padding > size / 2, stride 3
    (7, 8, 8, 1, 1, 0, 9),          # 1x1
    (2, 30, 40, 5, 2, 2, 33),       # 5x5 stride 2
    (40, 9, 9, 3, 1, 1, 16),        # k = 360 > KC: two k blocks
    (3, 48, 48, 3, 1, 1, 6),        # 2304 columns: more than one NC block on every ISA
    (2, 4, 4, 5, 1, 0, 3),          # kernel larger than the image: one output row of zeros
    (6, 5, 5, 3, 1, 1, 40),         # more filters than columns: threads split the rows, each packs all
]


@pytest.mark.parametrize("geometry", CONV_GEOMETRIES, ids=lambda g: "c%d-%dx%d-k%d-s%d-p%d-f%d" % g)
@pytest.mark.parametrize("isa,dtype", VARIANTS, ids=["%s-%s" % (i, np.dtype(d).name) for i, d in VARIANTS])
def test_conv_gemm_equals_gemm_on_the_column_matrix_bitwise(isa, dtype, geometry):
    """conv_gemm packs B from the image: the same numbers as im2col's matrix, so the same bits as gemm
    on that matrix, beta included (every edge of the image, both thread splits, K and N blocks)."""
    from darknet_py.kernels import im2col
    from darknet_py.kernels.gemm import conv_gemm
    channels, height, width, ksize, stride, pad, filters = geometry
    rng = np.random.default_rng(sum(geometry))
    out_h = (height + 2 * pad - ksize) // stride + 1
    out_w = (width + 2 * pad - ksize) // stride + 1
    k, n = channels * ksize * ksize, out_h * out_w
    image = rng.standard_normal(channels * height * width).astype(dtype)
    col = np.full(k * n, np.nan, dtype)
    im2col.im2col(image, channels, height, width, ksize, stride, pad, col)
    a = rng.standard_normal((filters, k)).astype(dtype)
    c = rng.standard_normal((filters, n)).astype(dtype)
    for beta in (0.0, 0.5):
        expected = c.copy()
        gemm_for(isa, dtype)(False, False, 1.0, a, col.reshape(k, n), beta, expected)
        got = c.copy()
        conv_gemm(a, image, height, width, ksize, stride, pad, beta, got, isa=isa)
        np.testing.assert_array_equal(got, expected)
