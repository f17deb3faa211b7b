#!/usr/bin/env python
"""Benchmark darknet_py's gemm against numpy's matmul (OpenBLAS) on yolov3-tiny's conv-shaped gemms.

    python tools/bench_gemm.py                       # 2 threads, float32, the issue #4 shapes
    python tools/bench_gemm.py --threads 1 --json out.json
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python tools/bench_gemm.py
    NUMBA_CPU_NAME=haswell OPENBLAS_CORETYPE=Haswell python tools/bench_gemm.py   # AVX2 build, proxy
    python tools/bench_gemm.py --threads 1 --clock cpu    # kernels alone, on a machine others load

The header names the CPU, the CPU Numba compiles for, the ISA gemm chose and its register tile
(darknet_py.kernels.gemm.ISA / tile()); ``--isa`` times another ISA's kernel on this target instead.
With ``NUMBA_CPU_NAME=haswell`` Numba emits AVX2+FMA code, so gemm picks its AVX2 tile: run on an
AVX-512 host that is a PROXY for an AVX2 machine (same instructions and registers, not the same
cores, caches or clocks); pin OpenBLAS to its Haswell kernel the same way for a like-for-like ratio.

Shapes are M x K x N with A = weights (M, K) and B = im2col (K, N), i.e. NN with M = filters,
K = c*k*k, N = out_h*out_w of yolov3-tiny at 416x416, plus a square 1024^3.

How it measures (PERFORMANCE.md's traps):
* numpy and numba never alternate call by call: OpenBLAS's spinning worker threads slow a Numba
  parallel kernel that runs right after an np.matmul. All shapes are timed in separate phases
  (every numpy call, a pause, every numba call, a pause), and the pair of phases is repeated
  ``--rounds`` times so that slow drift of this noisy VM hits both sides alike.
* On 2 cores, any other busy process preempts one of the two threads of a fork-join and the call
  waits a scheduler quantum (4-8 ms): check that the machine is otherwise idle. The last column,
  the ratio of the fastest calls, is what the kernels can do when undisturbed.
* The figure per side is the median of all its timed calls (``--repeat`` per round, >= 5).
* The ratio is numpy_ms / numba_ms: the fraction of OpenBLAS's speed that gemm reaches.
* Thread counts are set before numpy and numba are imported (OPENBLAS_NUM_THREADS,
  NUMBA_NUM_THREADS), and the table header says what each library reports.
* OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE may be set on these machines (older OpenBLAS builds need
  them); they can make numpy pick a slower kernel. The header prints them and the kernel
  (architecture) that threadpoolctl reports; to compare against a current numpy's best, unset both
  for that one command as shown above.
"""
import argparse
import json
import os
import sys
import time

PAUSE_S = 0.3   # between phases, so one library's idle spinning threads do not slow the other

SHAPES = [  # (M, K, N)
    (16, 27, 173056),
    (32, 144, 43264),
    (64, 288, 10816),
    (128, 576, 2704),
    (256, 1152, 676),
    (512, 2304, 169),
    (1024, 4608, 169),
    (256, 1024, 169),
    (1024, 1024, 1024),
]


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=2, help="threads for both numpy and numba (default 2)")
    p.add_argument("--repeat", type=int, default=7, help="timed calls per phase (>= 5)")
    p.add_argument("--rounds", type=int, default=3, help="numpy/numba phase pairs per shape")
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    p.add_argument("--shapes", default=None,
                   help="comma-separated MxKxN list (default: the yolov3-tiny shapes and 1024^3)")
    p.add_argument("--trans", default="NN", choices=["NN", "NT", "TN", "TT"],
                   help="transpose case for gemm (numpy multiplies the same logical matrices)")
    p.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                   help="wall time (default), or this process's CPU time: with --threads 1 on a machine "
                        "that other processes keep busy, CPU time counts only the time the call ran")
    p.add_argument("--isa", choices=["avx512", "avx2", "generic"],
                   help="time this ISA's kernel instead of the one chosen for the target CPU")
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = p.parse_args(argv)
    if args.repeat < 5:
        p.error("--repeat must be >= 5")
    if args.clock == "cpu" and args.threads != 1:
        p.error("--clock cpu needs --threads 1 (CPU time of several threads adds up, spinning included)")
    return args


def _median(xs):
    s = sorted(xs)
    n = len(s)
    return s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2])


def _time_calls(fn, repeat, clock=time.perf_counter):
    out = []
    for _ in range(repeat):
        t0 = clock()
        fn()
        out.append(clock() - t0)
    return out


def main(argv=None):
    args = parse_args(argv)
    n = str(args.threads)
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ[var] = n
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

    import numpy as np
    import numba
    from darknet_py.bench import cpu_model
    from darknet_py.kernels import gemm as gemm_module
    from darknet_py.kernels._jit import target_cpu

    numba.set_num_threads(args.threads)
    dtype = np.dtype(args.dtype)
    isa = args.isa or gemm_module.ISA
    gemm = gemm_module.gemm_for(isa, dtype)
    target = "%s (%s)" % (target_cpu()[0], "ISA chosen: " + gemm_module.ISA)
    ta, tb = args.trans[0] == "T", args.trans[1] == "T"
    shapes = SHAPES if not args.shapes else [tuple(int(v) for v in s.lower().split("x"))
                                             for s in args.shapes.split(",")]

    blas = "unknown (pip install threadpoolctl to see it)"
    try:
        from threadpoolctl import threadpool_info
        np.ones((64, 64), dtype) @ np.ones((64, 64), dtype)
        infos = [i for i in threadpool_info() if i.get("user_api") == "blas"]
        if infos:
            i = infos[0]
            blas = "%s %s, kernel %s, %s threads" % (i.get("internal_api"), i.get("version"),
                                                    i.get("architecture"), i.get("num_threads"))
    except ImportError:
        pass
    env_notes = ", ".join("%s=%s" % (v, os.environ[v]) for v in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
                          if v in os.environ) or "OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE unset"

    # Compile (or load from the cache) outside the timed region, and say how long that took.
    t0 = time.perf_counter()
    x = np.ones((3, 3), dtype)
    gemm(ta, tb, 1.0, x, x, 0.0, np.empty((3, 3), dtype))
    first_call_s = time.perf_counter() - t0

    print("CPU: %s; numba target: %s; kernel timed: %s" % (cpu_model(), target, gemm_module.tile(dtype, isa)))
    print("gemm benchmark: %s %s, %d threads (numba %s, threading layer %s; numpy %s: %s; %s)"
          % (args.dtype, args.trans, args.threads, numba.__version__, numba.threading_layer(),
             np.__version__, blas, env_notes))
    print("first gemm call (compile or cache load): %.2f s; medians of %d calls per side (%d rounds x %d), %s time"
          % (first_call_s, args.rounds * args.repeat, args.rounds, args.repeat, args.clock))
    header = "%-20s %10s %10s %10s %10s %7s %10s" % ("shape MxKxN", "numba ms", "numpy ms", "numba GF/s",
                                                     "numpy GF/s", "ratio", "best/best")
    print(header)
    print("-" * len(header))

    rng = np.random.default_rng(0)
    cases = []
    for (m, k, n_) in shapes:
        a = rng.standard_normal((k, m) if ta else (m, k)).astype(dtype)
        b = rng.standard_normal((n_, k) if tb else (k, n_)).astype(dtype)
        cases.append(dict(m=m, k=k, n=n_, a=a, b=b, opa=a.T if ta else a, opb=b.T if tb else b,
                          c_np=np.empty((m, n_), dtype), c_nb=np.zeros((m, n_), dtype), t_np=[], t_nb=[]))

    def numpy_phase():
        for cs in cases:
            def run():
                np.matmul(cs["opa"], cs["opb"], out=cs["c_np"])
            run()                               # warm-up (threads, caches), untimed
            cs["t_np"] += _time_calls(run, args.repeat, clock)

    def numba_phase():
        for cs in cases:
            def run():
                gemm(ta, tb, 1.0, cs["a"], cs["b"], 0.0, cs["c_nb"])
            run()
            cs["t_nb"] += _time_calls(run, args.repeat, clock)

    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    for _ in range(args.rounds):
        numpy_phase()
        time.sleep(PAUSE_S)     # OpenBLAS's idle workers spin ~2^28 cycles (~70 ms) before sleeping
        numba_phase()
        time.sleep(PAUSE_S)

    rows = []
    for cs in cases:
        m, k, n_ = cs["m"], cs["k"], cs["n"]
        c_np = cs["c_np"]
        err = float(np.max(np.abs(cs["c_nb"].astype(np.float64) - c_np)) / max(1.0, float(np.max(np.abs(c_np)))))
        flop = 2.0 * m * n_ * k
        ms_nb, ms_np = 1e3 * _median(cs["t_nb"]), 1e3 * _median(cs["t_np"])
        best_ratio = min(cs["t_np"]) / min(cs["t_nb"])
        row = dict(m=m, k=k, n=n_, numba_ms=ms_nb, numpy_ms=ms_np,
                   numba_gflops=flop / ms_nb / 1e6, numpy_gflops=flop / ms_np / 1e6,
                   ratio=ms_np / ms_nb, best_ratio=best_ratio, max_rel_err=err)
        rows.append(row)
        print("%-20s %10.3f %10.3f %10.1f %10.1f %6.0f%% %9.0f%%" % (
            "%dx%dx%d" % (m, k, n_), ms_nb, ms_np, row["numba_gflops"], row["numpy_gflops"],
            100 * row["ratio"], 100 * best_ratio))
    bad = [r for r in rows if not r["max_rel_err"] < 1e-3]
    for r in bad:
        print("WRONG RESULT: %dx%dx%d max relative error %g" % (r["m"], r["k"], r["n"], r["max_rel_err"]))
    ratios = [r["ratio"] for r in rows]
    worst = min(rows, key=lambda r: r["ratio"])
    print("-" * len(header))
    print("median ratio %.0f%%, worst %.0f%% (%dx%dx%d); ratio = numpy ms / numba ms of the medians;"
          " best/best = ratio of the fastest calls (robust to other load on the machine)"
          % (100 * _median(ratios), 100 * worst["ratio"], worst["m"], worst["k"], worst["n"]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(cpu=cpu_model(), target=target, tile=gemm_module.tile(dtype, isa), threads=args.threads, pause_s=PAUSE_S, dtype=args.dtype, trans=args.trans, clock=args.clock, blas=blas,
                           env=env_notes, numba=numba.__version__, numpy=np.__version__,
                           first_call_s=first_call_s, rows=rows, median_ratio=_median(ratios),
                           worst_ratio=worst["ratio"]), f, indent=1)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
