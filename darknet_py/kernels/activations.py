"""Darknet's 14 activation functions (activations.h) on flat arrays, and their gradients.

``activate(x, n, code)`` applies f in place to x[:n]. Like Darknet, f is evaluated in double
precision whatever the array's dtype and the result is rounded to the array's dtype on store.

``gradient(y, n, code, delta)`` does delta[:n] *= f'(.) where, like Darknet, f' is computed FROM THE
OUTPUT y = f(x), so a layer needs no copy of its pre-activation input. For all 14 functions the
from-y formula is the true derivative wherever f is differentiable (we checked each one):
* logistic y(1-y), tanh 1-y^2, loggy 2t(1-t) with t=(y+1)/2, elu y+1 (y<0), selu y+1.0507*1.6732
  (y<0) are the derivatives rewritten in terms of y;
* relu, leaky, relie, ramp, plse, hardtan, lhtan are piecewise linear and y lies in the same
  piece as x (each piece's image is disjoint), so the slope read from y is the slope at x;
* stair is continuous and piecewise linear: flat (y = k, an integer) where floor(x) is even and
  slope 1 (y = k + frac, frac in (0,1)) where floor(x) is odd. Darknet's test "0 if y is an integer
  else 1" is therefore its derivative almost everywhere, not a straight-through estimate.
So one gradient kernel serves both modes; the from-y formula differs from the derivative only at
kinks (measure zero: we return Darknet's one-sided choice) and where float32 rounding saturated y
(logistic(20) rounds to 1.0 and gets slope 0 instead of 2e-9), exactly as in Darknet.

Where Darknet's double expressions overflow we use the limit instead of its NaN (documented
divergence, only for |x| > ~354): tanh computes (e^2x - 1)/(e^2x + 1), which is inf/inf for large x,
and elu/selu multiply 0 * exp(x) = 0 * inf; here tanh saturates to 1 and elu/selu take a branch.
"""
import math

import numpy as np

from ._jit import kernel, parallel_kernel, prange

# Codes in the order of Darknet's ACTIVATION enum (darknet.h), so a code means the same thing in both.
LOGISTIC, RELU, RELIE, LINEAR, RAMP, TANH, PLSE, LEAKY, ELU, LOGGY, STAIR, HARDTAN, LHTAN, SELU = range(14)
ACTIVATIONS = {
    "logistic": LOGISTIC, "relu": RELU, "relie": RELIE, "linear": LINEAR, "ramp": RAMP, "tanh": TANH,
    "plse": PLSE, "leaky": LEAKY, "elu": ELU, "loggy": LOGGY, "stair": STAIR, "hardtan": HARDTAN,
    "lhtan": LHTAN, "selu": SELU,
}
NAMES = {code: name for name, code in ACTIVATIONS.items()}

SELU_LAMBDA = 1.0507
SELU_ALPHA = 1.6732


@kernel
def activate_scalar(x, code):
    """f(x) for one value, in float64 (Darknet's formulas, evaluated in double like its C code)."""
    if code == LINEAR:
        return x
    if code == LEAKY:
        return x if x > 0 else 0.1 * x
    if code == RELU:
        return x * (x > 0)                                  # NaN stays NaN, like Darknet
    if code == LOGISTIC:
        return 1.0 / (1.0 + math.exp(-x))
    if code == TANH:
        e = math.exp(2.0 * x)
        if e == math.inf:                                   # Darknet: inf/inf = NaN
            return 1.0
        return (e - 1.0) / (e + 1.0)
    if code == ELU:
        return x if x >= 0 else math.exp(x) - 1.0
    if code == SELU:
        return SELU_LAMBDA * x if x >= 0 else SELU_LAMBDA * SELU_ALPHA * (math.exp(x) - 1.0)
    if code == RELIE:
        return x if x > 0 else 0.01 * x
    if code == RAMP:
        return x * (x > 0) + 0.1 * x
    if code == PLSE:
        if x < -4:
            return 0.01 * (x + 4)
        if x > 4:
            return 0.01 * (x - 4) + 1
        return 0.125 * x + 0.5
    if code == HARDTAN:
        if x < -1:
            return -1.0
        if x > 1:
            return 1.0
        return x
    if code == LHTAN:
        if x < 0:
            return 0.001 * x
        if x > 1:
            return 0.001 * (x - 1) + 1
        return x
    if code == LOGGY:
        return 2.0 / (1.0 + math.exp(-x)) - 1.0
    if code == STAIR:
        fl = np.floor(x)                                    # float floor: NaN stays NaN
        if fl % 2.0 == 0.0:                                 # on [2k, 2k+1): the flat step k
            return np.floor(x / 2.0)
        return (x - fl) + np.floor(x / 2.0)               # on [2k+1, 2k+2): the ramp k + frac
    return x


@kernel
def gradient_scalar(y, code):
    """f'(x) written in terms of y = f(x), Darknet's *_gradient functions (see module docstring)."""
    if code == LINEAR:
        return 1.0
    if code == LEAKY:
        return 1.0 if y > 0 else 0.1
    if code == RELU:
        return 1.0 if y > 0 else 0.0
    if code == LOGISTIC:
        return (1.0 - y) * y
    if code == TANH:
        return 1.0 - y * y
    if code == ELU:
        return 1.0 if y >= 0 else y + 1.0
    if code == SELU:
        return SELU_LAMBDA if y >= 0 else y + SELU_LAMBDA * SELU_ALPHA
    if code == RELIE:
        return 1.0 if y > 0 else 0.01
    if code == RAMP:
        return (1.0 if y > 0 else 0.0) + 0.1
    if code == PLSE:
        return 0.01 if (y < 0 or y > 1) else 0.125
    if code == HARDTAN:
        return 1.0 if (y > -1 and y < 1) else 0.0
    if code == LHTAN:
        return 1.0 if (y > 0 and y < 1) else 0.001
    if code == LOGGY:
        t = (y + 1.0) / 2.0
        return 2.0 * (1.0 - t) * t
    if code == STAIR:
        return 0.0 if np.floor(y) == y else 1.0
    return 1.0


@parallel_kernel
def activate(x, n, code):
    """x[:n] = f(x[:n]) in place."""
    if code == LINEAR:                                      # the common no-op: skip the pass
        return
    if code == LEAKY:                                       # the common case gets a branch-free loop
        for i in prange(n):                                 # that LLVM can vectorise
            v = float(x[i])
            x[i] = v if v > 0 else 0.1 * v
        return
    for i in prange(n):
        x[i] = activate_scalar(float(x[i]), code)


@parallel_kernel
def gradient(y, n, code, delta):
    """delta[:n] *= f'(x) computed from the output y[:n] (Darknet's gradient_array)."""
    if code == LINEAR:
        return
    if code == LEAKY:
        for i in prange(n):
            delta[i] *= 1.0 if y[i] > 0 else 0.1
        return
    for i in prange(n):
        delta[i] *= gradient_scalar(float(y[i]), code)


# ---------------------------------------------------------------- the fused inference epilogue
# Lives here, next to activate_scalar, because numba's on-disk cache is keyed per file: a kernel
# that calls activate_scalar from another module could keep stale machine code when it changes.

_IDX = 0xFFFFFFFF   # index mask: proves to LLVM that an index is >= 0 (no wraparound selects)


@parallel_kernel
def scale_bias_activate(x, scales, biases, batch, n, spatial, code, use_scales):
    """x[b, c, :] = f(x[b, c, :] * scales[c] + biases[c]) in place, one pass; returns the number of
    non-finite values written (the caller uses it to know whether its output buffer holds NaN/Inf).

    ``x`` is (batch, n, spatial) flat. Without ``use_scales`` the multiply is skipped (a folded batch
    norm or a plain bias). It is the inference batch norm scale * (x - mean) / (sqrt(var) + eps) + bias
    written as x*a + b, so it equals Darknet's numbers within float rounding. Leaky and linear, the
    activations of real networks, run in the array's own precision (vectorised: 16 float32 per
    instruction; ~20x faster than converting every value to double and back) where Darknet computes
    0.1*x in double: at most one rounding apart. The other activations use ``activate_scalar``
    (double, exactly Darknet's formulas) on the affine value."""
    bad = 0
    zero = x.dtype.type(0)
    slope = x.dtype.type(0.1)
    for bc in prange(batch * n):                            # one channel row per iteration: disjoint
        c = bc % n
        base = bc * spatial
        a = scales[c] if use_scales else x.dtype.type(1)
        bb = biases[c]
        cnt = 0
        if code == LEAKY or code == LINEAR:
            leaky = code == LEAKY
            if use_scales:
                for s in range(spatial):
                    i = (base + s) & _IDX
                    v = x[i] * a + bb
                    y = v if (v > zero or not leaky) else slope * v
                    x[i] = y
                    cnt += (y - y) != zero                  # NaN or +-Inf
            else:
                for s in range(spatial):
                    i = (base + s) & _IDX
                    v = x[i] + bb
                    y = v if (v > zero or not leaky) else slope * v
                    x[i] = y
                    cnt += (y - y) != zero
        else:
            for s in range(spatial):
                i = (base + s) & _IDX
                y = activate_scalar(float(x[i] * a + bb), code)
                x[i] = y
                v = x[i]                                    # as stored (a double may overflow float32)
                cnt += (v - v) != zero
        bad += cnt
    return bad


@parallel_kernel
def scale_bias_activate_into(t, out, scales, biases, n, cols, out_row, out_col0, code, use_scales):
    """out[c, out_col0 + s] = f(t[c, s] * scales[c] + biases[c]) for a (n, cols) strip ``t`` of a
    (n, out_row) map: ``scale_bias_activate`` writing into a column range of the output, so a conv
    computed strip by strip (in a small cache-resident workspace) needs no extra pass. Same values
    and return value (non-finite count) as ``scale_bias_activate``."""
    bad = 0
    zero = out.dtype.type(0)
    slope = out.dtype.type(0.1)
    for c in prange(n):
        src = c * cols
        dst = c * out_row + out_col0
        a = scales[c] if use_scales else out.dtype.type(1)
        bb = biases[c]
        cnt = 0
        if code == LEAKY or code == LINEAR:
            leaky = code == LEAKY
            for s in range(cols):
                v = t[(src + s) & _IDX] * a + bb
                y = v if (v > zero or not leaky) else slope * v
                out[(dst + s) & _IDX] = y
                cnt += (y - y) != zero
        else:
            for s in range(cols):
                y = activate_scalar(float(t[(src + s) & _IDX] * a + bb), code)
                out[(dst + s) & _IDX] = y
                v = out[(dst + s) & _IDX]
                cnt += (v - v) != zero
        bad += cnt
    return bad
