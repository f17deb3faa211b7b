"""Darknet's 14 activation functions (activations.h) on flat arrays, and their gradients; plus
AlexeyAB's swish, mish, hard_mish, relu6, gelu and normalize_channels(_softmax)(_maxval).

The fork's additions (codes 14-21) other than relu6 need the PRE-activation for their gradient, and
the normalize_channels family mixes channels: a layer keeps the pre-activation x and calls
``activate_elementwise``/``activate_channels`` and ``gradient_elementwise``/``gradient_channels``
(through layers/_activation.py activate_ext / gradient_ext). Their gradients are the true ones; with
``fork`` the fork's own formulas where they differ (gelu's taken at the output; normalize_channels'
delta * sum(y * delta)), for compat="alexeyab". ``ZERO`` is what the fork's CPU computes for names its
generic activate() lacks.

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
# AlexeyAB's additions (our own numbering; ``activate_new``, ``activate_channels`` below).
SWISH, MISH, HARD_MISH, RELU6, GELU, NORM_CHAN, NORM_CHAN_SOFTMAX, NORM_CHAN_SOFTMAX_MAXVAL = range(14, 22)
ZERO = 22            # internal, no cfg name: f = 0, f' = 0 (the fork's CPU activate() for names it lacks)
ACTIVATIONS = {
    "logistic": LOGISTIC, "relu": RELU, "relie": RELIE, "linear": LINEAR, "ramp": RAMP, "tanh": TANH,
    "plse": PLSE, "leaky": LEAKY, "elu": ELU, "loggy": LOGGY, "stair": STAIR, "hardtan": HARDTAN,
    "lhtan": LHTAN, "selu": SELU,
    "swish": SWISH, "mish": MISH, "hard_mish": HARD_MISH, "relu6": RELU6, "gelu": GELU,
    "normalize_channels": NORM_CHAN, "normalize_channels_softmax": NORM_CHAN_SOFTMAX,
    "normalize_channels_softmax_maxval": NORM_CHAN_SOFTMAX_MAXVAL,
    "revleaky": LEAKY,   # the fork: leaky on the CPU (activate/gradient share leaky's case)
}
PJREDDIE_ACTIVATIONS = {name: code for name, code in ACTIVATIONS.items() if code < SWISH and name != "revleaky"}
NAMES = {code: name for name, code in ACTIVATIONS.items() if name != "revleaky"}
NAMES[ZERO] = "zero"
# Codes whose layer must keep the pre-activation input (the gradient needs x, not y) and, for the
# normalize_channels family, mixes channels: those run the ``activate_ext``/``gradient_ext`` path.
EXTENDED = frozenset((SWISH, MISH, HARD_MISH, GELU, NORM_CHAN, NORM_CHAN_SOFTMAX, NORM_CHAN_SOFTMAX_MAXVAL))
CROSS_CHANNEL = frozenset((NORM_CHAN, NORM_CHAN_SOFTMAX, NORM_CHAN_SOFTMAX_MAXVAL))
# How the fork treats the new codes (``fork_code``): conv and shortcut have their own kernels; every
# other layer ([activation], [scale_channels], [sam]) calls the generic activate()/gradient(), whose
# switch has no case for swish, mish, hard_mish, relu6 (nor the normalize_channels family): 0.
FORK_LAYER, FORK_GENERIC = 1, 2
MISH_THRESHOLD = 20.0
NORM_EPS = 1e-4      # the fork's normalize_channels* denominators: eps + sum

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
    if code >= SWISH:
        return activate_new(x, code)
    if code == STAIR:
        fl = np.floor(x)                                    # float floor: NaN stays NaN
        if fl % 2.0 == 0.0:                                 # on [2k, 2k+1): the flat step k
            return np.floor(x / 2.0)
        return (x - fl) + np.floor(x / 2.0)               # on [2k+1, 2k+2): the ramp k + frac
    return x


@kernel
def _sigmoid(x):
    if x < -700.0:                                          # exp overflow: the limit, not NaN
        return 0.0
    return 1.0 / (1.0 + math.exp(-x))


@kernel
def _softplus(x):
    """The fork's mish softplus: x above 20, exp(x) below -20, log(exp(x) + 1) between."""
    if x > MISH_THRESHOLD:
        return x
    if x < -MISH_THRESHOLD:
        return math.exp(x)
    return math.log(math.exp(x) + 1.0)


@kernel
def _gelu_u(x):
    return 0.797885 * x + 0.035677 * x * x * x


@kernel
def activate_new(x, code):
    """The fork's element-wise additions (activations.h), in float64: swish, mish, hard_mish, relu6,
    gelu; ZERO gives 0. (The normalize_channels family mixes channels: ``activate_channels``.)"""
    if code == SWISH:
        return x * _sigmoid(x)
    if code == MISH:
        return x * math.tanh(_softplus(x))
    if code == HARD_MISH:
        if x > 0:
            return x
        if x > -2:
            return x * x / 2 + x
        return 0.0
    if code == RELU6:
        return min(max(x, 0.0), 6.0)
    if code == GELU:
        return 0.5 * x * (1.0 + math.tanh(_gelu_u(x)))
    return 0.0


@kernel
def gradient_new(x, y, code, fork):
    """f'(x) of ``activate_new``'s codes from the pre-activation x (and y = f(x)).

    Every one is the true derivative (hard_mish, relu6: one-sided at their kinks) except gelu under
    ``fork``: the fork evaluates its gelu_gradient formula at the OUTPUT y (a bug, kept in compat)."""
    if code == SWISH:                                       # y + s(1 - y): the exact derivative
        s = _sigmoid(x)
        return y + s * (1.0 - y)
    if code == MISH:                                        # = tsp + x sech^2(sp) sigmoid(x), exact
        sp = _softplus(x)
        tsp = math.tanh(sp)
        return x * (1.0 - tsp * tsp) * (1.0 - math.exp(-sp)) + tsp
    if code == HARD_MISH:
        if x > 0:
            return 1.0
        if x > -2:
            return x + 1.0
        return 0.0
    if code == RELU6:
        return 1.0 if (y > 0 and y < 6) else 0.0
    if code == GELU:
        if fork:                                            # the fork's formula, at y
            y3 = y * y * y
            u = 0.0356774 * y3 + 0.797885 * y
            sech = 2.0 / (math.exp(u) + math.exp(-u)) if abs(u) < 700.0 else 0.0
            return 0.5 * math.tanh(u) + (0.0535161 * y3 + 0.398942 * y) * sech * sech + 0.5
        t = math.tanh(_gelu_u(x))
        return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * (0.797885 + 3.0 * 0.035677 * x * x)
    return 0.0


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
    if code == RELU6:
        return 1.0 if (y > 0 and y < 6) else 0.0
    if code == ZERO:
        return 0.0
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


# ---------------------------------------------------------------- the fork's additions, from the pre-activation

@parallel_kernel
def activate_elementwise(x, y, n, code):
    """y[:n] = f(x[:n]) (x is kept: the pre-activation that ``gradient_elementwise`` reads)."""
    for i in prange(n):
        y[i] = activate_scalar(float(x[i]), code)


@parallel_kernel
def gradient_elementwise(x, y, n, code, fork, delta):
    """delta[:n] *= f'(x[:n]) for ``activate_new``'s codes (``gradient_new``), else from y."""
    for i in prange(n):
        if code >= SWISH:
            delta[i] *= gradient_new(float(x[i]), float(y[i]), code, fork)
        else:
            delta[i] *= gradient_scalar(float(y[i]), code)


@parallel_kernel
def activate_channels(x, y, batch, channels, spatial, code):
    """The normalize_channels family, per batch item and pixel over the channels (the fork's
    activate_array_normalize_channels*), from the pre-activation x into y:
    NORM_CHAN: y_k = x_k / (1e-4 + sum_j max(x_j, 0)) where x_k > 0, else 0;
    NORM_CHAN_SOFTMAX(_MAXVAL): y_k = exp(x_k - m) / (1e-4 + sum_j exp(x_j - m)), m = 0 (softmax)
    or max_k x_k (maxval; the first maximum)."""
    for p in prange(batch * spatial):                       # one pixel column per iteration: disjoint
        b = p // spatial
        base = b * channels * spatial + (p - b * spatial)
        if code == NORM_CHAN:
            total = NORM_EPS
            for k in range(channels):
                v = float(x[base + k * spatial])
                if v > 0:
                    total += v
            for k in range(channels):
                v = float(x[base + k * spatial])
                y[base + k * spatial] = v / total if v > 0 else 0.0
        else:
            m = 0.0
            if code == NORM_CHAN_SOFTMAX_MAXVAL:
                m = float(x[base])
                for k in range(1, channels):
                    m = max(m, float(x[base + k * spatial]))
            total = NORM_EPS
            for k in range(channels):
                total += math.exp(float(x[base + k * spatial]) - m)
            for k in range(channels):
                y[base + k * spatial] = math.exp(float(x[base + k * spatial]) - m) / total


@parallel_kernel
def gradient_channels(x, y, delta, batch, channels, spatial, code, fork):
    """delta (w.r.t. y) -> w.r.t. the pre-activation x, in place, for the normalize_channels family.

    With G = sum_k y_k delta_k over the pixel's channels:
    fork (its CPU gradient_array_normalize_channels*, not a Jacobian): delta_k *= G (NORM_CHAN: only
    where y_k > 0);
    true: NORM_CHAN dx_k = [x_k > 0] (delta_k - G) / s with s = 1e-4 + sum max(x, 0); softmax
    dx_k = y_k (delta_k - G), and for maxval also -G (1 - sum y) at the maximum (m moves with it:
    the 1e-4 makes y depend on m)."""
    for p in prange(batch * spatial):
        b = p // spatial
        base = b * channels * spatial + (p - b * spatial)
        g = 0.0
        sum_y = 0.0
        for k in range(channels):
            j = base + k * spatial
            g += float(y[j]) * float(delta[j])
            sum_y += float(y[j])
        if fork:
            for k in range(channels):
                j = base + k * spatial
                if code != NORM_CHAN or y[j] > 0:
                    delta[j] = delta[j] * g
            continue
        if code == NORM_CHAN:
            total = NORM_EPS
            for k in range(channels):
                v = float(x[base + k * spatial])
                if v > 0:
                    total += v
            for k in range(channels):
                j = base + k * spatial
                delta[j] = (float(delta[j]) - g) / total if x[j] > 0 else 0.0
            continue
        arg = 0
        if code == NORM_CHAN_SOFTMAX_MAXVAL:
            for k in range(1, channels):
                if x[base + k * spatial] > x[base + arg * spatial]:
                    arg = k
        for k in range(channels):
            j = base + k * spatial
            d = float(y[j]) * (float(delta[j]) - g)
            if code == NORM_CHAN_SOFTMAX_MAXVAL and k == arg:
                d -= g * (1.0 - sum_y)
            delta[j] = d


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


# ---------------------------------------------------------------- training: fused passes, Darknet's roundings
# The plain training path is Darknet's sequence of passes (normalize, copy, scale, add bias, activate;
# gradient, backward_bias, backward_scale, scale, batch-norm delta), each a full sweep of memory and a
# wake-up of the thread pool. The kernels below do the same arithmetic in one or two sweeps: every
# value that the plain path stores in a float array and reads back is stored (or converted) the same
# way here, so the element-wise results are bitwise the plain path's. Only the per-channel sums run
# in 4 float64 lanes (a different summation order: equal within a float64 rounding). They live in
# this module because they call activate_scalar / gradient_scalar (numba's cache is keyed per file).

BN_NONE, BN_DARKNET, BN_TRUE, BN_FROZEN = 0, 1, 2, 3   # backward_activation_bn modes


@parallel_kernel
def batchnorm_activate_train(x, mean, variance, scales, biases, x_norm, out, batch, n, spatial, code, eps):
    """x_norm = (x - mean[c]) / (sqrt(variance[c]) + eps); out = f(x_norm * scales[c] + biases[c]).

    Darknet's training batch norm followed by the activation, in one pass over (batch, n, spatial) rows;
    x is left unchanged. Returns the number of non-finite values in x (the caller's dirty flag)."""
    bad = 0
    zero = x.dtype.type(0)
    for bc in prange(batch * n):                            # one channel row per iteration: disjoint
        c = bc % n
        base = bc * spatial
        m = mean[c]
        s_ = math.sqrt(variance[c]) + eps                   # float64, as in batchnorm.normalize
        sc = scales[c]
        bb = biases[c]
        cnt = 0
        if code == LEAKY:
            for s in range(spatial):
                j = (base + s) & _IDX
                v = x[j]
                cnt += (v - v) != zero
                x_norm[j] = (v - m) / s_
                vd = float(x_norm[j] * sc + bb)             # both in the array's precision, then double
                out[j] = vd if vd > 0 else 0.1 * vd
        elif code == LINEAR:
            for s in range(spatial):
                j = (base + s) & _IDX
                v = x[j]
                cnt += (v - v) != zero
                x_norm[j] = (v - m) / s_
                out[j] = x_norm[j] * sc + bb
        else:
            for s in range(spatial):
                j = (base + s) & _IDX
                v = x[j]
                cnt += (v - v) != zero
                x_norm[j] = (v - m) / s_
                out[j] = x_norm[j] * sc + bb
                out[j] = activate_scalar(float(out[j]), code)
        bad += cnt
    return bad


@parallel_kernel
def bias_activate(x, biases, batch, n, spatial, code):
    """x[b, c, :] = f(x[b, c, :] + biases[c]) in place (add_bias then activate, Darknet's roundings).
    Returns the number of non-finite values written."""
    bad = 0
    zero = x.dtype.type(0)
    for bc in prange(batch * n):
        c = bc % n
        base = bc * spatial
        bb = biases[c]
        cnt = 0
        if code == LEAKY:
            for s in range(spatial):
                j = (base + s) & _IDX
                vd = float(x[j] + bb)
                x[j] = vd if vd > 0 else 0.1 * vd
                v = x[j]
                cnt += (v - v) != zero
        elif code == LINEAR:
            for s in range(spatial):
                j = (base + s) & _IDX
                x[j] = x[j] + bb
                v = x[j]
                cnt += (v - v) != zero
        else:
            for s in range(spatial):
                j = (base + s) & _IDX
                x[j] = x[j] + bb
                x[j] = activate_scalar(float(x[j]), code)
                v = x[j]
                cnt += (v - v) != zero
        bad += cnt
    return bad


@parallel_kernel
def backward_activation_bn(y, delta, code, z, x_norm, mean, variance, scales, bias_updates, scale_updates,
                           batch, n, spatial, mode, has_bias, fwd_eps, bwd_eps):
    """A conv's (or any batch-norm host's) backward up to the gemms, one channel per iteration:

    delta *= f'(y) (``gradient``); bias_updates[c] += sum(delta) (if has_bias); then with batch norm
    (mode != BN_NONE): scale_updates[c] += sum(delta * x_norm), delta *= scales[c] and the batch-norm
    delta of ``batchnorm.backward_darknet`` (BN_DARKNET: z is x, mean/variance the statistics used by
    the forward), ``backward_true`` (BN_TRUE: z is x_norm) or ``backward_frozen`` (BN_FROZEN).
    Two sweeps of each (batch, channel) row instead of five; element values as in those kernels."""
    count = batch * spatial
    zero = delta.dtype.type(0)
    s4 = spatial - spatial % 4
    for i in prange(n):
        bn = mode != BN_NONE
        sc = scales[i] if bn else delta.dtype.type(1)
        zm = mean[i] if mode == BN_DARKNET else zero      # z - zm: x - mean (Darknet) or x_norm - 0 (exact)
        b0 = b1 = b2 = b3 = 0.0                           # sum delta        (bias_updates)
        q0 = q1 = q2 = q3 = 0.0                           # sum delta*x_norm (scale_updates)
        d0 = d1 = d2 = d3 = 0.0                           # sum delta*scale
        e0 = e1 = e2 = e3 = 0.0                           # sum delta*scale*(z - zm)
        for b in range(batch):
            base = (b * n + i) * spatial
            leaky = code == LEAKY
            fused_leaky = bn and leaky                    # leaky's gradient() inside the sums' sweep below
            if fused_leaky:
                pass
            elif leaky:                                   # gradient(), in place on this row
                for s in range(spatial):
                    j = (base + s) & _IDX
                    delta[j] *= 1.0 if y[j] > 0 else 0.1
            elif code != LINEAR:
                for s in range(spatial):
                    j = (base + s) & _IDX
                    delta[j] *= gradient_scalar(float(y[j]), code)
            if not bn:
                for s in range(0, s4, 4):
                    j = (base + s) & _IDX
                    b0 += delta[j]
                    b1 += delta[j + 1]
                    b2 += delta[j + 2]
                    b3 += delta[j + 3]
                for s in range(s4, spatial):
                    b0 += delta[(base + s) & _IDX]
                continue
            for s in range(0, s4, 4):
                j = (base + s) & _IDX
                if fused_leaky:                           # loop-invariant: LLVM unswitches it
                    delta[j] *= 1.0 if y[j] > 0 else 0.1
                    delta[j + 1] *= 1.0 if y[j + 1] > 0 else 0.1
                    delta[j + 2] *= 1.0 if y[j + 2] > 0 else 0.1
                    delta[j + 3] *= 1.0 if y[j + 3] > 0 else 0.1
                g0 = delta[j]
                g1 = delta[j + 1]
                g2 = delta[j + 2]
                g3 = delta[j + 3]
                b0 += g0
                b1 += g1
                b2 += g2
                b3 += g3
                q0 += g0 * x_norm[j]
                q1 += g1 * x_norm[j + 1]
                q2 += g2 * x_norm[j + 2]
                q3 += g3 * x_norm[j + 3]
                g0 = g0 * sc
                g1 = g1 * sc
                g2 = g2 * sc
                g3 = g3 * sc
                delta[j] = g0
                delta[j + 1] = g1
                delta[j + 2] = g2
                delta[j + 3] = g3
                d0 += g0
                d1 += g1
                d2 += g2
                d3 += g3
                e0 += g0 * (z[j] - zm)
                e1 += g1 * (z[j + 1] - zm)
                e2 += g2 * (z[j + 2] - zm)
                e3 += g3 * (z[j + 3] - zm)
            for s in range(s4, spatial):
                j = (base + s) & _IDX
                if fused_leaky:
                    delta[j] *= 1.0 if y[j] > 0 else 0.1
                g0 = delta[j]
                b0 += g0
                q0 += g0 * x_norm[j]
                g0 = g0 * sc
                delta[j] = g0
                d0 += g0
                e0 += g0 * (z[j] - zm)
        if has_bias:
            bias_updates[i] += (b0 + b1) + (b2 + b3)
        if bn:
            scale_updates[i] += (q0 + q1) + (q2 + q3)
            sum_d = (d0 + d1) + (d2 + d3)
            sum_dx = (e0 + e1) + (e2 + e3)
            if mode == BN_DARKNET:                            # batchnorm.backward_darknet
                m = mean[i]
                var_eps = variance[i] + bwd_eps
                mean_delta = sum_d * (-1.0 / math.sqrt(var_eps))
                variance_delta = sum_dx * (-0.5 * var_eps ** -1.5)
                inv_std = 1.0 / math.sqrt(var_eps)
                for b in range(batch):
                    base = (b * n + i) * spatial
                    for s in range(spatial):
                        j = (base + s) & _IDX
                        delta[j] = (delta[j] * inv_std + variance_delta * 2.0 * (z[j] - m) / count
                                    + mean_delta / count)
            elif mode == BN_TRUE:                             # batchnorm.backward_true
                sd = math.sqrt(variance[i])
                s_ = sd + fwd_eps
                mean_d = sum_d / count
                coef = sum_dx / (sd * (count - 1))
                for b in range(batch):
                    base = (b * n + i) * spatial
                    for s in range(spatial):
                        j = (base + s) & _IDX
                        delta[j] = (delta[j] - mean_d) / s_ - x_norm[j] * coef
            else:                                             # batchnorm.backward_frozen
                inv = 1.0 / (math.sqrt(variance[i]) + fwd_eps)
                for b in range(batch):
                    base = (b * n + i) * spatial
                    for s in range(spatial):
                        j = (base + s) & _IDX
                        delta[j] *= inv
