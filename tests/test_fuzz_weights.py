"""Fuzz the .weights reader (issue #5): truncated, extended and bit-flipped files.

A damaged file either loads (bit flips in the float payload, or in header fields that still describe a
file of the right size) or raises WeightsError; after a WeightsError every parameter and ``seen`` is
exactly what it was before (loading stages everything, then commits).
"""
import struct
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from darknet_py import WeightsError, build_network
from darknet_py.cfg import parse_cfg
from darknet_py.errors import CfgWarning
from darknet_py.weights import expected_size

CFG = """
[net]
batch=1
width=6
height=6
channels=3

[convolutional]
batch_normalize=1
filters=4
size=3
stride=1
pad=1
activation=leaky

[convolutional]
filters=2
size=1
activation=linear

[connected]
output=5
activation=linear
"""
HEADER = 20
SETTINGS = settings(max_examples=300, deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck))


def make_net(check_numerics=False):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CfgWarning)
        return build_network(parse_cfg(CFG, "fuzz.cfg"), "fuzz.cfg", max_memory=2**24,
                             check_numerics=check_numerics)


def snapshot(net):
    """Bit patterns of every array the weights file holds, plus seen (NaN-safe equality)."""
    arrays = [a.view(np.uint8).copy() for l in net.layers for a in l.weight_arrays()]
    return arrays, net.seen


def same(a, b):
    return a[1] == b[1] and len(a[0]) == len(b[0]) and all(np.array_equal(x, y) for x, y in zip(a[0], b[0]))


@pytest.fixture(scope="module")
def good_file(tmp_path_factory):
    """A valid weights file of random parameters, and the network those came from."""
    net = make_net()
    rng = np.random.default_rng(7)
    for layer in net.layers:
        for a in layer.weight_arrays():
            a[:] = rng.uniform(0.5, 1.5, a.size)
    net.seen = 12345
    path = tmp_path_factory.mktemp("weights") / "good.weights"
    net.save_weights(path)
    assert path.stat().st_size == expected_size(net)
    return path.read_bytes()


def load_and_check(data, tmp_path_factory, check_numerics=False):
    """Load ``data`` into a fresh network with different parameters; returns 'loaded' or 'refused'."""
    net = make_net(check_numerics)
    for layer in net.layers:
        for a in layer.weight_arrays():
            a[:] = -3.0                                  # anything the file does not hold
    net.seen = 99
    before = snapshot(net)
    path = tmp_path_factory.getbasetemp() / "damaged.weights"
    path.write_bytes(data)
    try:
        net.load_weights(path)
    except WeightsError as e:
        assert same(snapshot(net), before), f"a failed load changed the network: {e}"
        assert str(path) in str(e), f"the error does not name the file: {e}"
        return "refused", e
    # loaded: every value must be the file's own
    floats = np.frombuffer(data, "<f4", offset=len(data) - (expected_size(net) - HEADER))
    got = np.concatenate([a.astype("<f4").ravel() for l in net.layers for a in l.weight_arrays()])
    assert np.array_equal(got.view(np.uint32), floats.view(np.uint32))
    return "loaded", None


def test_the_good_file_loads(good_file, tmp_path_factory):
    assert load_and_check(good_file, tmp_path_factory)[0] == "loaded"


@SETTINGS
@given(cut=st.integers(0, 10**6))
def test_truncated_files_are_refused_unchanged(good_file, tmp_path_factory, cut):
    cut %= len(good_file)
    outcome, e = load_and_check(good_file[:cut], tmp_path_factory)
    assert outcome == "refused"
    if cut >= HEADER:                     # the message says by how much and where it stopped fitting
        assert f"too short by {len(good_file) - cut} bytes" in e.message
        assert f"needs {len(good_file)} bytes, the file has {cut}" in e.message
        assert "is the first that does not fit" in e.message


@SETTINGS
@given(extra=st.binary(min_size=1, max_size=64))
def test_extended_files_are_refused_unchanged(good_file, tmp_path_factory, extra):
    outcome, e = load_and_check(good_file + extra, tmp_path_factory)
    assert outcome == "refused"
    assert f"too long by {len(extra)} bytes" in e.message and str(len(good_file)) in e.message


@SETTINGS
@given(position=st.integers(0, 10**6), bit=st.integers(0, 7), check_numerics=st.booleans())
def test_bit_flips_load_or_are_refused_unchanged(good_file, tmp_path_factory, position, bit, check_numerics):
    data = bytearray(good_file)
    position %= len(data)
    data[position] ^= 1 << bit
    outcome, _ = load_and_check(bytes(data), tmp_path_factory, check_numerics)
    if position >= HEADER and not check_numerics:
        assert outcome == "loaded", "a flip in the float payload must load"
    # header flips (version, seen) may load or be refused; load_and_check verified either way


def test_bit_flip_to_nan_refused_with_check_numerics(good_file, tmp_path_factory):
    data = bytearray(good_file)
    data[HEADER:HEADER + 4] = struct.pack("<f", float("nan"))
    assert load_and_check(bytes(data), tmp_path_factory, check_numerics=False)[0] == "loaded"
    outcome, e = load_and_check(bytes(data), tmp_path_factory, check_numerics=True)
    assert outcome == "refused" and "NaN/Inf" in e.message and "layer 0" in e.message
