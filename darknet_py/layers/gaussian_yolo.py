"""[Gaussian_yolo]: AlexeyAB's Gaussian YOLOv3 head (gaussian_yolo_layer.c): inference forward only.

Layout per batch item: (anchor, 8+1+classes, h, w); entries 0-7 are the box as (mean, uncertainty)
pairs: x, sigma_x, y, sigma_y, w, sigma_w, h, sigma_h, then the objectness and the class scores.
The forward copies the input and applies the logistic to x, y and their uncertainties, to the w and h
uncertainties and to the objectness and classes; the w and h means stay raw. ``scale_x_y`` maps the x
and y means (not their uncertainties) to s*x - (s-1)/2, as the fork's CPU code does.

Its training loss (Gaussian negative log-likelihood of the box) is not implemented: a training
forward with a truth raises DarknetError. Backward: default mode applies the forward's Jacobian to a
delta injected with Network.backward; compat passes it through, as the fork does (its delta is
meant to be w.r.t. the logits).
"""
import numpy as np

from ..errors import DarknetError
from ..kernels import blas
from ..kernels import detection as dk
from ..kernels.activations import LOGISTIC, activate
from ..registry import register_layer
from ._detection import FORK_OPTIONS, parse_anchors, parse_mask, read_fork_keys
from .base import Layer, Option, shape3
from .yolo import scale_xy_shift

BOX_ENTRIES = 8                            # (mean, sigma) of x, y, w, h
SIGMOID_BOX_ENTRIES = (1, 3, 5, 7)         # the uncertainties
YOLO_POINTS = ("center", "left_top", "right_bottom")


@register_layer("Gaussian_yolo", "gaussian_yolo")
class GaussianYolo(Layer):
    OPTIONS = (
        Option("classes", 20, "number of classes"),
        Option("num", 1, "total number of anchors in anchors="),
        Option("mask", "0..num-1", "indexes of the anchors this head predicts"),
        Option("anchors", "0.5,...", "w,h pairs in network input pixels, num of them"),
        Option("max", 200, "most truth boxes per image (sizes net.truth: 6 floats per box)"),
        Option("jitter", 0.2, "training data augmentation (read for the training tools)"),
        Option("ignore_thresh", 0.5, "training loss (not implemented)"),
        Option("truth_thresh", 1.0, "training loss (not implemented)"),
        Option("random", 0, "training: random input resizing"),
        Option("resize", 1.0, "training augmentation (read for the training tools)"),
        Option("scale_x_y", 1.0, "x, y means = x*s - (s-1)/2 after the logistic"),
        Option("yolo_point", "center", "what x, y locate: center, left_top or right_bottom (box decoding)"),
        Option("nms_kind", "default", "default, greedynms, diounms, cornersnms (for the NMS step)"),
        Option("beta_nms", 0.6, "DIoU-NMS beta (for the NMS step)"),
        Option("map", None, "class map file: not supported"),
    ) + FORK_OPTIONS
    truth_fields = 6

    def __init__(self, batch, in_shape, classes, mask, anchors, max_boxes=200, scale_x_y=1.0, dtype=None):
        super().__init__(batch, in_shape, in_shape, dtype=dtype)   # output, delta: (B, anchors*(9+classes), H, W)
        self.classes, self.mask, self.anchors = classes, tuple(mask), tuple(anchors)
        self.n = len(mask)
        self.max_boxes = max_boxes
        self.truths = max_boxes * self.truth_fields    # net.truth per image
        self.scale_x_y = scale_x_y
        self.yolo_point, self.nms_kind, self.beta_nms = "center", "default", 0.6
        self.cost = None
        xy = dk.XY_SIGMOID if scale_x_y != 1 else dk.SIGMOID
        kinds = [xy, dk.SIGMOID, xy, dk.SIGMOID, dk.RAW, dk.SIGMOID, dk.RAW, dk.SIGMOID] + [dk.SIGMOID] * (1 + classes)
        self.kinds = np.array(kinds, dtype=np.int64)    # (9+classes,) what the forward did to each entry

    @classmethod
    def from_options(cls, opts, in_shape, net):
        c, h, w = shape3(in_shape, opts, "Gaussian_yolo")
        classes = opts.int("classes", 20, min=1)
        total = opts.int("num", 1, min=1)
        anchors = parse_anchors(opts, total)
        mask = parse_mask(opts, total, anchors)
        entries = BOX_ENTRIES + 1 + classes
        if c != len(mask) * entries:
            raise opts.error(f"the input has {c} channels; {len(mask)} masked anchors x (8+1+classes={classes}) "
                             f"need {len(mask) * entries} (set filters= of the layer before)")
        if opts.raw("map", None) is not None:
            raise opts.error("map= is not supported", "map")
        for key, default in (("jitter", 0.2), ("ignore_thresh", 0.5), ("truth_thresh", 1.0), ("random", 0.0)):
            opts.float(key, default)
        post = read_fork_keys(opts, "[Gaussian_yolo]")
        layer = cls(net.batch, in_shape, classes, mask, anchors, opts.int("max", 200, min=1),
                    opts.float("scale_x_y", 1.0), dtype=net.dtype)
        layer.yolo_point = opts.str("yolo_point", "center", choices=YOLO_POINTS)
        layer.nms_kind, layer.beta_nms = post["nms_kind"], post["beta_nms"]
        return layer

    def forward(self, net):
        if net.train and net.truth is not None:
            raise DarknetError(f"layer {self.index} [Gaussian_yolo]: its training loss (AlexeyAB's Gaussian "
                               f"YOLOv3) is not implemented; only inference and injected deltas are")
        blas.copy(net.input, self.output)
        wh = self.in_shape[1] * self.in_shape[2]
        block = (BOX_ENTRIES + 1 + self.classes) * wh
        shift = scale_xy_shift(self.scale_x_y, self.dtype)
        out = self.output
        for b in range(self.batch * self.n):
            start = b * block
            activate(out[start:start + 4 * wh], 4 * wh, LOGISTIC)          # x, sigma_x, y, sigma_y
            for e in SIGMOID_BOX_ENTRIES[2:]:                                # sigma_w, sigma_h
                activate(out[start + e * wh:start + (e + 1) * wh], wh, LOGISTIC)
            activate(out[start + BOX_ENTRIES * wh:start + block], block - BOX_ENTRIES * wh, LOGISTIC)
            if self.scale_x_y != 1:
                dk.scale_add(out, start, wh, self.scale_x_y, shift)             # x mean
                dk.scale_add(out, start + 2 * wh, wh, self.scale_x_y, shift)    # y mean

    def backward(self, net):
        if net.delta is None:
            return
        if net.compat:
            blas.axpy(1.0, self.delta, net.delta)
            return
        wh = self.in_shape[1] * self.in_shape[2]
        dk.entries_backward(self.output, self.delta, net.delta, self.kinds, self.batch * self.n,
                            BOX_ENTRIES + 1 + self.classes, wh, float(self.scale_x_y))

    def summary(self):
        return {"filters": "", "size": f"{self.n} anchors"}
