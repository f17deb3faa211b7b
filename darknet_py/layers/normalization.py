"""[normalization] / [lrn]: local response normalization across channels (normalization_layer.c).

y = x * (kappa + alpha * sum of x^2 over a window of ``size`` channels)^-beta (alpha not divided by size,
as in Darknet). The window of channel k is [k - (size-1)//2, k + size//2].
* default: that window summed directly, and the true gradient (accumulated).
* compat: Darknet's running window, which starts one channel short and so subtracts a channel it
  never added (norms can go negative: NaN), and its approximate backward dx = dy * norms^-beta that
  ignores how norms depend on x and overwrites net.delta.
"""
from ..kernels import lrn
from ..registry import register_layer
from .base import Layer, Option, shape3


@register_layer("normalization", "lrn")
class Normalization(Layer):
    OPTIONS = (
        Option("size", 5, "channels in the window"),
        Option("alpha", 0.0001, "scale of the squared sum"),
        Option("beta", 0.75, "exponent"),
        Option("kappa", 1.0, "offset of the norm"),
    )

    def __init__(self, batch, in_shape, size=5, alpha=1e-4, beta=0.75, kappa=1.0, dtype=None):
        super().__init__(batch, in_shape, in_shape, dtype=dtype)    # output, delta: (B, C, H, W)
        self.size, self.alpha, self.beta, self.kappa = size, alpha, beta, kappa
        self.norms = self.alloc(self.batch * self.outputs)           # (B, C, H, W) kappa + alpha*window sum

    @classmethod
    def from_options(cls, opts, in_shape, net):
        shape3(in_shape, opts, "normalization")
        return cls(net.batch, in_shape, opts.int("size", 5, min=1), opts.float("alpha", 0.0001),
                   opts.float("beta", 0.75), opts.float("kappa", 1.0), dtype=net.dtype)

    def forward(self, net):
        c, h, w = self.in_shape
        if net.compat:      # alpha, kappa in the buffers' dtype so the running sum rounds like Darknet's floats
            t = self.dtype.type
            lrn.lrn_forward_darknet(net.input, self.output, self.norms, self.batch, c, h * w, self.size,
                                    t(self.alpha), self.beta, t(self.kappa))
        else:
            lrn.lrn_forward(net.input, self.output, self.norms, self.batch, c, h * w, self.size,
                            self.alpha, self.beta, self.kappa)

    def backward(self, net):
        if net.delta is None:
            return
        c, h, w = self.in_shape
        if net.compat:
            lrn.lrn_backward_darknet(self.norms, self.delta, net.delta, self.delta.size, self.beta)
        else:
            lrn.lrn_backward(net.input, self.output, self.norms, self.delta, net.delta, self.batch, c, h * w,
                             self.size, self.alpha, self.beta)

    def flops(self):
        return (self.size + 3) * self.inputs
