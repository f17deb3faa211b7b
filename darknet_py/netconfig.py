"""The [net] section: batch, input shape, optimiser and learning-rate policy, with Darknet's defaults.

Mirrors parse_net_options in Darknet's parser.c: ``batch`` is divided by ``subdivisions`` (and
multiplied by ``time_steps``), ``inputs`` defaults to height*width*channels, and each policy reads
its own parameters. The augmentation keys are read and kept so that they are not reported unused.
"""
import math
from dataclasses import dataclass, field

import numpy as np

POLICIES = ("constant", "step", "steps", "exp", "poly", "sig", "random")


@dataclass
class NetConfig:
    batch: int = 1
    subdivisions: int = 1
    time_steps: int = 1
    height: int = 0
    width: int = 0
    channels: int = 0
    inputs: int = 0
    learning_rate: float = 0.001
    momentum: float = 0.9
    decay: float = 0.0001
    policy: str = "constant"
    burn_in: int = 0
    power: float = 4.0
    max_batches: int = 0
    step: int = 1
    scale: float = 1.0
    steps: list = field(default_factory=list)
    scales: list = field(default_factory=list)
    gamma: float = 1.0
    adam: bool = False
    B1: float = 0.9
    B2: float = 0.999
    eps: float = 1e-7
    augmentation: dict = field(default_factory=dict)   # kept for data loading, unused by the maths

    @property
    def input_shape(self):
        """(c, h, w) when the cfg gives an image size, else (inputs,)."""
        if self.height and self.width and self.channels:
            return (self.channels, self.height, self.width)
        return (self.inputs,)


def parse_net_options(opts):
    """A NetConfig from the [net] Options, strictly typed and range-checked."""
    n = NetConfig()
    subdivisions = opts.int("subdivisions", 1, min=1)
    n.time_steps = opts.int("time_steps", 1, min=1)
    batch = opts.int("batch", 1, min=1)
    if batch < subdivisions:
        raise opts.error(f"batch={batch} is smaller than subdivisions={subdivisions}", "batch")
    n.batch = batch // subdivisions * n.time_steps
    n.subdivisions = subdivisions
    n.learning_rate = opts.float("learning_rate", 0.001, min=0.0)
    n.momentum = opts.float("momentum", 0.9, min=0.0)
    n.decay = opts.float("decay", 0.0001, min=0.0)
    n.adam = opts.flag("adam", 0)
    if n.adam:
        n.B1 = opts.float("B1", 0.9, min=0.0)
        n.B2 = opts.float("B2", 0.999, min=0.0)
        n.eps = opts.float("eps", 1e-7, min=0.0)
    n.height = opts.int("height", 0, min=0)
    n.width = opts.int("width", 0, min=0)
    n.channels = opts.int("channels", 0, min=0)
    n.inputs = opts.int("inputs", n.height * n.width * n.channels, min=0)
    if not n.inputs and not (n.height and n.width and n.channels):
        raise opts.error("no input size: give height, width and channels, or inputs")
    if n.height * n.width * n.channels and n.inputs != n.height * n.width * n.channels:
        raise opts.error(f"inputs={n.inputs} does not equal height*width*channels = "
                         f"{n.height * n.width * n.channels}", "inputs")
    _parse_augmentation(opts, n)
    _parse_policy(opts, n)
    n.max_batches = opts.int("max_batches", 0, min=0)
    return n


def _parse_augmentation(opts, n):
    w = n.width or 1
    aug = n.augmentation
    aug["max_crop"] = opts.int("max_crop", n.width * 2, min=0)
    aug["min_crop"] = opts.int("min_crop", n.width, min=0)
    aug["max_ratio"] = opts.float("max_ratio", aug["max_crop"] / w)
    aug["min_ratio"] = opts.float("min_ratio", aug["min_crop"] / w)
    aug["center"] = opts.int("center", 0)
    aug["clip"] = opts.float("clip", 0.0)
    aug["angle"] = opts.float("angle", 0.0)
    aug["aspect"] = opts.float("aspect", 1.0)
    aug["saturation"] = opts.float("saturation", 1.0)
    aug["exposure"] = opts.float("exposure", 1.0)
    aug["hue"] = opts.float("hue", 0.0)
    aug["random"] = opts.int("random", 0)
    aug["notruth"] = opts.int("notruth", 0)


def _parse_policy(opts, n):
    n.policy = opts.str("policy", "constant", choices=POLICIES)
    n.burn_in = opts.int("burn_in", 0, min=0)
    # power < 0 would make the rate 0**power = infinite at batch 0 (burn_in, poly, random)
    n.power = opts.float("power", 4.0, min=0.0)
    if n.policy == "step":
        n.step = opts.int("step", 1, min=1)
        n.scale = opts.float("scale", 1.0)
    elif n.policy == "steps":
        n.steps = opts.int_list("steps")
        n.scales = opts.float_list("scales")
        if len(n.steps) != len(n.scales):
            raise opts.error(f"steps has {len(n.steps)} values but scales has {len(n.scales)}", "scales")
    elif n.policy == "exp":
        n.gamma = opts.float("gamma", 1.0)
    elif n.policy == "sig":
        n.gamma = opts.float("gamma", 1.0)
        n.step = opts.int("step", 1)


def _pow(a, b):
    """math.pow that gives inf where it would raise OverflowError (gamma=10 after 400 batches)."""
    try:
        return math.pow(a, b)
    except OverflowError:
        return math.inf


def current_rate(n, batch_num, rng=None):
    """Darknet's get_current_rate, in float32 like the C code."""
    f = np.float32
    lr = f(n.learning_rate)
    if batch_num < n.burn_in:
        return f(lr * f(_pow(f(batch_num) / f(n.burn_in), n.power)))
    if n.policy == "constant":
        return lr
    if n.policy == "step":
        return f(lr * _pow(n.scale, batch_num // n.step))
    if n.policy == "steps":
        rate = lr
        for step, scale in zip(n.steps, n.scales):
            if step > batch_num:
                return rate
            rate = f(rate * f(scale))
        return rate
    if n.policy == "exp":
        return f(lr * _pow(n.gamma, batch_num))
    if n.policy == "poly":
        frac = 1.0 - f(batch_num) / f(max(n.max_batches, 1))
        return f(lr * _pow(max(frac, 0.0), n.power))
    if n.policy == "random":
        rng = rng or np.random.default_rng()
        return f(lr * _pow(rng.uniform(0.0, 1.0), n.power))
    # sig
    try:
        e = math.exp(n.gamma * (batch_num - n.step))
    except OverflowError:
        e = math.inf
    return f(lr * (1.0 / (1.0 + e)))
