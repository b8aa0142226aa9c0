"""Any common image format decodes to uint8 grayscale; broken files fail with the file's name."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from radgen.data.images import ImageReadError, pixel_hash, read_gray


def film(h=40, w=30, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w), dtype=np.uint8)


def test_8bit_gray_roundtrip(tmp_path):
    arr = film()
    Image.fromarray(arr, mode="L").save(tmp_path / "a.png")
    out = read_gray(tmp_path / "a.png")
    assert out.dtype == np.uint8 and out.shape == (40, 30)
    assert np.array_equal(out, arr)


def test_16bit_is_stretched_not_clipped(tmp_path):
    arr = np.linspace(1000, 4095, 40 * 30).reshape(40, 30).astype(np.uint16)  # 12-bit data in a 16-bit PNG
    Image.fromarray(arr).save(tmp_path / "a16.png")
    with Image.open(tmp_path / "a16.png") as img:
        assert img.mode.startswith("I")
    out = read_gray(tmp_path / "a16.png")
    assert out.dtype == np.uint8 and out.min() == 0 and out.max() == 255
    assert np.all(np.diff(out.ravel().astype(int)) >= 0)  # order preserved


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "P", "LA"])
def test_colour_modes_are_converted(tmp_path, mode):
    gray = film()
    img = Image.fromarray(gray, mode="L").convert(mode)
    img.save(tmp_path / f"x_{mode}.png")
    out = read_gray(tmp_path / f"x_{mode}.png")
    assert out.dtype == np.uint8 and out.shape == gray.shape
    if mode != "P":
        assert np.abs(out.astype(int) - gray).max() <= 1


def test_jpeg(tmp_path):
    Image.fromarray(film(), mode="L").convert("RGB").save(tmp_path / "x.jpg", quality=95)
    assert read_gray(tmp_path / "x.jpg").shape == (40, 30)


def test_truncated_and_garbage_name_the_file(tmp_path):
    Image.fromarray(film(200, 200), mode="L").save(tmp_path / "full.png")
    data = (tmp_path / "full.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    (tmp_path / "text.png").write_text("not an image")
    for name in ("cut.png", "text.png", "missing.png"):
        with pytest.raises(ImageReadError, match=name):
            read_gray(tmp_path / name)


def test_pixel_hash_ignores_format_but_not_content(tmp_path):
    arr = film()
    Image.fromarray(arr, mode="L").save(tmp_path / "a.png")
    Image.fromarray(arr, mode="L").save(tmp_path / "a.bmp")
    assert pixel_hash(read_gray(tmp_path / "a.png")) == pixel_hash(read_gray(tmp_path / "a.bmp"))
    assert pixel_hash(arr) != pixel_hash(film(seed=1))
    assert pixel_hash(arr.reshape(30, 40)) != pixel_hash(arr)
