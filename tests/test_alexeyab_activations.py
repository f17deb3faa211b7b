"""AlexeyAB's activations (swish, mish, hard_mish, relu6, gelu, normalize_channels*): float64 gradient
checks of the default mode (true gradients, also through [activation] and a batch-normalised conv), and
the fork's numbers under compat="alexeyab" where they are not a gradient (README: differences).
Golden comparisons with the fork are in test_golden_alexeyab.py."""
import numpy as np
import pytest

from darknet_py.errors import DarknetError
from darknet_py.kernels import activations as act
import gradcheck
from gradcheck import NET, build64, check_gradients

NEW = ("swish", "mish", "hard_mish", "relu6", "gelu", "normalize_channels", "normalize_channels_softmax",
       "normalize_channels_softmax_maxval")

ACTIVATION = NET + """
[activation]
activation={act}
"""

CONV_BN = NET + """
[convolutional]
filters=4
size=3
pad=1
batch_normalize={bn}
activation={act}
"""


@pytest.mark.parametrize("name", NEW)
def test_activation_layer_gradient(name):
    # input_scale 2: hard_mish's -2 and relu6's 6 are reached; a seed whose draws stay off the kinks
    check_gradients(ACTIVATION.format(batch=2, c=3, h=2, w=3, act=name), seed=1, input_scale=2.0)


@pytest.mark.parametrize("name", ["mish", "normalize_channels", "normalize_channels_softmax_maxval"])
def test_conv_bn_gradient(name):
    check_gradients(CONV_BN.format(batch=2, c=2, h=3, w=3, act=name, bn=1), seed=2)


def test_formulas_against_numpy():
    x = np.linspace(-25, 25, 1001)
    y = np.empty_like(x)
    expected = {
        "swish": x / (1 + np.exp(-x)),
        "mish": x * np.tanh(np.log1p(np.exp(x))),
        "hard_mish": np.where(x > 0, x, np.where(x > -2, x * x / 2 + x, 0.0)),
        "relu6": np.clip(x, 0, 6),
        "gelu": 0.5 * x * (1 + np.tanh(0.797885 * x + 0.035677 * x ** 3)),
    }
    for name, want in expected.items():
        act.activate_elementwise(x, y, x.size, act.ACTIVATIONS[name])
        np.testing.assert_allclose(y, want, rtol=1e-12, atol=1e-12, err_msg=name)


def test_normalize_channels_forward():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 5, 3))                  # (batch, channels, spatial)
    y = np.empty_like(x)
    act.activate_channels(x.ravel(), y.reshape(-1), 2, 5, 3, act.NORM_CHAN)
    pos = np.maximum(x, 0)
    np.testing.assert_allclose(y, pos / (1e-4 + pos.sum(axis=1, keepdims=True)), rtol=1e-12)
    for code, m in ((act.NORM_CHAN_SOFTMAX, 0.0), (act.NORM_CHAN_SOFTMAX_MAXVAL, x.max(axis=1, keepdims=True))):
        act.activate_channels(x.ravel(), y.reshape(-1), 2, 5, 3, code)
        e = np.exp(x - m)
        np.testing.assert_allclose(y, e / (1e-4 + e.sum(axis=1, keepdims=True)), rtol=1e-12)


@pytest.mark.parametrize("name", ["gelu", "normalize_channels", "normalize_channels_softmax"])
def test_fork_gradient_is_not_the_gradient(name):
    """compat="alexeyab" keeps the fork's formulas (gelu's at y; normalize_channels' delta*sum(y*delta)):
    a documented divergence, pinned by the golden data; here: they fail a gradient check."""
    cfg = CONV_BN.format(batch=2, c=2, h=3, w=3, act=name, bn=0)
    with pytest.raises(AssertionError, match="gradient check failed"):
        check_gradients(cfg, net=build64(cfg, compat="alexeyab"), seed=2)


def forward(cfg, compat, x):
    net = build64(cfg, compat=compat)
    gradcheck.randomize_parameters(net, np.random.default_rng(0))
    return net.forward(x, train=False).copy()


def test_fork_relu6_is_zero_on_its_cpu_and_relu6_by_default():
    cfg = CONV_BN.format(batch=1, c=2, h=3, w=3, act="relu6", bn=0)
    x = np.random.default_rng(1).normal(0, 3, (1, 2, 3, 3))
    assert np.all(forward(cfg, "alexeyab", x) == 0)
    y = forward(cfg, False, x)
    assert y.max() > 0 and y.max() <= 6 and y.min() >= 0
    np.testing.assert_array_equal(forward(cfg, "pjreddie", x), y)


@pytest.mark.parametrize("name", ["swish", "mish", "hard_mish", "relu6"])
def test_fork_activation_layer_gives_zero_for_names_its_activate_lacks(name):
    cfg = ACTIVATION.format(batch=1, c=2, h=2, w=2, act=name)
    x = np.random.default_rng(1).normal(size=(1, 2, 2, 2))
    assert np.all(forward(cfg, "alexeyab", x) == 0)
    assert np.any(forward(cfg, False, x) != 0)


def test_fork_activation_layer_normalize_channels_backward_is_an_error():
    net = build64(ACTIVATION.format(batch=1, c=2, h=2, w=2, act="normalize_channels"), compat="alexeyab")
    net.forward(np.ones((1, 2, 2, 2)), train=True)
    with pytest.raises(DarknetError, match="aborts"):
        net.backward(np.ones((1, 2, 2, 2)))


def test_revleaky_is_leaky():
    assert act.ACTIVATIONS["revleaky"] == act.LEAKY


@pytest.mark.parametrize("name", ["mish", "gelu"])
def test_backward_after_a_fast_inference_forward(name):
    """Inference takes the fused fast path (act_input not stored); the backward reruns the plain forward."""
    check_gradients(CONV_BN.format(batch=2, c=2, h=3, w=3, act=name, bn=1), seed=2, train=False)
