#!/usr/bin/env python
"""[l2norm] in real use (issue #13): train cfg/shapes-cosine.cfg on the shapes classification data
twice, the same seed and batches, once with the true gradient (``gradient=true``) and once with
Darknet's pass-through backward (``gradient=passthrough``), then validate both (top-1) and print a table.

    python tools/l2norm_experiment.py --out /tmp/l2norm-exp --train 1000 --valid 300 --max-batches 200

Writes OUT/data (``darknet-py data shapes --classify``), and per run OUT/<gradient>.cfg (the cfg with
the one [l2norm] option changed) and OUT/data/<gradient>.data (its own backup=OUT/data/backup-<gradient>,
so loss.csv and the weights of the two runs stay apart). --json FILE also writes the table as JSON.
"""
import argparse
import json
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

GRADIENTS = ("true", "passthrough")


def main(argv=None):
    a = parse_args(argv)
    out = Path(a.out)
    from darknet_py.data.shapes import write_shapes
    data = write_shapes(out / "data", a.train, a.valid, a.size, a.seed, classify=True)
    rows = [run(out, data, Path(a.cfg), gradient, a) for gradient in GRADIENTS]
    print(table(rows, a))
    if a.json:
        Path(a.json).write_text(json.dumps({"rows": rows, "args": vars(a)}, indent=1))
    return 0


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="work folder (its path must not contain a class name)")
    p.add_argument("--cfg", default=str(ROOT / "cfg" / "shapes-cosine.cfg"))
    p.add_argument("--train", type=int, default=1000, help="training images (default 1000)")
    p.add_argument("--valid", type=int, default=300, help="validation images (default 300)")
    p.add_argument("--size", type=int, default=32, help="image side (default 32, the cfg's input)")
    p.add_argument("--max-batches", type=int, default=None, help="iterations (default: the cfg's max_batches)")
    p.add_argument("--seed", type=int, default=0, help="data and training seed (default 0)")
    p.add_argument("--augment", action="store_true", help="Darknet's classifier augmentation (default off)")
    p.add_argument("--json", metavar="FILE")
    return p.parse_args(argv)


def run(out, data, cfg, gradient, a):
    """Train and validate one variant; its row of the table."""
    from darknet_py.evaluate import evaluate_classifier
    from darknet_py.train import train
    cfg_path = out / f"{gradient}.cfg"
    cfg_path.write_text(with_gradient(cfg.read_text(), gradient))
    data_path = data.parent / f"{gradient}.data"      # beside shapes.data: the same relative paths
    data_path.write_text(data.read_text().replace("backup=backup", f"backup=backup-{gradient}"))
    t0 = time.perf_counter()
    result = train(data_path, cfg_path, max_batches=a.max_batches, seed=a.seed, augment=a.augment,
                   progress=False, log=lambda m: None)
    seconds = time.perf_counter() - t0
    score = evaluate_classifier(data_path, cfg_path, result.final_weights, progress=False)
    return {"gradient": gradient, "iterations": result.iterations, "loss": result.loss,
            "avg_loss": result.avg_loss, "top1": score["top1"], "valid_images": score["images"],
            "train_seconds": round(seconds, 1)}


def with_gradient(cfg_text, gradient):
    """The cfg text with every [l2norm]'s gradient= set (added when absent)."""
    sections = re.split(r"(?m)^(?=\[)", cfg_text)
    for i, s in enumerate(sections):
        if s.startswith("[l2norm]"):
            s = re.sub(r"(?m)^gradient\s*=.*\n?", "", s)
            sections[i] = s.replace("[l2norm]\n", f"[l2norm]\ngradient={gradient}\n", 1)
    return "".join(sections)


def table(rows, a):
    lines = [f"shapes --classify: {a.train} train / {a.valid} valid images, {a.size}x{a.size}, seed {a.seed}",
             f"{'[l2norm] gradient':<20}{'iterations':>11}{'final loss':>12}{'avg loss':>10}{'top-1':>8}"
             f"{'train s':>9}"]
    for r in rows:
        lines.append(f"{r['gradient']:<20}{r['iterations']:>11}{r['loss']:>12.4f}{r['avg_loss']:>10.4f}"
                     f"{r['top1']:>8.3f}{r['train_seconds']:>9.1f}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
