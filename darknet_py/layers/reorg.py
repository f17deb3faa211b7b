"""[reorg]: Darknet's own space-to-depth permutation (reorg_layer.c; golden README section 5).

Not a standard space-to-depth: the flat index mapping treats the input as if it were
(c/stride^2, h*stride, w*stride). Non-reverse: (c, h, w) -> (c*stride^2, h/stride, w/stride);
``reverse=1`` applies the inverse permutation, (c, h, w) -> (c/stride^2, h*stride, w*stride).
Backward applies the inverse permutation and accumulates; Darknet's overwrites net.delta (compat).
"""
from ..kernels import shape
from ..registry import register_layer
from .base import Layer, Option, shape3


@register_layer("reorg")
class Reorg(Layer):
    OPTIONS = (
        Option("stride", 1, "block side"),
        Option("reverse", 0, "depth-to-space: the inverse permutation"),
        Option("flatten", 0, "Darknet's flatten variant: not supported"),
        Option("extra", 0, "Darknet's extra-channels variant: not supported"),
    )

    def __init__(self, batch, in_shape, stride=1, reverse=False, dtype=None):
        c, h, w = in_shape
        s = stride
        out = (c // (s * s), h * s, w * s) if reverse else (c * s * s, h // s, w // s)
        super().__init__(batch, in_shape, out, dtype=dtype)         # output, delta: (B, *out)
        self.stride, self.reverse = stride, reverse

    @classmethod
    def from_options(cls, opts, in_shape, net):
        c, h, w = shape3(in_shape, opts, "reorg")
        s = opts.int("stride", 1, min=1)
        reverse = opts.flag("reverse", 0)
        for key in ("flatten", "extra"):
            if opts.int(key, 0):
                raise opts.error(f"{key}= is not supported", key)
        if c % (s * s):
            raise opts.error(f"{c} channels are not divisible by stride^2 = {s * s}", "stride")
        if not reverse and (h % s or w % s):
            raise opts.error(f"a {h}x{w} input is not divisible by stride={s}", "stride")
        return cls(net.batch, in_shape, s, reverse, dtype=net.dtype)

    def forward(self, net):
        c, h, w = self.in_shape
        shape.reorg(net.input, self.output, self.batch, c, h, w, self.stride, self.reverse, False)

    def backward(self, net):
        if net.delta is None:
            return
        c, h, w = self.in_shape
        shape.reorg(self.delta, net.delta, self.batch, c, h, w, self.stride, not self.reverse, not net.compat)

    def summary(self):
        return {"filters": "", "size": f"/{self.stride}{' rev' if self.reverse else ''}"}
