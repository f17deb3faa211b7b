"""[sam]: spatial attention of YOLOv4-sam, out = act(prev * from) elementwise (AlexeyAB's sam_layer.c).

``from`` must have the previous layer's shape. Backward, d = delta * act'(out):
prev.delta += d * from; from.delta += d * prev. The fork OVERWRITES from's delta with d * prev,
losing what other consumers of that layer added (golden case ``sam_overwrite``); compat mode keeps
that, the default adds (the true gradient).
"""
from ..kernels import activations, scale
from ..registry import register_layer
from ._product import ProductLayer


@register_layer("sam")
class Sam(ProductLayer):
    OPTIONS = ProductLayer.OPTIONS

    @classmethod
    def from_options(cls, opts, in_shape, net):
        source, from_shape = cls.source_of(opts, net)
        if tuple(in_shape) != tuple(from_shape):
            raise opts.error(f"from: layer {source}'s output {from_shape} differs from the input {tuple(in_shape)}; "
                             f"[sam] multiplies them elementwise", "from")
        return cls(net.batch, in_shape, from_shape, source, cls.activation_of(opts), dtype=net.dtype)

    def forward(self, net):
        scale.mul(net.input, net.layers[self.source].output, self.output)
        activations.activate(self.output, self.output.size, self.activation)

    def backward(self, net):
        activations.gradient(self.output, self.output.size, self.activation, self.delta)
        source = net.layers[self.source]
        if net.delta is not None:
            scale.mul_add(self.delta, source.output, net.delta)
        if source.delta is not None:
            (scale.mul if net.compat else scale.mul_add)(net.input, self.delta, source.delta)
