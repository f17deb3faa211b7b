"""Darknet .weights files: byte-exact round trips and size checks that say by how many bytes."""
import struct

import numpy as np
import pytest

import darknet_py
from darknet_py import WeightsError
from darknet_py.weights import read_header

from darknet_py.cfg import parse_cfg
from darknet_py.layers.base import Layer
from darknet_py.network import build_network
from darknet_py.registry import register_layer, unregister_layer

from conftest import CFG_DIR


class Params(Layer):
    """A minimal layer with parameters (two arrays), so files have a payload to cut or extend."""

    def __init__(self, batch, in_shape):
        super().__init__(batch, in_shape, in_shape)
        self.biases = self.alloc(3)        # (3,)
        self.weights = self.alloc(5)       # (5,)

    @classmethod
    def from_options(cls, opts, in_shape, net):
        return cls(net.batch, in_shape)

    def forward(self, net):
        self.output[:] = net.input

    def weight_arrays(self):
        return [self.biases, self.weights]


@pytest.fixture(scope="module")
def params_net():
    register_layer("weights_test_params")(Params)
    try:
        yield build_network(parse_cfg(
            "[net]\nbatch=1\nwidth=2\nheight=2\nchannels=3\n[weights_test_params]\n[weights_test_params]\n"))
    finally:
        unregister_layer("weights_test_params")


def test_header_seen_is_64_bit_for_version_0_2(tmp_path):
    net = darknet_py.load_network(CFG_DIR / "l2norm.cfg")
    net.seen = 2**40 + 7
    net.save_weights(tmp_path / "a.weights")
    data = (tmp_path / "a.weights").read_bytes()
    assert struct.unpack("<iiiQ", data[:20]) == (0, 2, 0, 2**40 + 7)
    net.seen = 0
    net.load_weights(tmp_path / "a.weights")
    assert net.seen == 2**40 + 7


def test_old_header_with_32_bit_seen_loads(tmp_path):
    net = darknet_py.load_network(CFG_DIR / "l2norm.cfg")
    (tmp_path / "old.weights").write_bytes(struct.pack("<iiii", 0, 1, 0, 12))
    net.load_weights(tmp_path / "old.weights")
    assert net.seen == 12
    assert read_header(struct.pack("<iiii", 0, 1, 0, 12), "x")[4] == 16


@pytest.mark.parametrize("extra,word", [(-4, "too short by 4 bytes"), (8, "too long by 8 bytes")])
def test_size_mismatch_says_by_how_many_bytes(tmp_path, params_net, extra, word):
    net = params_net
    net.save_weights(tmp_path / "a.weights")
    data = (tmp_path / "a.weights").read_bytes()
    data = data + b"\0" * extra if extra > 0 else data[:extra]
    (tmp_path / "b.weights").write_bytes(data)
    with pytest.raises(WeightsError, match=word) as err:
        net.load_weights(tmp_path / "b.weights")
    assert str(tmp_path / "b.weights") in str(err.value)
    if extra < 0:
        assert "layer 1 [weights_test_params] is the first that does not fit" in str(err.value)


def test_save_load_save_is_byte_identical(tmp_path, params_net):
    rng = np.random.default_rng(0)
    for layer in params_net.layers:
        layer.biases[:] = rng.normal(size=3)
        layer.weights[:] = rng.normal(size=5)
    params_net.seen = 64
    params_net.save_weights(tmp_path / "a.weights")
    assert (tmp_path / "a.weights").stat().st_size == 20 + 4 * 16
    before = [a.copy() for l in params_net.layers for a in l.weight_arrays()]
    for layer in params_net.layers:
        layer.biases[:] = 0
        layer.weights[:] = 0
    params_net.load_weights(tmp_path / "a.weights")
    for a, b in zip(before, [a for l in params_net.layers for a in l.weight_arrays()]):
        np.testing.assert_array_equal(a, b)
    params_net.save_weights(tmp_path / "b.weights")
    assert (tmp_path / "a.weights").read_bytes() == (tmp_path / "b.weights").read_bytes()


def test_failed_load_changes_nothing(tmp_path, params_net):
    params_net.save_weights(tmp_path / "good.weights")
    before = [a.copy() for l in params_net.layers for a in l.weight_arrays()]
    data = bytearray((tmp_path / "good.weights").read_bytes())
    data[20:] = np.full(16, 7.0, "<f4").tobytes()
    (tmp_path / "long.weights").write_bytes(bytes(data) + b"1234")
    with pytest.raises(WeightsError):
        params_net.load_weights(tmp_path / "long.weights")
    for a, b in zip(before, [a for l in params_net.layers for a in l.weight_arrays()]):
        np.testing.assert_array_equal(a, b)


def test_cfg_given_as_weights_is_refused():
    net = darknet_py.load_network(CFG_DIR / "l2norm.cfg")
    with pytest.raises(WeightsError, match="not a Darknet weights file"):
        net.load_weights(CFG_DIR / "l2norm.cfg")
