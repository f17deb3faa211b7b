"""Every golden case of ../shared/golden against darknet_py, in compatibility and in default mode.

Compatibility mode must reproduce Darknet's CPU numbers, quirks included. Default mode must match
wherever Darknet is right; the parts listed in DIVERGENCES differ on purpose (README: "Where
darknet_py differs from Darknet") and are covered by the gradient checks instead.
"""
import numpy as np
import pytest

import darknet_py
from golden import PARAM_KEYS, Case, assert_close, case_names, golden_root, read_weight_floats

# case -> {part: reason}; parts: "forward" (both forwards), "backward" (deltas, gradients, update)
DIVERGENCES = {
    "l2norm": {"backward": "true gradient instead of Darknet's pass-through"},
    "conv_l2norm": {"backward": "true l2norm gradient instead of Darknet's pass-through"},
    "l2norm_zero_vector": {"forward": "epsilon: a zero vector gives 0, not NaN",
                           "backward": "true gradient instead of Darknet's pass-through"},
    "resblock_1x1_overwrite": {"backward": "1x1 conv backward accumulates into net.delta (Darknet overwrites)"},
    "normalization_lrn": {"forward": "centred LRN window (Darknet's running window always lacks x^2[size//2])",
                          "backward": "true LRN gradient instead of Darknet's approximation"},
    "softmax": {"backward": "a delta injected w.r.t. the probabilities gets the softmax Jacobian "
                            "(Darknet passes it through as if it were w.r.t. the logits)"},
    "normalization_lrn_nan": {"forward": "centred LRN window (Darknet's subtracts a channel it never added)",
                              "backward": "true LRN gradient instead of Darknet's approximation"},
}
for _act in ("elu", "hardtan", "leaky", "lhtan", "linear", "logistic", "ramp", "relie", "relu", "tanh"):
    DIVERGENCES[f"conv_act_{_act}_bn"] = {
        "backward": "batchnorm backward is the true gradient of its forward (Darknet's uses another epsilon "
                    "and the biased variance)"}
DIVERGENCES["conv_3x3_s2_bn_even"] = DIVERGENCES["conv_act_leaky_bn"]
DIVERGENCES["softmax_groups3"] = DIVERGENCES["softmax"]


def run_and_compare(case, compat):
    diverges = {} if compat else DIVERGENCES.get(case.name, {})
    net = darknet_py.load_network(case.path("net.cfg"), case.path("weights.weights"), compat=compat)
    x = case.load("input.npy")
    truth = case.load("truth.npy")
    if "forward" not in diverges:
        compare_outputs(net, net.forward(x, train=False, truth=truth), case.load("forward_infer.npz"), case, "infer")
    if not case.training:
        return
    net.forward(x, train=True, truth=truth)
    if "forward" not in diverges:
        compare_outputs(net, None, case.load("forward_train.npz"), case, "train")
    if "backward" in diverges:
        return
    input_grad = net.backward(case.load("delta_last.npy") if case.mode == "inject_delta_last" else None)
    compare_backward(net, input_grad, case)
    net.update()
    compare_update(net, case)


def compare_outputs(net, _, golden, case, mode):
    for layer in net.layers:
        assert_close(layer.output, golden[f"layer_{layer.index:03d}"],
                     f"{case.name} {mode} forward: layer {layer.index} [{layer.type}] output")


def compare_backward(net, input_grad, case):
    golden = case.load("backward.npz")
    assert_close(input_grad, golden["input_grad"], f"{case.name}: input gradient")
    for layer in net.layers:
        key = f"delta_{layer.index:03d}"
        if key in golden:
            assert_close(layer.delta, golden[key], f"{case.name}: layer {layer.index} [{layer.type}] delta")
        for name, _, grad in layer.parameters():
            key = f"{PARAM_KEYS[name]}_{layer.index:03d}"
            assert key in golden, f"{case.name}: no golden {key}"
            assert_close(grad, golden[key], f"{case.name}: layer {layer.index} [{layer.type}] {name} gradient")


def compare_update(net, case, tmp_name="after_update.weights"):
    import tempfile
    from pathlib import Path
    with tempfile.TemporaryDirectory() as tmp:
        ours = Path(tmp) / tmp_name
        net.save_weights(ours)
        seen, values = read_weight_floats(ours)
    gseen, gvalues = read_weight_floats(case.path("weights_after_update.weights"))
    assert seen == gseen, f"{case.name}: seen {seen} after update, golden {gseen}"
    assert_close(values, gvalues, f"{case.name}: weights after one update")
    buffers = case.load("update_buffers_after.npz") or {}
    for layer in net.layers:
        for name, _, grad in layer.parameters():
            key = f"{PARAM_KEYS[name]}_{layer.index:03d}"
            assert_close(grad, buffers[key], f"{case.name}: layer {layer.index} {name} momentum buffer")


@pytest.mark.parametrize("name", case_names())
def test_golden_compat(name):
    run_and_compare(Case(golden_root(), name), compat=True)


@pytest.mark.parametrize("name", case_names())
def test_golden_default(name):
    run_and_compare(Case(golden_root(), name), compat=False)


@pytest.mark.parametrize("name", case_names())
def test_weights_roundtrip_byte_identical(name, tmp_path):
    case = Case(golden_root(), name)
    net = darknet_py.load_network(case.path("net.cfg"), case.path("weights.weights"))
    net.save_weights(tmp_path / "again.weights")
    assert (tmp_path / "again.weights").read_bytes() == case.path("weights.weights").read_bytes()
