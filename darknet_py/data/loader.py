"""Training batches from a list of images, as Darknet's load_data_detection / load_data_augment, decoded
and augmented in a thread pool while the network trains (numpy and Pillow release the GIL).

A batch is a pure function of (seed, iteration): which images (drawn with replacement, as
get_random_paths) and every random augmentation come from generators seeded with (seed, iteration,
image slot). So a run resumed at iteration k sees exactly the batches an uninterrupted run would.

An image that cannot be decoded mid-run is replaced by a grey image with no boxes and a warning that
names it, so a long run never dies on one bad file.
"""
import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from . import augment as aug
from .files import (DataError, DataWarning, check_classifier_paths, check_images, classes_from_path,
                    label_path, read_labels)

DETECTION_LAYERS = ("yolo", "region", "detection")


@dataclass
class Augmentation:
    """The [net] / last-layer keys Darknet's loaders read; ``off()`` is --no-augment."""

    jitter: float = 0.0
    hue: float = 0.0
    saturation: float = 1.0
    exposure: float = 1.0
    flip: bool = True
    angle: float = 0.0
    aspect: float = 1.0
    min_crop: int = 0
    max_crop: int = 0
    enabled: bool = True

    @classmethod
    def from_network(cls, net):
        a = net.config.augmentation
        last = net.layers[-1]
        jitter = 0.2
        if last.type in DETECTION_LAYERS and last.section is not None:
            from ..cfg import Options                 # [yolo]/[region] jitter= (read, unused, by the layer)
            jitter = Options(last.section).float("jitter", 0.2)
        w = net.input_shape[-1]
        # Darknet's load_thread turns exposure/saturation/aspect = 0 into 1
        return cls(jitter=jitter, hue=a.get("hue", 0.0), saturation=a.get("saturation", 1.0) or 1.0,
                   exposure=a.get("exposure", 1.0) or 1.0, flip=bool(a.get("flip", 1)),
                   angle=a.get("angle", 0.0), aspect=a.get("aspect", 1.0) or 1.0,
                   min_crop=int(a.get("min_ratio", 1.0) * w), max_crop=int(a.get("max_ratio", 2.0) * w))

    def off(self):
        return Augmentation(enabled=False, min_crop=self.min_crop, max_crop=self.max_crop)


class BatchSource:
    """Images + truth of one iteration; ``detection`` picks load_data_detection's or the classifier's
    pipeline (truth: max_boxes x (x, y, w, h, class), or one-hot labels from the path)."""

    def __init__(self, items, list_path, net, names, classes, augmentation, seed=0, workers=None, size_of=None,
                 rank=0, ranks=1):
        check_images(items, list_path)
        self.paths = [p for p, _ in items]
        self.channels, self.h, self.w = net.input_shape
        self.per_iteration = net.batch * net.subdivisions     # images this process trains on per iteration
        # data-parallel training: the iteration's global batch holds ranks * per_iteration images, drawn
        # as one batch of that size would be; this process takes the slots rank*per .. (rank+1)*per - 1
        self.rank, self.ranks = rank, ranks
        self.truths = net.truths
        # boxes kept per image: the detection layer's max= (Darknet's num_boxes), at most what fits
        self.max_boxes = min(getattr(net.layers[-1], "max_boxes", self.truths // 5), self.truths // 5)
        self.detection = net.layers[-1].type in DETECTION_LAYERS
        self.classes = classes
        self.names = names
        self.augmentation = augmentation
        self.seed = int(seed)
        self.size_of = size_of or (lambda iteration: (self.w, self.h))   # multi-scale: (w, h) per iteration
        if self.detection:
            self.labels = [read_labels(label_path(p), classes) for p in self.paths]   # errors now, not mid-run
        else:
            check_classifier_paths(items, names, list_path)
        self.pool = ThreadPoolExecutor(max_workers=workers or min(8, os.cpu_count() or 1))
        self.pending = {}

    # ------------------------------------------------------------------ batches
    def batch(self, iteration):
        """(x, truth) of ``iteration``: (batch*subdivisions, c, h, w) float32 and (rows, truths)."""
        future = self.pending.pop(iteration, None) or self._submit(iteration)
        self.prefetch(iteration + 1)
        return future.result()

    def prefetch(self, iteration):
        if iteration not in self.pending:
            self.pending = {iteration: self._submit(iteration)}   # at most one batch ahead

    def _submit(self, iteration):
        per = self.per_iteration
        picks = np.random.default_rng([self.seed, iteration]).integers(0, len(self.paths), per * self.ranks)
        w, h = self.size_of(iteration)
        mine = range(self.rank * per, (self.rank + 1) * per)
        jobs = [self.pool.submit(self._one, int(picks[slot]), np.random.default_rng([self.seed, iteration, slot]),
                                 w, h) for slot in mine]
        return _Batch(jobs, self.channels, h, w, self.truths)

    def close(self):
        self.pool.shutdown(wait=True, cancel_futures=True)

    # ------------------------------------------------------------------ one image
    def _one(self, index, rng, w, h):
        path = self.paths[index]
        try:
            im = aug.load_image(path, self.channels)
        except DataError as e:
            warnings.warn(DataWarning(f"{e}; a grey image with no boxes takes its place"), stacklevel=2)
            return np.full((self.channels, h, w), 0.5, np.float32), np.zeros(self.truths, np.float32)
        if self.detection:
            return self._detection_item(im, self.labels[index], rng, w, h)
        return self._classifier_item(im, path, rng, w)

    def _detection_item(self, im, boxes, rng, w, h):
        """load_data_detection: jittered aspect, random placement on grey, HSV distortion, flip."""
        a = self.augmentation
        oh, ow = im.shape[1:]
        if a.enabled:
            dw, dh = a.jitter * ow, a.jitter * oh
            new_ar = (ow + aug.rand_uniform(rng, -dw, dw)) / (oh + aug.rand_uniform(rng, -dh, dh))
        else:
            new_ar = ow / oh
        nw, nh = (h * new_ar, h) if new_ar < 1 else (w, w / new_ar)
        if a.enabled:
            dx, dy = aug.rand_uniform(rng, 0, w - nw), aug.rand_uniform(rng, 0, h - nh)
        else:
            dx, dy = (w - nw) / 2, (h - nh) / 2
        sized = np.full((self.channels, h, w), 0.5, np.float32)
        aug.place_image(im, int(nw), int(nh), int(dx), int(dy), sized)
        flip = False
        if a.enabled:
            sized = aug.random_distort_image(sized, rng, a.hue, a.saturation, a.exposure)
            flip = a.flip and bool(rng.integers(2))
            if flip:
                sized = aug.flip_image(sized)
        truth = np.zeros(self.truths, np.float32)       # (truths,): max_boxes rows, the rest zero
        truth[:self.max_boxes * 5] = fill_truth_detection(boxes, self.max_boxes, flip, -dx / w, -dy / h,
                                                          nw / w, nh / h, rng if a.enabled else None)
        return sized, truth

    def _classifier_item(self, im, path, rng, size):       # square crops, as Darknet's classifier
        """load_data_augment: random rotated/scaled crop, flip, HSV distortion; labels from the path."""
        a = self.augmentation
        if a.enabled:
            crop = aug.random_augment_image(im, rng, a.angle, a.aspect, a.min_crop, a.max_crop, size)
            if a.flip and rng.integers(2):
                crop = aug.flip_image(crop)
            crop = aug.random_distort_image(crop, rng, a.hue, a.saturation, a.exposure)
        else:
            crop = aug.center_crop(im, size)
        return crop, one_hot_from_path(path, self.names, self.truths)


class _Batch:
    """The per-image futures of one iteration, stacked on ``result()``."""

    def __init__(self, jobs, c, h, w, truths):
        self.jobs, self.shape, self.truths = jobs, (c, h, w), truths

    def result(self):
        x = np.empty((len(self.jobs),) + self.shape, np.float32)
        truth = np.zeros((len(self.jobs), self.truths), np.float32)
        for i, job in enumerate(self.jobs):
            x[i], truth[i] = job.result()
        return x, truth


def fill_truth_detection(boxes, max_boxes, flip, dx, dy, sx, sy, rng=None):
    """fill_truth_detection on (n, 5) rows (class, x, y, w, h): shuffled (randomize_boxes, when
    ``rng``), moved into the placed image (correct_boxes), clipped, the first ``max_boxes`` kept,
    boxes thinner than .001 dropped. Returns the flat (max_boxes*5,) truth (x, y, w, h, class)."""
    truth = np.zeros(max_boxes * 5, np.float32)
    boxes = np.array(boxes, np.float32)           # a copy: the shuffle must not touch the cached labels
    if rng is not None and len(boxes):
        for i in range(len(boxes)):                     # randomize_boxes: swap each with a random one
            j = int(rng.integers(len(boxes)))
            boxes[[i, j]] = boxes[[j, i]]
    boxes = boxes[:max_boxes]
    x, y, w, h = boxes[:, 1], boxes[:, 2], boxes[:, 3], boxes[:, 4]
    f = np.float32
    left, right = (x - w / 2) * f(sx) - f(dx), (x + w / 2) * f(sx) - f(dx)
    top, bottom = (y - h / 2) * f(sy) - f(dy), (y + h / 2) * f(sy) - f(dy)
    if flip:
        left, right = 1 - right, 1 - left
    left, right, top, bottom = (np.clip(v, 0, 1) for v in (left, right, top, bottom))
    bw, bh = np.clip(right - left, 0, 1), np.clip(bottom - top, 0, 1)
    keep = (bw >= .001) & (bh >= .001)
    rows = np.stack([(left + right) / 2, (top + bottom) / 2, bw, bh, boxes[:, 0]], axis=1)[keep]
    truth[:rows.size] = rows.ravel()
    return truth


def one_hot_from_path(path, names, size):
    """fill_truth: 1 for every class whose name is in the path."""
    truth = np.zeros(size, np.float32)
    truth[[i for i in classes_from_path(path, names) if i < size]] = 1
    return truth
