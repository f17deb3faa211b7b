"""[reorg] flatten=1 and extra=N (Darknet's go.cfg): forwards against numpy, float64 gradient checks."""
import numpy as np
import pytest

from darknet_py import CfgError, build_network
from darknet_py.cfg import parse_cfg
from gradcheck import NET, build64, check_gradients

C, H, W = 3, 2, 4


def cfg(body, batch=2):
    return NET.format(batch=batch, c=C, h=H, w=W) + "\n" + body + "\n"


@pytest.mark.parametrize("reverse", [0, 1])
def test_flatten_transposes_each_item(reverse):
    net = build64(cfg(f"[reorg]\nflatten=1\nreverse={reverse}"))
    x = np.random.default_rng(0).normal(size=(2, C, H, W))
    y = net.forward(x).reshape(2, -1)
    if reverse:     # the input read as (h*w, c) positions, back to (c, h*w)
        expected = x.reshape(2, H * W, C).transpose(0, 2, 1).reshape(2, -1)
    else:
        expected = x.reshape(2, C, H * W).transpose(0, 2, 1).reshape(2, -1)
    np.testing.assert_array_equal(y, expected)
    assert net.layers[0].out_shape == (C, H, W)


def test_extra_appends_zeros_to_a_flat_output():
    net = build64(cfg("[reorg]\nextra=3\nstride=1"))
    x = np.random.default_rng(1).normal(size=(2, C, H, W))
    y = net.forward(x)
    assert y.shape == (2, C * H * W + 3)
    np.testing.assert_array_equal(y[:, :C * H * W], x.reshape(2, -1))
    assert not y[:, C * H * W:].any()


@pytest.mark.parametrize("body", ["[reorg]\nflatten=1", "[reorg]\nflatten=1\nreverse=1", "[reorg]\nextra=2"])
def test_gradients(body):
    check_gradients(cfg(body + "\n\n[connected]\noutput=3\nactivation=linear"))


@pytest.mark.parametrize("body", ["[reorg]\nflatten=1", "[reorg]\nextra=2"])
def test_backward_accumulates_and_compat_overwrites_like_darknet(body):
    net = build64(cfg(f"[l2norm]\n\n{body}"))
    x = np.random.default_rng(2).normal(size=(2, C, H, W))
    net.forward(x, train=True)
    prev, layer = net.layers
    dy = np.random.default_rng(3).normal(size=layer.delta.size)
    results = []
    for compat in (False, True):
        net.compat = compat
        layer.delta[:] = dy
        prev.delta[:] = 1.0
        net.input, net.delta = prev.output, prev.delta
        layer.backward(net)
        results.append(prev.delta.copy())
    np.testing.assert_allclose(results[0], results[1] + 1.0)


def test_flatten_with_extra_is_refused():
    with pytest.raises(CfgError, match="flatten and extra"):
        build_network(parse_cfg(cfg("[reorg]\nflatten=1\nextra=2"), "r.cfg"))
