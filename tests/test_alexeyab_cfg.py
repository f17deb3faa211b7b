"""Cfg keys of both Darknets' cfg folders: the ones with no effect here warn once, saying why (one
table, cfg.NO_EFFECT_KEYS); --strict errors say file and line."""
import subprocess
import sys
import warnings

import pytest

from darknet_py.cfg import NO_EFFECT_KEYS, parse_cfg
from darknet_py.errors import CfgWarning
from darknet_py.network import build_network

BASE = """[net]
batch=1
width=4
height=4
channels=1
{key}

[convolutional]
filters=1
size=1
"""


@pytest.mark.parametrize("key", ["mosaic=1", "letter_box=1", "ema_alpha=0.9998", "optimized_memory=1",
                                 "cutmix=1", "track=1"])
def test_no_effect_keys_warn_with_the_reason(key):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        build_network(parse_cfg(BASE.format(key=key), "n.cfg"), "n.cfg")
    name = key.split("=")[0]
    messages = [str(w.message) for w in caught if issubclass(w.category, CfgWarning)]
    assert messages == [f"[net] '{key}' has no effect here: {NO_EFFECT_KEYS['net'][name]}"]
    assert caught[0].filename == "n.cfg" and caught[0].lineno == 6


def test_strict_errors_name_file_and_line(tmp_path):
    cfg = tmp_path / "s.cfg"
    cfg.write_text(BASE.format(key="mosaic=1"))
    res = subprocess.run([sys.executable, "-m", "darknet_py", "--strict", "summary", str(cfg)],
                         capture_output=True, text=True)
    assert res.returncode == 2
    assert f"error: {cfg}:6: [net] 'mosaic=1' has no effect here" in res.stderr


def test_conv_bin_output_has_no_effect_and_says_so():
    text = BASE.format(key="").replace("size=1\n", "size=1\nxnor=1\nbin_output=1\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        build_network(parse_cfg(text, "n.cfg"), "n.cfg")
    assert [str(w.message).split(":")[0] for w in caught] == ["[convolutional] 'bin_output=1' has no effect here"]
