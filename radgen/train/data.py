"""A fold's data for training/prediction: rows of the manifest split by folds.csv, images from the uint8 cache.

Images are never decoded here: the cache (uint8 [N, S, S], np.load(mmap_mode="r")) holds every image once.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from radgen.constants import CLASSES

PathLike = str | Path


def _frame(obj: PathLike | pd.DataFrame) -> pd.DataFrame:
    if isinstance(obj, pd.DataFrame):
        return obj.copy()
    return pd.read_csv(obj, dtype={"image_id": str, "patient_id": str}, keep_default_na=False)


@dataclass
class Split:
    """One part of a fold: image ids, integer labels, reference reports and cache rows."""

    image_ids: list[str]
    labels: np.ndarray  # int64 [n]
    reports: list[str]
    rows: np.ndarray  # int64 [n], rows of the cache

    def __len__(self) -> int:
        return len(self.image_ids)


class FoldData:
    """inner-train / inner-val / held-out parts of fold k, and batched access to their cached images.

    An image with fold == k is held out in fold k; the others are split by their `inner` column.
    """

    def __init__(
        self,
        manifest: PathLike | pd.DataFrame,
        folds: PathLike | pd.DataFrame,
        cache: PathLike | np.ndarray,
        cache_index: PathLike | pd.DataFrame,
        fold: int,
    ) -> None:
        self.fold = int(fold)
        man = _frame(manifest)
        fo = _frame(folds)
        idx = _frame(cache_index)
        for name, df, cols in (
            ("manifest", man, ("image_id", "label")),
            ("folds", fo, ("image_id", "fold", "inner")),
            ("cache_index", idx, ("image_id", "row")),
        ):
            missing = [c for c in cols if c not in df.columns]
            if missing:
                raise ValueError(f"{name} lacks column(s): {', '.join(missing)}")
        if "report" not in man.columns:
            man["report"] = ""
        man["report"] = man["report"].fillna("").astype(str)
        bad = sorted(set(man["label"]) - set(CLASSES))
        if bad:
            raise ValueError(f"manifest has unknown label(s) {bad}; expected {CLASSES}")
        df = man.merge(fo[["image_id", "fold", "inner"]], on="image_id", how="inner", validate="one_to_one")
        df = df.merge(idx[["image_id", "row"]], on="image_id", how="left", validate="one_to_one")
        if df["row"].isna().any():
            missing = df.loc[df["row"].isna(), "image_id"].tolist()
            raise ValueError(f"{len(missing)} image(s) missing from the cache index, e.g. {missing[:5]}")
        if len(df) != len(man):
            raise ValueError(f"folds.csv covers {len(df)} of the manifest's {len(man)} images")
        df["fold"] = df["fold"].astype(int)
        df["row"] = df["row"].astype(int)
        if self.fold not in set(df["fold"]):
            raise ValueError(f"fold {self.fold} has no held-out images (folds: {sorted(set(df['fold']))})")
        self.cache = np.load(cache, mmap_mode="r") if not isinstance(cache, np.ndarray) else cache
        if self.cache.ndim != 3 or self.cache.dtype != np.uint8:
            raise ValueError(
                f"image cache must be uint8 [N, S, S], got {self.cache.dtype} {self.cache.shape}"
            )
        self.frame = df
        rest = df[df["fold"] != self.fold]
        self.train = self._split(rest[rest["inner"] == "train"])
        self.val = self._split(rest[rest["inner"] == "val"])
        self.test = self._split(df[df["fold"] == self.fold])
        if len(self.train) == 0 or len(self.val) == 0:
            raise ValueError(
                f"fold {self.fold}: empty inner train ({len(self.train)}) or val ({len(self.val)}) part"
            )

    @staticmethod
    def _split(df: pd.DataFrame) -> Split:
        df = df.sort_values("image_id", kind="stable")
        labels = np.array([CLASSES.index(lbl) for lbl in df["label"]], dtype=np.int64)
        return Split(
            df["image_id"].astype(str).tolist(), labels, df["report"].tolist(), df["row"].to_numpy(np.int64)
        )

    @property
    def image_size(self) -> int:
        return int(self.cache.shape[1])

    def images(self, rows: np.ndarray) -> torch.Tensor:
        """uint8 [B, 1, S, S] for the given cache rows (sorted read from the memory map, then reordered)."""
        order = np.argsort(rows, kind="stable")
        arr = np.empty((len(rows), *self.cache.shape[1:]), dtype=np.uint8)
        arr[order] = self.cache[rows[order]]
        return torch.from_numpy(arr).unsqueeze(1)

    def fingerprint(self) -> str:
        """Hash of everything training reads (train/val ids, labels, reports, pixels): keys checkpoints."""
        h = hashlib.sha256()
        for part in (self.train, self.val):
            h.update("\x1f".join(part.image_ids).encode())
            h.update(part.labels.tobytes())
            h.update("\x1f".join(part.reports).encode())
            for start in range(0, len(part.rows), 256):
                h.update(np.ascontiguousarray(self.cache[np.sort(part.rows[start : start + 256])]).tobytes())
        h.update(str(self.fold).encode())
        return h.hexdigest()


def to_float(images: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 [B,1,S,S] → float [B,1,size,size] in [0, 1] (resized only when the cache differs)."""
    x = images.float().div_(255.0)
    if x.shape[-1] != size or x.shape[-2] != size:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    return x


def augment(x: torch.Tensor, generator: torch.Generator, strength: float = 1.0) -> torch.Tensor:
    """Light on-the-fly augmentation of float images [B,1,H,W]: rotation ±5°, scale ±5 %, shift ±3 %,
    brightness ±3 %, contrast ±5 % (stronger intensity jitter drowns faint opacities). No horizontal flip: it would contradict the reports' left/right wording.
    Parameters come from `generator` (CPU) so that a seed fixes them; the warp runs on x's device."""
    b = x.shape[0]

    def u(lo: float, hi: float) -> torch.Tensor:
        return (torch.rand(b, generator=generator) * (hi - lo) + lo).to(x.device)

    angle = u(-5, 5) * strength * math.pi / 180
    scale = 1 + u(-0.05, 0.05) * strength
    tx, ty = u(-0.03, 0.03) * strength * 2, u(-0.03, 0.03) * strength * 2
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin, tx], 1), torch.stack([sin, cos, ty], 1)], 1)
    grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    brightness = u(-0.03, 0.03).view(b, 1, 1, 1) * strength
    contrast = (1 + u(-0.05, 0.05) * strength).view(b, 1, 1, 1)
    mean = x.mean(dim=(2, 3), keepdim=True)
    return ((x - mean) * contrast + mean + brightness).clamp_(0.0, 1.0)


def class_weights(labels: np.ndarray, n_classes: int = len(CLASSES)) -> np.ndarray:
    """w_c = N / (C · n_c) from the training part's labels (a class absent from it gets weight 0)."""
    counts = np.bincount(labels, minlength=n_classes).astype(np.float64)
    n = counts.sum()
    with np.errstate(divide="ignore"):
        w = np.where(counts > 0, n / (n_classes * np.maximum(counts, 1)), 0.0)
    return w
