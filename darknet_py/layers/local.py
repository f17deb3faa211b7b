"""[local]: locally connected layer, a convolution whose filters differ at every output location
(Darknet's local_layer.c).

Weights (out_h*out_w, n, c*size*size) row-major, biases (n, out_h, out_w). Per batch item the input's
column matrix col (c*size*size, L) is formed once and output[f, j] = bias[f, j] + W[j, f, :] . col[:, j].
Backward is the exact gradient in both modes and accumulates into net.delta through col2im, like Darknet.

``pad``: Darknet treats it as a flag for the output size ((h-1)/stride + 1) but as an amount for
im2col, which agree only when pad = (size-1)/2 (e.g. size 3, pad 1). Here pad != 0 means
padding = size/2 (conv's rule) for an odd size, which gives Darknet's output size and numbers in that
agreeing case; an even size with pad is an error (Darknet reads the wrong pixels). Darknet draws
random weights for the first location only; here every location is drawn.
"""
import math

from ..kernels import activations, blas, im2col
from ..registry import register_layer
from ._activation import parse_activation
from ._params import ParamLayer
from .base import Option, shape3


@register_layer("local")
class Local(ParamLayer):
    OPTIONS = (
        Option("filters", 1, "output channels"),
        Option("size", 1, "kernel side"),
        Option("stride", 1, "step between windows"),
        Option("pad", 0, "non-zero: padding = size/2 (size must be odd)"),
        Option("activation", "logistic", "activation function"),
    )

    def __init__(self, batch, in_shape, net, filters, size=1, stride=1, padding=0, activation=activations.LOGISTIC):
        c, h, w = in_shape
        out_h = (h + 2 * padding - size) // stride + 1
        out_w = (w + 2 * padding - size) // stride + 1
        super().__init__(batch, in_shape, (filters, out_h, out_w), dtype=net.dtype)  # output, delta: (B, n, OH, OW)
        self.n, self.size, self.stride, self.padding = filters, size, stride, padding
        self.activation = activation
        self.locations = out_h * out_w
        self.k = c * size * size
        # weights (L, n, c*size*size), biases (n, OH, OW); Darknet's sqrt(2 / (size*size*c)) * U(-1, 1)
        self.init_parameters(self.locations * filters * self.k, self.outputs, net,
                             math.sqrt(2.0 / (size * size * c)), uniform=True)
        self.workspace_size = self.k * self.locations                # (c*size*size, L) columns

    @classmethod
    def from_options(cls, opts, in_shape, net):
        c, h, w = shape3(in_shape, opts, "local")
        filters = opts.int("filters", 1, min=1)
        size = opts.int("size", 1, min=1)
        stride = opts.int("stride", 1, min=1)
        pad = opts.int("pad", 0, min=0)
        if pad and size % 2 == 0:
            raise opts.error(f"pad={pad} with an even size={size}: Darknet's output size and its padding "
                             f"disagree (it reads the wrong pixels); use an odd size or pad=0", "pad")
        padding = size // 2 if pad else 0
        activation = parse_activation(opts, default="logistic")
        if h + 2 * padding < size or w + 2 * padding < size:
            raise opts.error(f"a {size}x{size} window with padding {padding} does not fit a {h}x{w} input", "size")
        return cls(net.batch, in_shape, net, filters, size, stride, padding, activation)

    def _columns(self, net, b):
        c, h, w = self.in_shape
        col = net.workspace[: self.k * self.locations]
        im2col.im2col(net.input[b * self.inputs: (b + 1) * self.inputs], c, h, w, self.size, self.stride,
                      self.padding, col)
        return col

    def forward(self, net):
        for b in range(self.batch):
            out = self.output[b * self.outputs: (b + 1) * self.outputs]
            blas.copy(self.biases, out)
            im2col.local_forward(self.weights, self._columns(net, b), out, self.n, self.k, self.locations)
        activations.activate(self.output, self.output.size, self.activation)

    def backward(self, net):
        c, h, w = self.in_shape
        activations.gradient(self.output, self.output.size, self.activation, self.delta)
        blas.backward_bias(self.bias_updates, self.delta, self.batch, self.outputs, 1)
        for b in range(self.batch):
            d = self.delta[b * self.outputs: (b + 1) * self.outputs]
            col = self._columns(net, b)
            im2col.local_backward_weights(d, col, self.weight_updates, self.n, self.k, self.locations)
            if net.delta is not None:
                im2col.local_backward_input(self.weights, d, col, self.n, self.k, self.locations)
                im2col.col2im(col, c, h, w, self.size, self.stride, self.padding,
                              net.delta[b * self.inputs: (b + 1) * self.inputs])

    def weight_arrays(self):
        return [self.biases, self.weights]

    def flops(self):
        return 2 * self.n * self.k * self.locations

    def summary(self):
        return {"filters": self.n, "size": f"{self.size}x{self.size}/{self.stride}"}
