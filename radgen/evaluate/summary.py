"""Across folds and variants: summary.csv/json (mean ± std over folds), pooled out-of-fold CIs, comparisons.

Repeat studies of a patient are correlated, so every inference here is patient-level when the manifest's
``patient_id`` is given (an image with an empty patient_id is its own patient); without it, image-level.

- ``summary.csv``: variant,metric,mean,std,n_folds. ``std`` is the sample standard deviation over folds
  (ddof=1, empty when only one fold has the metric); a null metric in a fold JSON (undefined there, e.g. an
  AUC of a class absent from the fold) is skipped and ``n_folds`` counts the folds that have a value.
- ``pooled.csv``: variant,metric,value,ci_low,ci_high,unit on the concatenated out-of-fold predictions of
  each variant (every image once): stratified percentile bootstrap, resampling patients (``unit`` patient)
  or images (``unit`` image).
- ``comparisons.csv``: variant,class,auc,auc_reference,delta,z,p,p_holm,ci_low,ci_high,method,holm_family,
  verdict: each variant against the reference on the images both predicted; per class a clustered DeLong
  test (Obuchowski 1997), for ``class`` macro a paired patient bootstrap of the macro-AUC difference. Holm
  runs over two families (all per-class rows; all macro rows); ``verdict`` reads p_holm at
  :data:`~radgen.evaluate.classification.ALPHA`.
- ``comparisons.json``: the settings a reader needs to state the tests (alpha, families and their sizes,
  resamples, seed, unit).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from radgen.constants import PROB_COLUMNS
from radgen.evaluate.classification import (
    ALPHA,
    BOOTSTRAP_METRICS,
    COMPARISON_COLUMNS,
    FAMILY_CLASS,
    FAMILY_MACRO,
    METHOD_BOOTSTRAP,
    METHOD_DELONG,
    bootstrap_ci,
    compare_to_reference,
)
from radgen.evaluate.fold import METRIC_NAMES
from radgen.io import (
    json_safe,
    labels_to_index,
    load_result,
    read_manifest,
    read_predictions,
    write_csv,
    write_json,
)

__all__ = [
    "COMPARISON_COLUMNS",
    "POOLED_COLUMNS",
    "SUMMARY_COLUMNS",
    "comparisons_meta",
    "comparisons_table",
    "patient_groups",
    "pool_predictions",
    "pooled_table",
    "summarize_folds",
    "summary_to_json",
    "write_summary",
]

log = logging.getLogger(__name__)

SUMMARY_COLUMNS = ["variant", "metric", "mean", "std", "n_folds"]
POOLED_COLUMNS = ["variant", "metric", "value", "ci_low", "ci_high", "unit"]


def summarize_folds(fold_results: Iterable[str | Path | Mapping[str, Any]]) -> pd.DataFrame:
    """Mean and sample std over folds of every metric of every variant (fold JSON files or their dicts).

    Rows keep the variants in first-seen order and the metrics in :data:`METRIC_NAMES` order (unknown metric
    names after them, alphabetically), which is the order the paper's tables use.
    """
    values: dict[str, dict[str, list[float]]] = {}
    folds_seen: dict[str, set[int]] = {}
    for item in fold_results:
        result = load_result(item)
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


def patient_groups(manifest: pd.DataFrame) -> dict[str, str]:
    """image_id -> cluster key for the patient-level statistics; an empty patient_id is its own patient.

    Keys are prefixed ("patient:" / "image:") so an image id can never collide with a patient id.
    """
    if "patient_id" not in manifest.columns:
        raise ValueError("the manifest has no patient_id column; patient-level statistics need it")
    ids = manifest["image_id"].astype(str)
    pid = manifest["patient_id"].fillna("").astype(str).str.strip()
    keys = np.where(pid != "", "patient:" + pid, "image:" + ids)
    return dict(zip(ids, keys, strict=True))


def _groups_for(
    image_ids: Iterable[Any], patients: Mapping[str, str] | None, where: str
) -> np.ndarray | None:
    """Patient key of each image (None without patients); an image unknown to the manifest is an error."""
    if patients is None:
        return None
    ids = [str(i) for i in image_ids]
    missing = [i for i in ids if i not in patients]
    if missing:
        raise ValueError(f"{where}: {len(missing)} image_id(s) not in the manifest: {missing[:10]}")
    return np.array([patients[i] for i in ids])


def pooled_table(
    pooled: Mapping[str, pd.DataFrame],
    n_resamples: int = 1000,
    seed: int = 0,
    metrics: Sequence[str] = BOOTSTRAP_METRICS,
    patients: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Bootstrap 95% CIs of the headline metrics on each variant's pooled out-of-fold predictions.

    With ``patients`` (:func:`patient_groups`) the bootstrap resamples patients, else images; the
    ``unit`` column says which.
    """
    unit = "image" if patients is None else "patient"
    rows = []
    for variant, df in pooled.items():
        y = labels_to_index(df["label"], where=f"pooled predictions of {variant}")
        ci = bootstrap_ci(
            y,
            df[list(PROB_COLUMNS)].to_numpy(float),
            n_resamples=n_resamples,
            seed=seed,
            metrics=metrics,
            groups=_groups_for(df["image_id"], patients, f"pooled predictions of {variant}"),
        )
        for metric, (value, low, high) in ci.items():
            rows.append(
                {
                    "variant": variant,
                    "metric": metric,
                    "value": value,
                    "ci_low": low,
                    "ci_high": high,
                    "unit": unit,
                }
            )
    return pd.DataFrame(rows, columns=POOLED_COLUMNS)


def _common_images(pooled: Mapping[str, pd.DataFrame], reference: str) -> pd.Index:
    """Sorted image ids every variant predicted (a warning names each variant that differs)."""
    common = pd.Index(pooled[reference]["image_id"])
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
    return common.sort_values()


def comparisons_table(
    pooled: Mapping[str, pd.DataFrame],
    reference: str = "radgen",
    patients: Mapping[str, str] | None = None,
    n_resamples: int = 1000,
    seed: int = 0,
) -> pd.DataFrame:
    """Each variant vs the reference on their common images: per-class clustered DeLong and the paired
    macro-AUC bootstrap, Holm within the two families (:func:`compare_to_reference`); patient-level when
    ``patients`` is given."""
    if reference not in pooled:
        log.warning(
            "comparisons: reference variant %r has no predictions; comparisons.csv left empty", reference
        )
        return pd.DataFrame(columns=COMPARISON_COLUMNS)
    if len(pooled) < 2:
        return pd.DataFrame(columns=COMPARISON_COLUMNS)
    common = _common_images(pooled, reference)
    ref = pooled[reference].set_index("image_id")
    y = labels_to_index(ref.loc[common, "label"], where=f"pooled predictions of {reference}")
    probs = {
        v: df.set_index("image_id").loc[common, list(PROB_COLUMNS)].to_numpy(float)
        for v, df in pooled.items()
    }
    for variant, df in pooled.items():
        other = labels_to_index(df.set_index("image_id").loc[common, "label"], where=variant)
        if not np.array_equal(other, y):
            raise ValueError(f"comparisons: {variant} and {reference} disagree on the true labels")
    table = compare_to_reference(
        y,
        probs,
        reference=reference,
        groups=_groups_for(common, patients, "comparisons"),
        n_resamples=n_resamples,
        seed=seed,
    )
    return table[COMPARISON_COLUMNS]


def comparisons_meta(
    comparisons: pd.DataFrame, reference: str, unit: str, n_resamples: int, seed: int
) -> dict[str, Any]:
    """What the paper must state about comparisons.csv: level, Holm families and their sizes, unit."""
    families = {
        FAMILY_CLASS: {"method": METHOD_DELONG, "classes": "per class, one-vs-rest"},
        FAMILY_MACRO: {"method": METHOD_BOOTSTRAP, "classes": "macro"},
    }
    for name, info in families.items():
        info["n_tests"] = int((comparisons["holm_family"] == name).sum()) if len(comparisons) else 0
    return json_safe(
        {
            "alpha": ALPHA,
            "correction": "Holm",
            "families": families,
            "reference": reference,
            "unit": unit,
            "n_resamples": n_resamples,
            "seed": seed,
        }
    )


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
    manifest_csv: str | Path | None = None,
    comparisons_json: str | Path | None = None,
    floor_jsons: Iterable[str | Path] = (),
    compared: Sequence[str] | None = None,
) -> dict[str, pd.DataFrame]:
    """All cross-fold outputs in one call (each file written atomically); rows follow ``variant_order``
    (the config's order) when given. With ``manifest_csv`` the CIs and tests are patient-level.

    ``floor_jsons`` (radgen.evaluate.floors) add the report-metric floor rows to the summary; ``compared``
    names the variants tested against the reference (default: all), so that an oracle row is not part of
    the Holm family of the comparisons the paper states."""
    from radgen.evaluate.floors import summarize_floors

    summary = summarize_folds(fold_jsons)
    floor_jsons = list(floor_jsons)
    if floor_jsons:
        summary = pd.concat([summary, summarize_floors(floor_jsons)], ignore_index=True)
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
    patients = patient_groups(read_manifest(manifest_csv)) if manifest_csv else None
    pooled = pool_predictions(predictions_by_variant)
    pooled_df = pooled_table(pooled, n_resamples=n_resamples, seed=seed, patients=patients)
    tested = pooled if compared is None else {v: d for v, d in pooled.items() if v in {*compared, reference}}
    comparisons = comparisons_table(
        tested, reference=reference, patients=patients, n_resamples=n_resamples, seed=seed
    )
    write_csv(summary, summary_csv)
    write_json(summary_json, summary_to_json(summary))
    write_csv(pooled_df, pooled_csv)
    write_csv(comparisons, comparisons_csv)
    if comparisons_json:
        unit = "image" if patients is None else "patient"
        write_json(comparisons_json, comparisons_meta(comparisons, reference, unit, n_resamples, seed))
    log.info(
        "summary: %d variants, %d rows; pooled: %d rows; comparisons: %d rows",
        summary["variant"].nunique(),
        len(summary),
        len(pooled_df),
        len(comparisons),
    )
    return {"summary": summary, "pooled": pooled_df, "comparisons": comparisons}
