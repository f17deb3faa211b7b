"""[detection] (YOLOv1): gradients of the forward, the training delta as minus the gradient of its cost,
Darknet's targets on a hand-made case, and the cfg checks."""
import numpy as np
import pytest

from darknet_py import CfgError, build_network
from darknet_py.cfg import parse_cfg
from gradcheck import build64, check_gradients, max_relative_error, numeric_gradient

SIDE, NUM, CLASSES = 2, 2, 3
INPUTS = SIDE * SIDE * ((1 + 4) * NUM + CLASSES)


def cfg(extra=""):
    return (f"[net]\nbatch=2\ninputs={INPUTS}\n\n[detection]\nside={SIDE}\nnum={NUM}\nclasses={CLASSES}\n"
            f"coords=4\n{extra}\n")


def truth_for(rng, batch):
    """Two of the four cells of each item hold an object: is_obj, one-hot class, box x, y, w, h."""
    t = np.zeros((batch, SIDE * SIDE, 1 + CLASSES + 4))
    for b in range(batch):
        for cell in (0, 3):
            t[b, cell, 0] = 1
            t[b, cell, 1 + rng.integers(CLASSES)] = 1
            t[b, cell, 1 + CLASSES:] = [rng.uniform(0.2, 0.8), rng.uniform(0.2, 0.8), rng.uniform(0.2, 0.6),
                                        rng.uniform(0.2, 0.6)]
    return t.reshape(batch, -1)


@pytest.mark.parametrize("softmax", [0, 1])
def test_gradient_of_the_forward_for_an_injected_delta(softmax):
    check_gradients(cfg(f"softmax={softmax}"), train=False)


@pytest.mark.parametrize("extra", ["softmax=0\nsqrt=1\nrescore=0", "softmax=1\nsqrt=0\nrescore=0",
                                   "softmax=1\nsqrt=1\nforced=1\nobject_scale=5\nnoobject_scale=.5\ncoord_scale=2"])
def test_training_delta_is_minus_the_gradient_of_the_cost(extra):
    """The responsible box is piecewise constant. (rescore=1 makes the objectness target the box's iou,
    which the delta holds constant like Darknet: a semi-gradient, checked by the hand-made case.)"""
    net = build64(cfg(extra))
    rng = np.random.default_rng(0)
    x = rng.uniform(0.1, 0.9, (2, INPUTS))
    truth = truth_for(rng, 2)
    layer = net.layers[0]

    def cost():
        net.forward(x, train=True, truth=truth)
        return layer.cost
    cost()
    dx = net.backward().ravel().copy()
    xf = x.reshape(-1)
    idx = np.arange(xf.size)
    numeric = -numeric_gradient(cost, xf, idx)
    if "rescore=1" in extra:
        objectness = slice(SIDE * SIDE * CLASSES, SIDE * SIDE * (CLASSES + NUM))
        keep = np.ones(INPUTS, bool)
        keep[objectness] = False            # iou-dependent targets: checked by the darknet-case test
        keep = np.tile(keep, 2)
        dx, numeric = dx[keep], numeric[keep]
    assert max_relative_error(dx, numeric) < 1e-6


def test_darknet_targets_on_a_hand_made_case():
    net = build_network(parse_cfg(cfg("sqrt=1\nrescore=1\nobject_scale=5\nnoobject_scale=.5\ncoord_scale=3\n"
                                      "class_scale=2"), "<d>"), batch=1, dtype=np.float64, max_memory=None)
    layer = net.layers[0]
    L = SIDE * SIDE
    x = np.zeros(INPUTS)
    probs, obj, boxes = x[:L * CLASSES], x[L * CLASSES:L * (CLASSES + NUM)], x[L * (CLASSES + NUM):]
    probs[:] = 0.25
    obj[:] = 0.4
    boxes.reshape(L, NUM, 4)[1] = [[0.5, 0.5, 0.5, 0.5], [0.5, 0.5, 0.1, 0.1]]   # cell 1: box 0 fits better
    truth = np.zeros((L, 1 + CLASSES + 4))
    truth[1] = [1, 0, 1, 0, 0.5, 0.5, 0.25, 0.25]           # in cell 1, class 1, w = h = 0.25 = 0.5^2
    net.forward(x[None], train=True, truth=truth.reshape(1, -1))
    d = layer.delta
    dprobs, dobj, dboxes = d[:L * CLASSES], d[L * CLASSES:L * (CLASSES + NUM)], d[L * (CLASSES + NUM):]
    np.testing.assert_allclose(dprobs.reshape(L, CLASSES)[1], 2 * (np.array([0, 1, 0]) - 0.25))
    assert not dprobs.reshape(L, CLASSES)[[0, 2, 3]].any()
    expected_obj = np.full((L, NUM), 0.5 * (0 - 0.4))
    expected_obj[1, 0] = 5 * (1.0 - 0.4)                    # box 0 is responsible, iou 1: rescore target 1
    np.testing.assert_allclose(dobj.reshape(L, NUM), expected_obj)
    expected_box = np.zeros((L, NUM, 4))
    expected_box[1, 0] = 3 * (np.array([0.5, 0.5, 0.5, 0.5]) - [0.5, 0.5, 0.5, 0.5])
    np.testing.assert_allclose(dboxes.reshape(L, NUM, 4), expected_box, atol=1e-12)
    assert layer.avg_iou == pytest.approx(1.0)
    net.compat = True
    net.forward(x[None], train=True, truth=truth.reshape(1, -1))
    assert layer.cost == pytest.approx(float(np.sum(layer.delta ** 2)))     # Darknet's cost


def test_input_size_must_match_side_num_classes():
    text = f"[net]\nbatch=1\ninputs={INPUTS + 1}\n\n[detection]\nside={SIDE}\nnum={NUM}\nclasses={CLASSES}\ncoords=4\n"
    with pytest.raises(CfgError, match="need 52"):
        build_network(parse_cfg(text, "d.cfg"))
    with pytest.raises(CfgError, match="coords=5"):
        build_network(parse_cfg(cfg().replace("coords=4", "coords=5"), "d.cfg"))
