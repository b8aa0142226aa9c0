"""Every metric of one (variant, fold): predictions CSV + manifest -> results/metrics/{variant}/fold{k}.json."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypedDict, Unpack

import numpy as np
import pandas as pd

from radgen.constants import CLASSES, PROB_COLUMNS
from radgen.evaluate.classification import classification_metrics, confusion
from radgen.evaluate.labeler import (
    CE_FINDINGS_METRICS,
    CE_METRICS,
    MAIN_FINDING_METRIC,
    ce_findings_metrics,
    ce_metrics,
    main_finding_rate,
)
from radgen.evaluate.reports import REPORT_METRICS, radcliq_score, report_metrics
from radgen.io import labels_to_index, read_manifest, read_predictions, write_json

__all__ = [
    "CLASSIFICATION_METRICS",
    "METRIC_NAMES",
    "ReportOptions",
    "evaluate_fold",
    "evaluate_fold_files",
    "report_options",
    "score_reports",
]

log = logging.getLogger(__name__)

CLASSIFICATION_METRICS: tuple[str, ...] = (
    "macro_auc",
    *(f"auc_{c}" for c in CLASSES),
    "macro_f1",
    "accuracy",
    "balanced_accuracy",
    *(f"sensitivity_{c}" for c in CLASSES),
    *(f"specificity_{c}" for c in CLASSES),
)

#: every metric name of CONTRACTS.md, in the order tables list them (METEOR / RadCliQ only when computed).
METRIC_NAMES: tuple[str, ...] = (
    *CLASSIFICATION_METRICS,
    *REPORT_METRICS,
    "METEOR",
    *CE_METRICS,
    *CE_FINDINGS_METRICS,
    MAIN_FINDING_METRIC,
    "RadCliQ",
)


class ReportOptions(TypedDict, total=False):
    """How reports are scored: METEOR (None = when Java works), RadCliQ, uncertain findings as positive."""

    meteor: bool | None
    radcliq: bool
    uncertain_as_positive: bool


def report_options(evaluation: Mapping[str, Any]) -> ReportOptions:
    """The config's ``evaluation`` block -> :class:`ReportOptions` (``meteor: auto`` -> None)."""
    meteor = evaluation["meteor"]
    return {
        "meteor": None if meteor == "auto" else bool(meteor),
        "radcliq": bool(evaluation["radcliq"]),
        "uncertain_as_positive": bool(evaluation["uncertain_as_positive"]),
    }


def evaluate_fold(
    predictions: pd.DataFrame,
    manifest: pd.DataFrame | None,
    variant: str,
    fold: int,
    with_reports: bool,
    **options: Unpack[ReportOptions],
) -> dict[str, Any]:
    """The fold JSON as a dict: {"variant", "fold", "n", "metrics", "confusion_matrix"}.

    ``with_reports``: the variant generates its own reports (model.report_generator.enabled), so its
    ``report_generated`` column is scored against the manifest's reference reports (BLEU/ROUGE-L/CIDEr,
    METEOR when Java works, clinical efficacy). Variants that only read another variant's reports get
    classification metrics only, so no number is attributed twice. When no reference report exists for
    any case (a source without reports), report metrics are omitted with a warning.
    """
    y = labels_to_index(predictions["label"], where=f"predictions of {variant} fold {fold}")
    probs = predictions[list(PROB_COLUMNS)].to_numpy(dtype=float)
    metrics: dict[str, float] = dict(classification_metrics(y, probs))
    if with_reports:
        if manifest is None:
            raise ValueError(f"{variant} fold {fold}: report metrics need the manifest's reference reports")
        metrics.update(_report_block(predictions, manifest, variant, fold, options))
    return {
        "variant": variant,
        "fold": int(fold),
        "n": len(predictions),
        "metrics": metrics,
        "confusion_matrix": confusion(y, probs).tolist(),
    }


def _report_block(
    predictions: pd.DataFrame,
    manifest: pd.DataFrame,
    variant: str,
    fold: int,
    options: ReportOptions,
) -> dict[str, float]:
    reports = manifest.set_index("image_id")["report"]
    missing = sorted(set(predictions["image_id"]) - set(reports.index))
    if missing:
        raise ValueError(
            f"{variant} fold {fold}: {len(missing)} image_id(s) not in the manifest: {missing[:10]}"
        )
    references = reports.loc[predictions["image_id"]].fillna("").astype(str).tolist()
    hypotheses = predictions["report_generated"].fillna("").astype(str).tolist()
    if not any(r.strip() for r in references):
        log.warning(
            "%s fold %d: the manifest has no reference reports; report metrics omitted", variant, fold
        )
        return {}
    n_empty = sum(1 for h in hypotheses if not h.strip())
    if n_empty == len(hypotheses):
        log.warning("%s fold %d: every generated report is empty (scored as such)", variant, fold)
    labels = predictions["label"].astype(str).tolist()
    return score_reports(references, hypotheses, labels, **options)


def score_reports(
    references: list[str],
    hypotheses: list[str],
    labels: list[str],
    meteor: bool | None = None,
    radcliq: bool = False,
    uncertain_as_positive: bool = False,
) -> dict[str, float]:
    """Every report metric of hypotheses against references, scored together (CIDEr's document frequencies
    come from this set): BLEU/ROUGE-L/CIDEr (METEOR), full and findings-only clinical efficacy, the main
    finding rate against the true class ``labels``, and RadCliQ when asked. The one scoring path shared by
    generated reports and the floors (:mod:`radgen.evaluate.floors`), so the two are comparable."""
    out = report_metrics(references, hypotheses, meteor=meteor)
    out.update(ce_metrics(references, hypotheses, uncertain_as_positive=uncertain_as_positive))
    out.update(ce_findings_metrics(references, hypotheses, uncertain_as_positive=uncertain_as_positive))
    out[MAIN_FINDING_METRIC] = main_finding_rate(hypotheses, labels)
    if radcliq:
        out["RadCliQ"] = radcliq_score(references, hypotheses)
    return out


def evaluate_fold_files(
    predictions_csv: str | Path,
    manifest_csv: str | Path | None,
    out_json: str | Path,
    variant: str,
    fold: int,
    with_reports: bool,
    **options: Unpack[ReportOptions],
) -> dict[str, Any]:
    """File-level wrapper of :func:`evaluate_fold`; the JSON is written atomically (nan -> null)."""
    predictions = read_predictions(predictions_csv)
    manifest = read_manifest(manifest_csv) if manifest_csv else None
    result = evaluate_fold(predictions, manifest, variant, fold, with_reports, **options)
    write_json(out_json, result)
    shown = {k: round(v, 4) for k, v in result["metrics"].items() if isinstance(v, float) and np.isfinite(v)}
    log.info("%s fold %d (n=%d): %s", variant, fold, result["n"], shown)
    return result
