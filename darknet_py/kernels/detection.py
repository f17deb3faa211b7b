"""Kernels of the detection heads ([yolo], [region], [Gaussian_yolo]): forward extras, Darknet's
training losses (yolo_layer.c / region_layer.c) and the backward of injected deltas.

Output layout (batch, anchor, entry, h, w): ``blocks`` = batch*anchors blocks of ``entries`` planes of
``spatial`` = h*w values; entry e of anchor slot s at cell (j, i) of item b is at
``((b*n + s)*entries + e)*spatial + j*w + i``.

The losses reproduce Darknet's float arithmetic: where its C code computes in float the kernels
round to the buffers' dtype (``F = y.dtype.type``) after every operation, and where it goes through
double (``exp``, ``log``, the anchor divisions) they compute in float64 and round once, as the C
assignment does. Thresholds arrive as Python floats and are rounded to the dtype like Darknet's
``float`` fields. In float64 (gradient checks) every rounding is the identity.

Statistics: ``stats`` (float64, length STATS) receives the sums Darknet prints (see STAT_* below).
"""
import math

from ._jit import kernel, parallel_kernel, prange

RAW, SIGMOID, SOFTMAX, XY_SIGMOID, XY_RAW = 0, 1, 2, 3, 4
# indexes into ``stats``: sums and counts of Darknet's printed training line
STAT_IOU, STAT_RECALL50, STAT_RECALL75, STAT_CLASS, STAT_OBJ, STAT_ANYOBJ, STAT_COUNT, STAT_CLASS_COUNT = range(8)
STATS = 8


# ---------------------------------------------------------------- inference forward extras
@kernel
def scale_add(y, start, n, scale, shift):
    """y[start:start+n] = y*scale + shift in the buffer's dtype (AlexeyAB's scal_add_cpu for scale_x_y)."""
    F = y.dtype.type
    s, b = F(scale), F(shift)
    for k in range(start, start + n):
        y[k] = y[k] * s + b


# ---------------------------------------------------------------- backward of injected deltas
@parallel_kernel
def entries_backward(y, dy, dx, kinds, blocks, entries, spatial, scale_xy):
    """dx += J^T dy per entry kind: RAW 1, SIGMOID y(1-y), XY_RAW scale_xy, XY_SIGMOID scale_xy*s(1-s)
    with s = (y + (scale_xy-1)/2)/scale_xy the logistic before AlexeyAB's scale_x_y; SOFTMAX skipped
    (kernels.softmax.softmax_backward)."""
    shift = 0.5 * (scale_xy - 1.0)
    for plane in prange(blocks * entries):           # one entry plane per iteration: disjoint writes
        kind = kinds[plane % entries]
        base = plane * spatial
        if kind == RAW:
            for k in range(base, base + spatial):
                dx[k] += dy[k]
        elif kind == SIGMOID:
            for k in range(base, base + spatial):
                dx[k] += dy[k] * y[k] * (1.0 - y[k])
        elif kind == XY_RAW:
            for k in range(base, base + spatial):
                dx[k] += dy[k] * scale_xy
        elif kind == XY_SIGMOID:
            for k in range(base, base + spatial):
                s = (y[k] + shift) / scale_xy
                dx[k] += dy[k] * scale_xy * s * (1.0 - s)


# ---------------------------------------------------------------- boxes in Darknet's float arithmetic
@kernel
def box_iou(y, ax, ay, aw, ah, bx, by, bw, bh):
    """box.c box_iou in y's dtype: overlap per axis (x -+ w/2), 0 if either is negative, I/U."""
    half = y.dtype.type(0.5)                        # w/2 == w*0.5 exactly; a float64 literal would promote
    w = min(ax + aw * half, bx + bw * half) - max(ax - aw * half, bx - bw * half)
    h = min(ay + ah * half, by + bh * half) - max(ay - ah * half, by - bh * half)
    inter = w * h
    if w < 0 or h < 0:
        inter = y.dtype.type(0)
    union = aw * ah + bw * bh - inter
    return inter / union


@kernel
def predicted_box(y, anchor_w, anchor_h, index, i, j, lw, lh, w, h, stride):
    """get_yolo_box / get_region_box: x = (i + tx)/lw in float, w = exp(tw)*anchor/w through double."""
    F = y.dtype.type
    bx = (F(i) + y[index]) / F(lw)
    by = (F(j) + y[index + stride]) / F(lh)
    bw = F(math.exp(float(y[index + 2 * stride])) * float(anchor_w) / w)
    bh = F(math.exp(float(y[index + 3 * stride])) * float(anchor_h) / h)
    return bx, by, bw, bh


@kernel
def box_delta(y, delta, index, stride, tx, ty, tw_log_arg, th_log_arg, scale):
    """delta = scale*(target - y) for tx, ty, tw, th; tw/th targets are log(arg) through double."""
    F = y.dtype.type
    tw = F(math.log(float(tw_log_arg)))
    th = F(math.log(float(th_log_arg)))
    delta[index] = scale * (tx - y[index])
    delta[index + stride] = scale * (ty - y[index + stride])
    delta[index + 2 * stride] = scale * (tw - y[index + 2 * stride])
    delta[index + 3 * stride] = scale * (th - y[index + 3 * stride])


@kernel
def best_truth_iou(y, truth, tb, max_boxes, bx, by, bw, bh):
    """(best IOU, its truth slot) of a predicted box against the image's truths, which end at x == 0."""
    F = y.dtype.type
    best, best_t = F(0), 0
    for t in range(max_boxes):
        k = tb + t * 5
        if truth[k] == 0:
            break
        iou = box_iou(y, bx, by, bw, bh, truth[k], truth[k + 1], truth[k + 2], truth[k + 3])
        if iou > best:
            best, best_t = iou, t
    return best, best_t


# ---------------------------------------------------------------- [yolo] training loss
@kernel
def yolo_class_delta(y, delta, index, cls, classes, stride, stats, count_it):
    """delta_yolo_class: if class 0's delta is already set only this class gets 1 - p (multi-label)."""
    one = y.dtype.type(1)
    if delta[index] != 0:
        delta[index + stride * cls] = one - y[index + stride * cls]
        if count_it:
            stats[STAT_CLASS] += y[index + stride * cls]
        return
    for c in range(classes):
        target = one if c == cls else one * 0
        delta[index + stride * c] = target - y[index + stride * c]
        if c == cls and count_it:
            stats[STAT_CLASS] += y[index + stride * c]


@kernel
def yolo_box_delta(y, delta, truth, k, anchors, a, index, i, j, lw, lh, net_w, net_h, stride):
    """delta_yolo_box with scale 2 - w*h; returns the IOU of the prediction with the truth."""
    F = y.dtype.type
    gx, gy, gw, gh = truth[k], truth[k + 1], truth[k + 2], truth[k + 3]
    bx, by, bw, bh = predicted_box(y, anchors[2 * a], anchors[2 * a + 1], index, i, j, lw, lh, net_w, net_h, stride)
    iou = box_iou(y, bx, by, bw, bh, gx, gy, gw, gh)
    scale = F(2) - gw * gh
    box_delta(y, delta, index, stride, gx * F(lw) - F(i), gy * F(lh) - F(j),
              gw * F(net_w) / anchors[2 * a], gh * F(net_h) / anchors[2 * a + 1], scale)
    return iou


@kernel
def yolo_loss(y, delta, truth, anchors, mask, batch, n, lh, lw, classes, total, net_w, net_h, max_boxes,
              truths, ignore_thresh, truth_thresh, stats):
    """forward_yolo_layer's training part: writes ``delta`` (zeroed before) and adds the statistics.

    ``truth``: batch x ``truths`` floats, boxes of (x, y, w, h, class); ``anchors``: 2*total (w, h)
    in input pixels, in the dtype; ``mask``: the n anchors this head predicts."""
    F = y.dtype.type
    ignore, matched = F(ignore_thresh), F(truth_thresh)
    one = F(1)
    wh = lh * lw
    entries = 5 + classes
    outputs = n * entries * wh
    for b in range(batch):
        tb = b * truths
        for j in range(lh):
            for i in range(lw):
                for s in range(n):
                    index = b * outputs + s * entries * wh + j * lw + i
                    a = mask[s]
                    bx, by, bw, bh = predicted_box(y, anchors[2 * a], anchors[2 * a + 1], index, i, j, lw, lh,
                                                   net_w, net_h, wh)
                    best, best_t = best_truth_iou(y, truth, tb, max_boxes, bx, by, bw, bh)
                    obj = index + 4 * wh
                    stats[STAT_ANYOBJ] += y[obj]
                    delta[obj] = 0 - y[obj]
                    if best > ignore:
                        delta[obj] = 0
                    if best > matched:
                        delta[obj] = one - y[obj]
                        k = tb + best_t * 5
                        yolo_class_delta(y, delta, obj + wh, int(truth[k + 4]), classes, wh, stats, False)
                        yolo_box_delta(y, delta, truth, k, anchors, a, index, i, j, lw, lh, net_w, net_h, wh)
        for t in range(max_boxes):
            k = tb + t * 5
            gx, gy, gw, gh = truth[k], truth[k + 1], truth[k + 2], truth[k + 3]
            if gx == 0:
                break
            i = min(max(int(gx * F(lw)), 0), lw - 1)      # clamps only what Darknet would write out of bounds
            j = min(max(int(gy * F(lh)), 0), lh - 1)
            best, best_a = F(0), 0
            for a in range(total):                          # shape-only IOU with every anchor, first best wins
                iou = box_iou(y, F(0), F(0), anchors[2 * a] / F(net_w), anchors[2 * a + 1] / F(net_h),
                              F(0), F(0), gw, gh)
                if iou > best:
                    best, best_a = iou, a
            s = -1
            for m in range(n):
                if mask[m] == best_a:
                    s = m
                    break
            if s < 0:                                       # best anchor belongs to another head
                continue
            index = b * outputs + s * entries * wh + j * lw + i
            iou = yolo_box_delta(y, delta, truth, k, anchors, best_a, index, i, j, lw, lh, net_w, net_h, wh)
            obj = index + 4 * wh
            stats[STAT_OBJ] += y[obj]
            delta[obj] = one - y[obj]
            yolo_class_delta(y, delta, obj + wh, int(truth[k + 4]), classes, wh, stats, True)
            stats[STAT_COUNT] += 1
            stats[STAT_CLASS_COUNT] += 1
            if iou > 0.5:
                stats[STAT_RECALL50] += 1
            if iou > 0.75:
                stats[STAT_RECALL75] += 1
            stats[STAT_IOU] += iou


# ---------------------------------------------------------------- [region] training loss
@kernel
def region_class_delta(y, delta, index, cls, classes, scale, stride, stats, tag):
    """delta_region_class without a tree: scale*((c == cls) - p); ``tag`` (not softmax) enables the
    multi-label shortcut when class 0's delta is already set."""
    one = y.dtype.type(1)
    if delta[index] != 0 and tag:
        delta[index + stride * cls] = scale * (one - y[index + stride * cls])
        return
    for c in range(classes):
        target = one if c == cls else one * 0
        delta[index + stride * c] = scale * (target - y[index + stride * c])
        if c == cls:
            stats[STAT_CLASS] += y[index + stride * c]


@kernel
def region_box_delta(y, delta, gx, gy, gw, gh, anchors, a, index, i, j, lw, lh, scale, stride):
    """delta_region_box (anchors in grid units); returns the IOU of the prediction with the truth."""
    F = y.dtype.type
    bx, by, bw, bh = predicted_box(y, anchors[2 * a], anchors[2 * a + 1], index, i, j, lw, lh, lw, lh, stride)
    iou = box_iou(y, bx, by, bw, bh, gx, gy, gw, gh)
    box_delta(y, delta, index, stride, gx * F(lw) - F(i), gy * F(lh) - F(j),
              gw * F(lw) / anchors[2 * a], gh * F(lh) / anchors[2 * a + 1], scale)
    return iou


@kernel
def region_loss(y, delta, truth, anchors, batch, n, lh, lw, coords, classes, truths, max_boxes,
                background, softmax, bias_match, rescore, thresh, object_scale, noobject_scale,
                class_scale, coord_scale, mask_scale, prior, stats):
    """forward_region_layer's training part (no softmax tree): writes ``delta`` and adds the statistics.

    Truth boxes are ``coords + 1`` floats (x, y, w, h, [mask coefficients], class); ``prior`` = the
    net has seen fewer than 12800 images, which pulls every prediction toward its anchor."""
    F = y.dtype.type
    one, zero = F(1), F(0)
    ignore = F(thresh)
    obj_s, noobj_s, cls_s, coord_s = F(object_scale), F(noobject_scale), F(class_scale), F(coord_scale)
    wh = lh * lw
    entries = coords + 1 + classes
    outputs = n * entries * wh
    step = coords + 1
    for b in range(batch):
        tb = b * truths
        for j in range(lh):
            for i in range(lw):
                for s in range(n):
                    index = b * outputs + s * entries * wh + j * lw + i
                    bx, by, bw, bh = predicted_box(y, anchors[2 * s], anchors[2 * s + 1], index, i, j, lw, lh,
                                                   lw, lh, wh)
                    best = zero
                    for t in range(max_boxes):
                        k = tb + t * step
                        if truth[k] == 0:
                            break
                        iou = box_iou(y, bx, by, bw, bh, truth[k], truth[k + 1], truth[k + 2], truth[k + 3])
                        if iou > best:
                            best = iou
                    obj = index + coords * wh
                    stats[STAT_ANYOBJ] += y[obj]
                    delta[obj] = noobj_s * (zero - y[obj])
                    if background:
                        delta[obj] = noobj_s * (one - y[obj])
                    if best > ignore:
                        delta[obj] = 0
                    if prior:                                # (i + .5)/l.w goes through double
                        px = F((i + 0.5) / lw)
                        py = F((j + 0.5) / lh)
                        region_box_delta(y, delta, px, py, anchors[2 * s] / F(lw), anchors[2 * s + 1] / F(lh),
                                         anchors, s, index, i, j, lw, lh, F(0.01), wh)
        for t in range(max_boxes):
            k = tb + t * step
            gx, gy, gw, gh = truth[k], truth[k + 1], truth[k + 2], truth[k + 3]
            if gx == 0:
                break
            i = min(max(int(gx * F(lw)), 0), lw - 1)
            j = min(max(int(gy * F(lh)), 0), lh - 1)
            best, best_n = zero, 0
            for s in range(n):
                index = b * outputs + s * entries * wh + j * lw + i
                bx, by, bw, bh = predicted_box(y, anchors[2 * s], anchors[2 * s + 1], index, i, j, lw, lh,
                                               lw, lh, wh)
                if bias_match:
                    bw = anchors[2 * s] / F(lw)
                    bh = anchors[2 * s + 1] / F(lh)
                iou = box_iou(y, zero, zero, bw, bh, zero, zero, gw, gh)
                if iou > best:
                    best, best_n = iou, s
            index = b * outputs + best_n * entries * wh + j * lw + i
            iou = region_box_delta(y, delta, gx, gy, gw, gh, anchors, best_n, index, i, j, lw, lh,
                                   coord_s * (F(2) - gw * gh), wh)
            if coords > 4:                                  # Darknet passes mask_scale as an int
                for m in range(coords - 4):
                    e = index + (4 + m) * wh
                    delta[e] = F(mask_scale) * (truth[k + 5 + m] - y[e])
            if iou > 0.5:
                stats[STAT_RECALL50] += 1
            stats[STAT_IOU] += iou
            obj = index + coords * wh
            stats[STAT_OBJ] += y[obj]
            delta[obj] = obj_s * (one - y[obj])
            if rescore:
                delta[obj] = obj_s * (iou - y[obj])
            if background:
                delta[obj] = obj_s * (zero - y[obj])
            region_class_delta(y, delta, obj + wh, int(truth[k + coords]), classes, cls_s, wh, stats, not softmax)
            stats[STAT_COUNT] += 1
            stats[STAT_CLASS_COUNT] += 1


@kernel
def sum_of_squares(a):
    """Darknet's mag_array(a)^2: the sum accumulated in the buffer's dtype, sqrt'ed and squared in double."""
    total = a.dtype.type(0)
    for k in range(a.size):
        total += a[k] * a[k]
    mag = a.dtype.type(math.sqrt(float(total)))
    return float(mag) * float(mag)


# ---------------------------------------------------------------- AlexeyAB's [region] (the YOLOv2 original)
@kernel
def fork_region_forward(x, y, batch, spatial, channels, size, classes, softmax):
    """AlexeyAB's CPU forward_region_layer: the output is flattened to (batch, cell*anchor, size) rows,
    then the logistic (in float, expf) on entry 4 of every row and, with ``softmax``, a softmax over the
    classes from entry 5 (both positions hard-coded for coords=4, as in the fork); x, y stay raw."""
    F = y.dtype.type
    one = F(1)
    per = spatial * channels
    for b in range(batch):
        for c in range(channels):
            for s in range(spatial):
                y[b * per + s * channels + c] = x[b * per + c * spatial + s]
        for r in range(per // size):
            base = b * per + r * size
            y[base + 4] = one / (one + F(math.exp(-float(y[base + 4]))))
            if softmax and classes > 0:
                largest = y[base + 5]
                for k in range(1, classes):
                    largest = max(largest, y[base + 5 + k])
                total = F(0)
                for k in range(classes):
                    e = F(math.exp(float(y[base + 5 + k] - largest)))
                    total += e
                    y[base + 5 + k] = e
                for k in range(classes):
                    y[base + 5 + k] /= total
