#!/usr/bin/env python
"""Training benchmarks (issue #13): the full training step, [yolo] loss included, against PyTorch eager;
and the wall time until a detector trained on the synthetic shapes data reaches a target mAP.

    python tools/bench_train.py throughput --json out.json            # shapes-detector b32 + yolov3-tiny 416 b8
    python tools/bench_train.py throughput --case darknet_py/models/shapes-detector.cfg:32:2 --runs 1 --rounds 1
    python tools/bench_train.py time-to-map --json out.json           # 2000/200 shapes images, seed 1, >= 0.9

throughput: every case (CFG:SIZE:BATCH; SIZE 0 keeps the cfg's) is prepared by tools/bench.py's
``prepare`` worker (random weights with perturbed batch-norm statistics, a fixed input) plus a fixed
truth (a few random boxes per image). Then, alternating --rounds times in fresh subprocesses with the
same thread settings (tools/bench.py's thread_env): darknet_py's Network.train_batch(x, truth) (Darknet's
train_network: training forward, the [yolo] loss, backward, SGD update) and PyTorch eager doing the same
step on the same layers (tools/bench.py's _torch_model in training mode) with a YOLOv3-style loss
written the simple way in torch. That loss is a STAND-IN OF SIMILAR COST, not Darknet's exact loss:
best anchor by shape IoU, squared errors on x, y, w, h, objectness and classes at the truth cells, and
the ignore rule (every prediction's best IoU with the image's truths) for the no-object term.
Figures: images/s from the median step, the min, and darknet_py/PyTorch = darknet_py's step time over
PyTorch's (medians and mins; > 1: PyTorch is faster).

time-to-map: writes the shapes data (darknet_py.data.shapes, seeded), trains CFG with
darknet_py.train.train and evaluates mAP@0.5 on the valid list (darknet_py.evaluate.evaluate_map, the
function behind ``darknet-py map``) every --every iterations, stopping at the first evaluation >= --target.
Training and evaluation wall times are reported separately (training includes data loading and the
loop's checkpoints every 100 iterations). Ctrl-C stops the training after the current iteration (train()'s
own handling) and the evaluations so far are reported (reached: false).
"""
import argparse
import functools
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench  # noqa: E402  (tools/bench.py: prepare worker, torch model, thread settings, helpers)

ROOT = bench.ROOT
DEFAULT_CASES = ("darknet_py/models/shapes-detector.cfg:0:32", "cfg/yolov3-tiny.cfg:416:8")
BOXES_PER_IMAGE = 4
TORCH_LOSS_NOTE = ("PyTorch's [yolo] loss is a stand-in of similar cost written the simple way in torch "
                   "(YOLOv3-style: best anchor, squared errors, ignore rule), not Darknet's exact loss")


# ====================================================================== workers (run in subprocesses)
def worker_prepare(a):
    """tools/bench.py's prepare (cfg at SIZE/BATCH, weights, input, spec, params) + a fixed truth."""
    import numpy as np
    from darknet_py.network import load_network
    bench.worker_prepare(argparse.Namespace(cfg=a.cfg, size=a.size, batch=a.batch, tmp=a.tmp, seed=a.seed,
                                            plain_init=False))
    spec = bench._load_spec(a)
    net = load_network(spec["cfg"], spec["weights"])
    rng = np.random.default_rng([a.seed, 7])
    truth = np.zeros((net.batch, net.truths), np.float32)          # rows of (x, y, w, h, class), zero-padded
    for b in range(net.batch):
        wh = rng.uniform(0.05, 0.4, (BOXES_PER_IMAGE, 2))
        xy = rng.uniform(wh / 2, 1 - wh / 2)
        cls = rng.integers(0, net.layers[-1].classes, (BOXES_PER_IMAGE, 1))
        truth[b, :5 * BOXES_PER_IMAGE] = np.hstack([xy, wh, cls]).ravel()
    np.save(os.path.join(a.tmp, "truth.npy"), truth)
    heads = [{"index": l.index, "mask": list(l.mask), "ignore_thresh": float(l.ignore_thresh)}
             for l in net.layers if l.type == "yolo"]
    anchors = [float(v) for v in net.layers[heads[0]["index"]].anchors] if heads else []
    with open(os.path.join(a.tmp, "yolo.json"), "w") as f:
        json.dump({"heads": heads, "anchors": anchors, "net_w": net.input_shape[2], "net_h": net.input_shape[1],
                   "unsupported": [] if heads else ["no [yolo] layer"]}, f)
    bench.emit({"ok": True})


def worker_darknet_train(a):
    import numba
    import numpy as np
    from darknet_py.network import load_network
    numba.set_num_threads(a.threads)
    spec = bench._load_spec(a)
    net = load_network(spec["cfg"], spec["weights"])
    x, truth = np.load(spec["input"]), np.load(os.path.join(a.tmp, "truth.npy"))
    losses = []
    steps = bench.timed_runs(lambda: losses.append(net.train_batch(x, truth)), a.warmup, a.runs)
    bench.emit({"step_ms": [1e3 * s for s in steps], "rss_mib": bench.max_rss_mib(),
                "loss_first": losses[0], "loss_last": losses[-1], "finite": bool(np.isfinite(losses).all()),
                "numba_threads": numba.get_num_threads()})


def torch_yolo_loss(outs, truth, yolo):
    """A YOLOv3-style loss on the [yolo] outputs of bench._torch_model (x, y, objectness, classes already
    through the logistic; w, h raw), written the simple way. ``truth``: (B, K, 5) x, y, w, h, class."""
    import torch
    anchors = torch.tensor(yolo["anchors"]).reshape(-1, 2)
    net_wh = torch.tensor([yolo["net_w"], yolo["net_h"]], dtype=torch.float32)
    t_xy, t_wh, t_cls = truth[..., :2], truth[..., 2:4], truth[..., 4].long()
    # best anchor of every truth by shape IoU (boxes aligned at a corner), over all anchors
    inter = torch.minimum(t_wh[..., None, :], anchors / net_wh).prod(-1)
    best = (inter / (t_wh.prod(-1)[..., None] + (anchors / net_wh).prod(-1) - inter)).argmax(-1)   # (B, K)
    loss = 0.0
    for out, head in zip(outs, yolo["heads"]):
        bsz, _, h, w = out.shape
        n = len(head["mask"])
        v = out.reshape(bsz, n, -1, h, w)
        mask_anchors = anchors[head["mask"]] / net_wh                                  # (n, 2)
        gy, gx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
        px = (v[:, :, 0] + gx) / w
        py = (v[:, :, 1] + gy) / h
        pw = torch.exp(v[:, :, 2]) * mask_anchors[:, 0, None, None]
        ph = torch.exp(v[:, :, 3]) * mask_anchors[:, 1, None, None]
        pred = torch.stack([px, py, pw, ph], -1).reshape(bsz, -1, 1, 4)                # (B, n*h*w, 1, 4)
        iou = _iou(pred, truth[:, None, :, :4]).amax(-1).reshape(bsz, n, h, w)
        obj = v[:, :, 4]
        noobj = (iou <= head["ignore_thresh"]).float().detach()
        loss = loss + (noobj * obj ** 2).sum()
        # the truths whose best anchor is in this head: squared errors at their cell
        local = {int(m): k for k, m in enumerate(head["mask"])}
        b_idx, k_idx = torch.nonzero(torch.isin(best, torch.tensor(head["mask"])), as_tuple=True)
        if len(b_idx) == 0:
            continue
        a_idx = torch.tensor([local[int(m)] for m in best[b_idx, k_idx]])
        tb = truth[b_idx, k_idx]
        i, j = (tb[:, 0] * w).long().clamp(0, w - 1), (tb[:, 1] * h).long().clamp(0, h - 1)
        cell = v[b_idx, a_idx, :, j, i]                                                 # (T, 5+classes)
        scale = 2 - tb[:, 2] * tb[:, 3]
        target = torch.stack([tb[:, 0] * w - i, tb[:, 1] * h - j,
                              torch.log(tb[:, 2] / mask_anchors[a_idx, 0]),
                              torch.log(tb[:, 3] / mask_anchors[a_idx, 1])], -1)
        loss = loss + (scale[:, None] * (cell[:, :4] - target) ** 2).sum()
        loss = loss + ((1 - cell[:, 4]) ** 2 - cell[:, 4] ** 2 * noobj[b_idx, a_idx, j, i]).sum()
        one_hot = torch.nn.functional.one_hot(t_cls[b_idx, k_idx], cell.shape[1] - 5).float()
        loss = loss + ((cell[:, 5:] - one_hot) ** 2).sum()
    return loss


def _iou(a, b):
    """IoU of centre-size boxes, broadcast over the leading axes (last axis x, y, w, h)."""
    import torch
    lo = torch.maximum(a[..., :2] - a[..., 2:] / 2, b[..., :2] - b[..., 2:] / 2)
    hi = torch.minimum(a[..., :2] + a[..., 2:] / 2, b[..., :2] + b[..., 2:] / 2)
    inter = (hi - lo).clamp(min=0).prod(-1)
    return inter / (a[..., 2:].prod(-1) + b[..., 2:].prod(-1) - inter + 1e-12)


def worker_torch_train(a):
    """PyTorch eager: training-mode forward (batch statistics), torch_yolo_loss, backward, SGD with
    momentum and weight decay (Darknet's cfg values)."""
    import numpy as np
    import torch
    torch.set_num_threads(a.threads)
    spec = bench._load_spec(a)
    with open(os.path.join(a.tmp, "yolo.json")) as f:
        yolo = json.load(f)
    params = dict(np.load(os.path.join(a.tmp, "params.npz")))
    x = torch.from_numpy(np.load(spec["input"]))
    flat = np.load(os.path.join(a.tmp, "truth.npy")).reshape(spec["batch"], -1, 5)[:, :BOXES_PER_IMAGE]
    truth = torch.from_numpy(np.ascontiguousarray(flat))
    model = bench._torch_model(spec, params, fold=False).train()
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.eps = 1e-5            # Darknet's training normalisation: (x - mean) / sqrt(var + 1e-5)
    opt = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9, weight_decay=5e-4)
    losses = []

    def step():
        loss = torch_yolo_loss(model(x), truth, yolo) / spec["batch"]
        opt.zero_grad(set_to_none=False)
        loss.backward()
        opt.step()
        losses.append(float(loss))

    steps = bench.timed_runs(step, a.warmup, a.runs)
    bench.emit({"step_ms": [1e3 * s for s in steps], "rss_mib": bench.max_rss_mib(), "version": torch.__version__,
                "threads": torch.get_num_threads(), "loss_first": losses[0], "loss_last": losses[-1],
                "finite": bool(np.isfinite(losses).all())})


WORKERS = {"prepare": worker_prepare, "darknet_train": worker_darknet_train, "torch_train": worker_torch_train}


# ====================================================================== throughput (orchestrator)
def spawn(args, worker, tmp, case):
    cmd = [sys.executable, os.path.abspath(__file__), "worker", "--worker", worker, "--tmp", tmp,
           "--cfg", case["cfg"], "--size", str(case["size"]), "--batch", str(case["batch"]),
           "--threads", str(args.threads), "--runs", str(args.runs), "--warmup", str(args.warmup),
           "--seed", str(args.seed)]
    p = subprocess.run(cmd, env=bench.thread_env(args.threads), capture_output=True, text=True)
    lines = p.stdout.strip().splitlines()
    if p.returncode != 0 or not lines:
        tail = (p.stderr or p.stdout).strip().splitlines()[-1:]
        raise bench.WorkerFailed(f"worker {worker} failed (exit {p.returncode}): " + " | ".join(tail))
    return json.loads(lines[-1])


def parse_case(text):
    cfg, size, batch = text.rsplit(":", 2)
    cfg = cfg if os.path.isabs(cfg) else os.path.join(ROOT, cfg)
    return {"cfg": cfg, "size": int(size), "batch": int(batch)}


def measure_case(args, case, torch_available):
    with tempfile.TemporaryDirectory(prefix="darknet_bench_train_") as tmp:
        spawn(args, "prepare", tmp, case)
        spec = bench._load_spec(argparse.Namespace(tmp=tmp))
        with open(os.path.join(tmp, "yolo.json")) as f:
            unsupported = spec["unsupported"] + json.load(f)["unsupported"]
        d, t = None, None
        if args.no_torch or not torch_available:
            t = {"skipped": "--no-torch" if args.no_torch else "torch is not installed"}
        elif unsupported:
            t = {"skipped": "unsupported: " + "; ".join(unsupported)}
        for _ in range(args.rounds):        # alternate, so that drift in the machine's load hits both
            r = spawn(args, "darknet_train", tmp, case)
            d = r if d is None else bench._pool(d, r)
            if "skipped" not in (t or {}):
                try:
                    r = spawn(args, "torch_train", tmp, case)
                except bench.WorkerFailed as e:
                    t = {"skipped": str(e)}
                    continue
                t = r if t is None else bench._pool(t, r)
    batch = spec["batch"]
    row = {"cfg": os.path.relpath(case["cfg"], ROOT), "input_shape": spec["input_shape"], "batch": batch,
           "gflop_per_image": spec["flops_per_image"] / 1e9, "darknet_py": _summary(d, batch)}
    row["darknet_py"].update(loss_first=d["loss_first"], loss_last=d["loss_last"], finite=d["finite"])
    if "skipped" in t:
        row["torch_eager"] = t
    else:
        row["torch_eager"] = dict(_summary(t, batch), version=t["version"], threads=t["threads"],
                                  loss_first=t["loss_first"], loss_last=t["loss_last"], finite=t["finite"])
        row["darknet_py_over_torch"] = row["darknet_py"]["median_ms"] / row["torch_eager"]["median_ms"]
        row["darknet_py_over_torch_min"] = row["darknet_py"]["min_ms"] / row["torch_eager"]["min_ms"]
    return row


def _summary(r, batch):
    s = bench.summarize(r["step_ms"])
    s.update(images_per_s=1e3 * batch / s["median_ms"], images_per_s_best=1e3 * batch / s["min_ms"],
             rss_mib=r["rss_mib"])
    return s


def run_throughput(args, log):
    res = {"mode": "throughput", "args": _args_dict(args), "machine": bench.machine_info(),
           "notes": [TORCH_LOSS_NOTE], "cases": []}
    if args.runs < 5:
        res["notes"].append(f"--runs {args.runs}: fewer than 5 timed runs, not a benchmark")
    torch_available = bench.have("torch")
    for text in args.case or DEFAULT_CASES:
        res["cases"].append(measure_case(args, parse_case(text), torch_available))
    res["machine"]["loadavg_end"] = list(os.getloadavg())
    report_throughput(res, log)
    return res


def report_throughput(res, log):
    m, a = res["machine"], res["args"]
    log(f"# training throughput: Network.train_batch (forward, [yolo] loss, backward, SGD update) against "
        f"PyTorch eager; {a['threads']} threads each, {a['rounds']} alternating rounds x {a['runs']} runs")
    log(f"machine: {m.get('cpu', '?')}, {m['cpus']} CPUs; numba {m.get('numba')}, torch {m.get('torch', '-')}; "
        f"commit {m.get('commit')}; load average at start {m['loadavg_start'][0]:.2f}, "
        f"end {m['loadavg_end'][0]:.2f}")
    for note in res["notes"]:
        log("NOTE: " + note)
    h = (f"{'network':<34} {'batch':>5} {'darknet_py img/s':>16} {'(best)':>7} {'PyTorch img/s':>13} "
         f"{'(best)':>7} {'dn/torch':>8} {'(mins)':>6}")
    log(h)
    log("-" * len(h))
    for c in res["cases"]:
        d, t = c["darknet_py"], c["torch_eager"]
        name = f"{c['cfg']} {c['input_shape'][2]}x{c['input_shape'][1]}"
        line = f"{name:<34} {c['batch']:>5} {d['images_per_s']:>16.2f} {d['images_per_s_best']:>7.2f} "
        if "skipped" in t:
            line += f"PyTorch skipped: {t['skipped']}"
        else:
            line += (f"{t['images_per_s']:>13.2f} {t['images_per_s_best']:>7.2f} "
                     f"{c['darknet_py_over_torch']:>8.2f} {c['darknet_py_over_torch_min']:>6.2f}")
        log(line)
    log("dn/torch = darknet_py's step time / PyTorch's (> 1: PyTorch is faster); (best), (mins): from the "
        "fastest runs, less sensitive to other load on the machine")


# ====================================================================== time to mAP
class _Reached(Exception):
    """Raised from train()'s on_iteration to stop the loop at the first evaluation >= the target."""


def run_time_to_map(args, log):
    for var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(args.threads)       # before numba is imported (nothing has imported it yet)
    from darknet_py.data.shapes import write_shapes
    from darknet_py.evaluate import evaluate_map
    from darknet_py.train import train
    res = {"mode": "time_to_map", "args": _args_dict(args), "machine": bench.machine_info(), "evaluations": []}
    with tempfile.TemporaryDirectory(prefix="darknet_time_to_map_") as tmp:
        t0 = time.perf_counter()
        data = write_shapes(os.path.join(tmp, "shapes"), args.train, args.valid, args.size, args.seed)
        res["data_s"] = time.perf_counter() - t0
        weights = os.path.join(tmp, "eval.weights")
        clock = {"eval_s": 0.0, "start": time.perf_counter()}

        def on_iteration(net, loss):
            it = net.current_batch()
            if it % args.every and it < args.max_batches:
                return
            e0 = time.perf_counter()
            net.save_weights(weights)
            m = evaluate_map(data, args.cfg, weights, progress=False)["map"]
            e = time.perf_counter() - e0
            clock["eval_s"] += e
            train_s = e0 - clock["start"] - (clock["eval_s"] - e)
            res["evaluations"].append({"iteration": it, "map": m, "loss": loss, "train_s": train_s, "eval_s": e})
            log(f"iteration {it}: mAP@0.5 {m:.4f}, loss {loss:.3f}, training {train_s:.1f} s, "
                f"evaluation {clock['eval_s']:.1f} s")
            if m >= args.target:
                raise _Reached

        try:
            train(data, args.cfg, max_batches=args.max_batches, seed=args.seed, progress=False,
                  log=lambda *_: None, on_iteration=on_iteration)
        except _Reached:
            pass
        total = time.perf_counter() - clock["start"]
    last = res["evaluations"][-1] if res["evaluations"] else None
    res.update(reached=bool(last and last["map"] >= args.target), iterations=last["iteration"] if last else 0,
               final_map=last["map"] if last else None, train_s=total - clock["eval_s"],
               eval_s=clock["eval_s"], total_s=total)
    res["machine"]["loadavg_end"] = list(os.getloadavg())
    m = res["machine"]
    log(f"# time to mAP@0.5 >= {args.target} on shapes ({args.train} train / {args.valid} valid images, "
        f"{args.size}px, seed {args.seed}), {os.path.relpath(args.cfg, ROOT)}, {args.threads} threads")
    log(f"machine: {m.get('cpu', '?')}, {m['cpus']} CPUs; load average at start {m['loadavg_start'][0]:.2f}, "
        f"end {m['loadavg_end'][0]:.2f}")
    log(f"{'reached' if res['reached'] else 'NOT reached'} at iteration {res['iterations']} (mAP {res['final_map']}): "
        f"training {res['train_s']:.1f} s + evaluation {res['eval_s']:.1f} s = {total:.1f} s "
        f"(data generation {res['data_s']:.1f} s before)")
    return res


# ====================================================================== command line
def _args_dict(args):
    return {k: v for k, v in vars(args).items() if k not in ("worker", "tmp", "mode")}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="mode", required=True)
    t = sub.add_parser("throughput", help="images/s of the full training step against PyTorch eager")
    t.add_argument("--case", action="append", metavar="CFG:SIZE:BATCH",
                   help=f"a network to time (repeatable; SIZE 0 keeps the cfg's; default {' and '.join(DEFAULT_CASES)})")
    t.add_argument("--runs", type=int, default=7, help="timed steps per process (default 7)")
    t.add_argument("--warmup", type=int, default=2, help="untimed steps first (default 2)")
    t.add_argument("--rounds", type=int, default=3, help="alternating processes per contender (default 3)")
    t.add_argument("--no-torch", action="store_true", help="darknet_py only")
    m = sub.add_parser("time-to-map", help="wall time until mAP@0.5 >= --target on the shapes data")
    m.add_argument("--cfg", default=os.path.join(ROOT, "darknet_py", "models", "shapes-detector.cfg"))
    m.add_argument("--train", type=int, default=2000, help="training images (default 2000)")
    m.add_argument("--valid", type=int, default=200, help="validation images (default 200)")
    m.add_argument("--size", type=int, default=96, help="image side (default 96)")
    m.add_argument("--every", type=int, default=100, help="iterations between evaluations (default 100)")
    m.add_argument("--target", type=float, default=0.9, help="mAP@0.5 to reach (default 0.9)")
    m.add_argument("--max-batches", type=int, default=2000, help="give up after this iteration (default 2000)")
    w = sub.add_parser("worker")
    w.add_argument("--worker", required=True, choices=sorted(WORKERS))
    w.add_argument("--tmp", required=True)
    w.add_argument("--cfg", required=True)
    w.add_argument("--size", type=int, required=True)
    w.add_argument("--batch", type=int, required=True)
    w.add_argument("--runs", type=int, required=True)
    w.add_argument("--warmup", type=int, required=True)
    for q in (t, m, w):
        q.add_argument("--threads", type=int, default=2, help="threads for every contender (default 2)")
        q.add_argument("--seed", type=int, default=1, help="seed of the data / weights / truth (default 1)")
    for q in (t, m):
        q.add_argument("--json", metavar="PATH", help="write every figure as JSON")
        q.add_argument("--quiet", action="store_true", help="print nothing (with --json)")
    args = p.parse_args(argv)
    if args.mode == "throughput" and (args.runs < 1 or args.warmup < 0 or args.rounds < 1):
        p.error("--runs and --rounds must be >= 1, --warmup >= 0")
    if args.mode == "time-to-map" and (min(args.train, args.valid, args.every, args.max_batches) < 1):
        p.error("--train, --valid, --every and --max-batches must be >= 1")
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.mode == "worker":
        args.size = args.size or None
        WORKERS[args.worker](args)
        return 0
    log = (lambda *a, **k: None) if args.quiet else functools.partial(print, flush=True)   # progress in logs
    try:
        res = run_throughput(args, log) if args.mode == "throughput" else run_time_to_map(args, log)
    except bench.WorkerFailed as e:
        print(f"bench_train: {e}", file=sys.stderr)
        return 1
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)
        log(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
