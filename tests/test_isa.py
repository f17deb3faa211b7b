"""Kernels chosen by the CPU: ISA detection, and gemm built for another CPU under NUMBA_CPU_NAME.

A subprocess per target, each with its own empty NUMBA_CACHE_DIR: NUMBA_CPU_NAME=haswell must make
numba emit AVX2+FMA code (no zmm register: this host may have AVX-512) and gemm choose its AVX2
tile; NUMBA_CPU_NAME=generic must give the generic tile and plain SSE2 code (no FMA, so a multiply
and an add round separately: the naive twin, compiled for the same target, still agrees bitwise).
The haswell run is repeated on the same cache folder to check that the driver is then loaded from
numba's cache rather than compiled. Only float32 is compiled in the subprocesses.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from darknet_py.kernels._jit import target_isa

TESTS = Path(__file__).resolve().parent

SCRIPT = r"""
import json, sys
import numpy as np
sys.path.insert(0, sys.argv[1])
from darknet_py.kernels import gemm as g
from darknet_py.kernels._jit import target_cpu
from naive_gemm import check_bitwise, operands

t = g.TILES[g.ISA, "f4"]
rng = np.random.default_rng(0)
for m, n, k in [(1, 1, 1), (t.mr + 1, t.nr + 1, t.kc + 1), (t.mc + 9, 169, 70), (11, 2 * t.nr + 3, 9), (31, 53, 97)]:
    for ta in (False, True):
        for tb in (False, True):
            a, b, c = operands(rng, np.float32, ta, tb, m, n, k)
            check_bitwise(g.gemm, ta, tb, 1.0, a, b, 0.5, c)
            a, b, c = operands(rng, np.float32, ta, tb, m, n, k, integers=True)
            ref = 0.5 * c + (a.T if ta else a).astype(np.float64) @ (b.T if tb else b).astype(np.float64)
            g.gemm(ta, tb, 1.0, a, b, 0.5, c)
            np.testing.assert_array_equal(c, ref)
driver = g.gemm_for(g.ISA)
block = driver.py_func.__globals__["_block"]
asm = "".join(block.inspect_asm(s) for s in block.signatures) if block.signatures else ""
print(json.dumps(dict(isa=g.ISA, tile=g.tile(), cpu=target_cpu()[0], asm=dict(
    zmm="zmm" in asm, ymm="ymm" in asm, fma="vfmadd" in asm, seen=bool(asm)),
    hits=sum(driver.stats.cache_hits.values()), misses=sum(driver.stats.cache_misses.values()))))
"""


def _run_as(cpu_name, cache_dir):
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_CPU")}
    env.update(NUMBA_CPU_NAME=cpu_name, NUMBA_CACHE_DIR=str(cache_dir), DARKNET_PY_JIT_CACHE="1")
    res = subprocess.run([sys.executable, "-W", "ignore", "-c", SCRIPT, str(TESTS)], capture_output=True,
                         text=True, env=env, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    return json.loads(res.stdout.strip().splitlines()[-1])


def test_haswell_target_chooses_avx2_and_is_cached(tmp_path):
    first = _run_as("haswell", tmp_path)
    assert first["isa"] == "avx2" and first["tile"] == "avx2 3x32 float32 (+3x16 tail)" and first["cpu"] == "haswell"
    assert first["asm"] == dict(zmm=False, ymm=True, fma=True, seen=True), "not AVX2+FMA machine code"
    assert first["misses"] == 1 and first["hits"] == 0
    again = _run_as("haswell", tmp_path)
    assert again["isa"] == "avx2" and again["hits"] == 1 and again["misses"] == 0


def test_generic_target_chooses_the_generic_tile(tmp_path):
    out = _run_as("generic", tmp_path)
    assert out["isa"] == "generic" and out["tile"] == "generic 4x8 float32"
    assert out["asm"] == dict(zmm=False, ymm=False, fma=False, seen=True), "not baseline x86-64 machine code"


@pytest.mark.parametrize("name,features,isa", [
    ("haswell", "", "avx2"),
    ("haswell", "-prefer-256-bit", "avx2"),
    ("znver3", "", "avx2"),
    ("skylake-avx512", "-prefer-256-bit", "avx512"),
    ("znver4", "", "avx512"),
    ("rocketlake", "+avx2,-avx512f,+fma", "avx2"),      # a VM that hides AVX-512 from a named CPU
    ("haswell", "-fma", "generic"),
    ("generic", "", "generic"),
    ("x86-64", "+sse2,+sse4.2", "generic"),
    ("cortex-a72", "+neon", "generic"),
    ("unknown-cpu", "+avx,+avx2,+fma,+avx512f", "avx512"),
    ("unknown-cpu", "+avx2", "generic"),                 # AVX2 without FMA: no FMA tile
])
def test_isa_of_cpu_name_and_features(name, features, isa):
    assert target_isa(name, features) == isa


def test_bench_reports_the_choice_under_numba_cpu_name():
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_CPU")}
    env.update(NUMBA_CPU_NAME="haswell", DARKNET_PY_NO_PLUGINS="1")
    res = subprocess.run([sys.executable, "-m", "darknet_py", "bench", "--no-gemm"], capture_output=True,
                         text=True, env=env)
    assert res.returncode == 0, res.stderr
    assert "Numba target:  haswell (from NUMBA_CPU_NAME=haswell), gemm ISA avx2" in res.stdout
    assert "avx2 3x32 float32 (+3x16 tail)" in res.stdout and "avx2 3x16 float64" in res.stdout
    assert "CPU:" in res.stdout and "threads:" in res.stdout


def test_bench_compares_gemm_with_numpy():
    from darknet_py.bench import compare_gemm
    rows = compare_gemm(shapes=[(5, 7, 40)], repeat=1, rounds=1)
    assert [(r["m"], r["k"], r["n"]) for r in rows] == [(5, 7, 40)]
    assert rows[0]["gemm_gflops"] > 0 and rows[0]["numpy_gflops"] > 0 and rows[0]["ratio"] > 0
