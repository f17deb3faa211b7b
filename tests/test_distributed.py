"""darknet_py.distributed: the launcher detection, one-message gradient allreduce over 2 real MPI ranks,
mismatched networks across ranks, and mpiexec without mpi4py. The MPI tests skip with a message where
mpi4py or mpiexec is absent (pip install 'darknet_py[mpi]' brings both: mpi4py and the mpich wheel)."""
import os
import shutil
import subprocess
import sys
import textwrap

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
r.allreduce()
for i, g in enumerate(grads):                 # rank 0 held 1*k + i, rank 1 2*k + i: the sum is 3k + 2i
    np.testing.assert_array_equal(g, 3 * np.arange(g.size) + 2 * i)
assert r.nbytes == 4 * sum(g.size for g in grads)
print("rank", w.rank, "of", w.size, "ok")
""", tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "rank 0 of 2 ok" in res.stdout and "rank 1 of 2 ok" in res.stdout


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
