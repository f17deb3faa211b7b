"""[softmax] / [soft]: softmax over ``groups`` contiguous blocks of the flattened input (softmax_layer.c).

Forward is Darknet's: exp(x/T - max/T) normalised, T = ``temperature``. Output shape is (n,) because
Darknet leaves the layer's out_c/h/w at 0.

``tree=FILE`` (yolo9000's hierarchical softmax, darknet_py/tree.py): one softmax per group of the class
tree instead of ``groups``; the tree must have one class per input. With a truth (Darknet's loader
sets a label's ancestors too and fills unlabelled groups with -1234), the delta and loss of every
group without a positive truth are 0, as in Darknet's GPU code; compat keeps its CPU code, which does
not mask them (delta = -1234 - p there). ``net.hierarchy`` is the tree, for
``tree.hierarchy_predictions`` (absolute probabilities) as Darknet's classifier uses it.

What the delta means, and so what backward does, is explained in _cross_entropy.py; the Jacobian
here is the softmax's: net.delta += (1/T) p * (delta - <delta, p>) per group.
"""
import numpy as np

from ..kernels import softmax as sm
from ..kernels import tree as tk
from ..registry import register_layer
from ..tree import read_tree
from ._cross_entropy import CrossEntropyOutput
from .base import Option


@register_layer("softmax", "soft")
class Softmax(CrossEntropyOutput):
    OPTIONS = (
        Option("groups", 1, "independent softmaxes over contiguous blocks of inputs/groups values"),
        Option("temperature", 1.0, "divides the logits"),
        Option("noloss", 0, "never compute the cross-entropy, even with a truth"),
        Option("tree", None, "class tree file: one softmax per sibling group (hierarchical softmax)"),
        Option("spatial", 0, "per-pixel softmax over channels (GPU-only in Darknet): not supported"),
    )

    def __init__(self, batch, in_shape, groups=1, temperature=1.0, noloss=False, dtype=None, tree=None):
        super().__init__(batch, in_shape, dtype=dtype)             # output, delta: (B, n)
        self.groups, self.temperature, self.noloss = groups, temperature, noloss
        self.tree = tree                                           # darknet_py.tree.Tree or None

    @classmethod
    def from_options(cls, opts, in_shape, net):
        n = int(np.prod(in_shape))
        groups = opts.int("groups", 1, min=1)
        if n % groups:
            raise opts.error(f"groups={groups} does not divide the {n} inputs", "groups")
        temperature = opts.float("temperature", 1.0)
        if temperature == 0:
            raise opts.error("temperature must not be 0", "temperature")
        tree = None
        if opts.raw("tree", None) is not None:
            tree = read_tree(opts.str("tree"), opts.section.path, opts)
            if tree.n != n:
                raise opts.error(f"the tree has {tree.n} classes but the layer has {n} inputs", "tree")
            net.hierarchy = tree
        if opts.float("spatial", 0) != 0:
            raise opts.error("spatial softmax is not supported (Darknet runs it only on the GPU)", "spatial")
        return cls(net.batch, in_shape, groups, temperature, opts.flag("noloss", 0), dtype=net.dtype, tree=tree)

    def _tree_args(self):
        # offsets, sizes, items, item_size, spatial, base, temperature
        return self.tree.group_offset, self.tree.group_size, self.batch, self.inputs, 1, 0, self.temperature

    def _softmax_args(self):
        n = self.outputs // self.groups
        # offset, n, count, groups, batch_offset, group_offset, stride, temperature
        return 0, n, self.batch * self.groups, self.groups, self.outputs, n, 1, self.temperature

    def forward(self, net):
        if self.tree is not None:
            tk.group_softmax_forward(net.input, self.output, *self._tree_args())
        else:
            sm.softmax_forward(net.input, self.output, *self._softmax_args())
        self.forward_cost(net)
        if self.tree is not None and self.delta_wrt_logits and not net.compat:
            tk.mask_unlabelled_groups(net.truth, self.delta, self.loss, self.tree.group_offset,
                                      self.tree.group_size, self.batch, self.inputs)
            self.cost = float(np.sum(self.loss, dtype=np.float64))

    def cross_entropy(self, truth):
        sm.softmax_cross_entropy(self.output, truth, self.delta, self.loss)

    def jacobian_backward(self, net):
        if self.tree is not None:
            tk.group_softmax_backward(self.output, self.delta, net.delta, *self._tree_args())
        else:
            sm.softmax_backward(self.output, self.delta, net.delta, *self._softmax_args())

    def flops(self):
        return 3 * self.inputs
