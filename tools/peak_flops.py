#!/usr/bin/env python
"""Measure this machine's FP32 FMA peak with a Numba microbenchmark built from darknet_py's _jit decorators.

    python tools/peak_flops.py --threads 2 [--json PATH]

The kernel keeps ACCUMULATORS x 16 float32 chains in registers and runs ``a = a * x + y`` on each of
them: with the flags _jit.py sets (contract, no 256-bit preference) LLVM turns every group of 16 into
one ``vfmadd213ps zmm`` and the loop body is nothing but 12 independent FMAs (enough to cover the
4-cycle FMA latency on 2 FMA units). Each thread runs its own copy (prange over threads). The figure
is the BEST of ``--repeat`` timings: a peak is what the machine can do, not what it usually does.

The generated kernel source is compiled with this file's name so that numba's on-disk cache can
locate it (it is regenerated identically from this file, whose change invalidates the cache).
"""
import argparse
import json
import os
import sys
import time

ACCUMULATORS = 12       # zmm registers holding independent chains
LANES = 16              # float32 lanes of a zmm register


def _generated_source():
    lines = ["def _fma_chains(n, x, y, out, row):"]
    names = [f"a{j}_{l}" for j in range(ACCUMULATORS) for l in range(LANES)]
    lines += [f"    {v} = out[row, {i}]" for i, v in enumerate(names)]
    lines.append("    for _ in range(n):")
    lines += [f"        {v} = {v} * x[{i % LANES}] + y[{i % LANES}]" for i, v in enumerate(names)]
    lines += [f"    out[row, {i}] = {v}" for i, v in enumerate(names)]
    return "\n".join(lines) + "\n"


def build_kernels():
    from darknet_py.kernels._jit import gemm_kernel, parallel_gemm_kernel, prange
    ns = {"__name__": __name__}     # numba's cache rebuilds the function's globals from this module
    exec(compile(_generated_source(), __file__, "exec"), ns)
    chains = gemm_kernel(ns["_fma_chains"])

    @parallel_gemm_kernel
    def fma_parallel(n, x, y, out, tasks):
        for t in prange(tasks):
            chains(n, x, y, out, t)

    return fma_parallel


def measure_peak(threads, seconds=0.1, repeat=15):
    """Best GFLOPS of ``threads`` threads running the FMA kernel (numba's thread count is set here)."""
    import numba
    import numpy as np
    numba.set_num_threads(threads)
    fma = build_kernels()
    x = np.full(LANES, 0.999, np.float32)
    y = np.full(LANES, 0.001, np.float32)
    out = np.ones((threads, ACCUMULATORS * LANES), np.float32)
    fma(10, x, y, out, threads)                    # compile / load from the cache
    n = 100_000
    t0 = time.perf_counter()
    fma(n, x, y, out, threads)
    n = max(1000, int(n * seconds / max(time.perf_counter() - t0, 1e-6)))
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fma(n, x, y, out, threads)
        best = min(best, time.perf_counter() - t0)
    flop = 2.0 * n * ACCUMULATORS * LANES * threads
    return flop / best / 1e9


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeat", type=int, default=15)
    p.add_argument("--json", metavar="PATH")
    args = p.parse_args(argv)
    os.environ["NUMBA_NUM_THREADS"] = str(max(args.threads, 1))
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    per_thread = {1: measure_peak(1, repeat=args.repeat)}
    if args.threads > 1:
        per_thread[args.threads] = measure_peak(args.threads, repeat=args.repeat)
    for t, g in per_thread.items():
        print(f"FP32 FMA peak, {t} thread(s): {g:.1f} GFLOPS")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"gflops": {str(t): g for t, g in per_thread.items()}, "threads": args.threads,
                       "accumulators": ACCUMULATORS, "lanes": LANES}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
