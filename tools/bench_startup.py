"""Start-up times of the CLI as a user meets them: `summary` and `forward` with an empty kernel cache
(first run on a machine) and again with the cache filled (every later run), wall clock per process.

    python tools/bench_startup.py [CFG] [--repeat 3]

Uses a fresh NUMBA_CACHE_DIR (a temporary folder), so the package's own __pycache__ is not involved.
Order: summary (cold cache: it compiles nothing), forward (cold: compiles, announces it), then
--repeat warm runs of each (best and median reported).
"""
import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cpu_of_children():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run(verb, cfg, env):
    """(wall s, CPU s of the process: what a quiet machine's wall time approaches, announced?)"""
    c0, t0 = cpu_of_children(), time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "darknet_py", verb, cfg], env=env, capture_output=True, text=True)
    wall, cpu = time.perf_counter() - t0, cpu_of_children() - c0
    if p.returncode != 0:
        raise SystemExit(f"{verb} failed: {p.stderr.strip()}")
    return wall, cpu, "compiling kernels" in p.stderr


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("cfg", nargs="?", default=os.path.join(ROOT, "cfg", "yolov3-tiny.cfg"))
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="darknet_startup_") as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache, DARKNET_PY_NO_PLUGINS="1",
                   PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
        rows = []
        for verb in ("summary", "forward"):
            rows.append((verb, "cold cache", [run(verb, args.cfg, env)]))
        for verb in ("summary", "forward"):
            rows.append((verb, "warm cache", [run(verb, args.cfg, env) for _ in range(args.repeat)]))
    print(f"{args.cfg}; load average {os.getloadavg()[0]:.2f}; {os.cpu_count()} CPUs")
    for verb, kind, runs in rows:
        walls, cpus = [r[0] for r in runs], [r[1] for r in runs]
        more = f" (best {min(walls):.2f} s of {len(walls)})" if len(walls) > 1 else ""
        note = "; announced 'compiling kernels'" if any(r[2] for r in runs) else ""
        print(f"  {verb:<8} {kind}: wall {statistics.median(walls):6.2f} s{more}, CPU "
              f"{statistics.median(cpus):6.2f} s{note}")


if __name__ == "__main__":
    main()
