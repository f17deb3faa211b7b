"""Data parallelism over MPI (``mpiexec -n R darknet-py ...``; optional extra ``[mpi]``: mpi4py).

MPI is the standard engine of HPC clusters and of Horovod-style training; this module is the whole of
what darknet_py adds on top of it:

* ``world()``: the processes of this run. Started by mpiexec (its environment says so), it is MPI's
  COMM_WORLD through mpi4py (and a clear error if mpi4py is missing); otherwise a world of one
  process, so every caller runs the same code with or without MPI.
* ``GradientReducer``: after each rank's backward, the sum over ranks of every parameter gradient,
  in ONE in-place allreduce of a single packed buffer per update (not one message per layer: on a
  network every message pays the latency, see docs/scaling.md).
* ``check_same_network``: every rank must run the same cfg and weights, or the sums mix different
  parameters silently; a mismatch stops every rank with one line saying which rank differs.
* ``run_guarded``: an exception on one rank stops the whole run (MPI_Abort) with one line naming the
  rank, instead of the other ranks hanging forever in their next collective call.
"""
import hashlib
import os
import sys

import numpy as np

from .errors import DarknetError

# Variables the common launchers set in every rank (MPICH/Hydra, Open MPI, PMIx, Slurm's srun --mpi).
_LAUNCHER_SIZE_VARS = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "MPI_LOCALNRANKS")
_LAUNCHER_VARS = _LAUNCHER_SIZE_VARS + ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "PMIX_RANK", "HYDI_CONTROL_FD")


def launched_by_mpiexec(environ=None):
    """True when a launcher started this process as one of several ranks."""
    env = os.environ if environ is None else environ
    if not any(v in env for v in _LAUNCHER_VARS):
        return False
    sizes = [env[v] for v in _LAUNCHER_SIZE_VARS if v in env]
    return not sizes or any(s.strip() not in ("", "0", "1") for s in sizes)


class SingleProcess:
    """The world of a run without MPI: rank 0 of 1; collective calls are the identity."""

    rank, size = 0, 1

    def allreduce_sum(self, buffer):
        return buffer

    def allgather(self, value):
        return [value]

    def gather(self, value):
        return [value]

    def bcast(self, value):
        return value

    def barrier(self):
        pass

    def abort(self, code=1):
        raise SystemExit(code)


class MpiWorld:
    """COMM_WORLD through mpi4py."""

    def __init__(self, mpi):
        self.MPI = mpi
        self.comm = mpi.COMM_WORLD
        self.rank, self.size = self.comm.Get_rank(), self.comm.Get_size()

    def allreduce_sum(self, buffer):
        """Sum a contiguous numpy buffer over every rank, in place (one message)."""
        self.comm.Allreduce(self.MPI.IN_PLACE, buffer, op=self.MPI.SUM)
        return buffer

    def allgather(self, value):
        return self.comm.allgather(value)

    def gather(self, value):
        """[value of rank 0, rank 1, ...] on rank 0; None elsewhere."""
        return self.comm.gather(value, root=0)

    def bcast(self, value):
        return self.comm.bcast(value, root=0)

    def barrier(self):
        self.comm.Barrier()

    def abort(self, code=1):
        sys.stdout.flush()
        sys.stderr.flush()
        self.comm.Abort(code)
        os._exit(code)          # MPICH's Abort can return to the caller before the launcher kills us


_WORLD = None


def world():
    """The processes of this run (created once): MpiWorld under mpiexec, else SingleProcess."""
    global _WORLD
    if _WORLD is None:
        if launched_by_mpiexec():
            try:
                from mpi4py import MPI
            except ImportError:
                raise DarknetError("started by mpiexec but mpi4py is not installed: pip install "
                                   "'darknet_py[mpi]' (or run without mpiexec)") from None
            _WORLD = MpiWorld(MPI)
        else:
            _WORLD = SingleProcess()
    return _WORLD


class GradientReducer:
    """Sums every parameter gradient, the cost and a stop flag over the ranks, in one allreduce.

    The gradients live in each layer's ``*_updates`` arrays; they are packed into one contiguous
    buffer (allocated once), reduced in place and unpacked. Packing costs a copy of the gradients,
    microseconds next to a backward pass, and turns N layer messages into one. The same message
    carries the cost (for the loss every rank reports) and whether any rank was asked to stop
    (Ctrl-C), so all ranks stop after the same iteration and none waits alone in the next allreduce."""

    def __init__(self, net, world):
        self.world = world
        self.grads = [g for layer in net.layers for _, _, g in layer.parameters()]
        size = sum(g.size for g in self.grads)
        dtype = np.float64 if net.dtype == np.float64 else np.float32
        self.buffer = np.zeros(size + 2, dtype)     # (all gradients, cost, stop flag): packed
        # Darknet's *_updates double as momentum buffers: after an update they hold momentum * the
        # last step, identical on every rank. Only what the backward added since is summed: ranks
        # other than 0 send (updates - momentum), so the sum holds the momentum once.
        self.momentum = np.zeros(size, dtype) if world.rank else None   # (all gradients,) packed
        self.stop_here = False      # set by the training loop when this rank was interrupted
        self.stop_any = False       # after allreduce: some rank was interrupted

    @property
    def nbytes(self):
        return self.buffer.nbytes

    def keep_momentum(self):
        """Remember the momentum part of the ``*_updates`` buffers (call before each iteration's backward)."""
        if self.momentum is not None:
            self._pack(self.momentum)

    def _pack(self, target):
        offset = 0
        for g in self.grads:
            target[offset:offset + g.size] = g
            offset += g.size

    def allreduce(self, extra=0.0):
        """Replace every gradient by its sum over the ranks (the momentum counted once); return the sum
        of ``extra`` over the ranks."""
        if self.world.size == 1:
            self.stop_any = self.stop_here
            return extra
        self._pack(self.buffer)
        offset = self.buffer.size - 2
        if self.momentum is not None:
            self.buffer[:offset] -= self.momentum
        self.buffer[offset:] = extra, float(self.stop_here)
        self.world.allreduce_sum(self.buffer)
        offset = 0
        for g in self.grads:
            g[:] = self.buffer[offset:offset + g.size]
            offset += g.size
        self.stop_any = bool(self.buffer[offset + 1] > 0)
        return self.buffer[offset]


class CollectiveError(DarknetError):
    """An error every rank raised alike (found by a collective call): rank 0 says it once, all exit."""


def network_fingerprint(net):
    """A short hash of what must agree across ranks: the cfg text, the layer shapes, the parameters."""
    h = hashlib.sha256()
    try:
        with open(net.path, "rb") as f:
            h.update(f.read())
    except OSError:
        h.update(str(net.path).encode())
    for layer in net.layers:
        h.update(f"{layer.type}{layer.in_shape}{layer.out_shape}".encode())
        for _, param, _ in layer.parameters():
            h.update(np.ascontiguousarray(param).tobytes())
    return h.hexdigest()[:16]


def check_same_network(net, world):
    """DarknetError on every rank unless all ranks built the same network with the same weights."""
    prints = world.allgather(network_fingerprint(net))
    differing = [r for r, p in enumerate(prints) if p != prints[0]]
    if differing:
        raise CollectiveError(f"ranks {', '.join(map(str, differing))} run another network than rank 0 (cfg or "
                           f"weights differ: fingerprints {prints[0]} vs {prints[differing[0]]}); give every "
                           f"rank the same files")


def run_guarded(world, fn, *args):
    """fn(*args); under MPI, an error stops every rank with one line.

    A CollectiveError was raised by every rank alike: rank 0 prints it and all exit with status 2.
    Anything else happened on this rank only, while the others may be waiting in a collective call:
    it prints the rank and the reason and aborts the whole run (MPI_Abort)."""
    if world.size == 1:
        return fn(*args)
    try:
        return fn(*args)
    except CollectiveError as e:
        if world.rank == 0:
            print(f"darknet-py: error: {e}", file=sys.stderr)
        raise SystemExit(2) from None
    except BaseException as e:          # KeyboardInterrupt too: the others must not hang
        what = str(e) or type(e).__name__
        print(f"darknet-py: error: rank {world.rank} of {world.size} stopped the run: {what}", file=sys.stderr)
        world.abort(2 if isinstance(e, DarknetError) else 1)
