"""Every class of bad input (issue #5) gives a DarknetError that says what and where; one test per row
of the README's table "What happens on bad input"."""
import os
import re
import struct
import warnings
from pathlib import Path

import numpy as np
import pytest

from darknet_py import CfgError, CfgWarning, DarknetError, WeightsError, build_network, load_network
from darknet_py.cfg import parse_cfg, read_cfg
from darknet_py.errors import NumericsError

REPO = Path(__file__).resolve().parents[1]
NET = "[net]\nbatch=2\nwidth=4\nheight=4\nchannels=3\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"


def build(text, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CfgWarning)
        return build_network(parse_cfg(text, "t.cfg"), "t.cfg", **kw)


def cfg_error(text, line=None, section=None, match=None):
    """Build ``text``; assert a CfgError (file t.cfg) at ``line`` / ``section`` whose text matches."""
    with pytest.raises(CfgError) as info:
        build(text, max_memory=2**26)
    e = info.value
    assert e.path == "t.cfg", str(e)
    if line is not None:
        assert e.line == line, str(e)
    if section is not None:
        assert e.section == section, str(e)
    if match is not None:
        assert re.search(match, str(e)), str(e)
    return e


# ------------------------------------------------------------------ cfg files that are not cfgs
@pytest.mark.parametrize("content,match", [
    (b"", "empty cfg"),
    (b"# only a comment\n\n; another\n", "empty cfg"),
    (b"\x00\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00", "not a text file"),   # a .weights file
    (PNG, "not a text file"),
    (JPEG, "not a text file|not a UTF-8"),
    (b"[net]\nwidth=\xff\n", "not a UTF-8"),
])
def test_cfg_file_that_is_not_a_cfg(tmp_path, content, match):
    path = tmp_path / "bad.cfg"
    path.write_bytes(content)
    with pytest.raises(CfgError, match=match) as info:
        load_network(path)
    assert info.value.path == str(path)


def test_cfg_path_that_is_not_a_readable_file(tmp_path):
    with pytest.raises(CfgError, match="No such file"):
        read_cfg(tmp_path / "missing.cfg")
    with pytest.raises(CfgError, match="Is a directory|not a regular file"):
        read_cfg(tmp_path)
    fifo = tmp_path / "fifo.cfg"
    os.mkfifo(fifo)
    fd = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)    # a writer exists, so opening does not block
    try:
        with pytest.raises(CfgError, match="not a regular file"):
            read_cfg(fifo)                           # would otherwise wait forever for EOF
    finally:
        os.close(fd)


def test_cfg_file_too_large_is_refused_without_reading_it(tmp_path):
    path = tmp_path / "huge.cfg"
    with open(path, "wb") as f:
        f.truncate(64 * 2**20)                       # sparse: cheap to make
    with pytest.raises(CfgError, match="too large for a cfg"):
        read_cfg(path)


# ------------------------------------------------------------------ cfg structure
@pytest.mark.parametrize("text,line,match", [
    ("[net]\nwidth=4\n[l2norm\n", 3, "malformed section header"),
    ("width=4\n[net]\n", 1, "before any"),
    ("[net]\nwidth 4\n", 2, "expected key=value"),
    ("[l2norm]\n", 1, "first section must be"),
    ("[net]\nwidth=4\nheight=4\nchannels=3\n", 1, "no layers"),
    ("[net]\nheight=4\n[l2norm]\n", 1, "no input size"),
])
def test_cfg_structure_errors_point_at_their_line(text, line, match):
    cfg_error(text, line=line, match=match)


def test_unknown_section_type_lists_the_known_ones():
    e = cfg_error(NET + "\n[convolutionnal]\nfilters=2\n", line=7, section="convolutionnal")
    assert "known types:" in e.message and "l2norm" in e.message


def test_line_numbers_count_only_real_line_breaks():
    """A form feed or vertical tab inside a line must not shift the line numbers of later errors."""
    cfg_error(NET + "# page\x0cbreak\x0bhere\n[l2norm]\neps=abc\n", line=8, match="eps=abc is not a number")


def test_duplicate_and_unused_keys_warn_with_their_line():
    with pytest.warns(CfgWarning) as record:
        build_network(parse_cfg(NET + "[l2norm]\neps=1e-6\neps=2\nfilterz=3\n", "t.cfg"), "t.cfg")
    messages = [(w.lineno, str(w.message)) for w in record]
    assert any(line == 8 and "duplicate key 'eps'" in m for line, m in messages), messages
    assert any(line == 9 and "unused field 'filterz=3'" in m for line, m in messages), messages


# ------------------------------------------------------------------ values
@pytest.mark.parametrize("value,match", [
    ("abc", "is not an integer"),
    ("3.5", "is not an integer"),
    ("0x10", "is not an integer"),
    ("\u0663", "is not an integer"),                 # an Arabic-Indic 3: int() would accept it
    ("\uff13", "is not an integer"),                 # a full-width 3
    ("2147483648", "does not fit a 32-bit integer"),
    ("1" * 5000, "does not fit a 32-bit integer"),   # int() itself refuses > 4300 digits
    ("0", "must be >= 1"),
    ("-2", "must be >= 1"),
    ("", "is not an integer"),
])
def test_bad_integer_values(value, match):
    cfg_error(f"[net]\nbatch={value}\nwidth=4\nheight=4\nchannels=3\n[l2norm]\n", line=2, section="net",
              match=match)


@pytest.mark.parametrize("value,match", [
    ("1e999", "not a finite number"), ("nan", "is not a number"), ("inf", "is not a number"),
    ("1,5", "is not a number"), ("-0.1", "must be >= 0"),
])
def test_bad_float_values(value, match):
    cfg_error(NET + f"[l2norm]\neps={value}\n", line=7, section="l2norm", match=match)


def test_bad_choice_lists_the_valid_ones():
    cfg_error(NET + "policy=linear\n[l2norm]\n", line=6, match="not one of: constant, step")


def test_negative_power_is_refused_not_a_crash_at_update():
    cfg_error(NET + "burn_in=10\npower=-1\n[l2norm]\n", line=7, match=r"power=-1(\.0)? must be >= 0")


def test_learning_rate_policies_never_raise():
    net = build(NET + "policy=exp\ngamma=10\n[l2norm]\n")
    net.seen = 10**6                                   # 10**1000000 overflows a float
    assert np.isinf(net.current_rate())
    net = build(NET + "policy=sig\ngamma=100\nstep=1\n[l2norm]\n")
    net.seen = 10**6
    assert net.current_rate() == 0.0


@pytest.mark.parametrize("body,line,section,match", [
    ("[maxpool]\nsize=1\n[route]\nlayers=1\n", 9, "route", "not before this layer"),
    ("[maxpool]\nsize=1\n[route]\nlayers=-5\n", 9, "route", "before layer 0"),
    ("[maxpool]\nsize=1\n[route]\nlayers=5\n", 9, "route", None),
    ("[maxpool]\nsize=1\n[shortcut]\nfrom=3\n", 9, "shortcut", "earlier layer"),
    ("[maxpool]\nsize=1\n[shortcut]\nfrom=-90\n", 9, "shortcut", "earlier layer"),
])
def test_route_and_shortcut_indexes_out_of_range_or_forward(body, line, section, match):
    cfg_error(NET + body, line=line, section=section, match=match)


@pytest.mark.parametrize("body,section,match", [
    ("[convolutional]\nfilters=2\nsize=9\n", "convolutional", "does not fit"),
    ("[maxpool]\nsize=1\nstride=1\n[maxpool]\nsize=2\nstride=2\n[route]\nlayers=-1,-2\n", "route", "spatial"),
    ("[crop]\ncrop_height=100\ncrop_width=100\n", "crop", None),
    ("[reorg]\nstride=3\n", "reorg", "divisible"),
    ("[softmax]\ngroups=7\n", "softmax", "divide"),
])
def test_shapes_that_do_not_fit(body, section, match):
    cfg_error(NET + body, section=section, match=match)


# ------------------------------------------------------------------ arrays given to forward/backward
@pytest.fixture(scope="module")
def net():
    return build(NET + "[maxpool]\nsize=1\nstride=1\n[l2norm]\n")


@pytest.mark.parametrize("x,match", [
    (np.zeros((2, 3, 4, 5), np.float32), r"shape \(2, 3, 4, 5\), expected \(2, 3, 4, 4\) or \(2, 48\)"),
    (np.zeros((1, 3, 4, 4), np.float32), r"expected \(2, 3, 4, 4\)"),
    (np.zeros(96, np.float32), "shape"),
    ([[0.0] * 48] * 2, "must be a numpy array, got list"),
    (np.zeros((2, 3, 4, 4), np.int64), "dtype int64, expected a floating-point array"),
    (np.zeros((2, 3, 4, 4), np.uint8), "dtype uint8"),
    (np.zeros((2, 3, 4, 4), bool), "dtype bool"),
    (np.zeros((2, 3, 4, 4), np.complex64), "dtype complex64"),
    (np.zeros((2, 3, 4, 4), object), "dtype object"),
    (np.zeros((2, 3, 4, 4), "U1"), "dtype <U1"),
])
def test_forward_refuses_wrong_arrays(net, x, match):
    with pytest.raises(DarknetError, match=match):
        net.forward(x)


@pytest.mark.parametrize("delta,match", [
    (np.zeros((2, 3, 4, 5)), "shape"),
    (np.zeros((3, 32)), "batch"),                    # right size, batch not first
    (np.zeros((2, 3, 4, 4), np.int32), "dtype int32"),
    (np.zeros((2, 3, 4, 4), np.complex128), "dtype complex128"),
    ("delta", "numpy array"),
])
def test_backward_refuses_wrong_deltas(net, delta, match):
    net.forward(np.ones((2, 3, 4, 4), np.float32), train=True)
    with pytest.raises(DarknetError, match=match):
        net.backward(delta)


def test_forward_refuses_wrong_truth(net):
    with pytest.raises(DarknetError, match="truth"):
        net.forward(np.ones((2, 3, 4, 4), np.float32), truth=np.ones(5, np.float32))


def test_arrays_in_all_accepted_layouts_run(net):
    x = np.random.default_rng(0).normal(size=(2, 3, 4, 4))
    y = net.forward(x).copy()                        # float64 is cast
    np.testing.assert_array_equal(net.forward(x.reshape(2, 48).astype(np.float32)), y)
    net.forward(x, train=True)
    net.backward(np.ones(96))                        # flat deltas are accepted (gradchecks use them)
    net.backward(np.ones((2, 48)))


# ------------------------------------------------------------------ numerics check
def test_numerics_check_is_off_by_default():
    net = build(NET + "[l2norm]\n")
    assert net.check_numerics is False
    y = net.forward(np.full((2, 3, 4, 4), np.nan, np.float32))
    assert np.isnan(y).all()                        # NaN flows through silently, as in Darknet


def test_numerics_check_refuses_nonfinite_input():
    net = build(NET + "[l2norm]\n", check_numerics=True)
    x = np.ones((2, 3, 4, 4), np.float32)
    x[1, 2, 3, 3] = np.inf
    with pytest.raises(NumericsError, match=r"the input contains 1 NaN/Inf values \(first: inf at flat index 95\)"):
        net.forward(x)


def test_numerics_check_names_the_first_layer_whose_output_is_nonfinite():
    # compat [l2norm] divides 0 by 0 on an all-zero vector, as Darknet does: layer 1 makes the NaN
    net = build(NET + "[maxpool]\nsize=1\nstride=1\n[l2norm]\n[maxpool]\nsize=1\nstride=1\n",
                compat=True, check_numerics=True)
    with pytest.raises(NumericsError, match=r"output of layer 1 \[l2norm\] \(t\.cfg:9\) \(forward\)"):
        net.forward(np.zeros((2, 3, 4, 4), np.float32))


def test_numerics_check_names_the_first_layer_whose_delta_is_nonfinite():
    net = build(NET + "[maxpool]\nsize=1\nstride=1\n[l2norm]\n", check_numerics=True)
    net.forward(np.ones((2, 3, 4, 4), np.float32), train=True)
    delta = np.zeros((2, 3, 4, 4))
    delta[0, 0, 0, 0] = np.nan
    with pytest.raises(NumericsError, match=r"delta of layer 1 \[l2norm\] \(t\.cfg:9\)"):
        net.backward(delta)
    # a layer whose backward creates the NaN: layer 1's saved norms made 0, so its backward divides by 0
    net.forward(np.ones((2, 3, 4, 4), np.float32), train=True)
    net.layers[1].norms[:] = 0.0
    with pytest.raises(NumericsError, match=r"delta of layer 0 \[maxpool\] \(t\.cfg:6\)"):
        net.backward(np.ones((2, 3, 4, 4)))


def test_numerics_check_can_be_switched_on_a_built_network(net):
    net.check_numerics = True
    try:
        with pytest.raises(NumericsError):
            net.forward(np.full((2, 3, 4, 4), np.nan, np.float32))
    finally:
        net.check_numerics = False


def test_load_network_takes_check_numerics():
    net = load_network(REPO / "cfg" / "l2norm.cfg", check_numerics=True)
    assert net.check_numerics is True


# ------------------------------------------------------------------ weights files that are not weights
@pytest.fixture(scope="module")
def wnet():
    return build(NET + "[convolutional]\nfilters=2\nsize=3\npad=1\nbatch_normalize=1\n[connected]\noutput=3\n")


def params(net):
    return [a.copy() for l in net.layers for a in l.weight_arrays()], net.seen


def assert_unchanged(before, net):
    after = params(net)
    assert after[1] == before[1] and all(np.array_equal(a, b) for a, b in zip(after[0], before[0]))


@pytest.mark.parametrize("make,match", [
    (lambda good: b"", "too short for a weights header: 0 bytes"),
    (lambda good: (REPO / "cfg" / "l2norm.cfg").read_bytes(), "not a Darknet weights file.*text file, maybe a .cfg"),
    (lambda good: PNG + bytes(200), "not a Darknet weights file"),
    (lambda good: JPEG + bytes(200), "not a Darknet weights file"),
    (lambda good: struct.pack("<iii", 1000, 2, 0) + good[12:], "header version 1000.2.0"),
    (lambda good: struct.pack("<iii", -1, 2, 0) + good[12:], "header version -1.2.0"),
    (lambda good: struct.pack("<iii", 0, 2, 0) + struct.pack("<Q", 2**63) + good[20:], "seen=.* does not fit"),
    (lambda good: struct.pack("<iiii", 0, 1, 0, -5) + good[20:], "'seen' does not fit"),
    (lambda good: good[:-7], "too short by 7 bytes: the network needs \\d+ bytes, the file has \\d+; layer 1 "
                             "\\[connected\\] is the first that does not fit"),
    (lambda good: good + b"\0" * 3, "too long by 3 bytes"),
])
def test_weights_that_do_not_fit_change_nothing(wnet, tmp_path, make, match):
    good = tmp_path / "good.weights"
    wnet.save_weights(good)
    bad = tmp_path / "bad.weights"
    bad.write_bytes(make(good.read_bytes()))
    for layer in wnet.layers:
        for a in layer.weight_arrays():
            a[:] = 0.25
    wnet.seen = 7
    before = params(wnet)
    with pytest.raises(WeightsError, match=match) as info:
        wnet.load_weights(bad)
    assert info.value.path == str(bad)
    assert_unchanged(before, wnet)


def test_old_weights_with_a_32_bit_seen_load(wnet, tmp_path):
    floats = np.arange(sum(a.size for l in wnet.layers for a in l.weight_arrays()), dtype="<f4")
    path = tmp_path / "old.weights"
    path.write_bytes(struct.pack("<iiii", 0, 1, 0, 42) + floats.tobytes())
    wnet.load_weights(path)
    assert wnet.seen == 42
    np.testing.assert_array_equal(np.concatenate([a.ravel() for l in wnet.layers for a in l.weight_arrays()]),
                                  floats)


def test_weights_path_that_is_not_a_readable_file(wnet, tmp_path):
    before = params(wnet)
    with pytest.raises(WeightsError, match="No such file"):
        wnet.load_weights(tmp_path / "missing.weights")
    with pytest.raises(WeightsError, match="Is a directory|not a regular file"):
        wnet.load_weights(tmp_path)
    with pytest.raises(WeightsError, match="not a regular file"):
        wnet.load_weights("/dev/zero")               # reading it would never end
    assert_unchanged(before, wnet)


# ------------------------------------------------------------------ no pickle, no unsafe YAML
SOURCES = sorted((REPO / "darknet_py").rglob("*.py")) + sorted((REPO / "tools").rglob("*.py")) + \
    sorted((REPO / "tests").rglob("*.py"))


def test_no_pickle_and_only_safe_yaml():
    offenders = []
    for path in SOURCES:
        if path.name == Path(__file__).name:
            continue
        text = path.read_text(errors="replace")
        for n, line in enumerate(text.splitlines(), 1):
            code = line.split("#")[0]
            if re.search(r"\bimport (c?pickle|dill|marshal|shelve)\b|\bpickle\.|allow_pickle\s*=\s*True"
                         r"|\byaml\.(load|unsafe_load|full_load)\(|Loader\s*=\s*yaml\.(Unsafe|Full)?Loader", code):
                offenders.append(f"{path.relative_to(REPO)}:{n}: {line.strip()}")
    assert not offenders, "pickle or unsafe YAML:\n" + "\n".join(offenders)


def test_package_np_load_calls_say_allow_pickle_false():
    offenders = []
    for path in sorted((REPO / "darknet_py").rglob("*.py")):
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r"\bnp\.load\(", line) and "allow_pickle=False" not in line:
                offenders.append(f"{path.relative_to(REPO)}:{n}: {line.strip()}")
    assert not offenders, "np.load without allow_pickle=False:\n" + "\n".join(offenders)
