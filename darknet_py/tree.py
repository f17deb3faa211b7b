"""Darknet's class hierarchies (tree.c): the ``tree=`` files of [softmax] and [region] (yolo9000's 9k.tree).

A tree file has one line per class, ``name parent_index`` (-1 for a root), siblings on consecutive
lines. Darknet's read_tree starts a new group each time the parent index changes from the line
before; each group is one softmax (layers/softmax.py). ``child[i]`` is the group of i's children
(-1 for a leaf).

``hierarchy_predictions`` turns the per-group conditional probabilities into absolute ones
(P(class) = P(class | parent) * P(parent), in file order, parents first), optionally keeping only the
leaves (Darknet's classifier does so before ranking); ``hierarchy_top_prediction`` walks down from
the root group while the product stays above a threshold (Darknet's detector on yolo9000).
"""
import os
from dataclasses import dataclass, field

import numpy as np

from .errors import CfgError

SECRET_NUM = -1234.0     # Darknet's data loader marks the truths of groups without a label with it


@dataclass
class Tree:
    name: list = field(default_factory=list)          # class names (WordNet ids in 9k.tree)
    parent: np.ndarray = None                         # (n,) parent index, -1 for a root
    child: np.ndarray = None                          # (n,) group of the children, -1 for a leaf
    group: np.ndarray = None                          # (n,) the group each class belongs to
    group_offset: np.ndarray = None                   # (groups,) first class of each group
    group_size: np.ndarray = None                     # (groups,) classes in each group
    leaf: np.ndarray = None                           # (n,) 1 for classes without children

    @property
    def n(self):
        return len(self.name)

    @property
    def groups(self):
        return len(self.group_size)


def parse_tree(text, path="<tree>"):
    """A Tree from the text of a tree file, or a CfgError naming the file and line."""
    names, parents = [], []
    for lineno, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        try:
            parent = int(fields[1]) if len(fields) > 1 else -1
        except ValueError:
            raise CfgError(f"tree file line '{line.strip()}': the parent is not an integer", path, lineno) from None
        if not -1 <= parent < len(names):
            raise CfgError(f"tree file: class {len(names)} ({fields[0]}) has parent {parent}, which is not an "
                           f"earlier line", path, lineno)
        names.append(fields[0])
        parents.append(parent)
    if not names:
        raise CfgError("tree file has no classes", path, 1)
    return _build(names, parents)


def _build(names, parents):
    """Darknet's read_tree grouping: a group ends where the parent index changes."""
    n = len(names)
    group = np.zeros(n, np.int64)
    child = np.full(n, -1, np.int64)
    offsets, sizes = [0], [0]
    for i, parent in enumerate(parents):
        if i > 0 and parent != parents[i - 1]:
            offsets.append(i)
            sizes.append(0)
        group[i] = len(offsets) - 1
        sizes[-1] += 1
        if parent >= 0:
            child[parent] = group[i]
    leaf = np.ones(n, np.int64)
    for parent in parents:
        if parent >= 0:
            leaf[parent] = 0
    return Tree(list(names), np.array(parents, np.int64), child, group, np.array(offsets, np.int64),
                np.array(sizes, np.int64), leaf)


def read_tree(value, cfg_path=None, opts=None, key="tree"):
    """Read the tree file a cfg names. Like Darknet the path is tried as given (relative to the
    working directory), then relative to the cfg's folder and to that folder's parent (Darknet's cfgs
    say ``tree=data/9k.tree`` from the root of its checkout, one level above cfg/)."""
    return _read_beside_cfg(value, cfg_path, opts, key, "tree", parse_tree)


def parse_class_map(text, path="<map>"):
    """A ``map=`` file (Darknet's read_map): one class index per line -> [int]."""
    indices = []
    for lineno, line in enumerate(text.splitlines(), 1):
        try:
            indices.append(int(line.strip()))
        except ValueError:
            raise CfgError(f"map file line '{line.strip()}' is not a class index", path, lineno) from None
    return indices


def read_class_map(value, cfg_path=None, opts=None, key="map"):
    """Read the ``map=`` file of a [region] / [yolo] section, found like ``read_tree``'s file."""
    return _read_beside_cfg(value, cfg_path, opts, key, "map", parse_class_map)


def _read_beside_cfg(value, cfg_path, opts, key, what, parse):
    candidates = [value]
    if cfg_path and not os.path.isabs(value):
        folder = os.path.dirname(os.path.abspath(str(cfg_path)))
        candidates += [os.path.join(folder, value), os.path.join(os.path.dirname(folder), value)]
    for candidate in candidates:
        if os.path.isfile(candidate):
            try:
                with open(candidate, encoding="utf-8") as f:
                    return parse(f.read(), candidate)
            except (OSError, UnicodeDecodeError) as e:
                message = f"cannot read {what} file {candidate}: {e}"
                raise (opts.error(message, key) if opts else CfgError(message)) from None
    message = f"{what} file {value} not found (tried {', '.join(candidates)})"
    raise opts.error(message, key) if opts else CfgError(message)


def hierarchy_predictions(predictions, tree, only_leaves=False, stride=1):
    """In place: P(class) = P(class | parent) * P(parent) for every class (parents come first in the
    file, so one pass suffices); with ``only_leaves`` the inner classes are set to 0.

    ``predictions``: flat, class j at ``j*stride``; or (classes, k) with stride 1, k sets at once
    (a [region] head's cells)."""
    p = predictions if predictions.ndim == 2 and stride == 1 else predictions.reshape(-1)
    for j in range(tree.n):
        parent = tree.parent[j]
        if parent >= 0:
            p[j * stride] *= p[parent * stride]
    if only_leaves:
        for j in np.flatnonzero(tree.leaf == 0):
            p[j * stride] = 0.0
    return predictions


def hierarchy_probability(x, tree, c, stride=1):
    """P(class c) from conditional probabilities: the product along its path to the root."""
    p = 1.0
    while c >= 0:
        p *= x[c * stride]
        c = tree.parent[c]
    return p


def hierarchy_top_prediction(predictions, tree, thresh, stride=1):
    """Darknet's hierarchy_top_prediction: from the root group, follow the most probable class while
    the path probability stays above ``thresh``; returns the deepest class reached (or its parent)."""
    p, group = 1.0, 0
    while True:
        best_value, best_index = 0.0, 0          # Darknet's start values, kept for all-zero groups
        offset = tree.group_offset[group]
        for i in range(offset, offset + tree.group_size[group]):
            if predictions[i * stride] > best_value:
                best_value, best_index = predictions[i * stride], i
        if p * best_value > thresh:
            p *= best_value
            group = tree.child[best_index]
            if group < 0:
                return best_index
        elif group == 0:
            return best_index
        else:
            return int(tree.parent[tree.group_offset[group]])
