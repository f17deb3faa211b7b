"""Kernels of Darknet's box post-processing (box.c): IoU in float32 and do_nms_sort's suppression.

Boxes are rows (x, y, w, h) of a float32 (n, 4) array, centre and size. The arithmetic is float32
throughout, as in C (``half`` comes in as a float32 0.5 so that nothing widens to float64), so that
an IoU right at the NMS threshold is decided as Darknet decides it.
"""
from ._jit import kernel


@kernel
def _overlap(x1, w1, x2, w2, half):
    """Length of the overlap of two 1-D segments given by centre and size (negative when apart)."""
    l1 = x1 - w1 * half
    l2 = x2 - w2 * half
    left = l1 if l1 > l2 else l2
    r1 = x1 + w1 * half
    r2 = x2 + w2 * half
    right = r1 if r1 < r2 else r2
    return right - left


@kernel
def box_iou(boxes, a, b, half):
    """box_iou of rows a and b: intersection / union, 0 intersection when the boxes do not overlap."""
    ax, ay, aw, ah = boxes[a, 0], boxes[a, 1], boxes[a, 2], boxes[a, 3]
    bx, by, bw, bh = boxes[b, 0], boxes[b, 1], boxes[b, 2], boxes[b, 3]
    w = _overlap(ax, aw, bx, bw, half)
    h = _overlap(ay, ah, by, bh, half)
    inter = w * h
    if w < 0 or h < 0:
        inter = half - half
    union = aw * ah + bw * bh - inter
    return inter / union


@kernel
def objectness_to_front(objectness, order):
    """do_nms_sort's first loop: swap every det with objectness 0 to the end (Darknet's swap order,
    which is not stable). Permutes ``order`` in place; returns how many dets remain in front."""
    k = order.size - 1
    i = 0
    while i <= k:
        if objectness[order[i]] == 0:
            swap = order[i]
            order[i] = order[k]
            order[k] = swap
            k -= 1
        else:
            i += 1
    return k + 1


@kernel
def suppress_class(boxes, prob, order, total, k, thresh, half):
    """For class k over the first ``total`` dets of ``order`` (already sorted by prob[:, k]
    descending): each det with a non-zero prob zeroes prob[j, k] of every later det j whose IoU
    with it exceeds ``thresh`` (a det already at 0 is skipped: zeroing it changes nothing)."""
    for i in range(total):
        a = order[i]
        if prob[a, k] == 0:
            continue
        for j in range(i + 1, total):
            b = order[j]
            if prob[b, k] != 0 and box_iou(boxes, a, b, half) > thresh:
                prob[b, k] = 0
