"""Darknet's detection post-processing: decode [yolo]/[region] outputs into boxes, undo the letterbox,
non-maximum suppression, and what draw_detections prints and draws.

The candidates are kept as arrays (``Candidates``), one row per detection in Darknet's array order:
detection layers in network order; within a [yolo] layer, cells row-major then anchor slot, only
objectness > thresh; a [region] layer contributes every (anchor, cell), anchor-major, with objectness
and probabilities zeroed below thresh (get_region_detections). The float arithmetic follows the C
code's types (float32, with float64 where C computes in double), so the results equal Darknet's
(../shared/golden2 README §2.6).

Divergences (README: "Where darknet_py differs from Darknet"):
* Darknet averages each detection layer's output with a horizontally flipped second batch item when
  the layer's batch is 2 (avg_flipped_yolo); here every batch item is decoded on its own, as Darknet's
  ``detector test`` does after set_batch_network(net, 1).
* ``hier_thresh`` only matters for a [region] with a softmax tree (yolo9000): as Darknet's
  get_region_detections, each (anchor, cell) turns its conditional class probabilities into absolute
  ones and keeps one class, the deepest whose path probability stays above hier_thresh, with the
  objectness as its probability. Darknet does that in place on the layer's output; here on a copy.
  [yolo] ignores it, as in Darknet.
* [yolo] with AlexeyAB's ``new_coords=1`` decodes w, h as ``tw*tw*4*anchor/net`` (the fork's
  get_yolo_box); ``scale_x_y`` is applied by the layer's forward, so the decoding reads it already done.
"""
from dataclasses import dataclass

import numpy as np

from .errors import DarknetError
from .image import letterbox_size
from .kernels import boxes as bk
from .tree import hierarchy_predictions, hierarchy_top_prediction

F32 = np.float32


@dataclass
class Candidates:
    """Darknet's ``detection`` array as arrays."""

    boxes: np.ndarray        # (n, 4) float32 x, y, w, h: centre and size
    objectness: np.ndarray   # (n,) float32
    prob: np.ndarray         # (n, classes) float32: objectness*class, 0 unless > thresh
    index: np.ndarray        # (n,) int64: position in get_network_boxes' array (kept through sorting)

    def __len__(self):
        return len(self.objectness)

    def take(self, order):
        return Candidates(self.boxes[order], self.objectness[order], self.prob[order], self.index[order])

    @staticmethod
    def concat(parts, classes):
        if not parts:
            return Candidates(np.zeros((0, 4), F32), np.zeros(0, F32), np.zeros((0, classes), F32),
                              np.zeros(0, np.int64))
        boxes = np.concatenate([p[0] for p in parts])
        objectness = np.concatenate([p[1] for p in parts])
        prob = np.concatenate([p[2] for p in parts])
        return Candidates(boxes, objectness, prob, np.arange(len(objectness), dtype=np.int64))


# ---------------------------------------------------------------- decoding
def yolo_candidates(output, lw, lh, mask, anchors, classes, net_w, net_h, thresh, new_coords=False):
    """get_yolo_detections before correct_yolo_boxes, on one batch item's flat [yolo] output laid out
    (anchor slot, 4+1+classes, lh, lw). Returns (boxes relative to the network input, objectness, prob)."""
    thresh = F32(thresh)
    out = np.asarray(output, F32).reshape(len(mask), 4 + 1 + classes, lh * lw)
    obj = out[:, 4, :].T                                # (cells, slots): Darknet's loop order
    cell, slot = np.nonzero(obj > thresh)               # row-major: cell, then anchor slot
    entries = out[slot, :, cell]                        # (n, 4+1+classes)
    objectness = entries[:, 4].copy()
    a = np.asarray(mask, np.int64)[slot]
    anchor = np.asarray(anchors, F32).astype(np.float64).reshape(-1, 2)[a]
    boxes = np.empty((len(cell), 4), F32)
    boxes[:, 0] = (cell % lw).astype(F32) + entries[:, 0]
    boxes[:, 0] /= F32(lw)
    boxes[:, 1] = (cell // lw).astype(F32) + entries[:, 1]
    boxes[:, 1] /= F32(lh)
    if new_coords:      # the fork: float32 tw*tw*4*anchor/net (tw already passed through a logistic)
        boxes[:, 2] = entries[:, 2] * entries[:, 2] * F32(4) * anchor[:, 0].astype(F32) / F32(net_w)
        boxes[:, 3] = entries[:, 3] * entries[:, 3] * F32(4) * anchor[:, 1].astype(F32) / F32(net_h)
    else:               # exp in double, as C's exp(float)
        boxes[:, 2] = np.exp(entries[:, 2].astype(np.float64)) * anchor[:, 0] / net_w
        boxes[:, 3] = np.exp(entries[:, 3].astype(np.float64)) * anchor[:, 1] / net_h
    prob = objectness[:, None] * entries[:, 5:]
    prob[~(prob > thresh)] = 0
    return boxes, objectness, prob


def region_candidates(output, lw, lh, num, coords, classes, anchors, thresh, background=False, tree=None,
                      hier_thresh=0.5):
    """get_region_detections before correct_region_boxes, on one batch item's flat [region] output laid
    out (anchor, coords+1+classes, lh, lw): every (anchor, cell), anchor-major; anchors in grid cells.
    ``tree``: the layer's class tree (one class per candidate, see the module docstring)."""
    thresh = F32(thresh)
    out = np.asarray(output, F32).reshape(num, coords + 1 + classes, lh * lw)
    cells = lh * lw
    cell = np.tile(np.arange(cells), num)
    anchor = np.asarray(anchors, F32).astype(np.float64).reshape(-1, 2)[np.repeat(np.arange(num), cells)]
    flat = out.reshape(num, coords + 1 + classes, cells).transpose(0, 2, 1).reshape(num * cells, -1)
    scale = np.ones(num * cells, F32) if background else flat[:, coords].copy()
    boxes = np.empty((num * cells, 4), F32)
    boxes[:, 0] = ((cell % lw).astype(F32) + flat[:, 0]) / F32(lw)
    boxes[:, 1] = ((cell // lw).astype(F32) + flat[:, 1]) / F32(lh)
    boxes[:, 2] = np.exp(flat[:, 2].astype(np.float64)) * anchor[:, 0] / lw
    boxes[:, 3] = np.exp(flat[:, 3].astype(np.float64)) * anchor[:, 1] / lh
    objectness = np.where(scale > thresh, scale, F32(0)).astype(F32)
    # Darknet reads the classes at coords+1+j, with background=1 too (where its softmax starts at coords)
    if tree is not None:
        return boxes, objectness, tree_probabilities(out, scale, tree, coords + (0 if background else 1),
                                                     thresh, hier_thresh)
    prob = scale[:, None] * flat[:, coords + 1:coords + 1 + classes]
    prob[~(prob > thresh)] = 0
    prob[objectness == 0] = 0
    return boxes, objectness, prob


def tree_probabilities(out, scale, tree, first, thresh, hier_thresh):
    """(num*cells, classes) probabilities of a tree head (get_region_detections with a softmax_tree
    and no map): per candidate only the class hierarchy_top_prediction picks, at the objectness."""
    num, _, cells = out.shape
    prob = np.zeros((num * cells, tree.n), F32)
    for a in range(num):
        absolute = out[a, first:first + tree.n].copy()          # (classes, cells): the output stays as it is
        hierarchy_predictions(absolute, tree)
        for cell in range(cells):
            row = a * cells + cell
            j = hierarchy_top_prediction(absolute[:, cell], tree, F32(hier_thresh))
            prob[row, j] = scale[row] if scale[row] > thresh else 0
    return prob


def correct_boxes(boxes, im_w, im_h, net_w, net_h, relative=True):
    """correct_yolo_boxes / correct_region_boxes in place: undo the letterbox of an im_w x im_h image
    in a net_w x net_h input. Boxes become relative to the image (pixels with relative=False).

    The offset is the exact half (net_w-new_w)/2. while letterbox_image embedded at the integer half,
    so odd padding shifts boxes by half a network pixel, as in Darknet."""
    new_w, new_h = letterbox_size(im_w, im_h, net_w, net_h)
    x = boxes[:, 0].astype(np.float64)
    y = boxes[:, 1].astype(np.float64)
    boxes[:, 0] = (x - (net_w - new_w) / 2. / net_w) / np.float64(F32(new_w) / F32(net_w))
    boxes[:, 1] = (y - (net_h - new_h) / 2. / net_h) / np.float64(F32(new_h) / F32(net_h))
    boxes[:, 2] *= F32(net_w) / F32(new_w)
    boxes[:, 3] *= F32(net_h) / F32(new_h)
    if not relative:
        boxes[:, 0::2] *= F32(im_w)
        boxes[:, 1::2] *= F32(im_h)
    return boxes


def detection_layers(net):
    """The [yolo] and [region] layers, in network order; DarknetError if there is none."""
    layers = [l for l in net.layers if l.type in ("yolo", "region")]
    if not layers:
        raise DarknetError(f"{net.path}: the network has no detection layer ([yolo] or [region]); "
                           f"use `classify` for a classifier")
    classes = {l.classes for l in layers}
    if len(classes) > 1:
        raise DarknetError(f"{net.path}: its detection layers disagree on classes= ({sorted(classes)})")
    return layers


def get_network_boxes(net, im_w, im_h, thresh=0.5, hier_thresh=0.5, relative=True, item=0):
    """Darknet's get_network_boxes for batch item ``item`` of the last forward: every detection layer's
    candidates, boxes relative to the original im_w x im_h image (pixels with relative=False)."""
    layers = detection_layers(net)
    c, net_h, net_w = net.input_shape
    parts = []
    for layer in layers:
        _, lh, lw = layer.in_shape
        output = layer.output[item * layer.outputs:(item + 1) * layer.outputs]
        if layer.type == "yolo":
            part = yolo_candidates(output, lw, lh, layer.mask, layer.anchors, layer.classes, net_w, net_h,
                                   thresh, new_coords=bool(getattr(layer, "new_coords", False)))
        else:
            part = region_candidates(output, lw, lh, layer.n, layer.coords, layer.classes, layer.anchors,
                                     thresh, background=bool(layer.background), tree=getattr(layer, "tree", None),
                                     hier_thresh=hier_thresh)
        correct_boxes(part[0], im_w, im_h, net_w, net_h, relative)
        parts.append(part)
    return Candidates.concat(parts, layers[0].classes)


# ---------------------------------------------------------------- NMS
def do_nms_sort(dets, classes, thresh=0.45):
    """Darknet's do_nms_sort: returns the candidates in Darknet's final array order with suppressed
    probabilities zeroed (nothing is removed). Objectness-0 dets go to the end first (Darknet's swaps);
    then per class a stable sort by that class's probability, descending (glibc's qsort is a stable
    merge sort for these sizes), and every det zeroes that class in later dets with IoU > thresh."""
    prob = dets.prob.copy()
    order = np.arange(len(dets), dtype=np.int64)
    total = bk.objectness_to_front(dets.objectness, order)
    boxes = np.ascontiguousarray(dets.boxes, F32)
    for k in range(classes):
        front = order[:total]
        order[:total] = front[np.argsort(-prob[front, k], kind="stable")]
        # after the descending sort the non-zero probabilities come first; zeroing a zero changes
        # nothing, so the suppression only has to look at those
        nonzero = int(np.count_nonzero(prob[front, k]))
        bk.suppress_class(boxes, prob, order, nonzero, k, F32(thresh), F32(0.5))
    out = dets.take(order)
    out.prob = prob[order]
    return out


# ---------------------------------------------------------------- draw_detections
def reported_labels(dets, thresh):
    """draw_detections' selection: (positions, classes) int arrays of every prob > thresh, in the order
    Darknet prints them (array position, then class)."""
    return np.nonzero(dets.prob > F32(thresh))


def pixel_box(box, im_w, im_h):
    """draw_detections' integer box (left, top, right, bottom) of one box (x, y, w, h)."""
    return tuple(int(v) for v in pixel_boxes(np.asarray(box, F32).reshape(1, 4), im_w, im_h)[0])


def pixel_boxes(boxes, im_w, im_h):
    """draw_detections' integer boxes, (n, 4) int64 left, top, right, bottom: (x -/+ w/2.)*im.w in
    double, truncated to int as C does on x86 (NaN and out-of-range give INT_MIN), then left/top clamped
    to >= 0 and right/bottom to <= size-1 (only those four clamps: a box above the image keeps a
    negative bottom)."""
    b = np.asarray(boxes, F32).astype(np.float64)
    x, y, half_w, half_h = b[:, 0], b[:, 1], b[:, 2] / 2., b[:, 3] / 2.
    edges = np.stack([(x - half_w) * im_w, (y - half_h) * im_h, (x + half_w) * im_w, (y + half_h) * im_h], 1)
    with np.errstate(invalid="ignore"):
        fits = (edges > -2147483649.0) & (edges < 2147483648.0)       # False for NaN too
    out = np.where(fits, np.trunc(np.where(fits, edges, 0)), -2147483648).astype(np.int64)
    out[:, :2] = np.maximum(out[:, :2], 0)
    out[:, 2] = np.minimum(out[:, 2], im_w - 1)
    out[:, 3] = np.minimum(out[:, 3], im_h - 1)
    return out


def class_color(cls, classes):
    """draw_detections' colour of a class: (r, g, b) in [0, 1] (get_color over Darknet's 6 colours)."""
    offset = cls * 123457 % classes
    return tuple(_get_color(c, offset, classes) for c in (2, 1, 0))


_COLORS = ((1, 0, 1), (0, 0, 1), (0, 1, 1), (0, 1, 0), (1, 1, 0), (1, 0, 0))


def _get_color(c, x, maximum):
    ratio = F32(x) / F32(maximum) * F32(5)
    i, j = int(np.floor(ratio)), int(np.ceil(ratio))
    ratio -= F32(i)
    return float((F32(1) - ratio) * F32(_COLORS[i][c]) + ratio * F32(_COLORS[j][c]))
