"""[region] tree=FILE (yolo9000's head): forward, injected gradient, map=, box decoding; a small tree
written here (the one of tests/test_softmax_tree.py)."""
import numpy as np
import pytest

from darknet_py import CfgError, DarknetError, build_network
from darknet_py.boxes import region_candidates
from darknet_py.cfg import parse_cfg
from darknet_py.tree import hierarchy_predictions, hierarchy_top_prediction, parse_tree
from gradcheck import build64, check_gradients
from test_softmax_tree import GROUPS, TREE

NUM, COORDS, CLASSES, H, W = 2, 4, 9, 3, 2
ENTRIES = COORDS + 1 + CLASSES


def cfg(tree, extra=""):
    return (f"[net]\nbatch=2\nwidth={W}\nheight={H}\nchannels={NUM * ENTRIES}\n\n[region]\nanchors=1,1,2,2\n"
            f"classes={CLASSES}\ncoords={COORDS}\nnum={NUM}\nsoftmax=1\ntree={tree}\n{extra}\n")


@pytest.fixture
def tree_file(tmp_path):
    path = tmp_path / "small.tree"
    path.write_text(TREE)
    return path


def sig(x):
    return 1 / (1 + np.exp(-x))


def test_forward_is_one_softmax_per_group_per_anchor_and_cell(tree_file):
    net = build64(cfg(tree_file))
    x = np.random.default_rng(0).normal(size=(2, NUM * ENTRIES, H, W))
    y = net.forward(x).reshape(2, NUM, ENTRIES, H, W)
    xr = x.reshape(2, NUM, ENTRIES, H, W)
    np.testing.assert_allclose(y[:, :, :2], sig(xr[:, :, :2]), rtol=1e-12)
    np.testing.assert_array_equal(y[:, :, 2:4], xr[:, :, 2:4])
    np.testing.assert_allclose(y[:, :, 4], sig(xr[:, :, 4]), rtol=1e-12)
    for offset, size in GROUPS:
        z = np.exp(xr[:, :, 5 + offset:5 + offset + size])
        np.testing.assert_allclose(y[:, :, 5 + offset:5 + offset + size], z / z.sum(axis=2, keepdims=True),
                                   rtol=1e-12)


def test_gradient_of_an_injected_delta(tree_file):
    check_gradients(cfg(tree_file), train=False)


def test_the_forks_flattened_rows_get_the_tree_softmax(tree_file):
    net = build_network(parse_cfg(cfg(tree_file), "<f>"), compat="alexeyab", dtype=np.float64, max_memory=None)
    x = np.random.default_rng(1).normal(size=(2, NUM * ENTRIES, H, W))
    rows = net.forward(x).reshape(2, H * W * NUM, ENTRIES)      # the fork's (cell*anchor, entries) rows
    flat = x.reshape(2, NUM * ENTRIES, H * W).transpose(0, 2, 1).reshape(2, H * W * NUM, ENTRIES)
    for offset, size in GROUPS:
        z = np.exp(flat[:, :, 5 + offset:5 + offset + size])
        np.testing.assert_allclose(rows[:, :, 5 + offset:5 + offset + size], z / z.sum(axis=2, keepdims=True),
                                   rtol=1e-12)


def test_tree_must_match_classes_and_map_is_kept(tree_file, tmp_path):
    with pytest.raises(CfgError, match=r"r.cfg:13 \[region\]: the tree file has 9 classes, the layer classes=8"):
        build_network(parse_cfg(cfg(tree_file).replace("classes=9", "classes=8").replace(
            f"channels={NUM * ENTRIES}", f"channels={NUM * (ENTRIES - 1)}"), "r.cfg"), max_memory=None)
    (tmp_path / "small.map").write_text("7\n3\n")
    net = build_network(parse_cfg(cfg(tree_file, f"map={tmp_path / 'small.map'}"), "r.cfg"), max_memory=None)
    assert net.layers[0].class_map == [7, 3]
    with pytest.raises(CfgError, match=r"r.cfg:14 \[region\]: map file nope.map not found"):
        build_network(parse_cfg(cfg(tree_file, "map=nope.map"), "r.cfg"), max_memory=None)


def test_training_loss_of_a_tree_head_is_a_clear_error(tree_file):
    net = build64(cfg(tree_file))
    x = np.zeros((2, NUM * ENTRIES, H, W))
    with pytest.raises(DarknetError, match="tree= head .* not implemented"):
        net.forward(x, train=True, truth=np.zeros((2, 30 * 5)))


@pytest.mark.parametrize("hier_thresh", [0.1, 0.5])
def test_decoding_keeps_the_top_prediction_as_darknet_does(tree_file, hier_thresh):
    """get_region_detections with a tree: per (anchor, cell) Darknet's hierarchy_predictions on the
    strided output (stride h*w), then one class, hierarchy_top_prediction's, with the objectness."""
    tree = parse_tree(TREE)
    net = build_network(parse_cfg(cfg(tree_file), "<d>"), max_memory=None)
    x = np.random.default_rng(3).normal(size=(2, NUM * ENTRIES, H, W)).astype(np.float32)
    out = net.forward(x)[0].ravel().copy()
    thresh = 0.3
    _, objectness, prob = region_candidates(out, W, H, NUM, COORDS, CLASSES, [1, 1, 2, 2], thresh, tree=tree,
                                            hier_thresh=hier_thresh)
    np.testing.assert_array_equal(net.layers[0].output[:out.size], out)     # the layer's output untouched
    darknet = out.copy()                     # Darknet's in-place, per-cell, strided computation
    cells = H * W
    expected = np.zeros((NUM * cells, CLASSES), np.float32)
    for a in range(NUM):
        for cell in range(cells):
            start = a * ENTRIES * cells + (COORDS + 1) * cells + cell
            hierarchy_predictions(darknet[start:], tree, stride=cells)
            j = hierarchy_top_prediction(darknet[start:], tree, hier_thresh, stride=cells)
            scale = out[a * ENTRIES * cells + COORDS * cells + cell]
            expected[a * cells + cell, j] = scale if scale > thresh else 0
    np.testing.assert_allclose(prob, expected, rtol=1e-6)
    assert np.count_nonzero(prob) == np.count_nonzero(objectness)
    assert len({int(np.argmax(row)) for row in prob if row.any()}) > 1      # not one class everywhere
