"""The CLI as a user runs it: a subprocess per verb, on the files in cfg/."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
L2NORM = str(REPO / "cfg" / "l2norm.cfg")


def cli(*args, cwd=None):
    env = dict(os.environ, DARKNET_PY_NO_PLUGINS="1")
    return subprocess.run([sys.executable, "-m", "darknet_py", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=env)


def test_console_script_is_installed():
    res = subprocess.run(["darknet-py", "--help"], capture_output=True, text=True)
    assert res.returncode == 0 and "summary" in res.stdout and "forward" in res.stdout


def test_forward_saves_every_layer(tmp_path):
    out = tmp_path / "out.npz"
    res = cli("forward", L2NORM, "--output", out)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("output (1, 8, 5, 5)")       # batch 1 unless --batch, as Darknet's test verbs
    with np.load(out) as z:
        y = z["layer_000"]
    assert y.shape == (1, 8, 5, 5)
    np.testing.assert_allclose((y.astype(np.float64) ** 2).sum(axis=1), 1.0, rtol=1e-5)


def test_forward_is_seeded_and_takes_an_input(tmp_path):
    x = np.random.default_rng(5).normal(size=(2, 8, 5, 5)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    assert cli("forward", L2NORM, "--batch", 2, "--input", tmp_path / "x.npy", "--output", a).returncode == 0
    assert cli("forward", L2NORM, "--batch", 2, "--input", tmp_path / "x.npy", "--output", b).returncode == 0
    with np.load(a) as za, np.load(b) as zb:
        np.testing.assert_array_equal(za["layer_000"], zb["layer_000"])
        np.testing.assert_allclose(za["layer_000"], x / np.linalg.norm(x, axis=1, keepdims=True), rtol=1e-5)


def test_backward_saves_input_gradient(tmp_path):
    d = np.random.default_rng(1).normal(size=(2, 8, 5, 5)).astype(np.float32)
    np.save(tmp_path / "d.npy", d)
    res = cli("backward", L2NORM, "--delta", tmp_path / "d.npy", "--output", tmp_path / "g.npz", "--compat")
    assert res.returncode == 0, res.stderr
    with np.load(tmp_path / "g.npz") as z:
        np.testing.assert_array_equal(z["input_grad"], d)     # compat: Darknet's pass-through


def test_summary_formats():
    res = cli("summary", L2NORM)
    assert res.returncode == 0, res.stderr
    assert "l2norm" in res.stdout and "5 x 5 x 8 ->" in res.stdout and "total: 1 layers" in res.stdout
    data = json.loads(cli("summary", L2NORM, "--format", "json").stdout)
    assert data["layers"][0]["type"] == "l2norm" and data["totals"]["layers"] == 1
    assert yaml.safe_load(cli("summary", L2NORM, "--format", "yaml").stdout)["layers"][0]["output"] == "5 x 5 x 8"


def test_layers_lists_builtin_types():
    res = cli("layers")
    assert res.returncode == 0
    assert "[l2norm]" in res.stdout and "eps" in res.stdout
    data = json.loads(cli("layers", "--format", "json").stdout)
    assert {"type": "l2norm"}.items() <= next(d for d in data if d["type"] == "l2norm").items()


def test_cfg_error_is_one_line_with_place(tmp_path):
    bad = tmp_path / "bad.cfg"
    bad.write_text("[net]\nbatch=1\nwidth=2\nheight=2\nchannels=3\n\n[l2norm]\neps=abc\n")
    res = cli("forward", bad)
    assert res.returncode == 2
    assert res.stderr.strip().splitlines() == [f"darknet-py: error: {bad}:8 [l2norm]: eps=abc is not a number"]
    assert "Traceback" not in res.stderr


def test_missing_files_are_user_errors(tmp_path):
    for args in (("summary", tmp_path / "none.cfg"),
                 ("forward", L2NORM, "--input", tmp_path / "none.npy"),
                 ("forward", L2NORM, "--weights", tmp_path / "none.weights")):
        res = cli(*args)
        assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1, res.stderr


def test_wrong_input_shape_is_a_user_error(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((2, 3, 5, 5), np.float32))
    res = cli("forward", L2NORM, "--input", tmp_path / "x.npy")
    assert res.returncode == 2 and "expected (1, 8, 5, 5)" in res.stderr


def test_strict_turns_warnings_into_errors(tmp_path):
    cfg = tmp_path / "w.cfg"
    cfg.write_text("[net]\nbatch=1\nwidth=2\nheight=2\nchannels=3\n[l2norm]\nfoo=1\n")
    relaxed = cli("summary", cfg)
    assert relaxed.returncode == 0 and f"{cfg}:7: warning: [l2norm] unused field 'foo=1'" in relaxed.stderr
    strict = cli("--strict", "summary", cfg)
    assert strict.returncode == 2 and "unused field 'foo=1'" in strict.stderr


def test_batch_override_and_memory_limit():
    res = cli("summary", L2NORM, "--batch", "3", "--format", "json")
    assert json.loads(res.stdout)["totals"]["batch"] == 3
    res = cli("forward", L2NORM, "--max-memory", "0.001")
    assert res.returncode == 2 and "memory limit" in res.stderr
    res = cli("summary", L2NORM, "--max-memory", "0.001")      # allocates nothing: reports, does not refuse
    assert res.returncode == 0 and "over the memory limit of 1.0 KiB" in res.stdout


def test_first_run_says_it_compiles_and_second_run_loads_the_cache(tmp_path):
    env = dict(os.environ, DARKNET_PY_NO_PLUGINS="1", NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    run = lambda: subprocess.run([sys.executable, "-m", "darknet_py", "forward", L2NORM], capture_output=True,
                                 text=True, env=env)
    first, second = run(), run()
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert "compiling kernels for this machine (first run only" in first.stderr
    assert "compiling" not in second.stderr
    assert list((tmp_path / "cache").rglob("*.nbi")), "kernels were not cached on disk"
