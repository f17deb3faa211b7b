"""The cfg parser: Darknet's semantics, round trips and faults that land on the right line."""
import random
import string
import warnings

import pytest

from darknet_py import CfgError, CfgWarning
from darknet_py.cfg import Options, Section, parse_cfg, read_cfg, render_cfg

KEY_CHARS = string.ascii_letters + string.digits + "_"
VALUE_CHARS = string.ascii_letters + string.digits + "_.,-+"


def random_model(rng):
    """[(type, [(key, value)])] with [net] first, unique keys per section, no blanks in tokens."""
    model = []
    for i in range(rng.randint(1, 6)):
        stype = "net" if i == 0 else "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(1, 8)))
        keys = {"".join(rng.choice(KEY_CHARS) for _ in range(rng.randint(1, 10))) for _ in range(rng.randint(0, 6))}
        opts = [(k, "".join(rng.choice(VALUE_CHARS) for _ in range(rng.randint(0, 12)))) for k in sorted(keys)]
        rng.shuffle(opts)
        model.append((stype, opts))
    return model


def spaced(rng, token):
    """Insert random blanks/tabs anywhere in a token: Darknet strips every blank of a line."""
    out = []
    for ch in token:
        if rng.random() < 0.15:
            out.append(rng.choice([" ", "\t", "  "]))
        out.append(ch)
    return "".join(out)


def render_random(rng, model):
    """Text for the model with random spacing, blank lines, comments and line endings.

    Returns (text, lines) where lines[i] is the 1-based line of the i-th structural line."""
    lines, structural = [], []
    def emit(text, real=True):
        lines.append(text)
        if real:
            structural.append(len(lines))
    for stype, opts in model:
        for _ in range(rng.randint(0, 2)):
            emit(rng.choice(["", "   ", "# a comment", "; another = comment", "\t#x=1"]), real=False)
        emit(spaced(rng, f"[{stype}]") + rng.choice(["", "  # trailing comment"]))
        for k, v in opts:
            emit(spaced(rng, k) + spaced(rng, "=") + spaced(rng, v) + rng.choice(["", " # why", " ;note", "\t"]))
    eol = rng.choice(["\n", "\r\n"])
    return eol.join(lines) + rng.choice(["", eol]), structural


def as_model(sections):
    return [(s.type, s.items()) for s in sections]


@pytest.mark.parametrize("seed", range(200))
def test_render_parse_round_trip(seed):
    rng = random.Random(seed)
    model = random_model(rng)
    text, _ = render_random(rng, model)
    assert as_model(parse_cfg(text, "r.cfg")) == model
    assert as_model(parse_cfg(render_cfg(parse_cfg(text)))) == model


FAULTS = {
    "no equals sign": lambda rng: "filters16",
    "bad header": lambda rng: "[convolutional",
    "empty key": lambda rng: "=3",
    "nested bracket": lambda rng: "[con[v]",
}


@pytest.mark.parametrize("seed", range(100))
def test_injected_fault_names_its_line(seed):
    rng = random.Random(1000 + seed)
    model = random_model(rng)
    text, structural = render_random(rng, model)
    lines = text.splitlines()
    kind = rng.choice(sorted(FAULTS))
    where = rng.randint(structural[0] + 1, len(lines) + 1) if len(lines) > structural[0] else len(lines) + 1
    lines.insert(where - 1, FAULTS[kind](rng))
    with pytest.raises(CfgError) as err:
        parse_cfg("\n".join(lines), "f.cfg")
    assert err.value.line == where, f"{kind} inserted at line {where}: {err.value}"
    assert str(err.value).startswith(f"f.cfg:{where}")


def test_option_before_any_section_is_an_error():
    with pytest.raises(CfgError) as err:
        parse_cfg("# c\nbatch=1\n[net]\n", "x.cfg")
    assert err.value.line == 2


def test_first_section_must_be_net():
    with pytest.raises(CfgError, match=r"first section must be \[net\]"):
        parse_cfg("[conv]\nfilters=1\n")
    assert parse_cfg("[network]\nbatch=1\n")[0].type == "network"


def test_empty_file_is_an_error():
    with pytest.raises(CfgError, match="empty cfg"):
        parse_cfg("\n# only a comment\n\n")


def test_duplicate_key_keeps_first_and_warns_with_both_lines():
    with pytest.warns(CfgWarning, match=r"duplicate key 'batch' \(first at line 2\)") as rec:
        sections = parse_cfg("[net]\nbatch=64\nwidth=4\nbatch=1\n", "d.cfg")
    assert sections[0].options["batch"] == ("64", 2)
    assert rec[0].lineno == 4 and rec[0].filename == "d.cfg"


def test_crlf_and_inline_comments():
    s = parse_cfg("[net]\r\nbatch = 6 # six\r\n[conv]\r\nactivation=leaky ; why\r\n")
    assert s[0].items() == [("batch", "6")]
    assert s[1].items() == [("activation", "leaky")]


def test_blanks_inside_values_are_removed_like_darknet():
    s = parse_cfg("[net]\n[route]\nlayers = -1, 61\n")
    assert s[1].items() == [("layers", "-1,61")]


def test_binary_file_is_an_error(tmp_path):
    p = tmp_path / "x.cfg"
    p.write_bytes(b"\x00\x01\x02binary")
    with pytest.raises(CfgError, match="not a text file"):
        read_cfg(p)
    p.write_bytes(b"[net]\nbatch=1\n\xff\xfe\n")
    with pytest.raises(CfgError, match="not a UTF-8") as err:
        read_cfg(p)
    assert err.value.line == 3


def test_missing_file_is_an_error(tmp_path):
    with pytest.raises(CfgError, match="cannot read"):
        read_cfg(tmp_path / "nope.cfg")


def options(text):
    return Options(parse_cfg("[net]\n[s]\n" + text, "o.cfg")[1])


@pytest.mark.parametrize("value", ["abc", "1.5", "", "0x10", "1_0", "1e3"])
def test_int_values_parse_strictly(value):
    with pytest.raises(CfgError, match="is not an integer") as err:
        options(f"filters={value}\n").int("filters")
    assert err.value.line == 3 and err.value.section == "s"


@pytest.mark.parametrize("value,expected", [("3", 3), ("-2", -2), ("+7", 7)])
def test_int_values(value, expected):
    assert options(f"k={value}\n").int("k") == expected


@pytest.mark.parametrize("value,expected", [(".5", 0.5), ("1e-3", 1e-3), ("-2.", -2.0), ("3", 3.0)])
def test_float_values(value, expected):
    assert options(f"k={value}\n").float("k") == expected


@pytest.mark.parametrize("value", ["nan", "inf", "1.2.3", "abc", ""])
def test_float_values_parse_strictly(value):
    with pytest.raises(CfgError, match="is not a number"):
        options(f"k={value}\n").float("k")


def test_lists_and_ranges():
    o = options("layers=-1,61\nsteps=1,2,\nbad=1,,2\nn=0\n")
    assert o.int_list("layers") == [-1, 61]
    assert o.int_list("steps") == [1, 2]
    with pytest.raises(CfgError, match="comma-separated"):
        o.int_list("bad")
    with pytest.raises(CfgError, match="must be >= 1") as err:
        o.int("n", min=1)
    assert err.value.line == 6


def test_missing_required_key_points_at_header():
    with pytest.raises(CfgError, match="missing required option 'layers'") as err:
        options("").int_list("layers")
    assert err.value.line == 2


def test_unused_keys_are_reported_with_their_line():
    o = options("used=1\nunused=2\n")
    o.int("used")
    assert o.unused() == [("unused", 4)]
    with pytest.warns(CfgWarning, match="unused field 'unused=2'") as rec:
        o.warn_unused()
    assert rec[0].lineno == 4


def test_defaults_do_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert options("").int("filters", 1) == 1
        assert Section("s", 1).items() == []
