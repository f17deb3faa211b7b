"""[crop]: cut a crop_height x crop_width window out of each image (crop_layer.c, CPU path).

Inference takes the centre window; training a random one (offsets and flip drawn once per forward
from net.rng, Darknet uses rand()). Values become 2x - 1 unless ``noadjust=1``. Like Darknet's CPU
code, angle/saturation/exposure/shift are read but only its GPU code uses them. The layer has no
delta buffer and its backward does nothing (it is meant to sit on the network input).
"""
from ..kernels import shape
from ..registry import register_layer
from .base import Layer, Option, shape3


@register_layer("crop")
class Crop(Layer):
    OPTIONS = (
        Option("crop_height", 1, "output height"),
        Option("crop_width", 1, "output width"),
        Option("flip", 0, "in training, mirror horizontally with probability 1/2"),
        Option("angle", 0.0, "GPU-only in Darknet: ignored"),
        Option("saturation", 1.0, "GPU-only in Darknet: ignored"),
        Option("exposure", 1.0, "GPU-only in Darknet: ignored"),
        Option("shift", 0.0, "GPU-only in Darknet: ignored"),
        Option("noadjust", 0, "keep values as they are instead of 2x - 1"),
    )

    def __init__(self, batch, in_shape, crop_height, crop_width, flip=False, noadjust=False, dtype=None):
        c = in_shape[0]
        super().__init__(batch, in_shape, (c, crop_height, crop_width), dtype=dtype, delta=False)  # output: (B, C, CH, CW)
        self.flip, self.noadjust = flip, noadjust

    @classmethod
    def from_options(cls, opts, in_shape, net):
        c, h, w = shape3(in_shape, opts, "crop")
        ch = opts.int("crop_height", 1, min=1, max=h)
        cw = opts.int("crop_width", 1, min=1, max=w)
        for key, default in (("angle", 0.0), ("saturation", 1.0), ("exposure", 1.0), ("shift", 0.0)):
            opts.float(key, default)
        return cls(net.batch, in_shape, ch, cw, opts.flag("flip", 0), opts.flag("noadjust", 0), dtype=net.dtype)

    def forward(self, net):
        c, h, w = self.in_shape
        _, oh, ow = self.out_shape
        if net.train:
            flip = bool(self.flip and net.rng.integers(2))
            dh, dw = int(net.rng.integers(h - oh + 1)), int(net.rng.integers(w - ow + 1))
        else:
            flip, dh, dw = False, (h - oh) // 2, (w - ow) // 2
        scale, trans = (1.0, 0.0) if self.noadjust else (2.0, -1.0)
        shape.crop(net.input, self.output, self.batch * c, h, w, oh, ow, dh, dw, flip, scale, trans)

    def backward(self, net):
        """No delta buffer, nothing to propagate (Darknet's backward_crop_layer is empty too)."""
