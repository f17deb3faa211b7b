"""Reading ../shared/golden (reference tensors from the original C Darknet) and comparing against it.

The folder lies beside the project checkout (or at $DARKNET_PY_GOLDEN). Without it the golden tests
skip with a message, except under CI=true, where a missing folder is a failure.
"""
import json
import os
from pathlib import Path

import numpy as np
import pytest

ATOL, RTOL = 1e-5, 1e-4
PARAM_KEYS = {"weights": "weight_updates", "biases": "bias_updates", "scales": "scale_updates"}


def _root(wave):
    """Where a wave of golden data lies: ../shared/<wave> beside the checkout ($DARKNET_PY_GOLDEN for wave 1;
    the other waves are looked up beside it, so one variable moves them all)."""
    first = Path(os.environ.get("DARKNET_PY_GOLDEN", Path(__file__).resolve().parents[2] / "shared" / "golden"))
    return first if wave == "golden" else first.parent / wave


def golden_root(wave="golden"):
    """The folder of a wave ("golden", "golden2", "golden_alexeyab"); skip (or fail under CI=true) without it."""
    root = _root(wave)
    if not (root / "index.json").is_file():
        message = f"golden data not found at {root} (set DARKNET_PY_GOLDEN or put ../shared beside the checkout)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return root


def case_names(wave="golden"):
    """Every case of a wave's index.json, or a placeholder when the folder is absent (the tests then skip
    via golden_root)."""
    try:
        return [c["name"] for c in json.loads((_root(wave) / "index.json").read_text())["cases"]]
    except OSError:
        return ["<golden data missing>"]


class Case:
    def __init__(self, root, name):
        self.dir = Path(root) / name
        self.name = name
        self.info = json.loads((self.dir / "case.json").read_text())
        self.mode = self.info["mode"]

    def path(self, name):
        return self.dir / name

    def load(self, name):
        p = self.dir / name
        if not p.exists():
            return None
        return dict(np.load(p)) if name.endswith(".npz") else np.load(p)

    @property
    def training(self):
        return self.mode != "inference_only"


def assert_close(actual, expected, what):
    """atol 1e-5 / rtol 1e-4 with NaN positions equal; compares flat (shapes differ only in views)."""
    actual = np.asarray(actual, np.float64).ravel()
    expected = np.asarray(expected, np.float64).ravel()
    assert actual.size == expected.size, f"{what}: {actual.size} values, golden has {expected.size}"
    nan_a, nan_e = np.isnan(actual), np.isnan(expected)
    assert np.array_equal(nan_a, nan_e), (
        f"{what}: NaN positions differ ({nan_a.sum()} here, {nan_e.sum()} in golden; "
        f"first mismatch at {int(np.argmax(nan_a != nan_e))})")
    ok = ~nan_e
    np.testing.assert_allclose(actual[ok], expected[ok], atol=ATOL, rtol=RTOL, err_msg=what)


def read_weight_floats(path):
    """(seen, float32 array) of a .weights file written with the 20-byte header."""
    data = Path(path).read_bytes()
    seen = int(np.frombuffer(data, "<u8", 1, 12)[0])
    return seen, np.frombuffer(data, "<f4", offset=20)
