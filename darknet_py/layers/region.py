"""[region]: YOLOv2 detection head (region_layer.c): inference forward and a gradient for injected deltas.

Layout per batch item: (anchor, coords+1+classes, h, w). The forward copies the input, applies the
logistic to tx, ty and the objectness (not with ``background=1``), and to the class scores, unless
``softmax=1``: then a softmax over classes (+ the background slot) along the entry axis (stride h*w),
computed from the raw input, as Darknet does.

Training (``net.train`` with a truth: boxes of coords+1 floats (x, y, w, h, [mask], class), 30 per
image): Darknet's loss. Every prediction gets objectness delta noobject_scale*(0 - p), zeroed when its
best IOU with a truth is > ``thresh``, and while the net has seen fewer than 12800 images a pull
(scale .01) toward its cell centre and anchor size. Every truth goes to its cell and the best anchor by
shape (anchor sizes with ``bias_match=1``, predicted sizes otherwise): box delta with scale
coord_scale*(2 - w*h), objectness object_scale*(1 - p) (``rescore``: (iou - p)), classes
class_scale*((c == cls) - p). ``cost`` is Darknet's sum of squared deltas, ``stats`` its printed
averages (``stats_line()``). pjreddie compat without a truth uses Darknet's zero truth.

``tree=FILE`` (yolo9000, darknet_py/tree.py): the classes get one softmax per sibling group of the
tree instead of the logistic / softmax, as Darknet's GPU forward does (pjreddie's CPU forward gives
softmax_cpu offsets that treat each batch item's classes as contiguous, which they are not when
h*w > 1: we follow the GPU code). Its backward is the groups' softmax Jacobian for an injected delta;
the hierarchical training loss is not implemented (DarknetError). ``map=FILE`` is read and kept as
``class_map`` (Darknet's detector uses a map only when validating on COCO). Boxes: boxes.py.

compat="alexeyab": the fork's [region] is the original YOLOv2 one, a different layer: its CPU
forward flattens the output to (batch, cell*anchor, coords+1+classes) rows, applies the logistic to
entry 4 only and the softmax to the classes from entry 5 (x, y get their logistic when boxes are
decoded), and its backward adds the delta to the layer below as it is, in that flattened order (its
GPU code flattens it back). Both are reproduced; its training loss is not implemented (DarknetError).

Backward:
* compat: nothing, like Darknet's CPU backward_region_layer, whose body is commented out (the layers
  below never learn).
* default, after a truth-driven forward: what Darknet's GPU backward does, which is the true gradient
  of the loss above read as squared errors on the logistic x, y, objectness (delta * y(1-y)) and raw
  w, h, and cross-entropy on the classes (their delta is w.r.t. the logits: passed through).
* default, for an injected delta (w.r.t. the outputs): the true gradient of this forward (logistic
  derivative, softmax Jacobian, identity on the raw coordinates).
"""
import numpy as np

from ..errors import DarknetError
from ..kernels import blas
from ..kernels import detection as dk
from ..kernels import softmax as sm
from ..kernels import tree as tk
from ..kernels.activations import LOGISTIC, activate
from ..registry import register_layer
from ..tree import read_class_map, read_tree
from ._detection import check_truth, finish_stats, parse_anchors
from .base import Layer, Option, shape3

TRUTH_BOXES = 30            # region_layer.c: l.truths = 30*(coords+1), and every truth loop stops at 30
# Keys of the training loss: (name, default), stored as attributes of the same name.
LOSS_OPTIONS = (("rescore", 0), ("thresh", 0.5), ("coord_scale", 1.0), ("object_scale", 1.0),
                ("noobject_scale", 1.0), ("mask_scale", 1.0), ("class_scale", 1.0), ("bias_match", 0))
# Keys Darknet's parse_region reads that change nothing in its CPU maths (or only the data loader).
TOOL_OPTIONS = (("log", 0), ("sqrt", 0), ("max", 30), ("jitter", 0.2), ("classfix", 0), ("absolute", 0),
                ("random", 0))


@register_layer("region")
class Region(Layer):
    OPTIONS = (
        Option("coords", 4, "box coordinates per anchor"),
        Option("classes", 20, "number of classes"),
        Option("num", 1, "anchors per cell"),
        Option("softmax", 0, "softmax over the classes instead of independent logistics"),
        Option("background", 0, "no objectness logistic; the softmax includes that slot"),
        Option("anchors", "0.5,...", "w,h pairs in grid cells, num of them"),
        Option("tree", None, "class tree file: one softmax per sibling group (yolo9000; inference)"),
        Option("map", None, "class map file (read and kept as class_map; Darknet's detector test ignores it)"),
    ) + tuple(Option(k, d, "training loss") for k, d in LOSS_OPTIONS) + tuple(
        Option(k, d, "read like Darknet; no effect on its CPU maths (data loading)") for k, d in TOOL_OPTIONS)

    def __init__(self, batch, in_shape, coords, classes, num, softmax=False, background=False, anchors=None,
                 dtype=None):
        super().__init__(batch, in_shape, in_shape, dtype=dtype)   # output, delta: (B, num*(coords+1+classes), H, W)
        self.coords, self.classes, self.n = coords, classes, num
        self.softmax, self.background = softmax, background
        self.tree = None                               # darknet_py.tree.Tree of tree= (then no class softmax)
        self.class_map = None                          # [int] of map=
        self.anchors = tuple(anchors or [0.5] * (2 * num))
        self.truths = TRUTH_BOXES * (coords + 1)       # net.truth per image: 30 boxes (x, y, w, h, [mask], class)
        for key, default in LOSS_OPTIONS:
            setattr(self, key, default)
        self.cost = None
        self.stats = None                              # Darknet's printed averages after a training forward
        self.loss_backward = False                     # the forward wrote the loss's delta
        self.anchor_array = np.array(self.anchors, dtype=self.dtype)   # (2*num,) w, h in grid cells
        self.sums = np.zeros(dk.STATS)                                 # (STATS,) the loss kernel's statistics
        kinds = [dk.SIGMOID, dk.SIGMOID] + [dk.RAW] * (coords - 2)
        kinds.append(dk.SOFTMAX if background and softmax else dk.RAW if background else dk.SIGMOID)
        kinds += [dk.SOFTMAX if softmax else dk.SIGMOID] * classes
        self.kinds = np.array(kinds, dtype=np.int64)    # (coords+1+classes,) what the forward did to each entry
        # Darknet's GPU backward of the loss: logistic derivative on x, y and objectness, the rest passed
        loss_kinds = [dk.SIGMOID, dk.SIGMOID] + [dk.RAW] * (coords - 2) + [dk.RAW if background else dk.SIGMOID]
        self.loss_kinds = np.array(loss_kinds + [dk.RAW] * classes, dtype=np.int64)   # (coords+1+classes,)

    @classmethod
    def from_options(cls, opts, in_shape, net):
        c, h, w = shape3(in_shape, opts, "region")
        coords = opts.int("coords", 4, min=2)
        classes = opts.int("classes", 20, min=0)
        num = opts.int("num", 1, min=1)
        softmax, background = opts.flag("softmax", 0), opts.flag("background", 0)
        anchors = parse_anchors(opts, num)
        tree = read_tree(opts.str("tree"), opts.section.path, opts) if opts.raw("tree", None) is not None else None
        if tree is not None and tree.n != classes:
            raise opts.error(f"the tree file has {tree.n} classes, the layer classes={classes}", "tree")
        class_map = read_class_map(opts.str("map"), opts.section.path, opts) if opts.raw("map", None) else None
        for key, default in TOOL_OPTIONS:
            (opts.int if isinstance(default, int) else opts.float)(key, default)
        loss = {key: (opts.int if isinstance(default, int) else opts.float)(key, default)
                for key, default in LOSS_OPTIONS}
        if c != num * (coords + 1 + classes):
            raise opts.error(f"the input has {c} channels; num={num} x (coords={coords} + 1 + classes={classes}) "
                             f"need {num * (coords + 1 + classes)} (set filters= of the layer before)")
        layer = cls(net.batch, in_shape, coords, classes, num, softmax, background, anchors, dtype=net.dtype)
        for key, value in loss.items():
            setattr(layer, key, value)
        layer.tree, layer.class_map = tree, class_map
        if tree is not None:                           # the tree's softmax replaces the class logistic/softmax
            layer.kinds[coords] = dk.RAW if background else dk.SIGMOID
            layer.kinds[coords + 1:] = dk.SOFTMAX      # its backward: tree_softmax_args
        return layer

    def _softmax_args(self):
        """Darknet's softmax_cpu call: classes (+background) values strided by h*w, per anchor and cell."""
        wh = self.in_shape[1] * self.in_shape[2]
        offset = (self.coords + (0 if self.background else 1)) * wh
        # offset, n, count, groups, batch_offset, group_offset, stride, temperature
        return offset, self.classes + self.background, self.batch * self.n * wh, wh, self.inputs // self.n, 1, wh, 1.0

    def forward(self, net):
        if net.flavour == "alexeyab":
            self.forward_fork(net)
            return
        blas.copy(net.input, self.output)
        self.activate_outputs(net)
        self.loss_backward = False
        self.stats = None
        truth = net.truth
        if not net.train:
            return                                      # Darknet's inference: activations only
        if self.tree is not None and (truth is not None or net.flavour == "pjreddie"):
            raise DarknetError(f"layer {self.index} [region]: the training loss of a tree= head (yolo9000) is "
                               f"not implemented; inference and injected gradients are")
        if truth is None:
            if net.flavour != "pjreddie":
                return                                  # nothing to learn from: the delta stays 0
            truth, boxes = net.truth_buffer, 0          # pjreddie's net->truth is a zero buffer
        else:
            check_truth(self, truth, self.coords + 1, TRUTH_BOXES, self.coords)
            boxes = TRUTH_BOXES
        self.training_loss(net, truth, boxes)

    def forward_fork(self, net):
        if net.train and net.truth is not None:
            raise DarknetError(f"layer {self.index} [region]: AlexeyAB's region training loss is not implemented "
                               f"(compat='alexeyab'); default mode and compat='pjreddie' train with pjreddie's")
        if self.coords != 4 or self.background:
            raise DarknetError(f"layer {self.index} [region]: compat='alexeyab' reproduces the fork's region "
                               f"layer only with coords=4 and no background (its code hard-codes them)")
        _, h, w = self.in_shape
        size = self.coords + 1 + self.classes
        dk.fork_region_forward(net.input, self.output, self.batch, h * w, self.n * size, size, self.classes,
                               self.softmax and self.tree is None)
        if self.tree is not None:                      # the fork's softmax_tree on each flattened row, in place
            t = self.tree
            tk.group_softmax_forward(self.output, self.output, t.group_offset, t.group_size,
                                     self.batch * self.n * h * w, size, 1, 5, 1.0)
        self.loss_backward = False
        self.stats = None

    def training_loss(self, net, truth, boxes):
        _, h, w = self.in_shape
        self.sums[:] = 0.0
        dk.region_loss(self.output, self.delta, truth, self.anchor_array, self.batch, self.n, h, w, self.coords,
                       self.classes, self.truths, boxes, self.background, self.softmax, self.bias_match,
                       self.rescore, self.thresh, self.object_scale, self.noobject_scale, self.class_scale,
                       self.coord_scale, int(self.mask_scale), net.seen < 12800, self.sums)
        self.cost = dk.sum_of_squares(self.delta)
        self.stats = finish_stats(self.sums, self.batch * self.n * h * w, recall75=False)
        self.loss_backward = True

    def stats_line(self):
        """The line Darknet prints after a training forward (None before one)."""
        s = self.stats
        if s is None:
            return None
        return (f"Region Avg IOU: {s['avg_iou']:f}, Class: {s['class']:f}, Obj: {s['obj']:f}, "
                f"No Obj: {s['no_obj']:f}, Avg Recall: {s['avg_recall']:f},  count: {s['count']}")

    def activate_outputs(self, net):
        wh = self.in_shape[1] * self.in_shape[2]
        block = (self.coords + 1 + self.classes) * wh
        obj = self.coords * wh
        for b in range(self.batch * self.n):
            start = b * block
            activate(self.output[start:start + 2 * wh], 2 * wh, LOGISTIC)
            if not self.background:
                activate(self.output[start + obj:start + obj + wh], wh, LOGISTIC)
            if not self.softmax and self.tree is None:
                activate(self.output[start + obj + wh:start + block], self.classes * wh, LOGISTIC)
        if self.tree is not None:
            tk.group_softmax_forward(net.input, self.output, *self._tree_softmax_args())
        elif self.softmax:
            sm.softmax_forward(net.input, self.output, *self._softmax_args())

    def _tree_softmax_args(self):
        """Darknet's GPU softmax_tree call: items = batch*anchors, each (coords+1+classes, h*w), the
        tree's classes from entry coords+1 strided by h*w. (pjreddie's CPU forward passes offsets
        that treat the classes as one contiguous block per batch item: wrong for h*w > 1.)"""
        wh = self.in_shape[1] * self.in_shape[2]
        t = self.tree
        return (t.group_offset, t.group_size, self.batch * self.n, self.inputs // self.n, wh,
                (self.coords + 1) * wh, 1.0)

    def backward(self, net):
        if net.delta is not None and net.flavour == "alexeyab":   # the fork's CPU backward: flattened order
            blas.axpy(1.0, self.delta, net.delta)
            return
        if net.delta is None or net.compat:     # Darknet's CPU backward is empty
            return
        wh = self.in_shape[1] * self.in_shape[2]
        blocks, entries = self.batch * self.n, self.coords + 1 + self.classes
        if self.loss_backward:                  # Darknet's GPU backward
            dk.entries_backward(self.output, self.delta, net.delta, self.loss_kinds, blocks, entries, wh, 1.0)
            return
        dk.entries_backward(self.output, self.delta, net.delta, self.kinds, blocks, entries, wh, 1.0)
        if self.tree is not None:
            tk.group_softmax_backward(self.output, self.delta, net.delta, *self._tree_softmax_args())
        elif self.softmax:
            sm.softmax_backward(self.output, self.delta, net.delta, *self._softmax_args())

    def summary(self):
        return {"filters": "", "size": f"{self.n} anchors"}
