#!/usr/bin/env python
"""Data-parallel scaling: measured on this machine, modelled for a cluster (issue #14, docs/scaling.md).

    python tools/bench_scaling.py cfg/yolov3-tiny.cfg --size 416 --batch 8 --ranks 1 2 --json out.json

Measures, each rank count in its own ``mpiexec -n R`` run (every rank holds the whole network and
trains on its own b = --batch images, as ``mpiexec -n R darknet-py train`` does):
* the training step: forward + backward + ONE allreduce of the packed gradients + update, median of
  --steps after --warmup; images/s of the whole run = R * b / step;
* the allreduce alone (the same buffer, median of 20), and the gradient buffer's size.
Then models R = 16, 64, 256 ranks over 10 and 100 Gbit/s links: a ring allreduce of G bytes takes
2 (R-1)/R * G / bandwidth + 2 (R-1) * latency, and with no overlap of communication and compute the
step is compute + allreduce, so the efficiency is compute / (compute + allreduce). Ranks beyond this
machine's cores cannot be measured here: the model takes the 1-rank compute time per step (each rank
of a cluster has its own cores) and this run's per-step latency assumption (--latency-us).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

WORKER = r"""
import json, sys, time
import numpy as np
sys.path.insert(0, ROOT)
from darknet_py import load_network
from darknet_py.distributed import GradientReducer, world

def median(xs):
    xs = sorted(xs); return xs[len(xs) // 2]

w = world()
net = load_network(CFG, batch=BATCH, max_memory=None)
reducer = GradientReducer(net, w)
rng = np.random.default_rng(w.rank)
x = rng.standard_normal((net.batch,) + tuple(net.input_shape)).astype(np.float32)
delta = None
steps, reduces = [], []
for i in range(WARMUP + STEPS):
    w.barrier()
    t0 = time.perf_counter()
    y = net.forward(x, train=True)
    if delta is None:
        delta = (0.01 * rng.standard_normal(y.shape)).astype(np.float32)
    net.backward(delta)
    t1 = time.perf_counter()
    reducer.allreduce()
    t2 = time.perf_counter()
    net.update()
    t3 = time.perf_counter()
    if i >= WARMUP:
        steps.append(t3 - t0)
        reduces.append(t2 - t1)
alone = []
for _ in range(20):
    w.barrier()
    t0 = time.perf_counter()
    reducer.allreduce()
    alone.append(time.perf_counter() - t0)
step = max(w.allgather(median(steps)))           # the slowest rank sets the pace
if w.rank == 0:
    print(json.dumps({"ranks": w.size, "batch_per_rank": net.batch, "step_s": step,
                      "images_per_s": w.size * net.batch / step, "allreduce_in_step_s": median(reduces),
                      "allreduce_alone_s": median(alone), "gradient_bytes": reducer.nbytes}))
"""


def measure(cfg, ranks, batch, steps, warmup, threads):
    """One mpiexec run with ``ranks`` ranks; returns rank 0's JSON result."""
    code = (f"ROOT = {ROOT!r}\nCFG = {cfg!r}\nBATCH = {batch}\nSTEPS = {steps}\nWARMUP = {warmup}\n" + WORKER)
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(code)
    env = dict(os.environ, NUMBA_NUM_THREADS=str(threads), OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    cmd = ["mpiexec", "-n", str(ranks), sys.executable, f.name] if ranks > 1 else [sys.executable, f.name]
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=3600)
    finally:
        os.unlink(f.name)
    if res.returncode != 0:
        sys.exit(f"bench_scaling: {ranks} rank(s) failed:\n{res.stderr[-3000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def ring_allreduce_s(nbytes, ranks, gbit, latency_s):
    return 2 * (ranks - 1) / ranks * nbytes / (gbit * 1e9 / 8) + 2 * (ranks - 1) * latency_s


def model(base, ranks_list=(16, 64, 256), links=(10, 100), latency_us=20.0):
    """Per R and link: step time, efficiency and images/s, from the 1-rank compute time per step."""
    compute = base["step_s"] - base["allreduce_in_step_s"]
    rows = []
    for gbit in links:
        for r in ranks_list:
            comm = ring_allreduce_s(base["gradient_bytes"], r, gbit, latency_us * 1e-6)
            step = compute + comm
            rows.append({"ranks": r, "link_gbit": gbit, "compute_s": compute, "allreduce_s": comm,
                         "efficiency": compute / step, "images_per_s": r * base["batch_per_rank"] / step})
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("cfg")
    p.add_argument("--size", type=int, help="override width and height")
    p.add_argument("--batch", type=int, default=8, help="images per rank per step")
    p.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    p.add_argument("--threads", type=int, default=1, help="Numba threads per rank (1: one core per rank)")
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--latency-us", type=float, default=20.0, help="per-message latency of the modelled network")
    p.add_argument("--json", metavar="OUT", help="also write the results as JSON")
    args = p.parse_args()
    cfg = args.cfg
    if args.size:
        import re
        text = open(cfg).read()
        text = re.sub(r"(?m)^(width|height)\s*=\s*\d+", rf"\g<1>={args.size}", text)
        tmp = tempfile.NamedTemporaryFile("w", suffix=".cfg", delete=False)
        tmp.write(text)
        tmp.close()
        cfg = tmp.name
    measured = [measure(cfg, r, args.batch, args.steps, args.warmup, args.threads) for r in args.ranks]
    print(f"cpu: {_cpu_model()}; {args.threads} Numba thread(s) per rank; batch {args.batch} per rank")
    print(f"{'ranks':>5} {'step ms':>9} {'images/s':>9} {'allreduce ms (in step / alone)':>31} {'gradients MB':>13}")
    for m in measured:
        print(f"{m['ranks']:>5} {1e3 * m['step_s']:>9.1f} {m['images_per_s']:>9.2f} "
              f"{1e3 * m['allreduce_in_step_s']:>14.2f} / {1e3 * m['allreduce_alone_s']:<14.2f} "
              f"{m['gradient_bytes'] / 1e6:>13.2f}")
    modelled = model(measured[0], latency_us=args.latency_us)
    print(f"\nmodel (ring allreduce, {args.latency_us:g} us per message, no overlap):")
    print(f"{'link':>8} {'ranks':>5} {'compute ms':>11} {'allreduce ms':>13} {'efficiency':>11} {'images/s':>10}")
    for row in modelled:
        print(f"{row['link_gbit']:>5} Gb {row['ranks']:>5} {1e3 * row['compute_s']:>11.1f} "
              f"{1e3 * row['allreduce_s']:>13.2f} {100 * row['efficiency']:>10.1f}% {row['images_per_s']:>10.1f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"cpu": _cpu_model(), "measured": measured, "model": modelled}, f, indent=1)


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            return next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        import platform
        return platform.processor() or "unknown"


if __name__ == "__main__":
    main()
