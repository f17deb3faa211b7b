"""backward(input_grad=False): layer 0 skips the input gradient (Darknet's training sets net.delta = 0
there), and every parameter gradient is the one a full backward computes. Every registered type that
can be layer 0 is checked."""
import numpy as np
import pytest

from darknet_py import CfgError, build_network, registered_layers
from darknet_py.cfg import parse_cfg
from test_layer_contract import SPECS

VARIANTS = [(t, SPECS.get(t, ("", (4, 6, 6)))) for t in sorted(registered_layers())]
VARIANTS += [("convolutional", ("batch_normalize=1\nsize=3\npad=1\nactivation=leaky", (4, 6, 6))),
             ("convolutional", ("size=1\nfilters=3", (4, 6, 6)))]


def first_layer_net(layer_type, extra, shape):
    c, h, w = shape
    text = f"[net]\nbatch=2\nchannels={c}\nheight={h}\nwidth={w}\n\n[{layer_type}]\n{extra}\n"
    try:
        return build_network(parse_cfg(text, f"<{layer_type}>"), dtype=np.float64, max_memory=2**28)
    except CfgError as e:
        pytest.skip(f"[{layer_type}] cannot be layer 0: {e}")


def gradients(net, x, delta, input_grad):
    for _, _, grad in net.layers[0].parameters():
        grad[:] = 0.0
    reset = getattr(net.layers[0], "reset_state", None)
    if reset is not None:                   # [lstm]/[gru] carry their state from one forward to the next
        reset()
    net.forward(x, train=True)
    dx = net.backward(delta, input_grad=input_grad)
    return dx, [grad.copy() for _, _, grad in net.layers[0].parameters()]


@pytest.mark.parametrize("layer_type,spec", VARIANTS, ids=lambda v: v if isinstance(v, str) else v[0][:12])
def test_skipping_the_input_gradient_keeps_every_parameter_gradient(layer_type, spec):
    net = first_layer_net(layer_type, *spec)
    if net.layers[-1].delta is None:
        pytest.skip(f"[{layer_type}] has no delta")
    rng = np.random.default_rng(3)
    x = rng.normal(size=(net.batch,) + tuple(net.input_shape))
    delta = rng.normal(size=net.layers[-1].delta.size)
    net.input_grad[:] = 7.0                                  # must stay untouched when skipped
    skipped, grads = gradients(net, x, delta, input_grad=False)
    assert skipped is None and (net.input_grad == 7.0).all()
    full, full_grads = gradients(net, x, delta, input_grad=True)
    assert full.shape == (net.batch,) + tuple(net.input_shape)
    for a, b in zip(grads, full_grads):
        np.testing.assert_array_equal(a, b)
