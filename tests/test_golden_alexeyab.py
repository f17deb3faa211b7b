"""Every case of ../shared/golden_alexeyab (AlexeyAB's fork, CPU build) against darknet_py with
compat="alexeyab": every layer's output, every delta and parameter gradient, one update step, and the
weights file (format 0.2.5) written back byte for byte."""
import pytest

import darknet_py
from golden import Case, case_names, golden_root
from test_golden import compare_backward, compare_outputs, compare_update

WAVE = "golden_alexeyab"


def run_case(case):
    net = darknet_py.load_network(case.path("net.cfg"), case.path("weights.weights"), compat="alexeyab")
    x = case.load("input.npy")
    compare_outputs(net, net.forward(x, train=False), case.load("forward_infer.npz"), case, "infer")
    if not case.training:
        return
    net.forward(x, train=True)
    compare_outputs(net, None, case.load("forward_train.npz"), case, "train")
    compare_backward(net, net.backward(case.load("delta_last.npy")), case)
    net.update()
    compare_update(net, case)


@pytest.mark.parametrize("name", case_names(WAVE))
def test_golden_alexeyab(name):
    run_case(Case(golden_root(WAVE), name))


@pytest.mark.parametrize("name", case_names(WAVE))
def test_weights_0_2_5_roundtrip_byte_identical(name, tmp_path):
    case = Case(golden_root(WAVE), name)
    net = darknet_py.load_network(case.path("net.cfg"), case.path("weights.weights"), compat="alexeyab")
    net.save_weights(tmp_path / "again.weights")
    assert (tmp_path / "again.weights").read_bytes() == case.path("weights.weights").read_bytes()
