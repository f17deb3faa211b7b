"""The layer table of ``darknet-py summary``: Darknet's print of parse_network_cfg, plus totals.

Computed on a planned network (network.plan_network): shapes, parameters, BFLOPs and the bytes of
every buffer a run at that batch would allocate, without allocating them and without compiling a kernel.
"""
import json

from .layers.base import format_bytes
from .network import INFERENCE_BATCH, plan_network


def _shape(shape):
    return " x ".join(str(d) for d in (shape[1:] + shape[:1] if len(shape) == 3 else shape))


def summarize(cfg_path, batch=INFERENCE_BATCH, compat=False, max_memory="auto"):
    """(rows, totals) of a cfg at ``batch`` (default 1, as Darknet's test commands; None: the cfg's
    batch / subdivisions, what training allocates). Allocates no buffer, however large the network."""
    return summary_rows(plan_network(cfg_path, batch=batch, compat=compat, max_memory=max_memory))


def summary_rows(net):
    """([row dict per layer], totals dict) of a planned or built network. Shapes print as w x h x c,
    like Darknet. ``memory_bytes``: what the network's buffers take at ``batch`` (the bytes charged
    against max_memory); ``memory_limit_bytes``: that limit (None: none)."""
    rows = []
    for layer in net.layers:
        cols = layer.summary()
        rows.append({
            "index": layer.index, "type": layer.type,
            "filters": cols.get("filters", ""), "size": cols.get("size", ""),
            "input": _shape(layer.in_shape), "output": _shape(layer.out_shape),
            "bflops": layer.flops() / 1e9,
            "parameters": int(sum(p.size for _, p, _ in layer.parameters())),
        })
    used = net.budget.used if net.budget is not None else net.memory_bytes()
    totals = {
        "layers": len(rows),
        "batch": net.batch,
        "input": _shape(tuple(net.input_shape)),
        "bflops": sum(r["bflops"] for r in rows),
        "parameters": sum(r["parameters"] for r in rows),
        "memory_mib": round(used / 2**20, 2),
        "memory_bytes": int(used),
        "memory_limit_bytes": net.memory_limit,
    }
    return rows, totals


def format_summary(rows, totals, fmt="table"):
    if fmt == "json":
        return json.dumps({"layers": rows, "totals": totals}, indent=1)
    if fmt == "yaml":
        import yaml
        return yaml.safe_dump({"layers": rows, "totals": totals}, sort_keys=False).rstrip()
    lines = [f"{'layer':>5} {'type':<16} {'filters':>7} {'size':>9} {'input':>18}    {'output':>18} {'BFLOPs':>8}"]
    for r in rows:
        lines.append(f"{r['index']:>5} {r['type']:<16} {r['filters']!s:>7} {r['size']!s:>9} {r['input']:>18} -> "
                     f"{r['output']:>18} {r['bflops']:>8.3f}")
    lines.append(f"total: {totals['layers']} layers, {totals['parameters']:,} parameters, "
                 f"{totals['bflops']:.3f} BFLOPs per image, {totals['memory_mib']} MiB of buffers (batch {totals['batch']})")
    limit = totals.get("memory_limit_bytes")
    if limit is not None and totals["memory_bytes"] > limit:
        lines.append(f"note: a run at batch {totals['batch']} needs {format_bytes(totals['memory_bytes'])} of buffers, over "
                     f"the memory limit of {format_bytes(limit)} (--max-memory raises it)")
    return "\n".join(lines)
