"""Planning a network (``plan_network``, ``build_network(plan=True)``, ``darknet-py summary``) allocates
none of its buffers, yet reports what building it would: the same layers, shapes, parameters, FLOPs
and bytes. The rule for layer authors (layers/base.py): at build time write buffers only by assignment;
skip anything else when ``planning()``. The per-type test below enforces it for every registered type.
"""
import json
import os
import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from darknet_py import DarknetError, build_network, registered_layers
from darknet_py.cfg import parse_cfg
from darknet_py.network import INFERENCE_BATCH, load_network, plan_network
from darknet_py.summary import summarize, summary_rows
from test_layer_contract import SPECS

REPO = Path(__file__).resolve().parents[1]
YOLOV3_TINY = REPO / "cfg" / "yolov3-tiny.cfg"
# options whose build-time work differs (batch norm fills, adam state, initial weight draws)
VARIANTS = {
    "convolutional": ["batch_normalize=1\nsize=3\npad=1", "batch_normalize=1\nsize=3\npad=1\n#adam"],
    "deconvolutional": ["batch_normalize=1"],
    "connected": ["batch_normalize=1\noutput=7"],
}
CASES = [(t, SPECS.get(t, ("", None))[0]) for t in sorted(registered_layers())]
CASES += [(t, extra) for t, extras in VARIANTS.items() for extra in extras]


def cfg_text(layer_type, extra, batch):
    _, shape = SPECS.get(layer_type, ("", (4, 6, 6)))
    c, h, w = shape or (4, 6, 6)
    adam = "adam=1\n" if "#adam" in extra else ""
    return (f"[net]\nbatch={batch}\nchannels={c}\nheight={h}\nwidth={w}\n{adam}\n"
            f"[l2norm]\n\n[{layer_type}]\n{extra.replace('#adam', '')}\n")


def planned_and_built(text):
    plan = build_network(parse_cfg(text, "<plan>"), plan=True)
    real = build_network(parse_cfg(text, "<real>"), max_memory=2**28)
    return plan, real


def layer_facts(net):
    return [(l.type, l.in_shape, l.out_shape, l.flops(), l.workspace_size,
             [(name, p.shape, g.shape) for name, p, g in l.parameters()]) for l in net.layers]


@pytest.mark.parametrize("layer_type,extra", CASES)
def test_plan_reports_what_a_build_allocates(layer_type, extra):
    plan, real = planned_and_built(cfg_text(layer_type, extra, batch=2))
    assert plan.planned and not real.planned
    assert layer_facts(plan) == layer_facts(real)
    assert plan.budget.used == real.budget.used > 0


@pytest.mark.parametrize("layer_type,extra", CASES)
def test_planning_allocates_nothing_of_the_buffers_size(layer_type, extra):
    c, h, w = SPECS.get(layer_type, ("", None))[1] or (4, 6, 6)
    batch = (1 << 15) * max(1, 144 // (c * h * w))      # every activation buffer: MiBs, tiny inputs too
    text = cfg_text(layer_type, extra, batch=batch)
    tracemalloc.start()
    try:
        net = build_network(parse_cfg(text, "<plan>"), plan=True)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert net.budget.used > 16 << 20
    assert peak < 1 << 20, f"[{layer_type}] planning allocated {peak} bytes (a build-time pass over a stand-in?)"


def test_a_planned_network_cannot_run(tmp_path):
    net = plan_network(YOLOV3_TINY)
    x = np.zeros((net.batch,) + tuple(net.input_shape), np.float32)
    for attempt in (lambda: net.forward(x), lambda: net.backward(), net.update,
                    lambda: net.save_weights(tmp_path / "w"), lambda: net.load_weights(tmp_path / "w")):
        with pytest.raises(DarknetError, match="planned network"):
            attempt()
    assert not (tmp_path / "w").exists()


def test_summary_of_a_plan_equals_that_of_the_built_network():
    plan_rows, plan_totals = summarize(YOLOV3_TINY)
    rows, totals = summary_rows(load_network(YOLOV3_TINY, batch=INFERENCE_BATCH))
    assert plan_rows == rows and plan_totals == totals
    assert totals["batch"] == 1 and totals["parameters"] > 8_000_000


def test_batch_defaults_inference_verbs_1_api_the_cfg(tmp_path):
    cfg = tmp_path / "b.cfg"
    cfg.write_text(YOLOV3_TINY.read_text().replace("batch=1\nsubdivisions=1", "batch=64\nsubdivisions=4"))
    assert summarize(cfg)[1]["batch"] == 1
    assert summarize(cfg, batch=None)[1]["batch"] == 16            # what training allocates: 64 / 4
    assert plan_network(cfg).batch == 16


def test_summary_of_a_large_batch_detector_stays_small(tmp_path):
    """yolov3-tiny's layout at 608x608, batch=64: ~17 GiB of buffers, summarised in a small process."""
    cfg = tmp_path / "big.cfg"
    text = YOLOV3_TINY.read_text().replace("batch=1\n", "batch=64\n")
    cfg.write_text(text.replace("width=416", "width=608").replace("height=416", "height=608"))
    # VmHWM, the peak resident memory of this program's address space: ru_maxrss would not do, Linux
    # keeps it across exec, so it reports the (large) pytest process the child was forked from
    code = ("import sys\nfrom darknet_py.cli import main\n"
            "rc = main(['summary', sys.argv[1], '--batch', '64', '--format', 'json'])\n"
            "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM:')][0].split()[1]\n"
            "print(hwm, file=sys.stderr)\nsys.exit(rc)\n")
    env = dict(os.environ, DARKNET_PY_NO_PLUGINS="1")
    res = subprocess.run([sys.executable, "-c", code, str(cfg)], capture_output=True, text=True, env=env)
    assert res.returncode == 0, res.stderr
    totals = json.loads(res.stdout)["totals"]
    rss_mib = int(res.stderr.strip().splitlines()[-1]) / 1024      # VmHWM: KiB
    assert totals["batch"] == 64 and totals["memory_bytes"] > 10 << 30
    assert rss_mib < 300, f"summary took {rss_mib:.0f} MiB"


def test_summary_compiles_no_kernel(tmp_path):
    cache = tmp_path / "cache"
    env = dict(os.environ, DARKNET_PY_NO_PLUGINS="1", NUMBA_CACHE_DIR=str(cache))
    res = subprocess.run([sys.executable, "-m", "darknet_py", "summary", str(YOLOV3_TINY)], capture_output=True,
                         text=True, env=env)
    assert res.returncode == 0, res.stderr
    assert "compiling" not in res.stderr
    assert not list(cache.rglob("*.nbi")), "summary compiled (and cached) kernels"
