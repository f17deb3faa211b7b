"""Layer: the base every layer type derives from (shapes, buffers, defaults for backward/update).

A layer owns its buffers and nothing else. Buffers are flat, contiguous, NCHW, allocated once in
``__init__`` through ``alloc`` (which checks the network's memory budget first) and never again.

Planning (``MemoryBudget(plan=True)``, used by ``plan_network`` and ``darknet-py summary``): ``alloc``
charges the budget as usual but returns a stand-in, a writeable zero-stride view of ONE value with the
buffer's length, so that every layer's ``__init__`` runs unchanged and reports its shapes, parameters
and memory without the memory. The rule for layers: at build time, write buffers only by assignment
(``buf[:] = value``: one value repeated, harmless); anything else (random draws, in-place arithmetic,
which numpy runs through a full-size temporary on a zero-stride view) is skipped when ``planning()``
is true. tests/test_plan.py builds every registered type in plan mode and checks that it allocates
nothing of the buffers' size.
"""
import contextlib
import contextvars
from dataclasses import dataclass
from math import prod

import numpy as np

from ..errors import CfgError


@dataclass(frozen=True)
class Option:
    """One cfg key a layer type reads, for ``darknet-py layers`` and the README."""

    name: str
    default: object
    help: str = ""


class MemoryLimitError(CfgError):
    """Building the network would allocate more than the memory limit.

    A CfgError: raised while building, it carries the cfg file, line and section of the layer whose
    buffer did not fit (``net.cfg:3 [l2norm]: layer 0 needs 114.4 GiB more ...``)."""


class MemoryBudget:
    """Counts the bytes a network allocates and refuses before the limit would be exceeded.

    ``plan=True``: count only; ``alloc`` hands out stand-ins instead of buffers (module docstring)."""

    def __init__(self, limit_bytes=None, plan=False):
        self.limit = limit_bytes
        self.plan = bool(plan)
        self.used = 0

    def take(self, nbytes, what):
        if self.limit is not None and self.used + nbytes > self.limit:
            raise MemoryLimitError(
                f"{what} needs {format_bytes(nbytes)} more, {format_bytes(self.used + nbytes)} in all, "
                f"over the memory limit of {format_bytes(self.limit)} (raise it with max_memory= / --max-memory)",
                *_place.get())
        self.used += nbytes


def format_bytes(nbytes):
    """'512 B', '3.2 MiB', '114.4 GiB': sizes the user can read at a glance."""
    for unit, scale in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if nbytes >= scale:
            return f"{nbytes / scale:.1f} {unit}"
    return f"{nbytes} B"


_budget = contextvars.ContextVar("darknet_py_memory_budget", default=None)
_allocating_for = contextvars.ContextVar("darknet_py_allocating_for", default="a layer")
_place = contextvars.ContextVar("darknet_py_place", default=(None, None, None))   # (path, line, section)


@contextlib.contextmanager
def memory_budget(budget, what="a layer", place=(None, None, None)):
    """Make ``alloc`` charge ``budget`` (with ``what`` named in its error) inside the block.

    ``place`` = (cfg path, line, section type) of the section being built: buffer errors point there."""
    tokens = _budget.set(budget), _allocating_for.set(what), _place.set(tuple(place))
    try:
        yield budget
    finally:
        for var, token in zip((_budget, _allocating_for, _place), tokens):
            var.reset(token)


def place_error(message):
    """A CfgError at the cfg section being built (no place outside ``memory_budget``)."""
    return CfgError(message, *_place.get())


def planning():
    """True while a network is being planned: buffers are stand-ins, build-time work on them is skipped."""
    budget = _budget.get()
    return budget is not None and budget.plan


def stand_in(n, dtype):
    """n elements that cost one: a zero-stride view of a single zero (size, len, nbytes of n elements)."""
    return np.lib.stride_tricks.as_strided(np.zeros(1, dtype=dtype), shape=(n,), strides=(0,))


def alloc(n, dtype):
    """A zeroed flat buffer of n elements, charged to the current memory budget first
    (a stand-in when planning)."""
    n = int(n)
    if n < 0:               # a shape computed from options that do not fit the input
        raise place_error(f"{_allocating_for.get()} computed a buffer of negative size {n}: "
                          f"the options do not fit the input shape")
    nbytes = n * np.dtype(dtype).itemsize
    budget = _budget.get()
    if budget is not None:
        budget.take(nbytes, _allocating_for.get())
        if budget.plan:
            return stand_in(n, dtype)
    try:
        return np.zeros(n, dtype=dtype)
    except (MemoryError, ValueError):   # no budget (max_memory=None), or numpy's own size limit
        raise MemoryLimitError(f"{_allocating_for.get()} cannot allocate {format_bytes(nbytes)}",
                               *_place.get()) from None


class Layer:
    """Base class. Subclasses set ``OPTIONS``, implement ``from_options``, ``forward`` and ``backward``.

    Attributes every layer has: ``type`` (set by ``register_layer``), ``index``, ``batch``,
    ``in_shape``/``out_shape`` (per batch item: (c, h, w) or (n,)), ``inputs``/``outputs`` (their sizes),
    ``output`` and ``delta`` (flat, (batch, *out_shape)), ``workspace_size`` (elements of the shared
    workspace this layer needs).
    """

    type = None
    aliases = ()
    OPTIONS = ()              # tuple of Option: the cfg keys this type reads, with their defaults
    workspace_size = 0
    truths = 0                # > 0 when the layer needs a truth buffer of another size than its output
    # keys every section may carry (Darknet's parse_network_cfg), set by the builder:
    dontsave = False          # skipped by save_weights
    dontload = False          # skipped by load_weights
    stopbackward = False      # backward does not go below this layer
    learning_rate_scale = 1.0
    section = None            # the cfg Section it was built from

    def __init__(self, batch, in_shape, out_shape, dtype=np.float32, delta=True):
        self.batch = int(batch)
        self.in_shape = tuple(int(d) for d in in_shape)
        self.out_shape = tuple(int(d) for d in out_shape)
        self.dtype = np.dtype(dtype)
        if self.out_shape and min(self.out_shape) < 1:      # before any buffer is sized from it
            raise place_error(f"output shape {self.out_shape} is empty (input {self.in_shape}): "
                              f"the options do not fit the input")
        self.inputs = prod(self.in_shape)
        self.outputs = prod(self.out_shape)
        self.index = None
        self.output = self.alloc(self.batch * self.outputs)                          # (B, *out_shape)
        self.delta = self.alloc(self.batch * self.outputs) if delta else None       # (B, *out_shape)

    def alloc(self, n):
        return alloc(n, self.dtype)

    @classmethod
    def from_options(cls, opts, in_shape, net):
        raise NotImplementedError

    def forward(self, net):
        raise NotImplementedError

    def backward(self, net):
        """Add this layer's input gradient into ``net.delta`` (which may be None for layer 0)."""

    def update(self, args):
        """Apply one optimisation step (layers with parameters)."""

    def parameters(self):
        """[(name, parameter array, gradient array)], gradients in Darknet's sign (-dL/dparam)."""
        return []

    def weight_arrays(self):
        """The arrays written to / read from a Darknet .weights file, in Darknet's order."""
        return []

    def flops(self):
        """Floating-point operations of one forward pass for ONE batch item (Darknet's l.bflops * 1e9)."""
        return 0

    def summary(self):
        """Columns of the summary table: filters and size/stride, '' where they do not apply."""
        return {"filters": "", "size": ""}

    def output_array(self):
        """``output`` shaped (batch, *out_shape): a view, not a copy."""
        return self.output.reshape((self.batch,) + self.out_shape)

    def delta_array(self):
        return None if self.delta is None else self.delta.reshape((self.batch,) + self.out_shape)

    def __repr__(self):
        return f"<{type(self).__name__} {self.index} {self.in_shape} -> {self.out_shape}>"


def shape3(in_shape, opts, what):
    """(c, h, w) of an input, or a CfgError naming the layer that needs it."""
    if len(in_shape) != 3:
        raise opts.error(f"{what} needs a (channels, height, width) input, got {tuple(in_shape)}")
    return in_shape
