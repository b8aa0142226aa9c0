"""Reference floors of the report metrics: what a report that knows only the class (or nothing) scores.

Report metrics (BLEU, ROUGE-L, CIDEr, clinical efficacy, main finding rate) reward a report for reading like
a report of the right class. To tell what a generator adds beyond the class, each fold gets two reference
rows, scored by exactly the code that scores generated reports (:func:`radgen.evaluate.fold.score_reports`,
the whole held-out fold at once, so CIDEr's document frequencies come from the same set):

- ``floor_same_class``: for each held-out image, a random *training* report of the image's true class
  (what class information alone buys);
- ``floor_random``: for each held-out image, a random training report of any class (no information).

The training part of fold k is every image not held out in fold k (folds.csv ``fold != k``); the inner
train/val split is irrelevant here, since no model is fitted: both inner parts are training data of the fold.
Held-out reports are only ever references, never hypotheses. Draws are with replacement, over the training
images that have a non-empty report, from ``numpy.random.SeedSequence(seed + fold)`` (one child stream per
floor), after sorting by image_id, so they depend on neither the row order of the inputs nor each other.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Unpack

import numpy as np
import pandas as pd

from radgen.evaluate.fold import ReportOptions, score_reports
from radgen.evaluate.summary import summarize_folds
from radgen.io import load_result, read_folds, read_manifest, write_json

__all__ = [
    "FLOORS",
    "evaluate_floors",
    "evaluate_floors_files",
    "floor_hypotheses",
    "read_folds",
    "split_fold",
    "summarize_floors",
]

log = logging.getLogger(__name__)

#: the floor rows, in table order (their names are the `variant` of their summary.csv rows).
FLOORS: tuple[str, ...] = ("floor_same_class", "floor_random")


def split_fold(manifest: pd.DataFrame, folds: pd.DataFrame, fold: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(held-out rows, training rows) of fold k, each sorted by image_id, with image_id/label/report.

    Training = every image whose held-out fold is not k (inner train and val alike)."""
    man = manifest[["image_id", "label", "report"]].copy()
    man["report"] = man["report"].fillna("").astype(str)
    df = man.merge(folds[["image_id", "fold"]], on="image_id", how="inner", validate="one_to_one")
    if len(df) != len(man):
        raise ValueError(f"folds.csv covers {len(df)} of the manifest's {len(man)} images")
    if int(fold) not in set(df["fold"]):
        raise ValueError(f"fold {fold} has no held-out images (folds: {sorted(set(df['fold']))})")
    held = df[df["fold"] == int(fold)].sort_values("image_id", kind="stable").reset_index(drop=True)
    train = df[df["fold"] != int(fold)].sort_values("image_id", kind="stable").reset_index(drop=True)
    return held, train


def floor_hypotheses(held_out: pd.DataFrame, train: pd.DataFrame, seed: int) -> dict[str, list[str]]:
    """{floor name: one training report per held-out row, in held_out's order}.

    Only training rows with a non-empty report are drawn. Raises ValueError when there is none, or when a
    held-out class has no training report (a same-class floor is then undefined)."""
    pool = train[train["report"].str.strip() != ""]
    if pool.empty:
        raise ValueError("no training image has a report: the report floors are undefined")
    same_rng, any_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    by_class = {label: group["report"].tolist() for label, group in pool.groupby("label", sort=True)}
    absent = sorted(set(held_out["label"]) - set(by_class))
    if absent:
        raise ValueError(f"no training report of class(es) {absent}: the same-class floor is undefined")
    same = [by_class[label][same_rng.integers(len(by_class[label]))] for label in held_out["label"]]
    everything = pool["report"].tolist()
    random = [everything[i] for i in any_rng.integers(len(everything), size=len(held_out))]
    return {"floor_same_class": same, "floor_random": random}


def evaluate_floors(
    manifest: pd.DataFrame,
    folds: pd.DataFrame,
    fold: int,
    seed: int = 0,
    **options: Unpack[ReportOptions],
) -> dict[str, Any]:
    """The floor JSON of one fold as a dict: {"fold", "n", "seed", "floors": {floor: {metric: value}}}.

    ``seed`` is evaluation.seed; the draws use ``seed + fold``. When the manifest has no reference report
    for any held-out image (a source without reports), ``floors`` is empty, with a warning, as the report
    metrics of a fold JSON are."""
    held, train = split_fold(manifest, folds, fold)
    result: dict[str, Any] = {"fold": int(fold), "n": len(held), "seed": int(seed) + int(fold), "floors": {}}
    references = held["report"].tolist()
    if not any(r.strip() for r in references):
        log.warning("fold %d: the manifest has no reference reports; report floors omitted", fold)
        return result
    labels = held["label"].astype(str).tolist()
    for name, hypotheses in floor_hypotheses(held, train, int(seed) + int(fold)).items():
        result["floors"][name] = score_reports(references, hypotheses, labels, **options)
    return result


def evaluate_floors_files(
    manifest_csv: str | Path,
    folds_csv: str | Path,
    out_json: str | Path,
    fold: int,
    seed: int = 0,
    **options: Unpack[ReportOptions],
) -> dict[str, Any]:
    """File-level wrapper of :func:`evaluate_floors`; the JSON is written atomically (nan -> null)."""
    result = evaluate_floors(read_manifest(manifest_csv), read_folds(folds_csv), fold, seed=seed, **options)
    write_json(out_json, result)
    for name, metrics in result["floors"].items():
        shown = {k: round(v, 4) for k, v in metrics.items() if np.isfinite(v)}
        log.info("%s fold %d (n=%d): %s", name, fold, result["n"], shown)
    return result


def summarize_floors(floor_results: Iterable[str | Path | Mapping[str, Any]]) -> pd.DataFrame:
    """summary.csv rows of the floors (variant = floor name, metric, mean, std, n_folds), from the per-fold
    floor JSONs or their dicts, with exactly the mean/std rules of :func:`summarize_folds`."""
    as_folds = []
    for item in floor_results:
        result = load_result(item)
        for name in FLOORS:
            metrics = result["floors"].get(name)
            if metrics is not None:
                as_folds.append({"variant": name, "fold": int(result["fold"]), "metrics": metrics})
    return summarize_folds(as_folds)
