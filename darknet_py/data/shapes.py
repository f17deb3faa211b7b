"""A synthetic detection dataset anyone can train on: coloured circles, squares and triangles on noise,
written in Darknet's layout (``darknet-py data shapes OUT``).

OUT/images/{train,valid}_NNNNN.png, OUT/labels/*.txt (``class x y w h``, relative to the image),
OUT/train.txt, OUT/valid.txt, OUT/shapes.names, OUT/shapes.data (backup=OUT/backup). Paths inside
are relative to OUT, so the folder can move; Darknet itself reads them when run from OUT, darknet-py
from anywhere. Image k of a split is a function of (seed, split, k) only: the same seed gives the
same files byte for byte.

``classify=True`` (``darknet-py data shapes OUT --classify``) writes the classification variant: one
shape per image, its class name in the file name (OUT/images/train_00007_square.png), no labels/,
and a .data with ``labels=`` as Darknet's classifier reads it (it labels an image by the class names
found in its path, so OUT itself must not contain "circle", "square" or "triangle").
"""
from pathlib import Path

import numpy as np

from ..fileio import atomic_write

NAMES = ("circle", "square", "triangle")


def _draw(draw, kind, box, colour):
    x0, y0, x1, y1 = box
    if kind == 0:
        draw.ellipse(box, fill=colour)
    elif kind == 1:
        draw.rectangle(box, fill=colour)
    else:
        draw.polygon([((x0 + x1) / 2, y0), (x1, y1), (x0, y1)], fill=colour)


def _overlap(a, b):
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return ix * iy / smaller


def _noise_canvas(rng, size):
    from PIL import Image, ImageDraw
    im = Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8), "RGB")
    return im, ImageDraw.Draw(im)


def _random_shape(rng, draw, box):
    """Draws a shape of random class and colour in ``box``; returns its class."""
    kind = int(rng.integers(len(NAMES)))
    colour = tuple(int(c) for c in rng.integers(0, 256, 3))
    _draw(draw, kind, box, colour)
    return kind


def make_image(rng, size, max_shapes=4):
    """(PIL image, [(class, x, y, w, h)]): 1..max_shapes shapes, each covered at most 25% by another."""
    im, draw = _noise_canvas(rng, size)
    boxes, labels = [], []
    for _ in range(int(rng.integers(1, max_shapes + 1))):
        for _attempt in range(20):
            side = int(rng.integers(max(4, size // 8), max(5, size // 3) + 1))
            x0, y0 = (int(v) for v in rng.integers(0, size - side + 1, 2))
            box = (x0, y0, x0 + side - 1, y0 + side - 1)
            if all(_overlap(box, b) < 0.25 for b in boxes):
                break
        else:
            continue
        kind = _random_shape(rng, draw, box)
        boxes.append(box)
        labels.append((kind, (x0 + side / 2) / size, (y0 + side / 2) / size, side / size, side / size))
    return im, labels


def make_crop(rng, size):
    """(PIL image, class): one shape on noise, its side 40-90% of the image (a classifier's sample)."""
    im, draw = _noise_canvas(rng, size)
    side = int(rng.integers(max(4, size * 2 // 5), max(5, size * 9 // 10) + 1))
    x0, y0 = (int(v) for v in rng.integers(0, size - side + 1, 2))
    return im, _random_shape(rng, draw, (x0, y0, x0 + side - 1, y0 + side - 1))


def write_shapes(out, train=200, valid=50, size=96, seed=0, progress=None, classify=False):
    """Write the dataset under ``out``; ``progress(n)`` is called after each image. Returns the .data path.

    ``classify``: the classification variant (module docstring)."""
    out = Path(out)
    for sub in ("images", "backup") + (() if classify else ("labels",)):
        (out / sub).mkdir(parents=True, exist_ok=True)
    for split_index, (split, count) in enumerate((("train", train), ("valid", valid))):
        names = []
        for k in range(count):
            rng = np.random.default_rng([seed, split_index, k])
            stem = _write_crop(out, split, k, rng, size) if classify else _write_scene(out, split, k, rng, size)
            names.append(f"images/{stem}.png")
            if progress:
                progress(1)
        _write_text(out / f"{split}.txt", "".join(n + "\n" for n in names))
    _write_text(out / "shapes.names", "".join(n + "\n" for n in NAMES))
    data = out / "shapes.data"
    # Darknet's classifier reads labels=, its detector names=; the classification .data has both
    labels = "labels=shapes.names\n" if classify else ""
    _write_text(data, f"classes={len(NAMES)}\ntrain=train.txt\nvalid=valid.txt\nnames=shapes.names\n"
                      f"{labels}backup=backup\n")
    return data


def _write_scene(out, split, k, rng, size):
    im, labels = make_image(rng, size)
    stem = f"{split}_{k:05d}"
    im.save(out / "images" / f"{stem}.png", compress_level=6)
    text = "".join(f"{c} {x:.6f} {y:.6f} {w:.6f} {h:.6f}\n" for c, x, y, w, h in labels)
    (out / "labels" / f"{stem}.txt").write_text(text)
    return stem


def _write_crop(out, split, k, rng, size):
    im, kind = make_crop(rng, size)
    stem = f"{split}_{k:05d}_{NAMES[kind]}"        # the class name in the path is the label
    im.save(out / "images" / f"{stem}.png", compress_level=6)
    return stem


def _write_text(path, text):
    atomic_write(path, lambda f: f.write(text.encode()))
