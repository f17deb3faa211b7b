"""[softmax] tree=FILE (hierarchical softmax) and darknet_py.tree, on a small tree written here."""
import numpy as np
import pytest

from darknet_py import CfgError, build_network
from darknet_py.cfg import parse_cfg
from darknet_py.tree import (SECRET_NUM, hierarchy_predictions, hierarchy_probability, hierarchy_top_prediction,
                             parse_tree)
from gradcheck import build64, check_gradients, max_relative_error, numeric_gradient

TREE = """animal -1
plant -1
dog 0
cat 0
bird 0
tree 1
flower 1
poodle 2
terrier 2
"""
GROUPS = [(0, 2), (2, 3), (5, 2), (7, 2)]     # (offset, size): roots, animal's, plant's, dog's children


@pytest.fixture
def tree_file(tmp_path):
    path = tmp_path / "small.tree"
    path.write_text(TREE)
    return path


def cfg(tree_file, extra=""):
    return f"[net]\nbatch=2\ninputs=9\n\n[softmax]\ntree={tree_file}\n{extra}\n"


def test_parse_tree_groups_like_darknets_read_tree():
    t = parse_tree(TREE)
    assert t.n == 9 and t.groups == 4
    assert list(zip(t.group_offset, t.group_size)) == GROUPS
    assert list(t.child) == [1, 2, 3, -1, -1, -1, -1, -1, -1]
    assert list(t.leaf) == [0, 0, 0, 1, 1, 1, 1, 1, 1]
    assert list(t.group) == [0, 0, 1, 1, 1, 2, 2, 3, 3]


def test_forward_is_one_softmax_per_group(tree_file):
    net = build64(cfg(tree_file, "temperature=2"))
    x = np.random.default_rng(0).normal(size=(2, 9))
    y = net.forward(x)
    for offset, size in GROUPS:
        z = np.exp(x[:, offset:offset + size] / 2)
        np.testing.assert_allclose(y[:, offset:offset + size], z / z.sum(axis=1, keepdims=True), rtol=1e-12)
    assert net.hierarchy is net.layers[0].tree


def test_gradient_of_an_injected_delta(tree_file):
    check_gradients(cfg(tree_file), train=False)


def poodle_truth():
    """What Darknet's loader makes of the label 'poodle': the label, its ancestors, SECRET_NUM in
    the groups without a label (plant's children)."""
    t = np.zeros(9)
    t[[7, 2, 0]] = 1
    t[5:7] = SECRET_NUM
    return np.stack([t, t])


def test_training_delta_masks_unlabelled_groups_and_is_the_gradient(tree_file):
    net = build64(cfg(tree_file))
    layer = net.layers[0]
    x = np.random.default_rng(1).normal(size=(2, 9))
    truth = poodle_truth()

    def cost():
        net.forward(x, train=True, truth=truth)
        return layer.cost
    cost()
    assert not layer.delta.reshape(2, 9)[:, 5:7].any()
    dx = net.backward().ravel().copy()
    numeric = -numeric_gradient(cost, x.reshape(-1), np.arange(18))
    assert max_relative_error(dx, numeric) < 1e-6
    net.compat = True          # Darknet's CPU code: no mask, the SECRET_NUM truths give huge deltas
    net.forward(x, train=True, truth=truth)
    assert (layer.delta.reshape(2, 9)[:, 5:7] < -1000).all()


def test_hierarchy_predictions_and_top_prediction():
    t = parse_tree(TREE)
    conditional = np.array([0.7, 0.3, 0.6, 0.3, 0.1, 0.5, 0.5, 0.9, 0.1])
    absolute = hierarchy_predictions(conditional.copy(), t)
    assert absolute[7] == pytest.approx(0.9 * 0.6 * 0.7)
    assert absolute[7] == pytest.approx(hierarchy_probability(conditional, t, 7))
    leaves = hierarchy_predictions(conditional.copy(), t, only_leaves=True)
    assert not leaves[[0, 1, 2]].any() and leaves[3] == pytest.approx(0.3 * 0.7)
    assert hierarchy_top_prediction(conditional, t, 0.3) == 7          # animal, dog, poodle: 0.378 > .3
    assert hierarchy_top_prediction(conditional, t, 0.4) == 2          # stops at dog (0.42)
    assert hierarchy_top_prediction(conditional, t, 0.8) == 0          # the root group's best


def test_tree_errors_name_the_cfg_line(tmp_path, tree_file):
    with pytest.raises(CfgError, match=r"s.cfg:6 \[softmax\]: tree file nope.tree not found"):
        build_network(parse_cfg(cfg("nope.tree"), "s.cfg"))
    text = f"[net]\nbatch=1\ninputs=8\n\n[softmax]\ntree={tree_file}\n"
    with pytest.raises(CfgError, match="the tree has 9 classes but the layer has 8 inputs"):
        build_network(parse_cfg(text, "s.cfg"))
    bad = tmp_path / "bad.tree"
    bad.write_text("a -1\nb 5\n")
    with pytest.raises(CfgError, match="bad.tree:2: .*parent 5"):
        build_network(parse_cfg(cfg(bad), "s.cfg"))


def test_tree_path_relative_to_the_folder_above_the_cfg(tmp_path):
    """Darknet's cfgs say tree=data/9k.tree from the checkout's root, one level above cfg/."""
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "t.tree").write_text(TREE)
    (tmp_path / "cfg").mkdir()
    path = tmp_path / "cfg" / "net.cfg"
    path.write_text(cfg("data/t.tree"))
    from darknet_py import load_network
    assert load_network(path).layers[0].tree.n == 9


def test_group_softmax_kernel_with_a_spatial_stride():
    """The layout a [region] head with a tree has: (items, base planes + classes, spatial)."""
    from darknet_py.kernels import tree as tk
    t = parse_tree(TREE)
    items, base_planes, spatial = 3, 2, 4
    x = np.random.default_rng(5).normal(size=(items, base_planes + 9, spatial))
    y = np.zeros_like(x)
    tk.group_softmax_forward(x.ravel(), y.reshape(-1), t.group_offset, t.group_size, items, x[0].size, spatial,
                             base_planes * spatial, 1.0)
    assert not y[:, :base_planes].any()
    for offset, size in GROUPS:
        z = np.exp(x[:, base_planes + offset:base_planes + offset + size])
        np.testing.assert_allclose(y[:, base_planes + offset:base_planes + offset + size],
                                   z / z.sum(axis=1, keepdims=True), rtol=1e-12)
