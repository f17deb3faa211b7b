#!/usr/bin/env python
"""Detection throughput, darknet_py against OpenCV DNN doing the same job, side by side (issue #11).

    python tools/bench_detect.py                      # yolov3-tiny 416, 24 JPEGs, 2 threads
    python tools/bench_detect.py --images 8 --size 416 --threads 2 --batch 1 4 --json out.json

One image = decode the JPEG file + letterbox to the network size + the network + boxes + NMS:
* darknet_py: ``load_image`` (Pillow), Darknet's ``letterbox_image``, ``Network.forward``,
  ``get_network_boxes`` + ``do_nms_sort`` + the reported records (darknet_py.detect.Detector), at batch
  1 (Darknet's ``detector test``) and at each other ``--batch`` (several images per forward).
* OpenCV: ``cv2.imread``, ``cv2.resize`` (bilinear) into a 0.5-grey canvas of the same letterbox
  geometry, ``blobFromImage``, ``Net.forward`` of both [yolo] outputs (decoded by OpenCV), the
  candidates above ``--thresh``, ``cv2.dnn.NMSBoxesBatched``.
Both read the same cfg, the same random Darknet weights (darknet_py's, saved as .weights) and the same
files. Each contender runs in its own process with the thread counts set in its environment before
anything is imported; images/s is the median over ``--rounds`` passes over every image, after one
warm-up pass. darknet_py also reports where the time goes (per stage, batch 1).
"""
import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def median(xs):
    s = sorted(xs)
    n = len(s)
    return s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2])


# ====================================================================== preparation (orchestrator)
def prepare(args, tmp):
    """cfg at --size, random weights, --images JPEGs of varied sizes with shapes on gradients."""
    sys.path.insert(0, ROOT)
    import numpy as np
    from PIL import Image, ImageDraw
    import darknet_py
    text = open(args.cfg).read()
    text = re.sub(r"(?m)^(width|height)\s*=\s*\d+", rf"\g<1>={args.size}", text)
    cfg = os.path.join(tmp, "net.cfg")
    with open(cfg, "w") as f:
        f.write(text)
    weights = os.path.join(tmp, "net.weights")
    darknet_py.load_network(cfg, batch=1).save_weights(weights)
    rng = np.random.default_rng(0)
    paths = []
    for i in range(args.images):
        w, h = (640, 480) if i % 3 else (480, 640)
        if i % 4 == 3:
            w, h = 1280, 720
        grad = np.linspace(0, 255, w, dtype=np.float32)[None, :, None] * rng.random(3, dtype=np.float32)
        pixels = np.broadcast_to(grad, (h, w, 3)) + rng.normal(0, 12, (h, w, 3))
        pil = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
        draw = ImageDraw.Draw(pil)
        for _ in range(6):
            x0, y0 = int(rng.integers(0, w - 60)), int(rng.integers(0, h - 60))
            draw.rectangle([x0, y0, x0 + int(rng.integers(30, w // 3)), y0 + int(rng.integers(30, h // 3))],
                           fill=tuple(int(c) for c in rng.integers(0, 256, 3)))
        path = os.path.join(tmp, f"img_{i:03d}.jpg")
        pil.save(path, quality=90)
        paths.append(path)
    return cfg, weights, paths


def thread_env(threads):
    env = dict(os.environ)
    for var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[var] = str(threads)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    return env


def spawn(args, worker, spec, batch=1):
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", worker, "--spec", spec, "--threads",
           str(args.threads), "--rounds", str(args.rounds), "--thresh", str(args.thresh), "--nms", str(args.nms),
           "--batch", str(batch)]
    p = subprocess.run(cmd, env=thread_env(args.threads), capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"{worker} worker failed:\n{p.stderr[-3000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


# ====================================================================== workers
def _passes(run_all, rounds):
    run_all()                                            # warm-up (compilation, caches)
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        run_all()
        times.append(time.perf_counter() - t0)
    return times


def worker_darknet(a, spec):
    import numba
    numba.set_num_threads(a.threads)
    import darknet_py
    from darknet_py.detect import Detector, detect_files
    from darknet_py.image import letterbox_into, load_image
    paths = spec["paths"]
    net = darknet_py.load_network(spec["cfg"], spec["weights"], batch=a.batch)
    det = Detector(net, a.thresh, a.nms)
    counts = []

    def run_all():
        counts.clear()
        detect_files(det, paths, lambda r, s: counts.append(len(r.detections)), _raise)
    times = _passes(run_all, a.rounds)
    stages = None
    if a.batch == 1:
        stages = {"decode": 0.0, "letterbox": 0.0, "network": 0.0, "boxes_nms": 0.0}
        for path in paths:
            t0 = time.perf_counter()
            im = load_image(path)
            t1 = time.perf_counter()
            letterbox_into(im, det.batch_input[0])
            t2 = time.perf_counter()
            net.forward(det.batch_input)
            t3 = time.perf_counter()
            det.records(0, im.shape[2], im.shape[1])
            t4 = time.perf_counter()
            for k, dt in zip(stages, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
                stages[k] += dt * 1000 / len(paths)
    return {"times_s": times, "detections": sum(counts), "stages_ms": stages,
            "threads": numba.get_num_threads()}


def _raise(path, error):
    raise error


def worker_opencv(a, spec):
    import cv2
    import numpy as np
    cv2.setNumThreads(a.threads)
    net = cv2.dnn.readNetFromDarknet(spec["cfg"], spec["weights"])
    net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
    outputs = net.getUnconnectedOutLayersNames()
    size = spec["size"]
    counts = []

    def detect(path):
        bgr = cv2.imread(path)
        h, w = bgr.shape[:2]
        if size / w < size / h:          # Darknet's letterbox geometry
            nw, nh = size, h * size // w
        else:
            nw, nh = w * size // h, size
        canvas = np.full((size, size, 3), 128, np.uint8)
        dx, dy = (size - nw) // 2, (size - nh) // 2
        canvas[dy:dy + nh, dx:dx + nw] = cv2.resize(bgr, (nw, nh), interpolation=cv2.INTER_LINEAR)
        net.setInput(cv2.dnn.blobFromImage(canvas, 1 / 255.0, swapRB=True))
        rows = np.concatenate(net.forward(outputs))
        scores = rows[:, 5:]
        keep_row, cls = np.nonzero(scores > a.thresh)
        if len(keep_row) == 0:
            return 0
        b = rows[keep_row, :4] * size
        boxes = np.stack([b[:, 0] - b[:, 2] / 2, b[:, 1] - b[:, 3] / 2, b[:, 2], b[:, 3]], 1)
        kept = cv2.dnn.NMSBoxesBatched(boxes.tolist(), scores[keep_row, cls].tolist(), cls.tolist(),
                                       a.thresh, a.nms)
        return len(kept)

    def run_all():
        counts.clear()
        counts.extend(detect(p) for p in spec["paths"])
    times = _passes(run_all, a.rounds)
    return {"times_s": times, "detections": sum(counts), "threads": cv2.getNumThreads(),
            "version": cv2.__version__}


# ====================================================================== orchestration
def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def orchestrate(args):
    with tempfile.TemporaryDirectory(prefix="bench_detect_") as tmp:
        cfg, weights, paths = prepare(args, tmp)
        spec = os.path.join(tmp, "spec.json")
        with open(spec, "w") as f:
            json.dump({"cfg": cfg, "weights": weights, "paths": paths, "size": args.size}, f)
        results = {f"darknet_py_batch{b}": spawn(args, "darknet", spec, b) for b in args.batch}
        try:
            import cv2  # noqa: F401
            results["opencv"] = spawn(args, "opencv", spec)
        except ImportError:
            print("OpenCV not installed: darknet_py only", file=sys.stderr)
    n = len(paths)
    for r in results.values():
        r["images_per_s"] = n / median(r["times_s"])
    report = {"cpu": cpu_name(), "cpus": os.cpu_count(), "threads": args.threads, "cfg": args.cfg,
              "size": args.size, "images": n, "rounds": args.rounds, "thresh": args.thresh, "nms": args.nms,
              "results": results}
    print_report(report)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)


def print_report(rep):
    print(f"CPU: {rep['cpu']} ({rep['cpus']} CPUs), {rep['threads']} threads; {os.path.basename(rep['cfg'])} "
          f"{rep['size']}x{rep['size']}, random weights, {rep['images']} JPEGs (640x480 .. 1280x720), "
          f"median of {rep['rounds']} passes")
    print("one image = decode + letterbox + network + boxes + NMS")
    base = rep["results"].get("opencv")
    print(f"{'contender':<24}{'images/s':>10}{'ms/image':>10}{'detections':>12}{'vs OpenCV':>11}")
    for name, r in rep["results"].items():
        ratio = f"{r['images_per_s'] / base['images_per_s']:.2f}x" if base else "-"
        label = name if name != "opencv" else f"OpenCV DNN {r['version']}"
        print(f"{label:<24}{r['images_per_s']:>10.1f}{1000 / r['images_per_s']:>10.1f}{r['detections']:>12}"
              f"{ratio:>11}")
    stages = rep["results"].get("darknet_py_batch1", {}).get("stages_ms")
    if stages:
        print("darknet_py batch 1, ms per image: " + ", ".join(f"{k} {v:.1f}" for k, v in stages.items()))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cfg", default=os.path.join(ROOT, "cfg", "yolov3-tiny.cfg"))
    p.add_argument("--size", type=int, default=416, help="network width and height (default 416)")
    p.add_argument("--images", type=int, default=24, help="how many JPEGs (default 24)")
    p.add_argument("--rounds", type=int, default=3, help="timed passes over all images (default 3)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, nargs="+", default=[1, 4], help="darknet_py batch sizes (default 1 4)")
    p.add_argument("--thresh", type=float, default=0.5)
    p.add_argument("--nms", type=float, default=0.45)
    p.add_argument("--json", metavar="OUT", help="write the figures as JSON")
    p.add_argument("--worker", choices=("darknet", "opencv"), help=argparse.SUPPRESS)
    p.add_argument("--spec", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.worker:
        with open(a.spec) as f:
            spec = json.load(f)
        a.batch = a.batch[0]
        result = (worker_darknet if a.worker == "darknet" else worker_opencv)(a, spec)
        print(json.dumps(result))
        return
    orchestrate(a)


if __name__ == "__main__":
    main()
