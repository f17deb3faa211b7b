"""[convolutional] share_index (AlexeyAB's resnet152_trident.cfg): a layer computing with an earlier
layer's weights. The shared parameters are listed, saved and updated once, at their owner; the gradient
w.r.t. them is the sum over both uses (float64 finite differences); the fork's double update is kept
only under compat="alexeyab"."""
import numpy as np
import pytest

from darknet_py import CfgError, build_network
from darknet_py.cfg import parse_cfg
from gradcheck import NET, build64, check_gradients

SHARED = NET.format(batch=2, c=3, h=5, w=5) + """
[convolutional]
filters=3
size=3
pad=1
batch_normalize={bn}
activation=leaky

[convolutional]
filters=3
size=3
pad=1
batch_normalize={bn}
activation=tanh
share_index={index}
"""


@pytest.mark.parametrize("bn", [0, 1])
@pytest.mark.parametrize("index", [-1, 0])
def test_the_shared_weights_get_the_gradient_of_both_uses(bn, index):
    check_gradients(SHARED.format(bn=bn, index=index))


def test_shared_parameters_belong_to_their_owner(tmp_path):
    net = build64(SHARED.format(bn=1, index=-1))
    owner, sharer = net.layers
    assert sharer.weights is owner.weights and sharer.rolling_mean is owner.rolling_mean
    assert sharer.parameters() == [] and sharer.weight_arrays() == []
    net.save_weights(tmp_path / "w")
    assert (tmp_path / "w").stat().st_size == 20 + 4 * (4 * 3 + 3 * 3 * 3 * 3)     # one layer's arrays


@pytest.mark.parametrize("flavour, steps", [(None, 1), ("alexeyab", 2)])
def test_update_once_and_the_forks_update_per_layer(flavour, steps):
    text = SHARED.format(bn=0, index=-1)        # the flavour must be known while building (build64 sets it after)
    net = build_network(parse_cfg(text, "<share>"), "<share>", dtype=np.float64, compat=flavour, max_memory=None)
    owner, sharer = net.layers
    before = owner.biases.copy()
    owner.bias_updates[:] = 1.0
    net.config.momentum, net.config.decay = 1.0, 0.0      # momentum 1: a second step repeats the first
    net.update()
    rate = float(net.current_rate()) / net.global_batch
    np.testing.assert_allclose(owner.biases - before, steps * rate, rtol=1e-6)


def test_share_index_must_name_a_matching_convolution():
    text = SHARED.format(bn=1, index=-1).replace("filters=3\nsize=3\npad=1\nbatch_normalize=1\nactivation=tanh",
                                                 "filters=5\nsize=3\npad=1\nbatch_normalize=1\nactivation=tanh")
    with pytest.raises(CfgError, match="share_index=-1: layer 0 has 81 weights"):
        build64(text)
    with pytest.raises(CfgError, match="must point at an earlier"):
        build64(SHARED.format(bn=1, index=5))
