"""Darknet's dataset files: the .data file, list files of image paths, .names, YOLO label files.

Read as Darknet reads them (read_data_cfg, get_paths, get_labels, fill_truth_detection, fill_truth)
with three differences, each to turn a silent failure into a message:

* a relative path that does not exist from the working directory (where Darknet looks) is taken
  relative to the folder of the file that names it (a dataset folder works from anywhere);
* a label line that is not ``class x y w h`` or names a class >= classes is an error naming the
  label file and line (Darknet's fscanf stops reading the file there without a word);
* blank lines in list files are skipped (Darknet would try to open an image called "").
"""
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DarknetError


class DataError(DarknetError):
    """A problem in a dataset file, tied to its place: ``train.txt:14: message``."""

    def __init__(self, message, path=None, line=None):
        self.message, self.path, self.line = message, path, line
        super().__init__(str(self))

    def __str__(self):
        place = str(self.path or "<data>") + (f":{self.line}" if self.line is not None else "")
        return f"{place}: {self.message}"


class DataWarning(UserWarning):
    """Something in a dataset Darknet would accept or crash on later; training goes on without it."""


@dataclass
class DataConfig:
    """A .data file: the keys Darknet's train/valid/map verbs read."""

    path: Path
    classes: int
    train: Path
    valid: Path
    names: list          # class names (``names=`` or ``labels=``), in class order
    backup: Path


def _data_lines(path):
    """[(key, value, line)] of a .data file, as read_data_cfg: whitespace removed, # and ; comments."""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        raise DataError(f"cannot read data file: {e.strerror or e}", path) from None
    out = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = "".join(raw.split())               # Darknet's strip() removes every space and tab
        if not line or line[0] in "#;":
            continue
        if "=" not in line or line.endswith("="):
            raise DataError(f"expected key=value, got {raw.strip()!r}", path, number)
        key, value = line.split("=", 1)
        out.append((key, value, number))
    return out


def resolve(name, relative_to):
    """``name`` as Darknet opens it (relative to the working directory) if it exists there, else
    beside the file ``relative_to`` that names it (where a missing file is then reported)."""
    p = Path(name)
    if p.is_absolute() or p.exists():
        return p
    return Path(relative_to).parent / p


def read_data_cfg(path):
    """The DataConfig of a .data file; names must exist, train/valid are checked when read."""
    path = Path(path)
    options = {}
    for key, value, line in _data_lines(path):
        options.setdefault(key, (value, line))    # the first value wins, as option_find
    def get(key, default):
        return options[key][0] if key in options else default
    classes_text = get("classes", "2")
    try:
        classes = int(classes_text)
    except ValueError:
        raise DataError(f"classes={classes_text} is not an integer", path, options["classes"][1]) from None
    if classes < 1:
        raise DataError(f"classes={classes} must be >= 1", path, options.get("classes", (0, None))[1])
    names_key = "names" if "names" in options else "labels"
    names = []
    if names_key in options:
        names = read_names(resolve(options[names_key][0], path))
        if len(names) < classes:
            raise DataError(f"{names_key} file has {len(names)} names but classes={classes}", path,
                            options[names_key][1])
    train = resolve(get("train", "data/train.list"), path)
    valid = resolve(get("valid", get("train", "data/train.list")), path)
    return DataConfig(path, classes, train, valid, names[:classes] or [str(i) for i in range(classes)],
                      resolve(get("backup", "backup"), path))


def read_names(path):
    """Class names, one a line (get_labels); surrounding whitespace dropped, blank lines skipped."""
    try:
        return [l.strip() for l in Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
                if l.strip()]
    except OSError as e:
        raise DataError(f"cannot read names file: {e.strerror or e}", path) from None


def read_list(path):
    """[(image path, line)] of a list file; an empty list is an error."""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        raise DataError(f"cannot read image list: {e.strerror or e}", path) from None
    items = [(resolve(l.strip(), path), n) for n, l in enumerate(text.splitlines(), 1) if l.strip()]
    if not items:
        raise DataError("the image list is empty", path)
    return items


def check_images(items, list_path):
    """A DataError naming the list file and line of the first images that do not exist."""
    missing = [(p, n) for p, n in items if not os.path.isfile(p)]
    if missing:
        first = ", ".join(f"line {n}: {p}" for p, n in missing[:3])
        more = f" (and {len(missing) - 3} more)" if len(missing) > 3 else ""
        raise DataError(f"{len(missing)} of {len(items)} images do not exist: {first}{more}", list_path)


_DIRS = (("images", "labels"), ("JPEGImages", "labels"), ("raw", "labels"))


def label_path(image_path):
    """Where Darknet looks for an image's boxes: the first 'images', 'JPEGImages' and 'raw' in the
    path each become 'labels' (find_replace), and the extension becomes .txt."""
    s = str(image_path)
    for old, new in _DIRS:
        s = s.replace(old, new, 1)
    return Path(s).with_suffix(".txt")


def read_labels(path, classes):
    """(n, 5) float32 rows (class, x, y, w, h) of a YOLO label file; a missing file is no boxes
    (with a warning); a malformed line is a DataError naming the file and line."""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        warnings.warn(DataWarning(f"{path}: no label file; the image is trained as background "
                                  f"(Darknet stops with 'Couldn't open file')"), stacklevel=2)
        return np.zeros((0, 5), np.float32)
    except OSError as e:
        raise DataError(f"cannot read label file: {e.strerror or e}", path) from None
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        rows.append(_label_row(fields, classes, path, number))
    return np.array(rows, np.float32).reshape(-1, 5)


def _label_row(fields, classes, path, number):
    if len(fields) != 5:
        raise DataError(f"expected 'class x y w h' (5 values), got {len(fields)}: {' '.join(fields)!r}",
                        path, number)
    try:
        cls = int(fields[0])
        x, y, w, h = (float(v) for v in fields[1:])
    except ValueError:
        raise DataError(f"expected 'class x y w h' (an integer and four numbers), got "
                        f"{' '.join(fields)!r}", path, number) from None
    if not 0 <= cls < classes:
        raise DataError(f"class {cls} is not in 0..{classes - 1} (classes={classes})", path, number)
    if not all(np.isfinite(v) for v in (x, y, w, h)) or w < 0 or h < 0:
        raise DataError(f"box {x} {y} {w} {h} is not a finite box with w, h >= 0", path, number)
    return (cls, x, y, w, h)


def classes_from_path(path, names):
    """Darknet's classifier truth (fill_truth): every class whose name is a substring of the path."""
    s = str(path)
    return [i for i, name in enumerate(names) if name in s]


def check_classifier_paths(items, names, list_path):
    """Warn once, naming the list file and lines, where a path matches no class name or several."""
    bad = [(n, p, len(classes_from_path(p, names))) for p, n in items if len(classes_from_path(p, names)) != 1]
    if bad:
        first = ", ".join(f"line {n}: {count} labels" for n, _, count in bad[:3])
        warnings.warn(DataWarning(f"{list_path}: {len(bad)} image paths do not contain exactly one class "
                                  f"name ({first}); Darknet prints 'Too many or too few labels'"), stacklevel=2)
