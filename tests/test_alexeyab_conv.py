"""AlexeyAB's [convolutional] options (stride_x/stride_y, dilation, groups with dilation): float64
gradient checks, im2col_ext/col2im_ext against the plain kernels, the fork's quirks under
compat="alexeyab" (every backward overwrites net.delta; batch norm) and refused keys."""
import numpy as np
import pytest

from darknet_py.cfg import parse_cfg
from darknet_py.errors import CfgError
from darknet_py.kernels import im2col
from darknet_py.network import build_network
from gradcheck import NET, build64, check_gradients
from test_conv_layers import backward_into_prefilled

CONV = NET + """
[convolutional]
filters={f}
size={size}
{extra}
activation={act}
batch_normalize={bn}
"""


def conv_cfg(batch=2, c=3, h=6, w=5, f=4, size=3, extra="pad=1", act="linear", bn=0):
    return CONV.format(**locals())


@pytest.mark.parametrize("kw", [
    dict(extra="pad=1\nstride_x=2\nstride_y=1"),
    dict(extra="pad=1\nstride_x=1\nstride_y=2", w=4),
    dict(extra="pad=1\ndilation=2", h=7, w=7),
    dict(extra="pad=0\ndilation=2", h=7, w=6),           # output size ignores the dilation (zeros read)
    dict(extra="pad=1\nstride=2\ndilation=2", bn=1, act="leaky", h=8, w=8),
    dict(extra="pad=1\ngroups=2\ndilation=2", c=4, f=6),
    dict(extra="pad=1\nstride=2\nstride_x=3", h=7, w=8),
    dict(extra="pad=1\ndilation=3", size=1),             # dilation is 1 for a 1x1 kernel
], ids=lambda kw: kw["extra"].replace("\n", ","))
def test_conv_option_gradients(kw):
    check_gradients(conv_cfg(**kw))


def test_output_shapes():
    net = build64(conv_cfg(extra="pad=1\nstride_x=2\nstride_y=1", h=6, w=6))
    assert net.layers[0].out_shape == (4, 6, 3)
    net = build64(conv_cfg(extra="pad=1\nstride=2\ndilation=2", h=8, w=8))
    assert net.layers[0].out_shape == (4, 4, 4)


@pytest.mark.parametrize("stride,pad", [(1, 1), (2, 1), (2, 0)])
def test_im2col_ext_equals_im2col_without_its_extensions(stride, pad):
    rng = np.random.default_rng(0)
    c, h, w, k = 2, 5, 6, 3
    im = rng.normal(size=c * h * w)
    oh, ow = (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1
    a, b = np.empty(c * k * k * oh * ow), np.empty(c * k * k * oh * ow)
    im2col.im2col(im, c, h, w, k, stride, pad, a)
    im2col.im2col_ext(im, c, h, w, k, stride, stride, pad, 1, oh, ow, b)
    np.testing.assert_array_equal(a, b)


def test_col2im_ext_is_the_adjoint_of_im2col_ext():
    rng = np.random.default_rng(0)
    c, h, w, k, sy, sx, pad, dil = 2, 7, 6, 3, 1, 2, 2, 2
    oh, ow = (h + 2 * 1 - k) // sy + 1, (w + 2 * 1 - k) // sx + 1
    im, col = rng.normal(size=c * h * w), rng.normal(size=c * k * k * oh * ow)
    cim, back = np.empty_like(col), np.zeros_like(im)
    im2col.im2col_ext(im, c, h, w, k, sy, sx, pad, dil, oh, ow, cim)
    im2col.col2im_ext(col, c, h, w, k, sy, sx, pad, dil, oh, ow, back)
    assert np.dot(cim, col) == pytest.approx(np.dot(im, back), rel=1e-12)


@pytest.mark.parametrize("size,pad", [(1, 0), (3, 1)])
def test_fork_backward_overwrites_whatever_the_kernel_size(size, pad):
    cfg = conv_cfg(size=size, extra=f"pad={pad}", h=5, w=4)
    rng = np.random.default_rng(0)
    x, dy = rng.normal(size=(2, 3, 5, 4)), rng.normal(size=(2, 4, 5, 4))
    plain = backward_into_prefilled(build64(cfg), x, dy, 0.0)
    np.testing.assert_allclose(backward_into_prefilled(build64(cfg, compat="alexeyab"), x, dy, 1.0), plain,
                               rtol=1e-12)


def test_fork_batchnorm_rolling_statistics_and_no_bias_gradient():
    cfg = conv_cfg(bn=1, extra="pad=1", h=4, w=4)
    net = build64(cfg, compat="alexeyab")
    layer = net.layers[0]
    x = np.random.default_rng(0).normal(size=(2, 3, 4, 4))
    net.forward(x, train=True)
    np.testing.assert_allclose(layer.rolling_mean, 0.1 * layer.mean, rtol=1e-12)
    np.testing.assert_allclose(layer.rolling_variance, 0.9 + 0.1 * layer.variance, rtol=1e-12)
    net.backward(np.ones((2, 4, 4, 4)))
    assert np.all(layer.bias_updates == 0) and np.any(layer.scale_updates != 0)


@pytest.mark.parametrize("key", ["antialiasing=1", "share_index=0", "deform=1", "assisted_excitation=1",
                                 "stretch=1"])
def test_keys_that_change_numbers_are_refused_at_their_line(key):
    text = conv_cfg(extra=f"pad=1\n{key}")
    line = text.splitlines().index(key) + 1
    with pytest.raises(CfgError, match=key.split("=")[0]) as e:
        build_network(parse_cfg(text, "x.cfg"), "x.cfg")
    assert e.value.line == line and e.value.path == "x.cfg"


def test_refused_keys_set_to_zero_are_accepted():
    build_network(parse_cfg(conv_cfg(extra="pad=1\nantialiasing=0"), "x.cfg"), "x.cfg")


# -------------------------------------------------------------------- binary / xnor

import gradcheck  # noqa: E402


def param_gradient_errors(cfg, seed=0):
    """Max relative error of every parameter gradient (not the input's) against finite differences."""
    rng = np.random.default_rng(seed)
    net = build64(cfg)
    gradcheck.randomize_parameters(net, rng)
    x = rng.normal(size=(net.batch,) + tuple(net.input_shape))
    r = rng.normal(size=net.layers[-1].outputs * net.batch)
    loss = gradcheck.loss_fn(net, x, r, True, seed)
    loss()
    net.backward(-r)
    errors = {}
    for layer in net.layers:
        for name, param, grad in layer.parameters():
            idx = np.arange(param.size)
            errors[name] = gradcheck.max_relative_error(-grad.copy()[idx], gradcheck.numeric_gradient(loss, param, idx))
    return errors


@pytest.mark.parametrize("extra,size", [("pad=1\nbinary=1", 3), ("pad=1\nbinary=1\nstride=2", 3),
                                        ("pad=0\nbinary=1", 1)])
def test_binary_weights_true_gradients(extra, size):
    """binary=1: the forward is a conv with sign(w)*mean|w| per filter; every gradient (input, weights
    through the binarisation, biases) is the true one."""
    check_gradients(conv_cfg(extra=extra, size=size))


@pytest.mark.parametrize("bn", [0, 1])
def test_xnor_parameter_gradients_are_true(bn):
    """xnor=1: weights and biases (and BN scales) get their true gradients; the input gradient is
    straight-through (the true one is 0 almost everywhere): not checked, documented."""
    errors = param_gradient_errors(conv_cfg(extra="pad=1\nxnor=1", bn=bn, act="leaky"))
    assert max(errors.values()) < 1e-6, errors


def test_xnor_forward_is_darknets():
    rng = np.random.default_rng(0)
    net = build64(conv_cfg(extra="pad=1\nxnor=1", h=4, w=4))
    plain = build64(conv_cfg(extra="pad=1", h=4, w=4))
    layer = net.layers[0]
    layer.weights[:] = rng.normal(size=layer.weights.size)
    w = layer.weights.reshape(4, -1)
    plain.layers[0].weights[:] = (np.where(w > 0, 1.0, -1.0) * np.abs(w).mean(axis=1, keepdims=True)).ravel()
    x = rng.normal(size=(2, 3, 4, 4))
    np.testing.assert_allclose(net.forward(x), plain.forward(np.where(x > 0, 1.0, -1.0)), rtol=1e-12)


@pytest.mark.parametrize("flavour", ["pjreddie", "alexeyab"])
def test_compat_xnor_backward_is_a_float_convs(flavour):
    """Darknet's CPU backward of an xnor conv: the weight gradient from the real input, the input
    gradient through the real weights (as a float conv with the same weights)."""
    rng = np.random.default_rng(0)
    xnor = build64(conv_cfg(extra="pad=1\nxnor=1", h=4, w=4), compat=flavour)
    plain = build64(conv_cfg(extra="pad=1", h=4, w=4), compat=flavour)
    plain.layers[0].weights[:] = xnor.layers[0].weights
    x, d = rng.normal(size=(2, 3, 4, 4)), rng.normal(size=(2, 4, 4, 4))
    for net in (xnor, plain):
        net.forward(x, train=True)
    np.testing.assert_allclose(xnor.backward(d), plain.backward(d), rtol=1e-12)
    np.testing.assert_allclose(xnor.layers[0].weight_updates, plain.layers[0].weight_updates, rtol=1e-12)


def test_compat_binary_alone_is_a_float_conv_as_on_darknets_cpu():
    x = np.random.default_rng(0).normal(size=(2, 3, 4, 4))
    a = build64(conv_cfg(extra="pad=1\nbinary=1", h=4, w=4), compat=True)
    b = build64(conv_cfg(extra="pad=1", h=4, w=4), compat=True)
    b.layers[0].weights[:] = a.layers[0].weights
    np.testing.assert_array_equal(a.forward(x), b.forward(x))
