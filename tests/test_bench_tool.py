"""tools/bench.py runs end to end on a tiny cfg and writes the JSON it promises (no timing assertions)."""
import importlib.util
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "tools", "bench.py")


def _run(tmp_path, *extra):
    out = tmp_path / "bench.json"
    cmd = [sys.executable, BENCH, os.path.join(ROOT, "cfg", "l2norm.cfg"), "--runs", "1", "--warmup", "0",
           "--no-gemm", "--no-peak", "--threads", "1", "--json", str(out), *extra]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr + p.stdout
    with open(out) as f:
        return json.load(f), p.stdout


def test_bench_json_structure(tmp_path):
    res, text = _run(tmp_path, "--no-references", "--train")
    assert "whole forward" in text and "per layer" in text and "compile time" in text
    assert res["network"]["layers"] == 1 and res["network"]["batch"] == 1
    d = res["darknet_py"]
    assert d["median_ms"] > 0 and d["rss_mib"] > 0 and len(d["runs_ms"]) == 1
    assert [row["index"] for row in res["layers"]] == [0]
    assert res["layers"][0]["type"] == "l2norm" and res["layers"][0]["ms"] >= 0
    for kind in ("cold", "warm"):
        c = res["compile"][kind]
        assert c["process_start_to_first_forward_end_s"] >= c["first_forward_s"] > 0
    assert res["compile"]["cold"]["cache_was_cold"] is True
    assert res["compile"]["warm"]["cache_was_cold"] is False
    t = res["train"]
    assert t["step"]["median_ms"] > 0 and t["finite"]
    assert res["layers"][0]["train_forward_ms"] is not None
    assert res["peak"]["used"] > 0
    assert res["references"] == {}
    assert any("not a benchmark" in n for n in res["notes"])


@pytest.mark.skipif(importlib.util.find_spec("torch") is None and importlib.util.find_spec("cv2") is None,
                    reason="neither OpenCV nor PyTorch installed")
def test_bench_references_skip_unsupported_layers(tmp_path):
    # [l2norm] exists in neither OpenCV's Darknet importer nor the PyTorch builder: skipped, not a failure
    res, text = _run(tmp_path, "--no-compile")
    assert res["references"]
    for r in res["references"].values():
        assert "skipped" in r


TINY = """[net]
batch=1
width=16
height=16
channels=3

[convolutional]
batch_normalize=1
filters=8
size=3
stride=1
pad=1
activation=leaky

[maxpool]
size=2
stride=2

[convolutional]
filters=8
size=1
stride=1
activation=leaky

[shortcut]
from=-2
activation=linear

[maxpool]
size=2
stride=1

[upsample]
stride=2

[route]
layers=-1,0

[convolutional]
filters=18
size=1
stride=1
activation=linear

[yolo]
mask=0,1,2
anchors=10,14,23,27,37,58
classes=1
num=3
"""


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="PyTorch not installed")
def test_bench_torch_reference_matches(tmp_path):
    cfg = tmp_path / "tiny.cfg"
    cfg.write_text(TINY)
    out = tmp_path / "bench.json"
    p = subprocess.run([sys.executable, BENCH, str(cfg), "--runs", "1", "--warmup", "0", "--no-gemm", "--no-peak",
                        "--no-compile", "--threads", "1", "--json", str(out)], capture_output=True, text=True,
                       timeout=600)
    assert p.returncode == 0, p.stderr + p.stdout
    res = json.loads(out.read_text())
    for name in ("torch_eager", "torch_folded_cl"):
        r = res["references"][name]
        assert "skipped" not in r, r
        assert r["diff"] and r["max_abs_diff"] < 1e-4 * max(1.0, r["diff"][0]["max_abs_ref"])
    if importlib.util.find_spec("cv2") is not None:
        r = res["references"]["opencv"]
        assert "skipped" not in r, r
        assert r["max_abs_diff"] < 1e-4 * max(1.0, r["diff"][0]["max_abs_ref"])


def _host_runs_avx2():
    import platform
    from darknet_py.kernels._jit import target_isa
    from llvmlite import binding as llvm
    return platform.machine().lower() in ("x86_64", "amd64") and \
        target_isa(llvm.get_host_cpu_name(), llvm.get_host_cpu_features().flatten()) in ("avx2", "avx512")


@pytest.mark.skipif(not _host_runs_avx2(), reason="--as-avx2 needs an x86-64 host with AVX2 + FMA")
def test_as_avx2_holds_every_contender_to_avx2(tmp_path):
    """--as-avx2 (the AVX2 machines' proxy): darknet_py runs its haswell build and AVX2 gemm tile, the
    environment is recorded, and each reference says it runs without AVX-512."""
    cfg = tmp_path / "tiny.cfg"
    cfg.write_text(TINY)
    out = tmp_path / "bench.json"
    p = subprocess.run([sys.executable, BENCH, str(cfg), "--runs", "1", "--warmup", "0", "--no-gemm", "--no-peak",
                        "--no-compile", "--threads", "1", "--as-avx2", "--json", str(out)], capture_output=True,
                       text=True, timeout=600)
    assert p.returncode == 0, p.stderr + p.stdout
    res = json.loads(out.read_text())
    assert res["darknet_py"]["isa"].startswith("avx2 3x32 float32") and "haswell" in res["darknet_py"]["isa"]
    assert res["machine"]["NUMBA_CPU_NAME"] == "haswell" and res["machine"]["OPENBLAS_CORETYPE"] == "Haswell"
    refs = res["references"]
    if "isa" in refs.get("opencv", {}):             # OpenCV installed: AVX-512 compiled in at most, never used
        assert not [f for f in refs["opencv"]["isa"].split() if f.startswith("*AVX512") and not f.endswith("?")]
    if "isa" in refs.get("torch_eager", {}):
        assert refs["torch_eager"]["isa"] != "AVX512"
