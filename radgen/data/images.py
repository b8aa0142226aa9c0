"""The one image preprocessing: file -> uint8 [H, W] -> uint8 square (what the cache stores) -> float model input.

Public collections mix 8-bit and 16-bit PNGs, RGB and RGBA exports, palette images and JPEGs; everything
downstream (hashing, cache, training) sees one format: uint8 [H, W]. The dataset cache (radgen.data.cache) and
`radgen predict` both call `load_image`, and training and every prediction path call `to_float`, so a file
given to the CLI reaches the model exactly as it does in the workflow.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageOps

if TYPE_CHECKING:
    import torch

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


def pad_and_resize(arr: np.ndarray, size: int) -> np.ndarray:
    """uint8 [H, W] -> uint8 [size, size]: pad the short side symmetrically with 0, then Lanczos resize.

    Padding keeps the aspect ratio (centre-cropping would cut off costophrenic angles or apices of non-square
    films; black matches the unexposed film border); Lanczos low-pass filters when shrinking (no moire).
    """
    h, w = arr.shape
    side = max(h, w)
    if h != w:
        square = np.zeros((side, side), dtype=np.uint8)
        top, left = (side - h) // 2, (side - w) // 2
        square[top : top + h, left : left + w] = arr
        arr = square
    if side == size:
        return np.ascontiguousarray(arr, dtype=np.uint8)
    img = Image.fromarray(arr, mode="L").resize((size, size), Image.Resampling.LANCZOS)
    return np.asarray(img, dtype=np.uint8)


def load_image(path: str | Path, size: int) -> np.ndarray:
    """uint8 [size, size] of an image file, exactly as the dataset cache stores it (raises ImageReadError)."""
    return pad_and_resize(read_gray(path), size)


def to_float(images: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 [B,1,S,S] -> float [B,1,size,size] in [0, 1] (resized only when the cache's S differs from size).

    torch is imported here, not at module level, so that reading and hashing images (manifest, cache) does not
    load it.
    """
    import torch.nn.functional as F

    x = images.float().div_(255.0)
    if x.shape[-1] != size or x.shape[-2] != size:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    return x
