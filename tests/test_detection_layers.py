"""[yolo] and [region]: inference forward against numpy, float64 gradient checks of the forward's
Jacobian, the training losses against float64 numpy twins (tests/naive_detection.py) and gradient
checks of the loss they declare, compat backwards, cfg errors."""
import numpy as np
import pytest

import darknet_py
from darknet_py import CfgError, DarknetError
import naive_detection as naive
from gradcheck import H, build64, check_gradients, max_relative_error

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


YOLO_TRAIN = YOLO.replace("anchors=10,14,23,27,37,58", "anchors=0.8,1,1.5,2,3,2.5") + \
    "ignore_thresh=0.3\ntruth_thresh=0.6\n"


def yolo_truth(net, x):
    """Boxes that take every path of the loss: two crafted from predictions (IOU 1 > truth_thresh),
    one whose best anchor (0) is not in mask=1,2, two in the same cell and slot (multi-label)."""
    y = net.forward(x).reshape(2, 2, 8, 3, 4)
    pred = lambda b, s, j, i: [(i + y[b, s, 0, j, i]) / 4, (j + y[b, s, 1, j, i]) / 3,
                               np.exp(y[b, s, 2, j, i]) * (1.5, 3)[s] / 4, np.exp(y[b, s, 3, j, i]) * (2, 2.5)[s] / 3]
    truth = np.zeros((2, 90, 5))
    truth[0, :4] = [pred(0, 1, 2, 1) + [2], pred(0, 0, 0, 3) + [1], [0.3, 0.5, 0.2, 0.33, 0],
                    [0.6, 0.2, 0.5, 0.6, 1]]
    truth[1, :3] = [[0.4, 0.4, 0.4, 0.7, 0], [0.45, 0.42, 0.42, 0.66, 2], pred(1, 1, 1, 1) + [1]]
    return truth.reshape(2, 450)


def yolo_loss_setup(compat=False):
    net = build64(cfg(YOLO_TRAIN), compat=compat)
    x = np.random.default_rng(3).normal(size=(2, 16, 3, 4))
    truth = yolo_truth(net, x)
    net.forward(x, train=True, truth=truth)
    y = net.layers[0].output.reshape(2, 2, 8, 3, 4)
    targets, count = naive.yolo_targets(y, truth, [0.8, 1, 1.5, 2, 3, 2.5], [1, 2], 3, 3, 4, 4, 3,
                                        0.3, 0.6)
    assert 0 < count < 7                         # one box at least belongs to another head
    return net, x, truth, targets, count


def declared_loss_gradient(net, x, targets):
    """Central differences of the twin's loss (its targets held fixed) w.r.t. the head's input x."""
    def loss():
        net.forward(x, train=False)
        return naive.loss(net.layers[0].output, x, targets)
    numeric = np.empty(x.size)
    flat = x.reshape(-1)
    for k in range(x.size):
        old = flat[k]
        flat[k] = old + H
        up = loss()
        flat[k] = old - H
        numeric[k] = (up - loss()) / (2 * H)
        flat[k] = old
    return numeric


@pytest.mark.parametrize("compat", [False, True])
def test_yolo_training_loss_matches_its_numpy_twin(compat):
    net, x, truth, targets, count = yolo_loss_setup(compat)
    layer = net.layers[0]
    np.testing.assert_allclose(layer.delta, naive.delta_from(layer.output, x, targets), atol=1e-12)
    assert layer.cost == pytest.approx(float(np.sum(layer.delta ** 2)), rel=1e-12)
    assert layer.stats["count"] == count
    assert layer.stats_line().startswith("Region 0 Avg IOU: ") and f"count: {count}" in layer.stats_line()
    np.testing.assert_array_equal(net.backward(), layer.delta.reshape(x.shape))   # w.r.t. the logits


def test_yolo_training_backward_is_the_gradient_of_its_declared_loss():
    net, x, truth, targets, _ = yolo_loss_setup()
    analytic = -net.backward().ravel().copy()

    assert max_relative_error(analytic, declared_loss_gradient(net, x, targets)) < 1e-6


def test_yolo_training_refuses_what_it_cannot_train():
    net = build64(cfg(YOLO_TRAIN))
    x = np.zeros((2, 16, 3, 4))
    net.forward(x, train=True)                      # no truth in default mode: no loss, delta 0
    assert not net.layers[0].delta.any() and net.layers[0].stats is None
    bad = np.zeros((2, 90, 5))
    bad[0, 0] = [1.0, 0.5, 0.2, 0.2, 0]            # centre on the border: Darknet writes out of bounds
    with pytest.raises(DarknetError, match="does not fit"):
        net.forward(x, train=True, truth=bad.reshape(2, 450))
    bad[0, 0] = [0.5, 0.5, 0.2, 0.2, 3]            # class 3 of 3
    with pytest.raises(DarknetError, match="class in 0..2"):
        net.forward(x, train=True, truth=bad.reshape(2, 450))
    bad[0, 0, 4] = 2
    for compat, text, message in (("alexeyab", cfg(YOLO_TRAIN), "AlexeyAB's yolo training loss"),
                                  (False, cfg(YOLO_TRAIN + "new_coords=1\n"), "new_coords=1")):
        net = build64(text, compat=compat)
        with pytest.raises(DarknetError, match=message):
            net.forward(x, train=True, truth=bad.reshape(2, 450))


def test_pjreddie_compat_without_truth_uses_darknets_zero_truth():
    net = build64(cfg(YOLO_TRAIN), compat=True)
    x = np.random.default_rng(4).normal(size=(2, 16, 3, 4))
    y = net.forward(x, train=True).reshape(2, 2, 8, 3, 4)
    d = net.layers[0].delta.reshape(y.shape)
    np.testing.assert_array_equal(d[:, :, 4], -y[:, :, 4])
    assert not d[:, :, :4].any() and not d[:, :, 5:].any() and net.layers[0].stats["count"] == 0


def test_yolo_compat_backward_passes_through():
    net = build64(cfg(YOLO), compat=True)
    net.forward(np.random.default_rng(0).normal(size=(2, 16, 3, 4)), train=True)
    dy = np.random.default_rng(1).normal(size=(2, 16, 3, 4))
    np.testing.assert_array_equal(net.backward(dy), dy)


@pytest.mark.parametrize("extra", ["scale_x_y=1.05", "scale_x_y=2.0\nnew_coords=1", "new_coords=1"])
def test_yolo_alexeyab_forward_and_gradient(extra):
    """scale_x_y maps tx, ty to s*t - (s-1)/2 after the logistic; new_coords=1 applies no logistic."""
    text = cfg(YOLO + extra + "\n")
    s = float(extra.split("scale_x_y=")[1].split()[0]) if "scale_x_y" in extra else 1.0
    new = "new_coords=1" in extra
    x = np.random.default_rng(5).normal(size=(2, 16, 3, 4))
    y = build64(text).forward(x).reshape(2, 2, 8, 3, 4)
    xr = x.reshape(y.shape)
    act = (lambda v: v) if new else sig
    np.testing.assert_allclose(y[:, :, :2], act(xr[:, :, :2]) * s - (s - 1) / 2, rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(y[:, :, 2:4], xr[:, :, 2:4])
    np.testing.assert_allclose(y[:, :, 4:], act(xr[:, :, 4:]), rtol=1e-12)
    check_gradients(text)


GAUSSIAN = "[Gaussian_yolo]\nmask=0,1\nanchors=10,14,23,27,37,58\nclasses=2\nnum=3\n"


@pytest.mark.parametrize("extra,s", [("", 1.0), ("scale_x_y=1.1\n", 1.1)])
def test_gaussian_yolo_forward_and_gradient(extra, s):
    text = cfg(GAUSSIAN + extra, c=22)
    x = np.random.default_rng(6).normal(size=(2, 22, 3, 4))
    net = build64(text)
    y = net.forward(x).reshape(2, 2, 11, 3, 4)
    xr = x.reshape(y.shape)
    expected = sig(xr)
    expected[:, :, [4, 6]] = xr[:, :, [4, 6]]                  # w, h means raw
    expected[:, :, [0, 2]] = expected[:, :, [0, 2]] * s - (s - 1) / 2
    np.testing.assert_allclose(y, expected, rtol=1e-12, atol=1e-15)
    check_gradients(text)
    with pytest.raises(DarknetError, match="Gaussian_yolo.*not implemented"):
        net.forward(x, train=True, truth=np.zeros((2, 200 * 6)))
    with pytest.raises(CfgError, match=r"^<gradcheck>:\d+ \[Gaussian_yolo\]: the input has 21 channels"):
        build64(cfg(GAUSSIAN + extra, c=21))


def test_gaussian_yolo_compat_passes_through_and_summary_loads(tmp_path):
    net = build64(cfg(GAUSSIAN, c=22), compat="alexeyab")
    net.forward(np.random.default_rng(0).normal(size=(2, 22, 3, 4)), train=True)
    dy = np.random.default_rng(1).normal(size=(2, 22, 3, 4))
    np.testing.assert_array_equal(net.backward(dy), dy)
    path = tmp_path / "g.cfg"
    path.write_text(cfg(GAUSSIAN, c=22))
    from darknet_py.summary import summary_rows
    rows, _ = summary_rows(darknet_py.load_network(path))
    assert [r["type"] for r in rows] == ["Gaussian_yolo"]


def test_fork_training_keys_warn_once_with_their_line(tmp_path):
    path = tmp_path / "fork.cfg"
    path.write_text(cfg(YOLO + "iou_normalizer=0.07\niou_loss=ciou\nnms_kind=greedynms\nbeta_nms=0.6\n"
                        "max_delta=5\nscale_x_y=1.05\n"))
    with pytest.warns(darknet_py.CfgWarning) as record:
        net = darknet_py.load_network(path)
    messages = [str(w.message) for w in record]
    assert len(messages) == 1 and "iou_normalizer, iou_loss, max_delta" in messages[0]
    assert "no effect" in messages[0] and record[0].filename == str(path) and record[0].lineno == 13
    assert net.layers[0].nms_kind == "greedynms" and net.layers[0].scale_x_y == 1.05


def test_anchor_counts_that_disagree_with_num_are_darknets_network_with_a_warning():
    """Shipped cfgs do it (cspx-p7-mish.cfg): missing anchors are 0.5, extra pairs serve a mask past num."""
    with pytest.warns(darknet_py.CfgWarning, match="anchors= has 4 values, num=3 needs 6"):
        net = build64(cfg(YOLO.replace("anchors=10,14,23,27,37,58", "anchors=10,14,23,27")))
    assert net.layers[0].anchors == (10, 14, 23, 27, 0.5, 0.5)
    text = YOLO.replace("anchors=10,14,23,27,37,58", "anchors=10,14,23,27,37,58,81,82").replace("mask=1,2", "mask=2,3")
    with pytest.warns(darknet_py.CfgWarning, match="mask=3 points past num=3"):
        net = build64(cfg(text))
    assert net.layers[0].total == 3 and net.layers[0].anchor_array[6] == 81


@pytest.mark.parametrize("body,message", [
    (YOLO.replace("mask=1,2", "mask=1,3"), "mask=3 is not one of"),
    (YOLO.replace("classes=3", "classes=4"), "need 18"),
    (YOLO + "map=coco.map\n", "not supported")])
def test_yolo_errors(body, message):
    with pytest.raises(CfgError, match=message) as error:
        build64(cfg(body))
    assert str(error.value).startswith("<gradcheck>:") and "[yolo]" in str(error.value)   # file:line [section]


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


REGION_LOSS = ("thresh=0.4\nrescore=1\nobject_scale=5\nnoobject_scale=0.8\nclass_scale=1.5\ncoord_scale=1.2\n"
               "bias_match={bias_match}\nsoftmax={softmax}\n")


def region_loss_setup(softmax, bias_match, seen, compat=False):
    text = cfg(REGION.format(extra=REGION_LOSS.format(softmax=softmax, bias_match=bias_match)))
    net = build64(text, compat=compat)
    x = np.random.default_rng(7).normal(size=(2, 16, 3, 4))
    y = net.forward(x).reshape(2, 2, 8, 3, 4)
    crafted = [(1 + y[0, 1, 0, 2, 1]) / 4, (2 + y[0, 1, 1, 2, 1]) / 3, np.exp(y[0, 1, 2, 2, 1]) * 2 / 4,
               np.exp(y[0, 1, 3, 2, 1]) * 2 / 3, 2]
    truth = np.zeros((2, 30, 5))
    truth[0, :3] = [crafted, [0.3, 0.5, 0.2, 0.3, 0], [0.6, 0.2, 0.7, 0.6, 1]]
    truth[1, :2] = [[0.4, 0.4, 0.4, 0.7, 0], [0.45, 0.42, 0.42, 0.66, 2]]
    truth = truth.reshape(2, 150)
    net.seen = seen
    net.forward(x, train=True, truth=truth)
    out = net.layers[0].output.reshape(y.shape)
    targets, count = naive.region_targets(out, truth, [1, 1, 2, 2], 4, 3, 3, 4, 0.4, 0.8, 5, 1.5, 1.2, True,
                                          bias_match, softmax, seen + 2 < 12800)
    return net, x, targets, count


@pytest.mark.parametrize("softmax,bias_match,seen", [(1, 1, 0), (0, 1, 12800), (1, 0, 12800), (0, 0, 0)])
def test_region_training_loss_matches_its_numpy_twin(softmax, bias_match, seen):
    for compat in (False, True):
        net, x, targets, count = region_loss_setup(softmax, bias_match, seen, compat)
        layer = net.layers[0]
        np.testing.assert_allclose(layer.delta, naive.delta_from(layer.output, x, targets), atol=1e-12)
        assert layer.cost == pytest.approx(float(np.sum(layer.delta ** 2)), rel=1e-12)
        assert layer.stats["count"] == count == 5 and "count: 5" in layer.stats_line()
    np.testing.assert_array_equal(net.backward(), 0.0)         # compat: Darknet's empty CPU backward


@pytest.mark.parametrize("softmax", [1, 0])
def test_region_training_backward_is_the_gradient_of_its_declared_loss(softmax):
    net, x, targets, _ = region_loss_setup(softmax, 1, 0)
    analytic = -net.backward().ravel().copy()

    assert max_relative_error(analytic, declared_loss_gradient(net, x, targets)) < 1e-6


@pytest.mark.parametrize("softmax", [1, 0])
def test_region_alexeyab_is_the_forks_flattened_layer(softmax):
    """The fork's CPU region: rows (cell*anchor, 4+1+classes), logistic on entry 4, softmax from 5."""
    net = build64(cfg(REGION.format(extra=f"softmax={softmax}")), compat="alexeyab")
    x = np.random.default_rng(8).normal(size=(2, 16, 3, 4))
    y = net.forward(x).reshape(2, 12 * 2, 8)
    rows = x.reshape(2, 16, 12).transpose(0, 2, 1).reshape(2, 24, 8)
    expected = rows.copy()
    expected[:, :, 4] = sig(rows[:, :, 4])
    if softmax:
        e = np.exp(rows[:, :, 5:] - rows[:, :, 5:].max(axis=2, keepdims=True))
        expected[:, :, 5:] = e / e.sum(axis=2, keepdims=True)
    np.testing.assert_allclose(y, expected, rtol=1e-12)
    dy = np.random.default_rng(9).normal(size=(2, 16, 3, 4))
    net.forward(x, train=True)
    np.testing.assert_array_equal(net.backward(dy), dy)        # added as it is, in the flattened order
    with pytest.raises(DarknetError, match="AlexeyAB's region training loss"):
        net.forward(x, train=True, truth=np.zeros((2, 150)))


def test_region_channel_mismatch_is_an_error():
    with pytest.raises(CfgError, match="need 16"):
        build64(cfg(REGION.format(extra=""), c=15))


def test_golden_region_cfg_builds_without_unused_keys(recwarn):
    from golden import Case, golden_root
    for name in ("region_softmax", "yolo"):
        darknet_py.load_network(Case(golden_root(), name).path("net.cfg"))
    assert not [w for w in recwarn if "unused" in str(w.message)]


def test_contrastive_passes_the_input_through_and_refuses_to_train():
    from darknet_py import DarknetError
    body = YOLO + "\n[route]\nlayers=-2\n\n[contrastive]\nyolo_layer=-2\nclasses=1\ntemperature=1.0\n"
    net = build64(cfg("[convolutional]\nfilters=16\nsize=1\nactivation=linear\n\n" + body))
    x = np.random.default_rng(0).normal(size=(2, 16, 3, 4))
    np.testing.assert_array_equal(net.forward(x), net.layers[0].output.reshape(2, 16, 3, 4))
    check_gradients(cfg("[contrastive]\n"), train=False)
    with pytest.raises(DarknetError, match="contrastive training loss is not implemented"):
        net.forward(x, train=True, truth=np.zeros((2, net.truths)))
    with pytest.raises(CfgError, match=r"yolo_layer=-1 must point at an earlier \[yolo\] layer"):
        build64(cfg("[contrastive]\nyolo_layer=-1\n"))
