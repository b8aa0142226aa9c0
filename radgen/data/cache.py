"""Decode and resize every manifest image once into a uint8 [N, S, S] array (+ image_id,row index).

Training reads this memory-mapped array instead of decoding PNG/JPEG files every epoch. Each image goes through
radgen.data.images.load_image (pad to a square with black, Lanczos resize), the same function `radgen predict`
calls on a file.
"""

from __future__ import annotations

import logging
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from radgen.io import atomic_path, write_csv

from .images import load_image, pad_and_resize  # noqa: F401 - pad_and_resize re-exported

log = logging.getLogger(__name__)


def _load(job: tuple[str, int]) -> np.ndarray:
    path, size = job
    return load_image(path, size)


def build_cache(
    manifest: pd.DataFrame, npy_path: str | Path, index_path: str | Path, image_size: int, n_jobs: int = 1
) -> None:
    """Write the cache array (rows in manifest order) and its index atomically; nothing is left on failure."""
    if image_size < 8:
        raise ValueError(f"data.image_size must be at least 8, got {image_size}")
    n = len(manifest)
    jobs = [(str(p), image_size) for p in manifest["path"]]
    with atomic_path(npy_path) as tmp:
        # written through a memmap, so a 1e5 x 224 x 224 cache (5 GB) never has to fit in memory
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(n, image_size, image_size))
        bar = {"total": n, "desc": f"caching {image_size}px", "mininterval": 2}
        if n_jobs > 1 and n > 64:
            with ProcessPoolExecutor(max_workers=n_jobs) as pool:
                for i, img in enumerate(tqdm(pool.map(_load, jobs, chunksize=32), **bar)):
                    out[i] = img
        else:
            for i, job in enumerate(tqdm(jobs, **bar)):
                out[i] = _load(job)
        out.flush()
        del out
    write_csv(pd.DataFrame({"image_id": manifest["image_id"].to_numpy(), "row": np.arange(n)}), index_path)
    log.info("cached %d images at %dx%d into %s", n, image_size, image_size, npy_path)


def load_cache(npy_path: str | Path, index_path: str | Path) -> tuple[np.ndarray, dict[str, int]]:
    """(memory-mapped uint8 [N, S, S], image_id -> row). Checks that the index and the array agree."""
    array = np.load(npy_path, mmap_mode="r")
    index = pd.read_csv(index_path, dtype={"image_id": str, "row": np.int64}, keep_default_na=False)
    if array.ndim != 3 or array.dtype != np.uint8 or array.shape[1] != array.shape[2]:
        raise ValueError(f"{npy_path}: expected a uint8 [N, S, S] array, found {array.dtype} {array.shape}")
    rows = index["row"].to_numpy()
    if len(index) != array.shape[0] or (len(rows) and (rows.min() < 0 or rows.max() >= array.shape[0])):
        raise ValueError(
            f"{index_path} ({len(index)} rows) does not match {npy_path} ({array.shape[0]} images); "
            "rebuild the cache"
        )
    if index["image_id"].duplicated().any():
        raise ValueError(f"{index_path}: duplicate image_id")
    return array, dict(zip(index["image_id"], rows.tolist(), strict=True))
