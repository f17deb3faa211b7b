"""[deconvolutional] / [deconv]: transposed convolution (Darknet's deconvolutional_layer.c).

Per batch item: col (n*size*size, h*w) = W^T @ input (c, h*w) with W (c, n, size, size) row-major,
then col2im scatters col into the (n, out_h, out_w) output, out = (in - 1)*stride + size - 2*padding.
Then batch norm or bias, then the activation. Backward is the exact gradient in both modes (Darknet's
accumulates too); only the batch-norm backward depends on ``net.compat``.
"""
from ..kernels import activations, blas, im2col
from ..kernels.gemm import gemm
from ..registry import register_layer
from ._activation import parse_activation
from ._params import ParamLayer
from .base import Option, shape3
from .batchnorm import backward_batchnorm, forward_batchnorm, init_batchnorm


@register_layer("deconvolutional", "deconv")
class Deconvolutional(ParamLayer):
    OPTIONS = (
        Option("filters", 1, "output channels"),
        Option("size", 1, "kernel side"),
        Option("stride", 1, "upsampling step"),
        Option("pad", 0, "1: padding = size/2 (overrides padding)"),
        Option("padding", 0, "cells cropped from each side of the output"),
        Option("activation", "logistic", "activation function"),
        Option("batch_normalize", 0, "1: batch norm instead of a bias only"),
    )

    def __init__(self, batch, in_shape, net, filters, size=1, stride=1, padding=0,
                 activation=activations.LOGISTIC, batch_normalize=False):
        c, h, w = in_shape
        out_h = (h - 1) * stride + size - 2 * padding
        out_w = (w - 1) * stride + size - 2 * padding
        super().__init__(batch, in_shape, (filters, out_h, out_w), dtype=net.dtype)  # output, delta: (B, n, OH, OW)
        self.n, self.size, self.stride, self.padding = filters, size, stride, padding
        self.activation = activation
        # weights (c, n, size, size), biases (n,); Darknet's .02 * N(0, 1) scaled by out_w*out_h / (w*h)
        self.init_parameters(c * filters * size * size, filters, net, 0.02 * out_w * out_h / (w * h), uniform=False)
        if batch_normalize:
            init_batchnorm(self, filters, out_h * out_w)
            self.init_adam_scales()
        self.workspace_size = h * w * size * size * filters          # (n*size*size, H*W) columns

    @classmethod
    def from_options(cls, opts, in_shape, net):
        c, h, w = shape3(in_shape, opts, "deconvolutional")
        filters = opts.int("filters", 1, min=1)
        size = opts.int("size", 1, min=1)
        stride = opts.int("stride", 1, min=1)
        padding = opts.int("padding", 0, min=0)
        if opts.flag("pad", 0):
            padding = size // 2
        activation = parse_activation(opts, default="logistic")
        batch_normalize = opts.flag("batch_normalize", 0)
        if (min(h, w) - 1) * stride + size - 2 * padding < 1:
            raise opts.error(f"padding {padding} crops the whole {size}x{size}/{stride} output of a {h}x{w} input",
                             "padding")
        return cls(net.batch, in_shape, net, filters, size, stride, padding, activation, batch_normalize)

    def _dims(self):
        c, h, w = self.in_shape
        n, out_h, out_w = self.out_shape
        return c, h * w, n * self.size * self.size, out_h, out_w

    def forward(self, net):
        c, hw, nkk, out_h, out_w = self._dims()
        wmat = self.weights.reshape(c, nkk)
        col = net.workspace[: nkk * hw]
        blas.fill(self.output, 0.0)
        for b in range(self.batch):
            x = net.input[b * self.inputs: (b + 1) * self.inputs].reshape(c, hw)
            gemm(True, False, 1.0, wmat, x, 0.0, col.reshape(nkk, hw))
            im2col.col2im(col, self.n, out_h, out_w, self.size, self.stride, self.padding,
                          self.output[b * self.outputs: (b + 1) * self.outputs])
        if self.batch_normalize:
            forward_batchnorm(self, net)
        else:
            blas.add_bias(self.output, self.biases, self.batch, self.n, out_h * out_w)
        activations.activate(self.output, self.output.size, self.activation)

    def backward(self, net):
        c, hw, nkk, out_h, out_w = self._dims()
        activations.gradient(self.output, self.output.size, self.activation, self.delta)
        if self.batch_normalize:
            backward_batchnorm(self, net)
        else:
            blas.backward_bias(self.bias_updates, self.delta, self.batch, self.n, out_h * out_w)
        wmat = self.weights.reshape(c, nkk)
        col = net.workspace[: nkk * hw]
        for b in range(self.batch):
            im2col.im2col(self.delta[b * self.outputs: (b + 1) * self.outputs], self.n, out_h, out_w,
                          self.size, self.stride, self.padding, col)
            x = net.input[b * self.inputs: (b + 1) * self.inputs].reshape(c, hw)
            gemm(False, True, 1.0, x, col.reshape(nkk, hw), 1.0, self.weight_updates.reshape(c, nkk))
            if net.delta is not None:
                gemm(False, False, 1.0, wmat, col.reshape(nkk, hw), 1.0,
                     net.delta[b * self.inputs: (b + 1) * self.inputs].reshape(c, hw))

    def weight_arrays(self):
        if self.batch_normalize:
            return [self.biases, self.scales, self.rolling_mean, self.rolling_variance, self.weights]
        return [self.biases, self.weights]

    def flops(self):
        return 2 * self.weights.size * self.in_shape[1] * self.in_shape[2]

    def summary(self):
        return {"filters": self.n, "size": f"{self.size}x{self.size}/{self.stride}"}
