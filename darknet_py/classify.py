"""Classifying images as Darknet's ``classifier predict`` does (examples/classifier.c predict_classifier).

load_image_color, letterbox_image to the network's input size (this Darknet letterboxes; older ones
resized), forward, then top_k of the output: the k largest, ties to the lower index.
"""
from dataclasses import dataclass

import numpy as np

from .detect import _input_shape, resolve_names
from .errors import DarknetError
from .image import letterbox_into, to_image


@dataclass(frozen=True)
class Prediction:
    cls: int
    name: object        # str from the names file, or None
    prob: float

    def as_dict(self):
        return {"class": self.cls, "name": self.name, "prob": float(str(np.float32(self.prob)))}

    def label(self):
        """Darknet's printed line: "%5.2f%%: name"."""
        prob = float(np.float32(self.prob) * np.float32(100))
        return f"{prob:5.2f}%: {self.name if self.name is not None else self.cls}"


def top_k(values, k):
    """Darknet's top_k: indexes of the k largest values, descending; among equal values the lower index first."""
    k = min(k, len(values))
    return list(np.argsort(-np.asarray(values, np.float64), kind="stable")[:k])


class Classifier:
    """A network whose output is one score per class, with Darknet's predict pipeline."""

    def __init__(self, net, top=5, names=None):
        c, self.net_h, self.net_w = _input_shape(net)
        self.net, self.top = net, int(top)
        self.classes = int(np.prod(net.out_shape))
        if self.top < 1:
            raise DarknetError(f"top must be at least 1, got {top}")
        self.names = resolve_names(names, self.classes, "outputs of the network")
        self.batch_input = np.zeros((net.batch, 3, self.net_h, self.net_w), net.dtype)   # (B, 3, H, W)

    def classify_images(self, images):
        """Top-k predictions for up to ``net.batch`` (3, h, w) images: one list per image."""
        assert len(images) <= self.net.batch
        for slot, im in enumerate(images):
            letterbox_into(im, self.batch_input[slot])
        out = self.net.forward(self.batch_input).reshape(self.net.batch, -1)
        return [[Prediction(int(i), self.names[i] if self.names else None, float(scores[i]))
                 for i in top_k(scores, self.top)] for scores in out[:len(images)]]


def classify(net, image, top=5, names=None):
    """Network.classify: the ``top`` Prediction records of one image (a path, a PIL image or an array)."""
    return Classifier(net, top, names).classify_images([to_image(image)])[0]


def classify_files(classifier, paths, on_result, on_error):
    """Classify every file, ``net.batch`` images per forward: ``on_result(path, (w, h), predictions,
    seconds)`` per image; returns the number of files that failed (``on_error(path, error)``)."""
    from .detect import process_files

    def report(path, im, predictions, seconds):
        on_result(path, (im.shape[2], im.shape[1]), predictions, seconds)
    return process_files(paths, classifier.net.batch, classifier.classify_images, report, on_error)
