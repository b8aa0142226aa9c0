"""The contract files between rules (CONTRACTS.md): read + validate + write, and the one atomic writer.

Every output goes through :func:`atomic_path` (temporary file beside the target, renamed on success), so a
failed or interrupted job never leaves a half-written file for Snakemake to trust, and the file gets the
permissions of any other file the user writes (``mkstemp`` alone makes them 0600).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from radgen.constants import CLASSES, FOLD_COLUMNS, MANIFEST_COLUMNS, PREDICTION_COLUMNS, PROB_COLUMNS

__all__ = [
    "atomic_path",
    "json_safe",
    "labels_to_index",
    "load_result",
    "read_folds",
    "read_manifest",
    "read_predictions",
    "write_csv",
    "write_folds",
    "write_json",
    "write_manifest",
    "write_text",
]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _umask()


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; it replaces `path` only if the block finishes without error."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; outputs should be as readable as any other file
    try:
        yield Path(tmp)
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_text(path: str | Path, text: str) -> Path:
    """UTF-8 text, written atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_csv(frame: pd.DataFrame, path: str | Path) -> Path:
    """CSV with '\\n' line ends and no index, written atomically (byte-identical for equal frames)."""
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False, lineterminator="\n")
    return Path(path)


def json_safe(value: Any) -> Any:
    """Recursively turn numpy scalars into Python ones and nan/inf into None (JSON has no NaN)."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist())
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        f = float(value)
        return f if math.isfinite(f) else None
    return value


def write_json(path: str | Path, obj: Any) -> Path:
    """Metrics and other result JSON: indented, nan written as null, atomic."""
    return write_text(path, json.dumps(json_safe(obj), indent=2, allow_nan=False) + "\n")


def load_result(item: str | Path | Mapping[str, Any]) -> Mapping[str, Any]:
    """A result JSON (fold metrics, floors) given as a path, or already loaded (tests pass dicts)."""
    if isinstance(item, Mapping):
        return item
    with open(item) as fh:
        return json.load(fh)


def _require(df: pd.DataFrame, columns: tuple[str, ...] | list[str], where: str | Path) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{where}: missing column(s) {missing}; expected {list(columns)}")


def read_manifest(path: str | Path) -> pd.DataFrame:
    """The manifest (image_id,path,label,patient_id,report) as strings: ids like '0001' stay strings and a
    missing report is "" (a manifest without a report column gets an empty one)."""
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    _require(df, ("image_id", "label"), path)
    if "report" not in df.columns:
        df["report"] = ""
    return df


def write_manifest(manifest: pd.DataFrame, path: str | Path) -> Path:
    """The manifest's contract columns in contract order."""
    return write_csv(manifest.loc[:, list(MANIFEST_COLUMNS)], path)


def read_folds(path: str | Path) -> pd.DataFrame:
    """folds.csv (image_id,fold,inner) with ``fold`` as int."""
    df = pd.read_csv(path, dtype={"image_id": str}, keep_default_na=False)
    _require(df, ("image_id", "fold"), path)
    df["fold"] = df["fold"].astype(int)
    return df


def write_folds(folds: pd.DataFrame, path: str | Path) -> Path:
    """folds.csv's contract columns in contract order."""
    return write_csv(folds.loc[:, list(FOLD_COLUMNS)], path)


def read_predictions(path: str | Path) -> pd.DataFrame:
    """A predictions CSV with its contract columns checked; empty reports stay "" (never NaN)."""
    df = pd.read_csv(path, dtype={"image_id": str, "report_generated": str}, keep_default_na=False)
    _require(df, PREDICTION_COLUMNS, path)
    for c in PROB_COLUMNS:
        df[c] = pd.to_numeric(df[c], errors="raise").astype(float)
    if df["image_id"].duplicated().any():
        dups = df.loc[df["image_id"].duplicated(), "image_id"].tolist()
        raise ValueError(f"{path}: duplicate image_id values {dups[:10]}")
    return df


def labels_to_index(labels: pd.Series | list[Any], where: str = "labels") -> np.ndarray:
    """Class names (or their indices) -> indices in CLASSES order; every unknown value listed in one error."""
    values = pd.Series(labels)
    lookup = {c: i for i, c in enumerate(CLASSES)}
    lookup.update({str(i): i for i in range(len(CLASSES))})
    keys = values.astype(str).str.strip().str.lower()
    bad = sorted(set(keys[~keys.isin(list(lookup))]))
    if bad:
        raise ValueError(f"{where}: unknown labels {bad}; expected one of {list(CLASSES)}")
    return keys.map(lookup).to_numpy(dtype=np.int64)
