"""The decoded image cache: shape, order, padding, index, and nothing written on failure."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from radgen.data.cache import build_cache, load_cache, pad_and_resize


def test_pad_and_resize_keeps_aspect():
    wide = np.full((20, 40), 200, np.uint8)
    out = pad_and_resize(wide, 16)
    assert out.shape == (16, 16) and out.dtype == np.uint8
    assert out[0].max() < 30 and out[-1].max() < 30  # black bars top and bottom
    assert out[8].min() > 170  # the film in the middle, uncropped
    square = np.arange(256, dtype=np.uint8).reshape(16, 16)
    assert np.array_equal(pad_and_resize(square, 16), square)


@pytest.fixture
def manifest(tmp_path) -> pd.DataFrame:
    rows = []
    for i, (h, w) in enumerate([(40, 40), (30, 50), (64, 32), (16, 16)]):
        arr = np.random.default_rng(i).integers(0, 256, (h, w), dtype=np.uint8)
        path = tmp_path / f"im{i}.png"
        Image.fromarray(arr, mode="L").save(path)
        rows.append(
            {"image_id": f"id{i}", "path": str(path), "label": "normal", "patient_id": f"p{i}", "report": ""}
        )
    return pd.DataFrame(rows)


def test_build_and_load(manifest, tmp_path):
    npy, index = tmp_path / "cache.npy", tmp_path / "cache_index.csv"
    build_cache(manifest, npy, index, image_size=24)
    array, rows = load_cache(npy, index)
    assert isinstance(array, np.memmap) and array.shape == (4, 24, 24) and array.dtype == np.uint8
    assert rows == {"id0": 0, "id1": 1, "id2": 2, "id3": 3}
    from radgen.data.images import read_gray

    assert np.array_equal(array[rows["id2"]], pad_and_resize(read_gray(manifest["path"][2]), 24))
    first = npy.read_bytes()
    build_cache(manifest, npy, index, image_size=24)
    assert npy.read_bytes() == first  # deterministic


def test_unreadable_image_leaves_nothing(manifest, tmp_path):
    (tmp_path / "im1.png").write_bytes(b"broken")
    npy, index = tmp_path / "out" / "cache.npy", tmp_path / "out" / "cache_index.csv"
    with pytest.raises(ValueError, match="im1.png"):
        build_cache(manifest, npy, index, image_size=24)
    assert not npy.exists() and not index.exists()
    assert list((tmp_path / "out").iterdir()) == []


def test_mismatched_index_is_refused(manifest, tmp_path):
    npy, index = tmp_path / "cache.npy", tmp_path / "cache_index.csv"
    build_cache(manifest, npy, index, image_size=8)
    pd.DataFrame({"image_id": ["id0"], "row": [0]}).to_csv(index, index=False)
    with pytest.raises(ValueError, match="rebuild the cache"):
        load_cache(npy, index)
