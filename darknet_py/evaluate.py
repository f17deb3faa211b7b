"""Evaluation verbs: ``map`` (a detector's mean average precision, as AlexeyAB's validate_detector_map)
and ``valid`` (a classifier's top-1/top-5, as validate_classifier_single).

mAP, step by step (``average_precision`` is the pure part, on plain records):

1. each image of the valid list is detected at thresh 0.005 with NMS 0.45; every (box, class) with a
   probability > 0 is one detection;
2. all detections are sorted by probability (highest first, ties in detection order);
3. going down the list, a detection matches the same-class truth box of its image NOT YET MATCHED
   by an earlier detection with the highest IoU, if that IoU is > ``iou`` (strict, as Darknet): a
   true positive, and that truth is taken; otherwise a false positive. (Darknet's code takes the
   best truth among all and counts a false positive when it was already taken; a duplicate
   detection may thus miss a second, unmatched truth it overlaps enough. The rule here is the
   issue's and PASCAL VOC's intent; after NMS the two rarely differ.)
4. per class, AP = the area under the precision-recall curve with precision made monotone from the
   right (VOC2010+ "all points"); mAP = the mean over ALL classes (a class without truth boxes
   scores 0, as in Darknet).

Difference: Darknet's ``detector map`` resizes images to the network size (letter_box=0 by default);
darknet-py uses the ``detect`` pipeline (letterbox, as ``detector test``), so boxes are judged
exactly as ``darknet-py detect`` draws them.
"""
import sys
from dataclasses import dataclass

import numpy as np

from .errors import DarknetError

MAP_THRESH = 0.005
MAP_NMS = 0.45


@dataclass(frozen=True)
class Box:
    """One box of one image: centre (x, y) and size (w, h) relative to the image; ``prob`` for detections."""

    image: object
    cls: int
    x: float
    y: float
    w: float
    h: float
    prob: float = 1.0


def box_iou(a, b):
    """IoU of two centre-size boxes (Darknet's box_iou)."""
    iw = min(a.x + a.w / 2, b.x + b.w / 2) - max(a.x - a.w / 2, b.x - b.w / 2)
    ih = min(a.y + a.h / 2, b.y + b.h / 2) - max(a.y - a.h / 2, b.y - b.h / 2)
    inter = max(iw, 0.0) * max(ih, 0.0)
    union = a.w * a.h + b.w * b.h - inter
    return inter / union if union > 0 else 0.0


def average_precision(detections, truths, classes, iou=0.5):
    """{"map": float, "ap": [AP of class 0, 1, ...]} from Box detections (with prob) and Box truths."""
    by_image = {}
    for index, t in enumerate(truths):
        by_image.setdefault(t.image, []).append((index, t))
    order = sorted(range(len(detections)), key=lambda i: -detections[i].prob)   # stable: ties keep their order
    claimed = set()
    hits = [[] for _ in range(classes)]          # per class, in rank order: True = true positive
    for i in order:
        d = detections[i]
        t = _best_truth(d, by_image.get(d.image, ()), iou, claimed)
        hits[d.cls].append(t is not None)
        if t is not None:
            claimed.add(t)
    positives = np.bincount([t.cls for t in truths], minlength=classes)
    ap = [_area(np.array(h, bool), positives[c]) for c, h in enumerate(hits)]
    return {"map": float(np.mean(ap)) if classes else 0.0, "ap": ap}


def _best_truth(det, image_truths, iou, claimed):
    """Index of the unclaimed same-class truth with the highest IoU > iou, or None."""
    best, best_iou = None, 0.0
    for index, t in image_truths:
        if t.cls == det.cls and index not in claimed:
            overlap = box_iou(det, t)
            if overlap > iou and overlap > best_iou:
                best, best_iou = index, overlap
    return best


def _area(hits, positives):
    """VOC2010+ all-points AP of one class: sum of recall steps times the best precision to their right."""
    if positives == 0 or hits.size == 0:
        return 0.0
    tp = np.cumsum(hits)
    precision = tp / np.arange(1, hits.size + 1)
    recall = tp / positives
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    steps = np.diff(np.concatenate([[0.0], recall]))
    return float(np.sum(steps * envelope))


# ---------------------------------------------------------------------- the verbs
def _detector(net):
    """detect_records(net, path, thresh, nms) from the detection module (another part of darknet_py)."""
    try:
        from . import detect as detect_module
    except ImportError as e:
        raise DarknetError(f"map needs darknet_py.detect (the detection pipeline), which is not available: {e}") \
            from None
    records = getattr(detect_module, "detect_records", None) or getattr(detect_module, "detect", None)
    if records is None:
        raise DarknetError("darknet_py.detect has neither detect_records nor detect")
    return records


def _as_box(image, record):
    get = record.get if isinstance(record, dict) else lambda k, d=None: getattr(record, k, d)
    cls = get("cls", get("class"))
    return Box(image, int(cls), float(get("x")), float(get("y")), float(get("w")), float(get("h")),
               float(get("prob")))


def evaluate_map(data_path, cfg_path, weights, iou=0.5, compat=False, progress=True):
    """{"map": float, "ap": {name: float}, "iou": iou} of a detector over the .data file's valid list."""
    from .data import files
    from .network import load_network
    if not 0 <= iou < 1:
        raise DarknetError(f"--iou must be in [0, 1), got {iou}")
    dc = files.read_data_cfg(data_path)
    items = files.read_list(dc.valid)
    files.check_images(items, dc.valid)
    net = load_network(cfg_path, weights, batch=1, compat=compat)
    detect = _detector(net)
    detections, truths = [], []
    for path, _ in _bar(items, progress, "map"):
        detections += [_as_box(path, r) for r in detect(net, str(path), MAP_THRESH, MAP_NMS)]
        truths += [Box(path, int(c), x, y, w, h) for c, x, y, w, h in
                   files.read_labels(files.label_path(path), dc.classes)]
    result = average_precision(detections, truths, dc.classes, iou)
    return {"map": result["map"], "ap": dict(zip(dc.names, result["ap"])), "iou": iou}


def format_map(result):
    width = max([len(n) for n in result["ap"]] + [5])
    lines = [f"{name:<{width}}  AP {ap * 100:6.2f} %" for name, ap in result["ap"].items()]
    lines.append(f"mAP@{result['iou']:g} = {result['map']:.4f} ({result['map'] * 100:.2f} %)")
    return "\n".join(lines)


def evaluate_classifier(data_path, cfg_path, weights, compat=False, progress=True):
    """{"top1", "top5", "images"}: validate_classifier_single (the class is the first name found in the
    path; the image's largest centred crop of the input's shape, scaled to it)."""
    from .data import augment, files
    from .network import load_network
    dc = files.read_data_cfg(data_path)
    items = files.read_list(dc.valid)
    files.check_images(items, dc.valid)
    net = load_network(cfg_path, weights, batch=1, compat=compat)
    c, h, w = net.input_shape
    top1 = top5 = 0
    for path, _ in _bar(items, progress, "valid"):
        found = files.classes_from_path(path, dc.names)
        truth = found[0] if found else -1
        crop = augment.center_crop(augment.load_image(path, c), w, h)
        scores = net.forward(crop[None].astype(np.float32)).reshape(-1)[:dc.classes]
        ranked = np.argsort(-scores, kind="stable")
        top1 += int(ranked[0] == truth)
        top5 += int(truth in ranked[:5])
    n = len(items)
    return {"top1": top1 / n, "top5": top5 / n, "images": n}


def _bar(items, progress, what):
    if not progress:
        return items
    from tqdm import tqdm
    return tqdm(items, desc=what, unit="img", file=sys.stderr)
