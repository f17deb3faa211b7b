"""[local_avgpool] / [local_avg]: average over size x size windows (AlexeyAB's maxpool_layer.c).

The geometry is the fork's maxpool's: padding defaults to size-1, the window origin is
(i*stride_y - padding//2, j*stride_x - padding//2), out = (in + padding - size)/stride + 1. Each output
is the mean of the window's cells that lie inside the input (border windows divide by their count).

Backward: the fork adds delta/(size*size) to every valid cell, which is not the gradient of that
forward at the border; by default each valid cell gets delta/count (the true gradient), compat mode
keeps the fork's size*size.
"""
from ..kernels import pool
from ..registry import register_layer
from .base import Layer, Option, shape3


@register_layer("local_avgpool", "local_avg")
class LocalAvgPool(Layer):
    OPTIONS = (
        Option("size", "stride", "window side"),
        Option("stride", 1, "step between windows"),
        Option("stride_x", "stride", "step between window columns"),
        Option("stride_y", "stride", "step between window rows"),
        Option("padding", "size-1", "total padding; the window starts padding//2 cells before the input"),
    )

    def __init__(self, batch, in_shape, size, stride_x, stride_y, padding, dtype=None):
        c, h, w = in_shape
        out = (c, (h + padding - size) // stride_y + 1, (w + padding - size) // stride_x + 1)
        super().__init__(batch, in_shape, out, dtype=dtype)                 # output, delta: (B, C, OH, OW)
        self.size, self.stride_x, self.stride_y, self.padding = size, stride_x, stride_y, padding

    @classmethod
    def from_options(cls, opts, in_shape, net):
        c, h, w = shape3(in_shape, opts, "local_avgpool")
        stride = opts.int("stride", 1, min=1)
        stride_x = opts.int("stride_x", stride, min=1)
        stride_y = opts.int("stride_y", stride, min=1)
        size = opts.int("size", stride, min=1)
        padding = opts.int("padding", size - 1, min=0)
        if h + padding < size or w + padding < size:
            raise opts.error(f"a {size}x{size} window with padding {padding} does not fit a {h}x{w} input")
        return cls(net.batch, in_shape, size, stride_x, stride_y, padding, dtype=net.dtype)

    def _geometry(self):
        c, h, w = self.in_shape
        _, out_h, out_w = self.out_shape
        return self.batch, c, h, w, out_h, out_w, self.size, self.stride_x, self.stride_y, self.padding

    def forward(self, net):
        pool.local_avgpool_forward(net.input, self.output, *self._geometry())

    def backward(self, net):
        if net.delta is None:
            return
        pool.local_avgpool_backward(self.delta, net.delta, *self._geometry(), not net.compat)

    def flops(self):
        return self.size * self.size * self.outputs

    def summary(self):
        stride = self.stride_x if self.stride_x == self.stride_y else f"{self.stride_x}x{self.stride_y}"
        return {"filters": "", "size": f"{self.size}x{self.size}/{stride}"}
