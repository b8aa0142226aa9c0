"""A fold's data: rows of the manifest split by folds.csv, images from the uint8 cache.

Used by training (inner train/val) and by the workflow's prediction (held-out part); it lives in the data layer
so that prediction imports nothing from training. Images are never decoded here: the cache
(uint8 [N, S, S], np.load(mmap_mode="r")) holds every image once.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

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
