"""[convolutional], [deconvolutional], [connected], [local]: float64 gradient checks of every option that
changes the maths, the two backward modes, parameter bookkeeping, Darknet's update and cfg errors.
(Golden comparisons with C Darknet are in test_golden.py.)"""
import numpy as np
import pytest

from darknet_py.errors import CfgError
from darknet_py.kernels.activations import ACTIVATIONS
from darknet_py.network import UpdateArgs
import gradcheck
from gradcheck import NET, build64, check_gradients




CONV = NET + """
[convolutional]
filters={f}
size={size}
stride={stride}
pad={pad}
padding={padding}
groups={groups}
activation={act}
batch_normalize={bn}
"""


def conv_cfg(batch=2, c=3, h=5, w=4, f=4, size=3, stride=1, pad=1, padding=0, groups=1, act="linear", bn=0):
    return CONV.format(**locals())


@pytest.mark.parametrize("kw", [
    dict(),                                              # 3x3, stride 1, pad 1
    dict(size=1, pad=0),                                 # direct 1x1: no im2col
    dict(size=1, pad=0, stride=2, h=5, w=7),             # 1x1 with stride: im2col path
    dict(size=3, stride=2, h=5, w=7),                    # stride 2, odd sizes
    dict(size=3, pad=0),                                 # no padding
    dict(size=2, pad=0, padding=2, stride=3, h=6, w=5),  # explicit padding, even kernel
    dict(c=4, f=6, groups=2),                            # grouped
    dict(c=4, f=4, groups=4, size=1, pad=0),             # depthwise 1x1
    dict(batch=1, c=1, h=1, w=1, f=1, size=1, pad=0),    # the smallest network
], ids=lambda kw: ",".join(f"{k}={v}" for k, v in kw.items()) or "3x3")
def test_conv_gradients(kw):
    check_gradients(conv_cfg(**kw))


@pytest.mark.parametrize("kw", [
    dict(act="leaky", bn=1),
    dict(act="linear", bn=1, batch=1, size=3, stride=2, h=5, w=7),   # batch 1: statistics over space
    dict(act="logistic", bn=1, c=4, f=6, groups=2),
])
def test_conv_batchnorm_gradients(kw):
    check_gradients(conv_cfg(**kw))


def test_conv_batchnorm_inference_gradient_uses_frozen_statistics():
    check_gradients(conv_cfg(act="tanh", bn=1), train=False)


ACT_CFG = dict(batch=1, c=2, h=3, w=5, f=3)
ACT_SEED = 3


def test_activation_seed_keeps_pre_activations_away_from_kinks():
    """check_gradients' random draws (same seed, same order) with a linear conv give the pre-activations
    the per-activation checks below see: none lies within 1e-3 of a kink (0, +-1, +-4, integers for stair)."""
    net = build64(conv_cfg(act="linear", **ACT_CFG))
    rng = np.random.default_rng(ACT_SEED)
    gradcheck.randomize_parameters(net, rng)
    x = rng.normal(0.0, 1.0, (net.batch,) + tuple(net.input_shape))
    pre = net.forward(x, train=True).ravel()
    assert np.min(np.abs(pre - np.round(pre))) > 1e-3


@pytest.mark.parametrize("act", sorted(ACTIVATIONS))
def test_conv_gradient_for_each_activation(act):
    check_gradients(conv_cfg(act=act, **ACT_CFG), seed=ACT_SEED)


def test_compat_batchnorm_backward_is_darknets_not_the_gradient():
    with pytest.raises(AssertionError, match="gradient check failed"):
        check_gradients(conv_cfg(act="linear", bn=1), net=build64(conv_cfg(act="linear", bn=1), compat=True))


# -------------------------------------------------------------------- backward modes

def backward_into_prefilled(net, x, dy, fill):
    """Run the forward, then layer 0's backward with net.delta prefilled with ``fill``; return net.delta."""
    net.forward(x, train=True)
    layer = net.layers[0]
    layer.delta[:] = dy.ravel()
    net.input_grad[:] = fill
    net.input, net.delta = net.input_buffer, net.input_grad
    layer.backward(net)
    return net.input_grad.copy()


@pytest.mark.parametrize("size,pad", [(1, 0), (3, 1)])
def test_default_backward_accumulates_compat_1x1_overwrites(size, pad):
    cfg = conv_cfg(size=size, pad=pad)
    rng = np.random.default_rng(0)
    x, dy = rng.normal(size=(2, 3, 5, 4)), rng.normal(size=(2, 4, 5, 4))
    plain = backward_into_prefilled(build64(cfg), x, dy, 0.0)
    np.testing.assert_allclose(backward_into_prefilled(build64(cfg), x, dy, 1.0), plain + 1.0, rtol=1e-12)
    compat = backward_into_prefilled(build64(cfg, compat=True), x, dy, 1.0)
    np.testing.assert_allclose(compat, plain if size == 1 else plain + 1.0, rtol=1e-12)


def test_layer_zero_without_net_delta_still_computes_weight_gradients():
    net = build64(conv_cfg())
    net.forward(np.ones((2, 3, 5, 4)), train=True)
    layer = net.layers[0]
    layer.delta[:] = 1.0
    net.input, net.delta = net.input_buffer, None
    layer.backward(net)
    assert np.abs(layer.weight_updates).sum() > 0


# -------------------------------------------------------------------- deconv, connected, local

DECONV = NET + """
[deconvolutional]
filters={f}
size={size}
stride={stride}
pad={pad}
activation={act}
batch_normalize={bn}
"""


@pytest.mark.parametrize("kw", [
    dict(size=3, stride=2, pad=1),
    dict(size=2, stride=2, pad=0),
    dict(size=3, stride=1, pad=0, batch=1),
    dict(size=3, stride=2, pad=1, bn=1, act="leaky"),
])
def test_deconv_gradients(kw):
    args = dict(batch=2, c=3, h=3, w=4, f=2, act="linear", bn=0)
    args.update(kw)
    check_gradients(DECONV.format(**args))


def test_deconv_shape():
    net = build64(DECONV.format(batch=1, c=3, h=4, w=4, f=4, size=3, stride=2, pad=1, act="linear", bn=0))
    assert net.layers[0].out_shape == (4, 7, 7)
    assert net.layers[0].weights.size == 3 * 4 * 3 * 3


CONNECTED = """
[net]
batch={batch}
{input}

[connected]
output={n}
activation={act}
batch_normalize={bn}
"""


@pytest.mark.parametrize("kw", [
    dict(batch=2, input="width=3\nheight=2\nchannels=3", n=5, act="tanh", bn=0),
    dict(batch=1, input="inputs=7", n=1, act="linear", bn=0),
    dict(batch=3, input="inputs=7", n=4, act="leaky", bn=1),
])
def test_connected_gradients(kw):
    check_gradients(CONNECTED.format(**kw))


def test_connected_shapes_and_weight_order():
    net = build64(CONNECTED.format(batch=3, input="inputs=7", n=4, act="leaky", bn=1))
    layer = net.layers[0]
    assert layer.out_shape == (4, 1, 1) and layer.weights.size == 28
    assert all(a is b for a, b in zip(layer.weight_arrays(), [layer.biases, layer.weights, layer.scales,
                                                               layer.rolling_mean, layer.rolling_variance]))


LOCAL = NET + """
[local]
filters={f}
size={size}
stride={stride}
pad={pad}
activation={act}
"""


@pytest.mark.parametrize("kw", [
    dict(size=3, stride=1, pad=1),
    dict(size=3, stride=2, pad=0, h=5, w=6),
    dict(size=1, stride=1, pad=0, batch=1),
])
def test_local_gradients(kw):
    args = dict(batch=2, c=2, h=4, w=3, f=3, act="logistic")
    args.update(kw)
    check_gradients(LOCAL.format(**args))


def test_local_even_size_with_pad_is_an_error():
    with pytest.raises(CfgError, match="even size"):
        build64(LOCAL.format(batch=1, c=1, h=4, w=4, f=1, size=2, stride=1, pad=1, act="linear"))


# -------------------------------------------------------------------- bookkeeping and update

def test_conv_parameters_and_weight_arrays():
    plain = build64(conv_cfg()).layers[0]
    assert [n for n, _, _ in plain.parameters()] == ["weights", "biases"]
    assert plain.weight_arrays()[0] is plain.biases and plain.weight_arrays()[1] is plain.weights
    bn = build64(conv_cfg(bn=1)).layers[0]
    assert [n for n, _, _ in bn.parameters()] == ["weights", "biases", "scales"]
    assert all(a is b for a, b in zip(bn.weight_arrays(), [bn.biases, bn.scales, bn.rolling_mean,
                                                           bn.rolling_variance, bn.weights]))
    assert plain.weights.size == 4 * 3 * 3 * 3
    assert plain.summary() == {"filters": 4, "size": "3x3/1"}
    assert plain.flops() == 2 * plain.weights.size * 5 * 4


def test_grouped_conv_weights_shape():
    layer = build64(conv_cfg(c=4, f=6, groups=2)).layers[0]
    assert layer.weights.size == 6 * 2 * 3 * 3


def test_sgd_update_is_darknets_arithmetic():
    layer = build64(conv_cfg(bn=1)).layers[0]
    rng = np.random.default_rng(0)
    for _, p, g in layer.parameters():
        p[:] = rng.normal(size=p.size)
        g[:] = rng.normal(size=g.size)
    before = {n: (p.copy(), g.copy()) for n, p, g in layer.parameters()}
    layer.learning_rate_scale = 0.5
    layer.update(UpdateArgs(batch=4, learning_rate=0.1, momentum=0.9, decay=0.01))
    lr = 0.05
    for name, p, g in layer.parameters():
        p0, g0 = before[name]
        if name == "weights":
            g0 = g0 - 0.01 * 4 * p0
        np.testing.assert_allclose(p, p0 + lr / 4 * g0, rtol=1e-12)
        np.testing.assert_allclose(g, 0.9 * g0, rtol=1e-12)


def test_adam_update_is_darknets_gpu_arithmetic():
    cfg = conv_cfg().replace("[net]", "[net]\nadam=1\nB1=0.8\nB2=0.99\neps=0.001")
    layer = build64(cfg).layers[0]
    rng = np.random.default_rng(0)
    w0 = layer.weights.copy()
    g = rng.normal(size=w0.size)
    layer.weight_updates[:] = g
    layer.update(UpdateArgs(batch=2, learning_rate=0.1, momentum=0.9, decay=0.01, adam=True,
                            B1=0.8, B2=0.99, eps=0.001, t=1))
    g = g - 0.01 * 2 * w0
    m, v = 0.2 * g, 0.01 * g * g
    expected = w0 + 0.1 * (m / 0.2) / (np.sqrt(v / 0.01) + 0.001)
    np.testing.assert_allclose(layer.weights, expected, rtol=1e-12)
    assert not layer.weight_updates.any()


@pytest.mark.parametrize("text,match", [
    ("flipped=1", "flipped=1 is not supported"),
    ("antialiasing=1", "antialiasing=1 .* is not supported"),
    ("groups=2", "groups=2 must divide"),
    ("activation=leakey", "valid names"),
    ("stride=0", "stride=0 must be >= 1"),
])
def test_conv_cfg_errors(text, match):
    cfg = NET.format(batch=1, c=3, h=4, w=4) + "\n[convolutional]\nfilters=4\nsize=3\n" + text + "\n"
    with pytest.raises(CfgError, match=match) as e:
        build64(cfg)
    assert e.value.line >= 8


def test_conv_aliases_and_float32_output():
    from darknet_py import build_network
    from darknet_py.cfg import parse_cfg
    net = build_network(parse_cfg(NET.format(batch=1, c=2, h=3, w=3) + "[conv]\nfilters=2\nsize=3\npad=1\n"
                                  "[conn]\noutput=3\n[deconv]\nfilters=1\nsize=1\n"))
    assert [l.type for l in net.layers] == ["convolutional", "connected", "deconvolutional"]
    y = net.forward(np.ones((1, 2, 3, 3), np.float32))
    assert y.dtype == np.float32 and np.isfinite(y).all()
