"""[logistic]: elementwise sigmoid with a binary cross-entropy cost (logistic_layer.c).

Output shape (n,) (Darknet leaves out_c/h/w at 0). With a truth the forward writes
delta = truth - p (minus the gradient of the cross-entropy w.r.t. the LOGITS) and the cost.
The meaning of the delta, and so the backward, is explained in _cross_entropy.py; the Jacobian
here is the sigmoid's derivative: net.delta += delta * p * (1 - p).
"""
from ..kernels import blas
from ..kernels import softmax as sm
from ..kernels.activations import LOGISTIC, activate
from ..registry import register_layer
from ._cross_entropy import CrossEntropyOutput


@register_layer("logistic")
class Logistic(CrossEntropyOutput):
    OPTIONS = ()                                    # Darknet's parse_logistic reads no key

    @classmethod
    def from_options(cls, opts, in_shape, net):
        return cls(net.batch, in_shape, dtype=net.dtype)

    def forward(self, net):
        blas.copy(net.input, self.output)
        activate(self.output, self.output.size, LOGISTIC)
        self.forward_cost(net)

    def cross_entropy(self, truth):
        sm.logistic_cross_entropy(self.output, truth, self.delta, self.loss)

    def jacobian_backward(self, net):
        sm.logistic_backward(self.output, self.delta, net.delta)

    def flops(self):
        return 4 * self.inputs
