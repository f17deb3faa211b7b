"""[implicit]: YOLOR's implicit knowledge, a learned (filters, atoms, 1) tensor (AlexeyAB's
representation_layer.c). The output is the weights, the same for every batch item; the input is
ignored (so nothing flows back into it). ``weights`` are saved in .weights files
(filters*atoms floats) and start at mean + U(-std, std).

Backward: weight_updates += the delta summed over the batch. Update: Darknet's SGD with decay and
momentum, like conv weights. AlexeyAB's fork never updates [implicit] on the CPU (update_network
skips layers whose l.train is 0, and this layer never sets it); a network built with compat="alexeyab"
keeps that (decided at build time), so its weight_updates keep accumulating unscaled.
"""
from ..registry import register_layer
from ._params import sgd_step
from .base import Layer, Option


@register_layer("implicit")
class Implicit(Layer):
    OPTIONS = (
        Option("filters", 128, "output channels"),
        Option("atoms", 1, "output height"),
        Option("mean", 0.0, "initial weights: mean + U(-std, std)"),
        Option("std", 0.2, "initial weights: mean + U(-std, std)"),
    )

    frozen = False            # True: update does nothing (the fork's CPU; set for compat="alexeyab")

    def __init__(self, batch, in_shape, filters, atoms, mean=0.0, std=0.2, rng=None, dtype=None):
        super().__init__(batch, in_shape, (filters, atoms, 1), dtype=dtype)   # output, delta: (B, filters, atoms, 1)
        self.weights = self.alloc(self.outputs)           # (filters, atoms) the output of every item
        self.weight_updates = self.alloc(self.outputs)    # (filters, atoms) -dL/dweights, then momentum
        if rng is not None:
            self.weights[:] = mean + rng.uniform(-std, std, self.outputs)

    @classmethod
    def from_options(cls, opts, in_shape, net):
        filters = opts.int("filters", 128, min=1)
        atoms = opts.int("atoms", 1, min=1)
        mean = opts.float("mean", 0.0)
        std = opts.float("std", 0.2, min=0.0)
        layer = cls(net.batch, in_shape, filters, atoms, mean, std, net.rng, dtype=net.dtype)
        layer.frozen = net.flavour == "alexeyab"      # decided when the network is built
        return layer

    def _items(self, flat):
        return flat.reshape(self.batch, self.outputs)

    def forward(self, net):
        self._items(self.output)[...] = self.weights

    def backward(self, net):
        self.weight_updates += self._items(self.delta).sum(axis=0)

    def update(self, args):
        if self.frozen:
            return
        rate = float(args.learning_rate * self.learning_rate_scale / args.batch)
        sgd_step(self.weights, self.weight_updates, rate, float(-args.decay * args.batch), float(args.momentum), True)

    def parameters(self):
        return [("weights", self.weights, self.weight_updates)]

    def weight_arrays(self):
        return [self.weights]

    def summary(self):
        return {"filters": str(self.out_shape[0]), "size": ""}
