"""AlexeyAB's layer types and options (route groups, maxpool stride_x/y and depth, [local_avgpool],
[reorg3d], [sam], [scale_channels], [implicit]): forwards against numpy, float64 gradient checks of
the default mode, the fork's quirks in compat, and cfg errors that name the line."""
import warnings

import numpy as np
import pytest

import darknet_py
from darknet_py import CfgError, CfgWarning
from darknet_py.cfg import parse_cfg
from gradcheck import NET, build64, check_gradients


def cfg(body, b=2, c=4, h=4, w=6):
    return NET.format(batch=b, c=c, h=h, w=w) + body


def build(text, **kw):
    return darknet_py.build_network(parse_cfg(text, "ab.cfg"), "ab.cfg", **kw)


def rand(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape)


def assert_cfg_error(text, match, key_line):
    with pytest.raises(CfgError, match=match) as e:
        build(text)
    assert e.value.line == text.splitlines().index(key_line) + 1


# two differentiable layers feeding the layer under test, so that a delta written instead of added shows
TWO = "[upsample]\nstride=1\nscale=2\n\n[lrn]\nsize=3\nalpha=0.5\n\n"


# ---------------------------------------------------------------- [route] groups
@pytest.mark.parametrize("layers,group_id", [("-1", 1), ("-1,-2", 0), ("-1,-2", 1)])
def test_route_groups_forward_and_gradient(layers, group_id):
    body = TWO + f"[route]\nlayers={layers}\ngroups=2\ngroup_id={group_id}\n\n[maxpool]\nsize=2\nstride=1\n"
    net = build64(cfg(body))
    net.forward(rand((2, 4, 4, 6)))
    parts = [net.layers[1 if v == "-1" else 0].output_array() for v in layers.split(",")]
    want = np.concatenate([p[:, 2 * group_id:2 * group_id + 2] for p in parts], axis=1)
    np.testing.assert_array_equal(net.layers[2].output_array(), want)
    check_gradients(cfg(body))


def test_route_groups_ignored_with_a_warning_under_pjreddie_compat():
    text = cfg("[upsample]\nstride=1\n\n[route]\nlayers=-1\ngroups=2\ngroup_id=1\n")
    assert build(text).layers[1].out_shape == (2, 4, 6)
    with pytest.warns(CfgWarning, match="pjreddie's Darknet ignores it"):
        assert build(text, compat="pjreddie").layers[1].out_shape == (4, 4, 6)


@pytest.mark.parametrize("opts,match,key", [("groups=3", "not divisible by groups=3", "groups=3"),
                                            ("groups=2\ngroup_id=2", "must be <= 1", "group_id=2")])
def test_route_group_errors(opts, match, key):
    assert_cfg_error(cfg(f"[upsample]\nstride=1\n\n[route]\nlayers=-1\n{opts}\n"), match, key)


def test_route_stream_keys_warn_that_they_change_nothing():
    with pytest.warns(CfgWarning, match="stream=1 has no effect here"):
        build(cfg("[upsample]\nstride=1\n\n[route]\nlayers=-1\nstream=1\n"))


def test_route_onlyforward_passes_no_gradient():
    net = build64(cfg(TWO + "[route]\nlayers=-1,-2\nonlyforward=1\n"))
    net.forward(rand((2, 4, 4, 6)), train=True)
    np.testing.assert_array_equal(net.backward(rand((2, 8, 4, 6))), 0.0)


# ---------------------------------------------------------------- [maxpool] stride_x/y, maxpool_depth
def naive_maxpool_xy(x, size, sx, sy, pad):
    b, c, h, w = x.shape
    oh, ow = (h + pad - size) // sy + 1, (w + pad - size) // sx + 1
    xp = np.full((b, c, h + size + pad, w + size + pad), -np.inf)
    xp[:, :, pad // 2:pad // 2 + h, pad // 2:pad // 2 + w] = x
    return np.array([[[[xp[n, k, i * sy:i * sy + size, j * sx:j * sx + size].max() for j in range(ow)]
                       for i in range(oh)] for k in range(c)] for n in range(b)])


@pytest.mark.parametrize("opts,size,sx,sy", [("size=2\nstride_x=2\nstride_y=1", 2, 2, 1),
                                             ("size=3\nstride=1\nstride_y=2", 3, 1, 2)])
def test_maxpool_stride_xy(opts, size, sx, sy):
    body = f"[maxpool]\n{opts}\n"
    x = rand((2, 4, 4, 6))
    np.testing.assert_array_equal(build64(cfg(body)).forward(x), naive_maxpool_xy(x, size, sx, sy, size - 1))
    check_gradients(cfg(TWO + body))


@pytest.mark.parametrize("groups", [2, 3])
def test_maxpool_depth(groups):
    body = f"[maxpool]\nmaxpool_depth=1\nout_channels={groups}\nsize=2\nstride=2\n"
    x = rand((2, 6, 4, 6))
    want = np.stack([x[:, g::groups].max(axis=1) for g in range(groups)], axis=1)
    np.testing.assert_array_equal(build64(cfg(body, c=6)).forward(x), want)
    check_gradients(cfg(TWO + body, c=6))


@pytest.mark.parametrize("key", ["antialiasing", "maxpool_zero_nonmax"])
def test_maxpool_unsupported_keys_are_errors(key):
    assert_cfg_error(cfg(f"[maxpool]\nsize=2\n{key}=1\n"), "not supported", f"{key}=1")


# ---------------------------------------------------------------- [local_avgpool]
def naive_local_avgpool(x, size, sx, sy, pad):
    b, c, h, w = x.shape
    oh, ow = (h + pad - size) // sy + 1, (w + pad - size) // sx + 1
    y = np.empty((b, c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            top, left = i * sy - pad // 2, j * sx - pad // 2
            y[:, :, i, j] = x[:, :, max(top, 0):top + size, max(left, 0):left + size].mean(axis=(2, 3))
    return y


@pytest.mark.parametrize("opts,size,sx,sy", [("size=2\nstride=2", 2, 2, 2), ("size=3\nstride=1", 3, 1, 1),
                                             ("size=3\nstride_x=2\nstride_y=1", 3, 2, 1)])
def test_local_avgpool_forward_and_gradient(opts, size, sx, sy):
    body = f"[local_avgpool]\n{opts}\n"
    x = rand((2, 4, 4, 6))
    np.testing.assert_allclose(build64(cfg(body)).forward(x), naive_local_avgpool(x, size, sx, sy, size - 1),
                               rtol=1e-12)
    check_gradients(cfg(TWO + body))


def test_local_avgpool_compat_backward_divides_by_the_window_area():
    text = cfg("[local_avg]\nsize=3\nstride=1\n", b=1, c=1, h=3, w=3)
    grads = {}
    for compat in (False, "alexeyab"):
        net = build64(text, compat=compat)
        net.forward(rand((1, 1, 3, 3)), train=True)
        delta = np.zeros((1, 1, 3, 3))
        delta[0, 0, 0, 0] = 1.0                    # the corner window covers 4 cells
        grads[compat] = net.backward(delta)[0, 0]
    np.testing.assert_allclose(grads[False][:2, :2], 1 / 4)
    np.testing.assert_allclose(grads["alexeyab"][:2, :2], 1 / 9)


# ---------------------------------------------------------------- [reorg3d]
def test_reorg3d_is_space_to_depth():
    x = rand((2, 3, 4, 6))
    y = build64(cfg("[reorg3d]\nstride=2\n", c=3)).forward(x)
    b, k, j, i = np.meshgrid(*map(np.arange, (2, 12, 2, 3)), indexing="ij")
    np.testing.assert_array_equal(y, x[b, k % 3, j * 2 + (k // 3) // 2, i * 2 + (k // 3) % 2])


@pytest.mark.parametrize("opts,c", [("stride=2", 3), ("stride=2\nreverse=1", 16)])
def test_reorg3d_gradient(opts, c):
    check_gradients(cfg(TWO + f"[reorg3d]\n{opts}\n", c=c, h=4, w=2))


@pytest.mark.parametrize("opts,c,match", [("stride=2\nreverse=1", 12, "divisible by stride\\^4"),
                                          ("stride=4", 3, "not divisible by stride=4")])
def test_reorg3d_errors(opts, c, match):
    assert_cfg_error(cfg(f"[reorg3d]\n{opts}\n", c=c), match, "stride=" + opts.split("\n")[0][7:])


# ---------------------------------------------------------------- [sam], [scale_channels], [implicit]
SAM = "[upsample]\nstride=1\nscale=2\n\n[convolutional]\nfilters=4\nsize=1\nactivation=logistic\n\n"


@pytest.mark.parametrize("activation", ["linear", "tanh"])
def test_sam_forward_and_gradient(activation):
    body = SAM + f"[sam]\nfrom=-2\nactivation={activation}\n"
    net = build64(cfg(body))
    y = net.forward(rand((2, 4, 4, 6)))
    product = net.layers[0].output_array() * net.layers[1].output_array()
    np.testing.assert_allclose(y, product if activation == "linear" else np.tanh(product), rtol=1e-12)
    check_gradients(cfg(body))


def test_sam_compat_overwrites_the_from_layers_delta():
    """Layer 1 is [sam]'s from-layer and also feeds route 4 (which adds into its delta first) and route 2
    (sam's input, whose backward adds F * d_sam into it afterwards). Compat: sam's overwrite loses
    route 4's part; default: all three parts."""
    text = cfg("[upsample]\nstride=1\nscale=2\n\n[upsample]\nstride=1\nscale=3\n\n[route]\nlayers=-1\n\n"
               "[sam]\nfrom=-2\n\n[route]\nlayers=-1,-3\n")
    deltas = {}
    for compat in (False, "alexeyab"):
        net = build64(text, compat=compat)
        net.forward(rand((2, 4, 4, 6)), train=True)
        d = rand((2, 8, 4, 6), 1)
        net.backward(d)
        deltas[compat] = net.layers[1].delta_array().copy()
        sam_part = net.layers[2].output_array() * net.layers[3].delta_array()      # x * d_sam = F * d_sam
    np.testing.assert_allclose(deltas["alexeyab"], 2 * sam_part, rtol=1e-12)
    np.testing.assert_allclose(deltas[False], 2 * sam_part + d[:, 4:], rtol=1e-12)


def test_scale_channels_forward_and_gradient():
    body = TWO + "[avgpool]\n\n[scale_channels]\nfrom=-2\nactivation=logistic\n"
    net = build64(cfg(body))
    y = net.forward(rand((2, 4, 4, 6)))
    want = net.layers[2].output_array() * net.layers[1].output_array()
    np.testing.assert_allclose(y, 1 / (1 + np.exp(-want)), rtol=1e-12)
    check_gradients(cfg(body))


def test_scale_channels_scale_wh_forward_and_gradient():
    body = TWO + "[convolutional]\nfilters=1\nsize=1\nactivation=logistic\n\n[scale_channels]\nfrom=-2\nscale_wh=1\n"
    net = build64(cfg(body))
    y = net.forward(rand((2, 4, 4, 6)))
    np.testing.assert_allclose(y, net.layers[2].output_array() * net.layers[1].output_array(), rtol=1e-12)
    check_gradients(cfg(body))


@pytest.mark.parametrize("body,match,key", [
    ("[upsample]\nstride=1\n\n[scale_channels]\nfrom=-1\n", "needs a \\(4, 1, 1\\) input", "from=-1"),
    ("[avgpool]\n\n[scale_channels]\nfrom=-1\nscale_wh=1\n", "scale_wh=1 needs", "scale_wh=1"),
    ("[avgpool]\n\n[sam]\nfrom=-2\n", "differs from the input", "from=-2"),
    ("[upsample]\nstride=1\n\n[sam]\nfrom=-1\nactivation=mish\n", "not supported|not an activation",
     "activation=mish")])
def test_product_layer_errors(body, match, key):
    text = cfg("[upsample]\nstride=1\n\n" + body)
    assert_cfg_error(text, match, key)


IMPLICIT = "[upsample]\nstride=1\n\n[implicit]\nfilters=4\n\n[scale_channels]\nfrom=-2\n\n[implicit]\nfilters=3\natoms=2\n"


def test_implicit_output_is_its_weights_and_gradient():
    net = build64(cfg(IMPLICIT))
    y = net.forward(rand((2, 4, 4, 6)))
    assert y.shape == (2, 3, 2, 1)
    np.testing.assert_array_equal(y, np.broadcast_to(net.layers[3].weights.reshape(3, 2, 1), y.shape))
    check_gradients(cfg(IMPLICIT[:IMPLICIT.rindex("\n\n[implicit]")] + "\n"))   # implicit_mul: conv * implicit


def test_implicit_is_saved_and_frozen_in_alexeyab_compat(tmp_path):
    text = cfg("[upsample]\nstride=1\n\n[implicit]\nfilters=3\natoms=2\nmean=1\nstd=0.5\n")
    net = build(text)
    w = net.layers[1].weights
    assert w.size == 6 and np.all(np.abs(w - 1) <= 0.5)
    net.save_weights(tmp_path / "w.weights")
    assert (tmp_path / "w.weights").stat().st_size == 20 + 4 * 6
    for compat, changes in ((False, True), ("alexeyab", False)):
        net = build(text, compat=compat)
        before = net.layers[1].weights.copy()
        net.forward(rand((2, 4, 4, 6)).astype(np.float32), train=True)
        net.backward(np.ones((2, 3, 2, 1), np.float32))
        net.update()
        assert (not np.array_equal(before, net.layers[1].weights)) == changes
        c = net.config                             # the delta summed over 2 items, then decay and momentum
        want = c.momentum * (2.0 - c.decay * 2 * before) if changes else np.full(6, 2.0)
        np.testing.assert_allclose(net.layers[1].weight_updates, want, rtol=1e-5)
