"""[conv_lstm]: AlexeyAB's convolutional LSTM (conv_lstm_layer.c), built from [convolutional] layers.

Per time step t, with W* convolving h_{t-1}, U* convolving x_t and (``peephole=1``) V* convolving the
cell state, each inner convolution with the section's ``activation`` (linear by default) and
batch norm (layers/_recurrent.py: steps, views):
    f = logistic(Wf h + Uf x [+ Vf c_{t-1}]),  i = logistic(Wi h + Ui x [+ Vi c_{t-1}]),  g = tanh(Wg h + Ug x)
    c_t = f * c_{t-1} + i * g
    o = logistic(Wo h + Uo x [+ Vo c_t]);   h_t = o * tanh(c_t);   y_t = h_t
then c_t is clipped to [-state_constrain, state_constrain] (default 32 * time_steps). h and c carry
over from one forward to the next, as in Darknet (``reset_state()`` zeroes them). The state keeps
the input's height and width: stride and dilation are 1 and the padding keeps the size (pad=1 with
an odd size). Weights file order (parser.c): [vf, vi, vo,] wf, wi, wg, wo, uf, ui, ug, uo, each
like a [convolutional].

Backward is the exact gradient through time (the carried-in state a constant; the clip of c taken
as the identity: it acts only after 32 forwards of a saturated state). Darknet's CPU backward
does not propagate through h at all (its W layers get no input delta) and the fork's convolution
backward overwrites the input delta, so compat mode reproduces the forward only; the inner
convolutions' input gradients are summed here in both flavours.

Not supported (a CfgError): ``bottleneck=1`` (GPU-only in Darknet: its CPU forward reads past the
state), ``xnor=1``, an ``lstm_activation`` other than tanh (Darknet's CPU forward always uses tanh),
activations that need the pre-activation input (mish, swish, ...). ``shortcut`` and
``time_normalizer`` act only with ``bottleneck`` in Darknet: read, no effect.
"""
from ..kernels import blas
from ..kernels import recurrent as rk
from ..registry import register_layer
from ._activation import parse_activation
from ._recurrent import Recurrent, StepNet, block, time_steps
from .base import Option, shape3
from .convolutional import Convolutional

GATES = ("f", "i", "g", "o")
PEEPHOLES = ("vf", "vi", "vo")


@register_layer("conv_lstm")
class ConvLSTM(Recurrent):
    OPTIONS = (
        Option("output", 1, "filters of every inner convolution (channels of h and c)"),
        Option("size", 3, "kernel side of the inner convolutions"),
        Option("pad", 0, "1: padding = size/2"),
        Option("padding", 0, "explicit padding (with pad=0); must keep the state's size"),
        Option("stride", 1, "must be 1: the state keeps its size"),
        Option("dilation", 1, "must be 1"),
        Option("groups", 1, "channel groups of the inner convolutions"),
        Option("activation", "linear", "activation of every inner convolution"),
        Option("batch_normalize", 0, "1: batch norm in the inner convolutions"),
        Option("peephole", 0, "1: the f, i, o gates also convolve the cell state (vf, vi, vo)"),
        Option("state_constrain", "32 * time_steps", "clip of the cell state after each step (0: none)"),
        Option("lstm_activation", "tanh", "must be tanh (Darknet's CPU forward always uses tanh)"),
        Option("bottleneck", 0, "must be 0 (GPU-only in Darknet)"),
        Option("xnor", 0, "must be 0"),
        Option("shortcut", 0, "no effect without bottleneck (as in Darknet)"),
        Option("time_normalizer", 1.0, "no effect without bottleneck (as in Darknet)"),
    )
    WEIGHT_ORDER = ("wf", "wi", "wg", "wo", "uf", "ui", "ug", "uo")
    PEEPHOLE_WEIGHT_ORDER = PEEPHOLES + WEIGHT_ORDER
    STATE_BUFFERS = ("h", "c")

    def __init__(self, net, in_shape, steps, inner, peephole=False, state_constrain=0.0):
        filters, h, w = inner["uf"].out_shape
        super().__init__(net.batch, in_shape, (filters, h, w), dtype=net.dtype)   # output, delta: (B, n, H, W)
        self.init_recurrent(steps, inner, net)
        self.peephole = bool(peephole)
        if self.peephole:
            self.weight_order = self.PEEPHOLE_WEIGHT_ORDER
        self.state_constrain = float(state_constrain)
        hs = self.step_batch * self.outputs
        self.h = self.alloc((steps + 1) * hs)          # (T+1, b, n, H, W) [0]: carried in, [t+1]: h_t
        self.c = self.alloc((steps + 1) * hs)          # (T+1, b, n, H, W) cell states, same layout
        self.output = self.h[hs:]                      # (T*b, n, H, W) y_t = h_t: a view, Darknet copies
        for gate in GATES:                             # (T, b, n, H, W) activated gate values
            setattr(self, gate, self.alloc(steps * hs))
        self.dh = self.alloc((steps + 1) * hs)         # (T+1, b, n, H, W) -dL/dh_t in block t+1
        self.dc = self.alloc((steps + 1) * hs)         # (T+1, b, n, H, W) -dL/dc_t in block t+1
        # (max(b*n*H*W, b*C*H*W),) an inner input delta, where the fork's conv backward overwrites
        self.scratch = self.alloc(max(hs, self.step_batch * self.inputs)) if net.flavour == "alexeyab" else None

    @classmethod
    def from_options(cls, opts, in_shape, net):
        c, h, w = shape3(in_shape, opts, "conv_lstm")
        steps, _ = time_steps(opts, net, "conv_lstm")
        filters = opts.int("output", 1, min=1)
        size = opts.int("size", 3, min=1)
        padding = size // 2 if opts.flag("pad", 0) else opts.int("padding", 0, min=0)
        for key, allowed in (("stride", 1), ("dilation", 1), ("bottleneck", 0), ("xnor", 0)):
            if opts.int(key, allowed) != allowed:
                raise opts.error(f"{key} must be {allowed} in [conv_lstm] here (see darknet_py/layers/conv_lstm.py)",
                                 key)
        if opts.str("lstm_activation", "tanh") != "tanh":
            raise opts.error("lstm_activation must be tanh (Darknet's CPU forward always uses tanh)", "lstm_activation")
        opts.flag("shortcut", 0)                       # act only with bottleneck in Darknet
        opts.float("time_normalizer", 1.0)
        groups = opts.int("groups", 1, min=1)
        if c % groups or filters % groups:
            raise opts.error(f"groups={groups} must divide the input channels ({c}) and output={filters}", "groups")
        if h + 2 * padding - size + 1 != h or w + 2 * padding - size + 1 != w:
            raise opts.error(f"size={size} with padding {padding} changes the {h}x{w} state size: use pad=1 "
                             f"with an odd size", "size")
        activation = parse_activation(opts, default="linear")
        bn = opts.flag("batch_normalize", 0)
        peephole = opts.flag("peephole", 0)

        def conv(channels):
            return Convolutional(net.batch, (channels, h, w), net, filters, size, 1, padding, groups, activation, bn)
        inner = {name: conv(filters) for name in ("wf", "wi", "wg", "wo")}
        inner.update({name: conv(c) for name in ("uf", "ui", "ug", "uo")})
        if peephole:
            inner.update({name: conv(filters) for name in PEEPHOLES})
        constrain = opts.float("state_constrain", 32.0 * steps, min=0.0)
        return cls(net, in_shape, steps, inner, peephole, constrain)

    def run_steps(self, net, batched):
        hs, xs = self.step_batch * self.outputs, self.step_batch * self.inputs
        v = self.views
        if batched:
            for gate in GATES:
                self.run_at_once("u" + gate, net, net.input)
        for t in range(self.steps):
            h_prev, c_prev, x = block(self.h, t, hs), block(self.c, t, hs), block(net.input, t, xs)
            c, gates = block(self.c, t + 1, hs), {gate: block(getattr(self, gate), t, hs) for gate in GATES}
            for gate in GATES:
                v["w" + gate][t].forward(StepNet(net, h_prev, None))
                if not batched:
                    v["u" + gate][t].forward(StepNet(net, x, None))
            self.sum_gate("f", t, gates["f"], c_prev, net)
            self.sum_gate("i", t, gates["i"], c_prev, net)
            self.sum_gate("g", t, gates["g"], None, net)
            rk.lstm_cell_forward(gates["f"], gates["i"], gates["g"], c_prev, c)
            self.sum_gate("o", t, gates["o"], c, net)
            rk.lstm_hidden_forward(gates["o"], c, block(self.h, t + 1, hs))
            if self.state_constrain:
                rk.constrain(c, self.state_constrain)

    def sum_gate(self, gate, t, out, cell, net):
        """out = W h + U x [+ V cell]: the gate's pre-activation at step t (its convolutions' outputs)."""
        v = self.views
        blas.copy(v["w" + gate][t].output, out)
        blas.axpy(1.0, v["u" + gate][t].output, out)
        if self.peephole and cell is not None:
            v["v" + gate][t].forward(StepNet(net, cell, None))
            blas.axpy(1.0, v["v" + gate][t].output, out)

    def backward_steps(self, net):
        hs, xs = self.step_batch * self.outputs, self.step_batch * self.inputs
        v = self.views
        blas.fill(self.dh, 0.0)
        blas.fill(self.dc, 0.0)
        for t in range(self.steps - 1, -1, -1):
            gates = {gate: block(getattr(self, gate), t, hs) for gate in GATES}
            c, dc = block(self.c, t + 1, hs), block(self.dc, t + 1, hs)
            c_prev, dc_prev = block(self.c, t, hs), block(self.dc, t, hs)
            rk.lstm_hidden_backward(block(self.delta, t, hs), block(self.dh, t + 1, hs), c, gates["o"],
                                    v["wo"][t].delta, dc)
            if self.peephole:                         # c_t reaches o through vo: dc complete after this
                blas.copy(v["wo"][t].delta, v["vo"][t].delta)
                self.backward_into(v["vo"][t], c, dc, net)
            rk.lstm_cell_backward(dc, c_prev, gates["f"], gates["i"], gates["g"],
                                  v["wf"][t].delta, v["wi"][t].delta, v["wg"][t].delta, dc_prev)
            h_prev, x = block(self.h, t, hs), block(net.input, t, xs)
            dx = None if net.delta is None else block(net.delta, t, xs)
            for gate in GATES:
                blas.copy(v["w" + gate][t].delta, v["u" + gate][t].delta)   # all sum into one pre-activation
                self.backward_into(v["w" + gate][t], h_prev, block(self.dh, t, hs), net)
                self.backward_into(v["u" + gate][t], x, dx, net)
            if self.peephole:
                for gate in "fi":
                    blas.copy(v["w" + gate][t].delta, v["v" + gate][t].delta)
                    self.backward_into(v["v" + gate][t], c_prev, dc_prev, net)

    def backward_into(self, view, input, delta, net):
        """``view``'s backward ADDING its input gradient into ``delta`` (None: parameters only), also
        where the fork's convolution backward overwrites (through ``scratch``)."""
        if delta is None or self.scratch is None:
            view.backward(StepNet(net, input, delta))
            return
        scratch = self.scratch[:delta.size]
        blas.fill(scratch, 0.0)
        view.backward(StepNet(net, input, scratch))
        blas.axpy(1.0, scratch, delta)

    def summary(self):
        size = self.inner["uf"].size
        return {"filters": self.out_shape[0],
                "size": f"{size}x{size}, {self.steps} steps"}
