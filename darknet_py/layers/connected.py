"""[connected] / [conn]: fully connected layer (Darknet's connected_layer.c).

output (B, n) = input (B, inputs) @ W^T with W (n, inputs) row-major, then batch norm (per output,
over the batch) or bias, then the activation. Like Darknet the output shape is (n, 1, 1).
Backward is the exact gradient in both modes and accumulates into net.delta (Darknet's gemm has
beta = 1 here); only the batch-norm backward depends on ``net.compat``.
"""
import math

from ..kernels import activations, blas
from ..kernels.gemm import gemm
from ..registry import register_layer
from ._activation import parse_activation
from ._params import ParamLayer
from .base import Option
from .batchnorm import backward_batchnorm, forward_batchnorm, init_batchnorm


@register_layer("connected", "conn")
class Connected(ParamLayer):
    OPTIONS = (
        Option("output", 1, "number of outputs"),
        Option("activation", "logistic", "activation function"),
        Option("batch_normalize", 0, "1: batch norm (per output, over the batch) instead of a bias only"),
    )

    def __init__(self, batch, in_shape, net, outputs, activation=activations.LOGISTIC, batch_normalize=False):
        super().__init__(batch, in_shape, (outputs, 1, 1), dtype=net.dtype)   # output, delta: (B, n)
        self.n = outputs
        self.activation = activation
        # weights (n, inputs), biases (n,); Darknet's sqrt(2 / inputs) * U(-1, 1)
        self.init_parameters(outputs * self.inputs, outputs, net, math.sqrt(2.0 / self.inputs), uniform=True)
        if batch_normalize:
            init_batchnorm(self, outputs, 1)
            self.init_adam_scales()

    @classmethod
    def from_options(cls, opts, in_shape, net):
        outputs = opts.int("output", 1, min=1)
        activation = parse_activation(opts, default="logistic")
        batch_normalize = opts.flag("batch_normalize", 0)
        return cls(net.batch, in_shape, net, outputs, activation, batch_normalize)

    def forward(self, net):
        x = net.input.reshape(self.batch, self.inputs)
        blas.fill(self.output, 0.0)
        gemm(False, True, 1.0, x, self.weights.reshape(self.n, self.inputs), 1.0,
             self.output.reshape(self.batch, self.n))
        if self.batch_normalize:
            forward_batchnorm(self, net)
        else:
            blas.add_bias(self.output, self.biases, self.batch, self.n, 1)
        activations.activate(self.output, self.output.size, self.activation)

    def backward(self, net):
        activations.gradient(self.output, self.output.size, self.activation, self.delta)
        if self.batch_normalize:
            backward_batchnorm(self, net)
        else:
            blas.backward_bias(self.bias_updates, self.delta, self.batch, self.n, 1)
        d = self.delta.reshape(self.batch, self.n)
        x = net.input.reshape(self.batch, self.inputs)
        gemm(True, False, 1.0, d, x, 1.0, self.weight_updates.reshape(self.n, self.inputs))
        if net.delta is not None:
            gemm(False, False, 1.0, d, self.weights.reshape(self.n, self.inputs), 1.0,
                 net.delta.reshape(self.batch, self.inputs))

    def weight_arrays(self):
        # Darknet writes the batch-norm arrays AFTER the weights here (before them for conv)
        if self.batch_normalize:
            return [self.biases, self.weights, self.scales, self.rolling_mean, self.rolling_variance]
        return [self.biases, self.weights]

    def flops(self):
        return 2 * self.inputs * self.n

    def summary(self):
        return {"filters": self.n, "size": ""}
