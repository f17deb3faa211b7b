"""darknet_py.distributed: the launcher detection, one-message gradient allreduce over 2 real MPI ranks,
mismatched networks across ranks, and mpiexec without mpi4py. The MPI tests skip with a message where
mpi4py or mpiexec is absent (pip install 'darknet_py[mpi]' brings both: mpi4py and the mpich wheel)."""
import json
import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from darknet_py.distributed import launched_by_mpiexec


def mpiexec():
    pytest.importorskip("mpi4py", reason="mpi4py not installed (pip install 'darknet_py[mpi]')")
    exe = shutil.which("mpiexec")
    if exe is None:
        pytest.skip("no mpiexec on PATH (pip install mpich, or a system MPI)")
    return exe


def run_ranks(n, script, tmp_path, timeout=300):
    path = tmp_path / "script.py"
    path.write_text(textwrap.dedent(script))
    return subprocess.run([mpiexec(), "-n", str(n), sys.executable, str(path)], capture_output=True, text=True,
                          timeout=timeout, cwd=tmp_path)


@pytest.mark.parametrize("env, expected", [
    ({}, False),
    ({"PMI_RANK": "0", "PMI_SIZE": "2"}, True),
    ({"PMI_RANK": "0", "PMI_SIZE": "1"}, False),          # mpiexec -n 1: nothing to distribute
    ({"OMPI_COMM_WORLD_RANK": "1", "OMPI_COMM_WORLD_SIZE": "4"}, True),
    ({"HYDI_CONTROL_FD": "7"}, True),
])
def test_launcher_detection(env, expected):
    assert launched_by_mpiexec(env) is expected


NET = """
import numpy as np
from darknet_py import build_network
from darknet_py.cfg import parse_cfg
from darknet_py.distributed import GradientReducer, check_same_network, world
CFG = '''
[net]
batch=2
width=6
height=6
channels=3

[convolutional]
filters={filters}
size=3
pad=1
batch_normalize=1
activation=leaky

[connected]
output=5
activation=linear
'''
"""


def test_gradients_are_summed_over_two_ranks_in_one_buffer(tmp_path):
    res = run_ranks(2, NET + """
w = world()
net = build_network(parse_cfg(CFG.format(filters=4), "<n>"), "<n>", max_memory=None)
check_same_network(net, w)
grads = [g for l in net.layers for _, _, g in l.parameters()]
for i, g in enumerate(grads):
    g[:] = (w.rank + 1) * np.arange(g.size) + i
r = GradientReducer(net, w)
assert r.allreduce(extra=w.rank + 1.5) == 4.0          # the cost travels in the same message
for i, g in enumerate(grads):                 # rank 0 held 1*k + i, rank 1 2*k + i: the sum is 3k + 2i
    np.testing.assert_array_equal(g, 3 * np.arange(g.size) + 2 * i)
assert r.nbytes == 4 * (sum(g.size for g in grads) + 2)   # + the cost and the stop flag
open(f"ok_{w.rank}_of_{w.size}", "w").close()        # a file each: the ranks' stdout interleaves
""", tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    assert (tmp_path / "ok_0_of_2").exists() and (tmp_path / "ok_1_of_2").exists()


def test_ranks_with_different_networks_stop_with_one_clear_line(tmp_path):
    res = run_ranks(2, NET + """
from darknet_py.distributed import run_guarded
w = world()
net = build_network(parse_cfg(CFG.format(filters=4 + w.rank), "<n>"), "<n>", max_memory=None)
run_guarded(w, check_same_network, net, w)
print("not reached")
""", tmp_path)
    assert res.returncode != 0
    assert "not reached" not in res.stdout
    assert res.stderr.strip().count("\n") == 0, res.stderr           # said once, by rank 0
    assert res.stderr.startswith("darknet-py: error: ranks 1 run another network than rank 0")


def test_mpiexec_without_mpi4py_is_a_clear_error(tmp_path):
    script = tmp_path / "no_mpi.py"
    script.write_text("import sys\nsys.modules['mpi4py'] = None\nfrom darknet_py.cli import main\n"
                      "sys.exit(main(['train', 'x.data', 'x.cfg']))\n")
    env = dict(os.environ, PMI_RANK="0", PMI_SIZE="2")
    res = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 2
    assert res.stderr.strip() == ("darknet-py: error: started by mpiexec but mpi4py is not installed: pip install "
                                  "'darknet_py[mpi]' (or run without mpiexec)")


TRAIN_CFG = """
[net]
batch={batch}
subdivisions=1
width=32
height=32
channels=3
learning_rate=0.01
momentum=0.9
decay=0.0005
max_batches=4
policy=constant

[convolutional]
filters=8
size=3
pad=1
activation=leaky

[maxpool]
size=2
stride=2

[convolutional]
filters=16
size=3
pad=1
activation=leaky

[maxpool]
size=2
stride=2

[convolutional]
filters=24
size=1
activation=linear

[yolo]
mask=0,1,2
anchors=4,4, 8,8, 12,12
classes=3
num=3
random=0
"""


def shapes_data(tmp_path):
    from darknet_py.data.shapes import write_shapes
    return write_shapes(tmp_path / "shapes", train=24, valid=0, size=32, seed=3)


def weights_floats(path):
    return np.frombuffer(path.read_bytes()[20:], np.float32)


def test_two_ranks_train_like_one_rank_with_twice_the_batch(tmp_path):
    """mpiexec -n 2 with batch 2 = one process with batch 4: the same images per iteration (rank r takes
    rows 2r..2r+1 of the global batch), the gradients summed before each update, the same weights."""
    exe = mpiexec()
    data = shapes_data(tmp_path)
    for name, batch in (("one", 4), ("two", 2)):
        (tmp_path / f"{name}.cfg").write_text(TRAIN_CFG.format(batch=batch))
    common = ["--max-batches", "4", "--seed", "5", "--no-augment"]
    one = subprocess.run([sys.executable, "-m", "darknet_py", "train", data, tmp_path / "one.cfg", *common],
                         capture_output=True, text=True, timeout=600)
    assert one.returncode == 0, one.stderr
    two = subprocess.run([exe, "-n", "2", sys.executable, "-m", "darknet_py", "train", data, tmp_path / "two.cfg",
                          *common], capture_output=True, text=True, timeout=600)
    assert two.returncode == 0, two.stderr
    backup = data.parent / "backup"
    a, b = weights_floats(backup / "one_final.weights"), weights_floats(backup / "two_final.weights")
    start = weights_floats(backup / "one_final.weights")      # sanity: training moved the weights
    assert a.shape == b.shape
    np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-6)
    from darknet_py import load_network
    first = load_network(tmp_path / "one.cfg")
    initial = np.concatenate([w.ravel() for l in first.layers for w in l.weight_arrays()])
    assert not np.allclose(initial, start, rtol=1e-3), "the run did not train"
    header_one, header_two = (backup / "one_final.weights").read_bytes()[:20], (backup / "two_final.weights").read_bytes()[:20]
    assert header_one == header_two, "the same number of images seen"
    assert len(set((backup / "loss.csv").read_text().splitlines())) > 1


FAILING_RANK = """
import sys
import darknet_py.train as t
from darknet_py.distributed import world
t.SAVE_EVERY = 2
real = t.train_batch
def train_batch(net, x, truth, reducer=None):
    if world().rank == 1 and net.current_batch() == 3:
        raise RuntimeError("simulated failure of this rank")
    return real(net, x, truth, reducer)
t.train_batch = train_batch
from darknet_py.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_a_rank_that_dies_stops_the_run_and_the_checkpoint_stays_whole(tmp_path):
    exe = mpiexec()
    data = shapes_data(tmp_path)
    (tmp_path / "net.cfg").write_text(TRAIN_CFG.format(batch=2))
    (tmp_path / "failing.py").write_text(FAILING_RANK)
    res = subprocess.run([exe, "-n", "2", sys.executable, tmp_path / "failing.py", "train", data, tmp_path / "net.cfg",
                          "--max-batches", "6", "--no-augment"], capture_output=True, text=True, timeout=600)
    assert res.returncode != 0
    assert "darknet-py: error: rank 1 of 2 stopped the run: simulated failure of this rank" in res.stderr
    from darknet_py import load_network
    net = load_network(tmp_path / "net.cfg", data.parent / "backup" / "net_last.weights")  # loads whole
    assert net.seen == 2 * 2 * 2          # saved after iteration 2: 2 iterations x 2 ranks x batch 2


def test_detect_over_two_ranks_prints_in_input_order(tmp_path):
    """mpiexec -n 2 darknet-py detect: the images are split over the ranks, the JSON lines come out in the
    order given, exactly as one process prints them, and a bad image on either rank sets exit status 1."""
    exe = mpiexec()
    from darknet_py import load_network
    data = shapes_data(tmp_path)
    images = sorted((data.parent / "images").glob("*.png"))[:5]
    bad = tmp_path / "not_an_image.png"
    bad.write_text("hello")
    (tmp_path / "net.cfg").write_text(TRAIN_CFG.format(batch=1))
    load_network(tmp_path / "net.cfg").save_weights(tmp_path / "net.weights")
    args = ["detect", tmp_path / "net.cfg", tmp_path / "net.weights", images[0], bad, *images[1:], images[0],
            "--json", "--thresh", "0.2"]
    one = subprocess.run([sys.executable, "-m", "darknet_py", *map(str, args)], capture_output=True, text=True,
                         timeout=600)
    two = subprocess.run([exe, "-n", "2", sys.executable, "-m", "darknet_py", *map(str, args)], capture_output=True,
                         text=True, timeout=600)
    assert one.returncode == two.returncode == 1, two.stderr
    lines = two.stdout.splitlines()
    assert lines == one.stdout.splitlines()
    assert [json.loads(l)["image"] for l in lines] == [str(p) for p in [images[0], *images[1:], images[0]]]
    assert sum("not_an_image.png" in l for l in two.stderr.splitlines()) == 1
