#!/usr/bin/env python
"""Benchmark darknet_py on a cfg: per-layer and whole-network times, training step, compile time, peak
memory, the gemm table, and OpenCV DNN / PyTorch CPU on the same cfg and weights (issue #4).

    python tools/bench.py cfg/yolov3-tiny.cfg --size 416 --batch 1 --threads 2 --json out.json
    python tools/bench.py cfg/darknet53-res.cfg --size 256 --batch 8 --train
    python tools/bench.py cfg/l2norm.cfg --runs 1 --no-references --no-gemm --json out.json   # smoke test

How it measures:
* Every contender runs in its OWN subprocess (thread pools never fight; RSS is per contender):
  prepare (writes the cfg with --size/--batch, darknet_py's random weights, the input and the
  arrays PyTorch needs), cold (fresh NUMBA_CACHE_DIR: process start to the end of the first
  forward), warm (a second process on the same cache), darknet_py inference, darknet_py training,
  the gemm table (tools/bench_gemm.py), the FMA peak (tools/peak_flops.py), OpenCV, PyTorch eager,
  PyTorch folded + channels_last.
* Thread counts are set in each child's environment before anything is imported (NUMBA_NUM_THREADS,
  OMP/MKL/OPENBLAS_NUM_THREADS) and again through numba.set_num_threads / cv2.setNumThreads /
  torch.set_num_threads.
* Times are medians of --runs timed calls after --warmup untimed ones. Per-layer times come from
  Network.forward/backward(timings=...), so the layer loop is the library's own.
* The random batch-norm statistics (rolling mean/variance, scales, biases) are perturbed before the
  weights are saved (unless --plain-init): with Darknet's initial values (0, 1, 1, 0) folding batch
  norm would be the identity and the output check would prove nothing.
* Each reference's output is compared with darknet_py's (max abs diff). For [yolo] outputs OpenCV
  returns decoded boxes, so it is compared on the layer before each [yolo] (the raw head).
* The % of peak uses threads x the 1-thread FMA peak measured here (tools/peak_flops.py); the
  N-thread measurement is reported too (another process on the other core lowers it).
* --as-avx2 holds EVERY contender to AVX2 + FMA on an AVX-512 host, a proxy for the AVX2 machines
  (AMD EPYC) when none is at hand: Numba builds haswell code (gemm picks its AVX2 tile), OpenBLAS runs
  its Haswell kernel, OpenCV's dispatcher leaves out its AVX-512 paths and PyTorch's ATen and oneDNN
  stop at AVX2 (AVX2_PROXY_ENV; each worker reports the ISA its library says it uses). The caches,
  clocks and FMA latency are still this CPU's, not Zen's.
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DOCUMENTED_PEAK_2_THREADS = 488.0     # PERFORMANCE.md, AVX-512 FMA microbenchmark on 2 cores
ACTIVATION_OPS = ("linear", "leaky", "relu", "logistic", "tanh", "mish", "swish", "elu", "selu")
CONTENDERS = ("opencv", "torch_eager", "torch_folded_cl")
# --as-avx2: the environment that makes each contender's library stop at AVX2 + FMA
AVX2_PROXY_ENV = {"NUMBA_CPU_NAME": "haswell", "OPENBLAS_CORETYPE": "Haswell",
                  "OPENCV_CPU_DISABLE": "AVX512F,AVX512-SKX,AVX512CD,AVX512BW,AVX512DQ,AVX512VL",
                  "ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"}
TITLES = {"darknet_py": "darknet_py (Numba)", "opencv": "OpenCV DNN (DNN_BACKEND_OPENCV)",
          "torch_eager": "PyTorch eager NCHW", "torch_folded_cl": "PyTorch BN folded + channels_last"}


# ====================================================================== shared helpers
def median(xs):
    s = sorted(xs)
    n = len(s)
    return s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2])


def max_rss_mib():
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0     # Linux: KiB


def emit(result):
    """A worker's last stdout line is its JSON result."""
    sys.stdout.write("\n" + json.dumps(result) + "\n")
    sys.stdout.flush()


def timed_runs(fn, warmup, runs):
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def thread_env(threads, cache_dir=None):
    env = dict(os.environ)
    for var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[var] = str(threads)
    if cache_dir:
        env["NUMBA_CACHE_DIR"] = cache_dir
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    return env


# ====================================================================== workers (run in subprocesses)
def worker_prepare(a):
    """Resized cfg, random weights (BN statistics perturbed), input, reference spec + arrays."""
    import numpy as np
    from darknet_py import cfg as cfgmod
    from darknet_py.kernels.activations import NAMES
    from darknet_py.network import build_network

    sections = cfgmod.read_cfg(a.cfg)
    net_opts = sections[0].options
    line = sections[0].line
    if a.size:
        net_opts["width"] = (str(a.size), line)
        net_opts["height"] = (str(a.size), line)
    net_opts["batch"] = (str(a.batch), line)
    net_opts["subdivisions"] = ("1", line)
    cfg_path = os.path.join(a.tmp, "net.cfg")
    with open(cfg_path, "w") as f:
        f.write(cfgmod.render_cfg(sections))
    net = build_network(cfgmod.read_cfg(cfg_path), cfg_path)
    rng = np.random.default_rng(a.seed)
    if not a.plain_init:
        for layer in net.layers:
            if getattr(layer, "batch_normalize", False):
                n = layer.biases.size
                layer.scales[:] = rng.uniform(0.5, 1.5, n)
                layer.rolling_mean[:] = rng.normal(0.0, 0.2, n)
                layer.rolling_variance[:] = rng.uniform(0.5, 2.0, n)
                layer.biases[:] = rng.normal(0.0, 0.1, n)
    net.save_weights(os.path.join(a.tmp, "net.weights"))
    x = rng.uniform(0.0, 1.0, (net.batch,) + tuple(net.input_shape)).astype(np.float32)   # image-like
    np.save(os.path.join(a.tmp, "input.npy"), x)

    layers, arrays, unsupported = [], {}, []
    for l in net.layers:
        d = {"index": l.index, "type": l.type, "in_shape": list(l.in_shape), "out_shape": list(l.out_shape),
             "flops": int(l.flops()), "summary": {k: str(v) for k, v in l.summary().items()}}
        if l.type == "convolutional":
            d.update(n=l.n, size=l.size, stride=l.stride, padding=l.padding, groups=l.groups,
                     activation=NAMES[l.activation], batch_normalize=bool(l.batch_normalize))
            c = l.in_shape[0]
            arrays[f"w{l.index}"] = l.weights.reshape(l.n, c // l.groups, l.size, l.size)
            arrays[f"b{l.index}"] = l.biases
            if l.batch_normalize:
                arrays[f"s{l.index}"] = l.scales
                arrays[f"m{l.index}"] = l.rolling_mean
                arrays[f"v{l.index}"] = l.rolling_variance
            if NAMES[l.activation] not in ACTIVATION_OPS:
                unsupported.append(f"layer {l.index}: activation {NAMES[l.activation]}")
        elif l.type == "maxpool":
            d.update(size=l.size, stride=l.stride, padding=l.padding)
        elif l.type == "route":
            d.update(sources=list(l.sources))
            if len(l.out_shape) != 3:
                unsupported.append(f"layer {l.index}: route of flat outputs")
        elif l.type == "upsample":
            d.update(stride=l.stride, scale=float(l.scale), reverse=bool(l.reverse))
            if l.reverse:
                unsupported.append(f"layer {l.index}: downsampling [upsample]")
        elif l.type == "shortcut":
            d.update(source=l.source, alpha=float(l.alpha), beta=float(l.beta), activation=NAMES[l.activation])
            if tuple(l.from_shape) != tuple(l.out_shape):
                unsupported.append(f"layer {l.index}: shortcut between different shapes")
            if NAMES[l.activation] not in ACTIVATION_OPS:
                unsupported.append(f"layer {l.index}: activation {NAMES[l.activation]}")
        elif l.type == "yolo":
            d.update(n=l.n, classes=l.classes)
        else:
            unsupported.append(f"layer {l.index}: [{l.type}]")
        layers.append(d)
    heads = [l.index for l in net.layers if l.type in ("yolo", "region")]
    outputs = heads or [len(net.layers) - 1]
    np.savez(os.path.join(a.tmp, "params.npz"), **arrays)
    spec = {"cfg": cfg_path, "weights": os.path.join(a.tmp, "net.weights"), "input": os.path.join(a.tmp, "input.npy"),
            "batch": net.batch, "input_shape": list(net.input_shape), "layers": layers, "outputs": outputs,
            # OpenCV decodes [yolo] into boxes: compare it on the raw head (the layer before)
            "opencv_outputs": [i - 1 if net.layers[i].type in ("yolo", "region") else i for i in outputs],
            "unsupported": unsupported, "flops_per_image": int(sum(l.flops() for l in net.layers)),
            "memory_mib": net.memory_bytes() / 2**20}
    with open(os.path.join(a.tmp, "spec.json"), "w") as f:
        json.dump(spec, f, indent=1)
    emit({"ok": True})


def _load_spec(a):
    with open(os.path.join(a.tmp, "spec.json")) as f:
        return json.load(f)


def worker_first(a):
    """Process start to the end of the first forward (cold or warm cache: decided by the parent)."""
    t_import = time.time()
    from darknet_py.kernels._jit import cache_is_cold
    import numpy as np
    from darknet_py.network import load_network
    cold = cache_is_cold()
    spec = _load_spec(a)
    net = load_network(spec["cfg"], spec["weights"])
    x = np.load(spec["input"])
    t0 = time.time()
    net.forward(x)
    t_end = time.time()
    emit({"t_end": t_end, "t_main": t_import, "forward_s": t_end - t0, "cache_was_cold": cold,
          "rss_mib": max_rss_mib()})


def worker_darknet(a):
    import numba
    import numpy as np
    from darknet_py.network import load_network
    numba.set_num_threads(a.threads)
    spec = _load_spec(a)
    net = load_network(spec["cfg"], spec["weights"])
    x = np.load(spec["input"])
    nl = len(net.layers)
    per_layer = [[] for _ in range(nl)]

    def fwd():
        t = []
        net.forward(x, timings=t)
        for i, s in t:
            per_layer[i].append(s)

    t0 = time.perf_counter()
    net.forward(x)
    first_s = time.perf_counter() - t0
    totals = timed_runs(fwd, a.warmup, a.runs)
    per_layer = [v[-a.runs:] for v in per_layer]
    keep = sorted(set(spec["outputs"]) | set(spec["opencv_outputs"]))
    np.savez(os.path.join(a.tmp, "darknet_out.npz"),
             **{f"l{i}": net.layers[i].output_array() for i in keep})
    emit({"first_forward_s": first_s, "forward_ms": [1e3 * s for s in totals],
          "layer_runs_ms": [[1e3 * t for t in v] for v in per_layer], "rss_mib": max_rss_mib(),
          "numba_threads": numba.get_num_threads(), "threading_layer": numba.threading_layer(),
          "isa": _darknet_isa()})


def _darknet_isa():
    """'avx2 3x32 float32 (+3x16 tail), numba target haswell': the gemm kernel this process runs."""
    from darknet_py.kernels import gemm
    from darknet_py.kernels._jit import target_cpu
    return f"{gemm.tile()}, numba target {target_cpu()[0]}"


def train_deltas(spec):
    """{head index: delta}: a fixed 1e-3 N(0,1) delta (Darknet's sign, -dL/dy) for every output head, so
    that every layer runs backward with work to do ([yolo] training losses are not implemented)."""
    import numpy as np
    rng = np.random.default_rng(1)
    shapes = {d["index"]: d["out_shape"] for d in spec["layers"]}
    return {i: (1e-3 * rng.standard_normal([spec["batch"]] + shapes[i])).astype(np.float32)
            for i in spec["outputs"]}


def worker_train(a):
    import numba
    import numpy as np
    from darknet_py.network import load_network
    numba.set_num_threads(a.threads)
    spec = _load_spec(a)
    net = load_network(spec["cfg"], spec["weights"])
    x = np.load(spec["input"])
    deltas = train_deltas(spec)
    delta = deltas.pop(len(net.layers) - 1, None)      # the last layer's: through backward(delta)
    nl = len(net.layers)
    fl, bl = [[] for _ in range(nl)], [[] for _ in range(nl)]
    parts = {"forward": [], "backward": [], "update": []}

    def step():
        tf, tb = [], []
        t0 = time.perf_counter()
        net.forward(x, train=True, timings=tf)
        for i, d in deltas.items():                     # other heads: their delta, as a loss would set it
            np.copyto(net.layers[i].delta, d.reshape(-1))
        t1 = time.perf_counter()
        net.backward(delta, timings=tb, input_grad=False)   # training: no input gradient, as Darknet
        t2 = time.perf_counter()
        net.update()
        t3 = time.perf_counter()
        parts["forward"].append(t1 - t0)
        parts["backward"].append(t2 - t1)
        parts["update"].append(t3 - t2)
        for i, s in tf:
            fl[i].append(s)
        for i, s in tb:
            bl[i].append(s)

    steps = timed_runs(step, a.warmup, a.runs)
    r = a.runs
    emit({"step_ms": [1e3 * s for s in steps],
          **{f"{k}_ms": [1e3 * s for s in v[-r:]] for k, v in parts.items()},
          "layer_forward_ms": [1e3 * median(v[-r:]) if v else None for v in fl],
          "layer_backward_ms": [1e3 * median(v[-r:]) if v else None for v in bl],
          "rss_mib": max_rss_mib(), "finite": bool(np.isfinite(net.layers[-1].output).all())})


def _compare(a, spec, outs, indices):
    """[{layer, max_abs_diff, max_abs_ref}] against darknet_py's saved outputs."""
    import numpy as np
    path = os.path.join(a.tmp, "darknet_out.npz")
    if not os.path.exists(path):
        return []
    ref = np.load(path)
    rows = []
    for i, o in zip(indices, outs):
        r = ref[f"l{i}"]
        o = np.asarray(o, np.float32).reshape(r.shape)
        rows.append({"layer": i, "max_abs_diff": float(np.max(np.abs(o.astype(np.float64) - r))),
                     "max_abs_ref": float(np.max(np.abs(r)))})
    return rows


def worker_opencv(a):
    import cv2
    import numpy as np
    cv2.setNumThreads(a.threads)
    spec = _load_spec(a)
    net = cv2.dnn.readNetFromDarknet(spec["cfg"], spec["weights"])
    net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
    net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
    x = np.load(spec["input"])
    out_names = list(net.getUnconnectedOutLayersNames())

    def fwd():
        net.setInput(x)
        net.forward(out_names)

    times = timed_runs(fwd, a.warmup, a.runs)
    # the OpenCV layer that ends darknet layer i: activations are named after the NEXT index
    # (conv_0, bn_0, leaky_1, pool_1, ...), so they belong to the layer before them
    owner, last = {}, None
    for name in net.getLayerNames():
        prefix, _, num = name.rpartition("_")
        if prefix in ACTIVATION_OPS + ("relu", "sigmoid") and last is not None:
            owner[last] = name
        elif num.isdigit():
            last = int(num)
            owner[last] = name
    idx = spec["opencv_outputs"]
    names = [owner[i] for i in idx]
    net.setInput(x)
    outs = net.forward(names)
    emit({"forward_ms": [1e3 * s for s in times], "rss_mib": max_rss_mib(), "version": cv2.__version__,
          "threads": cv2.getNumThreads(), "compared": names, "diff": _compare(a, spec, outs, idx),
          "isa": cv2.getCPUFeaturesLine()})   # "*AVX512-SKX?": compiled in, disabled at run time


def _torch_model(spec, params, fold):
    import numpy as np
    import torch
    import torch.nn.functional as F
    from torch import nn

    acts = {"linear": lambda t: t, "leaky": lambda t: F.leaky_relu(t, 0.1), "relu": F.relu,
            "logistic": torch.sigmoid, "tanh": torch.tanh, "mish": F.mish, "swish": lambda t: t * torch.sigmoid(t),
            "elu": F.elu, "selu": F.selu}
    layers = spec["layers"]
    needed = set(spec["outputs"])
    for d in layers:
        needed.update(d.get("sources", []))
        if d["type"] == "shortcut":
            needed.add(d["source"])

    class DarknetTorch(nn.Module):
        def __init__(self):
            super().__init__()
            self.convs = nn.ModuleDict()
            for d in layers:
                if d["type"] != "convolutional":
                    continue
                i = d["index"]
                w = params[f"w{i}"].astype(np.float64)
                b = params[f"b{i}"].astype(np.float64)
                bn = d["batch_normalize"]
                conv = nn.Conv2d(w.shape[1] * d["groups"], d["n"], d["size"], d["stride"], d["padding"],
                                 groups=d["groups"], bias=(fold or not bn))
                if bn:
                    # Darknet: (x - mean) / (sqrt(var) + 1e-6) * scale + bias
                    denom = np.sqrt(params[f"v{i}"].astype(np.float64)) + 1e-6
                    scale, mean = params[f"s{i}"].astype(np.float64), params[f"m{i}"].astype(np.float64)
                    if fold:
                        w = w * (scale / denom)[:, None, None, None]
                        b = b - mean * scale / denom
                        mod = conv
                    else:
                        norm = nn.BatchNorm2d(d["n"], eps=0.0)      # sqrt(var' + 0) = sqrt(var) + 1e-6
                        norm.running_var.copy_(torch.from_numpy(denom ** 2))
                        norm.running_mean.copy_(torch.from_numpy(mean))
                        norm.weight.data.copy_(torch.from_numpy(scale))
                        norm.bias.data.copy_(torch.from_numpy(b))
                        mod = nn.Sequential(conv, norm)
                else:
                    mod = conv
                conv.weight.data.copy_(torch.from_numpy(w))
                if conv.bias is not None:
                    conv.bias.data.copy_(torch.from_numpy(b))
                self.convs[str(i)] = mod

        def forward(self, x):
            outs = {}
            for d in layers:
                i, t = d["index"], d["type"]
                if t == "convolutional":
                    x = acts[d["activation"]](self.convs[str(i)](x))
                elif t == "maxpool":
                    size, stride, pad = d["size"], d["stride"], d["padding"]
                    h, w = x.shape[2], x.shape[3]
                    oh, ow = d["out_shape"][1], d["out_shape"][2]
                    top = left = pad // 2        # window origin -padding/2, -inf outside
                    bottom = (oh - 1) * stride + size - h - top
                    right = (ow - 1) * stride + size - w - left
                    x = F.max_pool2d(F.pad(x, (left, right, top, bottom), value=float("-inf")), size, stride)
                elif t == "route":
                    src = d["sources"]
                    x = outs[src[0]] if len(src) == 1 else torch.cat([outs[j] for j in src], 1)
                elif t == "upsample":
                    x = F.interpolate(x, scale_factor=d["stride"], mode="nearest")
                    if d["scale"] != 1.0:
                        x = x * d["scale"]
                elif t == "shortcut":
                    y = outs[d["source"]]
                    x = (x if d["alpha"] == 1.0 else d["alpha"] * x) + (y if d["beta"] == 1.0 else d["beta"] * y)
                    x = acts[d["activation"]](x)
                elif t == "yolo":
                    bsz, c, h, w = x.shape
                    v = x.reshape(bsz, d["n"], 5 + d["classes"], h, w)
                    x = torch.cat([torch.sigmoid(v[:, :, :2]), v[:, :, 2:4], torch.sigmoid(v[:, :, 4:])], 2)
                    x = x.reshape(bsz, c, h, w)
                if i in needed:
                    outs[i] = x
            return [outs[i] for i in spec["outputs"]]

    return DarknetTorch().eval()


def worker_torch(a, fold_cl):
    import numpy as np
    import torch
    torch.set_num_threads(a.threads)
    spec = _load_spec(a)
    params = dict(np.load(os.path.join(a.tmp, "params.npz")))
    x = torch.from_numpy(np.load(spec["input"]))
    with torch.inference_mode():
        model = _torch_model(spec, params, fold=fold_cl)
        if fold_cl:
            model = model.to(memory_format=torch.channels_last)
            x = x.contiguous(memory_format=torch.channels_last)
        times = timed_runs(lambda: model(x), a.warmup, a.runs)
        outs = [o.contiguous().numpy() for o in model(x)]
    emit({"forward_ms": [1e3 * s for s in times], "rss_mib": max_rss_mib(), "version": torch.__version__,
          "threads": torch.get_num_threads(), "diff": _compare(a, spec, outs, spec["outputs"]),
          "isa": torch.backends.cpu.get_cpu_capability()})


def worker_torch_train(a):
    """PyTorch eager doing darknet_py's training step: forward in training mode (batch statistics),
    sum(head * -delta) backward (the same injected deltas), SGD with momentum and weight decay."""
    import numpy as np
    import torch
    torch.set_num_threads(a.threads)
    spec = _load_spec(a)
    params = dict(np.load(os.path.join(a.tmp, "params.npz")))
    x = torch.from_numpy(np.load(spec["input"]))
    deltas = [torch.from_numpy(d) for d in train_deltas(spec).values()]
    model = _torch_model(spec, params, fold=False).train()
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.eps = 1e-5            # Darknet's training normalisation: (x - mean) / sqrt(var + 1e-5)
    opt = torch.optim.SGD(model.parameters(), lr=1e-6, momentum=0.9, weight_decay=5e-4)
    parts = {"forward": [], "backward": [], "update": []}

    def step():
        t0 = time.perf_counter()
        outs = model(x)
        loss = sum((o * -d).sum() for o, d in zip(outs, deltas))   # dL/dy = -delta: Darknet's sign
        t1 = time.perf_counter()
        opt.zero_grad(set_to_none=False)
        loss.backward()
        t2 = time.perf_counter()
        opt.step()
        t3 = time.perf_counter()
        for k, t in zip(parts, (t1 - t0, t2 - t1, t3 - t2)):
            parts[k].append(t)

    steps = timed_runs(step, a.warmup, a.runs)
    finite = all(bool(torch.isfinite(p).all()) for p in model.parameters())
    emit({"step_ms": [1e3 * s for s in steps], **{f"{k}_ms": [1e3 * s for s in v[-a.runs:]] for k, v in parts.items()},
          "rss_mib": max_rss_mib(), "version": torch.__version__, "threads": torch.get_num_threads(),
          "finite": finite})


def run_worker(a):
    {"prepare": worker_prepare, "first": worker_first, "darknet": worker_darknet, "train": worker_train,
     "opencv": worker_opencv, "torch_eager": lambda a: worker_torch(a, False),
     "torch_folded_cl": lambda a: worker_torch(a, True), "torch_train": worker_torch_train}[a.worker](a)
    return 0


# ====================================================================== orchestrator
class WorkerFailed(Exception):
    pass


def spawn(args, worker, tmp, cache_dir=None, timeout=None, extra=()):
    """Run one worker in a fresh interpreter; returns (result dict, spawn time.time())."""
    cmd = [sys.executable, os.path.abspath(__file__), args.cfg, "--worker", worker, "--tmp", tmp,
           "--threads", str(args.threads), "--runs", str(args.runs), "--warmup", str(args.warmup),
           "--batch", str(args.batch), "--seed", str(args.seed)]
    if args.size:
        cmd += ["--size", str(args.size)]
    if args.plain_init:
        cmd.append("--plain-init")
    cmd += list(extra)
    t_spawn = time.time()
    p = subprocess.run(cmd, env=thread_env(args.threads, cache_dir), capture_output=True, text=True,
                       timeout=timeout)
    lines = p.stdout.strip().splitlines()
    if p.returncode != 0 or not lines:
        tail = (p.stderr or p.stdout).strip().splitlines()[-1:]
        raise WorkerFailed(f"worker {worker} failed (exit {p.returncode}): " + " | ".join(tail))
    return json.loads(lines[-1]), t_spawn


def run_module_json(module, argv, args, cache_dir):
    """Import tools/<module>.py in a fresh interpreter and call its main(argv) (its table goes to our log)."""
    code = (f"import sys; sys.path.insert(0, {HERE!r}); import {module}; "
            f"sys.exit({module}.main({argv!r}))")
    p = subprocess.run([sys.executable, "-c", code], env=thread_env(args.threads, cache_dir),
                       capture_output=True, text=True)
    if p.returncode != 0:
        raise WorkerFailed(f"{module} failed (exit {p.returncode}): " + " | ".join(p.stderr.strip().splitlines()[-4:]))
    return p.stdout


def machine_info():
    info = {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count()}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo") as f:
            info["mem_gib"] = round(int(f.readline().split()[1]) / 2**20, 1)
    except OSError:
        pass
    from importlib import metadata
    for pkg in ("numpy", "numba", "llvmlite", "torch", "opencv-python-headless", "opencv-python"):
        try:
            info[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    if os.environ.get("DARKNET_BENCH_COMMIT"):      # benchmarking an exported tree (git archive)
        info["commit"] = os.environ["DARKNET_BENCH_COMMIT"]
        info["darknet_py_dirty"] = False
    else:
      try:
        info["commit"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                        text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "darknet_py"], cwd=ROOT,
                               capture_output=True, text=True).stdout.strip()
        info["darknet_py_dirty"] = bool(dirty)
      except OSError:
        pass
    info["loadavg_start"] = list(os.getloadavg())
    for v in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", *AVX2_PROXY_ENV):
        if v in os.environ:
            info[v] = os.environ[v]
    return info


def have(module):
    import importlib.util
    return importlib.util.find_spec(module) is not None


def summarize(ms):
    return {"median_ms": median(ms), "min_ms": min(ms), "runs_ms": ms}


def orchestrate(args):
    log = print if not args.quiet else (lambda *a, **k: None)
    res = {"args": {k: v for k, v in vars(args).items() if k not in ("worker", "tmp")},
           "machine": machine_info(), "notes": []}
    if args.runs < 5:
        res["notes"].append(f"--runs {args.runs}: fewer than 5 timed runs, not a benchmark")
    with tempfile.TemporaryDirectory(prefix="darknet_bench_") as tmp:
        cache = os.path.join(tmp, "numba_cache")
        spawn(args, "prepare", tmp)
        spec = _load_spec(argparse.Namespace(tmp=tmp))
        res["network"] = {"cfg": args.cfg, "batch": spec["batch"], "input_shape": spec["input_shape"],
                          "layers": len(spec["layers"]), "gflop_per_image": spec["flops_per_image"] / 1e9,
                          "buffers_mib": spec["memory_mib"]}

        # ---- peak
        peak = {"documented_2_threads": DOCUMENTED_PEAK_2_THREADS}
        if not args.no_peak:
            pj = os.path.join(tmp, "peak.json")
            run_module_json("peak_flops", ["--threads", str(args.threads), "--json", pj], args, None)
            with open(pj) as f:
                g = json.load(f)["gflops"]
            peak["measured_1_thread"] = g["1"]
            peak[f"measured_{args.threads}_threads"] = g[str(args.threads)]
            peak["used"] = args.threads * g["1"]
            peak["source"] = f"{args.threads} x the 1-thread FMA peak measured by tools/peak_flops.py"
        else:
            peak["used"] = DOCUMENTED_PEAK_2_THREADS * args.threads / 2
            peak["source"] = "PERFORMANCE.md: 488 GFLOPS on 2 cores (scaled by threads)"
        res["peak"] = peak

        # ---- compile time: cold (fresh cache dir), then warm (same dir, new process)
        if not args.no_compile:
            comp = {}
            for kind in ("cold", "warm"):
                r, t_spawn = spawn(args, "first", tmp, cache_dir=cache)
                comp[kind] = {"process_start_to_first_forward_end_s": r["t_end"] - t_spawn,
                              "first_forward_s": r["forward_s"], "cache_was_cold": r["cache_was_cold"],
                              "rss_mib": r["rss_mib"]}
            res["compile"] = comp
        # ---- darknet_py inference (warm cache when compile was measured)
        dcache = None if args.no_compile else cache
        d = None
        ref_runs = {}
        avail = {"opencv": have("cv2"), "torch_eager": have("torch"), "torch_folded_cl": have("torch")}
        for _ in range(args.rounds):        # contenders alternate, so drift in the machine's load hits all
            r, _ = spawn(args, "darknet", tmp, cache_dir=dcache)
            if d is None:
                d = r
            else:
                d["forward_ms"] += r["forward_ms"]
                d["rss_mib"] = max(d["rss_mib"], r["rss_mib"])
                for acc, more in zip(d["layer_runs_ms"], r["layer_runs_ms"]):
                    acc += more
            if args.no_references:
                continue
            for name in CONTENDERS:
                if name in ref_runs and "skipped" in ref_runs[name]:
                    continue
                if not avail[name]:
                    ref_runs[name] = {"skipped": "not installed"}
                    continue
                if name.startswith("torch") and spec["unsupported"]:
                    ref_runs[name] = {"skipped": "unsupported: " + "; ".join(spec["unsupported"])}
                    continue
                try:
                    r, _ = spawn(args, name, tmp)
                except WorkerFailed as e:
                    ref_runs[name] = {"skipped": str(e)}
                    continue
                if name in ref_runs:
                    ref_runs[name]["forward_ms"] += r["forward_ms"]
                    ref_runs[name]["rss_mib"] = max(ref_runs[name]["rss_mib"], r["rss_mib"])
                else:
                    ref_runs[name] = r
        d["layer_ms"] = [median(v) for v in d["layer_runs_ms"]]
        flops = spec["flops_per_image"] * spec["batch"]
        med = median(d["forward_ms"])
        res["darknet_py"] = dict(summarize(d["forward_ms"]), rss_mib=d["rss_mib"],
                                 gflops=flops / med / 1e6, pct_peak=100 * flops / med / 1e6 / peak["used"],
                                 numba_threads=d["numba_threads"], threading_layer=d["threading_layer"],
                                 layer_sum_ms=sum(d["layer_ms"]), isa=d["isa"])
        layers = []
        for L, ms in zip(spec["layers"], d["layer_ms"]):
            f = L["flops"] * spec["batch"]
            layers.append({"index": L["index"], "type": L["type"], "filters": L["summary"].get("filters", ""),
                           "size": L["summary"].get("size", ""), "out_shape": L["out_shape"],
                           "bflops": f / 1e9, "ms": ms, "gflops": f / ms / 1e6 if ms > 0 else 0.0,
                           "pct_peak": 100 * f / ms / 1e6 / peak["used"] if ms > 0 else 0.0})
        res["layers"] = layers

        if args.train:
            t, torch_t = train_rounds(args, spec, tmp, dcache, avail["torch_eager"])
            st = median(t["step_ms"])
            tf = 3 * flops      # forward + two gemms per conv backward: ~3x the forward
            res["train"] = {"step": summarize(t["step_ms"]), "forward_median_ms": median(t["forward_ms"]),
                            "backward_median_ms": median(t["backward_ms"]), "update_median_ms": median(t["update_ms"]),
                            "images_per_s": 1e3 * spec["batch"] / st, "gflops_approx": tf / st / 1e6,
                            "pct_peak_approx": 100 * tf / st / 1e6 / peak["used"], "rss_mib": t["rss_mib"],
                            "finite": t["finite"]}
            for row, fm, bm in zip(layers, t["layer_forward_ms"], t["layer_backward_ms"]):
                row["train_forward_ms"], row["train_backward_ms"] = fm, bm
            if torch_t is not None and "skipped" not in torch_t:
                tt = median(torch_t["step_ms"])
                res["train"]["torch_eager"] = {
                    "step": summarize(torch_t["step_ms"]), "forward_median_ms": median(torch_t["forward_ms"]),
                    "backward_median_ms": median(torch_t["backward_ms"]),
                    "update_median_ms": median(torch_t["update_ms"]), "rss_mib": torch_t["rss_mib"],
                    "version": torch_t["version"], "threads": torch_t["threads"], "finite": torch_t["finite"],
                    "darknet_py_over_this": st / tt,
                    "darknet_py_over_this_min": min(t["step_ms"]) / min(torch_t["step_ms"])}
            elif torch_t is not None:
                res["train"]["torch_eager"] = torch_t

        # ---- gemm table
        if not args.no_gemm:
            gj = os.path.join(tmp, "gemm.json")
            run_module_json("bench_gemm", ["--threads", str(args.threads), "--json", gj], args, dcache)
            with open(gj) as f:
                res["gemm"] = json.load(f)

        # ---- references (timed above, alternating with darknet_py)
        refs = {}
        for name in CONTENDERS:
            r = ref_runs.get(name)
            if r is None:
                continue
            if "skipped" in r:
                refs[name] = r
                continue
            m = median(r["forward_ms"])
            refs[name] = dict(summarize(r["forward_ms"]), rss_mib=r["rss_mib"], version=r["version"],
                              threads=r["threads"], gflops=flops / m / 1e6,
                              pct_peak=100 * flops / m / 1e6 / peak["used"],
                              darknet_py_over_this=med / m,
                              darknet_py_over_this_min=res["darknet_py"]["min_ms"] / min(r["forward_ms"]),
                              diff=r["diff"], isa=r.get("isa"),
                              max_abs_diff=max((x["max_abs_diff"] for x in r["diff"]), default=None))
            if "compared" in r:
                refs[name]["compared_opencv_layers"] = r["compared"]
        res["references"] = refs
    res["machine"]["loadavg_end"] = list(os.getloadavg())
    report(res, log)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)
        log(f"\nwrote {args.json}")
    return 0


def train_rounds(args, spec, tmp, cache_dir, torch_available):
    """darknet_py's and PyTorch eager's training steps, alternating --rounds times (timings pooled),
    so that drift in the machine's load hits both. Returns (darknet result, torch result or None)."""
    want_torch = not args.no_references
    d, t = None, None
    if want_torch and not torch_available:
        t = {"skipped": "not installed"}
    elif want_torch and spec["unsupported"]:
        t = {"skipped": "unsupported: " + "; ".join(spec["unsupported"])}
    for _ in range(args.rounds):
        r, _ = spawn(args, "train", tmp, cache_dir=cache_dir)
        d = r if d is None else _pool(d, r, "layer_forward_ms", "layer_backward_ms")
        if want_torch and (t is None or "skipped" not in t):
            try:
                r, _ = spawn(args, "torch_train", tmp)
            except WorkerFailed as e:
                t = {"skipped": str(e)}
                continue
            t = r if t is None else _pool(t, r)
    return d, t


def _pool(acc, more, *keep_first):
    """Pool the per-run lists of two worker results (max of RSS; ``keep_first`` keys stay acc's)."""
    for k, v in more.items():
        if k.endswith("_ms") and k not in keep_first:
            acc[k] = acc[k] + v
    acc["rss_mib"] = max(acc["rss_mib"], more["rss_mib"])
    return acc


def report(res, log):
    m, n, d, pk = res["machine"], res["network"], res["darknet_py"], res["peak"]
    log(f"# {n['cfg']}: input {'x'.join(map(str, n['input_shape']))}, batch {n['batch']}, {n['layers']} layers, "
        f"{n['gflop_per_image']:.3f} GFLOP per image, buffers {n['buffers_mib']:.0f} MiB")
    log(f"machine: {m.get('cpu', '?')}, {m['cpus']} CPUs, {m.get('mem_gib', '?')} GiB; python {m['python']}, "
        f"numpy {m.get('numpy')}, numba {m.get('numba')}; commit {m.get('commit')}"
        f"{' (darknet_py modified)' if m.get('darknet_py_dirty') else ''}; load average at start "
        f"{m['loadavg_start'][0]:.2f}, end {m['loadavg_end'][0]:.2f}")
    log(f"threads {res['args']['threads']}; FP32 peak used for %: {pk['used']:.0f} GFLOPS ({pk['source']})"
        + (f"; measured {res['args']['threads']} threads together: "
           f"{pk.get('measured_%d_threads' % res['args']['threads'], 0):.0f}" if 'measured_1_thread' in pk else ""))
    for note in res["notes"]:
        log("NOTE: " + note)
    train = "train" in res
    log("\n## per layer (median ms of %d runs; inference forward%s)" % (res["args"]["runs"],
                                                                        ", training forward/backward" if train else ""))
    hdr = f"{'#':>3} {'type':<14} {'filt':>5} {'size':>9} {'output':>14} {'BFLOP':>7} {'ms':>9} {'GFLOPS':>7} {'%peak':>6}"
    if train:
        hdr += f" {'trn fwd':>9} {'trn bwd':>9}"
    log(hdr)
    log("-" * len(hdr))
    for r in res["layers"]:
        line = (f"{r['index']:>3} {r['type']:<14} {r['filters']!s:>5} {r['size']!s:>9} "
                f"{'x'.join(map(str, r['out_shape'])):>14} {r['bflops']:>7.3f} {r['ms']:>9.3f} {r['gflops']:>7.1f} "
                f"{r['pct_peak']:>5.1f}%")
        if train:
            f_, b_ = r.get("train_forward_ms"), r.get("train_backward_ms")
            line += f" {f_ if f_ is not None else float('nan'):>9.3f} {b_ if b_ is not None else float('nan'):>9.3f}"
        log(line)
    log("-" * len(hdr))
    log(f"whole forward: median {d['median_ms']:.2f} ms (min {d['min_ms']:.2f}, sum of layers {d['layer_sum_ms']:.2f}), "
        f"{d['gflops']:.1f} GFLOPS = {d['pct_peak']:.1f}% of peak; peak RSS {d['rss_mib']:.0f} MiB; "
        f"numba {d['numba_threads']} threads ({d['threading_layer']}); gemm {d['isa']}")
    if train:
        t = res["train"]
        log(f"training step (forward+backward+update, batch {n['batch']}): median {t['step']['median_ms']:.1f} ms "
            f"(forward {t['forward_median_ms']:.1f}, backward {t['backward_median_ms']:.1f}, update "
            f"{t['update_median_ms']:.1f}); {t['images_per_s']:.2f} images/s; ~{t['gflops_approx']:.1f} GFLOPS "
            f"(3x forward FLOPs) = {t['pct_peak_approx']:.1f}% of peak; peak RSS {t['rss_mib']:.0f} MiB"
            + ("" if t["finite"] else "; WARNING: non-finite output after training"))
        tt = t.get("torch_eager")
        if tt and "skipped" in tt:
            log(f"PyTorch eager training step: skipped: {tt['skipped']}")
        elif tt:
            log(f"PyTorch {tt['version']} eager, the same step (SGD momentum): median {tt['step']['median_ms']:.1f} ms "
                f"(forward {tt['forward_median_ms']:.1f}, backward {tt['backward_median_ms']:.1f}, update "
                f"{tt['update_median_ms']:.1f}; min {tt['step']['min_ms']:.1f}); peak RSS {tt['rss_mib']:.0f} MiB; "
                f"darknet_py/PyTorch: {tt['darknet_py_over_this']:.2f} (medians), "
                f"{tt['darknet_py_over_this_min']:.2f} (mins; darknet_py min {t['step']['min_ms']:.1f} ms)")
    if "compile" in res:
        c = res["compile"]
        log("\n## compile time (process start to the end of the first forward)")
        for k in ("cold", "warm"):
            log(f"{k:>5}: {c[k]['process_start_to_first_forward_end_s']:.2f} s (first forward itself "
                f"{c[k]['first_forward_s']:.2f} s; cache was {'cold' if c[k]['cache_was_cold'] else 'warm'}; "
                f"RSS {c[k]['rss_mib']:.0f} MiB)")
    if "gemm" in res:
        g = res["gemm"]
        log(f"\n## gemm vs numpy ({g['blas']}; {g['env']}; {g['threads']} threads, {g['dtype']} {g['trans']})")
        h = (f"{'M x K x N':<18} {'numba ms':>9} {'numpy ms':>9} {'numba GF':>9} {'numpy GF':>9} {'ratio':>6} "
             f"{'best/best':>9} {'%peak':>6}")
        log(h)
        log("-" * len(h))
        for r in g["rows"]:
            log(f"{'%dx%dx%d' % (r['m'], r['k'], r['n']):<18} {r['numba_ms']:>9.3f} {r['numpy_ms']:>9.3f} "
                f"{r['numba_gflops']:>9.1f} {r['numpy_gflops']:>9.1f} {100 * r['ratio']:>5.0f}% "
                f"{100 * r.get('best_ratio', float('nan')):>8.0f}% "
                f"{100 * r['numba_gflops'] / pk['used']:>5.1f}%")
        log(f"median ratio {100 * g['median_ratio']:.0f}%, worst {100 * g['worst_ratio']:.0f}% (ratio = numpy ms / numba ms)")
    refs = res.get("references", {})
    if refs:
        log("\n## same cfg, same weights, same input: inference forward, median of %d runs" % res["args"]["runs"])
        h = (f"{'contender':<36} {'median ms':>9} {'min ms':>8} {'GFLOPS':>7} {'%peak':>6} {'RSS MiB':>8} "
             f"{'darknet_py/this':>15} {'(mins)':>6} {'max abs diff':>12}")
        log(h)
        log("-" * len(h))
        log(f"{TITLES['darknet_py']:<36} {d['median_ms']:>9.2f} {d['min_ms']:>8.2f} {d['gflops']:>7.1f} "
            f"{d['pct_peak']:>5.1f}% {d['rss_mib']:>8.0f} {1.0:>15.2f} {1.0:>6.2f} {'-':>12}")
        for name in CONTENDERS:
            r = refs.get(name)
            if r is None:
                continue
            if "skipped" in r:
                log(f"{TITLES[name]:<36} skipped: {r['skipped']}")
                continue
            diff = r["max_abs_diff"]
            log(f"{TITLES[name]:<36} {r['median_ms']:>9.2f} {r['min_ms']:>8.2f} {r['gflops']:>7.1f} "
                f"{r['pct_peak']:>5.1f}% {r['rss_mib']:>8.0f} {r['darknet_py_over_this']:>15.2f} "
                f"{r['darknet_py_over_this_min']:>6.2f} "
                f"{diff if diff is not None else float('nan'):>12.2e}")
        for name in CONTENDERS:
            r = refs.get(name, {})
            for x in r.get("diff", []):
                log(f"  {name}: layer {x['layer']} max abs diff {x['max_abs_diff']:.3e} (max |darknet_py| "
                    f"{x['max_abs_ref']:.3g})" + (f" [OpenCV layers {', '.join(r['compared_opencv_layers'])}]"
                                                  if name == "opencv" and x is r["diff"][0] else ""))
        isas = [f"{name} {refs[name]['isa']}" for name in CONTENDERS if refs.get(name, {}).get("isa")]
        if isas:
            log("ISA of each reference (OpenCV: '*' dispatched, '?' disabled; PyTorch: ATen capability): "
                + "; ".join(isas))
        log("darknet_py/this = darknet_py's median time / the contender's (how many times faster the contender "
            "is); (mins) = the same with the fastest runs, less sensitive to other load on the machine")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("cfg", help="Darknet .cfg")
    p.add_argument("--size", type=int, help="override [net] width and height")
    p.add_argument("--batch", type=int, default=1, help="batch size (default 1; the training batch with --train)")
    p.add_argument("--threads", type=int, default=2, help="threads for every contender (default 2)")
    p.add_argument("--runs", type=int, default=7, help="timed runs per measurement (>= 5 for figures; default 7)")
    p.add_argument("--warmup", type=int, default=2, help="untimed runs before timing (default 2)")
    p.add_argument("--rounds", type=int, default=1,
                   help="inference processes per contender, alternating (timings pooled; default 1)")
    p.add_argument("--train", action="store_true", help="also time forward+backward+update of a training batch")
    p.add_argument("--json", metavar="PATH", help="write every figure as JSON")
    p.add_argument("--no-references", action="store_true", help="skip OpenCV and PyTorch")
    p.add_argument("--no-gemm", action="store_true", help="skip the gemm table (tools/bench_gemm.py)")
    p.add_argument("--no-compile", action="store_true", help="skip the cold/warm compile-time runs")
    p.add_argument("--no-peak", action="store_true", help="use PERFORMANCE.md's peak instead of measuring it")
    p.add_argument("--plain-init", action="store_true",
                   help="keep Darknet's initial batch-norm statistics (by default they are randomised)")
    p.add_argument("--seed", type=int, default=0, help="seed of the input and the batch-norm statistics")
    p.add_argument("--as-avx2", action="store_true",
                   help="hold every contender to AVX2+FMA (a proxy for AVX2 machines on an AVX-512 host)")
    p.add_argument("--quiet", action="store_true", help="print nothing (with --json)")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--tmp", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.runs < 1 or args.warmup < 0 or args.batch < 1 or args.threads < 1 or args.rounds < 1:
        p.error("--runs, --batch and --threads must be >= 1, --warmup >= 0")
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.worker:
        return run_worker(args)
    if args.as_avx2:        # before any child starts: every contender inherits it
        os.environ.update(AVX2_PROXY_ENV)
        # a feature list inherited from a process that imported darknet_py (its _jit writes the host's,
        # AVX-512 included) would win over the named CPU: haswell gets its own features
        os.environ.pop("NUMBA_CPU_FEATURES", None)
    try:
        return orchestrate(args)
    except WorkerFailed as e:
        print(f"bench: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
