"""[detection]: YOLOv1's output layer (detection_layer.c): forward, training deltas and cost, backward.

Per batch item the input holds side*side cells of class probabilities, then n objectness values per
cell, then n boxes of ``coords`` values per cell (kernels/yolov1.py has the layout and the truth's).
Forward copies the input and, with ``softmax=1``, applies a softmax over each cell's classes.

Training (a forward with ``truth``): Darknet's targets. Every objectness is pushed to 0
(noobject_scale); in a cell with an object the classes to the truth (class_scale), the responsible box
(the best iou, or the smallest rmse when no box overlaps; ``forced``/``random`` as in Darknet) to the
truth box (coord_scale; sqrt(w), sqrt(h) with ``sqrt=1``) and its objectness to 1 or, with
``rescore=1``, to its iou (object_scale). delta = scale * (target - output).
* ``cost``: Darknet reports sum(delta^2); the default reports sum(scale/2 * (target - output)^2), the
  loss whose minus gradient the delta is (targets held constant), so training steps descend it.
* backward: Darknet passes the delta through (net.delta += delta). The default does too for the
  objectness and box entries; class entries go through the softmax's Jacobian when ``softmax=1``
  (compat: pass-through, as Darknet). The same rule applies to a delta injected with Network.backward.
* ``random=1`` draws the responsible box from the network's seeded rng (Darknet: rand()) while
  fewer than 64000 images were seen.
"""
import numpy as np

from ..kernels import blas
from ..kernels import softmax as sm
from ..kernels import yolov1
from ..registry import register_layer
from .base import Layer, Option, alloc

RANDOM_UNTIL_SEEN = 64000        # Darknet picks the responsible box at random before this many images


@register_layer("detection")
class Detection(Layer):
    OPTIONS = (
        Option("coords", 1, "box values per box (4)"),
        Option("classes", 1, "number of classes"),
        Option("num", 1, "boxes per cell"),
        Option("side", 7, "cells per side"),
        Option("softmax", 0, "1: softmax over each cell's class probabilities"),
        Option("sqrt", 0, "1: the boxes predict sqrt(w), sqrt(h)"),
        Option("rescore", 0, "1: the objectness target is the box's iou (else 1)"),
        Option("forced", 0, "1: the responsible box is 1 for small truths (w*h < .1), else 0"),
        Option("random", 0, "1: the responsible box is random while fewer than 64000 images were seen"),
        Option("coord_scale", 1.0, "weight of the box deltas"),
        Option("object_scale", 1.0, "weight of the responsible box's objectness delta"),
        Option("noobject_scale", 1.0, "weight of the other objectness deltas"),
        Option("class_scale", 1.0, "weight of the class deltas"),
        Option("max", 90, "boxes per image in the training data (read for the data loader)"),
        Option("jitter", 0.2, "training-data augmentation (read for the data loader)"),
        Option("reorg", 0, "unused by Darknet (read, no effect)"),
    )

    def __init__(self, batch, in_shape, side, num, classes, coords=4, softmax=False, dtype=None, **train):
        super().__init__(batch, in_shape, (int(np.prod(in_shape)),), dtype=dtype)   # output, delta: (B, inputs)
        self.side, self.n, self.classes, self.coords, self.softmax = side, num, classes, coords, softmax
        self.use_sqrt = train.get("sqrt", False)
        self.rescore = train.get("rescore", False)
        self.forced = train.get("forced", False)
        self.random = train.get("random", False)
        self.scales = {k: train.get(k, 1.0) for k in ("coord_scale", "object_scale", "noobject_scale",
                                                        "class_scale")}
        locations = side * side
        self.truths = locations * (1 + coords + classes)
        self.picks = alloc(batch * locations, np.int64)   # (B, locations) forced box or -1
        self.picks[:] = -1
        self.cost = None
        self.avg_iou = None

    @classmethod
    def from_options(cls, opts, in_shape, net):
        coords = opts.int("coords", 1, min=1)
        classes = opts.int("classes", 1, min=0)
        num = opts.int("num", 1, min=1)
        side = opts.int("side", 7, min=1)
        if coords != 4:
            raise opts.error(f"coords={coords}: the boxes of [detection] have 4 values (x, y, w, h)", "coords")
        inputs = int(np.prod(in_shape))
        need = side * side * ((1 + coords) * num + classes)
        if inputs != need:
            raise opts.error(f"the input has {inputs} values; side={side}: {side}x{side} cells x ((1 + coords={coords})"
                             f" x num={num} + classes={classes}) need {need} (set output= of the layer before)")
        train = {k: opts.flag(k, 0) for k in ("sqrt", "rescore", "forced", "random")}
        for k in ("coord_scale", "object_scale", "noobject_scale", "class_scale"):
            train[k] = opts.float(k, 1.0)
        opts.int("max", 90)
        opts.float("jitter", 0.2)
        opts.int("reorg", 0)
        return cls(net.batch, in_shape, side, num, classes, coords, opts.flag("softmax", 0), dtype=net.dtype,
                   **train)

    def _softmax_args(self):
        # offset, n, count, groups, batch_offset, group_offset, stride, temperature: one per cell
        locations = self.side * self.side
        return 0, self.classes, self.batch * locations, locations, self.inputs, self.classes, 1, 1.0

    def forward(self, net):
        blas.copy(net.input, self.output)
        if self.softmax:
            sm.softmax_forward(net.input, self.output, *self._softmax_args())
        self.cost = None
        if net.train and net.truth is not None:
            self._training_delta(net)

    def _training_delta(self, net):
        self.picks[:] = -1
        if self.random and net.seen < RANDOM_UNTIL_SEEN:
            self.picks[:] = net.rng.integers(0, self.n, self.picks.size)
        s = self.scales
        loss, iou_sum, count = yolov1.detection_delta(
            self.output, net.truth, self.delta, self.picks, self.batch, self.side, self.n, self.classes,
            self.coords, self.use_sqrt, self.rescore, self.forced, s["object_scale"], s["noobject_scale"],
            s["class_scale"], s["coord_scale"])
        self.cost = float(np.dot(self.delta, self.delta)) if net.compat else float(loss)
        self.avg_iou = iou_sum / count if count else 0.0

    def backward(self, net):
        if net.delta is None:
            return
        if not self.softmax or net.compat:
            blas.axpy(1.0, self.delta, net.delta)
            return
        start = self.side * self.side * self.classes          # class block first, per batch item
        for b in range(self.batch):                            # identity on objectness and boxes
            lo, hi = b * self.inputs + start, (b + 1) * self.inputs
            blas.axpy(1.0, self.delta[lo:hi], net.delta[lo:hi])
        sm.softmax_backward(self.output, self.delta, net.delta, *self._softmax_args())

    def summary(self):
        return {"filters": "", "size": f"{self.side}x{self.side}x{self.n}"}
