"""[rnn]: Darknet's vanilla recurrent layer (rnn_layer.c), built from three [connected] layers.

Per time step t (layers/_recurrent.py: steps, views, weights order):
    h_t = [h_{t-1} if shortcut] + input_layer(x_t) + self_layer(h_{t-1});   y_t = output_layer(h_t)
each inner layer with the section's activation (and batch norm). The state h has ``hidden`` values
(AlexeyAB's key; pjreddie's Darknet ignores it and uses ``output``: so does compat="pjreddie", and
the default mode when it is absent; the fork's default is 1). ``logistic=1``/``2`` (the fork's) gives
the self layer the logistic / loggy activation. The state h starts at zero in a
training forward and carries over from the previous forward otherwise, like Darknet (generating text
step by step relies on it). ``reset_state()`` zeroes it.

Backward is the exact gradient through time (the initial state is a constant) in both modes.
Darknet's CPU backward differs: it copies the self layer's delta into the input layer's AFTER the
self layer has scaled it by its activation derivative (so the input layer's gradient is off by that
factor for any activation but linear), and its training forward writes the state past the end of a
buffer sized for one step. Compat mode reproduces the forward only.
"""
from ..kernels import activations, blas
from ..registry import register_layer
from ._activation import parse_activation
from ._recurrent import Recurrent, StepNet, block, time_steps
from .base import Option
from .connected import Connected


@register_layer("rnn")
class RNN(Recurrent):
    OPTIONS = (
        Option("output", 1, "outputs per step (and size of the hidden state)"),
        Option("activation", "logistic", "activation of the three inner connected layers"),
        Option("batch_normalize", 0, "1: batch norm in the inner layers"),
        Option("shortcut", 0, "1: the state also adds the previous state (h_t = h_{t-1} + ...)"),
        Option("hidden", "output", "state size (AlexeyAB's key; ignored with compat=pjreddie)"),
        Option("logistic", 0, "1: logistic, 2: loggy activation for the self layer (AlexeyAB's key)"),
    )
    WEIGHT_ORDER = ("input_layer", "self_layer", "output_layer")
    STATE_BUFFERS = ("state",)

    def __init__(self, net, in_shape, steps, inner, shortcut=False):
        out = inner["output_layer"]
        super().__init__(net.batch, in_shape, out.out_shape, dtype=net.dtype, delta=False)
        self.output, self.delta = out.output, out.delta    # Darknet: the output layer's buffers, (B, *out)
        self.init_recurrent(steps, inner, net)
        self.shortcut = bool(shortcut)
        self.hidden = inner["self_layer"].outputs          # state values per item
        hs = self.step_batch * self.hidden
        self.state = self.alloc((steps + 1) * hs)          # (T+1, b, hidden) [0]: initial state, [t+1]: h_t
        self.state_delta = self.alloc((steps + 1) * hs)    # (T+1, b, hidden) -dL/dh during backward

    @classmethod
    def from_options(cls, opts, in_shape, net):
        steps, _ = time_steps(opts, net, "rnn")
        outputs = opts.int("output", 1, min=1)
        activation = parse_activation(opts, default="logistic")
        bn = opts.flag("batch_normalize", 0)
        shortcut = opts.flag("shortcut", 0)
        hidden, self_activation = outputs, activation
        if net.flavour != "pjreddie":
            hidden = opts.int("hidden", 1 if net.flavour == "alexeyab" else outputs, min=1)
            logistic = opts.int("logistic", 0, min=0, max=2)
            self_activation = {0: activation, 1: activations.LOGISTIC, 2: activations.LOGGY}[logistic]
        inner = {"input_layer": Connected(net.batch, in_shape, net, hidden, activation, bn),
                 "self_layer": Connected(net.batch, (hidden, 1, 1), net, hidden, self_activation, bn),
                 "output_layer": Connected(net.batch, (hidden, 1, 1), net, outputs, activation, bn)}
        return cls(net, in_shape, steps, inner, shortcut)

    def start_state(self, net):
        if net.train:
            blas.fill(self.state[:self.step_batch * self.hidden], 0.0)
        else:
            self.carry_state([self.state])

    def run_steps(self, net, batched):
        hs = self.step_batch * self.hidden
        xs = self.step_batch * self.inputs
        v = self.views
        if batched:
            self.run_at_once("input_layer", net, net.input)
        for t in range(self.steps):
            if not batched:
                v["input_layer"][t].forward(StepNet(net, block(net.input, t, xs), None))
            v["self_layer"][t].forward(StepNet(net, block(self.state, t, hs), None))
            h = block(self.state, t + 1, hs)
            if self.shortcut:
                blas.copy(block(self.state, t, hs), h)
            else:
                blas.fill(h, 0.0)
            blas.axpy(1.0, v["input_layer"][t].output, h)
            blas.axpy(1.0, v["self_layer"][t].output, h)
            if not batched:
                v["output_layer"][t].forward(StepNet(net, h, None))
        if batched:
            self.run_at_once("output_layer", net, self.state[hs:])

    def backward_steps(self, net):
        hs = self.step_batch * self.hidden
        xs = self.step_batch * self.inputs
        v = self.views
        dstate = self.state_delta
        blas.fill(dstate, 0.0)
        for t in range(self.steps - 1, -1, -1):
            dh = block(dstate, t + 1, hs)                   # complete once the output layer added its part
            v["output_layer"][t].backward(StepNet(net, block(self.state, t + 1, hs), dh))
            blas.copy(dh, v["input_layer"][t].delta)       # h_t = ... + input(x_t) + self(h_{t-1})
            blas.copy(dh, v["self_layer"][t].delta)
            v["self_layer"][t].backward(StepNet(net, block(self.state, t, hs), block(dstate, t, hs)))
            if self.shortcut:
                blas.axpy(1.0, dh, block(dstate, t, hs))
            dx = None if net.delta is None else block(net.delta, t, xs)
            v["input_layer"][t].backward(StepNet(net, block(net.input, t, xs), dx))

    def summary(self):
        return {"filters": self.hidden, "size": f"{self.steps} steps"}

