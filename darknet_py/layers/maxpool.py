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
        Option("stride_x", "stride", "step between window columns (AlexeyAB)"),
        Option("stride_y", "stride", "step between window rows (AlexeyAB)"),
        Option("maxpool_depth", 0, "1: max across channels g, g+out_channels, ... instead (AlexeyAB)"),
        Option("out_channels", 1, "output channels of maxpool_depth=1"),
        Option("antialiasing", 0, "AlexeyAB's blur after pooling: not supported (CfgError when set)"),
        Option("maxpool_zero_nonmax", 0, "AlexeyAB's GPU-only option: not supported (CfgError when set)"),
    )

    def __init__(self, batch, in_shape, size, stride, padding, dtype=np.float32, stride_y=None, depth_groups=0):
        c, h, w = in_shape
        stride_y = stride if stride_y is None else stride_y
        if depth_groups:
            out = (depth_groups, h, w)
        else:
            out = (c, (h + padding - size) // stride_y + 1, (w + padding - size) // stride + 1)
        super().__init__(batch, in_shape, out, dtype=dtype)                 # output, delta: (B, C', OH, OW)
        self.size, self.stride, self.padding = size, stride, padding       # stride: the column step
        self.stride_y = stride_y
        self.depth_groups = depth_groups            # > 0: maxpool_depth with this many output channels
        self.indexes = alloc(self.batch * self.outputs, np.int64)          # (B, C, OH, OW) argmax input index
        self._indexes_stale = False                 # the last forward skipped the indexes

    @classmethod
    def from_options(cls, opts, in_shape, net):
        c, h, w = shape3(in_shape, opts, "maxpool")
        stride = opts.int("stride", 1, min=1)
        stride_x = opts.int("stride_x", stride, min=1)
        stride_y = opts.int("stride_y", stride, min=1)
        size = opts.int("size", stride, min=1)
        padding = opts.int("padding", size - 1, min=0)
        for key in ("antialiasing", "maxpool_zero_nonmax"):
            if opts.int(key, 0):
                raise opts.error(f"[maxpool] {key}= is not supported by darknet_py", key)
        if opts.flag("maxpool_depth", 0):
            groups = opts.int("out_channels", 1, min=1)
            if groups > c:
                raise opts.error(f"out_channels={groups} is more than the {c} input channels", "out_channels")
            return cls(net.batch, in_shape, size, stride_x, padding, dtype=net.dtype, stride_y=stride_y,
                       depth_groups=groups)
        opts.used.add("out_channels")               # read by the fork only with maxpool_depth
        if h + padding < size or w + padding < size:
            raise opts.error(f"a {size}x{size} window with padding {padding} does not fit a {h}x{w} input")
        return cls(net.batch, in_shape, size, stride_x, padding, dtype=net.dtype, stride_y=stride_y)

    def forward(self, net):
        c, h, w = self.in_shape
        _, out_h, out_w = self.out_shape
        if self.depth_groups or self.stride_y != self.stride:
            self._forward_alexeyab(net)
            return
        if not net.train and net.fast:
            pool.maxpool_forward_values(net.input, self.output, self.batch, c, h, w, out_h, out_w,
                                        self.size, self.stride, self.padding)
            self._indexes_stale = True
            return
        self._indexes_stale = False
        forward = pool.maxpool_forward_fast if net.fast else pool.maxpool_forward
        forward(net.input, self.output, self.indexes, self.batch, c, h, w, out_h, out_w,
                self.size, self.stride, self.padding)

    def _forward_alexeyab(self, net):
        c, h, w = self.in_shape
        _, out_h, out_w = self.out_shape
        self._indexes_stale = False
        if self.depth_groups:
            pool.maxpool_depth_forward(net.input, self.output, self.indexes, self.batch, c, h * w, self.depth_groups)
        else:
            pool.maxpool_forward_xy(net.input, self.output, self.indexes, self.batch, c, h, w, out_h, out_w,
                                    self.size, self.stride, self.stride_y, self.padding)

    def backward(self, net):
        if net.delta is None:                       # first layer of a real training run: nothing below
            return
        if self.depth_groups:
            pool.maxpool_scatter(self.indexes, self.delta, net.delta)
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
        if self.depth_groups:
            return self.inputs
        return self.size * self.size * self.outputs

    def summary(self):
        if self.depth_groups:
            return {"filters": "", "size": f"depth {self.in_shape[0]}->{self.depth_groups}"}
        stride = self.stride if self.stride == self.stride_y else f"{self.stride}x{self.stride_y}"
        return {"filters": "", "size": f"{self.size}x{self.size}/{stride}"}
