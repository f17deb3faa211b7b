"""tools/bench.py --train runs darknet_py's and PyTorch eager's training steps side by side (no timing
assertions: the figures go to docs/performance.md)."""
import importlib.util
import json
import subprocess
import sys

import pytest

from test_bench_tool import BENCH, TINY


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="PyTorch not installed")
def test_bench_train_compares_with_torch_eager(tmp_path):
    cfg = tmp_path / "tiny.cfg"
    cfg.write_text(TINY)
    out = tmp_path / "bench.json"
    p = subprocess.run([sys.executable, BENCH, str(cfg), "--train", "--batch", "2", "--rounds", "2", "--runs", "1",
                        "--warmup", "0", "--no-gemm", "--no-peak", "--no-compile", "--threads", "1",
                        "--json", str(out)], capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr + p.stdout
    train = json.loads(out.read_text())["train"]
    torch_train = train["torch_eager"]
    assert "skipped" not in torch_train, torch_train
    assert len(train["step"]["runs_ms"]) == 2 and len(torch_train["step"]["runs_ms"]) == 2   # two rounds pooled
    assert train["finite"] and torch_train["finite"]
    assert torch_train["darknet_py_over_this"] > 0 and "darknet_py/PyTorch" in p.stdout
