"""[scale_channels]: out = act(prev * from), one factor per channel (AlexeyAB's scale_channels_layer.c).

The squeeze-excitation product of EfficientNet / yolov4-csp cfgs: the previous layer is (C, 1, 1)
and ``from`` is (C, H, W); out[b, c, y, x] = prev[b, c] * from[b, c, y, x], shaped like ``from``.
``scale_wh=1`` scales positions instead: the previous layer is (1, H, W) and
out[b, c, y, x] = prev[b, 0, y, x] * from[b, c, y, x].

Backward (d = delta * act'(out)), the same in both modes and the true gradient:
prev.delta += sum of d * from over the scaled axis; from.delta += prev * d.
"""
from ..kernels import activations, scale
from ..registry import register_layer
from ._product import ProductLayer
from .base import Option, shape3


@register_layer("scale_channels")
class ScaleChannels(ProductLayer):
    OPTIONS = ProductLayer.OPTIONS + (
        Option("scale_wh", 0, "1: one factor per position (prev is (1, H, W)) instead of per channel"),
    )

    def __init__(self, batch, in_shape, from_shape, source, activation, scale_wh=False, dtype=None):
        super().__init__(batch, in_shape, from_shape, source, activation, dtype=dtype)   # output, delta: like from
        self.scale_wh = scale_wh

    @classmethod
    def from_options(cls, opts, in_shape, net):
        c, h, w = shape3(in_shape, opts, "scale_channels")
        source, from_shape = cls.source_of(opts, net)
        scale_wh = opts.flag("scale_wh", 0)
        fc, fh, fw = from_shape
        if scale_wh and (c != 1 or (h, w) != (fh, fw)):
            raise opts.error(f"scale_wh=1 needs a (1, {fh}, {fw}) input to scale layer {source}'s {from_shape}, "
                             f"got {tuple(in_shape)}", "scale_wh")
        if not scale_wh and (h, w, c) != (1, 1, fc):
            raise opts.error(f"needs a ({fc}, 1, 1) input to scale layer {source}'s {from_shape} per channel, "
                             f"got {tuple(in_shape)}", "from")
        return cls(net.batch, in_shape, from_shape, source, cls.activation_of(opts), scale_wh, dtype=net.dtype)

    def _sizes(self):
        c, h, w = self.out_shape
        return self.batch, c, h * w, self.scale_wh

    def forward(self, net):
        scale.scale_channels_forward(net.input, net.layers[self.source].output, self.output, *self._sizes())
        activations.activate(self.output, self.output.size, self.activation)

    def backward(self, net):
        activations.gradient(self.output, self.output.size, self.activation, self.delta)
        source = net.layers[self.source]
        if net.delta is not None:
            scale.scale_channels_backward_scale(self.delta, source.output, net.delta, *self._sizes())
        if source.delta is not None:
            scale.scale_channels_backward_scaled(self.delta, net.input, source.delta, *self._sizes())
