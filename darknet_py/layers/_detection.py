"""What [yolo], [Gaussian_yolo] and [region] share: cfg keys, truth checks and Darknet's statistics line.

Truth layout (net.truth, per batch item): consecutive boxes (x, y, w, h, [extra], class), x/y the box
centre and w/h its size relative to the network input; the list ends at the first box whose x is
exactly 0 (Darknet's ``if(!truth.x) break;``). A box Darknet would turn into an out-of-bounds write
(a centre outside [0, 1), a size <= 0, a class outside 0..classes-1, NaN) is a DarknetError here.
"""
import math

import numpy as np

from ..cfg import warn
from ..errors import DarknetError
from ..kernels import detection as dk
from .base import Option

# Keys of AlexeyAB's [yolo]/[Gaussian_yolo] that only tune the fork's own training loss, which is not
# implemented here: accepted with one warning per section (they change no inference number).
FORK_LOSS_KEYS = ("iou_normalizer", "obj_normalizer", "cls_normalizer", "delta_normalizer", "uc_normalizer",
                  "iou_loss", "iou_thresh", "iou_thresh_kind", "max_delta", "counters_per_class",
                  "label_smooth_eps", "objectness_smooth", "focal_loss")
# Keys of the fork used by its video tracker and console output only.
FORK_TRACKING_KEYS = ("track_history_size", "sim_thresh", "dets_for_track", "dets_for_show", "track_ciou_norm",
                      "embedding_layer", "show_details")
FORK_OPTIONS = tuple(Option(k, None, "AlexeyAB's training-loss key: accepted with a warning, no effect here")
                     for k in FORK_LOSS_KEYS) + tuple(
    Option(k, None, "AlexeyAB's tracking/console key: accepted with a warning, no effect here")
    for k in FORK_TRACKING_KEYS)
NMS_KINDS = ("default", "greedynms", "diounms", "cornersnms")


def parse_anchors(opts, count):
    """``anchors`` as w,h floats: 2*count of them (Darknet's default 0.5 each).

    Shipped cfgs disagree with their num= (cspx-p7-mish.cfg: 40 values for num=16; a missing comma
    elsewhere leaves 31): Darknet keeps the values it has and 0.5 for the missing ones, and so do we, with
    a warning. Values beyond 2*count are kept for a mask that points past num (see ``parse_mask``)."""
    anchors = opts.float_list("anchors", None)
    if anchors is None:
        return [0.5] * (2 * count)
    if len(anchors) != 2 * count:
        line = opts.section.options["anchors"][1]
        what = "the missing ones are 0.5, as in Darknet" if len(anchors) < 2 * count else \
            "the extra pairs serve only a mask= beyond num"
        warn(f"anchors= has {len(anchors)} values, num={count} needs {2 * count}: {what}",
             opts.section.path, line, opts.section.type)
    return anchors + [0.5] * (2 * count - len(anchors))


def parse_mask(opts, total, anchors):
    """``mask`` indexes (default 0..total-1). An index past num but within the anchors written is what a
    shipped cfg means (Darknet reads past its anchor array there): kept, with a warning."""
    mask = opts.int_list("mask", None)
    if mask is None:
        return list(range(total))
    available = len(anchors) // 2
    for m in mask:
        if not 0 <= m < available:
            raise opts.error(f"mask={m} is not one of the num={total} anchors (0..{total - 1})", "mask")
    beyond = [m for m in mask if m >= total]
    if beyond:
        warn(f"mask={','.join(map(str, beyond))} points past num={total}: Darknet reads beyond its anchors "
             f"(undefined values); using the anchors= pairs as written", opts.section.path,
             opts.section.options["mask"][1], opts.section.type)
    return mask


def read_fork_keys(opts, layer_name):
    """Read AlexeyAB's extra keys; warn once (at the first one's line) about those with no effect here.

    Returns the post-processing settings the detection code reads from the layer (nms_kind, beta_nms)."""
    present = [k for k in FORK_LOSS_KEYS + FORK_TRACKING_KEYS if opts.has(k)]
    for key in present:
        opts.raw(key)
    loss = [k for k in present if k in FORK_LOSS_KEYS]
    tracking = [k for k in present if k in FORK_TRACKING_KEYS]
    section = opts.section
    if loss:
        warn(f"{', '.join(loss)}: AlexeyAB's {layer_name} training-loss settings, no effect on the "
             f"pjreddie-style loss here", section.path, section.options[loss[0]][1], section.type)
    if tracking:
        warn(f"{', '.join(tracking)}: AlexeyAB's tracking/console settings, no effect here",
             section.path, section.options[tracking[0]][1], section.type)
    opts.float("resize", 1.0)                       # training augmentation, like jitter and random
    return {"nms_kind": opts.str("nms_kind", "default", choices=NMS_KINDS),
            "beta_nms": opts.float("beta_nms", 0.6)}


def check_truth(layer, truth, step, max_boxes, class_offset):
    """DarknetError unless every box the loss will read fits the grid and the classes (see module doc)."""
    if truth.size != layer.batch * layer.truths:
        raise DarknetError(f"layer {layer.index} [{layer.type}]: net.truth has {truth.size} values, this layer "
                           f"reads {layer.truths} per image (is it the network's last layer?)")
    boxes = truth.reshape(layer.batch, layer.truths)[:, :max_boxes * step].reshape(layer.batch, max_boxes, step)
    live = np.cumprod(boxes[:, :, 0] != 0, axis=1).astype(bool)     # up to the first x == 0
    used = boxes[live].astype(np.float64)
    if not used.size:
        return
    x, y, w, h, cls = used[:, 0], used[:, 1], used[:, 2], used[:, 3], used[:, class_offset]
    with np.errstate(invalid="ignore"):
        ok = (np.isfinite(used[:, :4]).all(axis=1) & (x >= 0) & (x < 1) & (y >= 0) & (y < 1) & (w > 0) & (h > 0)
              & np.isfinite(cls) & (np.trunc(cls) >= 0) & (np.trunc(cls) < layer.classes))
    if not ok.all():
        k = int(np.argmin(ok))
        raise DarknetError(f"layer {layer.index} [{layer.type}]: truth box {tuple(float(v) for v in used[k])} "
                           f"does not fit: x, y must be in [0, 1), w, h > 0 and the class in 0..{layer.classes - 1}")


def finish_stats(sums, predictions, recall75=True):
    """Darknet's printed averages from the kernel's sums (0/0 is NaN, as Darknet prints it)."""
    count, class_count = sums[dk.STAT_COUNT], sums[dk.STAT_CLASS_COUNT]
    per = lambda value, n: float(value) / n if n else math.nan
    stats = {"avg_iou": per(sums[dk.STAT_IOU], count), "class": per(sums[dk.STAT_CLASS], class_count),
             "obj": per(sums[dk.STAT_OBJ], count), "no_obj": float(sums[dk.STAT_ANYOBJ]) / predictions}
    if recall75:
        stats.update(recall50=per(sums[dk.STAT_RECALL50], count), recall75=per(sums[dk.STAT_RECALL75], count))
    else:
        stats["avg_recall"] = per(sums[dk.STAT_RECALL50], count)
    stats["count"] = int(count)
    return stats
