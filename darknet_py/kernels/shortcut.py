"""AlexeyAB's multi-input, weighted [shortcut] (blas.c shortcut_multilayer_cpu and its backward).

Sources are j = 0 (the previous layer) and the ``from`` layers, all with the output's height and
width; source j has ``src_outputs`` values per batch item and reaches only the first ``src_outputs``
of the output's ``outputs`` (a from-layer with fewer channels adds into the first channels).
Weights are (nsrc, L): L = 1 (per_feature) or C (per_channel, column = output index // step).
``norm``: 0 none, 1 relu, 2 softmax (over the sources, per column, with the fork's eps = 1e-4).
"""
import math

from ._jit import kernel, parallel_kernel, prange

NONE, RELU, SOFTMAX = 0, 1, 2
EPS = 0.0001


@kernel
def normalize_weights(w, wn, nsrc, cols, norm):
    """wn[j, l] = the weight source j contributes at column l after the normalisation."""
    for col in range(cols):
        top = -3.4028234663852886e38
        if norm == SOFTMAX:
            for j in range(nsrc):
                if top < w[j * cols + col]:
                    top = w[j * cols + col]
        total = EPS
        for j in range(nsrc):
            v = w[j * cols + col]
            total += max(v, 0.0) if norm == RELU else math.exp(v - top)
        for j in range(nsrc):
            v = w[j * cols + col]
            if norm == RELU:
                wn[j * cols + col] = max(v, 0.0) / total
            elif norm == SOFTMAX:
                wn[j * cols + col] = math.exp(v - top) / total
            else:
                wn[j * cols + col] = v


@parallel_kernel
def weighted_add(src, src_outputs, out, outputs, batch, wn_row, step, first):
    """out[b, i] (= if first, else +=) wn_row[i // step] * src[b, i] for i < min(src_outputs, outputs)."""
    n = min(src_outputs, outputs)
    for b in prange(batch):
        for i in range(n):
            v = wn_row[i // step] * src[b * src_outputs + i]
            if first:
                out[b * outputs + i] = v
            else:
                out[b * outputs + i] += v


@parallel_kernel
def weighted_add_backward(delta, outputs, src_delta, src_outputs, batch, wn_row, step):
    """src_delta[b, i] += wn_row[i // step] * delta[b, i] for i < min(src_outputs, outputs)."""
    n = min(src_outputs, outputs)
    for b in prange(batch):
        for i in range(n):
            src_delta[b * src_outputs + i] += wn_row[i // step] * delta[b * outputs + i]


@parallel_kernel
def weight_gradient(delta, outputs, src, src_outputs, batch, g_row, cols, step):
    """g_row[l] += sum over b and i < min(src_outputs, outputs) with i // step == l of delta[b, i] * src[b, i]:
    the gradient with respect to the NORMALISED weights of one source."""
    n = min(src_outputs, outputs)
    for col in prange(cols):
        acc = 0.0
        for b in range(batch):
            for i in range(col * step, min(n, (col + 1) * step)):
                acc += delta[b * outputs + i] * src[b * src_outputs + i]
        g_row[col] += acc


@kernel
def weights_backward(w, wn, g, wu, nsrc, cols, norm, through_norm):
    """wu += the gradient with respect to the raw weights: g itself when ``through_norm`` is False (the
    fork), else g through the normalisation's Jacobian, per column with T = sum_j g_j wn_j:
    relu: [w_k > 0] / S * (g_k - T); softmax: wn_k (g_k - T), and -eps/S * T more on the column's
    maximum (the shift by the maximum does not cancel because of eps)."""
    for col in range(cols):
        if not through_norm or norm == NONE:
            for j in range(nsrc):
                wu[j * cols + col] += g[j * cols + col]
            continue
        t = 0.0
        total = EPS
        top = 0
        for j in range(nsrc):
            k = j * cols + col
            t += g[k] * wn[k]
            total += max(w[k], 0.0)
            if w[k] > w[top * cols + col]:
                top = j
        if norm == SOFTMAX:
            total = EPS
            for j in range(nsrc):
                total += math.exp(w[j * cols + col] - w[top * cols + col])
        for j in range(nsrc):
            k = j * cols + col
            if norm == RELU:
                if w[k] > 0:
                    wu[k] += (g[k] - t) / total
            else:
                wu[k] += wn[k] * (g[k] - t)
                if j == top:
                    wu[k] -= EPS / total * t
