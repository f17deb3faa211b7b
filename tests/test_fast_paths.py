"""The inference fast paths against the plain path, on random shapes, in float32 and float64.

The switch: ``net.fast = False`` (an attribute of the Network, True when absent) makes every layer
take its plain path: Darknet's sequence of passes (fill, im2col, gemm, batch norm, bias, activation
for [convolutional]; the argmax-tracking maxpool; the per-item route copy; the dividing upsample).
Training forwards always take the plain path. ``net.fold_batchnorm = True`` (off by default) folds
batch norm into a separate weights buffer; both settings are compared with the plain path. Fast paths that only reorganise loops (im2col,
maxpool, upsample, route) must give bitwise the same values; the conv epilogue and the folded batch
norm change the rounding, so they are compared with a tolerance of a few float roundings.
No timings here: tools/profile_forward.py measures them.
"""
import numpy as np
import pytest

from darknet_py.cfg import parse_cfg
from darknet_py.kernels import im2col, pool, shape
from darknet_py.kernels.activations import ACTIVATIONS
from darknet_py.network import UpdateArgs, build_network
from gradcheck import NET

DTYPES = [np.float32, np.float64]
TOL = {np.float32: dict(rtol=2e-5, atol=2e-5), np.float64: dict(rtol=1e-12, atol=1e-12)}


CONV = """
[convolutional]
filters={f}
size={size}
stride={stride}
pad=0
padding={padding}
groups={groups}
activation={act}
batch_normalize={bn}
"""


def build(text, dtype, compat=False):
    return build_network(parse_cfg(text, "<fast>"), "<fast>", dtype=dtype, max_memory=None, compat=compat)


def randomize(net, rng):
    """Parameters and batch-norm statistics away from the defaults, so folding does real work."""
    for layer in net.layers:
        for name, param, _ in layer.parameters():
            param[:] = rng.uniform(0.5, 1.5, param.size) if name == "scales" else rng.normal(0, 0.5, param.size)
        if getattr(layer, "batch_normalize", False):
            layer.rolling_mean[:] = rng.normal(0, 0.5, layer.n)
            layer.rolling_variance[:] = rng.uniform(0.3, 2.0, layer.n)


def forward_both(net, x):
    """(fast output, plain output) of the same inference forward, copies."""
    net.fast = True
    fast = net.forward(x).copy()
    net.fast = False
    plain = net.forward(x).copy()
    net.fast = True
    return fast, plain


def assert_near(fast, plain, dtype, what=""):
    assert np.array_equal(np.isnan(fast), np.isnan(plain)), f"{what}: NaN positions differ"
    ok = ~np.isnan(plain)
    np.testing.assert_allclose(fast[ok], plain[ok], err_msg=what, **TOL[dtype])


def conv_net(dtype, batch=1, c=3, h=7, w=9, f=5, size=3, stride=1, padding=1, groups=1, act="leaky", bn=1,
             fold=True):
    net = build(NET.format(batch=batch, c=c, h=h, w=w) + CONV.format(
        f=f, size=size, stride=stride, padding=padding, groups=groups, act=act, bn=bn), dtype)
    net.fold_batchnorm = fold
    return net


SHAPES = [
    dict(),                                              # 3x3 stride 1 pad 1, odd sizes
    dict(batch=2),
    dict(size=1, padding=0),                             # direct 1x1: no im2col
    dict(size=1, padding=0, stride=2),                   # 1x1 with stride: im2col
    dict(size=1, padding=1),                             # 1x1 with padding: im2col
    dict(stride=2),                                      # stride 2, odd sizes
    dict(stride=2, padding=0, h=8, w=6),                 # stride 2, even, no padding
    dict(size=5, padding=2, h=5, w=4),                   # kernel as large as the image
    dict(size=2, padding=2, stride=3, h=6, w=5),         # even kernel, padding > size/2, stride 3
    dict(c=4, f=6, groups=2),                            # grouped
    dict(c=4, f=4, groups=4, size=1, padding=0, batch=2),  # depthwise 1x1
    dict(c=4, f=4, groups=4, stride=2, batch=2),         # depthwise 3x3 stride 2
    dict(batch=1, c=1, h=1, w=1, f=1, size=1, padding=0),  # the smallest network
    dict(c=16, f=40, h=13, w=13),                        # gemm tiles and edges
]


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("bn,fold", [(0, False), (1, False), (1, True)], ids=["bias", "bn-fused", "bn-folded"])
@pytest.mark.parametrize("kw", SHAPES, ids=lambda kw: ",".join(f"{k}={v}" for k, v in kw.items()) or "3x3")
def test_conv_fast_equals_plain(kw, bn, fold, dtype):
    rng = np.random.default_rng(len(str(kw)) + bn)
    net = conv_net(dtype, bn=bn, fold=fold, **kw)
    randomize(net, rng)
    x = rng.normal(0, 1, (net.batch,) + tuple(net.input_shape)).astype(dtype)
    fast, plain = forward_both(net, x)
    assert_near(fast, plain, dtype, str(kw))
    again, _ = forward_both(net, x)                     # second fast forward: no fill, cached fold
    np.testing.assert_array_equal(again, fast)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("bn,fold", [(0, False), (1, False), (1, True)], ids=["bias", "bn-fused", "bn-folded"])
@pytest.mark.parametrize("act", sorted(ACTIVATIONS))
def test_fused_epilogue_every_activation(act, bn, fold, dtype):
    rng = np.random.default_rng(7)
    net = conv_net(dtype, batch=2, act=act, bn=bn, stride=2, fold=fold)
    randomize(net, rng)
    x = rng.normal(0, 2, (net.batch,) + tuple(net.input_shape)).astype(dtype)
    fast, plain = forward_both(net, x)
    assert_near(fast, plain, dtype, act)


@pytest.mark.parametrize("fold", [False, True])
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_nan_output_is_zeroed_before_the_next_gemm(dtype, fold):
    """gemm keeps NaN * 0 = NaN in C (beta = 0): a NaN left by one forward must not leak into the next."""
    rng = np.random.default_rng(3)
    net = conv_net(dtype, bn=1, fold=fold)
    randomize(net, rng)
    x = rng.normal(0, 1, (1,) + tuple(net.input_shape)).astype(dtype)
    bad = x.copy()
    bad[0, 1, 2, 3] = np.nan
    bad[0, 0, 0, 0] = np.inf
    fast, plain = forward_both(net, bad)
    assert np.isnan(fast).any()
    assert_near(fast, plain, dtype, "NaN input")
    net.fast = True
    out = net.forward(x).copy()                         # fast, right after a fast forward with NaN
    assert np.isfinite(out).all()
    net.fast = False
    assert_near(out, net.forward(x).copy(), dtype, "after NaN")


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_folded_weights_follow_parameter_changes(dtype, tmp_path):
    rng = np.random.default_rng(4)
    net = conv_net(dtype, bn=1)
    layer = net.layers[0]
    randomize(net, rng)
    x = rng.normal(0, 1, (1,) + tuple(net.input_shape)).astype(dtype)

    def check(what):
        fast, plain = forward_both(net, x)
        assert_near(fast, plain, dtype, what)

    check("first")
    assert layer._fold and layer._folded_version == layer.params_version   # it did fold
    for name in ("scales", "biases", "rolling_mean", "rolling_variance"):   # seen by the O(n) comparison
        getattr(layer, name)[1] += 0.25
        check(f"{name} edited in place")
    layer.weights[3] += 1.0                             # weights edited in place: must be announced
    layer.params_changed()
    check("weights edited + params_changed()")
    layer.update(UpdateArgs(batch=1, learning_rate=0.1, momentum=0.9, decay=0.0005))
    check("after update()")
    if dtype == np.float32:                             # .weights files are float32
        net.save_weights(tmp_path / "a.weights")
        net.layers[0].weights[:] = 0.0
        net.load_weights(tmp_path / "a.weights")
        check("after load_weights")
    net.forward(x, train=True)                          # rolling statistics move
    check("after a training forward")


@pytest.mark.parametrize("fold", [False, True])
@pytest.mark.parametrize("compat", [False, True])
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_backward_after_fast_forward_equals_plain(dtype, compat, fold):
    """A backward after an inference forward sees Darknet's buffers (x, x_norm, maxpool indexes)."""
    text = NET.format(batch=2, c=3, h=9, w=7) + CONV.format(
        f=4, size=3, stride=1, padding=1, groups=1, act="leaky", bn=1) + """
[maxpool]
size=2
stride=2
""" + CONV.format(f=3, size=1, stride=1, padding=0, groups=1, act="logistic", bn=1)
    results = []
    for fast in (True, False):
        rng = np.random.default_rng(5)
        net = build(text, dtype, compat=compat)
        randomize(net, rng)
        x = rng.normal(0, 1, (net.batch,) + tuple(net.input_shape)).astype(dtype)
        r = rng.normal(0, 1, net.layers[-1].outputs * net.batch).astype(dtype)
        net.fast, net.fold_batchnorm = fast, fold
        net.forward(x)
        dx = net.backward(r).copy()
        grads = [g.copy() for l in net.layers for _, _, g in l.parameters()]
        results.append((dx, grads))
        if fast:
            assert not net.layers[0]._fold             # differentiated layers stop folding
    (dx_f, g_f), (dx_p, g_p) = results
    np.testing.assert_allclose(dx_f, dx_p, **TOL[dtype])
    for a, b in zip(g_f, g_p):
        np.testing.assert_allclose(a, b, **TOL[dtype])


def test_unfolded_fused_path_after_backward_follows_weights():
    """After backward the layer stops folding: in-place weight edits are seen without params_changed()."""
    rng = np.random.default_rng(6)
    net = conv_net(np.float64, bn=1, fold=True)
    randomize(net, rng)
    x = rng.normal(0, 1, (1,) + tuple(net.input_shape))
    net.forward(x)
    net.backward(rng.normal(size=net.layers[0].outputs))
    net.layers[0].weights[0] += 0.5
    fast, plain = forward_both(net, x)
    assert_near(fast, plain, np.float64)


# ---------------------------------------------------------------- kernels: bitwise equal

IM2COL = [(3, 7, 9, 3, 1, 1), (2, 8, 6, 3, 2, 1), (2, 5, 5, 3, 3, 2), (4, 6, 7, 5, 1, 0), (1, 1, 1, 1, 1, 0),
          (3, 5, 6, 1, 2, 0), (2, 4, 4, 2, 1, 3), (2, 9, 4, 4, 3, 1), (5, 13, 13, 3, 1, 1)]


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("c,h,w,k,s,p", IM2COL)
def test_im2col_fast_equals_im2col(c, h, w, k, s, p, dtype):
    rng = np.random.default_rng(c * h * w + k)
    im = rng.normal(size=c * h * w).astype(dtype)
    oh, ow = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
    a = np.full(c * k * k * oh * ow, 7, dtype)
    b = a.copy()
    im2col.im2col(im, c, h, w, k, s, p, a)
    im2col.im2col_fast(im, c, h, w, k, s, p, 0, oh, b)
    np.testing.assert_array_equal(a, b)
    full = a.reshape(c * k * k, oh, ow)
    for oy0, oy1 in [(0, 1), (oh // 2, oh), (oh - 1, oh), (1, max(1, oh - 1))]:     # strips of output rows
        strip = np.full(c * k * k * (oy1 - oy0) * ow, 7, dtype)
        im2col.im2col_fast(im, c, h, w, k, s, p, oy0, oy1, strip)
        np.testing.assert_array_equal(strip.reshape(c * k * k, oy1 - oy0, ow), full[:, oy0:oy1])


POOLS = [(1, 3, 8, 8, 2, 2, 1), (2, 3, 7, 9, 2, 2, 1), (1, 4, 13, 13, 2, 1, 1), (2, 3, 7, 9, 3, 2, 2),
         (1, 3, 9, 8, 3, 1, 2), (1, 2, 5, 5, 4, 3, 0), (1, 2, 6, 7, 3, 2, 5), (1, 2, 1, 1, 1, 1, 0),
         (1, 2, 2, 3, 5, 1, 4)]


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("b,c,h,w,size,stride,pad", POOLS)
def test_maxpool_values_equal_maxpool(b, c, h, w, size, stride, pad, dtype):
    rng = np.random.default_rng(h * w + size)
    x = rng.normal(size=b * c * h * w).astype(dtype)
    x[::5] = np.nan                                     # NaN never wins (strict >)
    x[1::7] = 0.0
    x[2::7] = -0.0                                      # ties: the first in window order wins
    oh, ow = (h + pad - size) // stride + 1, (w + pad - size) // stride + 1
    y1 = np.zeros(b * c * oh * ow, dtype)
    y2 = np.full_like(y1, 3.0)
    idx = np.zeros(y1.size, np.int64)
    pool.maxpool_forward(x, y1, idx, b, c, h, w, oh, ow, size, stride, pad)
    pool.maxpool_forward_values(x, y2, b, c, h, w, oh, ow, size, stride, pad)
    np.testing.assert_array_equal(y1, y2)
    np.testing.assert_array_equal(np.signbit(y1), np.signbit(y2))


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("planes,h,w,stride,scale", [(3, 5, 7, 2, 1.0), (2, 4, 3, 3, 0.5), (1, 1, 1, 1, 2.0),
                                                     (4, 13, 13, 2, 1.0)])
def test_upsample_fast_equals_plain(planes, h, w, stride, scale, dtype):
    x = np.random.default_rng(0).normal(size=planes * h * w).astype(dtype)
    y1 = np.zeros(planes * h * stride * w * stride, dtype)
    y2 = y1 + 1
    shape.upsample_spread(x, y1, planes, h, w, h * stride, w * stride, stride, scale, False)
    shape.upsample_spread_fast(x, y2, planes, h, w, h * stride, w * stride, stride, scale)
    np.testing.assert_array_equal(y1, y2)


@pytest.mark.parametrize("batch,size,offset,stride", [(1, 5, 0, 5), (2, 40000, 7, 50000), (3, 3, 2, 9)])
def test_route_copy_fast_equals_plain(batch, size, offset, stride):
    src = np.random.default_rng(0).normal(size=batch * size).astype(np.float32)
    d1 = np.full(batch * stride, 9, np.float32)
    d2 = d1.copy()
    shape.route_copy(src, d1, batch, size, offset, stride)
    shape.route_copy_fast(src, d2, batch, size, offset, stride)
    np.testing.assert_array_equal(d1, d2)


# ---------------------------------------------------------------- a whole network

@pytest.mark.parametrize("fold", [False, True])
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_yolov3_tiny_fast_equals_plain(dtype, fold):
    from pathlib import Path
    text = (Path(__file__).resolve().parents[1] / "cfg" / "yolov3-tiny.cfg").read_text()
    text = text.replace("width=416", "width=96").replace("height=416", "height=64")
    net = build(text, dtype)
    net.fold_batchnorm = fold
    rng = np.random.default_rng(8)
    randomize(net, rng)
    for layer in net.layers:                            # keep activations O(1) through 13 convs
        if layer.type == "convolutional":
            layer.weights *= 1.0 / np.sqrt(layer.weights.size / layer.n)
    x = rng.random((1,) + tuple(net.input_shape)).astype(dtype)
    net.fast = True
    net.forward(x)
    fast_layers = [l.output.copy() for l in net.layers]
    net.fast = False
    net.forward(x)
    for layer, fast in zip(net.layers, fast_layers):
        scale = max(1.0, float(np.abs(layer.output).max()))
        np.testing.assert_allclose(fast, layer.output, rtol=TOL[dtype]["rtol"] * 10,
                                   atol=TOL[dtype]["atol"] * 10 * scale, err_msg=f"layer {layer.index}")


# ---------------------------------------------------------------- implicit im2col (conv_gemm)

@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("kw,implicit", [
    (dict(c=8, f=6, h=12, w=11), True),                  # k = 72 > DIRECT_B_MAX_K, 132 columns >= 6 filters
    (dict(c=8, f=6, h=12, w=11, stride=2, batch=2), True),
    (dict(c=16, f=4, groups=2, h=9, w=10), True),        # k = 72 per group
    (dict(c=8, f=200, h=6, w=6), False),                 # more filters than columns: im2col + gemm
    (dict(c=4, f=6, h=12, w=11), False),                 # k = 36: gemm reads the column matrix in place
], ids=["3x3", "stride2-batch2", "groups", "filters>columns", "small-k"])
def test_conv_packs_from_the_image_where_it_pays(kw, implicit, dtype, monkeypatch):
    """The fast conv packs gemm's B straight from the image (conv_gemm) when k > DIRECT_B_MAX_K and
    there are at least as many output columns as filters; the values equal the plain path's."""
    from darknet_py.layers import convolutional
    calls = []
    real = convolutional.conv_gemm
    monkeypatch.setattr(convolutional, "conv_gemm", lambda *a, **k: calls.append(1) or real(*a, **k))
    rng = np.random.default_rng(13)
    net = conv_net(dtype, fold=False, **kw)
    randomize(net, rng)
    x = rng.normal(0, 1, (net.batch,) + tuple(net.input_shape)).astype(dtype)
    net.workspace[:] = np.nan                           # conv_gemm must not read the workspace
    fast, plain = forward_both(net, x)
    assert bool(calls) == implicit
    assert_near(fast, plain, dtype, str(kw))


# ---------------------------------------------------------------- strips (large column matrices)

def test_conv_with_large_weights_runs_in_one_piece(monkeypatch):
    """Strips read the whole weight matrix again each: past STRIP_MAX_WEIGHT_BYTES a conv runs in one
    piece, with the same values."""
    from darknet_py.layers import convolutional
    monkeypatch.setattr(convolutional, "STRIP_BYTES", 700)
    rng = np.random.default_rng(12)
    net = conv_net(np.float32)
    randomize(net, rng)
    layer = net.layers[0]
    assert layer._strip_rows(net) > 0
    monkeypatch.setattr(convolutional, "STRIP_MAX_WEIGHT_BYTES", layer.weights.nbytes - 1)
    assert layer._strip_rows(net) == 0
    x = rng.normal(0, 1, (net.batch,) + tuple(net.input_shape)).astype(np.float32)
    fast, plain = forward_both(net, x)
    assert_near(fast, plain, np.float32, "one piece")


@pytest.mark.parametrize("strip", [1, 700], ids=["1 row", "a few rows"])
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("fold", [False, True])
@pytest.mark.parametrize("kw", [dict(), dict(batch=2, stride=2), dict(c=4, f=6, groups=2, h=11),
                                dict(size=1, padding=1), dict(size=2, padding=2, stride=3, h=6, w=5)],
                         ids=lambda kw: ",".join(f"{k}={v}" for k, v in kw.items()) or "3x3")
def test_conv_strips_equal_plain(kw, fold, dtype, strip, monkeypatch):
    """A conv whose column matrix exceeds STRIP_BYTES runs strip by strip of output rows."""
    from darknet_py.layers import convolutional
    monkeypatch.setattr(convolutional, "STRIP_BYTES", strip)
    rng = np.random.default_rng(11)
    net = conv_net(dtype, fold=fold, **kw)
    randomize(net, rng)
    assert net.layers[0]._strip_rows(net) > 0 or strip > 1   # 700 bytes may hold the whole product
    x = rng.normal(0, 1, (net.batch,) + tuple(net.input_shape)).astype(dtype)
    net.workspace[:] = np.nan                           # stale workspace must not leak in
    fast, plain = forward_both(net, x)
    assert_near(fast, plain, dtype, str(kw))
    bad = x.copy()
    bad.reshape(-1)[5] = np.nan
    fast, plain = forward_both(net, bad)
    assert_near(fast, plain, dtype, "NaN input")
    fast, plain = forward_both(net, x)                  # NaN gone again
    assert np.isfinite(fast).all()
    assert_near(fast, plain, dtype, "after NaN")
