"""Every network shipped in cfg/ parses, builds and runs; the small ones forward and backward from the CLI."""
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

import darknet_py
from darknet_py.cfg import read_cfg

from conftest import CFG_DIR

CFGS = sorted(p.name for p in CFG_DIR.glob("*.cfg"))
TRAINABLE = ["classifier.cfg", "darknet53-res.cfg", "yolov3-tiny-backbone.cfg", "l2norm.cfg"]


def test_expected_networks_are_shipped():
    assert set(TRAINABLE) | {"yolov3-tiny.cfg"} <= set(CFGS)


@pytest.mark.parametrize("name", CFGS)
def test_parses_and_builds_without_warnings(name):
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # shipped cfgs have no unused or duplicate keys
        read_cfg(CFG_DIR / name)
        net = darknet_py.load_network(CFG_DIR / name, batch=1)
    assert net.layers


def test_yolov3_tiny_topology():
    net = darknet_py.load_network(CFG_DIR / "yolov3-tiny.cfg")
    assert len(net.layers) == 24
    assert [i for i, l in enumerate(net.layers) if l.type == "yolo"] == [16, 23]
    assert net.layers[16].out_shape == (255, 13, 13) and net.layers[23].out_shape == (255, 26, 26)
    bflops = sum(l.flops() for l in net.layers) / 1e9
    assert 5.4 < bflops < 5.7, bflops            # Darknet prints 5.56 BFLOPs for yolov3-tiny
    y = net.forward(np.random.default_rng(0).random((1, 3, 416, 416), dtype=np.float32))
    assert y.shape == (1, 255, 26, 26) and np.isfinite(y).all()


def cli(*args):
    env = dict(os.environ, DARKNET_PY_NO_PLUGINS="1")
    return subprocess.run([sys.executable, "-m", "darknet_py", *map(str, args)], capture_output=True,
                          text=True, env=env)


@pytest.mark.parametrize("name", TRAINABLE)
def test_forward_and_backward_from_the_cli(name, tmp_path):
    net = darknet_py.load_network(CFG_DIR / name)
    out_shape = (net.batch,) + tuple(net.layers[-1].out_shape)
    np.save(tmp_path / "d.npy", np.random.default_rng(1).normal(size=out_shape).astype(np.float32))
    fwd = cli("forward", CFG_DIR / name, "--output", tmp_path / "out.npz")
    assert fwd.returncode == 0, fwd.stderr
    with np.load(tmp_path / "out.npz") as z:
        assert len(z.files) == len(net.layers)
        assert all(np.isfinite(z[k]).all() for k in z.files)
    bwd = cli("backward", CFG_DIR / name, "--delta", tmp_path / "d.npy", "--output", tmp_path / "g.npz")
    assert bwd.returncode == 0, bwd.stderr
    with np.load(tmp_path / "g.npz") as z:
        g = z["input_grad"]
        assert g.shape == (net.batch,) + tuple(net.input_shape) and np.isfinite(g).all() and np.abs(g).max() > 0
        assert len(z.files) == 1 + sum(len(l.parameters()) for l in net.layers)
