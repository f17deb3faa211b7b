"""The ``darknet-py`` command line. Verbs only parse arguments, call the API and format results.

Every DarknetError (bad cfg, weights, arrays) becomes one line on stderr and exit status 2; any
other exception is a bug and keeps its traceback.
"""
import argparse
import io
import json
import sys
import warnings

import numpy as np

from .errors import CfgWarning, DarknetError
from .fileio import atomic_write
from .network import INFERENCE_BATCH


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    _show_cfg_warnings_plainly()
    try:
        if args.strict:
            warnings.simplefilter("error", CfgWarning)
        return args.run(args) or 0
    except CfgWarning as w:                 # --strict: a warning is an error, at its file:line
        place = f"{w.path}:{w.line}: " if getattr(w, "path", None) else ""
        print(f"darknet-py: error: {place}{w}", file=sys.stderr)
        return 2
    except DarknetError as e:
        print(f"darknet-py: error: {e}", file=sys.stderr)
        return 2


def build_parser():
    parser = argparse.ArgumentParser(
        prog="darknet-py", description="Run, train and inspect Darknet networks (.cfg/.weights) with Numba.")
    parser.add_argument("--strict", action="store_true", help="treat cfg warnings (unused/duplicate keys) as errors")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

    p = verbs.add_parser("summary", help="layer table: type, filters, size/stride, input -> output, BFLOPs")
    _add_network_args(p, weights=False)
    p.add_argument("--format", choices=("table", "yaml", "json"), default="table")
    p.set_defaults(run=run_summary)

    p = verbs.add_parser("forward", help="run a forward pass and save every layer's output")
    _add_network_args(p)
    p.add_argument("--input", metavar="X.npy", help="input array (batch, c, h, w) or (batch, inputs); "
                                                    "default: seeded random N(0, 1)")
    p.add_argument("--train", action="store_true", help="training-mode forward (batch statistics, dropout)")
    p.add_argument("--output", metavar="OUT.npz", help="save every layer's output (keys layer_000, ...)")
    p.set_defaults(run=run_forward)

    p = verbs.add_parser("backward", help="forward (training mode) then backward from a given delta")
    _add_network_args(p, batch_default=None)
    p.add_argument("--input", metavar="X.npy", help="input array; default: seeded random N(0, 1)")
    p.add_argument("--delta", metavar="D.npy", required=True,
                   help="delta of the last layer, Darknet's sign (-dL/dy), shaped like the output")
    p.add_argument("--output", metavar="GRADS.npz", help="save input_grad and every parameter gradient")
    p.set_defaults(run=run_backward)

    p = verbs.add_parser("train", help="train on a Darknet .data file (checkpoints, loss.csv, loss.png in backup=)")
    p.add_argument("data", metavar="DATA", help="Darknet .data file (classes, train, valid, names, backup)")
    p.add_argument("cfg", metavar="CFG", help="Darknet .cfg file")
    p.add_argument("weights", metavar="WEIGHTS", nargs="?", help="start from these weights, resuming at their seen")
    p.add_argument("--max-batches", type=int, metavar="N", help="stop after iteration N (default: max_batches)")
    p.add_argument("--seed", type=int, default=0, help="seed of the data order and augmentation (default 0)")
    p.add_argument("--no-augment", action="store_true", help="no jitter, flip or colour distortion")
    _add_compat_arg(p)
    p.set_defaults(run=run_train)

    p = verbs.add_parser("map", help="mean average precision of a detector over the valid= list")
    p.add_argument("data", metavar="DATA")
    p.add_argument("cfg", metavar="CFG")
    p.add_argument("weights", metavar="WEIGHTS")
    p.add_argument("--iou", type=float, default=0.5, help="IoU a detection needs to match a truth (default 0.5)")
    p.add_argument("--json", action="store_true", help='print {"map": .., "ap": {name: ..}, "iou": ..}')
    _add_compat_arg(p)
    p.set_defaults(run=run_map)

    p = verbs.add_parser("valid", help="top-1 / top-5 accuracy of a classifier over the valid= list")
    p.add_argument("data", metavar="DATA")
    p.add_argument("cfg", metavar="CFG")
    p.add_argument("weights", metavar="WEIGHTS")
    p.add_argument("--json", action="store_true", help='print {"top1": .., "top5": .., "images": n}')
    _add_compat_arg(p)
    p.set_defaults(run=run_valid)

    p = verbs.add_parser("data", help="make datasets")
    kinds = p.add_subparsers(dest="kind", required=True, metavar="KIND")
    q = kinds.add_parser("shapes", help="synthetic detection dataset: coloured shapes on noise, Darknet's layout")
    q.add_argument("out", metavar="OUT", help="folder to write (images/, labels/, train.txt, shapes.data, ...)")
    q.add_argument("--train", type=int, default=1000, metavar="N", help="training images (default 1000)")
    q.add_argument("--valid", type=int, default=200, metavar="M", help="validation images (default 200)")
    q.add_argument("--size", type=int, default=None, metavar="S",
                   help="image side in pixels (default 96; 32 with --classify)")
    q.add_argument("--seed", type=int, default=0, metavar="K", help="seed (default 0): same seed, same files")
    q.add_argument("--classify", action="store_true",
                   help="classification variant: one shape per image, its class name in the file name")
    q.set_defaults(run=run_data_shapes)

    p = verbs.add_parser("detect", help="objects in images as Darknet's `detector test`: labels, boxes, drawings")
    _add_image_args(p)
    p.add_argument("--thresh", type=float, default=0.5, help="report (box, class) pairs above this probability "
                                                             "(default 0.5, Darknet's)")
    p.add_argument("--hier-thresh", type=float, default=0.5, help="Darknet's hier_thresh (softmax trees only)")
    p.add_argument("--nms", type=float, default=0.45, help="NMS IoU threshold; 0 turns NMS off (default 0.45)")
    p.add_argument("--out", metavar="DIR", help="write DIR/<image stem>.png with the boxes and labels drawn")
    p.set_defaults(run=run_detect)

    p = verbs.add_parser("classify", help="top-k classes of images as Darknet's `classifier predict`")
    _add_image_args(p)
    p.add_argument("--top", type=int, default=5, help="how many classes to report (default 5)")
    p.set_defaults(run=run_classify)
    p = verbs.add_parser("export", help="write the network's inference forward as an ONNX model")
    p.add_argument("cfg", metavar="CFG", help="Darknet .cfg file")
    p.add_argument("weights", metavar="WEIGHTS", help="Darknet .weights file")
    p.add_argument("out", metavar="OUT.onnx", help="the ONNX file to write (atomically)")
    _add_compat_arg(p)
    p.set_defaults(run=run_export)

    p = verbs.add_parser("layers", help="list every registered layer type with its options and defaults")
    p.add_argument("--format", choices=("table", "yaml", "json"), default="table")
    p.set_defaults(run=run_layers)

    p = verbs.add_parser("bench", help="CPU, Numba target, chosen gemm kernels, and gemm speed vs numpy matmul")
    p.add_argument("--no-gemm", action="store_true", help="only say which kernels were chosen")
    p.add_argument("--rounds", type=int, default=2, help="alternating numpy/gemm rounds (default 2)")
    p.set_defaults(run=run_bench)
    return parser


def _add_network_args(p, weights=True, batch_default=INFERENCE_BATCH):
    """CFG and the options every network verb shares. ``batch_default``: INFERENCE_BATCH (1) for the
    inspecting and inference verbs, as Darknet's test commands; None (the cfg's batch / subdivisions)
    for the verbs that train."""
    p.add_argument("cfg", metavar="CFG", help="Darknet .cfg file")
    if weights:
        p.add_argument("--weights", metavar="W", help="Darknet .weights file (default: random initial weights)")
        _add_compat_args(p)
        p.add_argument("--seed", type=int, default=0, help="seed of the random input (default 0)")
    cfg_batch = "the cfg's batch / subdivisions"
    p.add_argument("--batch", type=int, default=batch_default,
                   help=f"batch size (default: {batch_default or cfg_batch})")
    p.add_argument("--max-memory", metavar="MiB", type=float,
                   help="refuse networks whose buffers need more (default: 75%% of physical memory)")


def _add_compat_arg(p):
    p.add_argument("--compat", nargs="?", const="pjreddie", choices=("pjreddie", "alexeyab"), default=None,
                   help="reproduce a Darknet's CPU numbers, quirks included: pjreddie's original (the "
                        "default when no flavour is given) or AlexeyAB's fork (README: differences)")


def _add_compat_args(p):
    _add_compat_arg(p)
    p.add_argument("--check-numerics", action="store_true", help="stop at the first layer producing NaN/Inf")


def _add_image_args(p):
    """detect/classify: CFG WEIGHTS IMAGE... (a folder stands for its images) and the shared options.
    --batch is the number of images per forward (default 1, as Darknet's test commands)."""
    _add_network_args(p, weights=False)
    p.add_argument("weights", metavar="WEIGHTS", help="Darknet .weights file")
    p.add_argument("images", metavar="IMAGE", nargs="+", help="image files (PNG, JPEG, BMP, ...) or folders")
    _add_compat_args(p)
    p.add_argument("--names", metavar="FILE", help="class names, one per line (Darknet's .names file)")
    p.add_argument("--json", action="store_true", help="one JSON document per image and line on stdout")


def _show_cfg_warnings_plainly():
    """Print cfg warnings as 'file:line: warning: message' (no Python source line)."""
    def show(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, CfgWarning):
            print(f"{filename}:{lineno}: warning: {message}", file=sys.stderr)
        else:
            sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))
    warnings.showwarning = show


def _load(args, **extra):
    from .network import load_network
    kwargs = dict(batch=args.batch, max_memory=_max_memory(args))
    if hasattr(args, "compat"):
        kwargs.update(compat=args.compat, weights_path=args.weights)
        if args.check_numerics:
            kwargs["check_numerics"] = True
    return load_network(args.cfg, **kwargs, **extra)


def _max_memory(args):
    return "auto" if args.max_memory is None else int(args.max_memory * 2**20)


def _load_array(path, what):
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise DarknetError(f"{path}: cannot read {what} as a .npy array: {e}") from None


def _input(args, net):
    if args.input:
        return _load_array(args.input, "input")
    rng = np.random.default_rng(args.seed)
    return rng.standard_normal((net.batch,) + tuple(net.input_shape), dtype=np.float32)


def _save_npz(path, arrays):
    def write(f):
        np.savez(f, **arrays)
    atomic_write(path, write)
    print(f"saved {len(arrays)} arrays to {path}", file=sys.stderr)


def _announce_compilation():
    from .kernels._jit import cache_is_cold
    if cache_is_cold():
        print("darknet-py: compiling kernels for this machine (first run only; later runs load them "
              "from the cache)...", file=sys.stderr, flush=True)


# ------------------------------------------------------------------ verbs
def run_summary(args):
    from .summary import summarize, format_summary
    rows, totals = summarize(args.cfg, batch=args.batch, max_memory=_max_memory(args))
    print(format_summary(rows, totals, args.format))


def run_forward(args):
    net = _load(args)
    x = _input(args, net)
    _announce_compilation()
    out = net.forward(x, train=args.train)
    print(f"output {tuple(out.shape)}: mean {float(np.mean(out)):.6g}, std {float(np.std(out)):.6g}, "
          f"min {float(np.min(out)):.6g}, max {float(np.max(out)):.6g}")
    if args.output:
        _save_npz(args.output, {f"layer_{l.index:03d}": l.output_array() for l in net.layers})


def run_backward(args):
    net = _load(args)
    x = _input(args, net)
    delta = _load_array(args.delta, "delta")
    _announce_compilation()
    net.forward(x, train=True)
    grad = net.backward(delta)
    print(f"input gradient {tuple(grad.shape)}: |g|max {float(np.max(np.abs(grad))):.6g}")
    if args.output:
        arrays = {"input_grad": grad}
        names = {"weights": "weight_updates", "biases": "bias_updates", "scales": "scale_updates"}
        for layer in net.layers:
            for name, _, g in layer.parameters():
                arrays[f"{names.get(name, name + '_updates')}_{layer.index:03d}"] = g
        _save_npz(args.output, arrays)


def run_layers(args):
    from .registry import registered_layers
    types = registered_layers()
    data = [{"type": name, "aliases": list(cls.aliases), "module": cls.__module__,
             "options": [{"name": o.name, "default": o.default, "help": o.help} for o in cls.OPTIONS]}
            for name, cls in sorted(types.items())]
    if args.format == "json":
        print(json.dumps(data, indent=1, default=str))
    elif args.format == "yaml":
        import yaml
        print(yaml.safe_dump(data, sort_keys=False, default_flow_style=False), end="")
    else:
        out = io.StringIO()
        for d in data:
            alias = f" (aliases: {', '.join(d['aliases'])})" if d["aliases"] else ""
            print(f"[{d['type']}]{alias}  {d['module']}", file=out)
            for o in d["options"]:
                print(f"    {o['name']:<18} = {o['default']!s:<10} {o['help']}", file=out)
        print(out.getvalue(), end="")


def run_train(args):
    from .distributed import run_guarded, world
    from .train import train
    ranks = world()                             # mpiexec -n R: every rank runs this; rank 0 reports
    if ranks.rank == 0:
        _announce_compilation()
    try:
        result = run_guarded(ranks, lambda: train(args.data, args.cfg, args.weights, max_batches=args.max_batches,
                                                  seed=args.seed, augment=not args.no_augment, compat=args.compat,
                                                  log=_note))
    except KeyboardInterrupt:                   # before the loop, or a second Ctrl-C: nothing saved
        _note("darknet-py: interrupted (nothing saved)")
        return 130
    return 130 if result.interrupted else 0


def run_map(args):
    from .evaluate import evaluate_map, format_map
    result = evaluate_map(args.data, args.cfg, args.weights, iou=args.iou, compat=args.compat)
    print(json.dumps(result) if args.json else format_map(result))


def run_valid(args):
    from .evaluate import evaluate_classifier
    result = evaluate_classifier(args.data, args.cfg, args.weights, compat=args.compat)
    print(json.dumps(result) if args.json else
          f"top-1 {result['top1']:.4f}, top-5 {result['top5']:.4f} over {result['images']} images")


def run_data_shapes(args):
    from tqdm import tqdm
    from .data.shapes import write_shapes
    size = args.size if args.size is not None else 32 if args.classify else 96
    if min(args.train, args.valid) < 0 or size < 16:
        raise DarknetError("--train/--valid must be >= 0 and --size >= 16")
    with tqdm(total=args.train + args.valid, unit="img", desc="shapes") as bar:
        data = write_shapes(args.out, args.train, args.valid, size, args.seed, progress=bar.update,
                            classify=args.classify)
    print(f"wrote {data}")


def _note(message):
    print(message, file=sys.stderr, flush=True)


def _image_run(args, make):
    """Shared by detect/classify: names, network (batch 1 unless --batch), the images."""
    from .detect import expand_images, read_names
    names = args.names
    if names:
        read_names(names)           # a missing names file fails before the network is built
    args.batch = args.batch or 1
    tool = make(_load(args), names)
    _announce_compilation()
    return tool, expand_images(args.images)


def _until_stdout_closes(run):
    """Run; if the reader of stdout goes away (`... | head`), stop quietly as a Unix filter does."""
    try:
        return run()
    except BrokenPipeError:
        import os
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())   # no second error at exit
        return 0


def _report_error(path, error):
    print(f"darknet-py: error: {error}", file=sys.stderr, flush=True)


def run_detect(args):
    from .detect import Detector, detect_files, text_lines
    from .distributed import world
    detector, paths = _image_run(args, lambda net, names: Detector(net, args.thresh, args.nms, args.hier_thresh,
                                                                    names))

    def lines_of(result, seconds):
        return [json.dumps(result.as_dict())] if args.json else text_lines(result, seconds)
    ranks = world()
    if ranks.size > 1:
        return _detect_over_ranks(ranks, detector, paths, lines_of, args.out)

    def show(result, seconds):
        print("\n".join(lines_of(result, seconds)), flush=True)
    failed = _until_stdout_closes(lambda: detect_files(detector, paths, show, _report_error, out_dir=args.out))
    return 1 if failed else 0


def _detect_over_ranks(ranks, detector, paths, lines_of, out_dir):
    """mpiexec -n R darknet-py detect: rank r takes images r, r+R, r+2R, ...; rank 0 prints every
    image's lines (or its error) in input order once all are done; the exit status counts every rank."""
    from .detect import detect_files, drawing_names
    mine = list(range(ranks.rank, len(paths), ranks.size))
    pending = {}                        # path -> its global indexes not reported yet, in order
    for i in mine:
        pending.setdefault(paths[i], []).append(i)
    done = {}                           # global index -> (stdout lines, error line or None)

    def show(result, seconds):
        done[pending[result.image].pop(0)] = (lines_of(result, seconds), None)

    def error(path, e):
        done[pending[path].pop(0)] = ([], f"darknet-py: error: {e}")
    failed = detect_files(detector, [paths[i] for i in mine], show, error, out_dir=out_dir,
                          names=drawing_names(paths))
    parts = ranks.gather(done)
    if ranks.rank == 0:
        merged = {i: v for part in parts for i, v in part.items()}

        def report():
            for i in range(len(paths)):
                lines, err = merged[i]
                if err:
                    print(err, file=sys.stderr, flush=True)
                else:
                    print("\n".join(lines), flush=True)
        _until_stdout_closes(report)
    return 1 if sum(ranks.allgather(failed)) else 0


def run_classify(args):
    from .classify import Classifier, classify_files
    classifier, paths = _image_run(args, lambda net, names: Classifier(net, args.top, names))

    def show(path, size, predictions, seconds):
        if args.json:
            doc = {"image": str(path), "width": size[0], "height": size[1],
                   "predictions": [p.as_dict() for p in predictions]}
            print(json.dumps(doc), flush=True)
        else:
            print("\n".join([f"{path}: Predicted in {seconds:f} seconds."] + [p.label() for p in predictions]),
                  flush=True)
    failed = _until_stdout_closes(lambda: classify_files(classifier, paths, show, _report_error))
    return 1 if failed else 0
def run_bench(args):
    from .bench import run_bench
    run_bench(rounds=max(1, args.rounds), gemm_table=not args.no_gemm)
def run_export(args):
    from .network import load_network
    from .onnx_export import export_onnx
    net = load_network(args.cfg, args.weights, batch=1, compat=args.compat)
    outputs = export_onnx(net, args.out)
    print(f"wrote {args.out}: input 'input' (batch, {', '.join(map(str, net.input_shape))}), "
          f"outputs {', '.join(outputs)}")
