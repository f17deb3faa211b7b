"""Darknet .cfg parsing with Darknet's semantics, made strict where Darknet is silent.

Darknet (src/parser.c read_cfg, src/option_list.c, src/utils.c strip) reads a cfg line by line, removes
every blank and tab from the line, then treats ``[...]`` as a section header, empty lines and lines
starting with ``#`` or ``;`` as comments, and everything else as ``key=value`` split at the first ``=``.
Option lookups walk from the front, so the FIRST of two equal keys wins. We keep all of that and add:
CRLF works, a comment after a value is stripped, a line that is not ``key=value`` or a key before any
section is an error (Darknet skips or crashes), values parse strictly (``filters=abc`` is an error where
``atoi`` gives 0), and duplicate or unused keys warn with their line.
"""
import math
import os
import re
import stat
import warnings
from dataclasses import dataclass, field

from .errors import CfgError, CfgWarning

_BLANKS = re.compile(r"[ \t\r\n\f\v]+")
_INT = re.compile(r"[+-]?[0-9]+\Z")            # ASCII digits only: int() would also take "\u0663"
_FLOAT = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?\Z")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")       # what editors count as lines (not \f, \v, \x1c.. like splitlines)
INT_MIN, INT_MAX = -2**31, 2**31 - 1             # Darknet reads every integer option into a C int
MAX_CFG_BYTES = 16 * 2**20                       # the largest Darknet cfg is ~30 KB; more is not a cfg
_REQUIRED = object()

_DATA = "data loading / augmentation of training images"
_LOOP = "the training loop (not a layer's or the update's arithmetic)"
_GPU = "GPU memory / speed"
# Keys a Darknet reads that cannot change this network's shapes or numbers (forward, backward, update):
# accepted with a one-line CfgWarning saying so. Per section type; ONLY keys for which that is true
# (a key that changes numbers is implemented by its layer or refused with a CfgError).
NO_EFFECT_KEYS = {
    "net": {
        "flip": _DATA, "blur": _DATA, "gaussian_noise": _DATA, "mixup": _DATA, "cutmix": _DATA,
        "mosaic": _DATA, "mosaic_bound": _DATA, "letter_box": _DATA, "contrastive": _DATA,
        "contrastive_jit_flip": _DATA, "contrastive_color": _DATA, "unsupervised": _DATA,
        "label_smooth_eps": _DATA + " (class labels of classifier data)", "resize_step": _DATA,
        "track": _DATA + " (sequential video frames)", "augment_speed": _DATA,
        "adversarial_lr": _DATA + " (adversarial input perturbation)",
        "equidistant_point": _DATA, "badlabels_rejection_percentage": _DATA,
        "num_sigmas_reject_badlabels": _DATA, "weights_reject_freq": _LOOP,
        "try_fix_nan": _LOOP, "ema_alpha": _LOOP + ": an averaged copy of the weights it saves separately",
        "max_chart_loss": _LOOP + " (the loss chart)", "attention": _LOOP + " (visualisation)",
        "sequential_subdivisions": _LOOP, "dynamic_minibatch": _LOOP + " / " + _GPU,
        "optimized_memory": _GPU, "workspace_size_limit_MB": _GPU, "use_cuda_graph": _GPU,
        "loss_scale": _GPU + " (mixed-precision loss scaling)",
    },
    "convolutional": {
        "bin_output": "bit-packed outputs of an xnor conv, used only by the fork's optional AVX inference "
                      "path (calculate_binary_weights); its network forward and training ignore it",
        "dot": "read by both Darknets but never used (their dot_error_gpu call is commented out)",
        "stream": _GPU + " (CUDA stream of the layer)", "wait_stream": _GPU + " (CUDA stream of the layer)",
    },
}
NO_EFFECT_KEYS["network"] = NO_EFFECT_KEYS["net"]
NO_EFFECT_KEYS["conv"] = NO_EFFECT_KEYS["convolutional"]


@dataclass
class Section:
    """One ``[type]`` block: its type, the line of its header and its options in file order."""

    type: str
    line: int
    options: dict = field(default_factory=dict)   # key -> (value, line); first value wins
    path: str = "<cfg>"

    def items(self):
        """[(key, value)] in file order, without line numbers (what a round trip must preserve)."""
        return [(k, v) for k, (v, _) in self.options.items()]


def read_cfg(path):
    """Read and parse a cfg file; a file that is not text is a CfgError, not a crash."""
    path = str(path)
    try:
        with open(path, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):   # a FIFO or /dev/zero would never end
                raise CfgError("not a regular file", path)
            data = f.read(MAX_CFG_BYTES + 1)
    except OSError as e:
        raise CfgError(f"cannot read cfg file: {e.strerror or e}", path) from None
    if len(data) > MAX_CFG_BYTES:
        raise CfgError(f"too large for a cfg file (over {MAX_CFG_BYTES // 2**20} MiB); is this a .weights file?", path)
    return parse_cfg(decode_cfg(data, path), path)


def decode_cfg(data, path):
    if b"\0" in data:
        raise CfgError("not a text file (it contains NUL bytes); is this a .weights or image file?", path)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise CfgError(f"not a UTF-8 text file (undecodable byte at offset {e.start})", path, line) from None


def parse_cfg(text, path="<cfg>"):
    """Parse cfg text into [Section]. The first section must be [net] or [network]."""
    sections = []
    for lineno, raw in enumerate(_LINE_BREAK.split(text), start=1):
        line = _BLANKS.sub("", _strip_comment(raw))
        if not line:
            continue
        if line.startswith("["):
            sections.append(_parse_header(line, lineno, path))
        else:
            _parse_option(line, lineno, path, sections)
    if not sections:
        raise CfgError("empty cfg: no sections (a cfg starts with [net])", path, 1)
    if sections[0].type not in ("net", "network"):
        raise CfgError(f"the first section must be [net] or [network], not [{sections[0].type}]",
                       path, sections[0].line, sections[0].type)
    return sections


def _strip_comment(raw):
    """Drop a whole-line comment, and (unlike Darknet) a '#'/';' comment after a value."""
    cut = min((i for i in (raw.find("#"), raw.find(";")) if i >= 0), default=len(raw))
    return raw[:cut]


def _parse_header(line, lineno, path):
    if not line.endswith("]") or len(line) < 3 or "]" in line[1:-1] or "[" in line[1:]:
        raise CfgError(f"malformed section header '{line}' (expected [name])", path, lineno)
    return Section(line[1:-1], lineno, {}, path)


def _parse_option(line, lineno, path, sections):
    if not sections:
        raise CfgError(f"option '{line}' before any [section]", path, lineno)
    section = sections[-1]
    key, eq, value = line.partition("=")
    if not eq or not key:
        raise CfgError(f"expected key=value, got '{line}'", path, lineno, section.type)
    if key in section.options:
        first = section.options[key][1]
        warn(f"duplicate key '{key}' (first at line {first}); keeping the first value, as Darknet does",
             path, lineno, section.type)
        return
    section.options[key] = (value, lineno)


def warn(message, path, line, section=None):
    """A CfgWarning reported at the cfg's own file and line (not at this Python file). The warning
    carries ``path`` and ``line``, so a warning turned into an error (``--strict``) still says where."""
    text = f"[{section}] {message}" if section else message
    warning = CfgWarning(text)
    warning.path, warning.line = str(path), line or 0
    warnings.warn_explicit(warning, CfgWarning, str(path), line or 0)


def reject_unsupported(opts, table):
    """CfgError at the first key of ``table`` (key -> (what it does, its "off" value or None when every
    value is on)) that ``opts`` turns on: Darknet options that change shapes or numbers and that
    darknet_py does not implement."""
    for key, (what, off) in table.items():
        if opts.has(key) and opts.raw(key) != off:
            raise opts.error(f"{key}={opts.raw(key)} ({what}) is not supported by darknet_py; it would change "
                             f"the network's numbers, so it is refused rather than ignored", key)


def render_cfg(sections):
    """Sections back to cfg text (used by tests and by tools that edit cfgs)."""
    out = []
    for s in sections:
        out.append(f"[{s.type}]")
        out.extend(f"{k}={v}" for k, v in s.items())
        out.append("")
    return "\n".join(out)


class Options:
    """Typed, strict getters over one Section that remember which keys were read.

    Every getter raises CfgError at the key's own line (the header's line when a required key is
    missing). ``unused()`` lists the keys nobody read, which Darknet reports as "Unused field".
    """

    def __init__(self, section):
        self.section = section
        self.used = set()

    @property
    def type(self):
        return self.section.type

    def error(self, message, key=None):
        """A CfgError at ``key``'s line if it is present, else at the section header."""
        line = self.section.options[key][1] if key in self.section.options else self.section.line
        return CfgError(message, self.section.path, line, self.section.type)

    def has(self, key):
        return key in self.section.options

    def raw(self, key, default=_REQUIRED):
        self.used.add(key)
        if key in self.section.options:
            return self.section.options[key][0]
        if default is _REQUIRED:
            raise self.error(f"missing required option '{key}'")
        return default

    def str(self, key, default=_REQUIRED, choices=None):
        value = self.raw(key, default)
        if choices is not None and value not in choices:
            raise self.error(f"{key}={value} is not one of: {', '.join(choices)}", key)
        return value

    def int(self, key, default=_REQUIRED, min=None, max=None):
        value = self.raw(key, default)
        if isinstance(value, str):
            if not _INT.match(value):
                raise self.error(f"{key}={value} is not an integer", key)
            if len(value) > 12 or not INT_MIN <= int(value) <= INT_MAX:   # int() refuses > 4300 digits
                raise self.error(f"{key}={value} does not fit a 32-bit integer (as in Darknet)", key)
            value = int(value)
        return self._check_range(key, value, min, max)

    def float(self, key, default=_REQUIRED, min=None, max=None):
        value = self.raw(key, default)
        if isinstance(value, str):
            if not _FLOAT.match(value):
                raise self.error(f"{key}={value} is not a number", key)
            if not math.isfinite(float(value)):                 # 1e999 parses as inf
                raise self.error(f"{key}={value} is too large (not a finite number)", key)
            value = float(value)
        return self._check_range(key, value, min, max)

    def flag(self, key, default=0):
        """Darknet's 0/1 switches (batch_normalize=1): any integer, non-zero is true."""
        return self.int(key, default) != 0

    def int_list(self, key, default=_REQUIRED):
        return self._list(key, default, _INT, int, "integers")

    def float_list(self, key, default=_REQUIRED):
        return self._list(key, default, _FLOAT, float, "numbers")

    def _list(self, key, default, pattern, convert, what):
        value = self.raw(key, default)
        if not isinstance(value, str):
            return value
        items = [v for v in value.split(",")]
        if items and items[-1] == "":          # Darknet tolerates a trailing comma
            items.pop()
        if not items or not all(pattern.match(v) for v in items):
            raise self.error(f"{key}={value} is not a comma-separated list of {what}", key)
        values = [convert(v) if len(v) <= 12 or convert is float else INT_MAX + 1 for v in items]
        if convert is int and not all(INT_MIN <= v <= INT_MAX for v in values):
            raise self.error(f"{key}={value} has a value that does not fit a 32-bit integer", key)
        if convert is float and not all(math.isfinite(v) for v in values):
            raise self.error(f"{key}={value} has a value too large (not a finite number)", key)
        return values

    def _check_range(self, key, value, lo, hi):
        if lo is not None and value < lo:
            raise self.error(f"{key}={value} must be >= {lo}", key)
        if hi is not None and value > hi:
            raise self.error(f"{key}={value} must be <= {hi}", key)
        return value

    def unused(self):
        """[(key, line)] of the options no getter asked for."""
        return [(k, line) for k, (_, line) in self.section.options.items() if k not in self.used]

    def warn_unused(self):
        no_effect = NO_EFFECT_KEYS.get(self.section.type, {})
        for key, line in self.unused():
            value = self.section.options[key][0]
            if key in no_effect:
                message = f"'{key}={value}' has no effect here: {no_effect[key]}"
            else:
                message = f"unused field '{key}={value}' (Darknet ignores it too)"
            warn(message, self.section.path, line, self.section.type)
