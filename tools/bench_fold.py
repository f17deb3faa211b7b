"""Inference with batch norm folded into the conv weights (net.fold_batchnorm) against the fused
per-channel scale (the default), in one process, interleaved: time, resident memory, output difference.

    python tools/bench_fold.py cfg/yolov3-tiny.cfg [--size 416] [--batch 1] [--runs 7] [--rounds 4]

Random weights with non-trivial batch-norm statistics (tools/profile_forward.build). The folded
weights live in a buffer allocated at build time whose pages become resident at the first fold, so
the memory cost is the growth of VmRSS across the first folded forward.
"""
import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from profile_forward import build  # noqa: E402


def rss_mib():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024


def timed(net, x, runs):
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        net.forward(x)
        out.append(1e3 * (time.perf_counter() - t0))
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("cfg")
    p.add_argument("--size", type=int, default=0)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--runs", type=int, default=7)
    p.add_argument("--rounds", type=int, default=4)
    args = p.parse_args(argv)
    net = build(args.cfg, None, args.size, args.batch)
    x = np.random.default_rng(0).random((args.batch,) + tuple(net.input_shape), dtype=np.float32)
    net.fold_batchnorm = False
    plain = net.forward(x).copy()
    before = rss_mib()
    net.fold_batchnorm = True
    folded = net.forward(x).copy()
    grown = rss_mib() - before
    times = {False: [], True: []}
    for _ in range(args.rounds):
        for fold in (False, True):
            net.fold_batchnorm = fold
            net.forward(x)                               # one untimed call after switching
            times[fold] += timed(net, x, args.runs)
    diff = float(np.max(np.abs(folded.astype(np.float64) - plain)))
    print(f"{args.cfg} batch {args.batch}: {args.rounds} rounds x {args.runs} runs, interleaved")
    for fold in (False, True):
        t = times[fold]
        print(f"  fold_batchnorm={fold!s:<5}: median {statistics.median(t):7.2f} ms, min {min(t):7.2f} ms")
    print(f"  folded/fused: {statistics.median(times[True]) / statistics.median(times[False]):.3f} (medians), "
          f"{min(times[True]) / min(times[False]):.3f} (mins)")
    print(f"  resident memory added by the first fold: {grown:.1f} MiB; max |folded - fused| {diff:.3g} "
          f"(max |y| {float(np.max(np.abs(plain))):.3g})")


if __name__ == "__main__":
    main()
