"""Darknet .weights files: read and write, byte-compatible with the C code of both Darknets.

Layout (little-endian, no padding): int32 major, minor, revision; ``seen`` as a 64-bit count when
major*10 + minor >= 2, else 32 bits (both Darknets' parser.c; pjreddie reads an ``int``, the fork a
``uint32``: the same bytes for every count a real file holds); then, for every layer in cfg order,
that layer's float32 arrays in Darknet's order (``Layer.weight_arrays``). The file size must match
the network exactly: a short or long file is a WeightsError that says by how many bytes, and a failed
load changes nothing in the network.

Which version is written (decided here, README "Weights files"):
* the version of the file last loaded into the network (``net.weights_version``), so a load/save
  round trip is byte-identical in either format, 0.1.x (32-bit seen) included; a 0.1 file whose
  ``seen`` outgrew 32 bits is written in the flavour's version instead (never a wrapped count);
* without a loaded file, the flavour's own: 0.2.5 for ``compat="alexeyab"`` (the fork's version.h),
  0.2.0 otherwise (pjreddie's save_weights).

Per-layer rules by flavour:
* pjreddie (and default mode): ``dontsave=1`` layers are skipped on save, ``dontload=1`` on load;
* alexeyab: the fork's save_weights ignores ``dontsave`` (it writes every layer), load honours
  ``dontload``; [deconvolutional] is not a type of the fork and has no place in its files; and the
  fork writes ``seen = cur_iteration * batch * subdivisions``, i.e. ``net.seen`` rounded down to
  whole batches (load sets cur_iteration = seen / (batch*subdivisions)).
"""
import os
import stat
import struct

import numpy as np

from .errors import WeightsError
from .fileio import atomic_write

MAJOR, MINOR, REVISION = 0, 2, 0            # pjreddie's save_weights
FLAVOUR_VERSIONS = {"alexeyab": (0, 2, 5)}   # the fork's version.h; every other flavour: pjreddie's
FORK_WITHOUT_WEIGHTS = ("deconvolutional",)  # types the fork neither loads nor saves (it has no such layer)


def seen_is_64bit(major, minor):
    return major * 10 + minor >= 2 and major < 1000 and minor < 1000


def _takes_part(net, layer, skip_flag):
    if getattr(net, "flavour", None) == "alexeyab":
        if layer.type in FORK_WITHOUT_WEIGHTS:
            return False
        if skip_flag == "dontsave":             # the fork's save_weights_upto writes every layer
            return True
    return not getattr(layer, skip_flag, False)


def _layer_arrays(net, skip_flag):
    """[(layer, [arrays])] of the layers that take part, in file order."""
    return [(l, l.weight_arrays()) for l in net.layers if _takes_part(net, l, skip_flag)]


def header_to_write(net):
    """(major, minor, revision, seen) that ``save_weights`` writes (module docstring)."""
    flavour = getattr(net, "flavour", None)
    seen = int(net.seen)
    if flavour == "alexeyab":
        per_batch = net.batch * net.subdivisions
        seen -= seen % per_batch
    version = getattr(net, "weights_version", None)
    if version is None or (not seen_is_64bit(*version[:2]) and seen >= 2**31):
        version = FLAVOUR_VERSIONS.get(flavour, (MAJOR, MINOR, REVISION))
    return (*version, seen)


def pack_header(major, minor, revision, seen):
    if seen_is_64bit(major, minor):
        return struct.pack("<iiiQ", major, minor, revision, seen)
    return struct.pack("<iiii", major, minor, revision, seen)


def expected_size(net, header_bytes=20, skip_flag="dontload"):
    return header_bytes + sum(4 * a.size for _, arrays in _layer_arrays(net, skip_flag) for a in arrays)


def save_weights(net, path):
    """Write the network's parameters atomically (temp file, fsync, rename).

    Any failure (disk full, no such folder, interrupted) leaves the previous file as it was and no
    temporary file behind; an OSError becomes a WeightsError naming the file."""
    header = pack_header(*header_to_write(net))    # before the temp file exists

    def write(f):
        f.write(header)
        for _, arrays in _layer_arrays(net, "dontsave"):
            for a in arrays:
                f.write(np.ascontiguousarray(a, dtype="<f4").tobytes())
    try:
        atomic_write(path, write)
    except OSError as e:
        raise WeightsError(f"cannot write weights file: {e.strerror or e} (the previous file, if any, "
                           f"is unchanged)", os.fspath(path)) from None


def read_header(data, path):
    """(major, minor, revision, seen, header_bytes) or a WeightsError for a file too short or foreign."""
    if len(data) < 12:
        raise WeightsError(f"too short for a weights header: {len(data)} bytes, need at least 20", path)
    major, minor, revision = struct.unpack_from("<iii", data, 0)
    if not (0 <= major < 1000 and 0 <= minor < 1000 and revision >= 0):
        hint = " (it looks like a text file, maybe a .cfg)" if _looks_like_text(data) else ""
        raise WeightsError(f"not a Darknet weights file: header version {major}.{minor}.{revision}{hint}", path, 0)
    if seen_is_64bit(major, minor):
        if len(data) < 20:
            raise WeightsError(f"too short for a weights header: {len(data)} bytes, need 20", path)
        (seen,) = struct.unpack_from("<Q", data, 12)
        if seen >= 2**63:       # more images than an int64 counts: a corrupt header, not a real count
            raise WeightsError(f"bad header: seen={seen} does not fit a signed 64-bit count", path, 12)
        return major, minor, revision, seen, 20
    (seen,) = struct.unpack_from("<i", data, 12) if len(data) >= 16 else (0,)
    if len(data) < 16 or seen < 0:
        raise WeightsError("bad header: 'seen' does not fit", path, 12)
    return major, minor, revision, seen, 16


def _looks_like_text(data):
    head = data[:256]
    return all(32 <= b < 127 or b in (9, 10, 13) for b in head)


def load_weights(net, path):
    """Read a Darknet .weights file into the network: all or nothing."""
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            st = os.fstat(f.fileno())
            if not stat.S_ISREG(st.st_mode):        # a FIFO or /dev/zero would never end
                raise WeightsError("not a regular file", path)
            head = f.read(20)
            major, minor, revision, seen, offset = read_header(head, path)
            expected = expected_size(net, offset)
            if st.st_size != expected:              # decided before reading a (maybe huge) file
                _raise_size_mismatch(net, st.st_size, offset, expected, path)
            data = head + f.read(max(0, expected - len(head)))
    except OSError as e:
        raise WeightsError(f"cannot read weights file: {e.strerror or e}", path) from None
    staged = _stage(net, data, offset, path)
    if net.check_numerics:
        for layer, _, src, at in staged:
            if not np.isfinite(src).all():
                raise WeightsError(f"layer {layer.index} [{layer.type}] has NaN/Inf weights (check_numerics)",
                                   path, at)
    for _, dst, src, _ in staged:    # commit only once every array was read and checked
        dst[...] = src
    net.seen = int(seen)
    net.weights_version = (major, minor, revision)   # what save_weights writes back


def _stage(net, data, offset, path):
    """[(layer, destination array, values read, byte offset)] for every array, or WeightsError before anything is changed."""
    expected = expected_size(net, offset)
    if len(data) != expected:     # the file changed size while we read it
        _raise_size_mismatch(net, len(data), offset, expected, path)
    staged = []
    for layer, arrays in _layer_arrays(net, "dontload"):
        for a in arrays:
            values = np.frombuffer(data, dtype="<f4", count=a.size, offset=offset)
            staged.append((layer, a, values, offset))
            offset += 4 * a.size
    return staged


def _raise_size_mismatch(net, actual, offset, expected, path):
    if actual > expected:
        raise WeightsError(f"too long by {actual - expected} bytes: the network needs {expected} bytes, "
                           f"the file has {actual}", path, expected)
    first = None
    for layer, arrays in _layer_arrays(net, "dontload"):
        offset += 4 * sum(a.size for a in arrays)
        if offset > actual:
            first = layer
            break
    where = f"; layer {first.index} [{first.type}] is the first that does not fit" if first else ""
    raise WeightsError(f"too short by {expected - actual} bytes: the network needs {expected} bytes, "
                       f"the file has {actual}{where}", path, actual)
