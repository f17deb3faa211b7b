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


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    _show_cfg_warnings_plainly()
    try:
        if args.strict:
            warnings.simplefilter("error", CfgWarning)
        return args.run(args) or 0
    except CfgWarning as w:                 # --strict: a warning is an error
        print(f"darknet-py: error: {w}", file=sys.stderr)
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
    _add_network_args(p)
    p.add_argument("--input", metavar="X.npy", help="input array; default: seeded random N(0, 1)")
    p.add_argument("--delta", metavar="D.npy", required=True,
                   help="delta of the last layer, Darknet's sign (-dL/dy), shaped like the output")
    p.add_argument("--output", metavar="GRADS.npz", help="save input_grad and every parameter gradient")
    p.set_defaults(run=run_backward)

    p = verbs.add_parser("export", help="write the network's inference forward as an ONNX model")
    p.add_argument("cfg", metavar="CFG", help="Darknet .cfg file")
    p.add_argument("weights", metavar="WEIGHTS", help="Darknet .weights file")
    p.add_argument("out", metavar="OUT.onnx", help="the ONNX file to write (atomically)")
    p.add_argument("--compat", nargs="?", const="pjreddie", choices=("pjreddie", "alexeyab"), default=None,
                   help="export the forward of a Darknet flavour (batch-norm epsilon, l2norm without epsilon)")
    p.set_defaults(run=run_export)

    p = verbs.add_parser("layers", help="list every registered layer type with its options and defaults")
    p.add_argument("--format", choices=("table", "yaml", "json"), default="table")
    p.set_defaults(run=run_layers)
    return parser


def _add_network_args(p, weights=True):
    p.add_argument("cfg", metavar="CFG", help="Darknet .cfg file")
    if weights:
        p.add_argument("--weights", metavar="W", help="Darknet .weights file (default: random initial weights)")
        p.add_argument("--compat", nargs="?", const="pjreddie", choices=("pjreddie", "alexeyab"), default=None,
                       help="reproduce a Darknet's CPU numbers, quirks included: pjreddie's original (the "
                            "default when no flavour is given) or AlexeyAB's fork (README: differences)")
        p.add_argument("--seed", type=int, default=0, help="seed of the random input (default 0)")
        p.add_argument("--check-numerics", action="store_true", help="stop at the first layer producing NaN/Inf")
    p.add_argument("--batch", type=int, help="override the cfg's batch size")
    p.add_argument("--max-memory", metavar="MiB", type=float,
                   help="refuse networks whose buffers need more (default: 75%% of physical memory)")


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
    max_memory = "auto" if args.max_memory is None else int(args.max_memory * 2**20)
    kwargs = dict(batch=args.batch, max_memory=max_memory)
    if hasattr(args, "compat"):
        kwargs.update(compat=args.compat, weights_path=args.weights)
        if args.check_numerics:
            kwargs["check_numerics"] = True
    return load_network(args.cfg, **kwargs, **extra)


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
    from .summary import summary_rows, format_summary
    net = _load(args)
    rows, totals = summary_rows(net)
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


def run_export(args):
    from .network import load_network
    from .onnx_export import export_onnx
    net = load_network(args.cfg, args.weights, batch=1, compat=args.compat)
    outputs = export_onnx(net, args.out)
    print(f"wrote {args.out}: input 'input' (batch, {', '.join(map(str, net.input_shape))}), "
          f"outputs {', '.join(outputs)}")
