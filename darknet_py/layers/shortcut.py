"""[shortcut]: y = act(alpha * prev + beta * from), a residual connection (Darknet's shortcut_layer.c).

``from`` is a layer index, negative = relative to this layer; it must point at an earlier layer.
Maps of different sizes meet like Darknet's shortcut_cpu: the larger one is strided, the smaller one
sampled, over the smaller channel count; the positions of prev that no ``from`` value reaches keep
prev's value unscaled (alpha is applied only where the sum is formed).

Backward, d = delta * act'(y): from.delta += beta * d at the positions it reached (both modes);
prev's gradient is alpha * d at the reached positions and d elsewhere. Darknet adds alpha * d
everywhere, which differs when alpha != 1 and the maps differ in size; compat mode keeps that.
"""
from ..kernels import activations, blas, im2col
from ..registry import register_layer
from ._activation import parse_activation
from .base import Layer, Option, shape3


@register_layer("shortcut")
class Shortcut(Layer):
    OPTIONS = (
        Option("from", None, "index of the layer to add (negative: relative to this one); required"),
        Option("activation", "linear", "activation function"),
        Option("alpha", 1.0, "weight of the previous layer's output"),
        Option("beta", 1.0, "weight of the 'from' layer's output"),
    )

    def __init__(self, batch, in_shape, source, from_shape, activation=activations.LINEAR, alpha=1.0, beta=1.0,
                 dtype=None):
        super().__init__(batch, in_shape, out_shape=in_shape, dtype=dtype)   # output, delta: like prev (B, C, H, W)
        self.source = source                          # index of the 'from' layer
        self.from_shape = tuple(from_shape)           # its (c, h, w)
        self.activation = activation
        self.alpha, self.beta = alpha, beta

    @classmethod
    def from_options(cls, opts, in_shape, net):
        here = len(net.layers)
        c, h, w = shape3(in_shape, opts, "shortcut")
        index = opts.int("from")
        source = here + index if index < 0 else index
        if not 0 <= source < here:
            raise opts.error(f"from={index} points at layer {source}; it must be an earlier layer (0..{here - 1})",
                             "from")
        from_shape = net.layers[source].out_shape
        if len(from_shape) != 3:
            raise opts.error(f"from={index}: layer {source} has no (c, h, w) output ({from_shape})", "from")
        c1, h1, w1 = from_shape
        # Darknet's shortcut_cpu asserts: one ratio for width and height, in both directions
        if w1 // w != h1 // h or w // w1 != h // h1:
            raise opts.error(f"from={index}: layer {source}'s output {w1}x{h1} and the input {w}x{h} do not "
                             f"scale by the same factor in width and height", "from")
        activation = parse_activation(opts, default="linear")
        alpha = opts.float("alpha", 1.0)
        beta = opts.float("beta", 1.0)
        return cls(net.batch, in_shape, source, from_shape, activation, alpha, beta, dtype=net.dtype)

    def forward(self, net):
        blas.copy(net.input, self.output)
        c1, h1, w1 = self.from_shape
        c2, h2, w2 = self.out_shape
        im2col.shortcut(self.batch, w1, h1, c1, net.layers[self.source].output, w2, h2, c2,
                        self.alpha, self.beta, self.output)
        activations.activate(self.output, self.output.size, self.activation)

    def backward(self, net):
        activations.gradient(self.output, self.output.size, self.activation, self.delta)
        c1, h1, w1 = self.from_shape
        c2, h2, w2 = self.out_shape
        if net.delta is not None:
            if net.compat or (c1 >= c2 and h1 >= h2 and w1 >= w2):   # every position was scaled by alpha
                blas.axpy(self.alpha, self.delta, net.delta)
            else:                                   # d everywhere, alpha * d where the sum was formed
                blas.axpy(1.0, self.delta, net.delta)
                im2col.shortcut_hits_axpy(self.batch, w1, h1, c1, w2, h2, c2, self.alpha - 1.0,
                                          self.delta, net.delta)
        source_delta = net.layers[self.source].delta
        if source_delta is not None:
            # the same pairing run backwards: from.delta[src] += beta * delta[hit]
            im2col.shortcut(self.batch, w2, h2, c2, self.delta, w1, h1, c1, 1.0, self.beta, source_delta)

    def summary(self):
        return {"filters": "", "size": f"from {self.source}"}
