"""Geometry of the synthetic film: body coordinates on the pixel grid, the lung outlines, and the stamps and masks
the painter (render.py) draws with. Body units: x in about [-0.9, 0.9], y from about -0.85 (lung apices) to
0.45 (diaphragm), y down.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image
from scipy.ndimage import gaussian_filter

from .records import Study

ZONE_RANGES = {"upper": (0.0, 0.36), "mid": (0.33, 0.66), "lower": (0.62, 1.05)}
SIDE_SIGN = {"right": -1.0, "left": 1.0}


def expit(x: np.ndarray | float) -> np.ndarray | float:
    """Logistic function via tanh: no overflow warnings, keeps float32, about twice as fast as scipy's."""
    return 0.5 + 0.5 * np.tanh(0.5 * x)


def side_signs(side: str) -> tuple[float, ...]:
    """x signs of a side: (-1,) right, (1,) left, both for bilateral."""
    return (-1.0, 1.0) if side == "bilateral" else (SIDE_SIGN[side],)


class Frame:
    """The pixel grid expressed in body coordinates, after patient size, rotation and shift."""

    def __init__(self, size: int, study: Study):
        a, t = study.anatomy, study.technique
        self.size = size
        c = ((np.arange(size) + 0.5) / size * 2 - 1).astype(np.float32)
        x, y = np.meshgrid(c, c)
        self.theta = float(np.deg2rad(t.rotation))
        cos, sin = float(np.cos(self.theta)), float(np.sin(self.theta))
        self.sx, self.sy, self.sc, self.wd = t.shift_x, t.shift_y, a.size, a.width
        self.X = (cos * x + sin * y - self.sx) / (self.sc * self.wd)
        self.Y = (-sin * x + cos * y - self.sy) / self.sc
        self.px = 2.0 / size / self.sc  # one pixel in body units
        self.unit = size / 2.0 * self.sc  # pixels per body unit

    def to_pixel(self, X: float, Y: float) -> tuple[float, float]:
        """(row, col) of a body point."""
        xr, yr = X * self.sc * self.wd + self.sx, Y * self.sc + self.sy
        cos, sin = np.cos(self.theta), np.sin(self.theta)
        x, y = cos * xr - sin * yr, sin * xr + cos * yr
        return (y + 1) / 2 * self.size - 0.5, (x + 1) / 2 * self.size - 0.5


@dataclass
class Lung:
    """One lung's outline; q (medial->lateral) and v (apex->base) locate findings inside it."""

    s: float  # -1 right lung (image left), +1 left lung
    apex: float
    base: float
    mx: float  # mediastinal centre
    mediastinum: float
    dome_h: float
    hilum_v: float

    def lateral(self, Y: np.ndarray | float) -> np.ndarray | float:
        return 0.28 + 0.46 * np.sqrt(np.clip((Y - self.apex + 0.02) / 0.75, 0, 1))

    def medial(self, Y: np.ndarray | float) -> np.ndarray | float:
        knob = 0.065 * np.exp(-(((Y - self.apex - 0.42) / 0.06) ** 2)) if self.s > 0 else 0.0
        return self.mediastinum + knob

    def dome(self, t: np.ndarray | float) -> np.ndarray | float:
        return self.base - self.dome_h * np.exp(-(((t - 0.36) / 0.25) ** 2))

    def point(self, q: float, v: float) -> tuple[float, float]:
        """Body (X, Y) of a relative position q (0 medial .. 1 lateral), v (0 apex .. 1 base)."""
        Y = self.apex + v * (self.base - self.apex)
        m = self.medial(Y)
        t = m + q * (self.lateral(Y) - m)
        X = self.s * t + self.mx * (1 - q)
        return float(X), float(Y)

    def mask(self, f: Frame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Soft lung mask, and the relative coordinates q, v over the whole frame."""
        X, Y, e = f.X, f.Y, f.px
        t = self.s * X
        tm = self.s * (X - self.mx)
        lat, med = self.lateral(Y), self.medial(Y)
        top = self.apex + 1.8 * (t - 0.28) ** 2
        m = (
            expit((lat - t) / e)
            * expit((tm - med) / e)
            * expit((Y - top) / e)
            * expit((self.dome(t) - Y) / e)
        )
        q = (tm - med) / np.maximum(lat - med, 1e-3)
        v = (Y - self.apex) / (self.base - self.apex)
        return m, q, v

    def hilum(self) -> tuple[float, float]:
        return self.mx + self.s * 0.19, self.apex + self.hilum_v * (self.base - self.apex)


def smooth_noise(rng: np.random.Generator, size: int, sigma_px: float) -> np.ndarray:
    """Unit-variance Gaussian-blurred noise; wide blurs are done on a coarse grid and upsampled (much faster)."""
    factor = max(1, int(sigma_px // 2))
    small = size if factor == 1 else -(-size // factor) + 2
    n = gaussian_filter(
        rng.standard_normal((small, small), dtype=np.float32), max(sigma_px / factor, 0.5), mode="reflect"
    )
    if factor > 1:
        img = Image.fromarray(n, mode="F").resize(
            (size, size), Image.Resampling.BICUBIC, box=(1, 1, small - 1, small - 1)
        )
        n = np.asarray(img, dtype=np.float32)
    return n / (n.std() + 1e-8)


def band(d: np.ndarray, half: float, e: float) -> np.ndarray:
    """Soft 1 inside |d| < half, 0 outside, edge width e (a smooth slab)."""
    return expit((half - np.abs(d)) / e)


def window(f: Frame, row: float, col: float, radius_px: float) -> tuple[slice, slice, np.ndarray, np.ndarray]:
    """Pixel window around (row, col) that holds a stamp of radius_px, and offsets from its centre."""
    r = int(np.ceil(radius_px)) + 2
    r0, r1 = max(0, int(row) - r), min(f.size, int(row) + r + 2)
    c0, c1 = max(0, int(col) - r), min(f.size, int(col) + r + 2)
    rr, cc = np.mgrid[r0:r1, c0:c1]
    return slice(r0, r1), slice(c0, c1), rr - row, cc - col


def stamp_disk(
    arr: np.ndarray,
    f: Frame,
    X: float,
    Y: float,
    radius: float,
    value: float,
    edge: float = 0.3,
    mode: str = "max",
) -> None:
    """Soft disk of body radius `radius` at body point (X, Y), merged into arr by max or add."""
    row, col = f.to_pixel(X, Y)
    rpx = max(radius * f.unit, 0.6)
    if not (-rpx - 3 < row < f.size + rpx + 3 and -rpx - 3 < col < f.size + rpx + 3):
        return
    rs, cs, dr, dc = window(f, row, col, rpx * 1.6)
    if dr.size == 0:
        return
    d = np.sqrt(dr**2 + dc**2)
    disk = value * expit((rpx - d) / max(edge * rpx, 0.45))
    arr[rs, cs] = np.maximum(arr[rs, cs], disk) if mode == "max" else arr[rs, cs] + disk


def stamp_segment(
    arr: np.ndarray,
    f: Frame,
    p0: tuple[float, float],
    p1: tuple[float, float],
    half: float,
    value: float,
    mode: str = "max",
) -> None:
    """Soft line of body half-width `half` between two body points."""
    (r0, c0), (r1, c1) = f.to_pixel(*p0), f.to_pixel(*p1)
    hpx = max(half * f.unit, 0.35)
    rmid, cmid = (r0 + r1) / 2, (c0 + c1) / 2
    reach = np.hypot(r1 - r0, c1 - c0) / 2 + hpx * 2
    rs, cs, dr, dc = window(f, rmid, cmid, reach)
    if dr.size == 0:
        return
    vr, vc = r1 - r0, c1 - c0
    pr, pc = dr + rmid - r0, dc + cmid - c0
    tt = np.clip((pr * vr + pc * vc) / max(vr * vr + vc * vc, 1e-6), 0, 1)
    d = np.hypot(pr - tt * vr, pc - tt * vc)
    line = value * expit((hpx - d) / 0.45)
    arr[rs, cs] = np.maximum(arr[rs, cs], line) if mode == "max" else arr[rs, cs] + line


def angular_profile(
    rng: np.random.Generator, n_peaks: int, width: tuple[float, float], span: float = 1.9
) -> tuple[np.ndarray, np.ndarray]:
    """Random peaks over the angle: which directions of a lesion's outline reach out (irregular edges)."""
    grid = np.linspace(-np.pi, np.pi, 721)
    th, w, a = rng.uniform(-span, span, n_peaks), rng.uniform(*width, n_peaks), rng.uniform(0.5, 1.0, n_peaks)
    prof = (a[:, None] * np.exp(-(((grid[None, :] - th[:, None]) / w[:, None]) ** 2))).max(axis=0)
    return grid, prof


def radial_lines(
    f: Frame,
    centre: tuple[float, float],
    s: float,
    grid: np.ndarray,
    prof: np.ndarray,
    wave: float,
    phase: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Distance from a centre and a radial stripe pattern shaped by an angular profile (fibrotic strands)."""
    dx, dy = s * (f.X - centre[0]), f.Y - centre[1]
    r = np.sqrt(dx**2 + dy**2)
    th = np.arctan2(dy, dx) + wave * np.sin(7 * r + phase)
    return np.interp(th, grid, prof).astype(np.float32), r


def zone_mask(v: np.ndarray, zones: tuple[str, ...]) -> np.ndarray:
    """Soft mask of the given lung zones over v (apex 0 -> base 1)."""
    out = np.zeros_like(v)
    for z in zones:
        lo, hi = ZONE_RANGES[z]
        out = np.maximum(out, expit((v - lo) / 0.04) * expit((hi - v) / 0.04))
    return out


def lobe_mask(lobe: str, q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Soft mask of a lobe in lung coordinates (q medial -> lateral, v apex -> base), fissures sharp."""
    sharp, soft = 0.012, 0.05
    fissure = 0.42 + 0.05 * q
    if lobe == "RUL":
        return expit((fissure - v) / sharp)
    if lobe == "RML":
        return expit((v - fissure) / sharp) * expit((0.55 - q) / 0.08) * expit((0.93 - v) / soft)
    if lobe == "RLL":
        return expit((v - 0.55) / soft) * np.maximum(expit((q - 0.3) / 0.08), expit((v - 0.8) / 0.04))
    if lobe == "LUL":
        return expit((0.47 - v) / soft)
    if lobe == "LINGULA":
        return expit((v - 0.45) / soft) * expit((0.85 - v) / soft) * expit((0.5 - q) / 0.08)
    if lobe == "LLL":
        return expit((v - 0.58) / soft)
    raise ValueError(f"unknown lobe {lobe!r}")
