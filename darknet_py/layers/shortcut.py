"""[shortcut]: y = act(alpha * prev + beta * from), a residual connection (Darknet's shortcut_layer.c).

``from`` is a layer index, negative = relative to this layer; it must point at an earlier layer.
Maps of different sizes meet like Darknet's shortcut_cpu: the larger one is strided, the smaller one
sampled, over the smaller channel count; the positions of prev that no ``from`` value reaches keep
prev's value unscaled (alpha is applied only where the sum is formed).

Backward, d = delta * act'(y): from.delta += beta * d at the positions it reached (both modes);
prev's gradient is alpha * d at the reached positions and d elsewhere. Darknet adds alpha * d
everywhere, which differs when alpha != 1 and the maps differ in size; compat mode keeps that.

AlexeyAB's fork (blas.c shortcut_multilayer_cpu) adds, used whenever ``from`` lists several layers or
``weights_type`` is set: ``from=-2,-3`` sums prev and every listed layer, each weighted by
``weights_type=per_feature`` (one weight per source, alias ``per_layer``) or ``per_channel`` (one per
source and output channel), normalised over the sources by ``weights_normalization=relu``
(w+ / (1e-4 + sum w+), alias ``avg_relu``) or ``softmax`` (exp(w - max) / (1e-4 + sum exp)). All sources
must have the output's height and width; a source with fewer values per item adds into the first
ones only. The weights, (sources, 1 or C) with prev first, are saved in .weights files and start at 1.
Backward: source j's delta += w~_j * d. The fork's weight gradient is the gradient with respect to
the NORMALISED weight (the normalisation's Jacobian is left out); compat mode keeps that, the default
goes through the normalisation (the true gradient). The fork refuses weights without a normalisation
(a parser bug); here ``weights_normalization=none`` uses the raw weights. The fork ignores alpha/beta:
they are refused with several or weighted 'from' layers, and ignored with a warning under
compat="alexeyab".
"""
from ..kernels import activations, blas, im2col
from ..kernels import shortcut as ks
from ..registry import register_layer
from ._activation import parse_activation
from ._keys import warn_no_effect
from ._params import sgd_step
from .base import Layer, Option, shape3

WEIGHTS_TYPES = {"none": 0, "per_feature": 1, "per_layer": 1, "per_channel": 2}
NORMALIZATIONS = {"none": ks.NONE, "relu": ks.RELU, "avg_relu": ks.RELU, "softmax": ks.SOFTMAX}


@register_layer("shortcut")
class Shortcut(Layer):
    OPTIONS = (
        Option("from", None, "layers to add, e.g. -3 or -2,-3 (negative: relative to this one); required"),
        Option("activation", "linear", "activation function"),
        Option("alpha", 1.0, "weight of the previous layer's output (single unweighted from only)"),
        Option("beta", 1.0, "weight of the 'from' layer's output (single unweighted from only)"),
        Option("weights_type", "none", "none, per_feature (per_layer) or per_channel: learned source weights"),
        Option("weights_normalization", "none", "none, relu (avg_relu) or softmax over the sources"),
    )

    def __init__(self, batch, in_shape, source, from_shape, activation=activations.LINEAR, alpha=1.0, beta=1.0,
                 dtype=None, sources=None, source_sizes=None, weights_type=0, normalization=ks.NONE):
        super().__init__(batch, in_shape, out_shape=in_shape, dtype=dtype)   # output, delta: like prev (B, C, H, W)
        self.source = source                          # index of the (first) 'from' layer
        self.from_shape = tuple(from_shape)           # its (c, h, w)
        self.activation = activation
        self.alpha, self.beta = alpha, beta
        self.sources = tuple(sources) if sources else (source,)   # every 'from' layer, in cfg order
        self.multi = sources is not None              # the fork's multi-input path
        if self.multi:
            self._init_multi(source_sizes, weights_type, normalization)

    def _init_multi(self, source_sizes, weights_type, normalization):
        c, h, w = self.out_shape
        self.source_sizes = tuple(source_sizes)       # values per item of prev and each 'from' layer
        self.weights_type, self.normalization = weights_type, normalization
        nsrc = len(self.source_sizes)
        self.cols = c if weights_type == 2 else 1     # weight columns: per channel or one
        self.step = self.outputs // self.cols         # output values per weight column
        self.norm_weights = self.alloc(nsrc * self.cols)      # (nsrc, cols) the weights each source gets
        self.norm_weights[:] = 1.0                    # no weights: every source counts once
        if weights_type:
            self.weights = self.alloc(nsrc * self.cols)       # (nsrc, cols) prev first, then 'from' order
            self.weight_updates = self.alloc(nsrc * self.cols)    # (nsrc, cols) -dL/dweights, then momentum
            self.norm_grad = self.alloc(nsrc * self.cols)     # (nsrc, cols) -dL/d(normalised weights)
            self.weights[:] = 1.0                     # the fork's initial value

    @classmethod
    def from_options(cls, opts, in_shape, net):
        here = len(net.layers)
        c, h, w = shape3(in_shape, opts, "shortcut")
        sources = []
        for index in opts.int_list("from"):
            source = here + index if index < 0 else index
            if not 0 <= source < here:
                raise opts.error(f"from={index} points at layer {source}; it must be an earlier layer "
                                 f"(0..{here - 1})", "from")
            if len(net.layers[source].out_shape) != 3:
                raise opts.error(f"from={index}: layer {source} has no (c, h, w) output "
                                 f"({net.layers[source].out_shape})", "from")
            sources.append(source)
        activation = parse_activation(opts, default="linear")
        weights_type = WEIGHTS_TYPES[opts.str("weights_type", "none", choices=tuple(WEIGHTS_TYPES))]
        normalization = NORMALIZATIONS[opts.str("weights_normalization", "none", choices=tuple(NORMALIZATIONS))]
        from_shape = net.layers[sources[0]].out_shape
        if len(sources) > 1 or weights_type:
            return cls._multi_from_options(opts, in_shape, net, sources, activation, weights_type, normalization)
        c1, h1, w1 = from_shape
        # Darknet's shortcut_cpu asserts: one ratio for width and height, in both directions
        if w1 // w != h1 // h or w // w1 != h // h1:
            raise opts.error(f"from={sources[0] - here}: layer {sources[0]}'s output {w1}x{h1} and the input "
                             f"{w}x{h} do not scale by the same factor in width and height", "from")
        if net.flavour == "alexeyab":                # the fork's parse_shortcut does not read them
            for key in ("alpha", "beta"):
                warn_no_effect(opts, key, "AlexeyAB's fork ignores it (compat='alexeyab')")
            alpha = beta = 1.0
        else:
            alpha = opts.float("alpha", 1.0)
            beta = opts.float("beta", 1.0)
        return cls(net.batch, in_shape, sources[0], from_shape, activation, alpha, beta, dtype=net.dtype)

    @classmethod
    def _multi_from_options(cls, opts, in_shape, net, sources, activation, weights_type, normalization):
        for key in ("alpha", "beta"):
            if opts.has(key):
                raise opts.error(f"{key}= applies to a single unweighted 'from' only (AlexeyAB's multi-input "
                                 f"shortcut has no {key})", key)
        for source in sources:
            shape = net.layers[source].out_shape
            if shape[1:] != tuple(in_shape[1:]):
                raise opts.error(f"layer {source}'s output {shape[2]}x{shape[1]} differs from the input "
                                 f"{in_shape[2]}x{in_shape[1]}: several or weighted 'from' layers need the same "
                                 f"width and height", "from")
        sizes = [int(in_shape[0] * in_shape[1] * in_shape[2])]             # prev: the input
        sizes += [net.layers[s].outputs for s in sources]
        return cls(net.batch, in_shape, sources[0], net.layers[sources[0]].out_shape, activation, dtype=net.dtype,
                   sources=sources, source_sizes=sizes, weights_type=weights_type, normalization=normalization)

    # ------------------------------------------------------------------ pjreddie's single 'from'
    def forward(self, net):
        if self.multi:
            self._forward_multi(net)
        else:
            blas.copy(net.input, self.output)
            c1, h1, w1 = self.from_shape
            c2, h2, w2 = self.out_shape
            im2col.shortcut(self.batch, w1, h1, c1, net.layers[self.source].output, w2, h2, c2,
                            self.alpha, self.beta, self.output)
        activations.activate(self.output, self.output.size, self.activation)

    def backward(self, net):
        activations.gradient(self.output, self.output.size, self.activation, self.delta)
        if self.multi:
            self._backward_multi(net)
            return
        c1, h1, w1 = self.from_shape
        c2, h2, w2 = self.out_shape
        if net.delta is not None:
            if net.compat or (c1 >= c2 and h1 >= h2 and w1 >= w2):   # every position was scaled by alpha
                blas.axpy(self.alpha, self.delta, net.delta)
            else:                                   # d everywhere, alpha * d where the sum was formed
                blas.axpy(1.0, self.delta, net.delta)
                im2col.shortcut_hits_axpy(self.batch, w1, h1, c1, w2, h2, c2, self.alpha - 1.0,
                                          self.delta, net.delta)
        source_delta = net.layers[self.source].delta
        if source_delta is not None:
            # the same pairing run backwards: from.delta[src] += beta * delta[hit]
            im2col.shortcut(self.batch, w2, h2, c2, self.delta, w1, h1, c1, 1.0, self.beta, source_delta)

    # ------------------------------------------------------------------ AlexeyAB's several / weighted
    def _inputs(self, net):
        """(output, delta, values per item) of prev and every 'from' layer, in weight-row order."""
        yield net.input, net.delta, self.source_sizes[0]
        for index, size in zip(self.sources, self.source_sizes[1:]):
            yield net.layers[index].output, net.layers[index].delta, size

    def _row(self, array, j):
        return array[j * self.cols:(j + 1) * self.cols]

    def _forward_multi(self, net):
        if self.weights_type:
            ks.normalize_weights(self.weights, self.norm_weights, len(self.source_sizes), self.cols,
                                 self.normalization)
        for j, (output, _, size) in enumerate(self._inputs(net)):
            ks.weighted_add(output, size, self.output, self.outputs, self.batch, self._row(self.norm_weights, j),
                            self.step, j == 0)

    def _backward_multi(self, net):
        if self.weights_type:
            self.norm_grad[:] = 0.0
        for j, (output, delta, size) in enumerate(self._inputs(net)):
            if delta is not None:
                ks.weighted_add_backward(self.delta, self.outputs, delta, size, self.batch,
                                         self._row(self.norm_weights, j), self.step)
            if self.weights_type:
                ks.weight_gradient(self.delta, self.outputs, output, size, self.batch, self._row(self.norm_grad, j),
                                   self.cols, self.step)
        if self.weights_type:
            ks.weights_backward(self.weights, self.norm_weights, self.norm_grad, self.weight_updates,
                                len(self.source_sizes), self.cols, self.normalization, not net.compat)

    def update(self, args):
        if not self.multi or not self.weights_type:
            return
        rate = float(args.learning_rate * self.learning_rate_scale / args.batch)
        sgd_step(self.weights, self.weight_updates, rate, float(-args.decay * args.batch), float(args.momentum), True)

    def parameters(self):
        if self.multi and self.weights_type:
            return [("weights", self.weights, self.weight_updates)]
        return []

    def weight_arrays(self):
        if self.multi and self.weights_type:
            return [self.weights]
        return []

    def flops(self):
        return self.outputs * len(self.sources) * (2 if self.multi and self.weights_type else 1)

    def summary(self):
        return {"filters": "", "size": "from " + ",".join(str(s) for s in self.sources)}
