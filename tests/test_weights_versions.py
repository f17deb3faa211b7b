"""Weights file versions: 0.2.x (64-bit seen) and 0.1.x (32-bit seen) read and written back byte for
byte; a network without a loaded file writes its flavour's version (pjreddie 0.2.0, AlexeyAB 0.2.5);
the fork's save rules under compat="alexeyab" (seen in whole batches, dontsave ignored)."""
import struct

import numpy as np
import pytest

import darknet_py
from darknet_py.cfg import parse_cfg
from darknet_py.network import build_network
from gradcheck import NET

CFG = NET.format(batch=2, c=2, h=4, w=4) + """
[convolutional]
filters=3
size=3
pad=1
batch_normalize=1
activation=leaky

[convolutional]
filters=2
size=1
{extra}
"""


def build(compat=False, extra=""):
    return build_network(parse_cfg(CFG.format(extra=extra), "t.cfg"), "t.cfg", compat=compat)


def header(path):
    data = path.read_bytes()
    major, minor, revision = struct.unpack_from("<iii", data)
    seen = struct.unpack_from("<Q" if major * 10 + minor >= 2 else "<i", data, 12)[0]
    return major, minor, revision, seen


def floats(net):
    return np.concatenate([a.ravel() for l in net.layers for a in l.weight_arrays()]).astype("<f4").tobytes()


@pytest.mark.parametrize("compat,version", [(False, (0, 2, 0)), ("pjreddie", (0, 2, 0)), ("alexeyab", (0, 2, 5))])
def test_fresh_network_writes_its_flavours_version(tmp_path, compat, version):
    net = build(compat)
    net.save_weights(tmp_path / "w.weights")
    assert header(tmp_path / "w.weights") == (*version, 0)
    assert (tmp_path / "w.weights").stat().st_size == 20 + len(floats(net))


@pytest.mark.parametrize("version", [(0, 1, 0), (0, 2, 0), (0, 2, 5), (1, 0, 3)])
@pytest.mark.parametrize("compat", [False, "alexeyab"])
def test_any_version_read_is_written_back_byte_identical(tmp_path, version, compat):
    net = build(compat)
    net.layers[0].weights[:] = np.arange(net.layers[0].weights.size)
    seen = 12                                              # whole batches: the fork keeps it as it is
    head = (struct.pack("<iiiQ", *version, seen) if version[0] * 10 + version[1] >= 2
            else struct.pack("<iiii", *version, seen))
    src = tmp_path / "in.weights"
    src.write_bytes(head + floats(net))
    other = build(compat)
    other.load_weights(src)
    assert other.seen == seen
    other.save_weights(tmp_path / "out.weights")
    assert (tmp_path / "out.weights").read_bytes() == src.read_bytes()


def test_a_32bit_seen_that_outgrows_its_field_is_written_in_the_flavours_version(tmp_path):
    net = build()
    src = tmp_path / "in.weights"
    src.write_bytes(struct.pack("<iiii", 0, 1, 0, 4) + floats(net))
    net.load_weights(src)
    net.seen = 2**31
    net.save_weights(tmp_path / "out.weights")
    assert header(tmp_path / "out.weights") == (0, 2, 0, 2**31)


def test_fork_writes_seen_in_whole_batches(tmp_path):
    net = build("alexeyab")                     # batch 2, subdivisions 1
    net.seen = 5
    net.save_weights(tmp_path / "a.weights")
    assert header(tmp_path / "a.weights")[3] == 4
    net = build("pjreddie")
    net.seen = 5
    net.save_weights(tmp_path / "p.weights")
    assert header(tmp_path / "p.weights")[3] == 5


def test_fork_ignores_dontsave_pjreddie_honours_it(tmp_path):
    fork, original = build("alexeyab", "dontsave=1"), build("pjreddie", "dontsave=1")
    fork.save_weights(tmp_path / "a.weights")
    original.save_weights(tmp_path / "p.weights")
    last = sum(a.size for a in fork.layers[1].weight_arrays())
    assert (tmp_path / "a.weights").stat().st_size - (tmp_path / "p.weights").stat().st_size == 4 * last


def test_load_network_accepts_the_forks_file(tmp_path):
    net = build("alexeyab")
    net.save_weights(tmp_path / "a.weights")
    (tmp_path / "t.cfg").write_text(CFG.format(extra=""))
    again = darknet_py.load_network(tmp_path / "t.cfg", tmp_path / "a.weights")   # any mode reads 0.2.5
    assert again.weights_version == (0, 2, 5)
