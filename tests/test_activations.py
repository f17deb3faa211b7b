"""kernels/activations.py: each of Darknet's 14 activations against a naive twin, and its from-y gradient
against central differences of f (away from kinks), plus the cfg helper's error for unknown names."""
import math

import numpy as np
import pytest

from darknet_py.cfg import Options, parse_cfg
from darknet_py.errors import CfgError
from darknet_py.kernels import activations as act
from darknet_py.layers._activation import parse_activation


def naive(name, x):
    """Darknet's activations.h, written out independently with numpy in float64."""
    e = np.exp
    return {
        "linear": lambda: x,
        "logistic": lambda: 1 / (1 + e(-x)),
        "loggy": lambda: 2 / (1 + e(-x)) - 1,
        "relu": lambda: np.maximum(x, 0),
        "elu": lambda: np.where(x >= 0, x, e(np.minimum(x, 0)) - 1),
        "selu": lambda: np.where(x >= 0, 1.0507 * x, 1.0507 * 1.6732 * (e(np.minimum(x, 0)) - 1)),
        "relie": lambda: np.where(x > 0, x, 0.01 * x),
        "ramp": lambda: np.maximum(x, 0) + 0.1 * x,
        "leaky": lambda: np.where(x > 0, x, 0.1 * x),
        "tanh": lambda: np.tanh(x),
        "plse": lambda: np.where(x < -4, 0.01 * (x + 4), np.where(x > 4, 0.01 * (x - 4) + 1, 0.125 * x + 0.5)),
        "hardtan": lambda: np.clip(x, -1, 1),
        "lhtan": lambda: np.where(x < 0, 0.001 * x, np.where(x > 1, 0.001 * (x - 1) + 1, x)),
        "stair": lambda: np.where(np.floor(x) % 2 == 0, np.floor(x / 2), x - np.floor(x) + np.floor(x / 2)),
    }[name]()


# Values spread over every piece of every function (plse's |x|>4, stair's steps), none on a kink.
X = np.concatenate([np.linspace(-7.3, 7.3, 147), [-0.37, 0.37, 0.93, -0.93, 1.07, -1.07]])
KINKS = np.array([-4.0, -1.0, 0.0, 1.0, 4.0])
X = X[np.min(np.abs(X[:, None] - KINKS[None, :]), axis=1) > 1e-3]
X = X[np.abs(X - np.round(X)) > 1e-3]        # stair has a kink at every integer


def test_all_fourteen_codes_follow_darknet_enum():
    assert len(act.PJREDDIE_ACTIVATIONS) == 14
    assert sorted(act.PJREDDIE_ACTIVATIONS.values()) == list(range(14))
    assert act.ACTIVATIONS["logistic"] == 0 and act.ACTIVATIONS["selu"] == 13


@pytest.mark.parametrize("name", sorted(act.PJREDDIE_ACTIVATIONS))
def test_activate_matches_naive_and_gradient_is_derivative(name):
    code = act.ACTIVATIONS[name]
    y = X.copy()
    act.activate(y, y.size, code)
    np.testing.assert_allclose(y, naive(name, X), rtol=1e-12, atol=1e-14)
    h = 1e-6
    numeric = (naive(name, X + h) - naive(name, X - h)) / (2 * h)
    delta = np.ones_like(X)
    act.gradient(y, y.size, code, delta)
    np.testing.assert_allclose(delta, numeric, rtol=1e-6, atol=1e-8, err_msg=name)


def test_activate_float32_rounds_double_result_and_respects_n():
    x = np.array([0.3, -0.7, 2.0, 5.0], np.float32)
    act.activate(x, 3, act.LOGISTIC)
    expected = (1 / (1 + np.exp(-np.array([0.3, -0.7, 2.0], np.float64)))).astype(np.float32)
    np.testing.assert_array_equal(x[:3], expected)
    assert x[3] == 5.0                                     # beyond n: untouched


def test_overflow_saturates_instead_of_nan():
    x = np.array([400.0, -400.0, 800.0], np.float64)
    for code, expected in [(act.TANH, [1.0, -1.0, 1.0]), (act.ELU, [400.0, -1.0, 800.0])]:
        y = x.copy()
        act.activate(y, 3, code)
        np.testing.assert_array_equal(y, expected)


def test_nan_propagates():
    for code in range(14):
        y = np.array([math.nan])
        act.activate(y, 1, code)
        assert np.isnan(y[0]), act.NAMES[code]


def opts_of(text):
    return Options(parse_cfg("[net]\n[conv]\n" + text, "t.cfg")[1])


def test_parse_activation_default_and_known():
    assert parse_activation(opts_of(""), default="linear") == act.LINEAR
    assert parse_activation(opts_of("activation=leaky")) == act.LEAKY


def test_parse_activation_unknown_name_lists_valid_ones():
    with pytest.raises(CfgError) as e:
        parse_activation(opts_of("activation=leakey"))
    assert e.value.line == 3
    assert "leaky" in str(e.value) and "stair" in str(e.value)
