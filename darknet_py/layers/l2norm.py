"""[l2norm]: scale each spatial position's channel vector to unit L2 norm (Darknet's l2norm_layer.c).

Two deliberate differences from Darknet's CPU code (README, "Where darknet_py differs"):
* an epsilon floors the norm, so an all-zero vector gives 0 where Darknet gives 0/0 = NaN;
* backward is the true gradient (dy - y<dy,y>)/||x||; Darknet's passes the delta through unchanged.
With ``net.compat`` both are Darknet's (eps = 0, pass-through backward).

``gradient=passthrough`` gives Darknet's backward for this layer alone (the rest of the network stays
in default mode), so the same network can be trained both ways and compared (tools/l2norm_experiment.py).
"""
from ..kernels import blas, norm
from ..registry import register_layer
from .base import Layer, Option, shape3


@register_layer("l2norm")
class L2Norm(Layer):
    OPTIONS = (
        Option("eps", 1e-12, "floor of the norm (0 gives Darknet's NaN on zero vectors)"),
        Option("gradient", "true", "backward: true (the real gradient) or passthrough (Darknet's "
                                   "net.delta += delta; always so in compat mode)"),
    )
    GRADIENTS = ("true", "passthrough")

    def __init__(self, batch, in_shape, eps=1e-12, gradient="true", dtype=None):
        super().__init__(batch, in_shape, out_shape=in_shape, dtype=dtype)   # output, delta: (B, C, H, W)
        c, h, w = in_shape
        if gradient not in self.GRADIENTS:
            raise ValueError(f"gradient must be one of {self.GRADIENTS}, got {gradient!r}")
        self.eps = eps
        self.gradient = gradient
        self.norms = self.alloc(batch * h * w)      # (B, H*W) divisors, read by backward

    @classmethod
    def from_options(cls, opts, in_shape, net):
        shape3(in_shape, opts, "l2norm")
        return cls(net.batch, in_shape, eps=opts.float("eps", default=1e-12, min=0.0),
                   gradient=opts.str("gradient", "true", choices=cls.GRADIENTS), dtype=net.dtype)

    def forward(self, net):
        c, h, w = self.in_shape
        eps = 0.0 if net.compat else self.eps
        norm.l2normalize_forward(net.input, self.output, self.norms, self.batch, c, h * w, eps)

    def backward(self, net):
        if net.delta is None:                       # first layer of a real training run: nothing below
            return
        if net.compat or self.gradient == "passthrough":    # Darknet's CPU backward: net.delta += l.delta
            blas.axpy(1.0, self.delta, net.delta)
            return
        c, h, w = self.in_shape
        norm.l2normalize_backward(self.output, self.norms, self.delta, net.delta, self.batch, c, h * w)

    def flops(self):
        return 3 * self.inputs
