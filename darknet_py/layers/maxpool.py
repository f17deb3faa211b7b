"""[maxpool] / [max]: max over size x size windows (Darknet's maxpool_layer.c).

Same numbers as Darknet in both modes: padding defaults to size-1, the window origin is
i*stride - padding//2, out-of-range cells count as -FLT_MAX and ties go to the first maximum.
The backward adds each output's delta to the input cell that won (the true gradient away from ties).
Inference with ``net.fast`` (the default) computes the same values without the argmax indexes
(``pool.maxpool_forward_values``); a backward after such a forward recomputes them first.
Training with ``net.fast`` tracks the indexes with the same loop structure (``pool.maxpool_forward_fast``,
bitwise the values and indexes of ``pool.maxpool_forward``, which ``net.fast = False`` runs).
"""
import numpy as np

from ..kernels import pool
from ..registry import register_layer
from .base import Layer, Option, alloc, shape3


@register_layer("maxpool", "max")
class MaxPool(Layer):
    OPTIONS = (
        Option("size", "stride", "window side"),
        Option("stride", 1, "step between windows"),
        Option("padding", "size-1", "total padding; the window starts padding//2 cells before the input"),
    )

    def __init__(self, batch, in_shape, size, stride, padding, dtype=np.float32):
        c, h, w = in_shape
        out_h = (h + padding - size) // stride + 1
        out_w = (w + padding - size) // stride + 1
        super().__init__(batch, in_shape, (c, out_h, out_w), dtype=dtype)   # output, delta: (B, C, OH, OW)
        self.size, self.stride, self.padding = size, stride, padding
        self.indexes = alloc(self.batch * self.outputs, np.int64)          # (B, C, OH, OW) argmax input index
        self._indexes_stale = False                 # the last forward skipped the indexes

    @classmethod
    def from_options(cls, opts, in_shape, net):
        c, h, w = shape3(in_shape, opts, "maxpool")
        stride = opts.int("stride", 1, min=1)
        size = opts.int("size", stride, min=1)
        padding = opts.int("padding", size - 1, min=0)
        if h + padding < size or w + padding < size:
            raise opts.error(f"a {size}x{size} window with padding {padding} does not fit a {h}x{w} input")
        return cls(net.batch, in_shape, size, stride, padding, dtype=net.dtype)

    def forward(self, net):
        c, h, w = self.in_shape
        _, out_h, out_w = self.out_shape
        if not net.train and net.fast:
            pool.maxpool_forward_values(net.input, self.output, self.batch, c, h, w, out_h, out_w,
                                        self.size, self.stride, self.padding)
            self._indexes_stale = True
            return
        self._indexes_stale = False
        forward = pool.maxpool_forward_fast if net.fast else pool.maxpool_forward
        forward(net.input, self.output, self.indexes, self.batch, c, h, w, out_h, out_w,
                self.size, self.stride, self.padding)

    def backward(self, net):
        if net.delta is None:                       # first layer of a real training run: nothing below
            return
        if self._indexes_stale:                     # net.input is still this layer's forward input
            c, h, w = self.in_shape
            _, out_h, out_w = self.out_shape
            pool.maxpool_forward(net.input, self.output, self.indexes, self.batch, c, h, w, out_h, out_w,
                                 self.size, self.stride, self.padding)
            self._indexes_stale = False
        c, out_h, out_w = self.out_shape
        pool.maxpool_backward(self.indexes, self.delta, net.delta, self.batch * c, out_h * out_w)

    def flops(self):
        return self.size * self.size * self.outputs

    def summary(self):
        return {"filters": "", "size": f"{self.size}x{self.size}/{self.stride}"}
