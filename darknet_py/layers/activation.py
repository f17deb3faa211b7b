"""[activation]: apply an activation function on its own (Darknet's activation_layer.c).

Backward: delta *= f'(y), then Darknet COPIES it into net.delta (overwriting what other layers
added); that is kept in compat mode, by default it is added (the true gradient when the layer below
also feeds a route or shortcut).
"""
from ..kernels import activations, blas
from ..registry import register_layer
from ._activation import parse_activation
from .base import Layer, Option


@register_layer("activation")
class Activation(Layer):
    OPTIONS = (Option("activation", "linear", "activation function"),)

    def __init__(self, batch, in_shape, activation=activations.LINEAR, dtype=None):
        super().__init__(batch, in_shape, out_shape=in_shape, dtype=dtype)   # output, delta: like the input
        self.activation = activation

    @classmethod
    def from_options(cls, opts, in_shape, net):
        return cls(net.batch, in_shape, parse_activation(opts, default="linear"), dtype=net.dtype)

    def forward(self, net):
        blas.copy(net.input, self.output)
        activations.activate(self.output, self.output.size, self.activation)

    def backward(self, net):
        activations.gradient(self.output, self.output.size, self.activation, self.delta)
        if net.delta is None:                       # first layer of a real training run
            return
        if net.compat:
            blas.copy(self.delta, net.delta)
        else:
            blas.axpy(1.0, self.delta, net.delta)

    def flops(self):
        return self.outputs
