"""Reading prediction/manifest CSVs and writing result files atomically (shared by fold, summary, figures)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from radgen.constants import CLASSES, PREDICTION_COLUMNS, PROB_COLUMNS
from radgen.data.io import atomic_path

__all__ = [
    "atomic_write",
    "json_safe",
    "labels_to_index",
    "read_manifest",
    "read_predictions",
    "write_csv",
    "write_json",
]


def read_predictions(path: str | Path) -> pd.DataFrame:
    """A predictions CSV with its contract columns checked; empty reports stay "" (never NaN)."""
    df = pd.read_csv(path, dtype={"image_id": str, "report_generated": str}, keep_default_na=False)
    missing = [c for c in PREDICTION_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: missing columns {missing}; expected {list(PREDICTION_COLUMNS)}")
    for c in PROB_COLUMNS:
        df[c] = pd.to_numeric(df[c], errors="raise").astype(float)
    if df["image_id"].duplicated().any():
        dups = df.loc[df["image_id"].duplicated(), "image_id"].tolist()
        raise ValueError(f"{path}: duplicate image_id values {dups[:10]}")
    return df


def read_manifest(path: str | Path) -> pd.DataFrame:
    """The manifest (image_id,path,label,patient_id,report); a missing report is ""."""
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    for c in ("image_id", "label"):
        if c not in df.columns:
            raise ValueError(f"{path}: missing column {c!r}")
    if "report" not in df.columns:
        df["report"] = ""
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


def load_result(item: str | Path | Mapping[str, Any]) -> Mapping[str, Any]:
    """A result JSON given as a path, or already loaded (tests pass dicts)."""
    if isinstance(item, Mapping):
        return item
    with open(item) as fh:
        return json.load(fh)


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


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp_path)`` then rename onto path (radgen.data.io.atomic_path: normal file permissions)."""
    with atomic_path(path) as tmp:
        write(tmp)
    return Path(path)


def write_json(path: str | Path, obj: Any) -> Path:
    text = json.dumps(json_safe(obj), indent=2, allow_nan=False) + "\n"
    return atomic_write(path, lambda p: p.write_text(text))


def write_csv(path: str | Path, df: pd.DataFrame) -> Path:
    return atomic_write(path, lambda p: df.to_csv(p, index=False))
