"""[reorg3d]: AlexeyAB's space-to-depth (its reorg_layer.c; the fork's [reorg] is pjreddie's, reorg.py).

The fork calls Darknet's reorg_cpu with the OUTPUT's sizes where pjreddie passes the input's, which
gives a true space-to-depth: (C, H, W) -> (C*s^2, H/s, W/s) with
out[b, k, j, i] = in[b, k % C, j*s + (k/C)/s, i*s + (k/C)%s].
``reverse=1``: (C, H, W) -> (C/s^2, H*s, W*s) by reorg_cpu's scatter over the output's sizes, which
is NOT the inverse of the forward direction (golden README 5.8). C must be divisible by s^4 there
(the fork divides by zero when C/s^2 < s^2), and H, W by s without reverse.

Backward applies the inverse permutation. The fork overwrites net.delta with it; compat mode keeps
that, the default adds (the true gradient when the layer below also feeds another layer).
"""
from ..kernels import shape
from ..registry import register_layer
from .base import Layer, Option, shape3


@register_layer("reorg3d")
class Reorg3d(Layer):
    OPTIONS = (
        Option("stride", 1, "block side"),
        Option("reverse", 0, "1: depth-to-space in the fork's (non-inverse) order"),
    )

    def __init__(self, batch, in_shape, stride=1, reverse=False, dtype=None):
        c, h, w = in_shape
        s = stride
        out = (c // (s * s), h * s, w * s) if reverse else (c * s * s, h // s, w // s)
        super().__init__(batch, in_shape, out, dtype=dtype)         # output, delta: (B, *out)
        self.stride, self.reverse = stride, reverse

    @classmethod
    def from_options(cls, opts, in_shape, net):
        c, h, w = shape3(in_shape, opts, "reorg3d")
        s = opts.int("stride", 1, min=1)
        reverse = opts.flag("reverse", 0)
        if reverse and c % (s ** 4):
            raise opts.error(f"reverse=1 needs channels divisible by stride^4 = {s ** 4}, got {c}", "stride")
        if not reverse and (h % s or w % s):
            raise opts.error(f"a {h}x{w} input is not divisible by stride={s}", "stride")
        return cls(net.batch, in_shape, s, reverse, dtype=net.dtype)

    def _permute(self, src, dst, gather, accumulate):
        """reorg_cpu over the output's sizes: gather (dst[a] = src[p]) or scatter (dst[p] = src[a])."""
        c, h, w = self.out_shape
        shape.reorg(src, dst, self.batch, c, h, w, self.stride, not gather, accumulate)

    def forward(self, net):
        self._permute(net.input, self.output, gather=not self.reverse, accumulate=False)

    def backward(self, net):
        if net.delta is None:
            return
        self._permute(self.delta, net.delta, gather=self.reverse, accumulate=not net.compat)

    def summary(self):
        return {"filters": "", "size": f"/{self.stride}{' rev' if self.reverse else ''}"}
