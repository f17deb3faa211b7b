"""Per-layer forward times of a cfg (inference, batch 1 by default), to guide performance work.

    python tools/profile_forward.py cfg/yolov3-tiny.cfg [--runs 7] [--plain] [--weights W] [--size 416]

Prints the median over ``--runs`` timed forwards (after warm-up) of every layer, the median total of
whole ``net.forward`` calls, and the process's peak RSS. ``--plain`` sets ``net.fast = False`` (the
reference path without the inference fast paths) so the two can be compared; ``--both`` measures
both in one process, interleaved, which is the fair comparison on a noisy machine.
Random weights are used unless ``--weights`` is given (batch-norm statistics are then made
non-trivial so a folded batch norm does real work).
"""
import argparse
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import darknet_py  # noqa: E402


def build(cfg, weights, size, batch):
    from darknet_py import cfg as cfgmod
    from darknet_py.network import build_network
    sections = cfgmod.read_cfg(cfg)
    if size:
        for key in ("width", "height"):
            line = sections[0].options.get(key, (None, sections[0].line))[1]
            sections[0].options[key] = (str(size), line)
    net = build_network(sections, str(cfg), batch=batch)
    if weights:
        net.load_weights(weights)
    else:
        rng = np.random.default_rng(1)
        for layer in net.layers:
            if getattr(layer, "batch_normalize", False):
                n = layer.scales.size
                layer.scales[:] = rng.uniform(0.5, 1.5, n)
                layer.biases[:] = rng.uniform(-0.1, 0.1, n)
                layer.rolling_mean[:] = rng.uniform(-0.1, 0.1, n)
                layer.rolling_variance[:] = rng.uniform(0.5, 2.0, n)
    return net


def time_layers(net, x, runs):
    """{layer index: [seconds per run]} of each layer's forward, run in order like Network.forward."""
    times = {i: [] for i in range(len(net.layers))}
    totals = []
    for _ in range(runs):
        t0 = time.perf_counter()
        net.forward(x)
        totals.append(time.perf_counter() - t0)
        net.input = net.input_buffer
        for i, layer in enumerate(net.layers):
            net.index = i
            t = time.perf_counter()
            layer.forward(net)
            times[i].append(time.perf_counter() - t)
            net.input = layer.output
    return times, totals


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("cfg")
    p.add_argument("--weights")
    p.add_argument("--runs", type=int, default=7)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--size", type=int, default=0, help="override width/height")
    p.add_argument("--plain", action="store_true", help="net.fast = False: the reference path")
    p.add_argument("--both", action="store_true", help="fast and plain, interleaved, in one process")
    args = p.parse_args(argv)
    net = build(args.cfg, args.weights, args.size, args.batch)
    x = np.random.default_rng(0).random((args.batch,) + tuple(net.input_shape), dtype=np.float32)
    modes = [False, True] if args.both else [not args.plain]
    results = {}
    for fast in modes:                               # warm-up (JIT / cache load) of each path
        net.fast = fast
        net.forward(x)
    for _ in range(2 if args.both else 1):
        for fast in modes:
            net.fast = fast
            t, tot = time_layers(net, x, args.runs)
            old = results.get(fast)
            if old:
                for i in t:
                    old[0][i].extend(t[i])
                old[1].extend(tot)
            else:
                results[fast] = (t, tot)
    med = {fast: ({i: statistics.median(v) * 1e3 for i, v in t.items()}, statistics.median(tot) * 1e3)
           for fast, (t, tot) in results.items()}
    head = "  ".join(f"{'fast' if f else 'plain':>8}" for f in modes)
    print(f"{'#':>3} {'type':<14} {'shape out':<16} {'GFLOP':>6}  {head}  (ms, median of {len(next(iter(results.values()))[1])})")
    for i, layer in enumerate(net.layers):
        cols = "  ".join(f"{med[f][0][i]:8.3f}" for f in modes)
        print(f"{i:3d} {layer.type:<14} {'x'.join(map(str, layer.out_shape)):<16} {layer.flops() / 1e9:6.3f}  {cols}")
    print(f"{'':3} {'sum of layers':<31} {'':>6}  " + "  ".join(f"{sum(med[f][0].values()):8.3f}" for f in modes))
    print(f"{'':3} {'net.forward':<31} {'':>6}  " + "  ".join(f"{med[f][1]:8.3f}" for f in modes))
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
