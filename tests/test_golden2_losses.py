"""Every loss case of ../shared/golden2 (kind layer_truth_driven_delta: [yolo], [region], [cost] types,
[logistic] cross-entropy) against darknet_py, in compatibility and in default mode.

Per case, as Darknet's harness ran it (golden2 README §1.1): an inference forward with the truth, a
training forward (seen counted, or set first where the case says so), the last layer's delta right
after it, the costs, the statistics line yolo/region print, [logistic]'s per-element loss, then the
backward (input gradient, every delta and parameter gradient) and one update. Default mode matches
except where DIVERGENCES says why (README: "Where darknet_py differs from Darknet").
"""
import json
import math

import numpy as np
import pytest

import darknet_py
from golden import Case, _root, assert_close, golden_root
from test_golden import compare_backward, compare_outputs, compare_update

WAVE = "golden2"
KIND = "layer_truth_driven_delta"

# case -> {part: reason}; parts: "forward" (every layer output of both forwards), "layer0_output"
# (only the input layer's output), "loss" (the last layer's delta and the costs), "backward"
# (gradients and the update)
DIVERGENCES = {
    "cost_smooth": {"loss": "smooth L1's linear branch gets delta +sign(d), the true gradient "
                            "(Darknet's CPU code has -sign(d); its GPU code agrees with us)",
                    "backward": "the delta of the linear branch, as above"},
    "cost_masked": {"layer0_output": "masked cost does not write SECRET_NUM into the previous layer's output"},
    "cost_wgan": {"forward": "wgan is the Wasserstein cost of Darknet's GPU code (its CPU code falls back to sse)",
                  "loss": "wgan: delta +-1 and cost sum(-+p) (GPU semantics)",
                  "backward": "wgan: delta +-1 (GPU semantics)"},
    "region_train": {"backward": "region backward is Darknet's GPU one (its CPU backward is empty)"},
}
DIVERGENCES["region_train_seen12800"] = DIVERGENCES["region_train"]


def loss_case_names():
    """The golden2 cases of the loss kind (image ops, boxes, trajectories are tested elsewhere)."""
    try:
        index = json.loads((_root(WAVE) / "index.json").read_text())
    except OSError:
        return ["<golden data missing>"]
    return [c["name"] for c in index["cases"] if c["kind"] == KIND]


def run_and_compare(case, compat):
    diverges = {} if compat else DIVERGENCES.get(case.name, {})
    net = darknet_py.load_network(case.path("net.cfg"), case.path("weights.weights"), compat=compat)
    x, truth = case.load("input.npy"), case.load("truth.npy")
    last = net.layers[-1]
    assert net.truths == case.info["net_truths_per_item"], "truth values per image"

    net.forward(x, train=False, truth=truth)
    compare_forward(net, case, "infer", diverges)
    compare_layer_loss(net, case, "infer")
    if "loss" not in diverges:
        assert_scalar(net.cost or 0.0, case.info["scalars"]["cost_infer"], f"{case.name}: cost after inference")

    seen = case.info["seen"]
    net.seen = seen["set_before_train_forward"]
    net.forward(x, train=True, truth=truth)
    assert net.seen == seen["during_train_forward"]
    compare_forward(net, case, "train", diverges)
    compare_layer_loss(net, case, "train")
    if "loss" not in diverges:
        assert_close(last.delta, case.load("delta_last.npy"), f"{case.name}: last layer's delta after the forward")
        compare_scalars(net, case)
    compare_stats(last, case)

    if "backward" in diverges:
        return
    compare_backward(net, net.backward(), case)
    net.update()
    compare_update(net, case)


def compare_forward(net, case, mode, diverges):
    if "forward" in diverges:
        return
    golden = case.load(f"forward_{mode}.npz")
    if "layer0_output" in diverges:
        golden = {k: v for k, v in golden.items() if k != "layer_000"}
        for layer in net.layers[1:]:
            assert_close(layer.output, golden[f"layer_{layer.index:03d}"],
                         f"{case.name} {mode} forward: layer {layer.index} [{layer.type}] output")
        return
    compare_outputs(net, None, golden, case, mode)


def compare_layer_loss(net, case, mode):
    """[logistic]'s l.loss buffer (per-element cross-entropy), NaN/inf where Darknet has them."""
    golden = case.load("layer_loss.npz")
    for layer in net.layers if golden else ():
        key = f"loss_{mode}_{layer.index:03d}"
        if key in golden:
            expected = golden[key].astype(np.float64).ravel()
            actual = layer.loss.astype(np.float64)
            finite = np.isfinite(expected)
            np.testing.assert_array_equal(np.isnan(actual), np.isnan(expected), f"{case.name} {key}: NaN positions")
            np.testing.assert_array_equal(actual[np.isinf(expected)], expected[np.isinf(expected)],
                                          f"{case.name} {key}: inf values")
            assert_close(actual[finite], expected[finite], f"{case.name} {key}")


def assert_scalar(actual, expected, what):
    expected = math.nan if expected is None else expected
    if math.isnan(expected):
        assert actual is not None and math.isnan(actual), f"{what}: {actual}, golden NaN"
        return
    assert actual == pytest.approx(expected, rel=1e-4, abs=1e-5), f"{what}: {actual}, golden {expected}"


def compare_scalars(net, case):
    scalars = case.info["scalars"]
    assert_scalar(net.cost, scalars["cost_train"], f"{case.name}: net cost after the training forward")
    for layer in net.layers:
        key = f"layer_cost_{layer.index:03d}"
        if key in scalars:
            assert_scalar(layer.cost, scalars[key], f"{case.name}: {key}")


def compare_stats(layer, case):
    """The numbers of the line Darknet printed (rounded by %f: compared within 1e-5), and the line itself."""
    for printed in case.info.get("printed_stats", []):
        stats = layer.stats
        assert stats is not None, f"{case.name}: no statistics after the training forward"
        assert stats["count"] == printed["count"]
        for key, value in printed.items():
            if key not in ("line", "layer_index", "count"):
                assert_scalar(stats[key], value, f"{case.name}: printed {key}")
        assert layer.stats_line().replace("-nan", "nan") == printed["line"].replace("-nan", "nan")


@pytest.mark.parametrize("name", loss_case_names())
def test_golden2_loss_compat(name):
    run_and_compare(Case(golden_root(WAVE), name), compat=True)


@pytest.mark.parametrize("name", loss_case_names())
def test_golden2_loss_default(name):
    run_and_compare(Case(golden_root(WAVE), name), compat=False)
