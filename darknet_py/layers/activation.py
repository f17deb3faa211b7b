"""[activation]: apply an activation function on its own (Darknet's activation_layer.c).

Backward: delta *= f'(.), then Darknet COPIES it into net.delta (overwriting what other layers
added); that is kept in compat mode, by default it is added (the true gradient when the layer below
also feeds a route or shortcut). Activations whose gradient needs the pre-activation (swish, mish,
hard_mish, gelu, the normalize_channels family) read it from the layer's input, which is kept.

compat="alexeyab": the fork's generic activate()/gradient() (golden_alexeyab README 5.3): swish,
mish, hard_mish, relu6 and normalize_channels* give 0; gelu's gradient is its formula at the output;
a backward through normalize_channels* is a DarknetError (the fork aborts there).
"""
from ..errors import DarknetError
from ..kernels import activations, blas
from ..registry import register_layer
from ._activation import activate_ext, activation_name, fork_code, gradient_ext, parse_activation
from .base import Layer, Option


@register_layer("activation")
class Activation(Layer):
    OPTIONS = (Option("activation", "linear", "activation function"),)

    def __init__(self, batch, in_shape, activation=activations.LINEAR, dtype=None):
        super().__init__(batch, in_shape, out_shape=in_shape, dtype=dtype)   # output, delta: like the input
        self.activation = activation
        # (channels, spatial) the normalize_channels family normalises over channels per pixel
        self.channels, self.spatial = (in_shape[0], in_shape[1] * in_shape[2]) if len(in_shape) == 3 \
            else (in_shape[0], 1)

    @classmethod
    def from_options(cls, opts, in_shape, net):
        return cls(net.batch, in_shape, parse_activation(opts, default="linear", extended=True), dtype=net.dtype)

    def forward(self, net):
        code = fork_code(self.activation, net, generic=True)
        if code in activations.EXTENDED:
            activate_ext(net.input, self.output, self.batch, self.channels, self.spatial, code)
            return
        blas.copy(net.input, self.output)
        activations.activate(self.output, self.output.size, code)

    def backward(self, net):
        code = fork_code(self.activation, net, generic=True)
        if net.flavour == "alexeyab" and self.activation in activations.CROSS_CHANNEL:
            raise DarknetError(f"layer {self.index} [activation]: AlexeyAB's fork aborts in the backward of "
                               f"activation={activation_name(self.activation)} outside a conv "
                               f"(compat='alexeyab' reproduces it; default mode has its gradient)")
        if code in activations.EXTENDED:
            gradient_ext(net.input, self.output, self.delta, self.batch, self.channels, self.spatial, code,
                         net.flavour == "alexeyab")
        else:
            activations.gradient(self.output, self.output.size, code, self.delta)
        if net.delta is None:                       # first layer of a real training run
            return
        if net.compat:
            blas.copy(self.delta, net.delta)
        else:
            blas.axpy(1.0, self.delta, net.delta)

    def flops(self):
        return self.outputs
