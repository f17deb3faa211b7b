"""The [net] section: batch, input shape, optimiser and learning-rate policy, with Darknet's defaults.

Mirrors parse_net_options in Darknet's parser.c: ``batch`` is divided by ``subdivisions`` (and
multiplied by ``time_steps``), ``inputs`` defaults to height*width*channels, and each policy reads
its own parameters. The augmentation keys are read and kept so that they are not reported unused.
"""
import math
from dataclasses import dataclass, field

import numpy as np

from . import cfg as cfgmod
from .cfg import _REQUIRED

# Darknet's policy names (get_policy in parser.c); "sgdr" is AlexeyAB's fork's.
POLICIES = ("constant", "step", "steps", "exp", "poly", "sigmoid", "random", "sgdr")
# Names this project accepted before it spelled them as Darknet does: still read, with a warning.
DEPRECATED_POLICIES = {"sig": "sigmoid"}


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
    learning_rate_min: float = 0.00001   # sgdr: the rate at the end of each cosine cycle
    sgdr_cycle: int = 0                  # sgdr: batches in the first cycle (default max_batches)
    sgdr_mult: int = 2                   # sgdr: each cycle is this many times longer than the previous
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
    n.max_batches = opts.int("max_batches", 0, min=0)
    _parse_policy(opts, n)
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
    aug["flip"] = opts.int("flip", 1)          # AlexeyAB's switch; pjreddie always flips at random
    aug["random"] = opts.int("random", 0)
    aug["notruth"] = opts.int("notruth", 0)


def _parse_policy(opts, n):
    """policy= and the keys that policy reads, as Darknet's parse_net_options (both forks) reads them.

    An unknown name is a CfgError at its line (Darknet prints "Couldn't find policy" and silently
    trains with a constant rate)."""
    name = opts.raw("policy", "constant")
    if name in DEPRECATED_POLICIES:
        new = DEPRECATED_POLICIES[name]
        cfgmod.warn(f"policy={name} is not a Darknet name (Darknet would train with a constant rate); "
                    f"read as policy={new}, write that instead", opts.section.path,
                    opts.section.options["policy"][1], opts.section.type)
        name = new
    if name not in POLICIES:
        raise opts.error(f"policy={name} is not one of: {', '.join(POLICIES)}", "policy")
    n.policy = name
    n.burn_in = opts.int("burn_in", 0, min=0)
    # power < 0 would make the rate 0**power = infinite at batch 0 (burn_in, poly, random)
    n.power = opts.float("power", 4.0, min=0.0)
    if name == "step":
        n.step = opts.int("step", 1, min=1)
        n.scale = opts.float("scale", 1.0)
    elif name == "steps" or (name == "sgdr" and opts.has("steps")):
        _parse_steps(opts, n)
    elif name in ("exp", "sigmoid"):
        n.gamma = opts.float("gamma", 1.0)
        if name == "sigmoid":
            n.step = opts.int("step", 1)
    elif name == "poly" and n.max_batches < 1:
        raise opts.error("policy=poly needs max_batches >= 1 (the rate is lr*(1 - batch/max_batches)^power)",
                         "max_batches" if opts.has("max_batches") else "policy")
    if name == "sgdr":
        _parse_sgdr(opts, n)


def _parse_steps(opts, n):
    """steps= and scales= (the fork's sgdr reads them too, for its sequence scales, not for the rate)."""
    n.steps = opts.int_list("steps")
    n.scales = opts.float_list("scales", [1.0] * len(n.steps) if n.policy == "sgdr" else _REQUIRED)
    if len(n.steps) != len(n.scales):
        raise opts.error(f"steps has {len(n.steps)} values but scales has {len(n.scales)}", "scales")


def _parse_sgdr(opts, n):
    n.learning_rate_min = opts.float("learning_rate_min", 0.00001, min=0.0)
    # Darknet loops forever on a cycle of 0 batches (sgdr_cycle defaults to max_batches, often unset)
    n.sgdr_cycle = opts.int("sgdr_cycle", n.max_batches)
    if n.sgdr_cycle < 1:
        raise opts.error(f"policy=sgdr needs a cycle of >= 1 batches: sgdr_cycle={n.sgdr_cycle} "
                         f"(it defaults to max_batches)", "sgdr_cycle" if opts.has("sgdr_cycle") else "policy")
    n.sgdr_mult = opts.int("sgdr_mult", 2, min=1)


def _pow(a, b):
    """C's pow in double: inf where math.pow raises OverflowError (gamma=10 after 400 batches), NaN
    where it raises ValueError (negative base, fractional power)."""
    try:
        return math.pow(a, b)
    except OverflowError:
        return math.inf
    except ValueError:
        return math.nan


def _exp(x):
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf


F32 = np.float32


def current_rate(n, batch_num, rng=None, flavour=None):
    """Darknet's get_current_rate for update number ``batch_num`` (= seen / (batch*subdivisions)).

    Reproduces the C arithmetic: float operands, pow/exp/cos in double, the result rounded to
    float. ``flavour`` is the network's compat flavour: "pjreddie" keeps its sigmoid wrap-around
    (an unsigned batch_num - step before step gives rate 0); every other mode computes the sigmoid
    the fork and the formula intend."""
    lr = float(F32(n.learning_rate))
    if batch_num < n.burn_in:        # every policy, with the power poly also uses
        return F32(lr * _pow(float(F32(batch_num) / F32(n.burn_in)), n.power))
    return F32(RATE_FUNCTIONS[n.policy](n, lr, batch_num, rng, flavour))


def _rate_constant(n, lr, batch_num, rng, flavour):
    return lr


def _rate_step(n, lr, batch_num, rng, flavour):
    return lr * _pow(float(F32(n.scale)), batch_num // n.step)


def _rate_steps(n, lr, batch_num, rng, flavour):
    rate = F32(lr)
    for step, scale in zip(n.steps, n.scales):
        if step > batch_num:
            break
        rate = F32(rate * F32(scale))        # float *= float, as the C loop
    return rate


def _rate_exp(n, lr, batch_num, rng, flavour):
    return lr * _pow(float(F32(n.gamma)), batch_num)


def _rate_poly(n, lr, batch_num, rng, flavour):
    frac = F32(1) - F32(batch_num) / F32(n.max_batches)
    return lr * _pow(float(frac), n.power)


def _rate_random(n, lr, batch_num, rng, flavour):
    rng = rng if rng is not None else np.random.default_rng()
    return lr * _pow(float(F32(rng.uniform(0.0, 1.0))), n.power)


def _rate_sigmoid(n, lr, batch_num, rng, flavour):
    diff = int(batch_num) - int(n.step)
    if diff < 0 and flavour == "pjreddie":
        diff += 2**64                        # size_t batch_num: the subtraction wraps around
    with np.errstate(over="ignore"):
        x = F32(n.gamma) * F32(float(diff))         # float * (float) integer, in float
    return lr * (1.0 / (1.0 + _exp(float(x))))


def _rate_sgdr(n, lr, batch_num, rng, flavour):
    """AlexeyAB's cosine annealing with warm restarts: cycles of sgdr_cycle * sgdr_mult^k batches."""
    start, cycle = 0, n.sgdr_cycle
    while start + cycle < batch_num:
        start += cycle
        cycle *= n.sgdr_mult
    lr_min = F32(n.learning_rate_min)
    span = float(F32(F32(lr) - lr_min))
    phase = float(F32(batch_num - start)) * 3.14159265 / cycle
    return float(lr_min) + 0.5 * span * (1.0 + math.cos(phase))


RATE_FUNCTIONS = {"constant": _rate_constant, "step": _rate_step, "steps": _rate_steps, "exp": _rate_exp,
                  "poly": _rate_poly, "random": _rate_random, "sigmoid": _rate_sigmoid, "sgdr": _rate_sgdr}
