"""Base of [softmax] and [logistic]: an output non-linearity that may also own a cross-entropy cost.

What the delta means, and so what backward does:
* compat: Darknet's. The forward writes delta = truth - p whenever net->truth exists (Darknet always
  has one: a zero buffer when nobody set it, giving -p), and backward passes the delta through
  (net.delta += delta), i.e. it assumes the delta is w.r.t. the logits.
* default: the true gradient of whatever loss the delta came from, told apart by who wrote the delta
  (``delta_wrt_logits``, recorded by each forward):
  - True: this forward computed the layer's own cross-entropy, because a truth was given
    (Network.forward(..., truth=...)) and this is the network's last layer. delta = truth - p is
    then minus the gradient of the cross-entropy w.r.t. the logits and backward passes it through.
    (A delta injected with Network.backward(delta) after such a forward replaces it and is read the
    same way, as w.r.t. the logits.)
  - False: no truth, or a later layer (e.g. a [cost]) owns the loss. The delta is injected by the user
    or added by the layers above, both w.r.t. the probabilities p, and backward applies the
    non-linearity's Jacobian (``jacobian_backward``).
"""
import numpy as np

from ..kernels import blas
from .base import Layer


class CrossEntropyOutput(Layer):
    noloss = False

    def __init__(self, batch, in_shape, dtype=None):
        n = int(np.prod(in_shape))
        super().__init__(batch, in_shape, (n,), dtype=dtype)     # output, delta: (B, n)
        self.loss = self.alloc(self.batch * n)                     # (B, n) per-element cross-entropy
        self.cost = None
        self.delta_wrt_logits = False

    def cross_entropy(self, truth):
        """Write delta = truth - p and the per-element loss (kernel call of the subclass)."""
        raise NotImplementedError

    def jacobian_backward(self, net):
        """net.delta += J^T delta for a delta w.r.t. the probabilities."""
        raise NotImplementedError

    def forward_cost(self, net):
        """After the subclass computed ``output``: the cost and delta, when this layer owns the loss."""
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
        self.cross_entropy(truth)
        self.cost = float(np.sum(self.loss, dtype=np.float64))
        self.delta_wrt_logits = True

    def backward(self, net):
        if net.delta is None:
            return
        if net.compat or self.delta_wrt_logits:
            blas.axpy(1.0, self.delta, net.delta)
        else:
            self.jacobian_backward(net)
