"""The layer table of ``darknet-py summary``: Darknet's print of parse_network_cfg, plus totals."""
import json


def _shape(shape):
    return " x ".join(str(d) for d in (shape[1:] + shape[:1] if len(shape) == 3 else shape))


def summary_rows(net):
    """([row dict per layer], totals dict). Shapes print as w x h x c, like Darknet."""
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
    totals = {
        "layers": len(rows),
        "batch": net.batch,
        "input": _shape(tuple(net.input_shape)),
        "bflops": sum(r["bflops"] for r in rows),
        "parameters": sum(r["parameters"] for r in rows),
        "memory_mib": round(net.memory_bytes() / 2**20, 2),
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
    return "\n".join(lines)
