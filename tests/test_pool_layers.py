"""[maxpool], [avgpool] and [lrn]: forwards against naive numpy twins, float64 gradient checks,
Darknet's quirks (first maximum wins ties; compat LRN's NaN and overwrite) and cfg errors."""
import numpy as np
import pytest

import darknet_py
from darknet_py import CfgError
from darknet_py.cfg import parse_cfg
from gradcheck import build64, check_gradients
from golden import Case, golden_root

NET = """
[net]
batch={b}
width={w}
height={h}
channels={c}

[{t}]
{o}
"""


def net_cfg(t, o="", b=2, c=3, h=5, w=7):
    return NET.format(b=b, c=c, h=h, w=w, t=t, o=o)


def naive_maxpool(x, size, stride, pad):
    b, c, h, w = x.shape
    oh, ow = (h + pad - size) // stride + 1, (w + pad - size) // stride + 1
    xp = np.full((b, c, h + size + pad, w + size + pad), float(-np.finfo(np.float32).max))
    off = pad // 2
    xp[:, :, off:off + h, off:off + w] = x           # window origin i*stride - pad//2 becomes i*stride
    y = np.empty((b, c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            y[:, :, i, j] = xp[:, :, i * stride:i * stride + size, j * stride:j * stride + size].max(axis=(2, 3))
    return y


MAXPOOL_CASES = [("size=2\nstride=2", 2, 2, 1), ("size=3\nstride=2", 3, 2, 2), ("size=2\nstride=1", 2, 1, 1),
                 ("size=3\nstride=1\npadding=0", 3, 1, 0), ("size=3\nstride=3\npadding=4", 3, 3, 4),
                 ("stride=2", 2, 2, 1)]


@pytest.mark.parametrize("opts,size,stride,pad", MAXPOOL_CASES)
def test_maxpool_forward_matches_naive(opts, size, stride, pad):
    net = build64(net_cfg("maxpool", opts))
    x = np.random.default_rng(3).normal(size=(2, 3, 5, 7))
    np.testing.assert_array_equal(net.forward(x), naive_maxpool(x, size, stride, pad))


@pytest.mark.parametrize("opts", [c[0] for c in MAXPOOL_CASES])
@pytest.mark.parametrize("b,c,h,w", [(2, 3, 5, 7), (1, 1, 3, 3)])
def test_maxpool_gradient(opts, b, c, h, w):
    check_gradients(net_cfg("maxpool", opts, b, c, h, w))


def test_maxpool_ties_go_to_first_maximum():
    net = build64(net_cfg("max", "size=2\nstride=2\npadding=0", b=1, c=1, h=2, w=2))
    net.forward(np.ones((1, 1, 2, 2)), train=True)
    g = net.backward(np.array([[[[5.0]]]]))
    np.testing.assert_array_equal(g.ravel(), [5.0, 0, 0, 0])


def test_avgpool_forward_and_gradient():
    net = build64(net_cfg("avg", b=2, c=3, h=5, w=7))
    assert net.layers[0].out_shape == (3, 1, 1)
    x = np.random.default_rng(0).normal(size=(2, 3, 5, 7))
    np.testing.assert_allclose(net.forward(x).reshape(2, 3), x.mean(axis=(2, 3)), rtol=1e-12)
    check_gradients(net_cfg("avgpool", b=1, c=3, h=5, w=7))


def test_maxpool_window_larger_than_input_is_an_error():
    with pytest.raises(CfgError, match="does not fit"):
        build64(net_cfg("maxpool", "size=9\npadding=0"))


def naive_lrn(x, size, alpha, beta, kappa):
    c = x.shape[1]
    sq = x ** 2
    norms = np.empty_like(x)
    for k in range(c):
        lo, hi = max(0, k - (size - 1) // 2), min(c, k + size // 2 + 1)
        norms[:, k] = kappa + alpha * sq[:, lo:hi].sum(axis=1)
    return x * norms ** -beta


LRN_CASES = [(1, 5), (2, 4), (3, 5), (5, 7), (5, 3), (4, 1)]


@pytest.mark.parametrize("size,c", LRN_CASES)
def test_lrn_forward_is_the_centred_window(size, c):
    net = build64(net_cfg("lrn", f"size={size}\nalpha=0.3\nbeta=0.75\nkappa=1.5", c=c, h=3, w=2))
    x = np.random.default_rng(1).normal(size=(2, c, 3, 2))
    np.testing.assert_allclose(net.forward(x), naive_lrn(x, size, 0.3, 0.75, 1.5), rtol=1e-12)


@pytest.mark.parametrize("size,c", LRN_CASES)
@pytest.mark.parametrize("batch", [1, 2])
def test_lrn_gradient(size, c, batch):
    check_gradients(net_cfg("normalization", f"size={size}\nalpha=0.3\nbeta=0.6\nkappa=1.2", batch, c, 3, 2))


def test_lrn_compat_gives_darknets_nan_default_does_not():
    """Darknet's running window subtracts x^2[size//2], never added: a large channel 2 drives the norms
    of channels >= 5 negative and powf(negative, -beta) = NaN. (The golden case normalization_lrn_nan
    has no NaN: its N(0, 4) input never goes that far; its norms just differ.)"""
    cfg = net_cfg("lrn", "size=5\nalpha=0.1\nbeta=0.75\nkappa=2", b=1, c=8, h=2, w=2)
    x = np.random.default_rng(0).normal(size=(1, 8, 2, 2)).astype(np.float32)
    x[:, 2] = 10.0
    compat = darknet_py.build_network(parse_cfg(cfg), compat=True).forward(x)
    assert np.isnan(compat[:, 5:]).all() and not np.isnan(compat[:, :5]).any()
    fixed = darknet_py.build_network(parse_cfg(cfg)).forward(x)
    np.testing.assert_allclose(fixed, naive_lrn(x.astype(np.float64), 5, 0.1, 0.75, 2.0), rtol=1e-5)


def test_lrn_default_forward_on_golden_input():
    case = Case(golden_root(), "normalization_lrn_nan")
    x = case.load("input.npy")
    y = darknet_py.load_network(case.path("net.cfg")).forward(x)
    np.testing.assert_allclose(y, naive_lrn(x.astype(np.float64), 5, 0.1, 0.75, 2.0), rtol=1e-5, atol=1e-6)


def test_lrn_compat_backward_overwrites():
    net = build64(net_cfg("lrn", "size=3", c=4), compat=True)
    x = np.random.default_rng(0).normal(size=(2, 4, 5, 7))
    dy = np.random.default_rng(1).normal(size=x.shape)
    net.forward(x, train=True)
    net.input_grad[:] = 7.0
    layer = net.layers[0]
    net.input, net.delta = net.input_buffer, net.input_grad
    np.copyto(layer.delta, dy.ravel())
    layer.backward(net)
    np.testing.assert_allclose(net.input_grad, dy.ravel() * layer.norms ** -0.75)
