"""[lstm]: Darknet's LSTM (lstm_layer.c), built from eight linear [connected] layers.

Per time step t, with W* reading h_{t-1} and U* reading x_t (layers/_recurrent.py: steps, views):
    f = logistic(Wf h + Uf x), i = logistic(Wi h + Ui x), g = tanh(Wg h + Ug x), o = logistic(Wo h + Uo x)
    c_t = f * c_{t-1} + i * g;   h_t = o * tanh(c_t);   y_t = h_t
h and c carry over from one forward to the next in training and inference alike, as in Darknet
(truncated back-propagation through consecutive chunks); ``reset_state()`` zeroes them. The
weights file holds wi, wf, wo, wg, ui, uf, uo, ug, each like a [connected] layer (AlexeyAB's fork:
wf, wi, wg, wo, uf, ui, ug, uo; used with compat="alexeyab").

Backward is the exact gradient through time, the carried-in state being a constant. Darknet's CPU
[lstm] has no backward at all (only its GPU code trains), so compat mode reproduces the forward only.
"""
from ..kernels import blas
from ..kernels import recurrent as rk
from ..kernels.activations import LINEAR
from ..registry import register_layer
from ._recurrent import Recurrent, StepNet, block, time_steps
from .base import Option
from .connected import Connected

GATES = ("f", "i", "g", "o")


@register_layer("lstm")
class LSTM(Recurrent):
    OPTIONS = (
        Option("output", 1, "outputs per step (size of h and c)"),
        Option("batch_normalize", 0, "1: batch norm in the eight inner connected layers"),
    )
    WEIGHT_ORDER = ("wi", "wf", "wo", "wg", "ui", "uf", "uo", "ug")
    ALEXEYAB_WEIGHT_ORDER = ("wf", "wi", "wg", "wo", "uf", "ui", "ug", "uo")
    STATE_BUFFERS = ("h", "c")

    def __init__(self, net, in_shape, steps, outputs, batch_normalize=False):
        super().__init__(net.batch, in_shape, (outputs, 1, 1), dtype=net.dtype)   # output, delta: (B, n)
        inner = {}
        for gate in GATES:
            inner["w" + gate] = Connected(net.batch, (outputs, 1, 1), net, outputs, LINEAR, batch_normalize)
            inner["u" + gate] = Connected(net.batch, in_shape, net, outputs, LINEAR, batch_normalize)
        self.init_recurrent(steps, inner, net)
        self.n = outputs
        hs = self.step_batch * outputs
        self.h = self.alloc((steps + 1) * hs)          # (T+1, b, n) [0]: carried in, [t+1]: h_t
        self.c = self.alloc((steps + 1) * hs)          # (T+1, b, n) cell states, same layout
        self.output = self.h[hs:]                      # (T*b, n) y_t = h_t: a view, Darknet copies
        for gate in GATES:                             # (T, b, n) activated gate values, read by backward
            setattr(self, gate, self.alloc(steps * hs))
        self.dh = self.alloc((steps + 1) * hs)         # (T+1, b, n) -dL/dh from the step after
        self.dc = self.alloc(hs)                       # (b, n) -dL/dc flowing back one step at a time

    @classmethod
    def from_options(cls, opts, in_shape, net):
        steps, _ = time_steps(opts, net, "lstm")
        return cls(net, in_shape, steps, opts.int("output", 1, min=1), opts.flag("batch_normalize", 0))

    def run_steps(self, net, batched):
        hs, xs = self.step_batch * self.n, self.step_batch * self.inputs
        v = self.views
        if batched:
            for gate in GATES:
                self.run_at_once("u" + gate, net, net.input)
        for t in range(self.steps):
            h_prev, x = block(self.h, t, hs), block(net.input, t, xs)
            for gate in GATES:
                v["w" + gate][t].forward(StepNet(net, h_prev, None))
                if not batched:
                    v["u" + gate][t].forward(StepNet(net, x, None))
            out = [v[k + gate][t].output for gate in GATES for k in "wu"]
            gates = [block(getattr(self, gate), t, hs) for gate in GATES]
            rk.lstm_forward(*out, block(self.c, t, hs), *gates, block(self.c, t + 1, hs), block(self.h, t + 1, hs))

    def backward_steps(self, net):
        hs, xs = self.step_batch * self.n, self.step_batch * self.inputs
        v = self.views
        blas.fill(self.dh, 0.0)
        blas.fill(self.dc, 0.0)
        for t in range(self.steps - 1, -1, -1):
            gates = [block(getattr(self, gate), t, hs) for gate in GATES]
            deltas = [v["w" + gate][t].delta for gate in GATES]
            rk.lstm_backward(block(self.delta, t, hs), block(self.dh, t + 1, hs), block(self.c, t, hs),
                             block(self.c, t + 1, hs), *gates, self.dc, *deltas)
            h_prev, x = block(self.h, t, hs), block(net.input, t, xs)
            dx = None if net.delta is None else block(net.delta, t, xs)
            for gate in GATES:
                blas.copy(v["w" + gate][t].delta, v["u" + gate][t].delta)   # both sum into one pre-activation
                v["w" + gate][t].backward(StepNet(net, h_prev, block(self.dh, t, hs)))
                v["u" + gate][t].backward(StepNet(net, x, dx))

    def summary(self):
        return {"filters": self.n, "size": f"{self.steps} steps"}
