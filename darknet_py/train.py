"""Training: Darknet's train_network (one iteration = ``subdivisions`` forward/backward passes and one
update) and the loop a user runs on a .data file (``train``, used by ``darknet-py train``).

``train_batch`` is Darknet's ``train_network`` + ``train_network_datum``: the rows are cut into
sub-batches of ``net.batch`` images; each one counts ``seen``, runs a training forward with its truth
and a backward; the update runs whenever ``seen / batch`` is a multiple of ``subdivisions`` (so once
per iteration when ``seen`` starts at a multiple of ``batch*subdivisions``, as it does after
loading Darknet weights). Gradients accumulate over the sub-batches in the layers' ``*_updates``,
and the update divides by ``batch*subdivisions``, exactly as Darknet.
"""
import math
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import DarknetError
from .fileio import atomic_write


def train_batch(net, x, truth, reducer=None):
    """One Darknet training iteration on ``x`` (k*batch, c, h, w) and ``truth`` (k*batch, truths).

    Returns Darknet's loss: the sum of the sub-batches' network costs divided by the number of
    images (summed in float32 as the C code does). ``reducer`` (distributed.GradientReducer, data
    parallel training): before each update the gradients and the cost sum of every replica are added
    up in one message, so the update and the loss are those of the whole global batch."""
    x, truth = _check_rows(net, x, truth)
    b = net.batch
    passes = x.shape[0] // b
    total = np.float32(0)
    if reducer is not None:
        reducer.keep_momentum()
    for i in range(passes):
        rows = slice(i * b, (i + 1) * b)
        total = np.float32(total + np.float32(_forward_backward(net, x[rows], truth[rows])))
        if (net.seen // (b * net.replicas)) % net.subdivisions == 0:     # Darknet: update every subdivisions
            if reducer is not None:
                total = np.float32(reducer.allreduce(extra=total))
            net.update()
            if reducer is not None:
                reducer.keep_momentum()
    return float(np.float32(total / np.float32(passes * b * net.replicas)))


def _forward_backward(net, x, truth):
    """Darknet's train_network_datum up to its update: forward (counts seen), backward; the cost."""
    net.forward(x, train=True, truth=truth)
    cost = net.cost
    if cost is None:
        raise DarknetError(f"{net.path}: no layer computes a cost ([softmax], [cost], [yolo], ...): "
                           f"nothing to train against")
    net.backward(input_grad=False)          # as Darknet: nothing below layer 0 needs its gradient
    return cost


def _check_rows(net, x, truth):
    """x and truth as arrays whose first axis is a whole number of sub-batches."""
    if not isinstance(x, np.ndarray) or not isinstance(truth, np.ndarray):
        raise DarknetError("train_batch takes numpy arrays x (images, c, h, w) and truth (images, truths)")
    rows = x.shape[0] if x.ndim else 0
    if rows == 0 or rows % net.batch:
        raise DarknetError(f"train_batch got {rows} images: expected a multiple of the sub-batch "
                           f"size {net.batch} (batch={net.batch * net.subdivisions} / subdivisions="
                           f"{net.subdivisions}), normally batch*subdivisions = {net.batch * net.subdivisions}")
    if truth.shape[0] != rows or truth[0].size != net.truths:
        raise DarknetError(f"truth has shape {truth.shape}, expected ({rows}, {net.truths})")
    return x.reshape((rows, -1)), truth.reshape((rows, -1))


# ====================================================================== the loop of `darknet-py train`
SAVE_EVERY = 100          # iterations between two saves of <cfg stem>_last.weights, as Darknet's backups


@dataclass
class TrainResult:
    iterations: int             # iterations run in this call
    last_weights: Path
    final_weights: Path         # None when interrupted
    interrupted: bool
    loss: float                 # last iteration's loss (nan when none ran)
    avg_loss: float


def train(data_path, cfg_path, weights=None, max_batches=None, seed=0, augment=True, compat=False,
          progress=True, log=print, on_iteration=None):
    """Darknet's train_detector / train_classifier loop on a .data file.

    Every ``SAVE_EVERY`` iterations and at the end: <backup>/<cfg stem>_last.weights (atomically)
    plus its training state (momentum buffers, so that a resumed run continues exactly where this
    one stopped); at the end <cfg stem>_final.weights; loss.csv and loss.png in <backup>.
    ``weights`` resumes from the file's ``seen``. Ctrl-C saves _last and returns interrupted=True.
    ``on_iteration(net, loss)`` is called after every iteration (tests, tools)."""
    from .data import Augmentation, BatchSource, read_data_cfg, read_list
    from .distributed import GradientReducer, check_same_network, world
    from .network import load_network
    ranks = world()                     # mpiexec -n R: data parallel over R ranks (distributed.py)
    lead = ranks.rank == 0              # the one rank that writes files and shows progress
    dc = read_data_cfg(data_path)
    net = load_network(cfg_path, weights, compat=compat)
    net.replicas = ranks.size
    check_same_network(net, ranks)
    max_batches = max_batches if max_batches is not None else net.config.max_batches
    if max_batches < 1:
        raise DarknetError(f"{cfg_path}: no max_batches in [net]: give --max-batches N")
    stem = Path(cfg_path).stem
    backup = Path(dc.backup)
    backup.mkdir(parents=True, exist_ok=True)
    last, final = backup / f"{stem}_last.weights", backup / f"{stem}_final.weights"
    _check_classes(net, dc)
    state = load_training_state(net, weights, log if lead else _quiet) if weights else {}
    augmentation = Augmentation.from_network(net)
    scales = multi_scale(net, seed, max_batches) if augment else None
    source = BatchSource(read_list(dc.train), dc.train, net, dc.names, dc.classes,
                         augmentation if augment else augmentation.off(), seed,
                         size_of=scales.size if scales else None, rank=ranks.rank, ranks=ranks.size)
    reducer = GradientReducer(net, ranks) if ranks.size > 1 else None
    history = LossHistory(backup / "loss.csv", start=net.current_batch())
    avg_loss = state.get("avg_loss", -1.0)
    loss, start = math.nan, net.current_batch()
    bar = _progress_bar(progress and lead, start, max_batches)
    try:
        with _StopOnInterrupt(log if lead else _quiet) as stop:
            while net.current_batch() < max_batches and not stop.requested:
                iteration = net.current_batch()
                t0 = time.perf_counter()
                if scales and scales.size(iteration) != tuple(net.input_shape[:0:-1]):
                    net = resize_network(net, *scales.size(iteration))
                    reducer = GradientReducer(net, ranks) if reducer else None
                x, truth = source.batch(iteration)
                net.rng = np.random.default_rng([seed, iteration, 1])   # dropout / random policy
                if reducer is not None:
                    reducer.stop_here = stop.requested
                loss = net.train_batch(x, truth, reducer)
                if reducer is not None and reducer.stop_any:            # every rank stops after this one
                    stop.requested = True
                avg_loss = loss if avg_loss < 0 else avg_loss * .9 + loss * .1
                rate = float(net.current_rate())
                speed = len(x) * ranks.size / max(time.perf_counter() - t0, 1e-9)
                history.add(net.current_batch(), loss, avg_loss, rate, net.seen)
                if bar is not None:
                    bar.set_postfix_str(f"loss {loss:.4f} avg {avg_loss:.4f} rate {rate:.3g} {speed:.1f} img/s",
                                        refresh=False)
                    bar.update(1)
                if on_iteration is not None:
                    on_iteration(net, loss)
                if lead and net.current_batch() % SAVE_EVERY == 0:
                    save_checkpoint(net, last, avg_loss)
                    history.write()
                    history.plot(log)                # a picture to watch while it trains
            interrupted = stop.requested and net.current_batch() < max_batches
    finally:
        source.close()
        if bar is not None:
            bar.close()
    if not lead:
        return TrainResult(net.current_batch() - start, last, None if interrupted else final, interrupted, loss,
                           avg_loss)
    save_checkpoint(net, last, avg_loss)
    history.write()
    history.plot(log)
    if interrupted:
        log(f"interrupted at iteration {net.current_batch()}: saved {last} (resume with it as WEIGHTS)")
        final = None
    else:
        net.save_weights(final)
        log(f"iteration {net.current_batch()}: saved {final} and {last}")
    return TrainResult(net.current_batch() - start, last, final, interrupted, loss, avg_loss)


def _quiet(message):
    """The log of the ranks other than 0: rank 0 says everything once."""


def _check_classes(net, dc):
    """The .data file and the network must agree on the classes (Darknet trusts the layer and reads
    labels past its classes out of bounds)."""
    last = net.layers[-1]
    classes = getattr(last, "classes", None) if last.type in ("yolo", "region", "detection") else last.outputs
    if classes is not None and classes != dc.classes:
        where = f"{last.section.path}:{last.section.line} " if last.section is not None else ""
        raise DarknetError(f"{dc.path} says classes={dc.classes} but the network's last layer ({where}"
                           f"[{last.type}]) has {classes} {'classes' if last.type != 'softmax' else 'outputs'}")


# ---------------------------------------------------------------------- multi-scale (random=1)
class MultiScale:
    """random=1 in the last [yolo]/[region]: every 10 iterations a new square input size, as
    train_detector's ``(rand() % 10 + 10) * 32`` (320..608 for a 416 network), here scaled to the
    cfg's size: multiples of the network's stride from ~0.77x to ~1.46x the cfg width, the largest
    during the last 200 iterations. The size of iteration i is a function of (seed, i // 10)."""

    def __init__(self, net, seed, max_batches):
        last = net.layers[-1]
        width = net.input_shape[2]
        stride = max(1, width // last.out_shape[2])
        low, high = max(1, round(width * 10 / 13 / stride)), max(1, round(width * 19 / 13 / stride))
        self.sizes = [k * stride for k in range(low, high + 1)]
        self.seed, self.max_batches = seed, max_batches

    def size(self, iteration):
        if iteration + 200 > self.max_batches:
            side = self.sizes[-1]
        else:
            rng = np.random.default_rng([self.seed, iteration // 10, 2])
            side = self.sizes[int(rng.integers(len(self.sizes)))]
        return side, side


def multi_scale(net, seed, max_batches):
    """A MultiScale when the last layer asks for random=1, else None."""
    last = net.layers[-1]
    if last.section is None or last.type not in ("yolo", "region"):
        return None
    from .cfg import Options
    return MultiScale(net, seed, max_batches) if Options(last.section).int("random", 0) else None


def resize_network(net, width, height):
    """A network built from the same cfg at another input size, with every trained array (weights,
    batch-norm statistics, momentum, adam moments) and the counters of ``net``. Darknet's
    resize_network reallocates in place; here the buffers are allocated once per build, so a
    resize is a rebuild plus a copy (every 10 iterations: cheap next to 10 training steps)."""
    import warnings
    from . import cfg as cfgmod
    from .errors import CfgWarning
    from .network import build_network
    sections = cfgmod.read_cfg(net.path)
    head = sections[0]
    options = dict(head.options)
    options["width"] = (str(width), head.options.get("width", (0, head.line))[1])
    options["height"] = (str(height), head.options.get("height", (0, head.line))[1])
    sections[0] = cfgmod.Section(head.type, head.line, options, head.path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CfgWarning)       # already shown when the cfg was first loaded
        new = build_network(sections, net.path, compat=net.flavour, dtype=net.dtype,
                            check_numerics=net.check_numerics)
    copy_training_state(net, new)
    return new


def copy_training_state(src, dst):
    for a, b in zip(src.layers, dst.layers):
        if [x.shape for x in a.weight_arrays()] != [y.shape for y in b.weight_arrays()]:
            raise DarknetError(f"{src.path}: layer {a.index} [{a.type}] has weights whose size depends on the "
                               f"input size: this network cannot change size (random=1)")
        for x, y in zip(a.weight_arrays(), b.weight_arrays()):
            y[...] = x
        for (_, _, x), (_, _, y) in zip(a.parameters(), b.parameters()):
            y[...] = x
        for name, (m, v) in getattr(a, "_adam_state", {}).items():
            b._adam_state[name][0][...], b._adam_state[name][1][...] = m, v
    dst.seen, dst.t, dst.rng, dst.replicas = src.seen, src.t, src.rng, src.replicas
    dst.fast, dst.fold_batchnorm = src.fast, src.fold_batchnorm


def _progress_bar(progress, start, total):
    if not progress:
        return None
    from tqdm import tqdm
    return tqdm(total=total, initial=start, unit="it", dynamic_ncols=True, desc="train")


class _StopOnInterrupt:
    """Ctrl-C (SIGINT) asks the loop to stop after the current iteration (an iteration cut in the
    middle would leave half-accumulated gradients in the momentum buffers); a second Ctrl-C
    aborts at once. Only the main thread can own the signal; elsewhere Ctrl-C keeps its meaning."""

    def __init__(self, log):
        self.log, self.requested, self.previous = log, False, None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        self.log("\ninterrupt: stopping after this iteration (Ctrl-C again to abort without saving)")

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)


# ---------------------------------------------------------------------- checkpoints
def _state_path(weights_path):
    p = Path(weights_path)
    return p.with_name(p.name + ".state.npz")


def save_checkpoint(net, path, avg_loss):
    """The weights (Darknet's file) and beside them the state Darknet does not save (momentum
    buffers, adam moments, update count, average loss), so a resumed run continues bit for bit."""
    arrays = {"seen": np.int64(net.seen), "t": np.int64(net.t), "avg_loss": np.float64(avg_loss)}
    for layer in net.layers:
        for name, _, grad in layer.parameters():
            arrays[f"{layer.index}.{name}.updates"] = grad
        for name, (m, v) in getattr(layer, "_adam_state", {}).items():
            arrays[f"{layer.index}.{name}.m"], arrays[f"{layer.index}.{name}.v"] = m, v
    net.save_weights(path)
    atomic_write(_state_path(path), lambda f: np.savez(f, **arrays))


def load_training_state(net, weights_path, log):
    """Restore what save_checkpoint wrote beside ``weights_path`` when it belongs to those weights
    (same seen); else momentum starts from zero, as when Darknet resumes."""
    path = _state_path(weights_path)
    if not path.is_file():
        log(f"note: no {path.name} beside the weights: momentum starts from zero (as Darknet resumes)")
        return {}
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = dict(data)
        _check_state(net, arrays)
    except (OSError, ValueError, KeyError) as e:
        log(f"note: cannot use {path.name} ({e}): momentum starts from zero")
        return {}
    if int(arrays["seen"]) != net.seen:
        log(f"note: {path.name} is for seen={int(arrays['seen'])}, the weights have seen={net.seen}: ignored")
        return {}
    for layer in net.layers:
        for name, _, grad in layer.parameters():
            grad[...] = arrays[f"{layer.index}.{name}.updates"]
        for name, (m, v) in getattr(layer, "_adam_state", {}).items():
            m[...], v[...] = arrays[f"{layer.index}.{name}.m"], arrays[f"{layer.index}.{name}.v"]
    net.t = int(arrays["t"])
    return {"avg_loss": float(arrays["avg_loss"])}


def _check_state(net, arrays):
    """A ValueError/KeyError unless ``arrays`` holds every buffer of this network with its shape."""
    for key in ("seen", "t", "avg_loss"):
        arrays[key]
    for layer in net.layers:
        for name, _, grad in layer.parameters():
            if arrays[f"{layer.index}.{name}.updates"].shape != grad.shape:
                raise ValueError(f"layer {layer.index} {name}: another network's state")


# ---------------------------------------------------------------------- loss log
class LossHistory:
    """loss.csv (iteration, loss, avg_loss, rate, seen): rows of an earlier run up to ``start`` kept."""

    HEADER = "iteration,loss,avg_loss,rate,seen\n"

    def __init__(self, path, start):
        self.path = Path(path)
        self.noted = False
        self.rows = [r for r in self._read() if r[0] <= start]

    def _read(self):
        try:
            lines = self.path.read_text().splitlines()[1:]
            return [(int(l.split(",")[0]),) + tuple(l.split(",")[1:]) for l in lines if l.strip()]
        except (OSError, ValueError, IndexError):
            return []

    def add(self, iteration, loss, avg_loss, rate, seen):
        self.rows.append((iteration, f"{loss:.6g}", f"{avg_loss:.6g}", f"{rate:.6g}", str(seen)))

    def write(self):
        text = self.HEADER + "".join(",".join(map(str, r)) + "\n" for r in self.rows)
        atomic_write(self.path, lambda f: f.write(text.encode()))

    def plot(self, log):
        """loss.png beside loss.csv with matplotlib (the optional extra ``plot``); a note without it."""
        try:
            import matplotlib
            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            if not self.noted:
                log("note: matplotlib is not installed (pip install 'darknet_py[plot]'): no loss.png")
                self.noted = True
            return
        if not self.rows:
            return
        it = [r[0] for r in self.rows]
        fig, ax = plt.subplots(figsize=(7, 4))
        ax.plot(it, [float(r[1]) for r in self.rows], lw=.6, alpha=.5, label="loss")
        ax.plot(it, [float(r[2]) for r in self.rows], lw=1.5, label="average loss")
        ax.set_xlabel("iteration")
        ax.set_ylabel("loss")
        ax.legend()
        fig.tight_layout()
        png = self.path.with_name("loss.png")
        atomic_write(png, lambda f: fig.savefig(f, format="png", dpi=100))
        plt.close(fig)
