"""[upsample]: nearest-neighbour upsampling times ``scale`` (upsample_layer.c).

``stride`` > 0: each input cell becomes a stride x stride block of scale*x. ``stride`` < 0 downsamples
by -stride: each output cell is scale times the SUM of its block (Darknet's, not a mean); input rows
and columns past a whole block are ignored. Backward is the transpose of the forward, and accumulates;
Darknet's downsample backward overwrites net.delta (reproduced in compat).
The upsample forward uses ``shape.upsample_spread_fast`` (same values, one big row per task) unless
``net.fast`` is False.
"""
from ..kernels import shape
from ..registry import register_layer
from .base import Layer, Option, shape3


@register_layer("upsample")
class Upsample(Layer):
    OPTIONS = (
        Option("stride", 2, "block side; negative downsamples"),
        Option("scale", 1.0, "multiplies every output value"),
    )

    def __init__(self, batch, in_shape, stride=2, scale=1.0, dtype=None):
        c, h, w = in_shape
        self.reverse = stride < 0
        self.stride = abs(stride)
        s = self.stride
        out = (c, h // s, w // s) if self.reverse else (c, h * s, w * s)
        super().__init__(batch, in_shape, out, dtype=dtype)         # output, delta: (B, C, OH, OW)
        self.scale = scale

    @classmethod
    def from_options(cls, opts, in_shape, net):
        c, h, w = shape3(in_shape, opts, "upsample")
        stride = opts.int("stride", 2)
        if stride == 0:
            raise opts.error("stride=0: use a positive stride to upsample, a negative one to downsample", "stride")
        if stride < 0 and (h < -stride or w < -stride):
            raise opts.error(f"stride={stride} downsamples a {h}x{w} input to nothing", "stride")
        return cls(net.batch, in_shape, stride, opts.float("scale", 1.0), dtype=net.dtype)

    def forward(self, net):
        c, h, w = self.in_shape
        _, oh, ow = self.out_shape
        if self.reverse:
            shape.upsample_gather(net.input, self.output, self.batch * c, oh, ow, h, w, self.stride, self.scale,
                                  False)
        elif net.fast:
            shape.upsample_spread_fast(net.input, self.output, self.batch * c, h, w, oh, ow, self.stride,
                                       self.scale)
        else:
            shape.upsample_spread(net.input, self.output, self.batch * c, h, w, oh, ow, self.stride, self.scale,
                                  False)

    def backward(self, net):
        if net.delta is None:
            return
        c, h, w = self.in_shape
        _, oh, ow = self.out_shape
        if self.reverse:
            shape.upsample_spread(self.delta, net.delta, self.batch * c, oh, ow, h, w, self.stride, self.scale,
                                  not net.compat)
        else:
            shape.upsample_gather(self.delta, net.delta, self.batch * c, h, w, oh, ow, self.stride, self.scale,
                                  True)

    def summary(self):
        return {"filters": "", "size": f"{'-' if self.reverse else ''}{self.stride}x"}
