"""[yolo]: YOLOv3 detection head (yolo_layer.c), with AlexeyAB's scale_x_y and new_coords.

Layout per batch item: (anchor, 4+1+classes, h, w) for the ``mask``-selected anchors. The forward
copies the input and applies the logistic to tx, ty, the objectness and the class scores; tw, th stay
raw. AlexeyAB's keys: ``new_coords=1`` applies no logistic at all (the conv before it does), and
``scale_x_y`` then maps tx, ty to tx*s - (s-1)/2 (both flavours: a cfg that says it is the fork's).

Training (``net.train`` with a truth, see _detection.py for its layout): Darknet's loss, in both
modes. Every prediction whose best IOU with a truth is <= ignore_thresh gets objectness delta -p
(> truth_thresh: matched to that truth); every truth goes to the cell holding its centre and to the
anchor, among ALL ``num``, whose shape fits it best, and only if that anchor is in ``mask``: box
delta scale*(t - out) with scale 2 - w*h (x, y on the logistic outputs, w, h raw), objectness 1 - p,
classes (c == cls) - p. ``cost`` is Darknet's sum of squared deltas (kept, not reset, by an inference
forward, as in Darknet); ``stats`` the numbers of the line Darknet prints (``stats_line()`` formats it).
With scale_x_y the loss reads the scaled tx, ty, as a pjreddie loss on the fork's outputs would. pjreddie compat without a truth uses Darknet's zero
truth (every objectness gets -p). AlexeyAB's own training loss (iou_loss, normalizers, ...) is not
implemented: compat="alexeyab" with a truth, and new_coords=1 with a truth, raise DarknetError.

Backward: the loss's delta is w.r.t. the logits (binary cross-entropy on x, y, objectness and classes,
squared error on w, h), so after a truth-driven forward both modes pass it through (net.delta += delta),
the true gradient of that loss with the matching held fixed. A delta injected with Network.backward
(or added by later layers) is w.r.t. the outputs: default mode applies the forward's Jacobian
(y(1-y), s on scale_x_y), compat passes it through as Darknet does.
"""
import numpy as np

from ..errors import DarknetError
from ..kernels import blas
from ..kernels import detection as dk
from ..kernels.activations import LOGISTIC, activate
from ..registry import register_layer
from ._detection import FORK_OPTIONS, check_truth, finish_stats, parse_anchors, parse_mask, read_fork_keys
from .base import Layer, Option, shape3

PJREDDIE_TRUTH_BOXES = 90          # make_yolo_layer's hard-coded l.truths = 90*(4+1)


def scale_xy_shift(scale, dtype):
    """AlexeyAB's -0.5*(scale_x_y - 1): the float field promoted to double, rounded back to float."""
    return -0.5 * (float(np.dtype(dtype).type(scale)) - 1.0)


@register_layer("yolo")
class Yolo(Layer):
    OPTIONS = (
        Option("classes", 20, "number of classes"),
        Option("num", 1, "total number of anchors in anchors="),
        Option("mask", "0..num-1", "indexes of the anchors this head predicts"),
        Option("anchors", "0.5,...", "w,h pairs in network input pixels, num of them"),
        Option("max", "90 (alexeyab: 200)", "most truth boxes per image read by the loss"),
        Option("jitter", 0.2, "training data augmentation (read for the training tools)"),
        Option("ignore_thresh", 0.5, "training loss: IoU above which no objectness penalty"),
        Option("truth_thresh", 1.0, "training loss: IoU above which a prediction counts as matched"),
        Option("random", 0, "training: random input resizing"),
        Option("resize", 1.0, "AlexeyAB: training augmentation (read for the training tools)"),
        Option("scale_x_y", 1.0, "AlexeyAB: tx, ty = tx*s - (s-1)/2 after the logistic"),
        Option("new_coords", 0, "AlexeyAB: 1 = no logistic here; w = 4*tw^2*anchor (YOLOv7/scaled-YOLOv4)"),
        Option("nms_kind", "default", "AlexeyAB: default, greedynms, diounms, cornersnms (for the NMS step)"),
        Option("beta_nms", 0.6, "AlexeyAB: DIoU-NMS beta (for the NMS step)"),
        Option("map", None, "class map file: not supported"),
    ) + FORK_OPTIONS
    truth_fields = 5                   # x, y, w, h, class

    def __init__(self, batch, in_shape, classes, mask, anchors, max_boxes=90, ignore_thresh=0.5, truth_thresh=1.0,
                 scale_x_y=1.0, new_coords=False, truth_boxes=PJREDDIE_TRUTH_BOXES, total=None, dtype=None):
        super().__init__(batch, in_shape, in_shape, dtype=dtype)   # output, delta: (B, anchors*(5+classes), H, W)
        self.classes, self.mask, self.anchors = classes, tuple(mask), tuple(anchors)
        self.n = len(mask)
        self.total = total or len(anchors) // 2        # num=: the anchors the best-anchor rule compares
        self.max_boxes = max_boxes
        self.truths = max(max_boxes, truth_boxes) * self.truth_fields   # net.truth per image
        self.ignore_thresh, self.truth_thresh = ignore_thresh, truth_thresh
        self.scale_x_y, self.new_coords = scale_x_y, bool(new_coords)
        self.nms_kind, self.beta_nms = "default", 0.6
        self.cost = None
        self.stats = None                              # Darknet's printed averages after a training forward
        self.delta_wrt_logits = False                  # the forward wrote the loss's delta (backward passes it)
        self.anchor_array = np.array(anchors, dtype=self.dtype)    # (2*total,) w, h in input pixels
        self.mask_array = np.array(mask, dtype=np.int64)           # (n,)
        self.sums = np.zeros(dk.STATS)                             # (STATS,) the loss kernel's statistics
        self.kinds = np.array(self.entry_kinds(), dtype=np.int64)  # (entries,) what the forward did per entry

    def entry_kinds(self):
        xy = (dk.XY_RAW if self.new_coords else dk.XY_SIGMOID) if self.scale_x_y != 1 else \
            (dk.RAW if self.new_coords else dk.SIGMOID)
        rest = dk.RAW if self.new_coords else dk.SIGMOID
        return [xy, xy, dk.RAW, dk.RAW] + [rest] * (1 + self.classes)

    @classmethod
    def from_options(cls, opts, in_shape, net):
        c, h, w = shape3(in_shape, opts, "yolo")
        classes = opts.int("classes", 20, min=1)
        total = opts.int("num", 1, min=1)
        anchors = parse_anchors(opts, total)
        mask = parse_mask(opts, total, anchors)
        if c != len(mask) * (4 + 1 + classes):
            raise opts.error(f"the input has {c} channels; {len(mask)} masked anchors x (4+1+classes={classes}) "
                             f"need {len(mask) * (5 + classes)} (set filters= of the layer before)")
        fork = net.flavour == "alexeyab"
        max_boxes = opts.int("max", 200 if fork else PJREDDIE_TRUTH_BOXES, min=1)
        opts.float("jitter", 0.2)
        opts.float("random", 0)
        if opts.raw("map", None) is not None:
            raise opts.error("map= is not supported", "map")
        scale_x_y = opts.float("scale_x_y", 1.0)
        new_coords = opts.int("new_coords", 0, min=0, max=1)
        post = read_fork_keys(opts, "[yolo]")
        layer = cls(net.batch, in_shape, classes, mask, anchors, max_boxes, opts.float("ignore_thresh", 0.5),
                    opts.float("truth_thresh", 1.0), scale_x_y, new_coords, truth_boxes=0 if fork else PJREDDIE_TRUTH_BOXES,
                    total=total, dtype=net.dtype)
        layer.nms_kind, layer.beta_nms = post["nms_kind"], post["beta_nms"]
        return layer

    # ------------------------------------------------------------ forward
    def forward(self, net):
        blas.copy(net.input, self.output)
        self.activate_outputs()
        self.delta_wrt_logits = False
        self.stats = None
        truth = net.truth
        if not net.train:
            return                                      # Darknet's inference: activations only
        if truth is None:
            if net.flavour != "pjreddie" or self.new_coords:
                return                                  # nothing to learn from: the delta stays 0
            truth, boxes = net.truth_buffer, 0          # pjreddie's net->truth is a zero buffer
        else:
            self.check_loss_supported(net)
            check_truth(self, truth, self.truth_fields, self.max_boxes, 4)
            boxes = self.max_boxes
        self.training_loss(net, truth, boxes)

    def activate_outputs(self):
        wh = self.in_shape[1] * self.in_shape[2]
        block = (4 + 1 + self.classes) * wh
        shift = scale_xy_shift(self.scale_x_y, self.dtype)
        for b in range(self.batch * self.n):
            start = b * block
            if not self.new_coords:                     # logistic on tx, ty, then objectness + classes
                activate(self.output[start:start + 2 * wh], 2 * wh, LOGISTIC)
                activate(self.output[start + 4 * wh:start + block], block - 4 * wh, LOGISTIC)
            if self.scale_x_y != 1:
                dk.scale_add(self.output, start, 2 * wh, self.scale_x_y, shift)

    def check_loss_supported(self, net):
        if net.flavour == "alexeyab":
            raise DarknetError(f"layer {self.index} [yolo]: AlexeyAB's yolo training loss is not implemented "
                               f"(compat='alexeyab'); default mode and compat='pjreddie' train with pjreddie's loss")
        if self.new_coords:
            raise DarknetError(f"layer {self.index} [yolo]: the training loss of new_coords=1 (AlexeyAB's) is "
                               f"not implemented")

    def training_loss(self, net, truth, boxes):
        _, h, w = self.in_shape
        self.sums[:] = 0.0
        dk.yolo_loss(self.output, self.delta, truth, self.anchor_array, self.mask_array, self.batch, self.n, h, w,
                     self.classes, self.total, net.input_shape[2], net.input_shape[1], boxes, self.truths,
                     self.ignore_thresh, self.truth_thresh, self.sums)
        self.cost = dk.sum_of_squares(self.delta)
        self.stats = finish_stats(self.sums, self.batch * self.n * h * w)
        self.delta_wrt_logits = True

    def stats_line(self):
        """The line Darknet prints after a training forward (None before one)."""
        s = self.stats
        if s is None:
            return None
        return (f"Region {self.index} Avg IOU: {s['avg_iou']:f}, Class: {s['class']:f}, Obj: {s['obj']:f}, "
                f"No Obj: {s['no_obj']:f}, .5R: {s['recall50']:f}, .75R: {s['recall75']:f},  count: {s['count']}")

    # ------------------------------------------------------------ backward
    def backward(self, net):
        if net.delta is None:
            return
        if net.compat or self.delta_wrt_logits:
            blas.axpy(1.0, self.delta, net.delta)
            return
        wh = self.in_shape[1] * self.in_shape[2]
        dk.entries_backward(self.output, self.delta, net.delta, self.kinds, self.batch * self.n,
                            4 + 1 + self.classes, wh, float(self.scale_x_y))

    def summary(self):
        return {"filters": "", "size": f"{self.n} anchors"}
