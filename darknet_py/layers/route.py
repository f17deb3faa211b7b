"""[route]: concatenate earlier layers' outputs along channels, per batch item (route_layer.c).

``layers=-1,61``: negative values are relative to this layer, others absolute; outputs are
concatenated in the listed order. Darknet silently gives a 0x0x0 output when spatial sizes differ and
reads out of bounds for a bad index; both are CfgErrors here. Backward adds each slice of the delta
into its source layer's delta (Darknet's, exact in both modes). The forward copies in parallel
chunks (``shape.route_copy_fast``) unless ``net.fast`` is False.

``groups=G group_id=g`` (AlexeyAB's fork; yolov4-tiny's CSP blocks): each source contributes only
its g-th of G contiguous slices per batch item (channels ``g*C/G .. (g+1)*C/G``), so the output has
``sum(C)/G`` channels. pjreddie's Darknet does not read these keys: with ``compat="pjreddie"`` they
are ignored with a warning, as that Darknet would; otherwise they are applied. ``stream`` and
``wait_stream`` choose CUDA streams in the fork and change nothing here (a warning says so).
``onlyforward=1`` (the fork reads it for every layer; its cfgs use it on [route]): backward skips this
layer, so no gradient flows to its sources through it.
"""
from ..kernels import shape
from ..registry import register_layer
from ._keys import warn_no_effect
from .base import Layer, Option


@register_layer("route")
class Route(Layer):
    OPTIONS = (
        Option("layers", None, "layers to concatenate, e.g. -1,61 (negative = relative)"),
        Option("groups", 1, "split each source into this many channel groups (AlexeyAB)"),
        Option("group_id", 0, "which group of each source to take, 0..groups-1 (AlexeyAB)"),
        Option("stream", -1, "AlexeyAB's CUDA stream: no effect here"),
        Option("wait_stream", -1, "AlexeyAB's CUDA stream: no effect here"),
        Option("onlyforward", 0, "1: backward passes no gradient through this route (AlexeyAB)"),
    )
    onlyforward = False

    def __init__(self, batch, sources, sizes, out_shape, groups=1, group_id=0, dtype=None):
        super().__init__(batch, out_shape, out_shape, dtype=dtype)   # output, delta: (B, *out_shape); inputs = outputs like Darknet
        self.sources = tuple(sources)        # absolute indexes of the layers read, in order
        self.sizes = tuple(sizes)            # their outputs per batch item
        self.groups, self.group_id = groups, group_id

    @classmethod
    def from_options(cls, opts, in_shape, net):
        sources = _sources(opts, len(net.layers))
        groups, group_id = _groups(opts, net)
        shapes = [net.layers[i].out_shape for i in sources]
        first = shapes[0]
        if all(len(s) == 3 for s in shapes):
            for i, s in zip(sources, shapes):
                if s[1:] != first[1:]:
                    raise opts.error(
                        f"layer {i} is {s[1]}x{s[2]} but layer {sources[0]} is {first[1]}x{first[2]}: "
                        f"route needs equal spatial sizes", "layers")
            channels = [s[0] for s in shapes]
            out_shape = (sum(channels) // groups,) + tuple(first[1:])
        elif len(shapes) == 1 or all(len(s) == 1 for s in shapes):
            channels = [net.layers[i].outputs for i in sources]
            out_shape = (sum(channels) // groups,) if len(shapes) > 1 or groups > 1 else first
        else:
            raise opts.error(f"cannot concatenate outputs shaped {shapes}", "layers")
        for i, c in zip(sources, channels):
            if c % groups:
                raise opts.error(f"layer {i} has {c} channels, not divisible by groups={groups}", "groups")
        layer = cls(net.batch, sources, [net.layers[i].outputs for i in sources], out_shape, groups, group_id,
                    dtype=net.dtype)
        layer.onlyforward = opts.flag("onlyforward", 0)
        return layer

    def _parts(self):
        """(source layer, its outputs per item, slice size, slice offset in the source, offset here)."""
        offset = 0
        for index, size in zip(self.sources, self.sizes):
            part = size // self.groups
            yield index, size, part, self.group_id * part, offset
            offset += part

    def forward(self, net):
        if self.groups == 1:
            copy = shape.route_copy_fast if net.fast else shape.route_copy
            for index, size, _, _, offset in self._parts():
                copy(net.layers[index].output, self.output, self.batch, size, offset, self.outputs)
            return
        for index, size, part, src_offset, offset in self._parts():
            shape.route_copy_part(net.layers[index].output, size, src_offset, self.output, self.batch, part,
                                  offset, self.outputs)

    def backward(self, net):
        if self.onlyforward:
            return
        for index, size, part, src_offset, offset in self._parts():
            delta = net.layers[index].delta
            if delta is None:                # [crop] has no delta
                continue
            if self.groups == 1:
                shape.route_add(self.delta, delta, self.batch, size, offset, self.outputs)
            else:
                shape.route_add_part(self.delta, self.outputs, offset, delta, self.batch, part, src_offset, size)

    def summary(self):
        size = ",".join(str(i) for i in self.sources)
        return {"filters": "", "size": size + (f" {self.group_id}/{self.groups}" if self.groups > 1 else "")}


def _sources(opts, here):
    """Absolute indexes of ``layers=``, each an earlier layer."""
    sources = []
    for value in opts.int_list("layers"):
        index = here + value if value < 0 else value
        if index < 0:
            raise opts.error(f"layers={value} points before layer 0 (this is layer {here})", "layers")
        if index >= here:
            raise opts.error(f"layers={value} points at layer {index}, which is not before this layer "
                             f"({here})", "layers")
        sources.append(index)
    return sources


def _groups(opts, net):
    """(groups, group_id); (1, 0) under compat='pjreddie', whose Darknet does not read them."""
    for key in ("stream", "wait_stream"):
        warn_no_effect(opts, key, "it picks a CUDA stream in AlexeyAB's fork")
    if net.flavour == "pjreddie":
        for key in ("groups", "group_id"):
            warn_no_effect(opts, key, "pjreddie's Darknet ignores it (compat='pjreddie'); AlexeyAB's fork "
                                      "and the default mode apply it")
        return 1, 0
    groups = opts.int("groups", 1, min=1)
    group_id = opts.int("group_id", 0, min=0, max=groups - 1)
    return groups, group_id
