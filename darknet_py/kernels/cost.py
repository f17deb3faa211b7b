"""Elementwise cost kernels (Darknet's blas.c l2_cpu, l1_cpu, smooth_l1_cpu and the GPU-only extras).

Each writes the per-element ``error`` (what Darknet keeps in the cost layer's output) and
``delta`` = -(gradient of the layer's declared loss) w.r.t. the prediction.
"""
import numpy as np

from ._jit import parallel_kernel, prange

SECRET_NUM = -1234.0      # Darknet's "no truth here" marker for masked costs


@parallel_kernel
def l2(pred, truth, delta, error):
    """error = (t - p)^2, delta = t - p (the gradient of (t - p)^2 / 2)."""
    for i in prange(pred.size):
        d = truth[i] - pred[i]
        error[i] = d * d
        delta[i] = d


@parallel_kernel
def l1(pred, truth, delta, error, darknet_sign):
    """error = |t - p|, delta = sign(t - p); Darknet's sign gives -1 at 0, the subgradient 0."""
    for i in prange(pred.size):
        d = truth[i] - pred[i]
        error[i] = abs(d)
        if d > 0:
            delta[i] = 1.0
        elif d < 0 or darknet_sign:
            delta[i] = -1.0
        else:
            delta[i] = 0.0


@parallel_kernel
def smooth_l1(pred, truth, delta, error, darknet_sign):
    """Huber with unit threshold, doubled: error = d^2 if |d| < 1 else 2|d| - 1; delta = d or sign(d).

    ``darknet_sign``: Darknet's CPU code gives the linear branch the opposite sign, -sign(d)."""
    for i in prange(pred.size):
        d = truth[i] - pred[i]
        a = abs(d)
        if a < 1:
            error[i] = d * d
            delta[i] = d
        else:
            error[i] = 2 * a - 1
            delta[i] = 1.0 if (d > 0) != darknet_sign else -1.0


@parallel_kernel
def wgan(pred, truth, delta, error):
    """Wasserstein critic: error = -p where t != 0 else p; delta = 1 where t > 0 else -1 (Darknet's GPU)."""
    for i in prange(pred.size):
        error[i] = -pred[i] if truth[i] != 0 else pred[i]
        delta[i] = 1.0 if truth[i] > 0 else -1.0


@parallel_kernel
def scale_where_truth_is(truth, value, scale, delta, error):
    """delta and error *= scale where truth == value ([cost] type=seg: noobj scale on background)."""
    for i in prange(truth.size):
        if truth[i] == value:
            delta[i] *= scale
            error[i] *= scale


@parallel_kernel
def suppress_small(delta, thresh):
    """delta = 0 where |delta| < thresh (Darknet's supp_gpu with the cost layer's thresh)."""
    for i in prange(delta.size):
        if delta[i] * delta[i] < thresh * thresh:
            delta[i] = 0.0


@parallel_kernel
def mask_input(x, truth):
    """x = SECRET_NUM where truth == SECRET_NUM: Darknet's CPU masked cost writes into its input."""
    for i in prange(x.size):
        if truth[i] == SECRET_NUM:
            x[i] = SECRET_NUM
