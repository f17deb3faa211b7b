"""Network: the shared struct every layer reads (Darknet's ``network``), its builder and its loops.

``build_network`` validates every section and allocates every buffer once; ``forward``, ``backward``
and ``update`` then run sequentially over the layers and allocate nothing. As in Darknet, the loops
point ``net.input``/``net.delta`` at the previous layer's ``output``/``delta`` before calling a layer.
``plan_network`` (``build_network(..., plan=True)``) builds the same layers with stand-in buffers
(layers/base.py): shapes, parameters, FLOPs and the bytes a run would allocate, at no memory cost;
such a network cannot run.
"""
import numbers
import os
import time
from dataclasses import dataclass

import numpy as np

from . import cfg as cfgmod
from .errors import CfgError, DarknetError, NumericsError
from .kernels import blas
from .layers.base import MemoryBudget, alloc, memory_budget
from .netconfig import current_rate, parse_net_options
from .registry import layer_class

DEFAULT_MEMORY_FRACTION = 0.75
# Batch of the inspecting and inference verbs (summary, forward, detect, classify) when --batch is not
# given, as Darknet's test commands (detector test, classifier predict) set batch 1 whatever the cfg
# says; training uses the cfg's batch / subdivisions. The Python API's batch=None is the cfg's batch.
INFERENCE_BATCH = 1


@dataclass
class UpdateArgs:
    """What every layer's ``update`` gets (Darknet's update_args)."""

    batch: int
    learning_rate: float
    momentum: float
    decay: float
    adam: bool = False
    B1: float = 0.9
    B2: float = 0.999
    eps: float = 1e-7
    t: int = 0


class Network:
    """Layers plus the state they share. Public API: forward, backward, update, save/load_weights."""

    def __init__(self, config, path="<cfg>", dtype=np.float32, compat=False):
        self.config = config              # NetConfig: the [net] section
        self.path = path
        self.dtype = np.dtype(dtype)
        self.compat = compat              # None, or the Darknet flavour whose CPU numbers we reproduce
        self.batch = config.batch
        self.subdivisions = config.subdivisions
        self.input_shape = config.input_shape
        self.inputs = config.inputs
        self.layers = []
        self.train = False
        self.seen = 0                     # images seen, written to the .weights header
        # data-parallel copies of this network (mpiexec -n R darknet-py train, distributed.py): each
        # trains on its own batch, the gradients are summed before the update, so one iteration sees
        # batch * subdivisions * replicas images and the update divides by that many
        self.replicas = 1
        self.t = 0                        # update steps (Darknet's *net->t, used by adam)
        self.rng = np.random.default_rng(0)   # dropout / random policy: seeded, reproducible
        # set by build_network once the layers exist:
        self.input_buffer = None          # (B, inputs) the network input, copied in by forward
        self.input_grad = None            # (B, inputs) gradient w.r.t. the input, filled by backward
        self.truth = None                 # (B, truths) or None; layers with a cost read it
        self.truth_buffer = None
        self.workspace = None             # shared scratch, sized to the largest layer's need
        self.input = None                 # the array the current layer reads (loops move it)
        self.delta = None                 # the array the current layer adds its input gradient to
        self.index = 0
        self._deltas_clean = False
        self.check_numerics = False       # True: NaN/Inf in input, an output or a delta is a NumericsError
        self.fast = True                  # inference fast paths (fused conv epilogue, ...); False: plain path
        self.fold_batchnorm = False       # fast path folds batch norm into a weight copy (costs its memory)
        self.hierarchy = None             # the class tree of a [softmax] tree= layer (darknet_py.tree.Tree)
        self.planned = False              # True: built by plan_network, buffers are stand-ins (cannot run)
        self.budget = None                # MemoryBudget: .used = bytes of every buffer (planned or allocated)
        self.memory_limit = None          # bytes the build was allowed (None: no limit)

    # ---------------------------------------------------------------- compat flavour
    @property
    def compat(self):
        """True when reproducing a Darknet's CPU numbers, quirks included (either flavour).

        Layers test ``net.compat`` for the quirks both flavours share, and ``net.flavour ==
        "alexeyab"`` where AlexeyAB's fork differs from pjreddie's original."""
        return self.flavour is not None

    @compat.setter
    def compat(self, value):
        self.flavour = compat_flavour(value)

    # ---------------------------------------------------------------- building
    def add_layer(self, layer):
        layer.index = len(self.layers)
        self.layers.append(layer)

    @property
    def out_shape(self):
        return self.layers[-1].out_shape if self.layers else self.input_shape

    def alloc_input(self):
        """The input buffers, allocated (and charged) before any layer: a huge [net] fails right there."""
        if self.input_buffer is None:
            self.input_buffer = alloc(self.batch * self.inputs, self.dtype)   # (B, inputs)
            self.input_grad = alloc(self.batch * self.inputs, self.dtype)     # (B, inputs)

    def finish_build(self):
        last = self.layers[-1]
        self.truths = last.truths or last.outputs
        self.alloc_input()
        self.truth_buffer = alloc(self.batch * self.truths, self.dtype)      # (B, truths)
        self.workspace = alloc(max([l.workspace_size for l in self.layers] + [1]), self.dtype)

    def _require_buffers(self, what):
        if self.planned:
            raise DarknetError(f"cannot {what} a planned network (its buffers are stand-ins): "
                               f"build it with load_network / build_network")

    def memory_bytes(self):
        """Bytes held by every buffer of the network (layers, workspace, input/truth buffers)."""
        seen, total = set(), 0
        arrays = [self.input_buffer, self.input_grad, self.truth_buffer, self.workspace]
        for layer in self.layers:
            arrays.extend(a for a in vars(layer).values() if isinstance(a, np.ndarray))
        for a in arrays:
            if a is not None and id(a) not in seen:
                seen.add(id(a))
                total += a.nbytes
        return total

    # ---------------------------------------------------------------- forward
    def forward(self, x, train=False, truth=None, timings=None):
        """Run every layer on x, (batch, c, h, w) or (batch, inputs). Returns the last output (a view).

        ``train=True`` uses training behaviour (batch statistics, dropout) and counts ``seen`` like
        Darknet's train_network_datum. ``truth`` (batch, truths) lets cost/softmax layers compute
        their delta and cost. ``timings``: a list that receives (layer index, seconds) per layer
        (tools/bench.py); None costs nothing."""
        self._require_buffers("run forward on")
        self._check_array(x, (self.batch,) + tuple(self.input_shape), "input")
        check = self.check_numerics
        if check:
            self._check_finite(x, "the input")
        np.copyto(self.input_buffer, np.asarray(x, self.dtype).reshape(-1))
        self.truth = self._set_truth(truth)
        self.train = bool(train)
        if self.train:
            self.seen += self.batch * self.replicas
        clear = self.train or self.truth is not None
        self.input = self.input_buffer
        for i, layer in enumerate(self.layers):
            self.index = i
            if clear and layer.delta is not None:
                blas.fill(layer.delta, 0.0)         # Darknet zeroes each delta before the forward
            if timings is None:
                layer.forward(self)
            else:
                t0 = time.perf_counter()
                layer.forward(self)
                timings.append((i, time.perf_counter() - t0))
            if check:
                self._check_finite(layer.output, f"the output of {_describe(layer)} (forward)")
            self.input = layer.output
        self._deltas_clean = clear
        return self.layers[-1].output_array()

    def _set_truth(self, truth):
        if truth is None:
            return None
        self._check_array(truth, None, "truth", size=self.batch * self.truths)
        if self.check_numerics:
            self._check_finite(truth, "the truth")
        np.copyto(self.truth_buffer, np.asarray(truth, self.dtype).reshape(-1))
        return self.truth_buffer

    def _check_array(self, a, shape, what, size=None):
        """A DarknetError unless ``a`` is a real floating-point array of the expected shape.

        With ``shape``: exactly ``shape`` or (batch, inputs). With ``size``: that many values, either
        flat or with the batch first (the golden data and gradchecks pass both forms)."""
        if not isinstance(a, np.ndarray):
            raise DarknetError(f"{what} must be a numpy array, got {type(a).__name__}")
        if a.dtype.kind != "f":     # ints, bools, complex, objects, strings: no silent cast
            raise DarknetError(f"{what} has dtype {a.dtype}, expected a floating-point array "
                               f"({self.dtype}; convert with .astype(np.{self.dtype}))")
        if size is not None:
            if a.size != size or (a.ndim > 1 and a.shape[0] != self.batch):
                raise DarknetError(f"{what} has shape {a.shape}, expected {size} values with the batch "
                                   f"({self.batch}) first, or flat")
            return
        flat = (self.batch, self.inputs)
        if a.shape != shape and a.shape != flat:
            raise DarknetError(f"{what} has shape {a.shape}, expected {shape} or {flat}")

    def _check_finite(self, a, what):
        """NumericsError naming ``what`` and the first bad value (only called when check_numerics)."""
        bad = ~np.isfinite(a.reshape(-1))
        if bad.any():
            i = int(np.argmax(bad))
            raise NumericsError(f"{what} contains {int(bad.sum())} NaN/Inf values (first: "
                                f"{a.reshape(-1)[i]} at flat index {i})")

    # ---------------------------------------------------------------- backward
    def backward(self, delta=None, timings=None, input_grad=True):
        """Backpropagate from the last layer's delta (Darknet's sign: delta = -dL/dy).

        If given, ``delta`` (shaped like the output) is copied into the last layer's delta first.
        Adds parameter gradients into each layer's ``*_updates`` and returns -dL/dx shaped like x.
        ``input_grad=False``: layer 0 gets ``net.delta = None`` and skips the input gradient (its
        gemm and col2im), as Darknet's training does; returns None. A training step wants that.
        ``timings``: a list that receives (layer index, seconds) per layer, as in ``forward``."""
        self._require_buffers("run backward on")
        if not self._deltas_clean:            # after an inference forward the deltas were not zeroed
            for layer in self.layers:
                if layer.delta is not None:
                    blas.fill(layer.delta, 0.0)
            self._deltas_clean = True
        last = self.layers[-1]
        if last.delta is None:
            raise DarknetError(f"{_describe(last)} has no delta: this network cannot run backward")
        if delta is not None:
            self._check_array(delta, None, "delta", size=last.delta.size)
            np.copyto(last.delta, np.asarray(delta, self.dtype).reshape(-1))
        check = self.check_numerics
        if input_grad:
            blas.fill(self.input_grad, 0.0)
        for i in range(len(self.layers) - 1, -1, -1):
            self.index = i
            layer = self.layers[i]
            if i == 0:
                self.input, self.delta = self.input_buffer, (self.input_grad if input_grad else None)
            else:
                prev = self.layers[i - 1]
                self.input, self.delta = prev.output, prev.delta
            if check and layer.delta is not None:
                source = "given to backward or set by its forward" if layer is last else "written by the layers above it"
                self._check_finite(layer.delta, f"the delta of {_describe(layer)} ({source})")
            if timings is None:
                layer.backward(self)
            else:
                t0 = time.perf_counter()
                layer.backward(self)
                timings.append((i, time.perf_counter() - t0))
            if check:
                for name, _, grad in layer.parameters():
                    self._check_finite(grad, f"the {name} gradient of {_describe(layer)} (backward)")
            if layer.stopbackward:
                break
        if not input_grad:
            return None
        if check:
            self._check_finite(self.input_grad, f"the input gradient (written by {_describe(self.layers[0])})")
        return self.input_grad.reshape((self.batch,) + tuple(self.input_shape))

    # ---------------------------------------------------------------- update
    @property
    def global_batch(self):
        """Images per iteration over every data-parallel replica: batch * subdivisions * replicas."""
        return self.batch * self.subdivisions * self.replicas

    def current_batch(self):
        return self.seen // self.global_batch

    def current_rate(self):
        return current_rate(self.config, self.current_batch(), self.rng, self.flavour)

    def update(self):
        """One optimisation step with Darknet's arithmetic (update_network)."""
        self._require_buffers("update")
        c = self.config
        self.t += 1
        args = UpdateArgs(batch=self.global_batch, learning_rate=self.current_rate(),
                          momentum=c.momentum, decay=c.decay, adam=c.adam, B1=c.B1, B2=c.B2,
                          eps=c.eps, t=self.t)
        for layer in self.layers:
            layer.update(args)

    # ---------------------------------------------------------------- weights
    def save_weights(self, path):
        from .weights import save_weights
        self._require_buffers("save the weights of")
        save_weights(self, path)

    def load_weights(self, path):
        from .weights import load_weights
        self._require_buffers("load weights into")
        load_weights(self, path)

    @property
    def cost(self):
        """Mean of the layers' costs, like Darknet's calc_network_cost (sum / count); None if no layer has one."""
        costs = [float(l.cost) for l in self.layers if getattr(l, "cost", None) is not None]
        return sum(costs) / len(costs) if costs else None

    def __repr__(self):
        return f"<Network {self.path}: {len(self.layers)} layers, batch {self.batch}, input {self.input_shape}>"

    # ---------------------------------------------------------------- training (darknet_py/train.py)
    def train_batch(self, x, truth, reducer=None):
        """Darknet's train_network: forward/backward per sub-batch of ``batch`` rows, the update when
        Darknet updates, returns Darknet's loss (mean cost per image). x: (batch*subdivisions, c, h, w)."""
        from .train import train_batch
        return train_batch(self, x, truth, reducer)

    # ---------------------------------------------------------------- images (darknet_py/detect.py, classify.py)
    def detect(self, image, thresh=0.5, nms=0.45, hier_thresh=0.5, names=None):
        """Objects in ``image`` (a path, a PIL image or an array) as Darknet's ``detector test`` finds
        them: a list of detect.Detection records in Darknet's print order."""
        from .detect import detect
        return detect(self, image, thresh=thresh, nms=nms, hier_thresh=hier_thresh, names=names)

    def classify(self, image, top=5, names=None):
        """Darknet's ``classifier predict``: the ``top`` (class, probability) pairs of ``image``."""
        from .classify import classify
        return classify(self, image, top=top, names=names)


FLAVOURS = ("pjreddie", "alexeyab")


def compat_flavour(value):
    """None (default mode: true gradients), "pjreddie" or "alexeyab" from a user's ``compat=``.

    ``True`` keeps its old meaning, pjreddie's original Darknet; False/None/"" is default mode."""
    if value is None or value is False or value == "":
        return None
    if value is True:
        return "pjreddie"
    if isinstance(value, str) and value.lower() in FLAVOURS:
        return value.lower()
    raise DarknetError(f"compat must be False, True, 'pjreddie' or 'alexeyab'; got {value!r}")


def _describe(layer):
    """'layer 3 [route] (net.cfg:14)': how errors name a layer."""
    s = layer.section
    where = f" ({s.path}:{s.line})" if s is not None else ""
    return f"layer {layer.index} [{layer.type}]{where}"


def default_memory_limit():
    """A fraction of physical memory, or None where it cannot be known."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") * DEFAULT_MEMORY_FRACTION)
    except (ValueError, OSError, AttributeError):
        return None


def build_network(sections, path="<cfg>", batch=None, compat=False, dtype=np.float32, max_memory="auto",
                  check_numerics=False, plan=False):
    """Validate every section, then build each layer (allocating its buffers) in cfg order.

    ``batch``: None = the cfg's batch (divided by subdivisions, as Darknet's training does).
    ``max_memory``: bytes all buffers may take ("auto": 75% of physical memory; None: no limit); a
    network over it is a MemoryLimitError at the first section that does not fit, before allocating.
    ``check_numerics``: NaN/Inf in the input, any layer's output or delta raises a NumericsError.
    ``plan=True``: stand-in buffers, no limit (``plan_network``); ``net.budget.used`` still counts
    the bytes, and ``net.memory_limit`` is the limit a real build would have."""
    if not sections or sections[0].type not in ("net", "network"):
        first = sections[0] if sections else None
        raise CfgError("a network starts with a [net] section", path, first and first.line, first and first.type)
    if max_memory != "auto" and max_memory is not None and (
            not isinstance(max_memory, numbers.Integral) or isinstance(max_memory, bool) or max_memory < 0):
        raise DarknetError(f"max_memory must be a number of bytes >= 0, 'auto' or None; got {max_memory!r}")
    net_opts = cfgmod.Options(sections[0])
    config = parse_net_options(net_opts)
    if batch is not None:
        if not isinstance(batch, numbers.Integral) or isinstance(batch, bool) or batch < 1:
            raise DarknetError(f"batch must be an integer >= 1, got {batch!r}")
        config.batch = int(batch) * config.time_steps    # like the cfg's batch: per time step (netconfig)
    net_opts.warn_unused()
    if len(sections) < 2:
        raise CfgError("the network has no layers after [net]", path, sections[0].line, sections[0].type)
    net = Network(config, path, dtype=dtype, compat=compat)
    net.check_numerics = bool(check_numerics)
    net.memory_limit = default_memory_limit() if max_memory == "auto" else max_memory
    net.planned = bool(plan)
    budget = MemoryBudget(None if plan else net.memory_limit, plan=plan)
    net.budget = budget
    with memory_budget(budget, "the network input", (path, sections[0].line, sections[0].type)):
        net.alloc_input()
    in_shape = config.input_shape
    for section in sections[1:]:
        cls = layer_class(section.type, path, section.line)
        opts = cfgmod.Options(section)
        with memory_budget(budget, f"layer {len(net.layers)}", (path, section.line, section.type)):
            layer = cls.from_options(opts, in_shape, net)
        layer.section = section
        layer.options_read = frozenset(opts.used)       # keys from_options asked for (documented in OPTIONS)
        _read_common_options(layer, opts)
        opts.warn_unused()
        net.add_layer(layer)
        in_shape = layer.out_shape
        if layer.outputs <= 0:
            raise CfgError(f"output size is {layer.out_shape}: nothing left to compute", path, section.line,
                           section.type)
    with memory_budget(budget, "the network's shared buffers"):
        net.finish_build()
    return net


def _read_common_options(layer, opts):
    """Keys Darknet's parse_network_cfg reads for every layer type."""
    layer.dontsave = opts.flag("dontsave", 0)            # not written by save_weights
    layer.dontload = opts.flag("dontload", 0)            # not read by load_weights
    layer.stopbackward = opts.flag("stopbackward", 0)    # backward stops after this layer
    layer.learning_rate_scale = opts.float("learning_rate", 1.0, min=0.0)


def load_network(cfg_path, weights_path=None, batch=None, compat=False, dtype=np.float32, max_memory="auto",
                 check_numerics=False):
    """Parse a cfg, build the network and optionally load Darknet weights.

    ``compat="pjreddie"`` (or True) reproduces pjreddie Darknet's CPU numbers, quirks included,
    ``compat="alexeyab"`` those of AlexeyAB's fork (README: differences).
    ``max_memory``: bytes the buffers may take ("auto": 75% of physical memory; None: no limit).
    ``check_numerics``: NaN/Inf in the input, a layer's output or delta is a NumericsError naming it."""
    sections = cfgmod.read_cfg(cfg_path)
    net = build_network(sections, str(cfg_path), batch=batch, compat=compat, dtype=dtype, max_memory=max_memory,
                        check_numerics=check_numerics)
    if weights_path is not None:
        net.load_weights(weights_path)
    return net


def plan_network(cfg_path, batch=None, compat=False, dtype=np.float32, max_memory="auto"):
    """The network ``load_network`` would build, with stand-in buffers: shapes, parameters, FLOPs and
    ``net.budget.used`` (bytes of every buffer a run at this batch allocates) at no memory cost.

    Never a MemoryLimitError: compare ``net.budget.used`` with ``net.memory_limit``. It cannot run."""
    sections = cfgmod.read_cfg(cfg_path)
    return build_network(sections, str(cfg_path), batch=batch, compat=compat, dtype=dtype,
                         max_memory=max_memory, plan=True)
