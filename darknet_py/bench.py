"""``darknet-py bench``: which kernels this machine runs, and how fast gemm is next to numpy's matmul.

Prints the CPU model, the CPU Numba compiles for (NUMBA_CPU_NAME / NUMBA_CPU_FEATURES or the host),
the gemm ISA chosen from it and its register tiles, the thread count, then a quick gemm GFLOPS
against numpy's matmul (OpenBLAS) on a few conv-shaped products of yolov3-tiny at 416x416, as ratios.

The comparison is quick, not careful: a couple of rounds that alternate the two libraries (never
call by call: OpenBLAS's spinning worker threads slow a Numba parallel kernel that runs right after
an np.matmul), and the ratio of the best calls, which is robust to other load on the machine.
tools/bench_gemm.py is the careful version (more shapes, medians, JSON).
"""
import platform
import time

import numpy as np

# (M, K, N) of NN gemms: M = filters, K = c*k*k, N = out_h*out_w of yolov3-tiny 416 convolutions.
SHAPES = [(32, 144, 43264), (128, 576, 2704), (256, 1152, 676), (512, 2304, 169)]
PAUSE_S = 0.2       # between phases, so one library's idle spinning threads do not slow the other


def cpu_model():
    """The CPU's marketing name ("AMD EPYC 7B13", "Intel(R) Xeon(R) Processor", ...), best effort."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.split(":")[0].strip() in ("model name", "Model", "Hardware"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def machine_report():
    """What the kernels were chosen from: CPU, Numba's target, the gemm ISA and tiles, threads."""
    from .kernels import gemm
    from .kernels._jit import CPU_REQUEST, target_cpu, thread_count
    return dict(cpu=cpu_model(), numba_cpu=target_cpu()[0], numba_cpu_from=CPU_REQUEST,
                isa=gemm.ISA, tiles={np.dtype(d).name: gemm.tile(d) for d in (np.float32, np.float64)},
                threads=thread_count())


def _best_seconds(fn, repeat):
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def compare_gemm(shapes=SHAPES, repeat=5, rounds=2):
    """Rows of (M, K, N, gemm GFLOPS, numpy GFLOPS, ratio) for float32 NN products, best calls."""
    from .kernels.gemm import gemm
    rng = np.random.default_rng(0)
    cases = [(rng.standard_normal((m, k), dtype=np.float32), rng.standard_normal((k, n), dtype=np.float32),
              np.zeros((m, n), np.float32)) for m, k, n in shapes]
    gemm(False, False, 1.0, cases[0][0][:1, :1], cases[0][1][:1, :1], 0.0, cases[0][2][:1, :1])  # compile
    best_np = [float("inf")] * len(cases)
    best_nb = list(best_np)
    for _ in range(rounds):
        for i, (a, b, c) in enumerate(cases):
            best_np[i] = min(best_np[i], _best_seconds(lambda: np.matmul(a, b, out=c), repeat + 1))
        time.sleep(PAUSE_S)
        for i, (a, b, c) in enumerate(cases):
            best_nb[i] = min(best_nb[i], _best_seconds(lambda: gemm(False, False, 1.0, a, b, 0.0, c), repeat + 1))
        time.sleep(PAUSE_S)
    rows = []
    for (m, k, n), t_np, t_nb in zip(shapes, best_np, best_nb):
        flop = 2.0 * m * k * n
        rows.append(dict(m=m, k=k, n=n, gemm_gflops=flop / t_nb / 1e9, numpy_gflops=flop / t_np / 1e9,
                         ratio=t_np / t_nb))
    return rows


def run_bench(repeat=5, rounds=2, gemm_table=True, out=print):
    """Print the machine report and (unless ``gemm_table`` is False) the gemm comparison."""
    info = machine_report()
    out(f"CPU:           {info['cpu']}")
    out(f"Numba target:  {info['numba_cpu']} (from {info['numba_cpu_from']}), gemm ISA {info['isa']}")
    out(f"gemm tiles:    {info['tiles']['float32']}; {info['tiles']['float64']}")
    out(f"threads:       {info['threads']} (Numba; set NUMBA_NUM_THREADS and OPENBLAS_NUM_THREADS to change)")
    if not gemm_table:
        return info
    t0 = time.perf_counter()
    rows = compare_gemm(repeat=repeat, rounds=rounds)
    out(f"gemm vs numpy matmul, float32 NN, yolov3-tiny 416 conv shapes (best of {rounds * (repeat + 1)} calls each;"
        f" {time.perf_counter() - t0:.1f} s incl. any compile):")
    out(f"  {'M x K x N':<18} {'gemm GFLOPS':>12} {'numpy GFLOPS':>13} {'ratio':>6}")
    for r in rows:
        out(f"  {'%dx%dx%d' % (r['m'], r['k'], r['n']):<18} {r['gemm_gflops']:12.1f} {r['numpy_gflops']:13.1f}"
            f" {100 * r['ratio']:5.0f}%")
    ratios = sorted(r["ratio"] for r in rows)
    out(f"  median ratio {100 * ratios[len(ratios) // 2]:.0f}%, worst {100 * ratios[0]:.0f}% (ratio = numpy time / gemm time)")
    info["gemm"] = rows
    return info
