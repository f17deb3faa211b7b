"""What [rnn], [crnn], [gru] and [lstm] share: inner layers run once per time step (Darknet's time_steps).

With ``time_steps=T`` in [net] Darknet's batch is batch/subdivisions*T (netconfig.py) and the input
holds T consecutive blocks of b = batch/T items: step t's input is items [t*b, (t+1)*b). A recurrent
layer is built from ordinary [connected] or [convolutional] layers (``inner``), each allocated for
the whole batch b*T like Darknet's make_*_layer(batch*steps, ...), and run on one step's slice at a
time. The slices are ``step views``: shallow copies of the inner layer whose per-item buffers
(output, delta, batch-norm x / x_norm) are views of that step's block and whose batch is b, sharing
the parameters and their gradients; each view gets its own batch mean/variance so that the backward
of step t uses step t's statistics (Darknet keeps only the last step's: a divergence for batch_normalize).

An inner layer sees a ``StepNet`` as its ``net``: the real network with the step's input and delta.

Speed: at inference the inner layers that are off the recurrence (those reading x_t, and [rnn]'s
output layer reading h_t) run once over all steps (the same values; a batch-norm layer uses its
rolling statistics there). Training runs every step separately, because Darknet's batch norm takes
each step's own statistics. A backward after an inference forward first reruns the steps one by
one, so that every per-step buffer is what the backward expects.

Weights are saved as the inner layers' arrays in Darknet's order (``WEIGHT_ORDER``), each like a
standalone [connected]/[convolutional] layer (parser.c save_weights / load_weights). AlexeyAB's fork
orders [lstm] and [gru] differently (``ALEXEYAB_WEIGHT_ORDER``): its order is used with
compat="alexeyab", so its files load there; pjreddie's everywhere else.
"""
import copy

from ..kernels import blas
from .base import Layer

STEP_BUFFERS = ("output", "delta", "x", "x_norm")   # per-item buffers of [connected] / [convolutional]


def block(a, t, n):
    """Block t of n values of a flat buffer (one time step's slice)."""
    return a[t * n:(t + 1) * n]


class StepNet:
    """The network as one time step of an inner layer sees it: its own input and delta, the rest shared."""

    fold_batchnorm = False     # step views share one folded-weights buffer: never fold

    def __init__(self, net, input, delta):
        self._net = net
        self.input = input
        self.delta = delta

    def __getattr__(self, name):
        return getattr(self._net, name)


def time_steps(opts, net, what):
    """(steps, items per step) of the network, or a CfgError when the batch does not split."""
    steps = net.config.time_steps
    if net.batch % steps:
        raise opts.error(f"{what}: the batch ({net.batch}) is not a multiple of [net] time_steps={steps}")
    return steps, net.batch // steps


def step_views(layer, steps):
    """[view of ``layer`` for step t]: per-item buffers sliced to the step, parameters shared."""
    views = []
    for t in range(steps):
        view = copy.copy(layer)
        view.batch = layer.batch // steps
        for name in STEP_BUFFERS:
            a = getattr(layer, name, None)
            if a is not None:
                n = a.size // steps
                setattr(view, name, a[t * n:(t + 1) * n])
        if layer.batch_normalize:
            view.mean = layer.alloc(layer.mean.size)            # (n,) this step's batch mean
            view.variance = layer.alloc(layer.variance.size)    # (n,) this step's batch variance
        views.append(view)
    return views


class Recurrent(Layer):
    """Base: ``inner`` {name: layer} run per step; parameters, update and weights delegate to them."""

    WEIGHT_ORDER = ()          # names of the inner layers in Darknet's .weights order
    ALEXEYAB_WEIGHT_ORDER = None   # the fork's order where it differs
    STATE_BUFFERS = ()         # buffers holding the state carried from one forward to the next

    def init_recurrent(self, steps, inner, net):
        self.weight_order = self.WEIGHT_ORDER
        if net.flavour == "alexeyab" and self.ALEXEYAB_WEIGHT_ORDER:
            self.weight_order = self.ALEXEYAB_WEIGHT_ORDER
        self.steps = steps
        self.batched = False      # the last forward ran the layers off the recurrence at once
        self.step_batch = self.batch // steps
        self.inner = inner
        self.views = {name: step_views(layer, steps) for name, layer in inner.items()}
        self.workspace_size = max(layer.workspace_size for layer in inner.values())

    def forward(self, net):
        self.start_state(net)
        self.batched = not net.train
        self.run_steps(net, self.batched)

    def backward(self, net):
        if self.batched:          # the per-step buffers of an inference forward: rebuild them
            self.run_steps(net, False)
            self.batched = False
        self.backward_steps(net)

    def start_state(self, net):
        """Set the initial state (block 0 of the state buffers) before the steps run."""
        self.carry_state([getattr(self, name) for name in self.STATE_BUFFERS])

    def run_steps(self, net, batched):
        """The forward from the initial state; ``batched``: the layers off the recurrence at once."""
        raise NotImplementedError

    def backward_steps(self, net):
        raise NotImplementedError

    def run_at_once(self, name, net, input):
        """Inner layer ``name`` over all T*b items at once (``input``: all steps' inputs)."""
        self.inner[name].forward(StepNet(net, input, None))

    def update(self, args):
        for layer in self.inner.values():
            layer.learning_rate_scale = self.learning_rate_scale
            layer.update(args)

    def parameters(self):
        return [(f"{name}.{p}", a, g) for name in self.weight_order for p, a, g in self.inner[name].parameters()]

    def weight_arrays(self):
        return [a for name in self.weight_order for a in self.inner[name].weight_arrays()]

    def flops(self):
        return sum(layer.flops() for layer in self.inner.values())

    def reset_state(self):
        """Forget the state carried from the previous forward (the next one starts from zeros)."""
        for name in self.STATE_BUFFERS:
            blas.fill(getattr(self, name), 0.0)

    def carry_state(self, buffers):
        """Each (T+1)-block buffer's last block (the state after the last forward) into its first."""
        for a in buffers:
            n = a.size // (self.steps + 1)
            blas.copy(a[self.steps * n:], a[:n])
