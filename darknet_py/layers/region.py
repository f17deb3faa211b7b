"""[region]: YOLOv2 detection head (region_layer.c): inference forward and a gradient for injected deltas.

Layout per batch item: (anchor, coords+1+classes, h, w). The forward copies the input, applies the
logistic to tx, ty and the objectness (not with ``background=1``), and to the class scores, unless
``softmax=1``: then a softmax over classes (+ the background slot) along the entry axis (stride h*w),
computed from the raw input, as Darknet does. The training loss is not implemented: a training
forward with a truth raises DarknetError.

Backward: default is the true gradient of this forward (logistic derivative, softmax Jacobian,
identity on the raw coordinates). compat does nothing, like Darknet's CPU backward_region_layer,
whose body is commented out.
"""
import numpy as np

from ..errors import DarknetError
from ..kernels import blas
from ..kernels import detection as dk
from ..kernels import softmax as sm
from ..kernels.activations import LOGISTIC, activate
from ..registry import register_layer
from .base import Layer, Option, shape3
from .yolo import parse_anchors

# Training-loss keys Darknet's parse_region reads: accepted (no unused warning) and kept for tools.
TRAINING_OPTIONS = (("log", 0), ("sqrt", 0), ("max", 30), ("jitter", 0.2), ("rescore", 0), ("thresh", 0.5),
                    ("classfix", 0), ("absolute", 0), ("random", 0), ("coord_scale", 1.0),
                    ("object_scale", 1.0), ("noobject_scale", 1.0), ("mask_scale", 1.0), ("class_scale", 1.0),
                    ("bias_match", 0))


@register_layer("region")
class Region(Layer):
    OPTIONS = (
        Option("coords", 4, "box coordinates per anchor"),
        Option("classes", 20, "number of classes"),
        Option("num", 1, "anchors per cell"),
        Option("softmax", 0, "softmax over the classes instead of independent logistics"),
        Option("background", 0, "no objectness logistic; the softmax includes that slot"),
        Option("anchors", "0.5,...", "w,h pairs in grid cells, num of them"),
        Option("tree", None, "hierarchical softmax (yolo9000): not supported"),
        Option("map", None, "class map file: not supported"),
    ) + tuple(Option(k, d, "training loss (read, unused without it)") for k, d in TRAINING_OPTIONS)

    def __init__(self, batch, in_shape, coords, classes, num, softmax=False, background=False, anchors=None,
                 dtype=None):
        super().__init__(batch, in_shape, in_shape, dtype=dtype)   # output, delta: (B, num*(coords+1+classes), H, W)
        self.coords, self.classes, self.n = coords, classes, num
        self.softmax, self.background = softmax, background
        self.anchors = tuple(anchors or [0.5] * (2 * num))
        self.cost = None
        kinds = [dk.SIGMOID, dk.SIGMOID] + [dk.RAW] * (coords - 2)
        kinds.append(dk.SOFTMAX if background and softmax else dk.RAW if background else dk.SIGMOID)
        kinds += [dk.SOFTMAX if softmax else dk.SIGMOID] * classes
        self.kinds = np.array(kinds, dtype=np.int64)    # (coords+1+classes,) what the forward did to each entry

    @classmethod
    def from_options(cls, opts, in_shape, net):
        c, h, w = shape3(in_shape, opts, "region")
        coords = opts.int("coords", 4, min=2)
        classes = opts.int("classes", 20, min=0)
        num = opts.int("num", 1, min=1)
        softmax, background = opts.flag("softmax", 0), opts.flag("background", 0)
        anchors = parse_anchors(opts, num)
        for key in ("tree", "map"):
            if opts.raw(key, None) is not None:
                raise opts.error(f"{key}= is not supported", key)
        for key, default in TRAINING_OPTIONS:
            (opts.int if isinstance(default, int) else opts.float)(key, default)
        if c != num * (coords + 1 + classes):
            raise opts.error(f"the input has {c} channels; num={num} x (coords={coords} + 1 + classes={classes}) "
                             f"need {num * (coords + 1 + classes)} (set filters= of the layer before)")
        return cls(net.batch, in_shape, coords, classes, num, softmax, background, anchors, dtype=net.dtype)

    def _softmax_args(self):
        """Darknet's softmax_cpu call: classes (+background) values strided by h*w, per anchor and cell."""
        wh = self.in_shape[1] * self.in_shape[2]
        offset = (self.coords + (0 if self.background else 1)) * wh
        # offset, n, count, groups, batch_offset, group_offset, stride, temperature
        return offset, self.classes + self.background, self.batch * self.n * wh, wh, self.inputs // self.n, 1, wh, 1.0

    def forward(self, net):
        if net.train and net.truth is not None:
            raise DarknetError(f"layer {self.index} [region]: region training loss not implemented "
                               f"(run forward without truth and inject a delta with Network.backward)")
        blas.copy(net.input, self.output)
        wh = self.in_shape[1] * self.in_shape[2]
        block = (self.coords + 1 + self.classes) * wh
        obj = self.coords * wh
        for b in range(self.batch * self.n):
            start = b * block
            activate(self.output[start:start + 2 * wh], 2 * wh, LOGISTIC)
            if not self.background:
                activate(self.output[start + obj:start + obj + wh], wh, LOGISTIC)
            if not self.softmax:
                activate(self.output[start + obj + wh:start + block], self.classes * wh, LOGISTIC)
        if self.softmax:
            sm.softmax_forward(net.input, self.output, *self._softmax_args())

    def backward(self, net):
        if net.delta is None or net.compat:     # Darknet's CPU backward is empty
            return
        wh = self.in_shape[1] * self.in_shape[2]
        dk.entries_backward(self.output, self.delta, net.delta, self.kinds, self.batch * self.n,
                            self.coords + 1 + self.classes, wh)
        if self.softmax:
            sm.softmax_backward(self.output, self.delta, net.delta, *self._softmax_args())

    def summary(self):
        return {"filters": "", "size": f"{self.n} anchors"}
