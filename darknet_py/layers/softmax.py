"""[softmax] / [soft]: softmax over ``groups`` contiguous blocks of the flattened input (softmax_layer.c).

Forward is Darknet's: exp(x/T - max/T) normalised, T = ``temperature``. Output shape is (n,) because
Darknet leaves the layer's out_c/h/w at 0.

What the delta means, and so what backward does:
* compat: Darknet's. Its forward writes delta = truth - p whenever net->truth exists (Darknet always
  has one: a zero buffer when nobody set it, giving -p), and backward passes the delta through
  (net.delta += delta), i.e. it assumes the delta is w.r.t. the logits.
* default: the true gradient of whatever loss the delta came from. The layer tells the two cases
  apart by who wrote the delta, recorded in ``delta_wrt_logits`` by each forward:
  - True: this forward computed the layer's own cross-entropy, because a truth was given
    (Network.forward(..., truth=...)) and this is the network's last layer. delta = truth - p is
    then minus the gradient of the cross-entropy w.r.t. the logits and backward passes it through.
    (A delta injected with Network.backward(delta) after such a forward replaces it and is read the
    same way, as w.r.t. the logits.)
  - False: no truth, or a later layer (e.g. a [cost]) owns the loss. The delta is injected by the user
    or added by the layers above, both w.r.t. the probabilities p, and backward applies the softmax
    Jacobian: net.delta += (1/T) p * (delta - <delta, p>) per group.
"""
import numpy as np

from ..kernels import blas
from ..kernels import softmax as sm
from ..registry import register_layer
from .base import Layer, Option


@register_layer("softmax", "soft")
class Softmax(Layer):
    OPTIONS = (
        Option("groups", 1, "independent softmaxes over contiguous blocks of inputs/groups values"),
        Option("temperature", 1.0, "divides the logits"),
        Option("noloss", 0, "never compute the cross-entropy, even with a truth"),
        Option("tree", None, "hierarchical softmax file (yolo9000): not supported"),
        Option("spatial", 0, "per-pixel softmax over channels (GPU-only in Darknet): not supported"),
    )

    def __init__(self, batch, in_shape, groups=1, temperature=1.0, noloss=False, dtype=None):
        n = int(np.prod(in_shape))
        super().__init__(batch, in_shape, (n,), dtype=dtype)     # output, delta: (B, n)
        self.groups, self.temperature, self.noloss = groups, temperature, noloss
        self.loss = self.alloc(self.batch * n)                     # (B, n) per-element cross-entropy
        self.cost = None
        self.delta_wrt_logits = False

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
        self.delta_wrt_logits = False
        self.cost = None
        truth = net.truth
        if self.noloss or (truth is not None and truth.size != self.output.size):
            return
        if net.compat:
            if truth is None:               # Darknet's net->truth is a zero buffer: delta = -p, cost 0.
                blas.fill(self.loss, 0.0)   # loss doubles as that zero truth: each element is read
                truth = self.loss           # before it is overwritten
        elif truth is None or self.index != len(net.layers) - 1:
            return
        sm.softmax_cross_entropy(self.output, truth, self.delta, self.loss)
        self.cost = float(np.sum(self.loss, dtype=np.float64))
        self.delta_wrt_logits = True

    def backward(self, net):
        if net.delta is None:
            return
        if net.compat or self.delta_wrt_logits:
            blas.axpy(1.0, self.delta, net.delta)
        else:
            sm.softmax_backward(self.output, self.delta, net.delta, *self._softmax_args())

    def flops(self):
        return 3 * self.inputs
