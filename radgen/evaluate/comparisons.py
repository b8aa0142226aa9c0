"""Every variant against the reference (radgen): per-class clustered DeLong, paired macro-AUC bootstrap, Holm."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm

from radgen.constants import CLASSES
from radgen.evaluate.bootstrap import paired_bootstrap_test
from radgen.evaluate.delong import clustered_delong_cov, delta_test
from radgen.evaluate.metrics import ALPHA, binary_auc, nanmean, per_class_auc, validate

__all__ = [
    "ALPHA",
    "COMPARISON_COLUMNS",
    "FAMILY_CLASS",
    "FAMILY_MACRO",
    "METHOD_BOOTSTRAP",
    "METHOD_DELONG",
    "compare_to_reference",
    "holm",
    "verdict",
]

#: ``method`` and ``holm_family`` values of comparisons.csv.
METHOD_DELONG = "clustered DeLong"
METHOD_BOOTSTRAP = "paired cluster bootstrap"
FAMILY_CLASS = "per-class DeLong"
FAMILY_MACRO = "macro-AUC"
COMPARISON_COLUMNS = [
    "variant",
    "class",
    "auc",
    "auc_reference",
    "delta",
    "z",
    "p",
    "p_holm",
    "ci_low",
    "ci_high",
    "method",
    "holm_family",
    "verdict",
]


def holm(pvalues: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm-Bonferroni step-down adjusted p-values (family = the finite entries; nan stays nan)."""
    p = np.asarray(pvalues, dtype=float)
    out = np.full_like(p, np.nan)
    finite = np.flatnonzero(np.isfinite(p))
    if finite.size == 0:
        return out
    order = finite[np.argsort(p[finite], kind="stable")]
    k = len(order)
    adjusted = np.maximum.accumulate((k - np.arange(k)) * p[order])
    out[order] = np.minimum(adjusted, 1.0)
    return out


def verdict(delta: float, p_holm: float, alpha: float = ALPHA) -> str:
    """'higher'/'lower' only when the Holm-adjusted test rejects at ``alpha``; a missing p never does."""
    if not (math.isfinite(float(p_holm)) and float(p_holm) < alpha):
        return "no significant difference"
    return "higher" if delta > 0 else "lower"


def _class_row(
    y: np.ndarray, k: int, p_var: np.ndarray, p_ref: np.ndarray, groups: Any, alpha: float
) -> dict[str, Any]:
    """Clustered DeLong of one class (one-vs-rest) with its Wald interval of the AUC difference."""
    yk = (y == k).astype(int)
    try:
        aucs, cov = clustered_delong_cov(yk, np.vstack([p_var[:, k], p_ref[:, k]]), groups)
    except ValueError:  # fewer than 2 clusters on one side: the test is undefined
        auc, auc_ref = binary_auc(yk, p_var[:, k]), binary_auc(yk, p_ref[:, k])
        return {"auc": auc, "auc_reference": auc_ref, "delta": auc - auc_ref} | dict.fromkeys(
            ("z", "p", "ci_low", "ci_high"), math.nan
        )
    z, pval, se = delta_test(aucs, cov)
    delta = float(aucs[0] - aucs[1])
    half = float(norm.ppf(1.0 - alpha / 2.0)) * se
    return {
        "auc": float(aucs[0]),
        "auc_reference": float(aucs[1]),
        "delta": delta,
        "z": z,
        "p": pval,
        "ci_low": delta - half,
        "ci_high": delta + half,
    }


def _macro_row(
    y: np.ndarray,
    p_var: np.ndarray,
    p_ref: np.ndarray,
    groups: Any,
    n_resamples: int,
    seed: int,
    alpha: float,
) -> dict[str, Any]:
    """Paired cluster bootstrap of the macro-AUC difference (no z: the test is not a normal one)."""
    delta, low, high, pval = paired_bootstrap_test(
        y, p_var, p_ref, groups=groups, n_resamples=n_resamples, seed=seed, alpha=alpha
    )
    return {
        "auc": float(nanmean(per_class_auc(y, p_var))),
        "auc_reference": float(nanmean(per_class_auc(y, p_ref))),
        "delta": delta,
        "z": math.nan,
        "p": pval,
        "ci_low": low,
        "ci_high": high,
    }


def compare_to_reference(
    y_true: Sequence[int] | np.ndarray,
    probs_by_variant: Mapping[str, np.ndarray],
    reference: str = "radgen",
    groups: Sequence[Any] | np.ndarray | None = None,
    n_resamples: int = 1000,
    seed: int = 0,
    alpha: float = ALPHA,
) -> pd.DataFrame:
    """Every variant against the reference: per-class clustered DeLong and a paired macro-AUC bootstrap.

    Per variant, one row per class (one-vs-rest AUC, :func:`clustered_delong_test`, Wald ``1 - alpha``
    interval of the difference, method :data:`METHOD_DELONG`) and one row ``class = "macro"`` (paired
    patient bootstrap of the macro-AUC difference, :func:`paired_bootstrap_test`, method
    :data:`METHOD_BOOTSTRAP`). Holm's correction runs over two families: all per-class rows of all
    variants together (:data:`FAMILY_CLASS`) and all macro rows together (:data:`FAMILY_MACRO`); the
    ``verdict`` reads the Holm p at ``alpha``. ``groups`` (patient id per row) makes every test
    patient-level; without it each image is its own patient. All probability arrays must be rows of the
    same cases in the same order. Columns: :data:`COMPARISON_COLUMNS`; ``ci_low``/``ci_high`` are not
    multiplicity-adjusted.
    """
    if reference not in probs_by_variant:
        raise KeyError(f"reference variant {reference!r} missing; have {sorted(probs_by_variant)}")
    y, p_ref = validate(y_true, probs_by_variant[reference])
    rows = []
    for variant in (v for v in probs_by_variant if v != reference):
        _, p_var = validate(y, probs_by_variant[variant])
        for k, cls in enumerate(CLASSES[: p_ref.shape[1]]):
            row = _class_row(y, k, p_var, p_ref, groups, alpha)
            rows.append({"variant": variant, "class": cls, "method": METHOD_DELONG} | row)
            rows[-1]["holm_family"] = FAMILY_CLASS
        row = _macro_row(y, p_var, p_ref, groups, n_resamples, seed, alpha)
        rows.append({"variant": variant, "class": "macro", "method": METHOD_BOOTSTRAP} | row)
        rows[-1]["holm_family"] = FAMILY_MACRO
    table = pd.DataFrame(rows, columns=COMPARISON_COLUMNS)
    for family in (FAMILY_CLASS, FAMILY_MACRO):
        in_family = (table["holm_family"] == family).to_numpy()
        table.loc[in_family, "p_holm"] = holm(table.loc[in_family, "p"].to_numpy(float))
    table["p_holm"] = table["p_holm"].astype(float)
    table["verdict"] = [verdict(d, ph, alpha) for d, ph in zip(table["delta"], table["p_holm"], strict=True)]
    return table
