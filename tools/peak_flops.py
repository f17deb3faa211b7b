#!/usr/bin/env python
"""Measure this machine's FP32 FMA peak with a Numba microbenchmark built from darknet_py's _jit decorators.

    python tools/peak_flops.py --threads 2 [--accumulators 12] [--json PATH]
    NUMBA_CPU_NAME=haswell python tools/peak_flops.py      # the AVX2 variant (on any AVX2 host)

The kernel keeps ACCUMULATORS x LANES float32 chains in registers and runs ``a = a * x + y`` on each
of them: with the flags _jit.py sets (contract, no 256-bit preference) LLVM turns every group of
LANES into one vector FMA, so the loop body is nothing but ACCUMULATORS independent FMAs. LANES is
the vector width of the ISA numba targets (the same choice gemm makes, _jit.target_isa): 16 on
AVX-512 (zmm), 8 on AVX2 (ymm; 16 registers), 4 otherwise (xmm/NEON; without FMA a multiply and an
add, still 2 flops). 12 chains cover latency x FMA units on every current core: Intel 4 cycles x 2
units = 8 chains, AMD Zen 2/3 5 x 2 = 10 (the old fixed 16-lane kernel spilled on AVX2's 16 ymm
registers and reported 86 GFLOPS on an EPYC that OpenCV drives at 135), and 12 + 2 operand
registers still fit 16 ymm. Each thread runs its own copy (prange over threads). The figure is the
BEST of ``--repeat`` timings: a peak is what the machine can do, not what it usually does. The
1-thread figure is timed in CPU time, so other processes on the machine do not lower it; the
multi-thread figure is wall time and drops whenever another process takes a core.

The generated kernel source is compiled with this file's name so that numba's on-disk cache can
locate it (it is regenerated identically from this file, whose change invalidates the cache; the
function's name carries its shape, and numba's key the target CPU).
"""
import argparse
import json
import os
import sys
import time

ACCUMULATORS = 12       # vector registers holding independent chains (default)
LANES = {"avx512": 16, "avx2": 8, "generic": 4}     # float32 lanes of one vector register


def _generated_source(accumulators, lanes):
    name = f"_fma_chains_{accumulators}x{lanes}"
    lines = [f"def {name}(n, x, y, out, row):"]
    names = [f"a{j}_{l}" for j in range(accumulators) for l in range(lanes)]
    lines += [f"    {v} = out[row, {i}]" for i, v in enumerate(names)]
    lines.append("    for _ in range(n):")
    lines += [f"        {v} = {v} * x[{i % lanes}] + y[{i % lanes}]" for i, v in enumerate(names)]
    lines += [f"    out[row, {i}] = {v}" for i, v in enumerate(names)]
    return name, "\n".join(lines) + "\n"


def build_kernels(accumulators, lanes):
    from darknet_py.kernels._jit import gemm_kernel, parallel_gemm_kernel, prange
    ns = {"__name__": __name__}     # numba's cache rebuilds the function's globals from this module
    name, source = _generated_source(accumulators, lanes)
    exec(compile(source, __file__, "exec"), ns)
    chains = gemm_kernel(ns[name])

    @parallel_gemm_kernel
    def fma_parallel(n, x, y, out, tasks):
        for t in prange(tasks):
            chains(n, x, y, out, t)

    return fma_parallel


def measure_peak(threads, accumulators, lanes, seconds=0.1, repeat=15):
    """Best GFLOPS of ``threads`` threads running the FMA kernel (numba's thread count is set here)."""
    import numba
    import numpy as np
    numba.set_num_threads(threads)
    fma = build_kernels(accumulators, lanes)
    x = np.full(lanes, 0.999, np.float32)
    y = np.full(lanes, 0.001, np.float32)
    out = np.ones((threads, accumulators * lanes), np.float32)
    fma(10, x, y, out, threads)                    # compile / load from the cache
    n = 100_000
    t0 = time.perf_counter()
    fma(n, x, y, out, threads)
    n = max(1000, int(n * seconds / max(time.perf_counter() - t0, 1e-6)))
    # One thread: CPU time, which counts only the time the thread ran (robust to other processes
    # on the machine). Several threads: wall time (their CPU times add up).
    clock = time.process_time if threads == 1 else time.perf_counter
    best = float("inf")
    for _ in range(repeat):
        t0 = clock()
        fma(n, x, y, out, threads)
        best = min(best, clock() - t0)
    flop = 2.0 * n * accumulators * lanes * threads
    return flop / best / 1e9


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeat", type=int, default=15)
    p.add_argument("--accumulators", type=int, default=ACCUMULATORS,
                   help=f"independent vector FMA chains (default {ACCUMULATORS})")
    p.add_argument("--json", metavar="PATH")
    args = p.parse_args(argv)
    os.environ["NUMBA_NUM_THREADS"] = str(max(args.threads, 1))
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    from darknet_py.bench import cpu_model
    from darknet_py.kernels._jit import target_cpu, target_isa
    isa, cpu = target_isa(), cpu_model()
    lanes = LANES[isa]
    shape = dict(accumulators=args.accumulators, lanes=lanes)
    per_thread = {1: measure_peak(1, repeat=args.repeat, **shape)}
    if args.threads > 1:
        per_thread[args.threads] = measure_peak(args.threads, repeat=args.repeat, **shape)
    print(f"CPU: {cpu}; numba target {target_cpu()[0]}, ISA {isa}: {args.accumulators} chains of {lanes} float32")
    for t, g in per_thread.items():
        print(f"FP32 FMA peak, {t} thread(s): {g:.1f} GFLOPS" + (" (CPU time)" if t == 1 else " (wall time)"))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"gflops": {str(t): g for t, g in per_thread.items()}, "threads": args.threads,
                       "cpu": cpu, "isa": isa, "target": target_cpu()[0], **shape}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
