"""[route], [upsample], [reorg], [dropout], [crop]: forwards against numpy, float64 gradient checks,
the accumulate rule of every layer's backward, compat's overwrites, and cfg errors."""
import numpy as np
import pytest

import darknet_py
from darknet_py import CfgError
from darknet_py.cfg import parse_cfg
from gradcheck import build64, check_gradients

HEAD = """
[net]
batch={b}
width={w}
height={h}
channels={c}
"""


def cfg(body, b=2, c=3, h=4, w=6):
    return HEAD.format(b=b, c=c, h=h, w=w) + body


# ---------------------------------------------------------------- route
ROUTE_TWO = """
[upsample]
stride=1
scale=2

[lrn]
size=3
alpha=0.5

[route]
layers=-1,-2

[maxpool]
size=2
stride=1
"""


@pytest.mark.parametrize("layers", ["-1,-2", "0", "-2", "1,0,1"])
def test_route_gradient(layers):
    """Layer 0 receives gradient both directly and through [lrn]: route must add, not overwrite."""
    check_gradients(cfg(ROUTE_TWO.replace("-1,-2", layers)))


def test_route_concatenates_in_listed_order():
    net = build64(cfg(ROUTE_TWO.replace("[maxpool]\nsize=2\nstride=1\n", "")))
    x = np.random.default_rng(0).normal(size=(2, 3, 4, 6))
    y = net.forward(x)
    assert net.layers[2].out_shape == (6, 4, 6)
    np.testing.assert_array_equal(y, np.concatenate([net.layers[1].output_array(), 2 * x], axis=1))


@pytest.mark.parametrize("layers,message", [("-3", "before layer 0"), ("2", "not before this layer"),
                                            ("3", "not before this layer"), ("0,1", "equal spatial sizes")])
def test_route_errors(layers, message):
    text = cfg(f"[maxpool]\nsize=2\nstride=2\n\n[upsample]\n\n[route]\nlayers={layers}\n")
    with pytest.raises(CfgError, match=message) as e:
        darknet_py.build_network(parse_cfg(text, "r.cfg"), "r.cfg")
    assert e.value.line == text.splitlines().index(f"layers={layers}") + 1


# ---------------------------------------------------------------- upsample
@pytest.mark.parametrize("opts,shape", [("stride=2", (3, 8, 12)), ("stride=3\nscale=0.5", (3, 12, 18)),
                                        ("stride=-2", (3, 2, 3)), ("stride=-3\nscale=2", (3, 1, 2))])
def test_upsample_gradient(opts, shape):
    net = build64(cfg(f"[upsample]\n{opts}\n"))
    assert net.layers[0].out_shape == shape
    check_gradients(cfg(f"[upsample]\n{opts}\n"))
    check_gradients(cfg(f"[upsample]\n{opts}\n", b=1, c=1, h=5, w=7))


def test_upsample_and_downsample_forward():
    x = np.random.default_rng(0).normal(size=(2, 3, 4, 6))
    up = build64(cfg("[upsample]\nstride=2\nscale=0.5\n")).forward(x)
    np.testing.assert_array_equal(up, 0.5 * x.repeat(2, axis=2).repeat(2, axis=3))
    down = build64(cfg("[upsample]\nstride=-2\n")).forward(x)
    np.testing.assert_allclose(down, x.reshape(2, 3, 2, 2, 3, 2).sum(axis=(3, 5)), rtol=1e-12)


def test_downsample_compat_backward_overwrites():
    net = build64(cfg("[upsample]\nstride=-2\n"), compat=True)
    x = np.random.default_rng(0).normal(size=(2, 3, 4, 6))
    net.forward(x, train=True)
    dy = np.random.default_rng(1).normal(size=(2, 3, 2, 3))
    layer = net.layers[0]
    np.copyto(layer.delta, dy.ravel())
    net.input_grad[:] = 9.0
    net.input, net.delta = net.input_buffer, net.input_grad
    layer.backward(net)
    np.testing.assert_array_equal(net.input_grad.reshape(x.shape), dy.repeat(2, axis=2).repeat(2, axis=3))


# ---------------------------------------------------------------- reorg
def darknet_reorg(x, s, reverse=False):
    """The golden README's formula, literally: a -> p over the input's (c, h, w); gather or scatter."""
    b, c, h, w = x.shape
    xf, out = x.ravel(), np.empty(x.size)
    oc = c // (s * s)
    for bb in range(b):
        for k in range(c):
            for j in range(h):
                for i in range(w):
                    a = i + w * (j + h * (k + c * bb))
                    c2, o = k % oc, k // oc
                    w2, h2 = i * s + o % s, j * s + o // s
                    p = w2 + w * s * (h2 + h * s * (c2 + oc * bb))
                    if reverse:
                        out[p] = xf[a]
                    else:
                        out[a] = xf[p]
    return out


def test_reorg_forward_is_darknets_mapping_both_ways():
    """Darknet's reverse reorg is the inverse permutation of a non-reverse one with the SAME input
    (c, h, w), so a reorg followed by a reverse reorg is not the identity (its input is reshaped)."""
    net = build64(cfg("[reorg]\nstride=2\n\n[reorg]\nstride=2\nreverse=1\n", c=8))
    x = np.random.default_rng(0).normal(size=(2, 8, 4, 6))
    net.forward(x)
    assert net.layers[0].out_shape == (32, 2, 3) and net.layers[1].out_shape == (8, 4, 6)
    np.testing.assert_array_equal(net.layers[0].output, darknet_reorg(x, 2))
    mid = net.layers[0].output_array()
    np.testing.assert_array_equal(net.layers[1].output, darknet_reorg(mid, 2, reverse=True))
    rev = build64(cfg("[reorg]\nstride=2\nreverse=1\n", c=8))
    rev.forward(x)
    np.testing.assert_array_equal(rev.layers[0].output, darknet_reorg(x, 2, reverse=True))
    np.testing.assert_array_equal(darknet_reorg(rev.layers[0].output.reshape(x.shape), 2), x.ravel())


@pytest.mark.parametrize("opts,c", [("stride=2", 8), ("stride=2\nreverse=1", 8), ("stride=3\nreverse=1", 9)])
def test_reorg_gradient(opts, c):
    check_gradients(cfg(f"[reorg]\n{opts}\n", c=c, h=2, w=4))   # small: a permutation's loss is linear and
    check_gradients(cfg(f"[reorg]\n{opts}\n", b=1, c=c, h=4, w=2))   # roundoff grows with its size


@pytest.mark.parametrize("opts,c,message", [("stride=2", 6, "divisible by stride"),
                                            ("stride=4", 16, "not divisible by stride=4"),
                                            ("flatten=1\nextra=2", 8, "flatten and extra")])
def test_reorg_errors(opts, c, message):
    with pytest.raises(CfgError, match=message):
        build64(cfg(f"[reorg]\n{opts}\n", c=c))


# ---------------------------------------------------------------- dropout
def test_dropout_inference_is_identity_and_training_scales():
    net = build64(cfg("[dropout]\nprobability=0.25\n", b=4, c=8, h=8, w=8))
    x = np.random.default_rng(0).normal(size=(4, 8, 8, 8))
    np.testing.assert_array_equal(net.forward(x), x)
    y = net.forward(x, train=True)
    kept = y != 0
    assert 0.65 < kept.mean() < 0.85
    np.testing.assert_allclose(y[kept], x[kept] / 0.75)


def test_dropout_mask_comes_from_net_rng():
    net = build64(cfg("[dropout]\n"))
    x = np.random.default_rng(0).normal(size=(2, 3, 4, 6))
    net.rng = np.random.default_rng(5)
    a = net.forward(x, train=True).copy()
    net.rng = np.random.default_rng(5)
    np.testing.assert_array_equal(net.forward(x, train=True), a)


@pytest.mark.parametrize("p,b", [(0.5, 2), (0.3, 1)])
def test_dropout_gradient_in_training(p, b):
    check_gradients(cfg(f"[upsample]\nstride=1\nscale=1.5\n\n[dropout]\nprobability={p}\n", b=b))


def test_dropout_probability_one_is_an_error():
    with pytest.raises(CfgError, match="must be < 1"):
        build64(cfg("[dropout]\nprobability=1\n"))


# ---------------------------------------------------------------- crop
def test_crop_inference_centre_and_adjust():
    x = np.random.default_rng(0).normal(size=(2, 3, 8, 8))
    y = build64(cfg("[crop]\ncrop_height=6\ncrop_width=4\n", h=8, w=8)).forward(x)
    np.testing.assert_array_equal(y, 2 * x[:, :, 1:7, 2:6] - 1)
    y = build64(cfg("[crop]\ncrop_height=5\ncrop_width=5\nnoadjust=1\n", h=8, w=8)).forward(x)
    np.testing.assert_array_equal(y, x[:, :, 1:6, 1:6])


def test_crop_training_picks_a_window_and_has_no_delta():
    net = build64(cfg("[crop]\ncrop_height=6\ncrop_width=6\nflip=1\nnoadjust=1\n", h=8, w=8))
    assert net.layers[0].delta is None
    x = np.random.default_rng(0).normal(size=(2, 3, 8, 8))
    windows = {x[:, :, i:i + 6, j:j + 6].tobytes() for i in range(3) for j in range(3)}
    windows |= {x[:, :, i:i + 6, j:j + 6][..., ::-1].copy().tobytes() for i in range(3) for j in range(3)}
    for _ in range(5):
        assert net.forward(x, train=True).tobytes() in windows
    net.input, net.delta = net.input_buffer, net.input_grad
    net.layers[0].backward(net)                       # a no-op, not an error
    with pytest.raises(darknet_py.DarknetError, match="no delta"):
        net.backward(np.ones((2, 3, 6, 6)))


def test_crop_larger_than_input_is_an_error():
    with pytest.raises(CfgError, match="crop_width"):
        build64(cfg("[crop]\ncrop_height=2\ncrop_width=9\n"))


# ---------------------------------------------------------------- the accumulate rule, every type
ACCUMULATING = {
    "maxpool": "[maxpool]\nsize=2\nstride=2\n", "avgpool": "[avgpool]\n", "upsample": "[upsample]\nstride=2\n",
    "downsample": "[upsample]\nstride=-2\n", "reorg": "[reorg]\nstride=2\n", "lrn": "[lrn]\nsize=3\n",
    "dropout": "[dropout]\n", "softmax": "[softmax]\ngroups=2\n", "logistic": "[logistic]\n",
    "cost": "[cost]\n", "yolo": "[yolo]\nclasses=3\nmask=0\nnum=1\n",
    "region": "[region]\nclasses=3\ncoords=4\nnum=1\nsoftmax=1\n",
}


@pytest.mark.parametrize("name", sorted(ACCUMULATING))
def test_backward_adds_into_net_delta(name):
    net = build64(cfg(ACCUMULATING[name], c=8, h=4, w=4))
    x = np.random.default_rng(0).normal(size=(2, 8, 4, 4))
    net.forward(x, train=True)
    dy = np.random.default_rng(1).normal(size=net.layers[-1].delta.size)
    once = net.backward(dy).ravel().copy()
    assert np.abs(once).sum() > 0
    layer = net.layers[0]
    np.copyto(layer.delta, dy)
    net.input_grad[:] = 1.0
    net.input, net.delta = net.input_buffer, net.input_grad
    layer.backward(net)
    np.testing.assert_allclose(net.input_grad, 1.0 + once, rtol=1e-12)
    net.delta = None                                  # layer 0 of a real training run
    layer.backward(net)
