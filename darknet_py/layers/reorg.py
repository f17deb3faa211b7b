"""[reorg]: Darknet's own space-to-depth permutation (reorg_layer.c; golden README section 5), and its
``flatten`` and ``extra`` variants.

Not a standard space-to-depth: the flat index mapping treats the input as if it were
(c/stride^2, h*stride, w*stride). Non-reverse: (c, h, w) -> (c*stride^2, h/stride, w/stride);
``reverse=1`` applies the inverse permutation, (c, h, w) -> (c/stride^2, h*stride, w*stride).
``flatten=1``: each item's (c, h*w) values transposed to (h*w, c) (``reverse=1``: back), the output
shape computed as above (stride=1 keeps it). ``extra=N``: each item's inputs copied into a flat output
of inputs + N values whose last N stay 0 (Darknet's go.cfg; ``stride`` is ignored).
Backward applies the inverse and accumulates; Darknet's overwrites net.delta (compat).
With flatten and extra both set Darknet reads past its input: a CfgError here.
"""
from ..kernels import flatten as fl
from ..kernels import shape
from ..registry import register_layer
from .base import Layer, Option, shape3


@register_layer("reorg")
class Reorg(Layer):
    OPTIONS = (
        Option("stride", 1, "block side"),
        Option("reverse", 0, "depth-to-space: the inverse permutation"),
        Option("flatten", 0, "1: transpose each item's (c, h*w) values to (h*w, c) (reverse=1: back)"),
        Option("extra", 0, "N: a flat output of inputs + N values, the last N zero"),
    )

    def __init__(self, batch, in_shape, stride=1, reverse=False, flatten=False, extra=0, dtype=None):
        c, h, w = in_shape
        s = stride
        if extra:
            out = (c * h * w + extra,)
        else:
            out = (c // (s * s), h * s, w * s) if reverse else (c * s * s, h // s, w // s)
        super().__init__(batch, in_shape, out, dtype=dtype)         # output, delta: (B, *out)
        self.stride, self.reverse, self.flatten, self.extra = stride, reverse, flatten, extra

    @classmethod
    def from_options(cls, opts, in_shape, net):
        c, h, w = shape3(in_shape, opts, "reorg")
        s = opts.int("stride", 1, min=1)
        reverse = opts.flag("reverse", 0)
        flatten = opts.flag("flatten", 0)
        extra = opts.int("extra", 0, min=0)
        if flatten and extra:
            raise opts.error("flatten and extra together: Darknet reads past its input", "extra")
        if not extra:
            if c % (s * s):
                raise opts.error(f"{c} channels are not divisible by stride^2 = {s * s}", "stride")
            if not reverse and (h % s or w % s):
                raise opts.error(f"a {h}x{w} input is not divisible by stride={s}", "stride")
        return cls(net.batch, in_shape, s, reverse, flatten, extra, dtype=net.dtype)

    def _items(self, flat, n):
        return flat.reshape(self.batch, n)

    def forward(self, net):
        c, h, w = self.in_shape
        if self.flatten:
            fl.flatten(net.input, self.output, self.batch, c, h * w, not self.reverse, False)
        elif self.extra:
            self._items(self.output, self.outputs)[:, :self.inputs] = self._items(net.input, self.inputs)
        else:
            shape.reorg(net.input, self.output, self.batch, c, h, w, self.stride, self.reverse, False)

    def backward(self, net):
        if net.delta is None:
            return
        c, h, w = self.in_shape
        accumulate = not net.compat
        if self.flatten:
            fl.flatten(self.delta, net.delta, self.batch, c, h * w, bool(self.reverse), accumulate)
        elif self.extra:
            dx, dy = self._items(net.delta, self.inputs), self._items(self.delta, self.outputs)[:, :self.inputs]
            if accumulate:
                dx += dy
            else:
                dx[...] = dy
        else:
            shape.reorg(self.delta, net.delta, self.batch, c, h, w, self.stride, not self.reverse, accumulate)

    def summary(self):
        if self.extra:
            return {"filters": "", "size": f"+{self.extra}"}
        kind = " flatten" if self.flatten else ""
        return {"filters": "", "size": f"/{self.stride}{' rev' if self.reverse else ''}{kind}"}
