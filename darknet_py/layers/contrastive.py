"""[contrastive]: AlexeyAB's contrastive-learning loss (softmax_layer.c make_contrastive_layer): inference only.

The layer is a training loss over embeddings (yolov4-tiny_contrastive.cfg: the embeddings a [yolo]
with ``embedding_layer=`` tracks objects with). At inference it changes nothing: its output is its
input, as the fork's GPU forward copies it (its CPU forward leaves the output as it was, zeros; no
detection reads it either way). Training with it is a DarknetError: the contrastive loss is not
implemented. ``yolo_layer=`` must point at a [yolo] layer (Darknet checks the same); the loss keys
are read and have no effect on inference.
"""
from ..errors import DarknetError
from ..kernels import blas
from ..registry import register_layer
from .base import Layer, Option

LOSS_KEYS = (("classes", 1000), ("temperature", 1.0), ("cls_normalizer", 1.0), ("max_delta", 3.4e38),
             ("contrastive_neg_max", 3))


@register_layer("contrastive")
class Contrastive(Layer):
    OPTIONS = (
        Option("yolo_layer", 0, "the [yolo] layer whose boxes select the embeddings (negative: relative)"),
    ) + tuple(Option(k, d, "training loss (not implemented): no effect on inference") for k, d in LOSS_KEYS)

    @classmethod
    def from_options(cls, opts, in_shape, net):
        here = len(net.layers)
        yolo = opts.int("yolo_layer", 0)
        index = here + yolo if yolo < 0 else yolo
        if yolo != 0 and not (0 <= index < here and net.layers[index].type == "yolo"):
            raise opts.error(f"yolo_layer={yolo} must point at an earlier [yolo] layer", "yolo_layer")
        for key, default in LOSS_KEYS:
            (opts.int if isinstance(default, int) else opts.float)(key, default)
        layer = cls(net.batch, in_shape, in_shape, dtype=net.dtype)   # output, delta: (B, *in_shape)
        layer.yolo_layer = index if yolo != 0 else None
        if yolo != 0:
            layer.truths = net.layers[index].truths      # the network's truth is the [yolo] layer's, as in Darknet
        return layer

    def forward(self, net):
        if net.train and net.truth is not None:
            raise DarknetError(f"layer {self.index} [contrastive]: AlexeyAB's contrastive training loss is not "
                               f"implemented (inference passes the input through)")
        blas.copy(net.input, self.output)

    def backward(self, net):
        if net.delta is not None:              # an injected delta: the identity's gradient
            blas.axpy(1.0, self.delta, net.delta)
