"""The training fast path against the plain path, kernel by kernel and through whole networks.

Training with ``net.fast`` (the default) runs fused kernels: the conv's gemm writes into x, one
statistics pass (``batchnorm.mean_variance_train``) and one normalise/scale/bias/activation pass
(``activations.batchnorm_activate_train`` / ``bias_activate``); the backward's activation gradient,
bias/scale gradients and batch-norm delta in one kernel (``activations.backward_activation_bn``);
``im2col.col2im_fast``, ``pool.maxpool_forward_fast`` and the fused SGD step (``_params.sgd_step``).
``net.fast = False`` runs the plain kernels, Darknet's pass-by-pass sequence.

Element-wise work is done with the plain path's roundings, so those kernels must match bitwise.
Per-channel sums run in float64 lanes (another summation order), so statistics and the kernels that
use them are compared with a tolerance of a few roundings. No timings here (tools/bench.py --train).
"""
import numpy as np
import pytest

from darknet_py.cfg import parse_cfg
from darknet_py.kernels import activations as act
from darknet_py.kernels import batchnorm as bn
from darknet_py.kernels import blas, im2col, pool
from darknet_py.kernels.activations import ACTIVATIONS
from darknet_py.layers import _params
from darknet_py.network import build_network

DTYPES = [np.float32, np.float64]
TOL = {np.float32: dict(rtol=2e-5, atol=2e-6), np.float64: dict(rtol=1e-11, atol=1e-12)}
SHAPES = [(1, 1, 1), (1, 3, 7), (2, 5, 9), (3, 4, 33), (2, 16, 64), (1, 2, 173)]   # (batch, n, spatial)


def rand(rng, size, dtype, scale=1.0, shift=0.0):
    return (shift + scale * rng.standard_normal(size)).astype(dtype)


def assert_same(a, b, what=""):
    """Bitwise equal, NaN positions included."""
    assert a.dtype == b.dtype
    np.testing.assert_array_equal(a.view(np.uint8), b.view(np.uint8), err_msg=what)


# ---------------------------------------------------------------------- batch-norm forward kernels
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_mean_variance_train_matches_plain(dtype, shape):
    batch, n, spatial = shape
    rng = np.random.default_rng(batch * 100 + n * 10 + spatial)
    x = rand(rng, batch * n * spatial, dtype, 2.0, 3.0)
    ref_m, ref_v = np.zeros(n, dtype), np.zeros(n, dtype)
    rm0, rv0 = rand(rng, n, dtype), rng.uniform(0.5, 1.5, n).astype(dtype)
    rm, rv = rm0.copy(), rv0.copy()
    bn.mean_variance(x, ref_m, ref_v, batch, n, spatial)
    bn.rolling_update(rm, ref_m, n)
    bn.rolling_update(rv, ref_v, n)
    m, v, rm2, rv2 = np.zeros(n, dtype), np.zeros(n, dtype), rm0.copy(), rv0.copy()
    bn.mean_variance_train(x, m, v, rm2, rv2, batch, n, spatial)
    np.testing.assert_allclose(m, ref_m, **TOL[dtype])
    if batch * spatial > 1:
        np.testing.assert_allclose(v, ref_v, **TOL[dtype])
        np.testing.assert_allclose(rv2, rv, **TOL[dtype])
    else:                                   # 0/0, as Darknet
        assert np.isnan(v).all() and np.isnan(ref_v).all()
    np.testing.assert_allclose(rm2, rm, **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("code", sorted(ACTIVATIONS.values()))
@pytest.mark.parametrize("shape", [(2, 3, 17), (1, 5, 64)])
def test_batchnorm_activate_train_bitwise(dtype, code, shape):
    """Same mean/variance in: x_norm and the output equal normalize, copy, scale, bias, activate."""
    batch, n, spatial = shape
    rng = np.random.default_rng(code)
    x = rand(rng, batch * n * spatial, dtype, 3.0, 0.5)
    x[::11] = 0.0
    mean, var = rand(rng, n, dtype), rng.uniform(0.1, 3.0, n).astype(dtype)
    scales, biases = rng.uniform(0.5, 1.5, n).astype(dtype), rand(rng, n, dtype)
    ref = x.copy()
    bn.normalize(ref, mean, var, ref, batch, n, spatial)
    ref_norm = ref.copy()
    blas.scale_bias(ref, scales, batch, n, spatial)
    blas.add_bias(ref, biases, batch, n, spatial)
    act.activate(ref, ref.size, code)
    x_keep = x.copy()
    x_norm, out = np.full_like(x, np.nan), np.full_like(x, np.nan)
    bad = act.batchnorm_activate_train(x, mean, var, scales, biases, x_norm, out, batch, n, spatial, code,
                                       bn.FORWARD_EPS)
    assert bad == 0
    assert_same(x, x_keep, "x must be left unchanged")
    assert_same(x_norm, ref_norm, "x_norm")
    assert_same(out, ref, "output")


def test_batchnorm_activate_train_counts_nonfinite_input():
    x = np.ones(2 * 3 * 4, np.float32)
    x[[1, 7]] = [np.nan, np.inf]
    ones, zeros = np.ones(3, np.float32), np.zeros(3, np.float32)
    bad = act.batchnorm_activate_train(x, zeros, ones, ones, zeros, np.empty_like(x), np.empty_like(x),
                                       2, 3, 4, act.LEAKY, bn.FORWARD_EPS)
    assert bad == 2


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("code", sorted(ACTIVATIONS.values()))
def test_bias_activate_bitwise(dtype, code):
    batch, n, spatial = 2, 3, 19
    rng = np.random.default_rng(50 + code)
    x = rand(rng, batch * n * spatial, dtype, 3.0)
    biases = rand(rng, n, dtype)
    ref = x.copy()
    blas.add_bias(ref, biases, batch, n, spatial)
    act.activate(ref, ref.size, code)
    bad = act.bias_activate(x, biases, batch, n, spatial, code)
    assert_same(x, ref)
    assert bad == int((~np.isfinite(ref)).sum())


# ---------------------------------------------------------------------- fused backward
def plain_backward(y, delta, code, x, x_norm, mean, var, scales, bias_updates, scale_updates, b, n, s, mode):
    act.gradient(y, y.size, code, delta)
    if bias_updates is not None:
        blas.backward_bias(bias_updates, delta, b, n, s)
    if mode == act.BN_NONE:
        return
    bn.backward_scale(x_norm, delta, scale_updates, b, n, s)
    blas.scale_bias(delta, scales, b, n, s)
    if mode == act.BN_DARKNET:
        bn.backward_darknet(x, mean, var, delta, b, n, s)
    elif mode == act.BN_TRUE:
        bn.backward_true(x_norm, var, delta, b, n, s)
    else:
        bn.backward_frozen(var, delta, b, n, s)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode,has_bias", [(act.BN_NONE, True), (act.BN_DARKNET, True), (act.BN_TRUE, True),
                                           (act.BN_FROZEN, True), (act.BN_TRUE, False), (act.BN_DARKNET, False)])
@pytest.mark.parametrize("code", [act.LEAKY, act.LINEAR, act.LOGISTIC, act.RELU, act.STAIR])
@pytest.mark.parametrize("shape", [(1, 2, 1), (2, 3, 7), (3, 5, 33), (2, 4, 100)])
def test_backward_activation_bn_matches_plain(dtype, mode, has_bias, code, shape):
    batch, n, spatial = shape
    rng = np.random.default_rng(mode * 1000 + code * 10 + spatial)
    size = batch * n * spatial
    x = rand(rng, size, dtype, 2.0, 0.3)
    mean, var = rand(rng, n, dtype), rng.uniform(0.2, 2.0, n).astype(dtype)
    x_norm = ((x.reshape(batch, n, spatial) - mean[:, None]) / (np.sqrt(var)[:, None] + 1e-6)).astype(dtype).ravel()
    y = np.empty_like(x)
    y[:] = x_norm
    act.activate(y, size, code)
    delta0 = rand(rng, size, dtype)
    scales = rng.uniform(0.5, 1.5, n).astype(dtype)
    bu0, su0 = rand(rng, n, dtype), rand(rng, n, dtype)

    d_ref, bu_ref, su_ref = delta0.copy(), bu0.copy(), su0.copy()
    plain_backward(y, d_ref, code, x, x_norm, mean, var, scales, bu_ref if has_bias else None, su_ref,
                   batch, n, spatial, mode)
    d, bu, su = delta0.copy(), bu0.copy(), su0.copy()
    z = x if mode == act.BN_DARKNET else x_norm
    act.backward_activation_bn(y, d, code, z, x_norm, mean, var, scales, bu if has_bias else bu[:0], su,
                               batch, n, spatial, mode, has_bias, bn.FORWARD_EPS, bn.DARKNET_BACKWARD_EPS)
    tol = TOL[dtype]
    np.testing.assert_allclose(bu, bu_ref, **tol)
    np.testing.assert_allclose(su, su_ref, **tol)
    if mode in (act.BN_NONE, act.BN_FROZEN):      # no sum feeds the delta: bitwise
        assert_same(d, d_ref)
    else:                                         # the delta uses the sums: a few roundings
        assert_close_scaled(d, d_ref, dtype)      # (one value per channel: N - 1 = 0, NaN like Darknet)


def assert_close_scaled(a, b, dtype, what="", rounds=10):
    """The same NaN/Inf values in the same places; elsewhere |a - b| within ``rounds`` relative
    roundings of the array's largest finite value (sums in another order move small values most)."""
    ok = np.isfinite(b)
    np.testing.assert_array_equal(a[~ok], b[~ok], err_msg=f"{what}: non-finite values differ")
    assert np.isfinite(a[ok]).all(), f"{what}: non-finite values where the plain path has none"
    scale = np.abs(b[ok]).max(initial=0.0) + 1e-30
    np.testing.assert_allclose(a[ok] / scale, b[ok] / scale, rtol=0, atol=TOL[dtype]["rtol"] * rounds,
                               err_msg=what)


# ---------------------------------------------------------------------- col2im, maxpool, update
def col2im_cases():
    rng = np.random.default_rng(7)
    cases = [(3, 416 // 16, 416 // 16, 3, 1, 1), (1, 1, 1, 1, 1, 0), (2, 5, 4, 3, 2, 1), (4, 7, 9, 5, 1, 2),
             (1, 6, 6, 1, 2, 0), (2, 3, 8, 3, 3, 2), (2, 9, 7, 2, 2, 1)]
    for _ in range(12):
        k = int(rng.integers(1, 6))
        pad = int(rng.integers(0, k + 1))
        cases.append((int(rng.integers(1, 5)), int(rng.integers(max(1, k - 2 * pad), 12)),
                      int(rng.integers(max(1, k - 2 * pad), 12)), k, int(rng.integers(1, 4)), pad))
    return cases


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", col2im_cases())
def test_col2im_fast_bitwise(dtype, case):
    c, h, w, k, stride, pad = case
    out_h = (h + 2 * pad - k) // stride + 1
    out_w = (w + 2 * pad - k) // stride + 1
    if out_h < 1 or out_w < 1:
        pytest.skip("kernel does not fit")
    rng = np.random.default_rng(sum(case))
    col = rand(rng, c * k * k * out_h * out_w, dtype)
    im0 = rand(rng, c * h * w, dtype)
    ref, got = im0.copy(), im0.copy()
    im2col.col2im(col, c, h, w, k, stride, pad, ref)
    im2col.col2im_fast(col, c, h, w, k, stride, pad, got)
    assert_same(got, ref)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", [(2, 3, 8, 8, 2, 2, 1), (1, 2, 7, 9, 2, 2, 1), (2, 2, 13, 13, 2, 1, 1),
                                  (1, 3, 9, 6, 3, 2, 2), (1, 2, 5, 5, 3, 1, 2), (2, 1, 6, 7, 5, 3, 4),
                                  (1, 2, 4, 4, 2, 2, 0), (1, 1, 3, 5, 4, 1, 3), (1, 2, 6, 6, 2, 3, 1)])
@pytest.mark.parametrize("ties", [False, True])
def test_maxpool_forward_fast_bitwise(dtype, case, ties):
    batch, c, h, w, size, stride, pad = case
    out_h = (h + pad - size) // stride + 1
    out_w = (w + pad - size) // stride + 1
    rng = np.random.default_rng(sum(case) + ties)
    if ties:                                      # many equal values, -inf, NaN and -FLT_MAX
        x = rng.integers(-2, 2, batch * c * h * w).astype(dtype)
        x[::7] = -np.inf
        x[::13] = np.nan
        x[::5] = -np.finfo(np.float32).max
    else:
        x = rand(rng, batch * c * h * w, dtype)
    y_ref, i_ref = np.empty(batch * c * out_h * out_w, dtype), np.empty(batch * c * out_h * out_w, np.int64)
    y, i = np.full_like(y_ref, 7), np.full_like(i_ref, 7)
    pool.maxpool_forward(x, y_ref, i_ref, batch, c, h, w, out_h, out_w, size, stride, pad)
    pool.maxpool_forward_fast(x, y, i, batch, c, h, w, out_h, out_w, size, stride, pad)
    assert_same(y, y_ref)
    np.testing.assert_array_equal(i, i_ref)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("size", [1, 37, 1000, 5000])
@pytest.mark.parametrize("use_decay", [True, False])
@pytest.mark.parametrize("serial_max", [_params.SERIAL_UPDATE_MAX, 100])   # 100: the parallel kernel too
def test_sgd_step_bitwise(dtype, size, use_decay, serial_max, monkeypatch):
    monkeypatch.setattr(_params, "SERIAL_UPDATE_MAX", serial_max)
    rng = np.random.default_rng(size)
    w0, u0 = rand(rng, size, dtype), rand(rng, size, dtype, 1e-3)
    rate, decay, momentum = 0.1 / 8, -0.0005 * 8, 0.9
    w_ref, u_ref = w0.copy(), u0.copy()
    if use_decay:
        blas.axpy(decay, w_ref, u_ref)
    blas.axpy(rate, u_ref, w_ref)
    blas.scal(momentum, u_ref)
    w, u = w0.copy(), u0.copy()
    _params.sgd_step(w, u, rate, decay, momentum, use_decay)
    assert_same(w, w_ref)
    assert_same(u, u_ref)


# ---------------------------------------------------------------------- whole networks
NET = """
[net]
batch={batch}
width={w}
height={h}
channels={c}
learning_rate=0.1
momentum=0.9
decay=0.0005
"""

CONV = """
[convolutional]
filters={f}
size={size}
stride={stride}
padding={padding}
groups={groups}
activation={act}
batch_normalize={bn}
"""

TAIL = """
[maxpool]
size={psize}
stride={pstride}

[convolutional]
filters=3
size=3
stride=1
pad=1
activation=leaky
batch_normalize=1

[convolutional]
filters=2
size=1
stride=1
activation=linear
"""


def net_cases():
    rng = np.random.default_rng(11)
    cases = []
    for i in range(10):
        c = int(rng.integers(1, 5))
        size = int(rng.choice([1, 3, 5]))
        groups = int(rng.choice([1, c]))
        cases.append(dict(batch=int(rng.integers(1, 4)), c=c, h=int(rng.integers(size, 12)),
                          w=int(rng.integers(size, 12)), f=groups * int(rng.integers(1, 4)), size=size,
                          stride=int(rng.integers(1, 3)), padding=int(rng.integers(0, size)), groups=groups,
                          act=str(rng.choice(["leaky", "linear", "logistic", "relu", "tanh"])),
                          bn=int(i % 3 != 2), psize=int(rng.choice([2, 3])), pstride=int(rng.choice([1, 2]))))
    return cases


def train_steps(text, dtype, compat, fast, steps=2):
    net = build_network(parse_cfg(text, "<fast-train>"), "<fast-train>", dtype=dtype, max_memory=None,
                        compat=compat)
    rng = np.random.default_rng(3)
    for layer in net.layers:
        for name, param, _ in layer.parameters():
            param[:] = rng.uniform(0.5, 1.5, param.size) if name == "scales" else rng.normal(0, 0.5, param.size)
    net.fast = fast
    x = rng.normal(size=(net.batch,) + tuple(net.input_shape)).astype(dtype)
    d = rng.normal(size=(net.batch,) + tuple(net.out_shape)).astype(dtype)
    seen = []
    for _ in range(steps):
        net.forward(x, train=True)
        seen += [l.output.copy() for l in net.layers]
        seen.append(net.backward(d).copy())
        seen += [l.delta.copy() for l in net.layers]
        seen += [g.copy() for l in net.layers for _, _, g in l.parameters()]
        net.update()
        seen += [p.copy() for l in net.layers for _, p, _ in l.parameters()]
        seen += [l.rolling_variance.copy() for l in net.layers if getattr(l, "batch_normalize", False)]
    return seen


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("compat", [False, True])
@pytest.mark.parametrize("case", net_cases())
def test_training_steps_fast_equal_plain(dtype, compat, case):
    """Two forward/backward/update steps: every output, delta, gradient and parameter agrees (in
    float32 in practice bitwise; float64 keeps the sums' last-bit differences, which batch norm's
    division by a small variance amplifies: hence the wider float64 bound, still ~1e-8 relative)."""
    text = NET.format(**case) + CONV.format(**case) + TAIL.format(**case)
    fast = train_steps(text, dtype, compat, True)
    plain = train_steps(text, dtype, compat, False)
    assert len(fast) == len(plain)
    for k, (a, b) in enumerate(zip(fast, plain)):
        assert_close_scaled(a, b, dtype, f"array {k}", rounds=10 if dtype == np.float32 else 1000)


def test_training_after_nan_recovers():
    """A NaN left in the gemm target (x) by one training forward must not leak into the next one
    (gemm's beta = 0 keeps NaN: the layer refills the buffer when the last forward saw one)."""
    case = net_cases()[0]
    text = NET.format(**case) + CONV.format(**dict(case, bn=1)) + TAIL.format(**case)
    net = build_network(parse_cfg(text, "<nan>"), "<nan>", max_memory=None)
    x = np.random.default_rng(0).normal(size=(net.batch,) + tuple(net.input_shape)).astype(np.float32)
    bad = x.copy()
    bad.reshape(-1)[0] = np.nan
    net.forward(bad, train=True)
    assert np.isnan(net.layers[0].x).any()
    out = net.forward(x, train=True).copy()
    net.fast = False
    ref = net.forward(x, train=True).copy()
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-5)
