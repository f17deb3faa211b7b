"""The detector we trained and ship (darknet_py/models/shapes-detector.*, README "A detector we trained")
finds every shape of the README's example picture, with the right class, where it is."""
from pathlib import Path

import numpy as np

import darknet_py
from darknet_py.data.shapes import NAMES, make_image

REPO = Path(__file__).resolve().parents[1]
MODELS = REPO / "darknet_py" / "models"
EXAMPLE = REPO / "docs" / "shapes-example.png"
EXAMPLE_SEED, EXAMPLE_SIZE = [2, 9, 0], 160      # how docs/shapes-example.png was drawn


def iou(a, b):
    """IoU of two (x, y, w, h) boxes, relative coordinates."""
    ix = max(0.0, min(a[0] + a[2] / 2, b[0] + b[2] / 2) - max(a[0] - a[2] / 2, b[0] - b[2] / 2))
    iy = max(0.0, min(a[1] + a[3] / 2, b[1] + b[3] / 2) - max(a[1] - a[3] / 2, b[1] - b[3] / 2))
    return ix * iy / (a[2] * a[3] + b[2] * b[3] - ix * iy)


def test_the_example_picture_is_the_seeded_shapes_image():
    from PIL import Image
    drawn, _ = make_image(np.random.default_rng(EXAMPLE_SEED), EXAMPLE_SIZE)
    assert np.array_equal(np.asarray(Image.open(EXAMPLE).convert("RGB")), np.asarray(drawn))


def test_shipped_detector_finds_every_shape_of_the_example():
    _, truths = make_image(np.random.default_rng(EXAMPLE_SEED), EXAMPLE_SIZE)
    net = darknet_py.load_network(MODELS / "shapes-detector.cfg", MODELS / "shapes-detector.weights", batch=1)
    names = (MODELS / "shapes.names").read_text().split()
    assert names == list(NAMES)
    found = net.detect(str(EXAMPLE), thresh=0.5, names=names)
    assert len(found) == len(truths) == 4
    for cls, x, y, w, h in truths:
        best = max(found, key=lambda d: iou((d.x, d.y, d.w, d.h), (x, y, w, h)))
        assert best.cls == cls and best.name == NAMES[cls]
        assert iou((best.x, best.y, best.w, best.h), (x, y, w, h)) > 0.5
