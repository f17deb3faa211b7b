"""AlexeyAB's [shortcut]: several 'from' layers, per_feature/per_channel weights, relu/softmax
normalisation. Forward against numpy, float64 gradient checks (through the normalisation) in the
default mode, the fork's normalised-weight gradient in compat, weights in .weights, cfg errors."""
import numpy as np
import pytest

import darknet_py
from darknet_py import CfgError
from darknet_py.cfg import parse_cfg
from gradcheck import NET, build64, check_gradients

# prev = layer 3 (3 channels); sources: layer 2 (3 ch, a copy of layer 0), layer 1 (2 ch: adds into the
# first 2 channels only), layer 0 (3 ch, also reaching the shortcut through layers 2 and 3)
BODY = """
[upsample]
stride=1
scale=2

[convolutional]
filters=2
size=1
activation=linear

[route]
layers=-2

[upsample]
stride=1
scale=0.5

[shortcut]
from=-2,-3,-4
"""


def cfg(extra="", b=2):
    return NET.format(batch=b, c=3, h=3, w=4) + BODY + extra


def numpy_forward(net, x):
    """out[b, i] = sum_j wn_j(i) * s_j[b, i] over the sources that reach i (golden README 5.5)."""
    net.forward(x)
    layer = net.layers[4]
    sources = [net.layers[3]] + [net.layers[i] for i in layer.sources]
    wn = layer.norm_weights.reshape(len(sources), layer.cols)
    out = np.zeros((net.batch, layer.outputs))
    for j, s in enumerate(sources):
        n = min(s.outputs, layer.outputs)
        out[:, :n] += wn[j, np.arange(n) // layer.step] * s.output.reshape(net.batch, -1)[:, :n]
    return out


def normalised(w, norm):
    if norm == "relu":
        r = np.maximum(w, 0)
        return r / (1e-4 + r.sum(axis=0))
    if norm == "softmax":
        e = np.exp(w - w.max(axis=0))
        return e / (1e-4 + e.sum(axis=0))
    return w


@pytest.mark.parametrize("wtype", ["per_feature", "per_channel"])
@pytest.mark.parametrize("norm", ["none", "relu", "softmax"])
def test_weighted_shortcut_forward_and_gradient(wtype, norm):
    extra = f"weights_type={wtype}\nweights_normalization={norm}\n"
    net = build64(cfg(extra))
    layer = net.layers[4]
    layer.weights[:] = np.random.default_rng(1).normal(size=layer.weights.size)
    x = np.random.default_rng(0).normal(size=(2, 3, 3, 4))
    want = numpy_forward(net, x)
    np.testing.assert_allclose(layer.norm_weights.reshape(4, -1),
                               normalised(layer.weights.reshape(4, -1), norm), rtol=1e-12)
    np.testing.assert_allclose(layer.output.reshape(2, -1), want, rtol=1e-12)
    check_gradients(cfg(extra))


@pytest.mark.parametrize("activation", ["linear", "logistic"])
def test_multi_from_shortcut_gradient(activation):
    net = build64(cfg(f"activation={activation}\n"))
    x = np.random.default_rng(0).normal(size=(2, 3, 3, 4))
    if activation == "linear":
        np.testing.assert_allclose(net.forward(x).reshape(2, -1), numpy_forward(net, x), rtol=1e-12)
    assert net.layers[4].parameters() == []
    check_gradients(cfg(f"activation={activation}\n"))


@pytest.mark.parametrize("norm", ["relu", "softmax"])
def test_compat_weight_gradient_is_the_normalised_weights_gradient(norm):
    """The fork's weight_updates[j] = sum d * s_j: the gradient with respect to the NORMALISED weight."""
    text = cfg(f"weights_type=per_channel\nweights_normalization={norm}\n")
    net = build64(text, compat="alexeyab")
    layer = net.layers[4]
    layer.weights[:] = np.random.default_rng(1).normal(size=layer.weights.size)
    net.forward(np.random.default_rng(0).normal(size=(2, 3, 3, 4)), train=True)
    d = np.random.default_rng(2).normal(size=(2, 3, 3, 4))
    net.backward(d)
    sources = [net.layers[3]] + [net.layers[i] for i in layer.sources]
    want = np.zeros((4, 3))
    for j, s in enumerate(sources):
        c = s.out_shape[0]
        want[j, :c] = (d[:, :c] * s.output_array()).sum(axis=(0, 2, 3))
    np.testing.assert_allclose(layer.weight_updates.reshape(4, 3), want, rtol=1e-12)


def test_weights_are_saved_prev_first(tmp_path):
    text = cfg("weights_type=per_channel\nweights_normalization=softmax\n")
    net = darknet_py.build_network(parse_cfg(text, "s.cfg"), "s.cfg")
    layer = net.layers[4]
    assert layer.weights.size == 4 * 3 and np.all(layer.weights == 1)     # the fork starts at 1
    layer.weights[:] = np.arange(12)
    net.save_weights(tmp_path / "s.weights")
    again = darknet_py.build_network(parse_cfg(text, "s.cfg"), "s.cfg")
    again.load_weights(tmp_path / "s.weights")
    np.testing.assert_array_equal(again.layers[4].weights, np.arange(12))


@pytest.mark.parametrize("extra,match,key", [
    ("weights_type=per_pixel\n", "not one of", "weights_type=per_pixel"),
    ("weights_normalization=tanh\n", "not one of", "weights_normalization=tanh"),
    ("alpha=0.5\n", "single unweighted 'from' only", "alpha=0.5")])
def test_shortcut_errors(extra, match, key):
    text = cfg(extra)
    with pytest.raises(CfgError, match=match) as e:
        darknet_py.build_network(parse_cfg(text, "s.cfg"), "s.cfg")
    assert e.value.line == text.splitlines().index(key) + 1


def test_several_from_layers_need_the_same_width_and_height():
    text = NET.format(batch=1, c=3, h=4, w=4) + "[maxpool]\nsize=2\nstride=2\n\n[upsample]\nstride=-2\n\n" \
        "[upsample]\nstride=2\n\n[shortcut]\nfrom=-2,-3\n"
    with pytest.raises(CfgError, match="same width and height"):
        darknet_py.build_network(parse_cfg(text, "s.cfg"), "s.cfg")


def test_alpha_beta_are_ignored_with_a_warning_under_alexeyab_compat():
    text = NET.format(batch=1, c=3, h=2, w=2) + "[upsample]\nstride=1\n\n[shortcut]\nfrom=-1\nalpha=0.5\n"
    assert darknet_py.build_network(parse_cfg(text, "s.cfg"), "s.cfg").layers[1].alpha == 0.5
    with pytest.warns(darknet_py.CfgWarning, match="alpha=0.5 has no effect here"):
        net = darknet_py.build_network(parse_cfg(text, "s.cfg"), "s.cfg", compat="alexeyab")
    assert net.layers[1].alpha == 1.0
