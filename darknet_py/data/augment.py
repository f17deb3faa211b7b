"""Image decoding and Darknet's training augmentations, vectorised with numpy on CHW float32 images.

Each function reproduces one of Darknet's image.c routines (place_image, rotate_crop_image,
random_augment_args, distort_image with its HSV conversion, flip_image); the random draws come
from a numpy Generator the caller seeds, so a batch is a function of (seed, iteration).
"""
import math

import numpy as np

from .files import DataError

F32 = np.float32


def load_image(path, channels=3):
    """(channels, h, w) float32 in [0, 1], as load_image_color (8-bit values / 255.); decoded by Pillow."""
    from PIL import Image, UnidentifiedImageError
    try:
        with Image.open(path) as im:
            im = im.convert("RGB" if channels == 3 else "L")
            a = np.asarray(im, dtype=np.float64)
    except (OSError, UnidentifiedImageError, ValueError) as e:
        raise DataError(f"cannot decode image: {e}", path) from None
    a = (a / 255.0).astype(np.float32)
    return a.transpose(2, 0, 1).copy() if a.ndim == 3 else a[None].copy()


def bilinear_sample(im, rx, ry):
    """Darknet's bilinear_interpolate at float coordinates rx, ry (same shape), pixels outside the
    image count as 0 (get_pixel_extend). Returns (c,) + rx.shape."""
    c, h, w = im.shape
    padded = np.zeros((c, h + 2, w + 2), np.float32)
    padded[:, 1:-1, 1:-1] = im
    ix, iy = np.floor(rx), np.floor(ry)
    dx, dy = (rx - ix).astype(F32), (ry - iy).astype(F32)
    x0 = np.clip(ix, -1, w).astype(np.int64) + 1
    y0 = np.clip(iy, -1, h).astype(np.int64) + 1
    x1 = np.clip(ix + 1, -1, w).astype(np.int64) + 1
    y1 = np.clip(iy + 1, -1, h).astype(np.int64) + 1
    return ((1 - dy) * (1 - dx) * padded[:, y0, x0] + dy * (1 - dx) * padded[:, y1, x0]
            + (1 - dy) * dx * padded[:, y0, x1] + dy * dx * padded[:, y1, x1])


def place_image(im, w, h, dx, dy, canvas):
    """place_image: ``im`` scaled to w x h (integers) drawn into ``canvas`` at integer (dx, dy)."""
    xs = (np.arange(w, dtype=F32) / F32(w)) * F32(im.shape[2])
    ys = (np.arange(h, dtype=F32) / F32(h)) * F32(im.shape[1])
    rx, ry = np.meshgrid(xs, ys)
    patch = bilinear_sample(im, rx, ry)
    ch, cw = canvas.shape[1:]
    x0, y0 = max(dx, 0), max(dy, 0)                 # set_pixel drops what falls outside the canvas
    x1, y1 = min(dx + w, cw), min(dy + h, ch)
    if x1 > x0 and y1 > y0:
        canvas[:, y0:y1, x0:x1] = patch[:, y0 - dy:y1 - dy, x0 - dx:x1 - dx]
    return canvas


def rotate_crop_image(im, rad, s, w, h, dx, dy, aspect):
    """rotate_crop_image: a w x h view of ``im`` rotated by ``rad``, scaled by ``s``, shifted by (dx, dy)."""
    cx, cy = im.shape[2] / 2.0, im.shape[1] / 2.0
    x = np.arange(w, dtype=np.float64)[None, :]
    y = np.arange(h, dtype=np.float64)[:, None]
    u = (x - w / 2.0) / s * aspect + dx / s * aspect
    v = (y - h / 2.0) / s + dy / s
    rx = (math.cos(rad) * u - math.sin(rad) * v + cx).astype(F32)
    ry = (math.sin(rad) * u + math.cos(rad) * v + cy).astype(F32)
    return bilinear_sample(im, rx, ry)


def rand_uniform(rng, lo, hi):
    lo, hi = min(lo, hi), max(lo, hi)
    return F32(rng.uniform(lo, hi)) if hi > lo else F32(lo)


def rand_scale(rng, s):
    """rand_scale: a factor in [1, s] or its inverse, each half the time."""
    scale = rand_uniform(rng, 1.0, s)
    return scale if rng.integers(2) else F32(1.0 / scale)


def random_augment_image(im, rng, angle, aspect, low, high, size):
    """random_augment_args + rotate_crop_image: the classifier's random crop (size x size)."""
    aspect = rand_scale(rng, aspect)
    r = int(rng.integers(min(low, high), max(low, high) + 1))
    shortest = min(im.shape[1], im.shape[2] * aspect)
    scale = r / shortest
    rad = rand_uniform(rng, -angle, angle) * 2 * math.pi / 360.0
    dx = (im.shape[2] * scale / aspect - size) / 2.0
    dy = (im.shape[1] * scale - size) / 2.0
    dx, dy = rand_uniform(rng, -dx, dx), rand_uniform(rng, -dy, dy)
    return rotate_crop_image(im, rad, scale, size, size, dx, dy, aspect)


def center_crop(im, w, h=None):
    """The largest centred w:h crop, scaled to w x h (bilinear, Darknet's sampler)."""
    h = w if h is None else h
    scale = max(w / im.shape[2], h / im.shape[1])
    return rotate_crop_image(im, 0.0, scale, w, h, 0.0, 0.0, 1.0)


def flip_image(im):
    return im[:, :, ::-1].copy()


def rgb_to_hsv(im):
    r, g, b = im
    mx, mn = np.maximum(np.maximum(r, g), b), np.minimum(np.minimum(r, g), b)
    delta = mx - mn
    safe = np.where(delta == 0, F32(1), delta)
    h = np.where(r == mx, (g - b) / safe, np.where(g == mx, 2 + (b - r) / safe, 4 + (r - g) / safe))
    h = np.where(h < 0, h + 6, h) / F32(6)
    zero = mx == 0
    s = np.where(zero, F32(0), delta / np.where(zero, F32(1), mx))
    h = np.where(zero, F32(0), h)                    # delta == 0: Darknet's 0/0 NaN hue; s = 0 makes it unused
    return np.stack([h, s, mx]).astype(F32)


def hsv_to_rgb(im):
    h, s, v = im
    h6 = h * F32(6)
    index = np.floor(h6)
    f = h6 - index
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    idx = np.clip(index, 0, 5).astype(np.int64)       # index 6 (h == 1) is Darknet's 'else': r=v, g=p, b=q
    r = np.choose(idx, [v, q, p, p, t, v])
    g = np.choose(idx, [t, v, v, q, p, p])
    b = np.choose(idx, [p, p, t, v, v, q])
    gray = s == 0
    return np.stack([np.where(gray, v, r), np.where(gray, v, g), np.where(gray, v, b)]).astype(F32)


def distort_image(im, hue, sat, val):
    """distort_image: saturation and value scaled, hue shifted (wrapping), clipped to [0, 1]."""
    if im.shape[0] != 3:
        return np.clip(im * F32(val), 0, 1).astype(F32)
    hsv = rgb_to_hsv(im)
    hsv[1] *= F32(sat)
    hsv[2] *= F32(val)
    h = hsv[0] + F32(hue)
    h = np.where(h > 1, h - 1, h)
    hsv[0] = np.where(h < 0, h + 1, h)
    return np.clip(hsv_to_rgb(hsv), 0, 1)


def random_distort_image(im, rng, hue, saturation, exposure):
    """random_distort_image: hue in [-hue, hue], saturation and exposure via rand_scale."""
    dhue = rand_uniform(rng, -hue, hue)
    dsat = rand_scale(rng, saturation)
    dexp = rand_scale(rng, exposure)
    if dhue == 0 and dsat == 1 and dexp == 1:
        return im
    return distort_image(im, dhue, dsat, dexp)
