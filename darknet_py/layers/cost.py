"""[cost]: an elementwise cost on the previous layer's output against net.truth (cost_layer.c).

Like Darknet, the layer's OUTPUT holds the per-element cost (not the prediction), ``delta`` holds
truth - pred style values, ``cost`` is the sum of the output, and backward does
net.delta += scale * delta. Without a truth the forward does nothing (Darknet: ``if (!net.truth) return``).

The delta is minus the gradient, w.r.t. the prediction d = truth - pred, of this declared loss:
  sse, seg, masked: sum(d^2)/2        (the cost reported is sum(d^2), Darknet's)
  smooth:           sum(h(d))/2 with h(d) = d^2 if |d| < 1 else 2|d| - 1 (what the output holds)
  L1:               sum(|d|)
  wgan:             sum(pred where truth == 0, -pred elsewhere) (for 0/1 truths)
and backward scales it by ``scale``.

compat reproduces Darknet's CPU code: L1 and smooth as above, every other type is plain sse (the
seg/wgan/masked/thresh maths exist only in its GPU code), L1 gives delta -1 where d == 0, smooth's
linear branch (|d| >= 1) has the wrong sign (delta -sign(d), its GPU code has +sign(d)), and
``masked`` writes SECRET_NUM (-1234) into the previous layer's output where truth == -1234.
default applies the types as Darknet's GPU code does: wgan its own cost; seg multiplies delta and
output by ``noobj`` where truth == 0; masked gives 0 cost and delta where truth == -1234 (without
touching the input); ``thresh`` zeroes deltas smaller than thresh/inputs. ``ratio`` is read and
ignored: Darknet computes a threshold from it and then overwrites that threshold with 0.
"""
import numpy as np

from ..kernels import blas
from ..kernels import cost as ck
from ..registry import register_layer
from .base import Layer, Option

COST_TYPES = ("sse", "masked", "smooth", "L1", "seg", "wgan")


@register_layer("cost")
class Cost(Layer):
    OPTIONS = (
        Option("type", "sse", "one of " + ", ".join(COST_TYPES)),
        Option("scale", 1.0, "multiplies the delta passed down"),
        Option("ratio", 0.0, "read and ignored, as in Darknet (its threshold is overwritten with 0)"),
        Option("noobj", 1.0, "seg: scale of delta and cost where truth == 0 (Darknet's noobject_scale)"),
        Option("thresh", 0.0, "zero deltas smaller than thresh/inputs (default mode)"),
    )

    def __init__(self, batch, in_shape, cost_type="sse", scale=1.0, ratio=0.0, noobject_scale=1.0, thresh=0.0,
                 dtype=None):
        n = int(np.prod(in_shape))
        super().__init__(batch, in_shape, (n,), dtype=dtype)     # output (per-element cost), delta: (B, n)
        self.cost_type, self.scale, self.ratio = cost_type, scale, ratio
        self.noobject_scale, self.thresh = noobject_scale, thresh
        self.cost = None

    @classmethod
    def from_options(cls, opts, in_shape, net):
        cost_type = opts.str("type", "sse", choices=COST_TYPES)
        return cls(net.batch, in_shape, cost_type, opts.float("scale", 1.0), opts.float("ratio", 0.0),
                   opts.float("noobj", 1.0), opts.float("thresh", 0.0, min=0.0), dtype=net.dtype)

    def forward(self, net):
        truth = net.truth
        if truth is None:
            self.cost = None
            return
        x, t, delta, error = net.input, truth, self.delta, self.output
        kind = self.cost_type
        if net.compat:
            if kind == "masked":
                ck.mask_input(x, t)
            if kind == "smooth":
                ck.smooth_l1(x, t, delta, error, True)
            elif kind == "L1":
                ck.l1(x, t, delta, error, True)
            else:
                ck.l2(x, t, delta, error)
        else:
            if kind == "smooth":
                ck.smooth_l1(x, t, delta, error, False)
            elif kind == "L1":
                ck.l1(x, t, delta, error, False)
            elif kind == "wgan":
                ck.wgan(x, t, delta, error)
            else:
                ck.l2(x, t, delta, error)
            if kind == "seg" and self.noobject_scale != 1:
                ck.scale_where_truth_is(t, 0.0, self.noobject_scale, delta, error)
            if kind == "masked":
                ck.scale_where_truth_is(t, ck.SECRET_NUM, 0.0, delta, error)
            if self.thresh:
                ck.suppress_small(delta, self.thresh / self.inputs)
        self.cost = float(np.sum(error, dtype=np.float64))

    def backward(self, net):
        if net.delta is None:
            return
        blas.axpy(self.scale, self.delta, net.delta)

    def summary(self):
        return {"filters": "", "size": self.cost_type}
