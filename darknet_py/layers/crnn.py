"""[crnn]: convolutional recurrent layer (crnn_layer.c): [rnn]'s recurrence with three [convolutional]s.

    h_t = [h_{t-1} if shortcut] + input_layer(x_t) + self_layer(h_{t-1});   y_t = output_layer(h_t)
with h a (hidden, H, W) map. Everything else (state, backward, divergences) is [rnn]'s (layers/rnn.py).

Keys of both Darknets: pjreddie's ``output_filters`` / ``hidden_filters`` with a fixed 3x3, stride 1,
pad 1 kernel; AlexeyAB's ``output`` / ``hidden`` with ``size``, ``pad``/``padding`` and ``groups``. The
padding defaults to size/2 (pjreddie's fixed pad) where the fork's default of 0 would shrink the
state every step; the state must keep the input's height and width, so stride and dilation are 1.
The weights file holds input_layer, self_layer, output_layer, each like a [convolutional].
"""
from ..registry import register_layer
from ._activation import parse_activation
from ._recurrent import time_steps
from .base import Option, shape3
from .convolutional import Convolutional
from .rnn import RNN


@register_layer("crnn")
class CRNN(RNN):
    OPTIONS = (
        Option("output_filters", 1, "output channels (pjreddie's key)"),
        Option("hidden_filters", 1, "state channels (pjreddie's key)"),
        Option("output", 1, "output channels (AlexeyAB's key; output_filters wins)"),
        Option("hidden", 1, "state channels (AlexeyAB's key; hidden_filters wins)"),
        Option("size", 3, "kernel side of the three convolutions"),
        Option("pad", 1, "1: padding = size/2"),
        Option("padding", 0, "explicit padding (with pad=0)"),
        Option("stride", 1, "must be 1: the state keeps its size"),
        Option("dilation", 1, "must be 1"),
        Option("groups", 1, "channel groups of the three convolutions"),
        Option("activation", "logistic", "activation of the three inner convolutions"),
        Option("batch_normalize", 0, "1: batch norm in the inner convolutions"),
        Option("shortcut", 0, "1: the state also adds the previous state"),
        Option("xnor", 0, "xnor convolutions (not supported)"),
    )

    @classmethod
    def from_options(cls, opts, in_shape, net):
        c, h, w = shape3(in_shape, opts, "crnn")
        steps, _ = time_steps(opts, net, "crnn")
        out_filters = opts.int("output_filters", opts.int("output", 1, min=1), min=1)
        hidden = opts.int("hidden_filters", opts.int("hidden", 1, min=1), min=1)
        size = opts.int("size", 3, min=1)
        padding = size // 2 if opts.flag("pad", 1) else opts.int("padding", 0, min=0)
        for key in ("stride", "dilation"):
            if opts.int(key, 1, min=1) != 1:
                raise opts.error(f"{key} must be 1: the recurrent state keeps the input's size", key)
        if opts.flag("xnor", 0):
            raise opts.error("xnor=1 is not supported", "xnor")
        groups = opts.int("groups", 1, min=1)
        activation = parse_activation(opts, default="logistic")
        bn = opts.flag("batch_normalize", 0)
        shortcut = opts.flag("shortcut", 0)
        if c % groups or hidden % groups or out_filters % groups:
            raise opts.error(f"groups={groups} must divide the channels ({c}), hidden ({hidden}) and output "
                             f"({out_filters}) filters", "groups")
        if h + 2 * padding - size + 1 != h or w + 2 * padding - size + 1 != w:
            raise opts.error(f"size={size} with padding {padding} changes the {h}x{w} state size: use pad=1 "
                             f"with an odd size", "size")

        def conv(channels, filters):
            return Convolutional(net.batch, (channels, h, w), net, filters, size, 1, padding, groups, activation, bn)
        inner = {"input_layer": conv(c, hidden), "self_layer": conv(hidden, hidden),
                 "output_layer": conv(hidden, out_filters)}
        return cls(net, in_shape, steps, inner, shortcut)

    def summary(self):
        size = self.inner["self_layer"].size
        return {"filters": self.inner["output_layer"].n, "size": f"{size}x{size}, {self.steps} steps"}
