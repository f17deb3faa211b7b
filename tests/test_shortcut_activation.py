"""[shortcut], [activation], [batchnorm]: gradient checks (alpha/beta, maps of different sizes, every
activation, standalone batch norm), Darknet's overwriting backward in compat mode, and cfg errors."""
import numpy as np
import pytest

from darknet_py.errors import CfgError
from darknet_py.kernels.activations import ACTIVATIONS
from gradcheck import NET, build64, check_gradients






def away_from_integers(shape, seed, scale=2.0):
    """Inputs at least 0.05 from every integer: all kinks of all 14 activations are integers."""
    x = np.random.default_rng(seed).normal(0.0, scale, shape)
    frac = x - np.floor(x)
    return np.floor(x) + np.clip(frac, 0.05, 0.95)


# -------------------------------------------------------------------- [activation]

@pytest.mark.parametrize("act", sorted(ACTIVATIONS))
def test_activation_layer_gradient(act):
    cfg = NET.format(batch=2, c=3, h=2, w=3) + f"[activation]\nactivation={act}\n"
    check_gradients(cfg, x=away_from_integers((2, 3, 2, 3), 0))


def test_activation_layer_on_flat_input_and_default_linear():
    net = build64("[net]\nbatch=1\ninputs=5\n[activation]\n")
    x = np.arange(5.0).reshape(1, 5)
    np.testing.assert_array_equal(net.forward(x), x)
    assert net.layers[0].out_shape == (5,)


def backward_with_prefilled_delta(net, index, fill):
    """Layer ``index``'s backward alone, with the delta it writes into prefilled; returns that delta."""
    layer = net.layers[index]
    below = net.layers[index - 1].delta if index else net.input_grad
    below[:] = fill
    net.input = net.layers[index - 1].output if index else net.input_buffer
    net.delta = below
    layer.backward(net)
    return below.copy()


@pytest.mark.parametrize("compat", [False, True])
def test_activation_layer_overwrites_only_in_compat(compat):
    cfg = NET.format(batch=1, c=2, h=2, w=2) + "[activation]\nactivation=tanh\n"
    net = build64(cfg, compat=compat)
    x = np.random.default_rng(0).normal(size=(1, 2, 2, 2))
    net.forward(x, train=True)
    net.layers[0].delta[:] = 1.0
    got = backward_with_prefilled_delta(net, 0, 5.0)
    grad = 1 - np.tanh(x.ravel()) ** 2
    np.testing.assert_allclose(got, grad if compat else grad + 5.0, rtol=1e-12)


# -------------------------------------------------------------------- [shortcut]

SAME = NET.format(batch=2, c=3, h=4, w=5) + """
[convolutional]
filters=4
size=3
pad=1
activation=linear

[convolutional]
filters=4
size=1
activation=linear

[shortcut]
from={frm}
activation={act}
alpha={alpha}
beta={beta}
"""

# from is bigger (4x6x6 into 3x3x3: strided, fewer channels in prev)
FROM_BIGGER = NET.format(batch=2, c=2, h=6, w=6) + """
[convolutional]
filters=4
size=3
pad=1
activation=linear

[convolutional]
filters=3
size=3
stride=2
pad=1
activation=linear

[shortcut]
from=0
alpha={alpha}
beta={beta}
"""

# from is smaller (4x3x3 into 5x6x6: sampled, prev has positions and channels 'from' never reaches)
FROM_SMALLER = NET.format(batch=2, c=2, h=6, w=6) + """
[convolutional]
filters=4
size=3
stride=2
pad=1
activation=linear

[deconvolutional]
filters=5
size=2
stride=2
activation=linear

[shortcut]
from=-2
alpha={alpha}
beta={beta}
"""


@pytest.mark.parametrize("frm,act,alpha,beta", [
    (-2, "linear", 1, 1), (0, "leaky", 0.7, 1.3), (-1, "tanh", 1, -0.5), (1, "logistic", 2, 0),
])
def test_shortcut_gradient_same_size(frm, act, alpha, beta):
    check_gradients(SAME.format(frm=frm, act=act, alpha=alpha, beta=beta))


@pytest.mark.parametrize("cfg", [FROM_BIGGER, FROM_SMALLER], ids=["from_bigger", "from_smaller"])
@pytest.mark.parametrize("alpha,beta", [(1, 1), (0.7, 1.3)])
def test_shortcut_gradient_different_sizes(cfg, alpha, beta):
    check_gradients(cfg.format(alpha=alpha, beta=beta))


def test_shortcut_forward_is_darknets_shortcut_cpu():
    """Sampled case written out: out = prev, and at (k<4, 2j, 2i): alpha*prev + beta*from[k, j, i]."""
    net = build64(FROM_SMALLER.format(alpha=0.7, beta=1.3))
    x = np.random.default_rng(0).normal(size=(2, 2, 6, 6))
    y = net.forward(x)
    frm = net.layers[0].output_array()
    prev = net.layers[1].output_array()
    expected = prev.copy()
    expected[:, :4, ::2, ::2] = 0.7 * prev[:, :4, ::2, ::2] + 1.3 * frm
    np.testing.assert_allclose(y, expected, rtol=1e-12)


def test_shortcut_compat_keeps_darknets_alpha_everywhere():
    """Darknet's backward gives prev alpha*d even where the forward did not scale prev by alpha."""
    cfg = FROM_SMALLER.format(alpha=0.5, beta=1.0)
    grads = {}
    for compat in (False, True):
        net = build64(cfg, compat=compat)
        net.forward(np.ones((2, 2, 6, 6)), train=True)
        net.layers[2].delta[:] = 1.0
        grads[compat] = backward_with_prefilled_delta(net, 2, 0.0).reshape(2, 5, 6, 6)
    np.testing.assert_array_equal(grads[True], 0.5)
    hit = np.zeros((2, 5, 6, 6), bool)
    hit[:, :4, ::2, ::2] = True
    np.testing.assert_array_equal(grads[False], np.where(hit, 0.5, 1.0))


@pytest.mark.parametrize("frm,match", [("3", "earlier layer"), ("-3", "earlier layer"), ("2", "earlier layer")])
def test_shortcut_from_out_of_range(frm, match):
    cfg = SAME.format(frm=frm, act="linear", alpha=1, beta=1)
    with pytest.raises(CfgError, match=match) as e:
        build64(cfg)
    assert "from=" in str(e.value)


def test_shortcut_needs_from():
    cfg = NET.format(batch=1, c=1, h=2, w=2) + "[activation]\n[shortcut]\n"
    with pytest.raises(CfgError, match="missing required option 'from'"):
        build64(cfg)


def test_shortcut_ratio_must_match_in_both_directions():
    cfg = NET.format(batch=1, c=1, h=4, w=8) + """
[convolutional]
filters=1
size=1
activation=linear
[convolutional]
filters=1
size=1
stride=2
activation=linear
[maxpool]
size=1
stride=1
[shortcut]
from=0
"""
    # 8x4 -> 4x2 keeps the ratio: builds
    build64(cfg)
    bad = NET.format(batch=1, c=1, h=4, w=8) + """
[convolutional]
filters=1
size=1
activation=linear
[convolutional]
filters=1
size=3
stride=1
activation=linear
[shortcut]
from=0
"""
    with pytest.raises(CfgError, match="same factor"):
        build64(bad)                    # 8x4 into 6x2: ratios 1 and 2


# -------------------------------------------------------------------- [batchnorm]

BN = NET.format(batch="{batch}", c=3, h=2, w=3) + """
[convolutional]
filters=3
size=1
activation=linear

[batchnorm]

[activation]
activation={act}
"""


@pytest.mark.parametrize("batch,act,train", [(2, "linear", True), (1, "tanh", True), (2, "leaky", False)])
def test_standalone_batchnorm_gradient(batch, act, train):
    check_gradients(BN.format(batch=batch, act=act), train=train)


def test_standalone_batchnorm_weights_and_compat():
    net = build64(BN.format(batch=2, act="linear"))
    layer = net.layers[1]
    assert [n for n, _, _ in layer.parameters()] == ["scales"]
    assert all(a is b for a, b in zip(layer.weight_arrays(),
                                      [layer.scales, layer.rolling_mean, layer.rolling_variance]))
    net.forward(np.ones((2, 3, 2, 3)), train=True)
    np.testing.assert_allclose(layer.rolling_mean, 0.99 * 0 + 0.01 * layer.mean)
    compat = build64(BN.format(batch=2, act="linear"), compat=True)
    compat.forward(np.random.default_rng(0).normal(size=(2, 3, 2, 3)), train=True)
    compat.layers[1].delta[:] = 1.0
    got = backward_with_prefilled_delta(compat, 1, 7.0)
    assert not np.any(got == 7.0 + compat.layers[1].delta)    # copied over, nothing of the 7 left
    np.testing.assert_array_equal(got, compat.layers[1].delta)
