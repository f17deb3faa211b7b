"""Float64 central-difference gradient checks of whole (small) networks.

Loss L = <r, y> for the last layer's output y and a random r. Darknet's sign convention means the
backward pass starts from delta = -dL/dy = -r... except that Network.backward takes that delta, so we
pass -r and expect ``-input_grad`` and ``-param_updates`` to equal dL/dx and dL/dparam.
"""
import numpy as np

from darknet_py import build_network
from darknet_py.cfg import parse_cfg

# [net] header of the small test networks: format with batch, c, h, w
NET = """
[net]
batch={batch}
width={w}
height={h}
channels={c}
"""

H = 1e-5   # central differences: truncation ~H^2, float64 rounding in the loss ~1e-16/H


def build64(cfg_text, compat=False):
    net = build_network(parse_cfg(cfg_text, "<gradcheck>"), "<gradcheck>", dtype=np.float64, max_memory=None)
    net.compat = compat
    return net


def randomize_parameters(net, rng):
    """Every parameter away from degenerate values (BN scales and variances positive)."""
    for layer in net.layers:
        for name, param, grad in layer.parameters():
            if name == "scales":
                param[:] = rng.uniform(0.5, 1.5, param.size)
            else:
                param[:] = rng.normal(0.0, 0.5, param.size)
            grad[:] = 0.0
        for name in ("rolling_mean", "rolling_variance"):
            a = getattr(layer, name, None)
            if a is not None:
                a[:] = rng.uniform(0.5, 1.5, a.size) if name == "rolling_variance" else rng.normal(0, 0.5, a.size)


def loss_fn(net, x, r, train, seed):
    def loss():
        net.rng = np.random.default_rng(seed)       # dropout draws the same mask every time
        return float(np.dot(r, net.forward(x, train=train).ravel()))
    return loss


def numeric_gradient(loss, array, indices):
    g = np.empty(len(indices))
    for n, i in enumerate(indices):
        old = array[i]
        array[i] = old + H
        up = loss()
        array[i] = old - H
        down = loss()
        array[i] = old
        g[n] = (up - down) / (2 * H)
    return g


def max_relative_error(analytic, numeric):
    scale = np.maximum(np.maximum(np.abs(analytic), np.abs(numeric)), 1e-3)
    return float(np.max(np.abs(analytic - numeric) / scale)) if analytic.size else 0.0


def check_gradients(cfg_text, x=None, train=True, seed=0, max_checks=200, tol=1e-6, net=None, input_scale=1.0):
    """Gradient-check every input and parameter gradient of the network built from ``cfg_text``.

    Returns {name: max relative error}; raises AssertionError naming the worst one above ``tol``."""
    rng = np.random.default_rng(seed)
    net = net or build64(cfg_text)
    randomize_parameters(net, rng)
    if x is None:
        x = rng.normal(0.0, input_scale, (net.batch,) + tuple(net.input_shape))
    out_size = net.layers[-1].outputs * net.batch
    r = rng.normal(size=out_size)
    loss = loss_fn(net, x, r, train, seed)

    loss()
    for layer in net.layers:
        for _, _, grad in layer.parameters():
            grad[:] = 0.0
    dx = -net.backward(-r).ravel().copy()
    analytic = {"input": dx}
    for layer in net.layers:
        for name, param, grad in layer.parameters():
            analytic[f"layer {layer.index} [{layer.type}] {name}"] = (-grad.copy(), param)

    errors = {}
    xf = x.reshape(-1)                       # perturbed in place; forward copies it in each time
    pick = lambda n: rng.choice(n, size=min(n, max_checks), replace=False)
    idx = pick(xf.size)
    errors["input"] = max_relative_error(dx[idx], numeric_gradient(loss, xf, idx))
    for key, value in analytic.items():
        if key == "input":
            continue
        grad, param = value
        idx = pick(param.size)
        errors[key] = max_relative_error(grad[idx], numeric_gradient(loss, param, idx))
    worst = max(errors, key=errors.get)
    assert errors[worst] < tol, f"gradient check failed: {worst} relative error {errors[worst]:.3g} (all: {errors})"
    return errors
