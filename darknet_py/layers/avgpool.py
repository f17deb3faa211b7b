"""[avgpool] / [avg]: global average pooling, (c, h, w) -> (c, 1, 1) (Darknet's avgpool_layer.c).

Darknet's forward and backward are both exact, so both modes share them."""
from ..kernels import pool
from ..registry import register_layer
from .base import Layer, shape3


@register_layer("avgpool", "avg")
class AvgPool(Layer):
    OPTIONS = ()                                    # Darknet's parse_avgpool reads no key

    def __init__(self, batch, in_shape, dtype=None):
        super().__init__(batch, in_shape, (in_shape[0], 1, 1), dtype=dtype)   # output, delta: (B, C, 1, 1)

    @classmethod
    def from_options(cls, opts, in_shape, net):
        shape3(in_shape, opts, "avgpool")
        return cls(net.batch, in_shape, dtype=net.dtype)

    def forward(self, net):
        c, h, w = self.in_shape
        pool.avgpool_forward(net.input, self.output, self.batch * c, h * w)

    def backward(self, net):
        if net.delta is None:
            return
        c, h, w = self.in_shape
        pool.avgpool_backward(self.delta, net.delta, self.batch * c, h * w)

    def flops(self):
        return self.inputs
