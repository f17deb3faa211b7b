"""`darknet-py train` and its loop (darknet_py.train.train): checkpoints, loss log, Ctrl-C, resume that
ends bit for bit where an uninterrupted run ends, and `valid` on the trained classifier."""
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from darknet_py.train import train

NAMES = ["kind0", "kind1", "kind2"]
CFG = """[net]
batch=4
subdivisions=2
width=8
height=8
channels=3
learning_rate=0.1
momentum=0.9
decay=0.0005
max_batches=6
hue=.1
saturation=1.5
exposure=1.5
angle=10
[convolutional]
filters=4
size=3
stride=1
pad=1
activation=leaky
batch_normalize=1
[maxpool]
size=2
stride=2
[dropout]
probability=.2
[connected]
output=3
activation=linear
[softmax]
"""


def make_classifier_data(root, count=12):
    """Images whose dominant channel is the class, named <i>_kindK.png (Darknet: labels from the path)."""
    from PIL import Image
    rng = np.random.default_rng(0)
    (root / "img").mkdir(parents=True)
    lines = []
    for i in range(count):
        a = rng.integers(0, 80, (12, 12, 3)).astype(np.uint8)
        a[..., i % 3] += 150
        Image.fromarray(a).save(root / "img" / f"{i:03d}_{NAMES[i % 3]}.png")
        lines.append(f"img/{i:03d}_{NAMES[i % 3]}.png")
    (root / "train.txt").write_text("\n".join(lines) + "\n")
    (root / "names.txt").write_text("\n".join(NAMES) + "\n")
    (root / "tiny.cfg").write_text(CFG)
    data = root / "cls.data"
    data.write_text("classes=3\ntrain=train.txt\nvalid=train.txt\nlabels=names.txt\nbackup=backup\n")
    return data, root / "tiny.cfg"


@pytest.fixture
def dataset(tmp_path):
    return make_classifier_data(tmp_path)


def quiet(*_):
    pass


def test_resumed_run_ends_with_the_weights_of_an_uninterrupted_one(dataset, tmp_path):
    data, cfg = dataset
    straight = train(data, cfg, seed=5, progress=False, log=quiet)
    assert (straight.iterations, straight.interrupted) == (6, False)
    whole = straight.final_weights.read_bytes()
    half = train(data, cfg, max_batches=3, seed=5, progress=False, log=quiet)
    moved = tmp_path / "half.weights"
    os.replace(half.last_weights, moved)                     # resume from a copy, as a user would
    os.replace(str(half.last_weights) + ".state.npz", str(moved) + ".state.npz")
    resumed = train(data, cfg, moved, seed=5, progress=False, log=quiet)
    assert resumed.iterations == 3
    assert resumed.final_weights.read_bytes() == whole
    rows = (data.parent / "backup" / "loss.csv").read_text().splitlines()
    assert rows[0] == "iteration,loss,avg_loss,rate,seen" and [r.split(",")[0] for r in rows[1:]] == \
        [str(i) for i in range(1, 7)]


def test_another_seed_trains_differently(dataset):
    data, cfg = dataset
    a = train(data, cfg, max_batches=2, seed=1, progress=False, log=quiet).final_weights.read_bytes()
    b = train(data, cfg, max_batches=2, seed=2, progress=False, log=quiet).final_weights.read_bytes()
    assert a != b


def test_ctrl_c_stops_after_the_iteration_and_saves_last(dataset):
    data, cfg = dataset
    notes = []

    def interrupt_at_two(net, loss):
        if net.current_batch() == 2:
            signal.raise_signal(signal.SIGINT)
    result = train(data, cfg, seed=0, progress=False, log=notes.append, on_iteration=interrupt_at_two)
    assert result.interrupted and result.final_weights is None and result.iterations == 2
    from golden import read_weight_floats
    assert read_weight_floats(result.last_weights)[0] == 2 * 4           # seen after 2 iterations of 4
    assert any("interrupted at iteration 2" in n for n in notes)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_cli_train_then_valid(dataset):
    data, cfg = dataset
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    run = subprocess.run([sys.executable, "-m", "darknet_py", "train", str(data), str(cfg), "--max-batches", "4",
                          "--no-augment"], capture_output=True, text=True, env=env, cwd=data.parent)
    assert run.returncode == 0, run.stderr
    backup = data.parent / "backup"
    assert {"tiny_last.weights", "tiny_final.weights", "loss.csv", "loss.png"} <= set(os.listdir(backup))
    assert "loss" in run.stderr and "img/s" in run.stderr                # the progress bar's fields
    run = subprocess.run([sys.executable, "-m", "darknet_py", "valid", str(data), str(cfg),
                          str(backup / "tiny_final.weights"), "--json"], capture_output=True, text=True, env=env)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["images"] == 12 and 0 <= result["top1"] <= result["top5"] == 1.0   # 3 classes: top-5 is all


def test_missing_max_batches_is_a_clear_error(dataset):
    data, cfg = dataset
    cfg.write_text(CFG.replace("max_batches=6\n", ""))
    from darknet_py import DarknetError
    with pytest.raises(DarknetError, match="give --max-batches"):
        train(data, cfg, progress=False, log=quiet)


def test_resize_network_keeps_every_trained_array(dataset):
    from darknet_py import load_network
    from darknet_py.train import resize_network
    data, cfg = dataset
    with pytest.raises(Exception, match=r"layer 3 \[connected\] has weights whose size depends on the input"):
        resize_network(load_network(cfg), 16, 16)
    cfg.write_text(CFG.split("[maxpool]")[0].replace("filters=4", "filters=3") + "[avgpool]\n[softmax]\n")
    net = load_network(cfg)
    x = np.random.default_rng(0).random((4, 3, 8, 8), dtype=np.float32)
    truth = np.eye(3, dtype=np.float32)[[0, 1, 2, 0]]
    net.train_batch(x, truth)
    big = resize_network(net, 16, 16)
    assert big.input_shape == (3, 16, 16) and (big.seen, big.t) == (net.seen, net.t)
    for a, b in zip(net.layers, big.layers):
        for u, v in zip(a.weight_arrays(), b.weight_arrays()):
            assert np.array_equal(u, v)
        for (_, _, u), (_, _, v) in zip(a.parameters(), b.parameters()):
            assert np.array_equal(u, v)
    assert np.isfinite(big.train_batch(np.repeat(np.repeat(x, 2, 2), 2, 3), truth))


def test_multi_scale_sizes_follow_darknet_and_the_seed():
    from darknet_py import build_network
    from darknet_py.cfg import parse_cfg
    from darknet_py.train import multi_scale
    text = ("[net]\nbatch=1\nwidth=416\nheight=416\nchannels=3\n[convolutional]\nfilters=24\nsize=1\nstride=32\n"
            "activation=linear\n[yolo]\nmask=0,1,2\nnum=3\nclasses=3\nrandom=1\n")
    net = build_network(parse_cfg(text, "y.cfg"), "y.cfg")
    scales = multi_scale(net, seed=1, max_batches=1000)
    assert scales.sizes == list(range(320, 608 + 1, 32))               # Darknet's 320..608 for a 416 network
    sizes = [scales.size(i) for i in range(0, 800)]
    assert all(sizes[i] == sizes[i - i % 10] for i in range(800))      # a new size every 10 iterations
    assert len(set(sizes)) > 5 and scales.size(850) == (608, 608)       # the largest for the last 200
    assert multi_scale(net, seed=2, max_batches=1000).size(0) != scales.size(0) or \
        multi_scale(net, seed=2, max_batches=1000).size(10) != scales.size(10)
    assert multi_scale(build_network(parse_cfg(text.replace("random=1", "random=0"), "y.cfg"), "y.cfg"), 1, 9) is None


def test_classes_of_data_and_network_must_agree(dataset):
    data, cfg = dataset
    data.write_text(data.read_text().replace("classes=3", "classes=4"))
    (data.parent / "names.txt").write_text("\n".join(NAMES + ["kind3"]) + "\n")
    from darknet_py import DarknetError
    with pytest.raises(DarknetError, match=r"says classes=4 but the network's last layer \(.*tiny.cfg:\d+ \[softmax\]\) "
                                           r"has 3 outputs"):
        train(data, cfg, progress=False, log=quiet)


def test_without_matplotlib_loss_png_is_skipped_with_one_note(tmp_path, monkeypatch):
    from darknet_py.train import LossHistory
    monkeypatch.setitem(sys.modules, "matplotlib", None)             # import matplotlib -> ImportError
    history = LossHistory(tmp_path / "loss.csv", start=0)
    history.add(1, 2.0, 2.0, 0.1, 4)
    notes = []
    history.write()
    history.plot(notes.append)
    history.plot(notes.append)
    assert len(notes) == 1 and "pip install 'darknet_py[plot]'" in notes[0]
    assert not (tmp_path / "loss.png").exists() and (tmp_path / "loss.csv").read_text().endswith("1,2,2,0.1,4\n")


def test_a_corrupt_state_file_is_a_note_not_a_crash(dataset):
    data, cfg = dataset
    first = train(data, cfg, max_batches=1, progress=False, log=quiet)
    with open(str(first.last_weights) + ".state.npz", "wb") as f:
        f.write(b"garbage")
    notes = []
    result = train(data, cfg, first.last_weights, max_batches=2, progress=False, log=notes.append)
    assert result.iterations == 1 and any("momentum starts from zero" in n for n in notes)
