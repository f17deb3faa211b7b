"""[softmax] / [soft]: softmax over ``groups`` contiguous blocks of the flattened input (softmax_layer.c).

Forward is Darknet's: exp(x/T - max/T) normalised, T = ``temperature``. Output shape is (n,) because
Darknet leaves the layer's out_c/h/w at 0.

What the delta means, and so what backward does, is explained in _cross_entropy.py; the Jacobian
here is the softmax's: net.delta += (1/T) p * (delta - <delta, p>) per group.
"""
import numpy as np

from ..kernels import softmax as sm
from ..registry import register_layer
from ._cross_entropy import CrossEntropyOutput
from .base import Option


@register_layer("softmax", "soft")
class Softmax(CrossEntropyOutput):
    OPTIONS = (
        Option("groups", 1, "independent softmaxes over contiguous blocks of inputs/groups values"),
        Option("temperature", 1.0, "divides the logits"),
        Option("noloss", 0, "never compute the cross-entropy, even with a truth"),
        Option("tree", None, "hierarchical softmax file (yolo9000): not supported"),
        Option("spatial", 0, "per-pixel softmax over channels (GPU-only in Darknet): not supported"),
    )

    def __init__(self, batch, in_shape, groups=1, temperature=1.0, noloss=False, dtype=None):
        super().__init__(batch, in_shape, dtype=dtype)             # output, delta: (B, n)
        self.groups, self.temperature, self.noloss = groups, temperature, noloss

    @classmethod
    def from_options(cls, opts, in_shape, net):
        n = int(np.prod(in_shape))
        groups = opts.int("groups", 1, min=1)
        if n % groups:
            raise opts.error(f"groups={groups} does not divide the {n} inputs", "groups")
        temperature = opts.float("temperature", 1.0)
        if temperature == 0:
            raise opts.error("temperature must not be 0", "temperature")
        if opts.raw("tree", None) is not None:
            raise opts.error("softmax tree= (hierarchical softmax) is not supported", "tree")
        if opts.float("spatial", 0) != 0:
            raise opts.error("spatial softmax is not supported (Darknet runs it only on the GPU)", "spatial")
        return cls(net.batch, in_shape, groups, temperature, opts.flag("noloss", 0), dtype=net.dtype)

    def _softmax_args(self):
        n = self.outputs // self.groups
        # offset, n, count, groups, batch_offset, group_offset, stride, temperature
        return 0, n, self.batch * self.groups, self.groups, self.outputs, n, 1, self.temperature

    def forward(self, net):
        sm.softmax_forward(net.input, self.output, *self._softmax_args())
        self.forward_cost(net)

    def cross_entropy(self, truth):
        sm.softmax_cross_entropy(self.output, truth, self.delta, self.loss)

    def jacobian_backward(self, net):
        sm.softmax_backward(self.output, self.delta, net.delta, *self._softmax_args())

    def flops(self):
        return 3 * self.inputs
