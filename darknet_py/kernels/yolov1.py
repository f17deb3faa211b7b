"""The training targets of YOLOv1's [detection] layer (Darknet's detection_layer.c, box.c).

Per batch item the layer's values are three blocks, ``locations`` = side*side cells:
class probabilities (locations, classes), objectness (locations, n), boxes (locations, n, coords).
The truth per item is (locations, 1 + classes + coords): is_obj, one-hot classes, box x, y, w, h
(x, y relative to the cell, w, h to the image).
"""
import numpy as np

from ._jit import kernel


@kernel
def _overlap(x1, w1, x2, w2):
    left = max(x1 - w1 / 2, x2 - w2 / 2)
    right = min(x1 + w1 / 2, x2 + w2 / 2)
    return right - left


@kernel
def box_iou(ax, ay, aw, ah, bx, by, bw, bh):
    """Intersection over union of two centre boxes (Darknet's box_iou; 0 when they do not overlap)."""
    w = _overlap(ax, aw, bx, bw)
    h = _overlap(ay, ah, by, bh)
    inter = 0.0 if w < 0 or h < 0 else w * h
    union = aw * ah + bw * bh - inter
    return inter / union


@kernel
def detection_delta(out, truth, delta, picks, batch, side, n, classes, coords, use_sqrt, rescore, forced,
                    object_scale, noobject_scale, class_scale, coord_scale):
    """Write delta = scale * (target - output) for every entry with a target and return the loss
    sum(scale/2 * (target - output)^2), of which delta is minus the gradient (targets held constant:
    the responsible box and the rescore iou). ``picks[b*locations + i]`` >= 0 overrides the responsible
    box (Darknet's ``random``). Returns (loss, sum of ious, count of objects)."""
    locations = side * side
    inputs = locations * ((1 + coords) * n + classes)
    per_cell = 1 + classes + coords
    loss = 0.0
    iou_sum = 0.0
    count = 0
    for k in range(delta.size):
        delta[k] = 0.0
    for b in range(batch):
        index = b * inputs
        for i in range(locations):
            t = (b * locations + i) * per_cell
            for j in range(n):
                p = index + locations * classes + i * n + j
                delta[p] = noobject_scale * (0.0 - out[p])
                loss += 0.5 * noobject_scale * out[p] * out[p]
            if truth[t] == 0:
                continue
            c0 = index + i * classes
            for j in range(classes):
                d = truth[t + 1 + j] - out[c0 + j]
                delta[c0 + j] = class_scale * d
                loss += 0.5 * class_scale * d * d
            tb = t + 1 + classes
            tx, ty, tw, th = truth[tb] / side, truth[tb + 1] / side, truth[tb + 2], truth[tb + 3]
            best, best_iou, best_rmse = -1, 0.0, 20.0
            for j in range(n):
                bi = index + locations * (classes + n) + (i * n + j) * coords
                ox, oy, ow, oh = out[bi] / side, out[bi + 1] / side, out[bi + 2], out[bi + 3]
                if use_sqrt:
                    ow, oh = ow * ow, oh * oh
                iou = box_iou(ox, oy, ow, oh, tx, ty, tw, th)
                rmse = np.sqrt((ox - tx) ** 2 + (oy - ty) ** 2 + (ow - tw) ** 2 + (oh - th) ** 2)
                if best_iou > 0 or iou > 0:
                    if iou > best_iou:
                        best_iou, best = iou, j
                elif rmse < best_rmse:
                    best_rmse, best = rmse, j
            if forced:
                best = 1 if tw * th < 0.1 else 0
            if picks[b * locations + i] >= 0:
                best = picks[b * locations + i]
            if best < 0:               # every box farther than Darknet's rmse cut-off (20): it uses index -1
                best = 0
            bi = index + locations * (classes + n) + (i * n + best) * coords
            ox, oy, ow, oh = out[bi] / side, out[bi + 1] / side, out[bi + 2], out[bi + 3]
            if use_sqrt:
                ow, oh = ow * ow, oh * oh
            iou = box_iou(ox, oy, ow, oh, tx, ty, tw, th)
            p = index + locations * classes + i * n + best
            loss -= 0.5 * noobject_scale * out[p] * out[p]
            target = iou if rescore else 1.0
            delta[p] = object_scale * (target - out[p])
            loss += 0.5 * object_scale * (target - out[p]) ** 2
            for k in range(4):
                tk = truth[tb + k]
                if use_sqrt and k >= 2:
                    tk = np.sqrt(tk)
                delta[bi + k] = coord_scale * (tk - out[bi + k])
                loss += 0.5 * coord_scale * (tk - out[bi + k]) ** 2
            iou_sum += iou
            count += 1
    return loss, iou_sum, count
