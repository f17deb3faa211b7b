"""Float64 numpy twins of Darknet's [yolo] and [region] training losses (yolo_layer.c, region_layer.c),
written from the C code independently of the kernels, as test oracles.

Each returns ``targets``: {flat output index: (kind, scale, target)} with kind "bce" (the delta is
scale*(target - sigmoid output), minus the gradient of scale*BCE w.r.t. the logit), "l2raw" (scale*(target
- raw output)), "l2sig" (region: the same on a logistic output, whose loss is scale/2*(target - y)^2) or
"ce" (region softmax classes: scale*(target - p), minus the gradient of the cross-entropy w.r.t. the
logits). The delta is rebuilt from them; the declared loss too (``loss``).
"""
import numpy as np


def iou(a, b):
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    w = min(ax + aw / 2, bx + bw / 2) - max(ax - aw / 2, bx - bw / 2)
    h = min(ay + ah / 2, by + bh / 2) - max(ay - ah / 2, by - bh / 2)
    inter = 0.0 if w < 0 or h < 0 else w * h
    return inter / (aw * ah + bw * bh - inter)


def boxes_of(truth_row, step, limit):
    out = []
    for t in range(limit):
        box = truth_row[t * step:(t + 1) * step]
        if box[0] == 0:
            break
        out.append(box)
    return out


def yolo_targets(y, truth, anchors, mask, classes, lh, lw, net_w, net_h, ignore, matched, max_boxes=90):
    """(targets, count) of forward_yolo_layer for outputs y (batch, n, 5+classes, lh, lw); count = the
    truths whose best anchor is in the mask."""
    batch, n = y.shape[:2]
    anchors = np.asarray(anchors, np.float64).reshape(-1, 2)
    idx = np.arange(y.size).reshape(y.shape)
    targets = {}
    count = 0

    def pred_box(b, s, j, i, a):
        p = y[b, s, :, j, i]
        return ((i + p[0]) / lw, (j + p[1]) / lh, np.exp(p[2]) * anchors[a, 0] / net_w,
                np.exp(p[3]) * anchors[a, 1] / net_h)

    def box_targets(b, s, j, i, a, box):
        scale = 2 - box[2] * box[3]
        t = (box[0] * lw - i, box[1] * lh - j, np.log(box[2] * net_w / anchors[a, 0]),
             np.log(box[3] * net_h / anchors[a, 1]))
        for e in range(4):
            targets[idx[b, s, e, j, i]] = ("bce" if e < 2 else "l2raw", scale, t[e])

    def class_targets(b, s, j, i, cls):
        if targets.get(idx[b, s, 5, j, i], ("", 0, 0))[0] and delta_of(y, targets, idx[b, s, 5, j, i]) != 0:
            targets[idx[b, s, 5 + cls, j, i]] = ("bce", 1.0, 1.0)
            return
        for c in range(classes):
            targets[idx[b, s, 5 + c, j, i]] = ("bce", 1.0, float(c == cls))

    for b in range(batch):
        boxes = boxes_of(truth[b], 5, max_boxes)
        for j in range(lh):
            for i in range(lw):
                for s in range(n):
                    pred = pred_box(b, s, j, i, mask[s])
                    ious = [iou(pred, box[:4]) for box in boxes]
                    best = max(ious, default=0.0)
                    obj = idx[b, s, 4, j, i]
                    targets[obj] = ("bce", 1.0, 0.0)
                    if best > ignore:
                        del targets[obj]
                    if best > matched:
                        box = boxes[int(np.argmax(ious))]
                        targets[obj] = ("bce", 1.0, 1.0)
                        class_targets(b, s, j, i, int(box[4]))
                        box_targets(b, s, j, i, mask[s], box)
        for box in boxes:
            i, j = int(box[0] * lw), int(box[1] * lh)
            shape = [iou((0, 0, aw / net_w, ah / net_h), (0, 0, box[2], box[3])) for aw, ah in anchors]
            a = int(np.argmax(shape))
            if a not in mask:
                continue
            s = list(mask).index(a)
            count += 1
            box_targets(b, s, j, i, a, box)
            targets[idx[b, s, 4, j, i]] = ("bce", 1.0, 1.0)
            class_targets(b, s, j, i, int(box[4]))
    return targets, count


def delta_of(y, targets, k):
    kind, scale, target = targets[k]
    return scale * (target - y.flat[k])


def delta_from(y, raw, targets):
    """The delta the targets define: scale*(target - y) (raw output for "l2raw")."""
    d = np.zeros(y.size)
    for k, (kind, scale, target) in targets.items():
        d[k] = scale * (target - (raw.flat[k] if kind == "l2raw" else y.flat[k]))
    return d


def loss(y, raw, targets):
    """The loss whose minus-gradient w.r.t. the raw input the delta is (targets held fixed)."""
    total = 0.0
    for k, (kind, scale, target) in targets.items():
        if kind == "bce":
            z = raw.flat[k]
            total += scale * (np.logaddexp(0, z) - target * z)      # BCE(target, sigmoid(z)) up to a constant
        elif kind == "l2raw":
            total += scale * (target - raw.flat[k]) ** 2 / 2
        elif kind == "l2sig":
            total += scale * (target - y.flat[k]) ** 2 / 2
        elif kind == "ce":                                          # softmax output y
            total -= scale * target * np.log(y.flat[k])
    return total


def region_targets(y, truth, anchors, coords, classes, lh, lw, thresh, noobject_scale, object_scale, class_scale,
                   coord_scale, rescore, bias_match, softmax, prior):
    """(targets, count) of forward_region_layer (no tree, no background) for outputs y
    (batch, n, coords+1+classes, lh, lw); anchors in grid cells; ``prior``: seen < 12800."""
    batch, n = y.shape[:2]
    anchors = np.asarray(anchors, np.float64).reshape(-1, 2)
    idx = np.arange(y.size).reshape(y.shape)
    targets = {}
    count = 0

    def pred_box(b, s, j, i):
        p = y[b, s, :, j, i]
        return ((i + p[0]) / lw, (j + p[1]) / lh, np.exp(p[2]) * anchors[s, 0] / lw, np.exp(p[3]) * anchors[s, 1] / lh)

    def box_targets(b, s, j, i, box, scale):
        t = (box[0] * lw - i, box[1] * lh - j, np.log(box[2] * lw / anchors[s, 0]),
             np.log(box[3] * lh / anchors[s, 1]))
        for e in range(4):
            targets[idx[b, s, e, j, i]] = ("l2sig" if e < 2 else "l2raw", scale, t[e])

    for b in range(batch):
        boxes = boxes_of(truth[b], coords + 1, 30)
        for j in range(lh):
            for i in range(lw):
                for s in range(n):
                    best = max((iou(pred_box(b, s, j, i), box[:4]) for box in boxes), default=0.0)
                    obj = idx[b, s, coords, j, i]
                    targets[obj] = ("l2sig", noobject_scale, 0.0)
                    if best > thresh:
                        del targets[obj]
                    if prior:
                        box_targets(b, s, j, i, ((i + .5) / lw, (j + .5) / lh, anchors[s, 0] / lw, anchors[s, 1] / lh),
                                    .01)
        for box in boxes:
            i, j = int(box[0] * lw), int(box[1] * lh)
            shapes = []
            for s in range(n):
                _, _, w, h = pred_box(b, s, j, i)
                if bias_match:
                    w, h = anchors[s, 0] / lw, anchors[s, 1] / lh
                shapes.append(iou((0, 0, w, h), (0, 0, box[2], box[3])))
            s = int(np.argmax(shapes))
            overlap = iou(pred_box(b, s, j, i), box[:4])
            box_targets(b, s, j, i, box, coord_scale * (2 - box[2] * box[3]))
            targets[idx[b, s, coords, j, i]] = ("l2sig", object_scale, overlap if rescore else 1.0)
            cls = int(box[coords])
            first = idx[b, s, coords + 1, j, i]
            if not softmax and first in targets and delta_of(y, targets, first) != 0:
                targets[idx[b, s, coords + 1 + cls, j, i]] = ("bce", class_scale, 1.0)
            else:
                for c in range(classes):
                    targets[idx[b, s, coords + 1 + c, j, i]] = ("ce" if softmax else "bce", class_scale, float(c == cls))
            count += 1
    return targets, count
