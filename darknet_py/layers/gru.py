"""[gru]: Darknet's GRU (gru_layer.c), built from six linear [connected] layers.

Per time step t, with W* reading the state and U* reading x_t (layers/_recurrent.py: steps, views):
    z = logistic(Wz h + Uz x), r = logistic(Wr h + Ur x)
    hh = act(Wh (r * h) + Uh x)   (act: tanh with tanh=1, else logistic, Darknet's default)
    h_t = z * h_{t-1} + (1 - z) * hh;   y_t = h_t
The state carries over from one forward to the next, training included, as in Darknet;
``reset_state()`` zeroes it. The weights file holds wz, wr, wh, uz, ur, uh, each like a [connected]
(AlexeyAB's fork: uz, ur, uh, wz, wr, wh, used with compat="alexeyab"; the fork reads no ``tanh``).

Backward is the exact gradient through time, the carried-in state being a constant. Darknet's CPU
backward is not that gradient (it reuses buffers of the forward's last step), so compat mode
reproduces the forward only.
"""
from ..kernels import blas
from ..kernels import recurrent as rk
from ..kernels.activations import LINEAR
from ..registry import register_layer
from ._recurrent import Recurrent, StepNet, block, time_steps
from .base import Option
from .connected import Connected


@register_layer("gru")
class GRU(Recurrent):
    OPTIONS = (
        Option("output", 1, "outputs per step (size of the state)"),
        Option("batch_normalize", 0, "1: batch norm in the six inner connected layers"),
        Option("tanh", 0, "1: tanh for the candidate state, 0: logistic (Darknet's default)"),
    )
    WEIGHT_ORDER = ("wz", "wr", "wh", "uz", "ur", "uh")
    ALEXEYAB_WEIGHT_ORDER = ("uz", "ur", "uh", "wz", "wr", "wh")     # its input_*, then state_* layers
    STATE_BUFFERS = ("state",)

    def __init__(self, net, in_shape, steps, outputs, batch_normalize=False, use_tanh=False):
        super().__init__(net.batch, in_shape, (outputs, 1, 1), dtype=net.dtype)   # output, delta: (B, n)
        inner = {}
        for k in "zrh":
            inner["w" + k] = Connected(net.batch, (outputs, 1, 1), net, outputs, LINEAR, batch_normalize)
            inner["u" + k] = Connected(net.batch, in_shape, net, outputs, LINEAR, batch_normalize)
        self.init_recurrent(steps, inner, net)
        self.n, self.use_tanh = outputs, bool(use_tanh)
        hs = self.step_batch * outputs
        self.state = self.alloc((steps + 1) * hs)      # (T+1, b, n) [0]: carried in, [t+1]: h_t
        self.output = self.state[hs:]                  # (T*b, n) y_t = h_t: a view, Darknet copies
        self.z = self.alloc(steps * hs)                # (T, b, n) update gate
        self.r = self.alloc(steps * hs)                # (T, b, n) reset gate
        self.hh = self.alloc(steps * hs)               # (T, b, n) candidate state
        self.forgot = self.alloc(steps * hs)           # (T, b, n) r * h_{t-1}, wh's input
        self.forgot_delta = self.alloc(hs)             # (b, n) -dL/d(r * h_{t-1}) of one step
        self.dstate = self.alloc((steps + 1) * hs)     # (T+1, b, n) -dL/dh from the step after

    @classmethod
    def from_options(cls, opts, in_shape, net):
        steps, _ = time_steps(opts, net, "gru")
        return cls(net, in_shape, steps, opts.int("output", 1, min=1), opts.flag("batch_normalize", 0),
                   opts.flag("tanh", 0))

    def run_steps(self, net, batched):
        hs, xs = self.step_batch * self.n, self.step_batch * self.inputs
        v = self.views
        if batched:
            for k in "zrh":
                self.run_at_once("u" + k, net, net.input)
        for t in range(self.steps):
            h_prev, x = block(self.state, t, hs), block(net.input, t, xs)
            for k in "zr":
                v["w" + k][t].forward(StepNet(net, h_prev, None))
            if not batched:
                for k in "zrh":
                    v["u" + k][t].forward(StepNet(net, x, None))
            z, r, hh, forgot = (block(a, t, hs) for a in (self.z, self.r, self.hh, self.forgot))
            rk.gru_gates_forward(v["wz"][t].output, v["uz"][t].output, v["wr"][t].output, v["ur"][t].output,
                                 h_prev, z, r, forgot)
            v["wh"][t].forward(StepNet(net, forgot, None))
            rk.gru_output_forward(v["wh"][t].output, v["uh"][t].output, h_prev, z, hh, block(self.state, t + 1, hs),
                                  self.use_tanh)

    def backward_steps(self, net):
        hs, xs = self.step_batch * self.n, self.step_batch * self.inputs
        v = self.views
        blas.fill(self.dstate, 0.0)
        for t in range(self.steps - 1, -1, -1):
            h_prev, x = block(self.state, t, hs), block(net.input, t, xs)
            dh_prev = block(self.dstate, t, hs)
            z, r, hh, forgot = (block(a, t, hs) for a in (self.z, self.r, self.hh, self.forgot))
            rk.gru_output_backward(block(self.delta, t, hs), block(self.dstate, t + 1, hs), h_prev, z, hh,
                                   v["wz"][t].delta, v["wh"][t].delta, dh_prev, self.use_tanh)
            blas.copy(v["wz"][t].delta, v["uz"][t].delta)          # z and hh: sums of a W and a U product
            blas.copy(v["wh"][t].delta, v["uh"][t].delta)
            blas.fill(self.forgot_delta, 0.0)
            v["wh"][t].backward(StepNet(net, forgot, self.forgot_delta))
            rk.gru_reset_backward(self.forgot_delta, h_prev, r, v["wr"][t].delta, dh_prev)
            blas.copy(v["wr"][t].delta, v["ur"][t].delta)
            dx = None if net.delta is None else block(net.delta, t, xs)
            for k in "zr":
                v["w" + k][t].backward(StepNet(net, h_prev, dh_prev))
            for k in "zrh":
                v["u" + k][t].backward(StepNet(net, x, dx))

    def summary(self):
        return {"filters": self.n, "size": f"{self.steps} steps"}
