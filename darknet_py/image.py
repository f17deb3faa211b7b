"""Images as Darknet sees them: float32 CHW arrays (3, h, w) with values in [0, 1].

* ``load_image(path)``: Pillow decodes (PNG, JPEG, BMP, ...); greyscale, palette and RGBA images become
  RGB (alpha is dropped, not composited, as stb_image's forced 3 channels do; 16-bit greyscale keeps
  the high byte, as stb does); bytes are divided by
  255 in float64 and stored as float32, exactly as Darknet's ``load_image_color``. EXIF orientation is
  ignored, as in Darknet.
* ``resize_image`` and ``letterbox_image`` are Darknet's own (not Pillow's resampling), bit for bit,
  quirks included: "align corners" scales and a nearly black last row when ``(h-1)*h_scale`` rounds
  below ``im.h-1`` in float32 (../shared/golden2 README §2.5).

One divergence: Darknet's ``resize_image`` to a height of 1 is undefined behaviour (0*inf as a row
index); here it copies the first row.
"""
from pathlib import Path

import numpy as np

from .errors import DarknetError
from .kernels import image as ik

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pnm")


def load_image(path):
    """Darknet's load_image_color(path, 0, 0): (3, h, w) float32. DarknetError naming the file if it
    cannot be read or is not an image."""
    from PIL import Image, UnidentifiedImageError
    try:
        with Image.open(path) as pil:
            pil.load()
            return from_pil(pil)
    except FileNotFoundError:
        raise DarknetError(f"{path}: no such image file") from None
    except UnidentifiedImageError:
        raise DarknetError(f"{path}: not an image (Pillow cannot identify its format)") from None
    except (OSError, ValueError, SyntaxError) as e:     # truncated or corrupt data, unreadable file
        raise DarknetError(f"{path}: cannot read image: {e}") from None


def from_pil(pil):
    """A PIL image as Darknet's float CHW (3, h, w) array."""
    if pil.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16-bit greyscale PNG: stb keeps the high byte, Pillow's convert("RGB") would clip at 255
        high = np.clip(np.asarray(pil).astype(np.int64) >> 8, 0, 255).astype(np.uint8)
        return from_bytes(high)
    if pil.mode != "RGB":
        pil = pil.convert("RGB")
    return from_bytes(np.asarray(pil, dtype=np.uint8))


def from_bytes(hwc):
    """(h, w, 3) or (h, w) uint8 -> (3, h, w) float32 / 255 (greyscale repeated in the 3 channels)."""
    if hwc.ndim == 2:
        hwc = np.repeat(hwc[:, :, None], 3, axis=2)
    hwc = np.ascontiguousarray(hwc)
    h, w, c = hwc.shape
    out = np.empty((c, h, w), np.float32)
    ik.hwc_bytes_to_chw(hwc.reshape(-1), out.reshape(-1), h, w, c)
    return out


def to_image(image):
    """Whatever ``Network.detect`` accepts, as a (3, h, w) float32 array.

    A path (str or Path), a PIL image, a uint8 array (h, w), (h, w, 3) or (h, w, 4) as Pillow and
    OpenCV-in-RGB give, or a float array already in Darknet's layout (3, h, w) in [0, 1]."""
    if isinstance(image, (str, Path)):
        return load_image(image)
    if isinstance(image, np.ndarray):
        return _from_array(image)
    if hasattr(image, "convert") and hasattr(image, "mode"):      # a PIL image (no import needed)
        return from_pil(image)
    raise DarknetError(f"an image must be a path, a PIL image or a numpy array, got {type(image).__name__}")


def _from_array(a):
    if a.dtype == np.uint8 and (a.ndim == 2 or (a.ndim == 3 and a.shape[2] in (3, 4))):
        return from_bytes(a[:, :, :3] if a.ndim == 3 else a)
    if a.dtype.kind == "f" and a.ndim == 3 and a.shape[0] == 3:
        return np.ascontiguousarray(a, dtype=np.float32)
    raise DarknetError(f"an image array must be uint8 (h, w[, 3|4]) or float (3, h, w) in [0, 1]; "
                       f"got {a.dtype} {a.shape}")


def resize_image(im, w, h):
    """Darknet's resize_image(im, w, h): (c, h, w) float32, bit-exact."""
    c, src_h, src_w = im.shape
    src = np.ascontiguousarray(im, dtype=np.float32)
    one = np.float32(1.0)
    ix, dx = _sample_positions(src_w, w)
    iy, dy = _sample_positions(src_h, h)
    if h == 1:                      # Darknet: undefined (0*inf); here the first row
        iy[:], dy[:] = 0, 0
    part = np.empty((c, src_h, w), np.float32)
    ik.resize_columns(src.reshape(-1), part.reshape(-1), c * src_h, src_w, w, ix, dx, one)
    out = np.empty((c, h, w), np.float32)
    ik.resize_rows(part.reshape(-1), out.reshape(-1), c, src_h, h, w, iy, dy, one)
    return out


def _sample_positions(src_n, dst_n):
    """Darknet's float32 source positions: scale = (float)(src_n-1)/(dst_n-1), s = i*scale,
    index = (int)s, fraction = s - index. The last position is clamped so that it indexes the source
    (the kernels never read index+1 there)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.float32(src_n - 1) / np.float32(dst_n - 1) if dst_n > 1 else np.float32(0)
        s = np.arange(dst_n, dtype=np.float32) * scale
    index = np.minimum(s.astype(np.int64), src_n - 1)
    frac = (s - index.astype(np.float32)).astype(np.float32)
    return index, frac


def letterbox_size(im_w, im_h, w, h):
    """(new_w, new_h): the image's size inside a w x h letterbox, Darknet's integer arithmetic."""
    if np.float32(w) / np.float32(im_w) < np.float32(h) / np.float32(im_h):
        return w, (im_h * w) // im_w
    return (im_w * h) // im_h, h


def letterbox_image(im, w, h):
    """Darknet's letterbox_image(im, w, h): resize keeping the aspect ratio, embed at the integer
    offset ((w-new_w)/2, (h-new_h)/2) in a canvas of 0.5. Returns (c, h, w) float32."""
    c, im_h, im_w = im.shape
    out = np.empty((c, h, w), np.float32)
    letterbox_into(im, out)
    return out


def letterbox_into(im, out):
    """letterbox_image into an existing (c, h, w) float32 array (a slot of a network's input batch)."""
    c, im_h, im_w = im.shape
    _, h, w = out.shape
    new_w, new_h = letterbox_size(im_w, im_h, w, h)
    resized = resize_image(im, new_w, new_h)
    ik.embed(resized.reshape(-1), out.reshape(-1), c, new_h, new_w, h, w, int((w - new_w) / 2),
             int((h - new_h) / 2), np.float32(0.5))      # C's division truncates toward 0
    return out
