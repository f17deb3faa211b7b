"""ParamLayer: what conv, deconv, connected and local share (weights, biases, optional batch norm, update).

``update`` is Darknet's arithmetic (update_convolutional_layer and its twins, golden README §4):
    biases += lr/B * bias_updates;   bias_updates *= momentum
    scales += lr/B * scale_updates;  scale_updates *= momentum          (batch_normalize only)
    weight_updates -= decay*B * weights
    weights += lr/B * weight_updates; weight_updates *= momentum
so the ``*_updates`` buffers double as momentum buffers and are never zeroed. With ``adam=1`` in [net]
it is Darknet's adam_update_gpu (its CPU update has no adam): for every parameter array
m = B1 m + (1-B1) g, v = B2 v + (1-B2) g^2 with g = updates - decay*B*w, w += lr * m^ / (sqrt(v^) + eps)
(bias-corrected with t), then updates = 0.
"""
import math

from ..kernels._jit import kernel, parallel_kernel, prange
from .base import Layer, planning

# Up to this many values an update runs serially. One fused pass over a 1.2M-weight layer takes
# ~1-2 ms on one core, and waking the thread pool is not free: on a loaded machine (another process
# busy on the other core) each parallel region waits for a descheduled worker, 5-7 ms measured, which
# is what made darknet53-res's update take 830 ms (docs/performance.md; no denormals were involved).
SERIAL_UPDATE_MAX = 1 << 22


@kernel
def sgd_serial(w, u, rate, decay, momentum, use_decay):
    """Darknet's momentum SGD on one array, one pass: [u += decay * w]; w += rate * u; u *= momentum.
    The same three float roundings per element as blas.axpy / axpy / scal (bitwise their result)."""
    for i in range(w.size):
        if use_decay:
            u[i] += decay * w[i]
        w[i] += rate * u[i]
        u[i] *= momentum


@parallel_kernel
def sgd_parallel(w, u, rate, decay, momentum, use_decay):
    """``sgd_serial`` with the elements split over the threads (large arrays)."""
    for i in prange(w.size):
        if use_decay:
            u[i] += decay * w[i]
        w[i] += rate * u[i]
        u[i] *= momentum


def sgd_step(w, u, rate, decay, momentum, use_decay):
    if w.size <= SERIAL_UPDATE_MAX:
        sgd_serial(w, u, rate, decay, momentum, use_decay)
    else:
        sgd_parallel(w, u, rate, decay, momentum, use_decay)


@parallel_kernel
def adam_update(w, d, m, v, B1, B2, eps, decay, rate, batch, t):
    """One Adam step of Darknet's adam_update_gpu on w with accumulated (negative) gradient d; zeroes d."""
    c1 = 1.0 - B1 ** t
    c2 = 1.0 - B2 ** t
    for i in prange(w.size):
        g = d[i] - decay * batch * w[i]
        m[i] = B1 * m[i] + (1.0 - B1) * g
        v[i] = B2 * v[i] + (1.0 - B2) * g * g
        w[i] += rate * (m[i] / c1) / (math.sqrt(v[i] / c2) + eps)
        d[i] = 0.0


class ParamLayer(Layer):
    """A Layer with ``weights``/``biases`` (and, with batch norm, ``scales``) and their ``*_updates``."""

    batch_normalize = False

    def init_parameters(self, nweights, nbiases, net, scale, uniform):
        """Allocate and draw the initial weights like Darknet (scale * N(0,1) or scale * U(-1,1))."""
        self.weights = self.alloc(nweights)            # layout: see each layer's docstring
        self.weight_updates = self.alloc(nweights)     # same shape: -dL/dw summed over the batch, then momentum
        self.biases = self.alloc(nbiases)              # (nbiases,) zero, like Darknet
        self.bias_updates = self.alloc(nbiases)
        self._draw_initial_weights(net.rng, scale, uniform)
        self.adam = bool(getattr(net.config, "adam", False))
        self._adam_state = {}
        if self.adam:                                   # Darknet allocates m, v only when adam is on
            for name in ("weights", "biases"):
                size = getattr(self, name).size
                self._adam_state[name] = (self.alloc(size), self.alloc(size))   # m, v: like the parameter

    def _draw_initial_weights(self, rng, scale, uniform):
        """Draw straight into the weights buffer: a float64 temporary as large as the weights would
        stay in the process (glibc keeps freed heap) and push a yolov3-tiny run past 250 MB."""
        if planning():                                  # stand-in weights (base.py): nothing to draw into
            return
        w = self.weights
        if uniform:
            rng.random(dtype=w.dtype, out=w)           # U(0, 1) -> U(-1, 1)
            w *= 2.0
            w -= 1.0
        else:
            rng.standard_normal(dtype=w.dtype, out=w)
        w *= scale

    def init_adam_scales(self):
        if self.adam:
            self._adam_state["scales"] = (self.alloc(self.scales.size), self.alloc(self.scales.size))

    def parameters(self):
        params = [("weights", self.weights, self.weight_updates), ("biases", self.biases, self.bias_updates)]
        if self.batch_normalize:
            params.append(("scales", self.scales, self.scale_updates))
        return params

    def update(self, args):
        lr = args.learning_rate * self.learning_rate_scale
        batch = args.batch
        if args.adam and self._adam_state:
            for name, param, grad in self.parameters():
                m, v = self._adam_state[name]
                adam_update(param, grad, m, v, args.B1, args.B2, args.eps, args.decay, lr, batch, args.t)
            return
        rate, momentum = float(lr / batch), float(args.momentum)
        # = axpy(rate, bias_updates, biases), scal(momentum, bias_updates), the same for the scales,
        # axpy(-decay*B, weights, weight_updates), axpy(rate, ...), scal(momentum, ...): fused per array
        sgd_step(self.biases, self.bias_updates, rate, 0.0, momentum, False)
        if self.batch_normalize:
            sgd_step(self.scales, self.scale_updates, rate, 0.0, momentum, False)
        sgd_step(self.weights, self.weight_updates, rate, float(-args.decay * batch), momentum, True)
