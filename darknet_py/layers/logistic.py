"""[logistic]: elementwise sigmoid with a binary cross-entropy cost (logistic_layer.c).

Output shape (n,) (Darknet leaves out_c/h/w at 0). With a truth the forward writes
delta = truth - p (minus the gradient of the cross-entropy w.r.t. the LOGITS) and the cost.
The meaning of the delta, and so the backward, follows [softmax] (see softmax.py):
* compat: Darknet's, a zero truth when none is given (delta = -p) and a pass-through backward.
* default: pass-through when this forward computed its own cross-entropy (a truth was given and this
  is the last layer, ``delta_wrt_logits``); otherwise the delta is w.r.t. the probabilities and
  backward applies the sigmoid's derivative: net.delta += delta * p * (1 - p).
"""
import numpy as np

from ..kernels import blas
from ..kernels import softmax as sm
from ..kernels.activations import LOGISTIC, activate
from ..registry import register_layer
from .base import Layer


@register_layer("logistic")
class Logistic(Layer):
    OPTIONS = ()                                    # Darknet's parse_logistic reads no key

    def __init__(self, batch, in_shape, dtype=None):
        n = int(np.prod(in_shape))
        super().__init__(batch, in_shape, (n,), dtype=dtype)     # output, delta: (B, n)
        self.loss = self.alloc(self.batch * n)                     # (B, n) per-element cross-entropy
        self.cost = None
        self.delta_wrt_logits = False

    @classmethod
    def from_options(cls, opts, in_shape, net):
        return cls(net.batch, in_shape, dtype=net.dtype)

    def forward(self, net):
        blas.copy(net.input, self.output)
        activate(self.output, self.output.size, LOGISTIC)
        self.delta_wrt_logits = False
        self.cost = None
        truth = net.truth
        if truth is not None and truth.size != self.output.size:
            return
        if net.compat:
            if truth is None:               # Darknet's zero net->truth; loss doubles as it (read before written)
                blas.fill(self.loss, 0.0)
                truth = self.loss
        elif truth is None or self.index != len(net.layers) - 1:
            return
        sm.logistic_cross_entropy(self.output, truth, self.delta, self.loss)
        self.cost = float(np.sum(self.loss, dtype=np.float64))
        self.delta_wrt_logits = True

    def backward(self, net):
        if net.delta is None:
            return
        if net.compat or self.delta_wrt_logits:
            blas.axpy(1.0, self.delta, net.delta)
        else:
            sm.logistic_backward(self.output, self.delta, net.delta)

    def flops(self):
        return 4 * self.inputs
