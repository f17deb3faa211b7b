"""[softmax], [logistic], [cost]: forwards, float64 gradient checks of the Jacobian paths, and
gradient checks of each loss against the layer's declared loss (the layer computes its own delta)."""
import numpy as np
import pytest

import darknet_py
from darknet_py import CfgError
from gradcheck import H, build64, check_gradients, max_relative_error

FLAT = """
[net]
batch={b}
inputs={n}

{body}
"""


def flat(body, b=2, n=12):
    return FLAT.format(b=b, n=n, body=body)


def numeric_input_gradient(f, x):
    g = np.empty(x.size)
    xf = x.reshape(-1)
    for i in range(xf.size):
        old = xf[i]
        xf[i] = old + H
        up = f(x)
        xf[i] = old - H
        down = f(x)
        xf[i] = old
        g[i] = (up - down) / (2 * H)
    return g


def check_own_loss(net, x, truth, loss):
    """-input_grad after a truth-driven forward/backward must be d loss(net)/dx."""
    net.forward(x, train=True, truth=truth)
    analytic = -net.backward().ravel().copy()

    def f(xx):
        net.forward(xx, train=True, truth=truth)
        return loss(net)
    err = max_relative_error(analytic, numeric_input_gradient(f, x.copy()))
    assert err < 1e-6, err
    return analytic


# ---------------------------------------------------------------- softmax
def softmax_ref(x, groups, t):
    z = x.reshape(x.shape[0], groups, -1) / t
    e = np.exp(z - z.max(axis=2, keepdims=True))
    return (e / e.sum(axis=2, keepdims=True)).reshape(x.shape)


@pytest.mark.parametrize("opts,groups,t", [("", 1, 1.0), ("groups=3", 3, 1.0), ("temperature=0.5", 1, 0.5),
                                           ("groups=4\ntemperature=2.5", 4, 2.5)])
def test_softmax_forward_and_jacobian_gradient(opts, groups, t):
    text = flat(f"[soft]\n{opts}\n")
    x = np.random.default_rng(0).normal(size=(2, 12))
    np.testing.assert_allclose(build64(text).forward(x), softmax_ref(x, groups, t), rtol=1e-12)
    check_gradients(text)
    check_gradients(flat(f"[softmax]\n{opts}\n", b=1))


def one_hot(rng, b, groups, n):
    t = np.zeros((b, groups, n // groups))
    t[np.arange(b)[:, None], np.arange(groups), rng.integers(n // groups, size=(b, groups))] = 1
    return t.reshape(b, n)


@pytest.mark.parametrize("groups", [1, 3])
def test_softmax_cross_entropy_with_truth_is_the_logit_gradient(groups):
    rng = np.random.default_rng(1)
    net = build64(flat(f"[softmax]\ngroups={groups}\n"))
    x, t = rng.normal(size=(2, 12)), one_hot(rng, 2, groups, 12)
    check_own_loss(net, x, t, lambda n: n.layers[-1].cost)
    assert net.layers[-1].delta_wrt_logits


def test_softmax_then_cost_applies_the_jacobian():
    """A later [cost] owns the loss: softmax's delta is w.r.t. the probabilities."""
    rng = np.random.default_rng(2)
    net = build64(flat("[softmax]\ngroups=2\n\n[cost]\ntype=sse\nscale=0.7\n"))
    x, t = rng.normal(size=(2, 12)), rng.uniform(size=(2, 12))
    check_own_loss(net, x, t, lambda n: 0.7 * 0.5 * n.layers[-1].cost)
    assert not net.layers[0].delta_wrt_logits


def test_softmax_compat_passes_through_and_writes_minus_p_without_truth():
    net = build64(flat("[softmax]\n"), compat=True)
    x = np.random.default_rng(3).normal(size=(2, 12))
    p = net.forward(x, train=True).copy()
    np.testing.assert_allclose(net.layers[0].delta, -p.ravel())
    dy = np.random.default_rng(4).normal(size=(2, 12))
    np.testing.assert_array_equal(net.backward(dy), dy)


@pytest.mark.parametrize("opts,message", [("groups=5", "does not divide"), ("tree=x.tree", "tree file x.tree not found"),
                                          ("temperature=0", "must not be 0")])
def test_softmax_errors(opts, message):
    with pytest.raises(CfgError, match=message):
        build64(flat(f"[softmax]\n{opts}\n"))


# ---------------------------------------------------------------- logistic
def test_logistic_forward_and_gradient():
    x = np.random.default_rng(0).normal(size=(2, 12))
    np.testing.assert_allclose(build64(flat("[logistic]\n")).forward(x), 1 / (1 + np.exp(-x)), rtol=1e-12)
    check_gradients(flat("[logistic]\n"))
    check_gradients(flat("[logistic]\n", b=1, n=5))


def test_logistic_cross_entropy_gradient():
    rng = np.random.default_rng(5)
    net = build64(flat("[logistic]\n"))
    x, t = rng.normal(size=(2, 12)), rng.uniform(size=(2, 12))
    check_own_loss(net, x, t, lambda n: n.layers[-1].cost)
    p = 1 / (1 + np.exp(-x))
    assert np.isclose(net.layers[-1].cost, np.sum(-t * np.log(p) - (1 - t) * np.log(1 - p)))


# ---------------------------------------------------------------- cost
# type -> (factor: declared loss = factor * scale * cost, truth generator)
COSTS = {"sse": 0.5, "seg": 0.5, "masked": 0.5, "smooth": 0.5, "L1": 1.0, "wgan": 1.0}


def cost_truth(kind, rng, x):
    if kind == "seg":
        return np.where(rng.uniform(size=x.shape) < 0.5, 0.0, rng.normal(size=x.shape))
    if kind == "wgan":
        return (rng.uniform(size=x.shape) < 0.5).astype(float)
    t = x + rng.choice([-1, 1], size=x.shape) * rng.uniform(0.05, 3.0, size=x.shape)   # |d| away from 0
    t = np.where(np.abs(np.abs(t - x) - 1) < 0.05, t + 0.2, t)                          # and from 1 (smooth)
    if kind == "masked":
        t[:, ::3] = -1234.0
    return t


@pytest.mark.parametrize("kind", sorted(COSTS))
@pytest.mark.parametrize("b,n", [(2, 12), (1, 5)])
def test_cost_gradient_is_the_declared_loss(kind, b, n):
    rng = np.random.default_rng(6)
    net = build64(flat(f"[cost]\ntype={kind}\nscale=1.5\nnoobj=0.25\n", b=b, n=n))
    x = rng.normal(size=(b, n))
    t = cost_truth(kind, rng, x)
    check_own_loss(net, x, t, lambda nn: COSTS[kind] * 1.5 * nn.layers[-1].cost)


def test_cost_output_holds_per_element_cost():
    rng = np.random.default_rng(7)
    net = build64(flat("[cost]\n"))
    x, t = rng.normal(size=(2, 12)), rng.normal(size=(2, 12))
    out = net.forward(x, truth=t)
    np.testing.assert_allclose(out, (t - x) ** 2)
    assert np.isclose(net.layers[0].cost, ((t - x) ** 2).sum())
    net.forward(x)
    assert net.layers[0].cost is None           # no truth: Darknet skips the layer


def test_masked_cost_compat_writes_into_its_input_default_does_not():
    x = np.random.default_rng(8).normal(size=(2, 12))
    t = np.zeros((2, 12))
    t[:, 0] = -1234.0
    text = flat("[logistic]\n\n[cost]\ntype=masked\n")
    for compat in (False, True):
        net = build64(text, compat=compat)
        net.forward(x, train=True, truth=t)
        assert (net.layers[0].output.reshape(2, 12)[:, 0] == -1234.0).all() == compat
        assert (net.layers[1].delta.reshape(2, 12)[:, 0] == 0).all()      # both: no gradient where masked


def test_cost_thresh_suppresses_small_deltas():
    net = build64(flat("[cost]\nthresh=1.2\n", n=4))
    x = np.zeros((2, 4))
    t = np.array([[0.1, 0.2, 0.5, -0.4], [1.0, 0.29, -0.31, 0.0]])
    net.forward(x, train=True, truth=t)
    np.testing.assert_array_equal(net.layers[0].delta.reshape(2, 4), np.where(np.abs(t) < 0.3, 0.0, t))


def test_unknown_cost_type_is_an_error():
    with pytest.raises(CfgError, match="not one of"):
        build64(flat("[cost]\ntype=sse2\n"))


def test_golden_cost_case_reports_darknets_cost():
    from golden import Case, golden_root
    case = Case(golden_root(), "cost_sse")
    net = darknet_py.load_network(case.path("net.cfg"), case.path("weights.weights"))
    net.forward(case.load("input.npy"), truth=case.load("truth.npy"))
    assert np.isclose(net.layers[1].cost, case.info["scalars"]["layer_cost_001"], rtol=1e-5)
