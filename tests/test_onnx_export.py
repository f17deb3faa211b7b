"""ONNX export checked by a runtime nobody here wrote: onnxruntime runs the exported graph and every
graph output (the last layer and each detection layer) must equal Network.forward (atol 1e-4), on
yolov3-tiny- and yolov4-tiny-shaped networks with random weights and batch-norm statistics, on every
activation and on each exportable layer type. Skipped with a message where onnx/onnxruntime are absent."""
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from darknet_py import DarknetError, build_network
from darknet_py.cfg import parse_cfg
from darknet_py.kernels.activations import ACTIVATIONS
from gradcheck import NET

onnx = pytest.importorskip("onnx", reason="onnx not installed (pip install 'darknet_py[onnx]')")
ort = pytest.importorskip("onnxruntime", reason="onnxruntime not installed (optional test dependency)")
from darknet_py.onnx_export import export_onnx, network_to_onnx  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
ATOL = 1e-4


def build(text, batch=1, compat=False):
    return build_network(parse_cfg(text, "<onnx>"), "<onnx>", batch=batch, compat=compat, max_memory=None)


def randomize(net, seed=0):
    """Random biases, scales and batch-norm statistics (the weights keep Darknet's fan-in scaled initial
    draw, so activations stay O(1) through a deep net), so a wrongly folded batch norm cannot hide."""
    rng = np.random.default_rng(seed)
    for layer in net.layers:
        for name, param, _ in layer.parameters():
            if name == "scales":
                param[:] = rng.uniform(0.5, 1.5, param.size)
            elif name != "weights":
                param[:] = rng.normal(0, 0.3, param.size)
        for name, lo, hi in (("rolling_mean", -0.5, 0.5), ("rolling_variance", 0.5, 2.0)):
            a = getattr(layer, name, None)
            if a is not None:
                a[:] = rng.uniform(lo, hi, a.size)


def run_both(net, seed=1):
    """(ours, theirs): {output name: array} from Network.forward and from onnxruntime on one input."""
    x = np.random.default_rng(seed).standard_normal((net.batch,) + tuple(net.input_shape)).astype(np.float32)
    net.forward(x)
    model = network_to_onnx(net)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    theirs = dict(zip(names, session.run(None, {"input": x})))
    ours = {name: net.layers[int(name.split("_")[1])].output_array() for name in names}
    return ours, theirs


def assert_outputs_equal(net, seed=1):
    ours, theirs = run_both(net, seed)
    for name, ref in ours.items():
        got = theirs[name]
        assert got.shape == ref.shape, f"{name}: onnxruntime shape {got.shape}, Network {ref.shape}"
        np.testing.assert_allclose(got, ref, atol=ATOL, rtol=1e-4, err_msg=name)
    return ours


def small_yolov3_tiny(size=96):
    text = (REPO / "cfg" / "yolov3-tiny.cfg").read_text()
    return re.sub(r"(?m)^(width|height)=\d+", rf"\1={size}", text)


def test_yolov3_tiny_shaped_network_matches_onnxruntime():
    net = build(small_yolov3_tiny())
    randomize(net)
    outputs = assert_outputs_equal(net)
    yolo = [f"layer_{l.index:03d}" for l in net.layers if l.type == "yolo"]
    assert sorted(outputs) == sorted(yolo), "every [yolo] output (the last one included) is a graph output"
    assert len(yolo) == 2


YOLOV4_TINY_SHAPED = NET.format(batch=1, c=3, h=64, w=64) + """
[convolutional]
batch_normalize=1
filters=8
size=3
stride=2
pad=1
activation=leaky

[convolutional]
batch_normalize=1
filters=16
size=3
stride=1
pad=1
activation=leaky

[route]
layers=-1
groups=2
group_id=1

[convolutional]
batch_normalize=1
filters=8
size=3
stride=1
pad=1
activation=leaky

[convolutional]
batch_normalize=1
filters=8
size=3
stride=1
pad=1
activation=leaky

[route]
layers=-1,-2

[convolutional]
batch_normalize=1
filters=16
size=1
stride=1
pad=1
activation=leaky

[route]
layers=-6,-1

[maxpool]
size=2
stride=2

[convolutional]
batch_normalize=1
filters=32
size=3
stride=1
pad=1
activation=leaky

[convolutional]
size=1
stride=1
pad=1
filters=21
activation=linear

[yolo]
mask=3,4,5
anchors=10,14, 23,27, 37,58, 81,82, 135,169, 344,319
classes=2
num=6
scale_x_y=1.05

[route]
layers=-3

[upsample]
stride=2

[route]
layers=-1,-9

[convolutional]
size=1
stride=1
pad=1
filters=21
activation=linear

[yolo]
mask=0,1,2
anchors=10,14, 23,27, 37,58, 81,82, 135,169, 344,319
classes=2
num=6
scale_x_y=1.05
"""


def test_yolov4_tiny_shaped_network_matches_onnxruntime():
    """Route groups (the CSP split), scale_x_y and both heads, as in AlexeyAB's yolov4-tiny.cfg."""
    net = build(YOLOV4_TINY_SHAPED, compat="alexeyab")
    randomize(net)
    outputs = assert_outputs_equal(net)
    assert sorted(outputs) == ["layer_011", "layer_016"]


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_every_activation(activation):
    text = NET.format(batch=2, c=3, h=5, w=5) + f"""
[convolutional]
filters=4
size=3
pad=1
batch_normalize=1
activation={activation}
"""
    net = build(text, batch=2)
    randomize(net)
    for layer in net.layers:         # spread the pre-activations over every piece of the function
        layer.weights *= 4.0
    assert_outputs_equal(net)


LAYER_CASES = {
    "maxpool_k3_s2": "[maxpool]\nsize=3\nstride=2\n",
    "maxpool_k2_s1": "[maxpool]\nsize=2\nstride=1\n",
    "avgpool": "[avgpool]\n",
    "route_shortcut": "[convolutional]\nfilters=6\nsize=1\nactivation=leaky\n\n"
                      "[convolutional]\nfilters=6\nsize=3\npad=1\nactivation=leaky\n\n[route]\nlayers=-1,-2\n\n"
                      "[convolutional]\nfilters=6\nsize=1\nactivation=linear\n\n[shortcut]\nfrom=-3\n"
                      "activation=leaky\n",
    "upsample_scale": "[upsample]\nstride=2\nscale=0.5\n",
    "reorg": "[convolutional]\nfilters=8\nsize=1\nactivation=linear\n\n[reorg]\nstride=2\n",
    "connected_softmax": "[connected]\noutput=7\nactivation=relu\nbatch_normalize=1\n\n[dropout]\n"
                         "probability=.5\n\n[softmax]\ngroups=1\n",
    "softmax_groups_temperature": "[softmax]\ngroups=3\ntemperature=2\n",
    "l2norm": "[l2norm]\n",
    "batchnorm_activation": "[batchnorm]\n\n[activation]\nactivation=tanh\n",
    "logistic": "[logistic]\n",
    "region": "[convolutional]\nfilters=18\nsize=1\nactivation=linear\n\n[region]\nclasses=4\ncoords=4\n"
              "num=2\nsoftmax=1\nanchors=1,1,2,2\n",
    "grouped_strided_conv": "[convolutional]\nfilters=4\nsize=3\nstride=2\npad=1\ngroups=2\n"
                            "activation=logistic\n",
}


@pytest.mark.parametrize("case", sorted(LAYER_CASES))
def test_layer_types(case):
    net = build(NET.format(batch=2, c=6, h=8, w=8) + "\n" + LAYER_CASES[case], batch=2)
    randomize(net)
    assert_outputs_equal(net)


def test_a_layer_without_an_equivalent_is_a_clear_error():
    net = build(NET.format(batch=1, c=3, h=4, w=4) + "\n[crop]\ncrop_width=2\ncrop_height=2\n")
    with pytest.raises(DarknetError, match=r"layer 0 \[crop\] has no ONNX equivalent.*<onnx>:"):
        network_to_onnx(net)


def test_export_writes_a_model_onnx_can_load(tmp_path):
    net = build(small_yolov3_tiny(64))
    names = export_onnx(net, tmp_path / "m.onnx")
    model = onnx.load(str(tmp_path / "m.onnx"))
    assert [o.name for o in model.graph.output] == names == ["layer_016", "layer_023"]
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"


def cli(*args):
    return subprocess.run([sys.executable, "-m", "darknet_py", *map(str, args)], capture_output=True, text=True,
                          timeout=600)


def test_cli_export(tmp_path):
    cfg = tmp_path / "tiny.cfg"
    cfg.write_text(small_yolov3_tiny(64))
    net = build(cfg.read_text())
    randomize(net)
    net.save_weights(tmp_path / "tiny.weights")
    res = cli("export", cfg, tmp_path / "tiny.weights", tmp_path / "tiny.onnx")
    assert res.returncode == 0, res.stderr
    assert "layer_016" in res.stdout and "layer_023" in res.stdout
    session = ort.InferenceSession(str(tmp_path / "tiny.onnx"), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(3).standard_normal((1, 3, 64, 64)).astype(np.float32)
    net.forward(x)
    np.testing.assert_allclose(session.run(["layer_023"], {"input": x})[0], net.layers[23].output_array(),
                               atol=ATOL, rtol=1e-4)


def test_cli_export_unsupported_layer_is_one_line(tmp_path):
    cfg = tmp_path / "crop.cfg"
    cfg.write_text(NET.format(batch=1, c=3, h=4, w=4) + "\n[crop]\ncrop_width=2\ncrop_height=2\n")
    weights = tmp_path / "crop.weights"
    build(cfg.read_text()).save_weights(weights)
    res = cli("export", cfg, weights, tmp_path / "out.onnx")
    assert res.returncode == 2
    assert res.stderr.strip().count("\n") == 0 and "[crop] has no ONNX equivalent" in res.stderr
    assert not (tmp_path / "out.onnx").exists()
