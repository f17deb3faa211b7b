"""Darknet's train_network over 12 iterations (golden2 train_trajectory_*): Network.train_batch with
compat=True gives Darknet's loss, rate, seen and weights after every iteration, and the momentum
buffers at the end."""
import json
import warnings

import numpy as np
import pytest

from darknet_py import CfgWarning, DarknetError, load_network
from golden import PARAM_KEYS, assert_close, golden_root, read_weight_floats

POLICIES = ["steps", "poly", "exp", "sigmoid"]


def trajectory_case(policy):
    case = golden_root("golden2") / f"train_trajectory_{policy}"
    if not case.is_dir():
        pytest.skip(f"{case.name} is kept aside (not in this copy of golden2)")
    return case


def load(case, compat=True):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CfgWarning)
        return load_network(case / "net.cfg", case / "weights.weights", compat=compat)


@pytest.mark.parametrize("policy", POLICIES)
def test_trajectory_matches_darknet(policy, tmp_path):
    case = trajectory_case(policy)
    info = json.loads((case / "case.json").read_text())
    X, y = np.load(case / "X.npy"), np.load(case / "y.npy")
    net = load(case)
    images = net.batch * net.subdivisions
    for step in info["trajectory"]:
        k = step["iteration"]
        rows = slice(images * (k - 1), images * k)
        loss = net.train_batch(X[rows], y[rows])
        where = f"{case.name} iteration {k}"
        assert loss == pytest.approx(step["loss"], rel=1e-4, abs=1e-5), where
        assert net.current_rate() == pytest.approx(step["rate"], rel=1e-6, abs=0), where
        assert (net.seen, net.t, net.current_batch()) == (step["seen"], step["t"], step["current_batch"]), where
        assert net.cost == pytest.approx(step["net_cost_last_subdivision"], rel=1e-4, abs=1e-5), where
        net.save_weights(tmp_path / "ours.weights")
        seen, ours = read_weight_floats(tmp_path / "ours.weights")
        gseen, golden = read_weight_floats(case / f"weights_iter_{k:02d}.weights")
        assert seen == gseen, where
        assert_close(ours, golden, f"{where}: weights")
    buffers = dict(np.load(case / "update_buffers_final.npz"))
    for layer in net.layers:
        for name, _, grad in layer.parameters():
            assert_close(grad, buffers[f"{PARAM_KEYS[name]}_{layer.index:03d}"],
                         f"{case.name}: layer {layer.index} {name} momentum buffer")


def test_one_iteration_of_several_sub_batches_updates_once():
    case = trajectory_case("steps")
    net = load(case, compat=False)
    X, y = np.load(case / "X.npy"), np.load(case / "y.npy")
    net.train_batch(X[:8], y[:8])                  # 2 iterations' worth in one call: 4 passes, 2 updates
    assert (net.seen, net.t) == (8, 2)


@pytest.mark.parametrize("rows,match", [(3, "multiple of the sub-batch size 2"), (0, "got 0 images")])
def test_a_partial_sub_batch_is_refused(rows, match):
    net = load(trajectory_case("steps"), compat=False)
    with pytest.raises(DarknetError, match=match):
        net.train_batch(np.zeros((rows, 3, 8, 8), np.float32), np.zeros((rows, 4), np.float32))
    with pytest.raises(DarknetError, match=r"truth has shape \(4, 3\)"):
        net.train_batch(np.zeros((4, 3, 8, 8), np.float32), np.zeros((4, 3), np.float32))
