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
                                 "bin_output=1", "stretch=1"])
def test_keys_that_change_numbers_are_refused_at_their_line(key):
    text = conv_cfg(extra=f"pad=1\n{key}")
    line = text.splitlines().index(key) + 1
    with pytest.raises(CfgError, match=key.split("=")[0]) as e:
        build_network(parse_cfg(text, "x.cfg"), "x.cfg")
    assert e.value.line == line and e.value.path == "x.cfg"


def test_refused_keys_set_to_zero_are_accepted():
    build_network(parse_cfg(conv_cfg(extra="pad=1\nantialiasing=0"), "x.cfg"), "x.cfg")
