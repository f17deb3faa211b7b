"""What [sam] and [scale_channels] share: a ``from`` layer and an activation of the generic kind."""
from .base import Layer, Option
from ._activation import parse_activation

# activations whose gradient needs the pre-activation: the fork's generic activate() of [sam] and
# [scale_channels] has no case for them (its output would be 0), so they are refused here
_UNSUPPORTED = ("swish", "mish", "hard_mish", "relu6")


class ProductLayer(Layer):
    """out = act(prev (x) from); ``source`` is the from-layer's index."""

    OPTIONS = (
        Option("from", None, "index of the layer to multiply with (negative: relative to this one); required"),
        Option("activation", "linear", "activation function applied to the product"),
    )

    def __init__(self, batch, in_shape, out_shape, source, activation, dtype=None):
        super().__init__(batch, in_shape, out_shape, dtype=dtype)   # output, delta: (B, *out_shape)
        self.source = source
        self.activation = activation

    @staticmethod
    def source_of(opts, net):
        """(absolute index, (c, h, w)) of ``from=``, an earlier layer with an image output."""
        here = len(net.layers)
        index = opts.int("from")
        source = here + index if index < 0 else index
        if not 0 <= source < here:
            raise opts.error(f"from={index} points at layer {source}; it must be an earlier layer (0..{here - 1})",
                             "from")
        shape = net.layers[source].out_shape
        if len(shape) != 3:
            raise opts.error(f"from={index}: layer {source} has no (c, h, w) output ({shape})", "from")
        return source, shape

    @staticmethod
    def activation_of(opts):
        name = opts.str("activation", "linear")
        if name in _UNSUPPORTED:
            raise opts.error(f"activation={name} is not supported in [{opts.type}] (AlexeyAB's fork computes 0 "
                             f"with it on the CPU)", "activation")
        return parse_activation(opts, default="linear")

    def flops(self):
        return self.outputs

    def summary(self):
        return {"filters": "", "size": f"from {self.source}"}
