"""`darknet-py detect` / `classify` as a user runs them, the Python API behind them, image decoding,
[region] decoding and NMS against naive loops, and a second opinion on [yolo] from OpenCV DNN.

The networks are small ones written here with random weights (saved with Network.save_weights), so
the tests need neither the golden data nor a trained detector.
"""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import darknet_py
from darknet_py import boxes as bx
from darknet_py.cli import main
from darknet_py.image import letterbox_image, load_image

REPO = Path(__file__).resolve().parents[1]
RECORD_KEYS = ["class", "name", "prob", "x", "y", "w", "h", "left", "top", "right", "bottom"]

# A yolo head and a region head on one 32x32 backbone: both decoders in one get_network_boxes.
DETECTOR_CFG = """\
[net]
batch=1
width=32
height=32
channels=3

[convolutional]
batch_normalize=1
filters=8
size=3
stride=2
pad=1
activation=leaky

[maxpool]
size=2
stride=2

[convolutional]
filters=21
size=1
activation=linear

[yolo]
mask=0,1,2
anchors=4,6,10,12,20,18
num=3
classes=2

[route]
layers=-3

[convolutional]
filters=14
size=1
activation=linear

[region]
num=2
coords=4
classes=2
softmax=1
anchors=1.2,0.8,2.5,3.1
"""


def cli(*args):
    env = dict(os.environ, DARKNET_PY_NO_PLUGINS="1")
    return subprocess.run([sys.executable, "-m", "darknet_py", *map(str, args)], capture_output=True, text=True,
                          env=env)


@pytest.fixture(scope="module")
def detector(tmp_path_factory):
    """(cfg, weights, folder of images, names file) of the small two-head detector."""
    d = tmp_path_factory.mktemp("detector")
    (d / "net.cfg").write_text(DETECTOR_CFG)
    darknet_py.load_network(d / "net.cfg").save_weights(d / "net.weights")
    rng = np.random.default_rng(7)
    images = d / "images"
    images.mkdir()
    Image.fromarray(rng.integers(0, 256, (30, 50, 3), dtype=np.uint8)).save(images / "wide.png")
    Image.fromarray(rng.integers(0, 256, (41, 23, 3), dtype=np.uint8)).save(images / "tall.jpg", quality=95)
    Image.fromarray(rng.integers(0, 256, (20, 20), dtype=np.uint8)).save(images / "grey.bmp")
    (d / "names").write_text("cat\ndog\n")
    return d / "net.cfg", d / "net.weights", images, d / "names"


# ---------------------------------------------------------------- detect
def test_detect_json_one_document_per_image_as_the_api(detector, tmp_path):
    cfg, weights, images, names = detector
    res = cli("detect", cfg, weights, images, "--json", "--thresh", "0.3", "--names", names, "--out", tmp_path)
    assert res.returncode == 0, res.stderr
    docs = [json.loads(line) for line in res.stdout.splitlines()]
    assert [Path(d["image"]).name for d in docs] == ["grey.bmp", "tall.jpg", "wide.png"]   # the folder, sorted
    net = darknet_py.load_network(cfg, weights, batch=1)
    for doc in docs:
        assert list(doc) == ["image", "width", "height", "detections"]
        w, h = Image.open(doc["image"]).size
        assert (doc["width"], doc["height"]) == (w, h)
        records = net.detect(doc["image"], thresh=0.3, names=str(names))
        assert records, "random weights at thresh .3 report something"
        assert [list(r) for r in doc["detections"]] == [RECORD_KEYS] * len(records)
        assert [r["class"] for r in doc["detections"]] == [r.cls for r in records]
        assert [r["name"] for r in doc["detections"]] == [("cat", "dog")[r.cls] for r in records]
        np.testing.assert_allclose([r["prob"] for r in doc["detections"]], [r.prob for r in records], rtol=1e-6)
        for r in doc["detections"]:
            assert r["prob"] > 0.3 and all(isinstance(r[k], int) for k in ("left", "top", "right", "bottom"))
            assert 0 <= r["left"] and 0 <= r["top"] and r["right"] <= w - 1 and r["bottom"] <= h - 1
        drawn = Image.open(tmp_path / f"{Path(doc['image']).stem}.png")
        assert drawn.format == "PNG" and drawn.size == (w, h) and drawn.mode == "RGB"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grey.png", "tall.png", "wide.png"]   # no temp files


def test_detect_text_output_is_darknets_lines(detector, capsys):
    cfg, weights, images, names = detector
    assert main(["detect", str(cfg), str(weights), str(images / "wide.png"), "--names", str(names),
                 "--thresh", "0.3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert re.fullmatch(r".*wide\.png: Predicted in [0-9.]+ seconds\.", lines[0])
    assert len(lines) > 1
    for line in lines[1:]:
        assert re.fullmatch(r"(cat|dog): \d+%\t\(left \d+, top \d+, right -?\d+, bottom -?\d+\)", line), line


def test_detect_batches_give_the_same_records(detector, capsys):
    cfg, weights, images, _ = detector
    runs = []
    for batch in ("1", "2"):
        assert main(["detect", str(cfg), str(weights), str(images), "--json", "--batch", batch]) == 0
        runs.append(capsys.readouterr().out)
    assert runs[0] == runs[1]


def test_detect_bad_image_among_good_ones(detector, tmp_path, capsys):
    """Each bad file is one line naming it; the others are processed; exit status 1."""
    cfg, weights, images, _ = detector
    (tmp_path / "notes.png").write_text("not an image")
    truncated = tmp_path / "cut.png"
    truncated.write_bytes((images / "wide.png").read_bytes()[:200])
    args = [images / "wide.png", tmp_path / "notes.png", tmp_path / "missing.jpg", truncated, images / "tall.jpg"]
    out_dir = tmp_path / "out"
    assert main(["detect", str(cfg), str(weights), *map(str, args), "--json", "--out", str(out_dir)]) == 1
    captured = capsys.readouterr()
    assert [Path(json.loads(l)["image"]).name for l in captured.out.splitlines()] == ["wide.png", "tall.jpg"]
    errors = [l for l in captured.err.splitlines() if l.startswith("darknet-py: error:")]
    assert len(errors) == 3
    for bad, line in zip(("notes.png", "missing.jpg", "cut.png"), errors):
        assert bad in line
    assert sorted(p.name for p in out_dir.iterdir()) == ["tall.png", "wide.png"]


@pytest.mark.parametrize("problem", ["missing names", "too few names", "no detection layer"])
def test_detect_refuses_with_one_line_naming_the_file(detector, tmp_path, problem):
    cfg, weights, images, names = detector
    args = ["detect", cfg, weights, images / "wide.png"]
    if problem == "missing names":
        args += ["--names", tmp_path / "absent.names"]
        culprit = "absent.names"
    elif problem == "too few names":
        (tmp_path / "one.names").write_text("cat\n")
        args += ["--names", tmp_path / "one.names"]
        culprit = "one.names"
    else:
        args = ["detect", REPO / "cfg" / "classifier.cfg", _weights(REPO / "cfg" / "classifier.cfg", tmp_path),
                images / "wide.png"]
        culprit = "classifier.cfg"
    res = cli(*args, "--out", tmp_path / "out")
    assert res.returncode == 2
    assert res.stdout == "" and len(res.stderr.strip().splitlines()) == 1 and culprit in res.stderr, res.stderr
    assert not (tmp_path / "out").exists()


def _weights(cfg, folder):
    path = folder / (cfg.stem + ".weights")
    darknet_py.load_network(cfg).save_weights(path)
    return path


# ---------------------------------------------------------------- classify
def test_classify_json_and_text(tmp_path, capsys):
    cfg = REPO / "cfg" / "classifier.cfg"
    weights = _weights(cfg, tmp_path)
    image = tmp_path / "x.png"
    Image.fromarray(np.random.default_rng(3).integers(0, 256, (40, 28, 3), dtype=np.uint8)).save(image)
    (tmp_path / "names").write_text("".join(f"c{i}\n" for i in range(10)))
    res = cli("classify", cfg, weights, image, "--top", "3", "--json", "--names", tmp_path / "names")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert list(doc) == ["image", "width", "height", "predictions"] and (doc["width"], doc["height"]) == (28, 40)
    net = darknet_py.load_network(cfg, weights, batch=1)
    scores = net.forward(letterbox_image(load_image(image), 32, 32)[None]).reshape(-1)
    expected = list(np.argsort(-scores, kind="stable")[:3])
    assert [p["class"] for p in doc["predictions"]] == expected
    assert [p["name"] for p in doc["predictions"]] == [f"c{i}" for i in expected]
    np.testing.assert_allclose([p["prob"] for p in doc["predictions"]], scores[expected], rtol=1e-6)
    assert main(["classify", str(cfg), str(weights), str(image), "--top", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [l.split(": ")[1] for l in lines[1:]] == [str(i) for i in expected[:2]]
    assert all(re.fullmatch(r"[ \d]\d\.\d\d%: \d", l) for l in lines[1:]), lines


# ---------------------------------------------------------------- images
@pytest.mark.parametrize("mode", ["L", "RGBA", "P", "RGB"])
def test_images_become_rgb(tmp_path, mode):
    rgb = np.random.default_rng(1).integers(0, 256, (9, 7, 3), dtype=np.uint8)
    pil = Image.fromarray(rgb).convert(mode)
    pil.save(tmp_path / "x.png")
    im = load_image(tmp_path / "x.png")
    expected = np.asarray(pil.convert("RGB"), np.float64).transpose(2, 0, 1) / 255.0
    assert im.shape == (3, 9, 7) and im.dtype == np.float32
    assert np.array_equal(im, expected.astype(np.float32))


def test_16_bit_greyscale_keeps_the_high_byte_as_stb_does(tmp_path):
    values = np.array([[0, 255, 256, 5000], [40000, 65535, 511, 512]], np.uint16)
    Image.fromarray(values).save(tmp_path / "g16.png")
    im = load_image(tmp_path / "g16.png")
    expected = ((values >> 8).astype(np.float64) / 255.0).astype(np.float32)
    assert im.shape == (3, 2, 4) and all(np.array_equal(im[k], expected) for k in range(3))


def test_api_takes_a_path_a_pil_image_or_an_array(detector):
    cfg, weights, images, _ = detector
    net = darknet_py.load_network(cfg, weights, batch=1)
    path = images / "wide.png"
    pil = Image.open(path)
    by_path = net.detect(path, thresh=0.3)
    assert net.detect(pil, thresh=0.3) == by_path
    assert net.detect(np.asarray(pil), thresh=0.3) == by_path
    assert net.detect(load_image(path), thresh=0.3) == by_path
    with pytest.raises(darknet_py.DarknetError, match="uint8"):
        net.detect(np.zeros((5, 5, 3), np.int32))


def test_absolute_boxes_are_the_relative_ones_in_pixels(detector):
    cfg, weights, images, _ = detector
    net = darknet_py.load_network(cfg, weights, batch=1)
    im = load_image(images / "tall.jpg")
    net.forward(letterbox_image(im, 32, 32)[None])
    _, h, w = im.shape
    rel = bx.get_network_boxes(net, w, h, 0.2, 0.5, relative=True)
    absolute = bx.get_network_boxes(net, w, h, 0.2, 0.5, relative=False)
    assert len(rel) > 0 and np.array_equal(rel.prob, absolute.prob)
    np.testing.assert_allclose(absolute.boxes, rel.boxes * np.float32([w, h, w, h]), rtol=1e-6)


def test_drawing_puts_the_class_colour_on_the_box():
    from darknet_py.detect import Detection, draw
    im = np.full((3, 200, 300), 0.5, np.float32)
    record = Detection(1, "dog", 0.9, 0.5, 0.5, 0.4, 0.4, 90, 60, 210, 140)
    pil = draw(im, [record], classes=3)
    colour = tuple(int(255 * v) for v in bx.class_color(1, 3))
    assert pil.size == (300, 200)
    assert pil.getpixel((150, 140)) == colour and pil.getpixel((210, 100)) == colour    # bottom and right edges
    assert pil.getpixel((150, 100)) == (128, 128, 128)                                   # inside: untouched


# ---------------------------------------------------------------- region decoding and NMS, naive loops
def _naive_region(out, lw, lh, num, coords, classes, anchors, thresh):
    """get_region_detections written as Darknet's loops (no letterbox: net size = image size)."""
    out = out.reshape(num, coords + 1 + classes, lh, lw).astype(np.float64)
    rows = []
    for n in range(num):                      # Darknet's array index n*w*h + i
        for i in range(lh * lw):
            row, col = divmod(i, lw)
            e = out[n, :, row, col]
            obj = e[coords] if e[coords] > thresh else 0.0
            box = [(col + e[0]) / lw, (row + e[1]) / lh, np.exp(e[2]) * anchors[2 * n] / lw,
                   np.exp(e[3]) * anchors[2 * n + 1] / lh]
            probs = [e[coords] * e[coords + 1 + j] if obj else 0.0 for j in range(classes)]
            rows.append(box + [obj] + [p if p > thresh else 0.0 for p in probs])
    return np.array(rows)


def test_region_decoding_as_darknets_loops():
    rng = np.random.default_rng(4)
    num, coords, classes, lw, lh = 2, 4, 3, 3, 2
    out = rng.random(num * (coords + 1 + classes) * lh * lw).astype(np.float32)
    anchors = [1.5, 0.7, 2.2, 3.3]
    boxes, obj, prob = bx.region_candidates(out, lw, lh, num, coords, classes, anchors, 0.3)
    got = np.concatenate([boxes, obj[:, None], prob], axis=1)
    np.testing.assert_allclose(got, _naive_region(out, lw, lh, num, coords, classes, anchors, 0.3), rtol=1e-6)


def _naive_nms(boxes, objectness, prob, thresh):
    """do_nms_sort with Python lists: objectness-0 swap loop, stable sort per class, suppression."""
    dets = [[list(map(float, b)), float(o), list(map(float, p)), i] for i, (b, o, p) in
            enumerate(zip(boxes, objectness, prob))]
    k = len(dets) - 1
    i = 0
    while i <= k:
        if dets[i][1] == 0:
            dets[i], dets[k] = dets[k], dets[i]
            k -= 1
        else:
            i += 1
    total = k + 1

    def iou(a, b):
        def overlap(x1, w1, x2, w2):
            return min(x1 + w1 / 2, x2 + w2 / 2) - max(x1 - w1 / 2, x2 - w2 / 2)
        w, h = overlap(a[0], a[2], b[0], b[2]), overlap(a[1], a[3], b[1], b[3])
        inter = 0.0 if w < 0 or h < 0 else w * h
        return inter / (a[2] * a[3] + b[2] * b[3] - inter)
    for c in range(prob.shape[1]):
        dets[:total] = sorted(dets[:total], key=lambda d: -d[2][c])
        for i in range(total):
            if dets[i][2][c] == 0:
                continue
            for j in range(i + 1, total):
                if iou(dets[i][0], dets[j][0]) > thresh:
                    dets[j][2][c] = 0.0
    return [d[3] for d in dets], np.array([d[2] for d in dets])


def test_nms_as_darknets_loops():
    """Clustered boxes so that suppression happens; some objectness 0 (region heads) go to the end."""
    rng = np.random.default_rng(11)
    n, classes = 60, 4
    centres = rng.random((5, 2))[rng.integers(0, 5, n)]
    boxes = np.concatenate([centres + rng.normal(0, 0.03, (n, 2)), rng.uniform(0.1, 0.3, (n, 2))], 1)
    objectness = np.where(rng.random(n) < 0.2, 0, rng.random(n)).astype(np.float32)
    prob = np.where(rng.random((n, classes)) < 0.5, rng.random((n, classes)), 0).astype(np.float32)
    prob[objectness == 0] = 0
    dets = bx.Candidates(boxes.astype(np.float32), objectness, prob, np.arange(n))
    after = bx.do_nms_sort(dets, classes, 0.45)
    order, expected = _naive_nms(dets.boxes, objectness, prob, 0.45)
    assert list(after.index) == order
    assert np.array_equal(after.prob, expected.astype(np.float32))
    assert (after.prob == 0).sum() > (prob == 0).sum(), "something was suppressed"


# ---------------------------------------------------------------- second opinion: OpenCV DNN
def test_yolo_outputs_agree_with_opencv(tmp_path):
    """yolov3-tiny's layout at 96x96 with random weights: OpenCV's conv outputs feeding both [yolo] heads
    and its decoded yolo rows (x, y, w, h, objectness, class scores above its 0.2 threshold) against ours
    on the same letterboxed input."""
    cv2 = pytest.importorskip("cv2", reason="OpenCV (opencv-python-headless<5) is the optional second opinion")
    text = (REPO / "cfg" / "yolov3-tiny.cfg").read_text()
    text = re.sub(r"(?m)^(width|height)=\d+", r"\1=96", text)
    (tmp_path / "net.cfg").write_text(text)
    net = darknet_py.load_network(tmp_path / "net.cfg", batch=1)
    net.save_weights(tmp_path / "net.weights")
    im = np.random.default_rng(0).random((3, 70, 120), dtype=np.float32)
    x = letterbox_image(im, 96, 96)[None]
    net.forward(x)
    cv = cv2.dnn.readNetFromDarknet(str(tmp_path / "net.cfg"), str(tmp_path / "net.weights"))
    cv.setInput(x)
    heads = [l for l in net.layers if l.type == "yolo"]
    assert [l.index for l in heads] == [16, 23]
    convs = cv.forward([f"conv_{l.index - 1}" for l in heads])
    rows = cv.forward([f"yolo_{l.index}" for l in heads])
    for layer, conv, cv_rows in zip(heads, convs, rows):
        ours_in = net.layers[layer.index - 1].output_array()
        np.testing.assert_allclose(ours_in, conv, atol=1e-4, rtol=1e-4, err_msg=f"input of [yolo] {layer.index}")
        _, lh, lw = layer.in_shape
        boxes, obj, prob = bx.yolo_candidates(layer.output, lw, lh, layer.mask, layer.anchors, layer.classes,
                                              96, 96, 0.0)
        assert len(obj) == len(cv_rows) == lh * lw * len(layer.mask)
        np.testing.assert_allclose(boxes, cv_rows[:, :4], atol=1e-4, rtol=1e-4, err_msg="boxes")
        np.testing.assert_allclose(obj, cv_rows[:, 4], atol=1e-5, err_msg="objectness")
        both = (prob > 0.2) & (cv_rows[:, 5:] > 0)
        np.testing.assert_allclose(prob[both], cv_rows[:, 5:][both], atol=1e-5, err_msg="class scores")
        assert np.all(np.abs(prob[(prob > 0.2) != (cv_rows[:, 5:] > 0)] - 0.2) < 1e-4), "same 0.2 threshold"


# ---------------------------------------------------------------- the benchmark tool runs
def test_bench_detect_tool_runs(tmp_path):
    """tools/bench_detect.py end to end on a tiny setting (structure only, no timing assertions)."""
    out = tmp_path / "bench.json"
    res = subprocess.run([sys.executable, str(REPO / "tools" / "bench_detect.py"), "--size", "64", "--images", "2",
                          "--rounds", "1", "--batch", "1", "2", "--threads", "1", "--json", str(out)],
                         capture_output=True, text=True, env=dict(os.environ, DARKNET_PY_NO_PLUGINS="1"))
    assert res.returncode == 0, res.stderr
    rep = json.loads(out.read_text())
    assert rep["images"] == 2 and "CPU:" in res.stdout and "images/s" in res.stdout
    ours = rep["results"]["darknet_py_batch1"]
    assert ours["images_per_s"] > 0 and set(ours["stages_ms"]) == {"decode", "letterbox", "network", "boxes_nms"}
    assert rep["results"]["darknet_py_batch2"]["detections"] == ours["detections"]
