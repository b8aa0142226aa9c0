"""Decode any chest X-ray file to an 8-bit grayscale array, or fail naming the file.

Public collections mix 8-bit and 16-bit PNGs, RGB and RGBA exports, palette images and JPEGs; everything
downstream (hashing, cache, training) sees one format: uint8 [H, W].
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".gif", ".webp")


class ImageReadError(ValueError):
    """An image file that cannot be decoded completely (missing, truncated, not an image)."""


def _to_gray(img: Image.Image) -> np.ndarray:
    mode = img.mode
    if mode == "L":
        return np.asarray(img, dtype=np.uint8)
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        # >8-bit data: 16-bit containers often hold 10-14-bit values, so dividing by 65535 would leave the film
        # nearly black; stretch the stored range instead (the common min-max windowing for radiographs).
        arr = np.asarray(img).astype(np.float64)
        lo, hi = float(np.nanmin(arr)), float(np.nanmax(arr))
        if not np.isfinite(lo) or not np.isfinite(hi) or hi <= lo:
            return np.zeros(arr.shape, dtype=np.uint8)
        return np.round((arr - lo) / (hi - lo) * 255).astype(np.uint8)
    if mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    if mode in ("LA", "La", "PA"):
        img = img.convert("LA").getchannel("L")
        return np.asarray(img, dtype=np.uint8)
    # RGB, RGBA (alpha dropped: exported radiographs are opaque), CMYK, YCbCr, 1 ...: ITU-R 601 luma
    return np.asarray(img.convert("RGB").convert("L"), dtype=np.uint8)


def read_gray(path: str | Path) -> np.ndarray:
    """uint8 [H, W] of any PIL-readable image; raises ImageReadError naming the file when it cannot be decoded.

    `load()` forces the full decode, so a truncated file fails here rather than silently yielding grey pixels.
    EXIF orientation is applied (phone/scanner JPEGs).
    """
    path = Path(path)
    try:
        with Image.open(path) as img:
            img.load()
            if img.getexif().get(0x0112, 1) != 1:  # EXIF orientation
                img = ImageOps.exif_transpose(img)
            arr = _to_gray(img)
    except FileNotFoundError:
        raise ImageReadError(f"{path}: file not found") from None
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise ImageReadError(f"{path}: cannot decode image ({type(exc).__name__}: {exc})") from exc
    if arr.ndim != 2 or arr.size == 0:
        raise ImageReadError(f"{path}: decoded to an empty or non-2-D array of shape {arr.shape}")
    return arr


def pixel_hash(arr: np.ndarray) -> str:
    """Hash of decoded pixels and shape: finds the same film saved twice under different names or formats."""
    h = hashlib.sha1(str(arr.shape).encode())
    h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()
