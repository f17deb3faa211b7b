"""tools/l2norm_experiment.py: the shapes cosine classifier trained with both [l2norm] gradients, both
validated (a handful of iterations on a tiny set: that both runs complete and report, not their values)."""
import json
import math
import subprocess
import sys
from pathlib import Path

import darknet_py
from darknet_py.layers.l2norm import L2Norm

ROOT = Path(__file__).resolve().parents[1]
TOOL = ROOT / "tools" / "l2norm_experiment.py"
CFG = ROOT / "cfg" / "shapes-cosine.cfg"

sys.path.insert(0, str(ROOT / "tools"))
from l2norm_experiment import with_gradient  # noqa: E402


def test_cfg_is_an_l2norm_cosine_classifier():
    net = darknet_py.load_network(CFG)
    types = [layer.type for layer in net.layers]
    assert types[-4:] == ["connected", "l2norm", "connected", "softmax"]
    assert net.layers[-3].gradient == "true" and net.input_shape == (3, 32, 32)


def test_with_gradient_changes_only_the_l2norm_option():
    text = with_gradient(CFG.read_text(), "passthrough")
    assert [line for line in text.splitlines() if line.startswith("gradient")] == ["gradient=passthrough"]
    assert with_gradient(text, "true") == CFG.read_text()
    assert "gradient=true" in with_gradient("[net]\nbatch=1\n\n[l2norm]\n", "true")


def test_tool_trains_and_validates_both_variants(tmp_path):
    out = tmp_path / "json"
    p = subprocess.run([sys.executable, str(TOOL), "--out", str(tmp_path / "work"), "--train", "6", "--valid", "3",
                        "--max-batches", "2", "--seed", "1", "--json", str(out)],
                       capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, p.stderr + p.stdout
    rows = json.loads(out.read_text())["rows"]
    assert [r["gradient"] for r in rows] == list(L2Norm.GRADIENTS)
    for r in rows:
        assert r["iterations"] == 2 and r["valid_images"] == 3
        assert math.isfinite(r["loss"]) and 0 <= r["top1"] <= 1
    assert "passthrough" in p.stdout and "top-1" in p.stdout
    for gradient in L2Norm.GRADIENTS:       # each run kept its own backup folder
        assert (tmp_path / "work" / "data" / f"backup-{gradient}" / f"{gradient}_final.weights").is_file()
