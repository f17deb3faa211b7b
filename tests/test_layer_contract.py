"""One harness over EVERY registered layer type, so that a new layer cannot skip it.

For each type: it builds from a minimal cfg, its buffers match its shapes, its forward writes only its
own buffers, its backward only ADDS into net.delta (route and shortcut depend on it) and leaves its
input alone, and float32 in gives float32 out (float64 networks stay float64 for gradient checks).
A new type that needs options to build adds its minimal cfg lines to SPECS.
"""
import numpy as np
import pytest

from darknet_py import build_network, registered_layers
from darknet_py.cfg import parse_cfg

# type -> (extra cfg lines, input shape (c, h, w)) for types whose defaults alone do not build
SPECS = {
    "route": ("layers=-1", (4, 6, 6)),
    "shortcut": ("from=-1", (4, 6, 6)),
    "yolo": ("", (25, 4, 4)),          # num=1 anchor, 20 classes: 1*(4+1+20) channels
    "region": ("", (25, 4, 4)),        # num=1, coords=4, classes=20
    "Gaussian_yolo": ("", (29, 4, 4)),  # num=1 anchor, 20 classes: 1*(8+1+20) channels
    "reorg": ("stride=2", (8, 4, 4)),
    "crop": ("crop_height=4\ncrop_width=4", (3, 6, 6)),
    "sam": ("from=-1", (4, 6, 6)),               # prev * prev: the from-layer is also the input
    "scale_channels": ("from=-1", (4, 1, 1)),    # per-channel factors of a 1x1 map
    "detection": ("coords=4\nside=2\nclasses=1", (24, 1, 1)),   # 2x2 cells x ((1+4)*1 box + 1 class)
    "conv_lstm": ("pad=1", (4, 6, 6)),           # the state keeps its size: size=3 needs pad=1
}
TYPES = sorted(registered_layers())


def build(layer_type, dtype=np.float32):
    extra, (c, h, w) = SPECS.get(layer_type, ("", (4, 6, 6)))
    text = f"[net]\nbatch=2\nchannels={c}\nheight={h}\nwidth={w}\n\n[l2norm]\n\n[{layer_type}]\n{extra}\n"
    net = build_network(parse_cfg(text, f"<{layer_type}>"), dtype=dtype, max_memory=2**28)
    return net, net.layers[0], net.layers[1]


def arrays_of(obj):
    return {k: v for k, v in vars(obj).items() if isinstance(v, np.ndarray)}


def snapshot(net, layer):
    """Copies of everything the layer's forward must not write: other layers' arrays, the input,
    its own parameters (inference forward) and its own delta (no truth given)."""
    snap = {"net.input": net.input_buffer.copy()}
    for other in net.layers:
        if other is not layer:
            for k, v in arrays_of(other).items():
                if not np.shares_memory(v, layer.output):     # dropout may share its input buffer
                    snap[f"layer {other.index} {k}"] = (v, v.copy())
    for name, param, _ in layer.parameters():
        snap[f"own {name}"] = (param, param.copy())
    if layer.delta is not None and not np.shares_memory(layer.delta, net.layers[0].delta):
        snap["own delta"] = (layer.delta, layer.delta.copy())
    return snap


@pytest.mark.parametrize("layer_type", TYPES)
def test_builds_with_default_options_and_buffers_match_shapes(layer_type):
    net, prev, layer = build(layer_type)
    assert layer.type == layer_type
    assert layer.in_shape == prev.out_shape
    assert layer.output.size == net.batch * int(np.prod(layer.out_shape))
    assert layer.output.dtype == np.float32 and layer.output.flags.c_contiguous
    if layer.delta is not None:
        assert layer.delta.shape == layer.output.shape and layer.delta.dtype == np.float32
    for name, param, grad in layer.parameters():
        assert param.shape == grad.shape, name
    declared = {o.name for o in type(layer).OPTIONS}
    undocumented = layer.options_read - declared
    assert not undocumented, f"[{layer_type}] reads {sorted(undocumented)} without listing them in OPTIONS"


@pytest.mark.parametrize("layer_type", TYPES)
def test_forward_writes_only_its_own_buffers(layer_type):
    net, prev, layer = build(layer_type)
    x = np.random.default_rng(0).normal(size=(net.batch,) + net.input_shape).astype(np.float32)
    net.forward(x)                                    # warm: first call may set lazily-computed state
    snap = snapshot(net, layer)
    y = net.forward(x)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(net.input_buffer, snap.pop("net.input"))
    for what, (array, before) in snap.items():
        np.testing.assert_array_equal(array, before, err_msg=f"[{layer_type}] forward wrote {what}")


@pytest.mark.parametrize("layer_type", TYPES)
def test_backward_only_adds_into_net_delta(layer_type):
    net, prev, layer = build(layer_type)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(net.batch,) + net.input_shape).astype(np.float32)
    net.forward(x, train=True)
    if layer.delta is None:
        return                                        # no delta buffer (crop): backward is a no-op
    delta = rng.normal(size=layer.delta.size).astype(np.float32)
    prev_output = prev.output.copy()

    def contribution(start):
        layer.delta[:] = delta                        # backward may scale its own delta in place
        for _, _, grad in layer.parameters():
            grad[:] = 0
        prev.delta[:] = start
        net.input, net.delta = prev.output, prev.delta
        layer.backward(net)
        return prev.delta.astype(np.float64) - start

    alone = contribution(0.0)
    np.testing.assert_allclose(contribution(1.0), alone, rtol=1e-5, atol=1e-5,
                               err_msg=f"[{layer_type}] backward must add into net.delta, not overwrite it")
    np.testing.assert_array_equal(prev.output, prev_output, err_msg=f"[{layer_type}] backward changed its input")


@pytest.mark.parametrize("layer_type", TYPES)
def test_float64_network_stays_float64(layer_type):
    net, _, layer = build(layer_type, dtype=np.float64)
    x = np.random.default_rng(2).normal(size=(net.batch,) + net.input_shape)
    assert net.forward(x).dtype == np.float64
    assert all(p.dtype == np.float64 for _, p, _ in layer.parameters())
