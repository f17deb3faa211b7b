"""[l2norm]: Darknet's forward (plus an epsilon), the true gradient by default, Darknet's pass-through in compat."""
import numpy as np
import pytest

import darknet_py
from gradcheck import build64, check_gradients
from golden import Case, assert_close, golden_root

CFG = """
[net]
batch={batch}
width={w}
height={h}
channels={c}

[l2norm]
"""


@pytest.mark.parametrize("batch,c,h,w", [(2, 5, 3, 4), (1, 1, 1, 1), (3, 7, 1, 5)])
def test_gradient_is_true_gradient(batch, c, h, w):
    errors = check_gradients(CFG.format(batch=batch, c=c, h=h, w=w))
    assert errors["input"] < 1e-6


def test_backward_accumulates_into_net_delta():
    net = build64(CFG.format(batch=2, c=3, h=2, w=2))
    x = np.random.default_rng(1).normal(size=(2, 3, 2, 2))
    dy = np.random.default_rng(2).normal(size=(2, 3, 2, 2))
    net.forward(x, train=True)
    once = net.backward(dy).copy()
    net.input_grad[:] = 1.0
    layer = net.layers[0]
    net.input, net.delta = net.input_buffer, net.input_grad
    layer.backward(net)
    np.testing.assert_allclose(net.input_grad, 1.0 + once.ravel())


def test_zero_vector_gives_zero_not_nan():
    case = Case(golden_root(), "l2norm_zero_vector")
    net = darknet_py.load_network(case.path("net.cfg"))
    x = case.load("input.npy")
    y = net.forward(x)
    golden = case.load("forward_infer.npz")["layer_000"]
    nan = np.isnan(golden)
    assert nan.any(), "the golden case should contain Darknet's NaNs"
    assert not np.isnan(y).any()
    np.testing.assert_array_equal(y[nan], 0.0)
    assert_close(y[~nan], golden[~nan], "l2norm forward away from the zero vectors")


def test_compat_reproduces_darknet_nan_and_passthrough():
    case = Case(golden_root(), "l2norm_zero_vector")
    net = darknet_py.load_network(case.path("net.cfg"), compat=True)
    y = net.forward(case.load("input.npy"), train=True)
    assert np.isnan(y).any()
    dy = case.load("delta_last.npy")
    np.testing.assert_array_equal(net.backward(dy), dy)


def test_output_rows_have_unit_norm():
    net = darknet_py.load_network(darknet_py.__path__[0] + "/../cfg/l2norm.cfg")
    x = np.random.default_rng(0).normal(size=(2, 8, 5, 5)).astype(np.float32)
    y = net.forward(x)
    assert y.dtype == np.float32
    np.testing.assert_allclose(np.sqrt((y.astype(np.float64) ** 2).sum(axis=1)), 1.0, rtol=1e-6)


def test_gradient_passthrough_option_is_darknets_backward_in_default_mode():
    net = build64(CFG.format(batch=2, c=3, h=2, w=2) + "gradient=passthrough\n")
    assert not net.compat
    x = np.random.default_rng(1).normal(size=(2, 3, 2, 2))
    dy = np.random.default_rng(2).normal(size=(2, 3, 2, 2))
    y = net.forward(x, train=True)
    np.testing.assert_allclose(np.sqrt((y ** 2).sum(axis=1)), 1.0, rtol=1e-12)   # forward unchanged
    net.input_grad[:] = 1.0
    net.input, net.delta = net.input_buffer, net.input_grad
    layer = net.layers[0]
    layer.delta[:] = dy.ravel()
    layer.backward(net)
    np.testing.assert_array_equal(net.input_grad, 1.0 + dy.ravel())    # net.delta += delta


def test_unknown_gradient_option_is_a_cfg_error():
    with pytest.raises(darknet_py.CfgError, match=r"gradient=exact is not one of: true, passthrough"):
        build64(CFG.format(batch=1, c=2, h=1, w=1) + "gradient=exact\n")
