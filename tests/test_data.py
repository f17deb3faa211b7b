"""Dataset files and augmentation (darknet_py.data): Darknet's file formats, clear errors at file:line,
the image ops against per-pixel transliterations of Darknet's C loops, and reproducible threaded batches."""
import math
import warnings

import numpy as np
import pytest

from darknet_py import build_network
from darknet_py.cfg import parse_cfg
from darknet_py.data import (Augmentation, BatchSource, DataError, DataWarning, fill_truth_detection, label_path,
                             read_data_cfg, read_labels, read_list)
from darknet_py.data import augment as aug
from darknet_py.data.shapes import write_shapes


# ---------------------------------------------------------------------- files
@pytest.mark.parametrize("image,label", [
    ("data/images/a.jpg", "data/labels/a.txt"),
    ("VOC/JPEGImages/000005.JPEG", "VOC/labels/000005.txt"),
    ("x/images/y/images/z.png", "x/labels/y/images/z.txt"),      # Darknet replaces the first occurrence only
    ("raw/a.bmp", "labels/a.txt"),
])
def test_label_path_as_darknet_finds_it(image, label):
    assert str(label_path(image)) == label


def test_data_file_keys_comments_and_relative_paths(tmp_path, monkeypatch):
    """Relative names that do not exist in the working directory resolve beside the .data file
    (the test runs from an empty folder: a checkout's own out/, left by the README's detect
    command, would otherwise be found first, as Darknet would)."""
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    (tmp_path / "n.names").write_text("cat\ndog\n\n")
    data = tmp_path / "d.data"
    data.write_text("# comment\nclasses = 2\n;other\ntrain=list.txt\nnames=n.names\nbackup = out/\n")
    dc = read_data_cfg(data)
    assert (dc.classes, dc.names) == (2, ["cat", "dog"])
    assert dc.train == tmp_path / "list.txt" and dc.valid == dc.train      # valid defaults to train
    assert dc.backup == tmp_path / "out"


@pytest.mark.parametrize("text,line,match", [
    ("classes=two\n", 1, "classes=two is not an integer"),
    ("classes=2\nnames\n", 2, "expected key=value"),
    ("classes=3\nnames=n.names\n", 2, "has 2 names but classes=3"),
])
def test_bad_data_file_names_file_and_line(tmp_path, text, line, match):
    (tmp_path / "n.names").write_text("a\nb\n")
    (tmp_path / "d.data").write_text(text)
    with pytest.raises(DataError, match=match) as info:
        read_data_cfg(tmp_path / "d.data")
    assert info.value.line == line and str(info.value).startswith(str(tmp_path / "d.data"))


@pytest.mark.parametrize("text,line,match", [
    ("0 .5 .5 .2 .2\n1 .5 .5 .2\n", 2, "5 values"),
    ("0 .5 .5 .2 .2\n\nx .5 .5 .2 .2\n", 3, "an integer and four numbers"),
    ("7 .5 .5 .2 .2\n", 1, r"class 7 is not in 0..2"),
    ("0 .5 .5 -1 .2\n", 1, "w, h >= 0"),
])
def test_bad_label_line_is_an_error_at_its_line(tmp_path, text, line, match):
    (tmp_path / "a.txt").write_text(text)
    with pytest.raises(DataError, match=match) as info:
        read_labels(tmp_path / "a.txt", 3)
    assert info.value.line == line and info.value.path == tmp_path / "a.txt"


def test_missing_label_file_warns_and_means_no_boxes(tmp_path):
    with pytest.warns(DataWarning, match="no label file"):
        assert read_labels(tmp_path / "none.txt", 3).shape == (0, 5)


def test_empty_list_and_missing_images_name_the_list(tmp_path):
    (tmp_path / "empty.txt").write_text("\n\n")
    with pytest.raises(DataError, match="the image list is empty"):
        read_list(tmp_path / "empty.txt")
    (tmp_path / "l.txt").write_text("a.png\n\nb.png\n")
    items = read_list(tmp_path / "l.txt")
    assert [n for _, n in items] == [1, 3]
    from darknet_py.data.files import check_images
    with pytest.raises(DataError, match="2 of 2 images do not exist: line 1: .*a.png, line 3"):
        check_images(items, tmp_path / "l.txt")


# ---------------------------------------------------------------------- image ops vs Darknet's loops
def bilinear_c(im, x, y, c):
    """bilinear_interpolate + get_pixel_extend, one pixel at a time, in float32."""
    f = np.float32
    ix, iy = int(math.floor(x)), int(math.floor(y))
    dx, dy = f(x - ix), f(y - iy)
    def px(xx, yy):
        return im[c, yy, xx] if 0 <= xx < im.shape[2] and 0 <= yy < im.shape[1] else f(0)
    return ((1 - dy) * (1 - dx) * px(ix, iy) + dy * (1 - dx) * px(ix, iy + 1)
            + (1 - dy) * dx * px(ix + 1, iy) + dy * dx * px(ix + 1, iy + 1))


def test_place_image_equals_darknets_loop():
    rng = np.random.default_rng(1)
    im = rng.random((3, 7, 9), dtype=np.float32)
    canvas = np.full((3, 10, 12), .5, np.float32)
    got = aug.place_image(im, 11, 6, 2, -1, canvas.copy())
    want = canvas.copy()
    for c in range(3):
        for y in range(6):
            for x in range(11):
                rx = np.float32(np.float32(x) / np.float32(11)) * np.float32(9)
                ry = np.float32(np.float32(y) / np.float32(6)) * np.float32(7)
                if 0 <= x + 2 < 12 and 0 <= y - 1 < 10:
                    want[c, y - 1, x + 2] = bilinear_c(im, rx, ry, c)
    np.testing.assert_allclose(got, want, atol=1e-6)


def hsv_c(r, g, b):
    mx, mn = max(r, g, b), min(r, g, b)
    delta = mx - mn
    if mx == 0:
        return 0.0, 0.0, mx
    if delta == 0:
        return 0.0, 0.0, mx
    h = (g - b) / delta if r == mx else (2 + (b - r) / delta if g == mx else 4 + (r - g) / delta)
    return (h + 6 if h < 0 else h) / 6, delta / mx, mx


def rgb_c(h, s, v):
    if s == 0:
        return v, v, v
    h *= 6
    i = math.floor(h)
    f = h - i
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    return [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v)][i] if i < 5 else (v, p, q)


def test_distort_image_equals_darknets_hsv_loops():
    rng = np.random.default_rng(2)
    im = rng.random((3, 5, 6), dtype=np.float32)
    im[:, 0, 0] = 0.3                      # grey: delta 0
    im[:, 0, 1] = 0                        # black: max 0
    got = aug.distort_image(im, 0.3, 1.4, 0.7)
    for y in range(5):
        for x in range(6):
            h, s, v = hsv_c(*im[:, y, x].astype(np.float64))
            h += 0.3
            h = h - 1 if h > 1 else (h + 1 if h < 0 else h)
            want = np.clip(rgb_c(h, s * 1.4, v * 0.7), 0, 1)
            np.testing.assert_allclose(got[:, y, x], want, atol=2e-6)


def test_hsv_round_trip_and_flip():
    im = np.random.default_rng(3).random((3, 4, 5), dtype=np.float32)
    np.testing.assert_allclose(aug.hsv_to_rgb(aug.rgb_to_hsv(im)), im, atol=1e-6)
    assert np.array_equal(aug.flip_image(im)[:, :, 0], im[:, :, -1])


def test_rotate_crop_without_rotation_is_a_scaled_crop():
    im = np.arange(3 * 8 * 8, dtype=np.float32).reshape(3, 8, 8)
    out = aug.rotate_crop_image(im, 0.0, 1.0, 4, 4, 0.0, 0.0, 1.0)
    np.testing.assert_array_equal(out, im[:, 2:6, 2:6])


# ---------------------------------------------------------------------- truth
def test_fill_truth_detection_moves_clips_and_flips_boxes():
    boxes = np.array([[2, .5, .5, .2, .4], [1, .95, .1, .2, .2], [0, .5, .5, .0005, .3]], np.float32)
    # image placed at half size from (0.25, 0.25): x' = x*.5 + .25
    truth = fill_truth_detection(boxes, 4, False, -.25, -.25, .5, .5).reshape(4, 5)
    np.testing.assert_allclose(truth[0], [.5, .5, .1, .2, 2], atol=1e-6)
    np.testing.assert_allclose(truth[1], [.725, .3, .1, .1, 1], atol=1e-6)    # x .95 -> .725, w .2 -> .1
    assert (truth[2:] == 0).all()                                   # the .0005-wide box is dropped
    flipped = fill_truth_detection(boxes, 4, True, 0, 0, 1, 1).reshape(4, 5)
    np.testing.assert_allclose(flipped[1], [1 - .925, .1, .15, .2, 1], atol=1e-6)   # clipped at 1, then mirrored
    assert fill_truth_detection(boxes, 1, False, 0, 0, 1, 1).reshape(1, 5)[0, 4] == 2  # max boxes


# ---------------------------------------------------------------------- batches
YOLO_CFG = """[net]
batch=4
subdivisions=2
width=32
height=32
channels=3
jitter=.3
hue=.1
saturation=1.5
exposure=1.5
[convolutional]
filters=24
size=3
stride=16
pad=1
activation=linear
[yolo]
mask=0,1,2
anchors=4,4,8,8,16,16
num=3
classes=3
jitter=.2
max=6
"""


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    root = tmp_path_factory.mktemp("shapes")
    return read_data_cfg(write_shapes(root, train=6, valid=2, size=40, seed=1))


def source(dc, seed=0, workers=None, augment=True):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = build_network(parse_cfg(YOLO_CFG.replace("jitter=.3\n", ""), "y.cfg"), "y.cfg")
    a = Augmentation.from_network(net)
    return BatchSource(read_list(dc.train), dc.train, net, dc.names, dc.classes, a if augment else a.off(),
                       seed=seed, workers=workers)


def test_detection_batches_are_a_function_of_seed_and_iteration(shapes):
    s1, s2, s3 = source(shapes, 7), source(shapes, 7, workers=1), source(shapes, 8)
    try:
        a = [s1.batch(i) for i in range(3)]
        b = s2.batch(2)                                   # no earlier batch, one worker: the same
        assert np.array_equal(a[2][0], b[0]) and np.array_equal(a[2][1], b[1])
        assert not np.array_equal(a[0][0], a[1][0])
        assert not np.array_equal(s3.batch(0)[0], a[0][0])
    finally:
        for s in (s1, s2, s3):
            s.close()
    x, truth = a[0]
    assert x.shape == (4, 3, 32, 32) and x.dtype == np.float32 and 0 <= x.min() and x.max() <= 1
    assert truth.shape == (4, 90 * 5)                     # the [yolo] truth holds max(max, 90) boxes ...
    assert not truth[:, 6 * 5:].any()                     # ... of which max=6 are filled, as Darknet
    boxes = truth[:, :6 * 5].reshape(4, 6, 5)
    real = boxes[boxes[:, :, 2] > 0]
    assert len(real) and ((real[:, :4] >= 0) & (real[:, :4] <= 1)).all() and set(real[:, 4]) <= {0, 1, 2}


def test_without_augmentation_the_boxes_are_the_labels_letterboxed(shapes):
    s = source(shapes, augment=False)
    try:
        x, truth = s.batch(0)
    finally:
        s.close()
    picks = np.random.default_rng([0, 0]).integers(0, 6, 4)
    labels = read_labels(label_path(read_list(shapes.train)[picks[0]][0]), 3)   # square images: no bars
    got = truth[0, :6 * 5].reshape(6, 5)[:len(labels)]
    np.testing.assert_allclose(got[:, :4], labels[:, 1:], atol=1e-5)
    np.testing.assert_array_equal(got[:, 4], labels[:, 0])


def test_an_image_that_cannot_be_decoded_mid_run_is_a_warning(shapes, tmp_path):
    bad = tmp_path / "images" / "bad.png"
    bad.parent.mkdir()
    bad.write_bytes(b"not a png")
    (tmp_path / "labels").mkdir()
    (tmp_path / "labels" / "bad.txt").write_text("0 .5 .5 .2 .2\n")
    (tmp_path / "l.txt").write_text(f"{bad}\n")
    from dataclasses import replace
    s = source(replace(shapes, train=tmp_path / "l.txt"))
    try:
        with pytest.warns(DataWarning, match="bad.png: cannot decode image"):
            x, truth = s.batch(0)
    finally:
        s.close()
    assert (x == .5).all() and (truth == 0).all()


def test_center_crop_takes_the_middle():
    im = np.zeros((3, 10, 20), np.float32)
    im[:, :, 5:15] = 1                                     # the centred 10x10 square is white
    np.testing.assert_array_equal(aug.center_crop(im, 10), np.ones((3, 10, 10), np.float32))
    assert aug.center_crop(im, 8, 4).shape == (3, 4, 8)
