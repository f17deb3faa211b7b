"""Detecting objects in images as Darknet's ``detector test`` does, and the records it reports.

Pipeline per image (examples/detector.c test_detector): load_image_color, letterbox_image to the
network's input size, forward, get_network_boxes (letterbox undone, boxes relative to the image),
do_nms_sort, then draw_detections' selection: one record per (box, class) whose probability is above
``thresh``, in Darknet's print order, with the integer pixel box it draws. Several images fill the
network's batch (``batch`` of load_network / ``--batch``); each batch item is decoded on its own.
"""
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from . import boxes as bx
from .errors import DarknetError
from .fileio import atomic_write
from .image import IMAGE_SUFFIXES, letterbox_into, load_image, to_image


class Detection(NamedTuple):
    """One reported (box, class): what Darknet prints as "name: 87%" and the box it draws. A named
    tuple: random weights can report thousands per image, and a tuple is built ten times faster than a
    frozen dataclass."""

    cls: int            # class index
    name: object        # class name (str) from the names file, or None
    prob: float         # objectness * class probability, after NMS
    x: float            # box centre and size, relative to the original image (0..1, may leave it)
    y: float
    w: float
    h: float
    left: int           # draw_detections' integer pixel box, clamped as Darknet clamps it
    top: int
    right: int
    bottom: int

    def as_dict(self):
        """The JSON record: "class" first, then the fields in order."""
        d = self._asdict()
        for key in ("prob", "x", "y", "w", "h"):     # the float32 value's shortest form: 0.521216, not 0.52121603...
            d[key] = float(str(np.float32(d[key])))
        return {"class": d.pop("cls"), **d}

    def label(self):
        """Darknet's printed line: "dog: 87%"."""
        percent = float(np.float32(self.prob) * np.float32(100))      # C: float prob * 100, printed %.0f
        return f"{self.name if self.name is not None else self.cls}: {percent:.0f}%"


@dataclass
class ImageResult:
    """Detections of one image, with its path (None when not read from a file) and size."""

    image: object
    width: int
    height: int
    detections: list

    def as_dict(self):
        return {"image": None if self.image is None else str(self.image), "width": self.width,
                "height": self.height, "detections": [d.as_dict() for d in self.detections]}


# ---------------------------------------------------------------- names
def read_names(path, classes=None, what="classes"):
    """Darknet's get_labels: one name per line. DarknetError naming the file if it cannot be read or
    has fewer names than ``classes``."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            names = [line.rstrip("\r\n") for line in f]
    except OSError as e:
        raise DarknetError(f"{path}: cannot read the names file: {e.strerror or e}") from None
    if classes is not None and len(names) < classes:
        raise DarknetError(f"{path}: {len(names)} names for {classes} {what} (one name per line needed)")
    return names


def resolve_names(names, classes, what):
    """``names`` as a list of at least ``classes`` names: a list as given, or read from a file path;
    None stays None (records then carry only class indexes)."""
    if names is None:
        return None
    if isinstance(names, (str, os.PathLike)):
        return read_names(names, classes, what)
    names = [str(n) for n in names]
    if len(names) < classes:
        raise DarknetError(f"{len(names)} names for {classes} {what}")
    return names


# ---------------------------------------------------------------- the detector
class Detector:
    """A network with detection layers and the thresholds of Darknet's ``detector test``."""

    def __init__(self, net, thresh=0.5, nms=0.45, hier_thresh=0.5, names=None):
        self.layers = bx.detection_layers(net)
        c, self.net_h, self.net_w = _input_shape(net)
        self.net = net
        self.classes = self.layers[-1].classes
        self.thresh, self.nms, self.hier_thresh = float(thresh), float(nms), float(hier_thresh)
        self.names = resolve_names(names, self.classes, "classes")
        self.batch_input = np.zeros((net.batch, 3, self.net_h, self.net_w), net.dtype)   # (B, 3, H, W)

    def detect_images(self, images):
        """Detections for up to ``net.batch`` images, each a (3, h, w) float32 array: one list per image."""
        assert len(images) <= self.net.batch
        for slot, im in enumerate(images):
            letterbox_into(im, self.batch_input[slot])
        self.net.forward(self.batch_input)
        return [self.records(item, im.shape[2], im.shape[1]) for item, im in enumerate(images)]

    def records(self, item, im_w, im_h):
        """Decode batch item ``item`` of the last forward into Detection records."""
        dets = bx.get_network_boxes(self.net, im_w, im_h, self.thresh, self.hier_thresh, relative=True, item=item)
        if self.nms:
            dets = bx.do_nms_sort(dets, self.classes, self.nms)
        position, cls = bx.reported_labels(dets, self.thresh)
        boxes = dets.boxes[position]
        pixels = bx.pixel_boxes(boxes, im_w, im_h)
        names = self.names
        return [Detection(c, names[c] if names else None, p, x, y, w, h, left, top, right, bottom)
                for c, p, (x, y, w, h), (left, top, right, bottom)
                in zip(cls.tolist(), dets.prob[position, cls].tolist(), boxes.tolist(), pixels.tolist())]


def _input_shape(net):
    shape = tuple(net.input_shape)
    if len(shape) != 3 or shape[0] != 3:
        raise DarknetError(f"{net.path}: images need a 3-channel input (width/height/channels=3 in [net]); "
                           f"this network takes {shape}")
    return shape


def detect(net, image, thresh=0.5, nms=0.45, hier_thresh=0.5, names=None):
    """Network.detect: Detection records of one image (a path, a PIL image or an array)."""
    im = to_image(image)
    return Detector(net, thresh, nms, hier_thresh, names).detect_images([im])[0]


# ---------------------------------------------------------------- files (the CLI)
def expand_images(paths):
    """The image arguments, a directory expanding to its image files (sorted, not recursive)."""
    out = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            out.extend(sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES))
        else:
            out.append(p)
    return out


def process_files(paths, batch, infer, on_result, on_error):
    """Load the images ``batch`` at a time and call ``infer(images)`` (one output per image), then
    ``on_result(path, image, output, seconds)`` for each in order; ``on_error(path, error)`` for each
    file that cannot be read (the others are still processed). A progress bar on stderr when there
    are several images. Returns the number of files that failed."""
    from tqdm import tqdm
    failed = 0
    bar = tqdm(total=len(paths), unit="image", file=sys.stderr, disable=None if len(paths) > 1 else True)
    try:
        for start in range(0, len(paths), batch):
            loaded = []
            for path in paths[start:start + batch]:
                try:
                    loaded.append((path, load_image(path)))
                except DarknetError as e:
                    failed += 1
                    bar.update(1)
                    on_error(path, e)
            if not loaded:
                continue
            t0 = time.perf_counter()
            outputs = infer([im for _, im in loaded])
            seconds = (time.perf_counter() - t0) / len(loaded)
            for (path, im), output in zip(loaded, outputs):
                on_result(path, im, output, seconds)
                bar.update(1)
    finally:
        bar.close()
    return failed


def detect_files(detector, paths, on_result, on_error, out_dir=None, names=None):
    """Detect objects in every file, ``net.batch`` images per forward: ``on_result(ImageResult,
    seconds)`` per image, and ``out_dir/<stem>.png`` with the boxes drawn (written atomically;
    ``names``: path -> drawing file name, default ``drawing_names(paths)``). Returns the number of
    files that failed (``on_error(path, error)`` was told each)."""
    if out_dir is not None:
        os.makedirs(out_dir, exist_ok=True)
    names = names or drawing_names(paths)

    def report(path, im, records, seconds):
        if out_dir is not None:
            save_drawing(im, records, detector.classes, Path(out_dir) / names[path])
        on_result(ImageResult(path, im.shape[2], im.shape[1], records), seconds)
    return process_files(paths, detector.net.batch, detector.detect_images, report, on_error)


def drawing_names(paths):
    """<stem>.png per image; a stem seen before in this run gets _2, _3, ... so no drawing overwrites another."""
    names, used = {}, set()
    for path in paths:
        stem, n = Path(path).stem, 1
        name = f"{stem}.png"
        while name in used:
            n += 1
            name = f"{stem}_{n}.png"
        used.add(name)
        names[path] = name
    return names


def text_lines(result, seconds):
    """Darknet's console output for one image: the timing line, then "name: 87%" per record, with its box."""
    lines = [f"{result.image}: Predicted in {seconds:f} seconds."]
    lines += [f"{d.label()}\t(left {d.left}, top {d.top}, right {d.right}, bottom {d.bottom})"
              for d in result.detections]
    return lines


# ---------------------------------------------------------------- drawing
def draw(im, records, classes):
    """A PIL image of ``im`` ((3, h, w) in [0, 1]) with draw_detections' boxes, colours and labels."""
    from PIL import Image, ImageDraw
    pil = Image.fromarray(np.rint(np.clip(im, 0, 1) * 255).astype(np.uint8).transpose(1, 2, 0), "RGB")
    canvas = ImageDraw.Draw(pil)
    width = max(1, int(im.shape[1] * .006))           # Darknet: im.h * .006 (0 draws nothing there)
    for box, labels in _boxes_with_labels(records):
        first = labels[0]
        color = tuple(int(255 * v) for v in bx.class_color(first.cls, classes))
        left, top, right, bottom = box
        if right >= left and bottom >= top:
            canvas.rectangle([left, top, right, bottom], outline=color, width=width)
        text = ", ".join(str(r.name if r.name is not None else r.cls) for r in labels)
        tl, tt, tr, tb = canvas.textbbox((0, 0), text)
        y = top + width - (tb - tt) - 2 if top + width - (tb - tt) - 2 >= 0 else top + width
        canvas.rectangle([left, y, left + tr - tl + 2, y + tb - tt + 2], fill=color)
        canvas.text((left + 1, y + 1 - tt), text, fill=(0, 0, 0))
    return pil


def _boxes_with_labels(records):
    """Records grouped per drawn box (consecutive records of one det share its pixel box), in order."""
    groups = []
    for r in records:
        box = (r.left, r.top, r.right, r.bottom)
        if groups and groups[-1][0] == box and groups[-1][1][-1].cls < r.cls:
            groups[-1][1].append(r)
        else:
            groups.append((box, [r]))
    return groups


def save_drawing(im, records, classes, path):
    """draw() written atomically as PNG (nothing half-written is left if it fails)."""
    pil = draw(im, records, classes)
    atomic_write(path, lambda f: pil.save(f, format="PNG"))
