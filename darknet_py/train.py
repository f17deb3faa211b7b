"""Training: Darknet's train_network (one iteration = ``subdivisions`` forward/backward passes and one
update) and the loop a user runs on a .data file (``train``, used by ``darknet-py train``).

``train_batch`` is Darknet's ``train_network`` + ``train_network_datum``: the rows are cut into
sub-batches of ``net.batch`` images; each one counts ``seen``, runs a training forward with its truth
and a backward; the update runs whenever ``seen / batch`` is a multiple of ``subdivisions`` (so once
per iteration when ``seen`` starts at a multiple of ``batch*subdivisions``, as it does after
loading Darknet weights). Gradients accumulate over the sub-batches in the layers' ``*_updates``,
and the update divides by ``batch*subdivisions``, exactly as Darknet.
"""
import numpy as np

from .errors import DarknetError


def train_batch(net, x, truth):
    """One Darknet training iteration on ``x`` (k*batch, c, h, w) and ``truth`` (k*batch, truths).

    Returns Darknet's loss: the sum of the sub-batches' network costs divided by the number of
    images (summed in float32 as the C code does)."""
    x, truth = _check_rows(net, x, truth)
    b = net.batch
    passes = x.shape[0] // b
    total = np.float32(0)
    for i in range(passes):
        rows = slice(i * b, (i + 1) * b)
        total = np.float32(total + np.float32(_train_datum(net, x[rows], truth[rows])))
    return float(np.float32(total / np.float32(passes * b)))


def _train_datum(net, x, truth):
    """Darknet's train_network_datum: forward (counts seen), backward, update every subdivisions."""
    net.forward(x, train=True, truth=truth)
    cost = net.cost
    if cost is None:
        raise DarknetError(f"{net.path}: no layer computes a cost ([softmax], [cost], [yolo], ...): "
                           f"nothing to train against")
    net.backward()
    if (net.seen // net.batch) % net.subdivisions == 0:
        net.update()
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
