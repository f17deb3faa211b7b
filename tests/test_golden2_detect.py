"""Darknet's image ops and `detector test` pipeline against ../shared/golden2 (pjreddie, compat mode),
and the yolo box decoding of AlexeyAB's fork (scale_x_y, new_coords) against ../shared/golden_alexeyab.

image_ops: load_image_color, resize_image and letterbox_image bit for bit. detect_boxes_*: boxes before
NMS (decoded from Darknet's own [yolo] outputs, and end to end from the PNG), the array after
do_nms_sort (order and suppressed probabilities), the printed labels and the drawn pixel boxes.
"""
import json

import numpy as np
import pytest

import darknet_py
from darknet_py import boxes as bx
from darknet_py.image import letterbox_image, load_image, resize_image
from golden import golden_root

WAVE = "golden2"
DETECT_CASES = ("detect_boxes_a", "detect_boxes_b")
THRESHOLDS = ("0.50", "0.25")


def _json(path):
    return json.loads(path.read_text())


def _image_arrays():
    try:
        info = _json(golden_root(WAVE) / "image_ops" / "case.json")
    except (OSError, pytest.skip.Exception):
        return [("<golden2 missing>", None, None)]
    return [(name, img["png"], spec) for img in info["images"].values() for name, spec in img["arrays"].items()]


@pytest.mark.parametrize("name,png,spec", _image_arrays(), ids=lambda v: v if isinstance(v, str) else "")
def test_image_ops_bit_exact(name, png, spec):
    root = golden_root(WAVE) / "image_ops"
    im = load_image(root / png)
    if spec["op"] == "load_image_color":
        got = im
    else:
        _, h, w = spec["shape"]
        got = (resize_image if spec["op"] == "resize_image" else letterbox_image)(im, w, h)
    expected = np.load(root / name)
    assert got.shape == expected.shape and got.dtype == np.float32
    assert np.array_equal(got, expected), f"{name}: max diff {np.abs(got - expected).max()} (must be 0)"


def _network(case_dir):
    net = darknet_py.load_network(case_dir / "net.cfg", case_dir / "weights.weights", batch=1, compat=True)
    return net


def _before_nms_rows(entries):
    return np.array([[e["x"], e["y"], e["w"], e["h"], e["objectness"]] + e["prob"] for e in entries], np.float32)


def _rows(dets):
    return np.concatenate([dets.boxes, dets.objectness[:, None], dets.prob], axis=1)


def _check_pipeline(net, im_w, im_h, golden, atol, rtol=3e-7):
    thresh = golden["thresh"]
    dets = bx.get_network_boxes(net, im_w, im_h, thresh, golden["hier_thresh"], relative=True)
    expected = _before_nms_rows(golden["before_nms"])
    assert len(dets) == golden["num_boxes"] == len(expected)
    np.testing.assert_allclose(_rows(dets), expected, atol=atol, rtol=rtol, err_msg="before NMS")
    assert np.array_equal(dets.prob > 0, expected[:, 5:] > 0), "which probabilities pass thresh"

    after = bx.do_nms_sort(dets, net.layers[-1].classes, golden["nms"])
    assert list(after.index) == [e["index"] for e in golden["after_nms"]], "array order after do_nms_sort"
    np.testing.assert_allclose(after.prob, [e["prob"] for e in golden["after_nms"]], atol=atol, rtol=0)
    assert np.array_equal(after.prob > 0, np.array([e["prob"] for e in golden["after_nms"]]) > 0)

    positions, classes = bx.reported_labels(after, thresh)
    assert list(zip(positions.tolist(), classes.tolist())) == [
        (e["position"], e["cls"]) for e in golden["reported_labels"]]
    np.testing.assert_allclose(after.prob[positions, classes], [e["prob"] for e in golden["reported_labels"]],
                               atol=atol, rtol=rtol)
    drawn = [(p,) + bx.pixel_box(after.boxes[p], im_w, im_h) for p in sorted(set(positions.tolist()))]
    assert drawn == [(e["position"], e["left"], e["top"], e["right"], e["bot"]) for e in golden["drawn_boxes"]]


@pytest.mark.parametrize("thresh", THRESHOLDS)
@pytest.mark.parametrize("name", DETECT_CASES)
def test_detect_boxes_from_darknets_yolo_outputs(name, thresh):
    """Decoding, NMS and drawing alone: the [yolo] outputs are Darknet's own, so only the last bit of
    the decoding may differ (Darknet's -Ofast build vs numpy's exp: 1 ulp on a few large boxes)."""
    case_dir = golden_root(WAVE) / name
    net = _network(case_dir)
    for key, out in np.load(case_dir / "yolo_outputs.npz").items():
        layer = net.layers[int(key.split("_")[1])]
        assert layer.type == "yolo"
        layer.output[:] = out.reshape(-1)
    info = _json(case_dir / "case.json")["image"]
    golden = _json(case_dir / f"detections_thresh_{thresh}.json")
    _check_pipeline(net, info["width"], info["height"], golden, atol=1e-6)


@pytest.mark.parametrize("thresh", THRESHOLDS)
@pytest.mark.parametrize("name", DETECT_CASES)
def test_detect_boxes_end_to_end(name, thresh):
    """From the PNG: load, letterbox (bit-exact), the network in compat mode, decode, NMS, draw."""
    case_dir = golden_root(WAVE) / name
    net = _network(case_dir)
    im = load_image(case_dir / "image.png")
    assert np.array_equal(im, np.load(case_dir / "image.npy"))
    x = letterbox_image(im, net.input_shape[2], net.input_shape[1])[None]
    assert np.array_equal(x, np.load(case_dir / "input.npy"))
    net.forward(x)
    golden = _json(case_dir / f"detections_thresh_{thresh}.json")
    # the network's float32 sums differ from Darknet's -Ofast build by ~1e-6; exp() of a large tw grows it
    _check_pipeline(net, im.shape[2], im.shape[1], golden, atol=5e-5)


def test_network_detect_records_match_darknet():
    """Network.detect: the records are Darknet's printed labels with their pixel boxes."""
    case_dir = golden_root(WAVE) / "detect_boxes_a"
    net = _network(case_dir)
    golden = _json(case_dir / "detections_thresh_0.25.json")
    records = net.detect(case_dir / "image.png", thresh=0.25)
    assert [(r.cls, round(r.prob, 5)) for r in records] == [
        (e["cls"], round(e["prob"], 5)) for e in golden["reported_labels"]]
    boxes = {e["position"]: (e["left"], e["top"], e["right"], e["bot"]) for e in golden["drawn_boxes"]}
    positions = [e["position"] for e in golden["reported_labels"]]
    assert [(r.left, r.top, r.right, r.bottom) for r in records] == [boxes[p] for p in positions]
    after = {e["position"]: e for e in golden["after_nms"]}
    np.testing.assert_allclose([[r.x, r.y, r.w, r.h] for r in records],
                               [[after[p][k] for k in "xywh"] for p in positions], atol=5e-5)


# ---------------------------------------------------------------- AlexeyAB's [yolo] decoding
ALEXEYAB_YOLO = ("yolo_new_coords", "yolo_scale_xy_1_05", "yolo_new_coords0_scale_xy_2")


def _yolo_section(cfg_text):
    """The [yolo] keys of a one-layer golden cfg (mask, anchors, classes, new_coords, ...)."""
    keys = {}
    for line in cfg_text.split("[yolo]")[1].splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            keys[k.strip()] = v.strip()
    return keys


def _net_size(cfg_text):
    keys = dict(line.split("=", 1) for line in cfg_text.split("[yolo]")[0].splitlines() if "=" in line)
    return int(keys["width"]), int(keys["height"])


def _check_yolo_detections(output, expected, keys, net_w, net_h):
    """One batch item: decoded rows [cell, anchor, x, y, w, h, objectness, probs...] at thresh .25."""
    mask = [int(m) for m in keys["mask"].split(",")]
    anchors = [float(a) for a in keys["anchors"].split(",")]
    classes = int(keys["classes"])
    _, lh, lw = output.shape[0], output.shape[1], output.shape[2]
    boxes, objectness, prob = bx.yolo_candidates(output.reshape(-1), lw, lh, mask, anchors, classes, net_w, net_h,
                                                 0.25, new_coords=keys.get("new_coords", "0") == "1")
    got = np.concatenate([boxes, objectness[:, None], prob], axis=1)
    assert got.shape == expected[:, 2:].shape
    np.testing.assert_allclose(got, expected[:, 2:], rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", ALEXEYAB_YOLO)
def test_alexeyab_yolo_decoding_from_darknets_outputs(name):
    """The fork's get_yolo_box (new_coords: w = tw^2*4*anchor/net) on the fork's own [yolo] outputs."""
    case_dir = golden_root("golden_alexeyab") / name
    text = (case_dir / "net.cfg").read_text()
    keys, (net_w, net_h) = _yolo_section(text), _net_size(text)
    outputs = np.load(case_dir / "forward_infer.npz")["layer_000"]
    detections = np.load(case_dir / "yolo_detections.npz")
    for b in range(outputs.shape[0]):
        _check_yolo_detections(outputs[b], detections[f"layer_000_b{b}"], keys, net_w, net_h)


@pytest.mark.filterwarnings("ignore::darknet_py.CfgWarning")   # keys this branch's [yolo] does not read yet
@pytest.mark.parametrize("name", ALEXEYAB_YOLO)
def test_alexeyab_yolo_detections_end_to_end(name):
    """Through our [yolo] layer (scale_x_y and new_coords in its forward) and get_network_boxes."""
    case_dir = golden_root("golden_alexeyab") / name
    try:
        net = darknet_py.load_network(case_dir / "net.cfg", case_dir / "weights.weights", compat="alexeyab")
    except darknet_py.CfgError as e:
        pytest.skip(f"the [yolo] layer on this branch does not accept the fork's keys yet: {e}")
    layer = net.layers[0]
    if not hasattr(layer, "new_coords") or not hasattr(layer, "scale_x_y"):
        pytest.skip("the [yolo] layer on this branch reads but does not apply scale_x_y/new_coords yet")
    net.forward(np.load(case_dir / "input.npy"))
    detections = np.load(case_dir / "yolo_detections.npz")
    c, h, w = net.input_shape
    for b in range(net.batch):
        dets = bx.get_network_boxes(net, w, h, 0.25, 0.5, relative=True, item=b)
        expected = detections[f"layer_000_b{b}"]
        np.testing.assert_allclose(_rows(dets), expected[:, 2:], rtol=1e-5, atol=1e-6)
