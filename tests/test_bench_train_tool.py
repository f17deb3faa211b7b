"""tools/bench_train.py runs end to end on tiny settings and writes the JSON it promises (no timing
assertions: timings are the tool's business, not the tests')."""
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOL = os.path.join(ROOT, "tools", "bench_train.py")
TINY_CASE = "darknet_py/models/shapes-detector.cfg:32:2"        # 32x32 input, batch 2: a 4x4 [yolo] grid


def _run(tmp_path, *argv):
    out = tmp_path / "bench_train.json"
    p = subprocess.run([sys.executable, TOOL, *argv, "--threads", "1", "--json", str(out)], capture_output=True,
                       text=True, timeout=900)
    assert p.returncode == 0, p.stderr + p.stdout
    with open(out) as f:
        return json.load(f), p.stdout


def _check_steps(summary, runs):
    assert len(summary["runs_ms"]) == runs and summary["median_ms"] > 0 and summary["min_ms"] > 0
    assert summary["images_per_s"] > 0 and summary["images_per_s_best"] >= summary["images_per_s"]
    assert summary["rss_mib"] > 0 and summary["finite"] is True


def _throughput(tmp_path, *extra):
    res, text = _run(tmp_path, "throughput", "--case", TINY_CASE, "--runs", "1", "--warmup", "0", "--rounds", "2",
                     *extra)
    assert res["mode"] == "throughput" and "training throughput" in text
    assert any("stand-in" in n for n in res["notes"])
    (case,) = res["cases"]
    assert case["cfg"] == os.path.join("darknet_py", "models", "shapes-detector.cfg")
    assert case["batch"] == 2 and case["input_shape"] == [3, 32, 32]
    _check_steps(case["darknet_py"], runs=2)         # 2 rounds x 1 run, pooled
    return case


def test_throughput_darknet_only(tmp_path):
    case = _throughput(tmp_path, "--no-torch")
    assert case["torch_eager"] == {"skipped": "--no-torch"}
    assert "darknet_py_over_torch" not in case


def test_throughput_against_torch(tmp_path):
    pytest.importorskip("torch", reason="PyTorch is not installed: no reference training step")
    case = _throughput(tmp_path)
    _check_steps(case["torch_eager"], runs=2)
    assert case["torch_eager"]["threads"] == 1
    assert case["darknet_py_over_torch"] > 0 and case["darknet_py_over_torch_min"] > 0


def test_time_to_map_structure(tmp_path):
    res, text = _run(tmp_path, "time-to-map", "--train", "4", "--valid", "2", "--size", "32", "--every", "1",
                     "--max-batches", "2", "--target", "1.01")        # unreachable: runs to --max-batches
    assert res["mode"] == "time_to_map" and "time to mAP" in text
    assert [e["iteration"] for e in res["evaluations"]] == [1, 2]
    for e in res["evaluations"]:
        assert 0 <= e["map"] <= 1 and e["train_s"] > 0 and e["eval_s"] > 0
    assert res["reached"] is False and res["iterations"] == 2
    assert res["final_map"] == res["evaluations"][-1]["map"]
    assert res["total_s"] >= res["train_s"] > 0 and res["eval_s"] > 0 and res["data_s"] >= 0
