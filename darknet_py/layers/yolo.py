"""[yolo]: YOLOv3 detection head (yolo_layer.c): inference forward and a gradient for injected deltas.

Layout per batch item: (anchor, 4+1+classes, h, w) for the ``mask``-selected anchors. The forward
copies the input and applies the logistic to tx, ty, the objectness and the class scores; tw, th stay
raw. Darknet's training loss (box matching against net.truth) is not implemented: a training forward
WITH a truth raises DarknetError rather than silently training on nothing.

Backward: default is the true gradient of this forward for a delta w.r.t. the outputs (injected with
Network.backward or added by later layers): y(1-y) on the logistic entries, 1 on tw/th. compat is
Darknet's pass-through net.delta += delta (its delta is computed w.r.t. the logits by the loss).
"""
import numpy as np

from ..errors import DarknetError
from ..kernels import blas
from ..kernels import detection as dk
from ..kernels.activations import LOGISTIC, activate
from ..registry import register_layer
from .base import Layer, Option, shape3


def parse_anchors(opts, count):
    """``anchors`` as 2*count floats (Darknet's default 0.5 each); another count is a CfgError."""
    anchors = opts.float_list("anchors", None)
    if anchors is None:
        return [0.5] * (2 * count)
    if len(anchors) != 2 * count:
        raise opts.error(f"anchors= has {len(anchors)} values; num={count} needs {2 * count} (w,h pairs)",
                         "anchors")
    return anchors


@register_layer("yolo")
class Yolo(Layer):
    OPTIONS = (
        Option("classes", 20, "number of classes"),
        Option("num", 1, "total number of anchors in anchors="),
        Option("mask", "0..num-1", "indexes of the anchors this head predicts"),
        Option("anchors", "0.5,...", "w,h pairs in network input pixels, num of them"),
        Option("max", 90, "most truth boxes per image (sizes net.truth)"),
        Option("jitter", 0.2, "training data augmentation (read for the training tools)"),
        Option("ignore_thresh", 0.5, "training loss: IoU above which no objectness penalty"),
        Option("truth_thresh", 1.0, "training loss: IoU above which a prediction counts as matched"),
        Option("random", 0, "training: random input resizing"),
        Option("map", None, "class map file: not supported"),
    )

    def __init__(self, batch, in_shape, classes, mask, anchors, max_boxes=90, dtype=None):
        super().__init__(batch, in_shape, in_shape, dtype=dtype)   # output, delta: (B, anchors*(5+classes), H, W)
        self.classes, self.mask, self.anchors = classes, tuple(mask), tuple(anchors)
        self.n = len(mask)
        self.max_boxes = max_boxes
        self.truths = max_boxes * (4 + 1)      # net.truth per image: max_boxes (x, y, w, h, class)
        self.cost = None
        kinds = [dk.SIGMOID, dk.SIGMOID, dk.RAW, dk.RAW] + [dk.SIGMOID] * (1 + classes)
        self.kinds = np.array(kinds, dtype=np.int64)    # (4+1+classes,) what the forward did to each entry

    @classmethod
    def from_options(cls, opts, in_shape, net):
        c, h, w = shape3(in_shape, opts, "yolo")
        classes = opts.int("classes", 20, min=1)
        total = opts.int("num", 1, min=1)
        mask = opts.int_list("mask", None)
        if mask is None:
            mask = list(range(total))
        for m in mask:
            if not 0 <= m < total:
                raise opts.error(f"mask={m} is not one of the num={total} anchors (0..{total - 1})", "mask")
        anchors = parse_anchors(opts, total)
        if c != len(mask) * (4 + 1 + classes):
            raise opts.error(f"the input has {c} channels; {len(mask)} masked anchors x (4+1+classes={classes}) "
                             f"need {len(mask) * (5 + classes)} (set filters= of the layer before)")
        max_boxes = opts.int("max", 90, min=1)
        opts.float("jitter", 0.2)
        opts.float("ignore_thresh", 0.5)
        opts.float("truth_thresh", 1.0)
        opts.int("random", 0)
        if opts.raw("map", None) is not None:
            raise opts.error("map= is not supported", "map")
        return cls(net.batch, in_shape, classes, mask, anchors, max_boxes, dtype=net.dtype)

    def forward(self, net):
        if net.train and net.truth is not None:
            raise DarknetError(f"layer {self.index} [yolo]: yolo training loss not implemented "
                               f"(run forward without truth and inject a delta with Network.backward)")
        blas.copy(net.input, self.output)
        wh = self.in_shape[1] * self.in_shape[2]
        block = (4 + 1 + self.classes) * wh
        for b in range(self.batch * self.n):           # logistic on tx, ty, then objectness + classes
            start = b * block
            activate(self.output[start:start + 2 * wh], 2 * wh, LOGISTIC)
            activate(self.output[start + 4 * wh:start + block], block - 4 * wh, LOGISTIC)

    def backward(self, net):
        if net.delta is None:
            return
        if net.compat:
            blas.axpy(1.0, self.delta, net.delta)
            return
        wh = self.in_shape[1] * self.in_shape[2]
        dk.entries_backward(self.output, self.delta, net.delta, self.kinds, self.batch * self.n,
                            4 + 1 + self.classes, wh)

    def summary(self):
        return {"filters": "", "size": f"{self.n} anchors"}
