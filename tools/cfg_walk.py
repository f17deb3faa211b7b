"""Walk a folder of Darknet cfgs: does each one load (``summary``) and run a forward?

    python tools/cfg_walk.py FOLDER [FOLDER ...] [--forward] [--max-memory MiB] [--strict] [--recursive]
                             [--timeout S]

For every ``*.cfg``: build the network at batch 1 (one sequence of ``time_steps`` for recurrent
cfgs) and compute its summary table; with ``--forward`` also run one inference forward at the cfg's
own input size on a seeded N(0, 1) input, with the random weights a fresh network starts with. One
line per cfg (OK, or FAIL and the reason on one line), then ``loaded N/M``, ``forward N/M`` and the
failures counted by reason. The exit status is 1 if any cfg failed, else 0.

Memory: batch 1 keeps every network's buffers small; ``--max-memory`` (default 8192 MiB) is the
budget each network may allocate (darknet_py's own memory guard), generous for batch 1 and low
enough that a 2-core shared machine survives the largest cfgs. Buffers are zeroed lazily by the OS,
so an inference forward touches only what it uses.

Isolation: ``--timeout S`` runs each cfg in its own Python process and stops it after S seconds
(reported as a failure "timed out after S s"), so that one huge or slow cfg cannot stall the walk
and a crash (out of memory, a segfault) is reported for that cfg alone. The processes share the
on-disk Numba cache, so only the first pays the compilations.

``walk_cfgs`` is the same without the command line (tests/test_cfg_walk.py uses it).
"""
import argparse
import glob
import json
import os
import re
import subprocess
import sys
import time
import traceback
import warnings
from collections import Counter
from dataclasses import asdict, dataclass, field

import numpy as np

DEFAULT_MAX_MEMORY_MIB = 8192


@dataclass
class CfgResult:
    path: str
    loaded: bool = False
    forward: bool = None          # None: not attempted
    reason: str = ""              # one line: why it failed
    layers: int = 0
    bflops: float = 0.0
    warnings: list = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self):
        return self.loaded and self.forward is not False


def find_cfgs(folders, recursive=False):
    paths = []
    for folder in folders:
        if os.path.isfile(folder):
            paths.append(folder)
            continue
        pattern = os.path.join(folder, "**", "*.cfg") if recursive else os.path.join(folder, "*.cfg")
        paths.extend(glob.glob(pattern, recursive=recursive))
    return sorted(paths)


def one_line(error):
    """The failure as one line: a DarknetError's own message; anything else is a bug, named as such
    with the innermost frame of the package."""
    from darknet_py import DarknetError
    text = " ".join(str(error).split())
    if isinstance(error, (DarknetError, Warning)):      # a Warning: --strict made a CfgWarning an error
        return text
    frames = [f for f in traceback.extract_tb(error.__traceback__) if "darknet_py" in f.filename]
    where = f" at {os.path.basename(frames[-1].filename)}:{frames[-1].lineno}" if frames else ""
    return f"BUG {type(error).__name__}{where}: {text}"


def check_cfg(path, forward=False, max_memory=DEFAULT_MAX_MEMORY_MIB << 20, strict=False, seed=0):
    """CfgResult of one cfg: summary at batch 1, then (``forward``) one inference forward."""
    from darknet_py import load_network
    from darknet_py.errors import CfgWarning
    from darknet_py.summary import summary_rows
    result = CfgResult(path)
    t0 = time.perf_counter()
    net = None
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("error" if strict else "always", CfgWarning)
            net = load_network(path, batch=1, max_memory=max_memory)
        result.warnings = [" ".join(str(w.message).split()) for w in caught if issubclass(w.category, CfgWarning)]
        rows, totals = summary_rows(net)
        result.loaded, result.layers, result.bflops = True, totals["layers"], totals["bflops"]
        if forward:
            result.forward = False
            x = np.random.default_rng(seed).standard_normal((net.batch,) + tuple(net.input_shape), dtype=np.float32)
            net.forward(x)
            result.forward = True
    except Exception as e:        # noqa: BLE001 - the point is to report every failure, bugs included
        result.reason = one_line(e)
    finally:
        del net
        result.seconds = time.perf_counter() - t0
    return result


def check_cfg_in_process(path, timeout, forward=False, max_memory=DEFAULT_MAX_MEMORY_MIB << 20, strict=False):
    """``check_cfg`` in a child process stopped after ``timeout`` seconds: a hang, a crash or an
    exhausted memory fails this cfg alone."""
    command = [sys.executable, os.path.abspath(__file__), "--one", path, "--max-memory", str(max_memory / 2**20)]
    command += ["--forward"] * forward + ["--strict"] * strict
    t0 = time.perf_counter()
    try:
        p = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return CfgResult(path, forward=False if forward else None, reason=f"timed out after {timeout:g} s",
                         seconds=time.perf_counter() - t0)
    lines = p.stdout.strip().splitlines()
    if p.returncode != 0 or not lines:
        tail = " ".join((p.stderr.strip().splitlines() or ["no output"])[-1].split())
        return CfgResult(path, forward=False if forward else None, seconds=time.perf_counter() - t0,
                         reason=f"process died (exit status {p.returncode}): {tail}")
    return CfgResult(**json.loads(lines[-1]))


def walk_cfgs(folders, forward=False, max_memory=DEFAULT_MAX_MEMORY_MIB << 20, strict=False, recursive=False,
              progress=None, timeout=None):
    """[CfgResult] for every cfg in ``folders`` (a folder or a cfg path each). ``progress``: called
    with each result as soon as it is known. ``timeout``: seconds per cfg, each in its own process."""
    results = []
    for path in find_cfgs(folders, recursive):
        if timeout:
            r = check_cfg_in_process(path, timeout, forward=forward, max_memory=max_memory, strict=strict)
        else:
            r = check_cfg(path, forward=forward, max_memory=max_memory, strict=strict)
        results.append(r)
        if progress:
            progress(r)
    return results


def result_line(r):
    if r.ok:
        what = f"{r.layers} layers, {r.bflops:.3f} BFLOPs"
        if r.forward:
            what += ", forward ok"
        if r.warnings:
            what += f", {len(r.warnings)} warnings"
        return f"OK    {r.path}  ({what}, {r.seconds:.1f} s)"
    stage = "load" if not r.loaded else "forward"
    return f"FAIL  {r.path}  [{stage}] {r.reason}"


def reason_key(reason):
    """A failure reason without its place (file:line [section]: ...), so that like reasons count together."""
    return re.sub(r"^\S+?:\d+ \[[^\]]*\]: ", "", reason)


def summary_lines(results, forward=False):
    total = len(results)
    lines = [f"loaded {sum(r.loaded for r in results)}/{total}"]
    if forward:
        lines.append(f"forward {sum(bool(r.forward) for r in results)}/{total}")
    reasons = Counter(reason_key(r.reason) for r in results if not r.ok)
    if reasons:
        lines.append("failures by reason:")
        lines.extend(f"  {count:4d}  {reason}" for reason, count in reasons.most_common())
    return lines


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("folders", nargs="*", help="folders of .cfg files (or cfg files)")
    p.add_argument("--forward", action="store_true", help="also run a batch-1 inference forward at the cfg's size")
    p.add_argument("--max-memory", type=float, default=DEFAULT_MAX_MEMORY_MIB,
                   help=f"MiB each network's buffers may take (default {DEFAULT_MAX_MEMORY_MIB})")
    p.add_argument("--strict", action="store_true", help="cfg warnings (unused keys, ...) count as failures")
    p.add_argument("--recursive", action="store_true", help="also walk subfolders")
    p.add_argument("--warnings", action="store_true", help="print each cfg's warnings under its line")
    p.add_argument("--timeout", type=float, default=None,
                   help="seconds per cfg, each cfg in its own process (default: all in this process, no limit)")
    p.add_argument("--one", metavar="CFG", help=argparse.SUPPRESS)     # the child of --timeout: one JSON line
    args = p.parse_args(argv)
    if args.one:
        r = check_cfg(args.one, forward=args.forward, max_memory=int(args.max_memory * 2**20), strict=args.strict)
        print(json.dumps(asdict(r)))
        return 0
    if not args.folders:
        p.error("name at least one folder of cfgs")

    def progress(r):
        print(result_line(r), flush=True)
        if args.warnings:
            for w in r.warnings:
                print(f"      warning: {w}")

    results = walk_cfgs(args.folders, forward=args.forward, max_memory=int(args.max_memory * 2**20),
                        strict=args.strict, recursive=args.recursive, progress=progress, timeout=args.timeout)
    if not results:
        print(f"no .cfg files in {', '.join(args.folders)}", file=sys.stderr)
        return 2
    print("\n".join(summary_lines(results, args.forward)))
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
