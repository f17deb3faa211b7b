"""[dropout]: identity at inference; in training zero each unit with ``probability`` and scale the
kept ones by 1/(1-probability) (Darknet's dropout_layer.c). The mask comes from net.rng (seeded).

Darknet's layer has no buffers of its own: it shares the previous layer's output and delta and
scales them in place. Here it owns its buffers (so a [route] reading the previous layer sees that
layer's unscaled output) and backward is the true gradient, net.delta += mask * scale * delta.
compat reproduces the sharing's visible effects: the training forward also writes the scaled values
back into the previous layer's output, and backward scales the previous layer's whole delta
(what the layers above added to it included) instead of adding to it.
"""
from ..kernels import blas
from ..kernels import dropout as dk
from ..registry import register_layer
from .base import Layer, Option


@register_layer("dropout")
class Dropout(Layer):
    OPTIONS = (Option("probability", 0.5, "chance of dropping each unit in training, in [0, 1)"),)

    def __init__(self, batch, in_shape, probability=0.5, dtype=None):
        super().__init__(batch, in_shape, in_shape, dtype=dtype)    # output, delta: (B, *in_shape)
        self.probability = probability
        self.scale = 1.0 / (1.0 - probability)
        self.rand = self.alloc(self.batch * self.outputs)            # (B, *in_shape) uniform draws
        self.masked = False                                          # did the last forward drop units?

    @classmethod
    def from_options(cls, opts, in_shape, net):
        p = opts.float("probability", 0.5, min=0.0)
        if p >= 1.0:
            raise opts.error(f"probability={p} must be < 1 (it would drop every unit)", "probability")
        return cls(net.batch, in_shape, p, dtype=net.dtype)

    def forward(self, net):
        self.masked = bool(net.train)
        if not net.train:
            blas.copy(net.input, self.output)
            return
        net.rng.random(dtype=self.rand.dtype, out=self.rand)
        dk.dropout_forward(net.input, self.output, self.rand, self.probability, self.scale)
        if net.compat:                       # Darknet scaled the shared buffer in place
            blas.copy(self.output, net.input)

    def backward(self, net):
        if net.delta is None:
            return
        if not self.masked:
            blas.axpy(1.0, self.delta, net.delta)
            return
        dk.dropout_backward(self.rand, self.delta, net.delta, self.probability, self.scale, net.compat)
