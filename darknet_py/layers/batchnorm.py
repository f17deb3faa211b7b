"""Batch normalisation: the part conv/deconv/connected run with ``batch_normalize=1``, and [batchnorm].

Forward (both modes, Darknet's batchnorm_layer.c): training normalises with the batch mean and the
UNBIASED variance as (x - mean) / (sqrt(var) + 1e-6), updates rolling stats r = .99 r + .01 stat,
then y = scale * x_norm + bias; inference uses the rolling stats in the same formula.
Backward: in compat mode Darknet's formulas (1/sqrt(var + 1e-5), epsilon inside, and a variance term
written for the biased variance); by default the exact gradient of the forward above (README: divergences).

Under ``compat="alexeyab"`` the fork's batch norm instead (golden_alexeyab README 5.1), always pass by
pass: (x - mean) / sqrt(var + 1e-5) (epsilon inside), rolling stats r = .9 r + .1 stat, the fork's
backward (``batchnorm.backward_darknet(..., fork=True)``) and NO bias gradient (its backward_batchnorm_layer has no
backward_bias, so batch-normalised biases never train on the fork's CPU).

With ``net.fast`` (the default) the training forward and every backward run fused kernels with the
same values (kernels/activations.py: batchnorm_activate_train, backward_activation_bn); ``net.fast =
False`` runs Darknet's pass-by-pass sequence below.

Buffers a host layer gets from ``init_batchnorm`` (n channels, ``spatial`` values per channel and item):
scales/scale_updates/rolling_mean/rolling_variance/mean/variance (n,), x and x_norm (batch, n, spatial).
"""
from ..kernels import activations
from ..kernels import batchnorm as bn
from ..kernels import blas
from ..registry import register_layer
from .base import Layer, shape3


def init_batchnorm(layer, n, spatial):
    """Give ``layer`` (whose ``output`` is (batch, n, spatial)) the batch-norm buffers."""
    layer.batch_normalize = True
    layer.bn_shape = (n, spatial)
    layer.scales = layer.alloc(n)                   # (n,) gamma, 1 like Darknet
    layer.scales[:] = 1.0
    layer.scale_updates = layer.alloc(n)            # (n,)
    layer.rolling_mean = layer.alloc(n)             # (n,) 0 like Darknet
    layer.rolling_variance = layer.alloc(n)         # (n,) 1, where Darknet's 0 makes a fresh net's
    layer.rolling_variance[:] = 1.0                 #      inference multiply by 1e6
    layer.mean = layer.alloc(n)                     # (n,) batch mean of the last training forward
    layer.variance = layer.alloc(n)                 # (n,) its unbiased batch variance
    layer.x = layer.alloc(layer.batch * n * spatial)        # (B, n, spatial) input of the normalisation
    layer.x_norm = layer.alloc(layer.batch * n * spatial)   # (B, n, spatial) normalised, before scale/bias


def forward_batchnorm(layer, net):
    """layer.output (B, n, spatial), holding the values to normalise, -> scale * x_norm + bias in place."""
    n, spatial = layer.bn_shape
    b = layer.batch
    out = layer.output
    blas.copy(out, layer.x)
    if net.flavour == "alexeyab":
        _forward_fork(layer, net, out, b, n, spatial)
        return
    if net.train and net.fast:                  # the same values in two passes (kernels' docstrings)
        bn.mean_variance_train(layer.x, layer.mean, layer.variance, layer.rolling_mean, layer.rolling_variance,
                               b, n, spatial)
        activations.batchnorm_activate_train(layer.x, layer.mean, layer.variance, layer.scales, layer.biases,
                                             layer.x_norm, out, b, n, spatial, activations.LINEAR,
                                             bn.FORWARD_EPS)
        return
    if net.train:
        bn.mean_variance(out, layer.mean, layer.variance, b, n, spatial)
        bn.rolling_update(layer.rolling_mean, layer.mean, n)
        bn.rolling_update(layer.rolling_variance, layer.variance, n)
        bn.normalize(out, layer.mean, layer.variance, out, b, n, spatial)
        blas.copy(out, layer.x_norm)
    else:
        bn.normalize(out, layer.rolling_mean, layer.rolling_variance, out, b, n, spatial)
        if not net.compat:                          # Darknet keeps the last training x_norm here
            blas.copy(out, layer.x_norm)
    blas.scale_bias(out, layer.scales, b, n, spatial)
    blas.add_bias(out, layer.biases, b, n, spatial)


def _forward_fork(layer, net, out, b, n, spatial):
    """AlexeyAB's forward_batchnorm_layer (CPU), pass by pass."""
    if net.train:
        bn.mean_variance(out, layer.mean, layer.variance, b, n, spatial)
        bn.rolling_update_fork(layer.rolling_mean, layer.mean, n)
        bn.rolling_update_fork(layer.rolling_variance, layer.variance, n)
        bn.normalize_fork(out, layer.mean, layer.variance, out, b, n, spatial)
        blas.copy(out, layer.x_norm)
    else:
        bn.normalize_fork(out, layer.rolling_mean, layer.rolling_variance, out, b, n, spatial)
    blas.scale_bias(out, layer.scales, b, n, spatial)
    blas.add_bias(out, layer.biases, b, n, spatial)


def _backward_fork(layer, net):
    """AlexeyAB's backward_batchnorm_layer: no bias gradient, the fork's normalize_delta."""
    n, spatial = layer.bn_shape
    b = layer.batch
    delta = layer.delta
    bn.backward_scale(layer.x_norm, delta, layer.scale_updates, b, n, spatial)
    blas.scale_bias(delta, layer.scales, b, n, spatial)
    mean, var = (layer.mean, layer.variance) if net.train else (layer.rolling_mean, layer.rolling_variance)
    bn.backward_darknet(layer.x, mean, var, delta, b, n, spatial, True)


def backward_activation_batchnorm(layer, net, activation):
    """The activation gradient (from layer.output, code ``activation``) and then, with batch norm,
    ``backward_batchnorm``, or else the bias gradient: one fused kernel (two sweeps of the delta).
    The host's output is (B, n, spatial) with n its bias count; values as the separate passes."""
    if layer.batch_normalize:
        n, spatial = layer.bn_shape
    else:
        n = layer.biases.size
        spatial = layer.delta.size // (layer.batch * n)
    delta = layer.delta
    if net.flavour == "alexeyab":                   # the fork's passes, not fused
        activations.gradient(layer.output, delta.size, activation, delta)
        if layer.batch_normalize:
            _backward_fork(layer, net)
        elif layer.bias_updates is not None:
            blas.backward_bias(layer.bias_updates, delta, layer.batch, layer.biases.size,
                               delta.size // (layer.batch * layer.biases.size))
        return
    has_bias = layer.bias_updates is not None
    bias_updates = layer.bias_updates if has_bias else delta[:0]
    if not layer.batch_normalize:
        activations.backward_activation_bn(layer.output, delta, activation, delta, delta, bias_updates,
                                           bias_updates, bias_updates, bias_updates, bias_updates,
                                           layer.batch, n, spatial, activations.BN_NONE, has_bias,
                                           bn.FORWARD_EPS, bn.DARKNET_BACKWARD_EPS)
        return
    if net.compat:
        mode, z = activations.BN_DARKNET, layer.x
        mean, var = (layer.mean, layer.variance) if net.train else (layer.rolling_mean, layer.rolling_variance)
    else:
        mode, z = (activations.BN_TRUE if net.train else activations.BN_FROZEN), layer.x_norm
        mean, var = layer.mean, (layer.variance if net.train else layer.rolling_variance)
    activations.backward_activation_bn(layer.output, delta, activation, z, layer.x_norm, mean, var, layer.scales,
                                       bias_updates, layer.scale_updates, layer.batch, n, spatial, mode,
                                       has_bias, bn.FORWARD_EPS, bn.DARKNET_BACKWARD_EPS)


def backward_batchnorm(layer, net):
    """layer.delta (w.r.t. the BN output) -> w.r.t. the BN input, in place; adds bias/scale gradients."""
    if net.flavour == "alexeyab":
        _backward_fork(layer, net)
        return
    n, spatial = layer.bn_shape
    b = layer.batch
    delta = layer.delta
    if net.fast:                                # one fused kernel, the same values
        backward_activation_batchnorm(layer, net, activations.LINEAR)
        return
    if layer.bias_updates is not None:
        blas.backward_bias(layer.bias_updates, delta, b, n, spatial)
    bn.backward_scale(layer.x_norm, delta, layer.scale_updates, b, n, spatial)
    blas.scale_bias(delta, layer.scales, b, n, spatial)        # now w.r.t. x_norm
    if net.compat:
        mean, var = (layer.mean, layer.variance) if net.train else (layer.rolling_mean, layer.rolling_variance)
        bn.backward_darknet(layer.x, mean, var, delta, b, n, spatial)
    elif net.train:
        bn.backward_true(layer.x_norm, layer.variance, delta, b, n, spatial)
    else:                                           # rolling statistics are constants of the forward
        bn.backward_frozen(layer.rolling_variance, delta, b, n, spatial)


@register_layer("batchnorm")
class BatchNorm(Layer):
    """[batchnorm]: batch normalisation on its own, per channel of a (c, h, w) input.

    Darknet's CPU forward crashes (it never allocates x / x_norm); here it works. Like Darknet, the
    .weights file holds scales, rolling_mean, rolling_variance and NOT the biases, and Darknet never
    trains them (it has no update for this layer). So the biases stay constants (0 unless set by
    hand) and are not a parameter; the scales are trained by ``update`` (momentum SGD, no decay) in
    default mode, nothing is trained in compat mode. Backward overwrites net.delta in compat mode
    (Darknet's copy_cpu) and adds to it by default.
    """

    OPTIONS = ()

    def __init__(self, batch, in_shape, dtype=None):
        super().__init__(batch, in_shape, out_shape=in_shape, dtype=dtype)   # output, delta: (B, C, H, W)
        c, h, w = in_shape
        self.biases = self.alloc(c)                 # (c,) beta: loaded as 0, never trained nor saved
        self.bias_updates = None
        init_batchnorm(self, c, h * w)

    @classmethod
    def from_options(cls, opts, in_shape, net):
        shape3(in_shape, opts, "batchnorm")
        return cls(net.batch, in_shape, dtype=net.dtype)

    def forward(self, net):
        self._compat = net.compat                   # update() gets no net: remember the mode
        blas.copy(net.input, self.output)
        forward_batchnorm(self, net)

    def backward(self, net):
        backward_batchnorm(self, net)
        if net.delta is None:
            return
        if net.compat:
            blas.copy(self.delta, net.delta)
        else:
            blas.axpy(1.0, self.delta, net.delta)

    def parameters(self):
        return [("scales", self.scales, self.scale_updates)]

    def weight_arrays(self):
        return [self.scales, self.rolling_mean, self.rolling_variance]

    def update(self, args):
        if getattr(self, "_compat", False):
            return
        lr = args.learning_rate * self.learning_rate_scale
        blas.axpy(lr / args.batch, self.scale_updates, self.scales)
        blas.scal(args.momentum, self.scale_updates)

    def flops(self):
        return 4 * self.outputs                     # per batch item, like Darknet's bflops
