"""Across folds and variants: summary.csv/json (mean ± std over folds), pooled out-of-fold CIs, DeLong tests.

- ``summary.csv``: variant,metric,mean,std,n_folds. ``std`` is the sample standard deviation over folds
  (ddof=1, empty when only one fold has the metric); a null metric in a fold JSON (undefined there, e.g. an
  AUC of a class absent from the fold) is skipped and ``n_folds`` counts the folds that have a value.
- ``pooled.csv``: variant,metric,value,ci_low,ci_high on the concatenated out-of-fold predictions of each
  variant (every image once), stratified percentile bootstrap.
- ``comparisons.csv``: variant,class,auc,auc_reference,delta,z,p,p_holm: one-vs-rest DeLong test of each
  variant against the reference variant on the images both predicted, Holm-corrected across the variants
  within each class.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from radgen.constants import PROB_COLUMNS
from radgen.evaluate.classification import BOOTSTRAP_METRICS, bootstrap_ci, compare_to_reference
from radgen.evaluate.fold import METRIC_NAMES
from radgen.evaluate.io import json_safe, labels_to_index, read_predictions, write_csv, write_json

__all__ = [
    "COMPARISON_COLUMNS",
    "POOLED_COLUMNS",
    "SUMMARY_COLUMNS",
    "comparisons_table",
    "pool_predictions",
    "pooled_table",
    "summarize_folds",
    "summary_to_json",
    "write_summary",
]

log = logging.getLogger(__name__)

SUMMARY_COLUMNS = ["variant", "metric", "mean", "std", "n_folds"]
POOLED_COLUMNS = ["variant", "metric", "value", "ci_low", "ci_high"]
COMPARISON_COLUMNS = ["variant", "class", "auc", "auc_reference", "delta", "z", "p", "p_holm"]


def _load(item: str | Path | Mapping[str, Any]) -> Mapping[str, Any]:
    if isinstance(item, Mapping):
        return item
    with open(item) as fh:
        return json.load(fh)


def summarize_folds(fold_results: Iterable[str | Path | Mapping[str, Any]]) -> pd.DataFrame:
    """Mean and sample std over folds of every metric of every variant (fold JSON files or their dicts).

    Rows keep the variants in first-seen order and the metrics in :data:`METRIC_NAMES` order (unknown metric
    names after them, alphabetically), which is the order the paper's tables use.
    """
    values: dict[str, dict[str, list[float]]] = {}
    folds_seen: dict[str, set[int]] = {}
    for item in fold_results:
        result = _load(item)
        variant = str(result["variant"])
        fold = int(result["fold"])
        if fold in folds_seen.setdefault(variant, set()):
            raise ValueError(f"{variant}: fold {fold} given twice")
        folds_seen[variant].add(fold)
        per_variant = values.setdefault(variant, {})
        for metric, value in result["metrics"].items():
            per_variant.setdefault(metric, [])
            if value is not None and np.isfinite(float(value)):
                per_variant[metric].append(float(value))
    rank = {m: i for i, m in enumerate(METRIC_NAMES)}
    rows = []
    for variant, metrics in values.items():
        for metric in sorted(metrics, key=lambda m: (rank.get(m, len(rank)), m)):
            v = np.asarray(metrics[metric], dtype=float)
            rows.append(
                {
                    "variant": variant,
                    "metric": metric,
                    "mean": float(v.mean()) if v.size else np.nan,
                    "std": float(v.std(ddof=1)) if v.size > 1 else np.nan,
                    "n_folds": int(v.size),
                }
            )
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def summary_to_json(summary: pd.DataFrame) -> dict[str, dict[str, dict[str, Any]]]:
    """{variant: {metric: {"mean", "std", "n_folds"}}}, the JSON twin of summary.csv (nan -> null)."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for row in summary.itertuples(index=False):
        out.setdefault(row.variant, {})[row.metric] = {
            "mean": row.mean,
            "std": row.std,
            "n_folds": row.n_folds,
        }
    return json_safe(out)


def predictions_by_variant(paths: Sequence[str | Path]) -> dict[str, list[str]]:
    """Group results/predictions/{variant}/fold{k}.csv paths by their variant folder, folds sorted."""
    grouped: dict[str, list[str]] = {}
    for path in paths:
        grouped.setdefault(Path(path).parent.name, []).append(str(path))
    return {variant: sorted(files) for variant, files in grouped.items()}


def pool_predictions(paths_by_variant: Mapping[str, Sequence[str | Path]]) -> dict[str, pd.DataFrame]:
    """Concatenate each variant's fold prediction CSVs (its out-of-fold predictions); an image predicted in
    two folds is an error (it would mean a leak between folds)."""
    pooled: dict[str, pd.DataFrame] = {}
    for variant, paths in paths_by_variant.items():
        frames = []
        for path in paths:
            df = read_predictions(path)
            df["source"] = str(path)
            frames.append(df)
        if not frames:
            raise ValueError(f"{variant}: no prediction files")
        df = pd.concat(frames, ignore_index=True)
        dup = df["image_id"].duplicated(keep=False)
        if dup.any():
            where = df.loc[dup].groupby("image_id")["source"].apply(list).head(5).to_dict()
            raise ValueError(f"{variant}: images predicted in more than one fold file: {where}")
        pooled[variant] = (
            df.drop(columns="source").sort_values("image_id", kind="stable").reset_index(drop=True)
        )
    return pooled


def pooled_table(
    pooled: Mapping[str, pd.DataFrame],
    n_resamples: int = 1000,
    seed: int = 0,
    metrics: Sequence[str] = BOOTSTRAP_METRICS,
) -> pd.DataFrame:
    """Bootstrap 95% CIs of the headline metrics on each variant's pooled out-of-fold predictions."""
    rows = []
    for variant, df in pooled.items():
        y = labels_to_index(df["label"], where=f"pooled predictions of {variant}")
        ci = bootstrap_ci(
            y, df[list(PROB_COLUMNS)].to_numpy(float), n_resamples=n_resamples, seed=seed, metrics=metrics
        )
        for metric, (value, low, high) in ci.items():
            rows.append(
                {"variant": variant, "metric": metric, "value": value, "ci_low": low, "ci_high": high}
            )
    return pd.DataFrame(rows, columns=POOLED_COLUMNS)


def comparisons_table(pooled: Mapping[str, pd.DataFrame], reference: str = "radgen") -> pd.DataFrame:
    """DeLong of each variant vs the reference per class on their common images (Holm across variants)."""
    if reference not in pooled:
        log.warning(
            "comparisons: reference variant %r has no predictions; comparisons.csv left empty", reference
        )
        return pd.DataFrame(columns=COMPARISON_COLUMNS)
    if len(pooled) < 2:
        return pd.DataFrame(columns=COMPARISON_COLUMNS)
    ref = pooled[reference].set_index("image_id")
    common = ref.index
    for variant, df in pooled.items():
        ids = pd.Index(df["image_id"])
        if not ids.equals(common) and set(ids) != set(common):
            log.warning(
                "comparisons: %s and %s predicted different images; testing on the %d in common",
                variant,
                reference,
                len(common.intersection(ids)),
            )
        common = common.intersection(ids)
    if len(common) == 0:
        raise ValueError("comparisons: the variants share no predicted image")
    common = common.sort_values()
    y = labels_to_index(ref.loc[common, "label"], where=f"pooled predictions of {reference}")
    probs = {
        v: df.set_index("image_id").loc[common, list(PROB_COLUMNS)].to_numpy(float)
        for v, df in pooled.items()
    }
    for variant, df in pooled.items():
        other = labels_to_index(df.set_index("image_id").loc[common, "label"], where=variant)
        if not np.array_equal(other, y):
            raise ValueError(f"comparisons: {variant} and {reference} disagree on the true labels")
    table = compare_to_reference(y, probs, reference=reference)
    return table[COMPARISON_COLUMNS]


def write_summary(
    fold_jsons: Iterable[str | Path],
    predictions_by_variant: Mapping[str, Sequence[str | Path]],
    summary_csv: str | Path,
    summary_json: str | Path,
    pooled_csv: str | Path,
    comparisons_csv: str | Path,
    reference: str = "radgen",
    n_resamples: int = 1000,
    seed: int = 0,
    variant_order: Sequence[str] | None = None,
) -> dict[str, pd.DataFrame]:
    """All cross-fold outputs in one call (each file written atomically); rows follow ``variant_order``
    (the config's order) when given."""
    summary = summarize_folds(fold_jsons)
    order = list(variant_order or [])
    if order:
        rank = {v: i for i, v in enumerate(order)}
        summary = summary.sort_values(
            "variant", key=lambda s: s.map(lambda v: rank.get(v, len(rank))), kind="stable"
        )
        summary = summary.reset_index(drop=True)
        predictions_by_variant = dict(
            sorted(predictions_by_variant.items(), key=lambda kv: rank.get(kv[0], len(rank)))
        )
    pooled = pool_predictions(predictions_by_variant)
    pooled_df = pooled_table(pooled, n_resamples=n_resamples, seed=seed)
    comparisons = comparisons_table(pooled, reference=reference)
    write_csv(summary_csv, summary)
    write_json(summary_json, summary_to_json(summary))
    write_csv(pooled_csv, pooled_df)
    write_csv(comparisons_csv, comparisons)
    log.info(
        "summary: %d variants, %d rows; pooled: %d rows; comparisons: %d rows",
        summary["variant"].nunique(),
        len(summary),
        len(pooled_df),
        len(comparisons),
    )
    return {"summary": summary, "pooled": pooled_df, "comparisons": comparisons}
