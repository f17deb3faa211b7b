"""`darknet-py data shapes`: Darknet's layout, labels that describe the drawn shapes, same seed = same files."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from darknet_py.data import label_path, read_data_cfg, read_labels, read_list
from darknet_py.data.shapes import NAMES, write_shapes


def tree(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(Path(root).rglob("*")) if p.is_file()}


def test_same_seed_same_files_other_seed_other_images(tmp_path):
    write_shapes(tmp_path / "a", train=4, valid=2, size=32, seed=3)
    write_shapes(tmp_path / "b", train=4, valid=2, size=32, seed=3)
    write_shapes(tmp_path / "c", train=4, valid=2, size=32, seed=4)
    a, b, c = tree(tmp_path / "a"), tree(tmp_path / "b"), tree(tmp_path / "c")
    assert a == b
    assert a["images/train_00000.png"] != c["images/train_00000.png"]


def test_layout_and_labels_match_the_drawn_shapes(tmp_path):
    dc = read_data_cfg(write_shapes(tmp_path, train=5, valid=3, size=48, seed=0))
    assert dc.classes == 3 and dc.names == list(NAMES) and dc.backup == tmp_path / "backup"
    assert dc.backup.is_dir()
    train, valid = read_list(dc.train), read_list(dc.valid)
    assert (len(train), len(valid)) == (5, 3)
    uniform, count = 0, 0
    for path, _ in train + valid:
        im = np.asarray(Image.open(path).convert("RGB")).astype(int)
        assert im.shape == (48, 48, 3)
        boxes = read_labels(label_path(path), 3)
        assert 1 <= len(boxes) <= 4
        for cls, x, y, w, h in boxes:
            assert 0 <= x - w / 2 and x + w / 2 <= 1 and 0 <= y - h / 2 and y + h / 2 <= 1
            cx, cy = int(x * 48), int(y * 48)
            patch = im[cy - 1:cy + 2, cx - 1:cx + 2].reshape(9, 3)
            uniform += (patch == patch[0]).all()          # the shape's solid colour, not the noise
            count += 1
    assert uniform >= 0.9 * count                         # a later shape may cover a few centres


def test_cli_writes_the_dataset(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    run = subprocess.run([sys.executable, "-m", "darknet_py", "data", "shapes", str(tmp_path / "s"), "--train", "3",
                          "--valid", "1", "--size", "32", "--seed", "9"], capture_output=True, text=True, env=env)
    assert run.returncode == 0, run.stderr
    assert "wrote" in run.stdout and "shapes" in run.stderr          # the progress bar
    write_shapes(tmp_path / "t", train=3, valid=1, size=32, seed=9)
    assert tree(tmp_path / "s") == tree(tmp_path / "t")


def test_classify_variant_labels_each_image_by_its_path(tmp_path):
    from darknet_py.data.files import classes_from_path
    data = write_shapes(tmp_path / "a", train=6, valid=3, size=32, seed=5, classify=True)
    assert tree(tmp_path / "a") == tree(Path(write_shapes(tmp_path / "b", 6, 3, 32, 5, classify=True)).parent)
    dc = read_data_cfg(data)
    assert "labels=shapes.names" in data.read_text()
    assert dc.classes == 3 and dc.names == list(NAMES) and not (tmp_path / "a" / "labels").exists()
    kinds = set()
    for path, _ in read_list(dc.train) + read_list(dc.valid):
        found = classes_from_path(path, dc.names)
        assert len(found) == 1                          # exactly one class name in each path
        im = np.asarray(Image.open(path).convert("RGB")).astype(int)
        assert im.shape == (32, 32, 3)
        colours, counts = np.unique(im.reshape(-1, 3), axis=0, return_counts=True)
        assert counts.max() >= 40        # a solid shape (>= 12 px side), not noise, whose colours rarely repeat
        kinds.add(found[0])
    assert len(kinds) > 1


def test_cli_classify_defaults_to_32_pixels(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    run = subprocess.run([sys.executable, "-m", "darknet_py", "data", "shapes", str(tmp_path / "s"), "--classify",
                          "--train", "2", "--valid", "1", "--seed", "2"], capture_output=True, text=True, env=env)
    assert run.returncode == 0, run.stderr
    write_shapes(tmp_path / "t", train=2, valid=1, size=32, seed=2, classify=True)
    assert tree(tmp_path / "s") == tree(tmp_path / "t")
