"""[route]: concatenate earlier layers' outputs along channels, per batch item (route_layer.c).

``layers=-1,61``: negative values are relative to this layer, others absolute; outputs are
concatenated in the listed order. Darknet silently gives a 0x0x0 output when spatial sizes differ and
reads out of bounds for a bad index; both are CfgErrors here. Backward adds each slice of the delta
into its source layer's delta (Darknet's, exact in both modes). The forward copies in parallel
chunks (``shape.route_copy_fast``) unless ``net.fast`` is False.
"""
from ..kernels import shape
from ..registry import register_layer
from .base import Layer, Option


@register_layer("route")
class Route(Layer):
    OPTIONS = (Option("layers", None, "layers to concatenate, e.g. -1,61 (negative = relative)"),)

    def __init__(self, batch, sources, sizes, out_shape, dtype=None):
        super().__init__(batch, out_shape, out_shape, dtype=dtype)   # output, delta: (B, *out_shape); inputs = outputs like Darknet
        self.sources = tuple(sources)        # absolute indexes of the layers read, in order
        self.sizes = tuple(sizes)            # their outputs per batch item

    @classmethod
    def from_options(cls, opts, in_shape, net):
        here = len(net.layers)
        sources = []
        for value in opts.int_list("layers"):
            index = here + value if value < 0 else value
            if index < 0:
                raise opts.error(f"layers={value} points before layer 0 (this is layer {here})", "layers")
            if index >= here:
                raise opts.error(f"layers={value} points at layer {index}, which is not before this layer "
                                 f"({here})", "layers")
            sources.append(index)
        shapes = [net.layers[i].out_shape for i in sources]
        first = shapes[0]
        if all(len(s) == 3 for s in shapes):
            for i, s in zip(sources, shapes):
                if s[1:] != first[1:]:
                    raise opts.error(
                        f"layer {i} is {s[1]}x{s[2]} but layer {sources[0]} is {first[1]}x{first[2]}: "
                        f"route needs equal spatial sizes", "layers")
            out_shape = (sum(s[0] for s in shapes),) + tuple(first[1:])
        elif len(shapes) == 1 or all(len(s) == 1 for s in shapes):
            out_shape = (sum(net.layers[i].outputs for i in sources),) if len(shapes) > 1 else first
        else:
            raise opts.error(f"cannot concatenate outputs shaped {shapes}", "layers")
        return cls(net.batch, sources, [net.layers[i].outputs for i in sources], out_shape, dtype=net.dtype)

    def forward(self, net):
        offset = 0
        copy = shape.route_copy_fast if net.fast else shape.route_copy
        for index, size in zip(self.sources, self.sizes):
            copy(net.layers[index].output, self.output, self.batch, size, offset, self.outputs)
            offset += size

    def backward(self, net):
        offset = 0
        for index, size in zip(self.sources, self.sizes):
            delta = net.layers[index].delta
            if delta is not None:            # [crop] has no delta
                shape.route_add(self.delta, delta, self.batch, size, offset, self.outputs)
            offset += size

    def summary(self):
        return {"filters": "", "size": ",".join(str(i) for i in self.sources)}
