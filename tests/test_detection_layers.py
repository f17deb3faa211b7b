"""[yolo] and [region]: inference forward against numpy, float64 gradient checks of the forward's
Jacobian (the training losses are not implemented and must say so), compat backwards, cfg errors."""
import numpy as np
import pytest

import darknet_py
from darknet_py import CfgError, DarknetError
from gradcheck import build64, check_gradients

HEAD = """
[net]
batch={b}
width={w}
height={h}
channels={c}

"""
YOLO = "[yolo]\nmask=1,2\nanchors=10,14,23,27,37,58\nclasses=3\nnum=3\n"
sig = lambda v: 1 / (1 + np.exp(-v))


def cfg(body, b=2, c=16, h=3, w=4):
    return HEAD.format(b=b, c=c, h=h, w=w) + body


def test_yolo_forward():
    net = build64(cfg(YOLO))
    x = np.random.default_rng(0).normal(size=(2, 16, 3, 4))
    y = net.forward(x).reshape(2, 2, 8, 3, 4)
    xr = x.reshape(2, 2, 8, 3, 4)
    np.testing.assert_allclose(y[:, :, [0, 1]], sig(xr[:, :, [0, 1]]), rtol=1e-12)
    np.testing.assert_array_equal(y[:, :, [2, 3]], xr[:, :, [2, 3]])
    np.testing.assert_allclose(y[:, :, 4:], sig(xr[:, :, 4:]), rtol=1e-12)
    assert net.layers[0].anchors == (10, 14, 23, 27, 37, 58) and net.truths == 90 * 5


@pytest.mark.parametrize("b,h,w", [(2, 3, 4), (1, 1, 3)])
def test_yolo_gradient(b, h, w):
    check_gradients(cfg(YOLO, b, 16, h, w))


def test_yolo_training_with_truth_raises():
    net = build64(cfg(YOLO))
    x = np.zeros((2, 16, 3, 4))
    net.forward(x, train=True)                      # no truth: fine (inject a delta to train)
    with pytest.raises(DarknetError, match="yolo training loss not implemented"):
        net.forward(x, train=True, truth=np.zeros((2, 450)))


def test_yolo_compat_backward_passes_through():
    net = build64(cfg(YOLO), compat=True)
    net.forward(np.random.default_rng(0).normal(size=(2, 16, 3, 4)), train=True)
    dy = np.random.default_rng(1).normal(size=(2, 16, 3, 4))
    np.testing.assert_array_equal(net.backward(dy), dy)


@pytest.mark.parametrize("body,message", [
    (YOLO.replace("mask=1,2", "mask=1,3"), "mask=3 is not one of"),
    (YOLO.replace("anchors=10,14,23,27,37,58", "anchors=10,14,23,27"), "needs 6"),
    (YOLO.replace("classes=3", "classes=4"), "need 18"),
    (YOLO + "map=coco.map\n", "not supported")])
def test_yolo_errors(body, message):
    with pytest.raises(CfgError, match=message):
        build64(cfg(body))


REGION = "[region]\nanchors=1,1,2,2\nclasses=3\ncoords=4\nnum=2\n{extra}\n"


def region_ref(x, num, coords, classes, softmax, background):
    b, _, h, w = x.shape
    xr = x.reshape(b, num, coords + 1 + classes, h, w)
    y = xr.copy()
    y[:, :, :2] = sig(xr[:, :, :2])
    if not background:
        y[:, :, coords] = sig(xr[:, :, coords])
    first = coords + (0 if background else 1)
    if softmax:
        z = xr[:, :, first:]
        e = np.exp(z - z.max(axis=2, keepdims=True))
        y[:, :, first:] = e / e.sum(axis=2, keepdims=True)
    else:
        y[:, :, coords + 1:] = sig(xr[:, :, coords + 1:])
    return y.reshape(x.shape)


REGION_CASES = [("softmax=1", True, False), ("", False, False), ("softmax=1\nbackground=1", True, True),
                ("background=1", False, True)]


@pytest.mark.parametrize("extra,softmax,background", REGION_CASES)
def test_region_forward(extra, softmax, background):
    net = build64(cfg(REGION.format(extra=extra)))
    x = np.random.default_rng(2).normal(size=(2, 16, 3, 4))
    np.testing.assert_allclose(net.forward(x), region_ref(x, 2, 4, 3, softmax, background), rtol=1e-12)


@pytest.mark.parametrize("extra", [c[0] for c in REGION_CASES])
def test_region_gradient(extra):
    check_gradients(cfg(REGION.format(extra=extra)))
    check_gradients(cfg(REGION.format(extra=extra + "\ncoords=5").replace("coords=4\n", ""), b=1, c=18, h=1, w=3))


def test_region_compat_backward_is_darknets_empty_one():
    net = build64(cfg(REGION.format(extra="softmax=1")), compat=True)
    net.forward(np.random.default_rng(0).normal(size=(2, 16, 3, 4)), train=True)
    np.testing.assert_array_equal(net.backward(np.ones((2, 16, 3, 4))), 0.0)


def test_region_training_with_truth_raises_and_channel_mismatch_is_an_error():
    net = build64(cfg(REGION.format(extra="")))
    with pytest.raises(DarknetError, match="region training loss not implemented"):
        net.forward(np.zeros((2, 16, 3, 4)), train=True, truth=np.zeros(net.truth_buffer.size))
    with pytest.raises(CfgError, match="need 16"):
        build64(cfg(REGION.format(extra=""), c=15))


def test_golden_region_cfg_builds_without_unused_keys(recwarn):
    from golden import Case, golden_root
    for name in ("region_softmax", "yolo"):
        darknet_py.load_network(Case(golden_root(), name).path("net.cfg"))
    assert not [w for w in recwarn if "unused" in str(w.message)]
