"""Fuzz the cfg parser and network builder (issue #5): bad input never crashes, hangs or over-allocates.

Three hypothesis tests, derandomized (the same cases on every CI run), about 2,100 cases in all:
* random cfgs: [net] plus sections drawn from ``registered_layers()`` AT RUN TIME (layers added by
  anyone are covered without editing this file), with their own option names and hostile values;
* the shipped cfg/*.cfg files, shrunk to a small input, then mutated (lines deleted, duplicated,
  swapped, numbers made huge/negative/zero/garbage, headers changed, text truncated);
* byte-level damage: binary junk, NUL bytes, invalid UTF-8, a BOM, truncation, through read_cfg.
Each case must build (and then forward + backward run) or raise a DarknetError; see fuzz_helpers.
Environment: DARKNET_PY_FUZZ_SCALE=0.1 runs a tenth of the cases (quick local runs).
"""
import os
import re
import string
import warnings
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import darknet_py
from darknet_py.cfg import read_cfg
from darknet_py.errors import CfgWarning, DarknetError
from fuzz_helpers import CASES, describe_failure, report, run_cfg_bytes

CFG_DIR = Path(__file__).resolve().parents[1] / "cfg"
SCALE = float(os.environ.get("DARKNET_PY_FUZZ_SCALE", "1"))
N_RANDOM, N_MUTATED, N_BYTES = (max(1, int(n * SCALE)) for n in (900, 900, 300))


def fuzz_settings(n):
    return settings(max_examples=n, deadline=None, derandomize=True, database=None, print_blob=True,
                    suppress_health_check=list(HealthCheck))


# ------------------------------------------------------------------ what the generators draw from
LAYERS = darknet_py.registered_layers()                     # {type: class}, read when the tests run
TYPE_NAMES = sorted({n for cls in LAYERS.values() for n in (cls.type,) + tuple(cls.aliases)})
OPTION_KEYS = sorted({o.name for cls in LAYERS.values() for o in cls.OPTIONS})
COMMON_KEYS = ["dontsave", "dontload", "stopbackward", "learning_rate"]
DARKNET_KEYS = ["layers", "from", "activation", "filters", "size", "stride", "pad", "output", "groups",
                "mask", "anchors", "classes", "num", "jitter", "truth_thresh", "ignore_thresh", "random",
                "batch_normalize", "probability", "reverse", "flatten", "extra", "scale", "alpha", "beta",
                "temperature", "spatial", "tree", "crop_height", "crop_width", "n", "coords", "steps"]
NET_KEYS = ["batch", "subdivisions", "width", "height", "channels", "inputs", "time_steps", "learning_rate",
            "momentum", "decay", "policy", "steps", "scales", "burn_in", "power", "max_batches", "adam",
            "B1", "B2", "eps", "gamma", "step", "scale", "max_crop", "min_crop", "angle", "hue", "exposure"]
ACTIVATIONS = ["logistic", "loggy", "relu", "elu", "selu", "relie", "plse", "hardtan", "lhtan", "linear",
               "ramp", "leaky", "tanh", "stair", "mish", "swish", "LEAKY", "foo", ""]
HOSTILE_NUMBERS = ["0", "-1", "-2", "1", "2", "3", "-100", "100000", "2147483647", "2147483648", "-2147483648",
                   "99999999999999999999", "1" * 5000, "1e999", "-1e999", "1e-999", "0.0", "-0", "+3", "0x10",
                   "1.5", ".5", "5.", "1e3", "nan", "inf", "-inf", "abc", "", ",", "1,2", "--1", "1e", "٣",
                   "３", "1_000", " 7 ", "\t-3"]
LISTS = ["-1", "-2", "-1,-2", "0", "0,1", "-1,-3", "-1,61", "5", "-100", "1,", ",", "-1,,2", "1;2", "-1, -4",
         "0,0,0,0", "2147483648,-1"]


def value_for(key):
    """Values that make sense for ``key`` mixed with hostile ones (most cases should get far)."""
    if key == "activation":
        sensible = st.sampled_from(ACTIVATIONS)
    elif key in ("layers", "from", "mask", "steps", "scales", "anchors"):
        sensible = st.sampled_from(LISTS)
    elif key in ("probability", "alpha", "beta", "temperature", "scale", "eps", "kappa", "learning_rate",
                 "momentum", "decay", "jitter", "angle", "saturation", "exposure", "shift"):
        sensible = st.floats(-2.0, 4.0, allow_nan=False).map(lambda v: f"{v:.3g}")
    else:
        sensible = st.integers(-3, 9).map(str)
    garbage = st.text(alphabet=string.printable.replace("\n", "").replace("\r", ""), max_size=12)
    return st.one_of(sensible, sensible, sensible, st.sampled_from(HOSTILE_NUMBERS), garbage)


@st.composite
def net_section(draw):
    lines = ["[net]" if draw(st.booleans()) else "[network]"]
    lines.append(f"batch={draw(st.integers(1, 3))}")
    if draw(st.integers(0, 9)) == 0:
        lines.append(f"inputs={draw(st.integers(1, 64))}")
    else:
        for key, hi in (("width", 12), ("height", 12), ("channels", 6)):
            lines.append(f"{key}={draw(st.integers(1, hi))}")
    for key in draw(st.lists(st.sampled_from(NET_KEYS), max_size=3)):
        lines.append(f"{key}={draw(value_for(key))}")
    return lines


@st.composite
def layer_section(draw):
    stype = draw(st.sampled_from(TYPE_NAMES) if draw(st.integers(0, 19)) else
                 st.text(alphabet=string.ascii_letters + "_-", min_size=1, max_size=10))
    cls = LAYERS.get(stype) or next((c for c in LAYERS.values() if stype in c.aliases), None)
    own = [o.name for o in cls.OPTIONS] if cls is not None else []
    pool = own * 3 + COMMON_KEYS + DARKNET_KEYS + OPTION_KEYS
    keys = draw(st.lists(st.sampled_from(pool), max_size=5))
    if stype in ("route",) and draw(st.booleans()):
        keys = ["layers"] + keys
    lines = [f"[{stype}]"]
    lines.extend(f"{k}={draw(value_for(k))}" for k in keys)
    return lines


@st.composite
def random_cfg(draw):
    lines = draw(net_section())
    for _ in range(draw(st.integers(1, 5))):
        lines.append("")
        lines.extend(draw(layer_section()))
    return lines


def shipped_cfgs():
    return sorted(p for p in CFG_DIR.glob("*.cfg"))


def shrink(lines):
    """A shipped cfg made cheap to build: batch 1, no subdivisions, a 32x32 image, filters/8 where that
    keeps every equality (multiples of 8: route/shortcut sums stay equal; 255 before [yolo] stays)."""
    out, in_net = [], False
    for line in lines:
        bare = line.strip().replace(" ", "")
        if bare.startswith("["):
            in_net = bare in ("[net]", "[network]")
        key, _, value = bare.partition("=")
        if in_net and key in ("batch", "subdivisions", "width", "height"):
            continue
        if key in ("filters", "output") and value.isdigit() and int(value) >= 16 and int(value) % 8 == 0:
            line = f"{key}={int(value) // 8}"
        out.append(line)
        if in_net and bare in ("[net]", "[network]"):
            out.extend(["batch=1", "subdivisions=1", "width=32", "height=32"])
    return out


def anywhere(draw, n):
    """An index in range(n), spread evenly (hypothesis favours 0, which would always hit [net])."""
    return draw(st.integers(0, 2**20)) % n


@st.composite
def mutated(draw, lines):
    """Apply 1-4 random line-level mutations (the classic ways a cfg goes wrong)."""
    lines = list(lines)
    for _ in range(draw(st.integers(1, 4))):
        if not lines:
            break
        i = anywhere(draw, len(lines))
        op = draw(st.sampled_from(["delete", "duplicate", "swap", "number", "number", "number", "insert",
                                   "header", "truncate", "key"]))
        if op == "delete":
            del lines[i]
        elif op == "duplicate":
            lines.insert(i, lines[i])
        elif op == "swap":
            j = anywhere(draw, len(lines))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "number":
            numbered = [k for k, l in enumerate(lines) if re.search(r"-?\d", l)]
            if numbered:
                k = draw(st.sampled_from(numbered))
                lines[k] = re.sub(r"-?\d+(\.\d*)?", draw(st.sampled_from(HOSTILE_NUMBERS)).replace("\\", ""),
                                  lines[k], count=1)
        elif op == "insert":
            key = draw(st.sampled_from(DARKNET_KEYS + OPTION_KEYS + NET_KEYS + ["", "=", "[", "]"]))
            lines.insert(i, f"{key}={draw(value_for(key))}")
        elif op == "header":
            lines.insert(i, "[" + draw(st.sampled_from(TYPE_NAMES + ["net", "", "[x]", "yolo", "shortcut"])) + "]")
        elif op == "truncate":
            text = "\n".join(lines)
            cut = anywhere(draw, len(text) + 1)
            lines = text[:cut].split("\n")
        elif op == "key":                     # change the key of an option line
            if "=" in lines[i]:
                lines[i] = draw(st.sampled_from(DARKNET_KEYS + NET_KEYS)) + "=" + lines[i].partition("=")[2]
    return lines


def encode(lines, draw):
    newline = draw(st.sampled_from(["\n", "\n", "\r\n", "\r"]))
    return newline.join(lines).encode("utf-8")


def check(data, test_name):
    try:
        run_cfg_bytes(data, test_name)
    except BaseException as e:
        if isinstance(e, (KeyboardInterrupt, SystemExit)):
            raise
        raise AssertionError(f"{type(e).__name__}: {e}{describe_failure(data)}") from e


# ------------------------------------------------------------------ the tests
@fuzz_settings(N_RANDOM)
@given(st.data())
def test_random_cfgs_build_or_raise_darknet_error(data):
    lines = data.draw(random_cfg())
    if data.draw(st.integers(0, 2)) == 0:
        lines = data.draw(mutated(lines))
    check(encode(lines, data.draw), "random")


@fuzz_settings(N_MUTATED)
@given(st.data())
def test_mutated_shipped_cfgs_build_or_raise_darknet_error(data):
    files = shipped_cfgs()
    assert files, f"no cfg files in {CFG_DIR}"
    path = data.draw(st.sampled_from(files))
    lines = shrink(path.read_text().splitlines())
    check(encode(data.draw(mutated(lines)), data.draw), "mutated")


JUNK = [b"\x00", b"\xff\xfe", b"\xef\xbb\xbf", b"\x80", b"\xc3", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff\xe0",
        b"\x00\x00\x00\x00\x02\x00\x00\x00", b"\x1b[31m", b"\x0c", b"\x0b", b"\x85", "\u2028".encode()]


@fuzz_settings(N_BYTES)
@given(st.data())
def test_damaged_bytes_through_read_cfg(tmp_path_factory, data):
    files = shipped_cfgs()
    base = data.draw(st.sampled_from(files)).read_bytes() if data.draw(st.booleans()) else \
        encode(data.draw(random_cfg()), data.draw)
    raw = bytearray(base)
    for _ in range(data.draw(st.integers(1, 3))):
        op = data.draw(st.sampled_from(["junk", "random", "truncate", "flip"]))
        at = anywhere(data.draw, len(raw) + 1)
        if op == "junk":
            raw[at:at] = data.draw(st.sampled_from(JUNK))
        elif op == "random":
            raw[at:at] = data.draw(st.binary(max_size=32))
        elif op == "truncate":
            del raw[at:]
        elif op == "flip" and raw:
            k = min(at, len(raw) - 1)
            raw[k] ^= 1 << data.draw(st.integers(0, 7))
    raw = bytes(raw)
    path = tmp_path_factory.getbasetemp() / "damaged.cfg"
    path.write_bytes(raw)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CfgWarning)
            read_cfg(path)                   # the file path: NUL bytes, bad UTF-8, empty file
    except DarknetError:
        CASES["bytes"] += 1
        return
    check(raw, "bytes")


def test_zz_fuzz_summary(capsys):
    """Prints how many generated cases ran (CI log); at full scale they must be >= 2,000."""
    with capsys.disabled():
        total = report()
        if os.environ.get("DARKNET_PY_FUZZ_VERBOSE"):
            from fuzz_helpers import MESSAGES
            for (name, msg), n in MESSAGES.most_common(60):
                print(f"{n:5d} {name:8s} {msg}")
    ran_all = all(CASES[k] for k in ("random", "mutated", "bytes"))
    if ran_all and SCALE >= 1:
        assert total >= 2000, f"only {total} generated cases ran"
