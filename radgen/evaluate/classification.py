"""Classification metrics, bootstrap confidence intervals and DeLong tests: pure functions over arrays.

Conventions (shared by every function here):
- ``y_true``: integer labels in ``0..C-1`` in the order of :data:`radgen.constants.CLASSES`;
- ``probs``: ``[n, C]`` class probabilities (any scores work for the AUCs; only their order matters);
- the predicted class is ``argmax(probs)`` (ties go to the first class, as ``numpy.argmax`` does);
- metrics of a class that is absent from ``y_true`` are ``nan`` and macro averages skip them
  (as scikit-learn's ``balanced_accuracy_score`` does); ``nan`` is written as JSON ``null`` downstream.

AUCs are computed from midranks (Mann-Whitney form), which is what makes the fast DeLong
(Sun & Xu 2014) and the vectorised bootstrap cheap: one sort per resample and class.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy.stats import norm, rankdata
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

from radgen.constants import CLASSES

__all__ = [
    "BOOTSTRAP_METRICS",
    "binary_auc",
    "bootstrap_ci",
    "classification_metrics",
    "compare_to_reference",
    "confusion",
    "delong_ci",
    "delong_test",
    "holm",
    "per_class_auc",
    "predicted_labels",
]

#: metrics that :func:`bootstrap_ci` resamples by default (the ones the paper quotes with CIs).
BOOTSTRAP_METRICS: tuple[str, ...] = (
    "macro_auc",
    *(f"auc_{c}" for c in CLASSES),
    "macro_f1",
    "balanced_accuracy",
)


def _validate(y_true: Sequence[int] | np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Coerce inputs and fail early with a readable message (shape or label range errors are common)."""
    y = np.asarray(y_true)
    p = np.asarray(probs, dtype=float)
    if p.ndim != 2:
        raise ValueError(f"probs must be 2-D [n, n_classes], got shape {p.shape}")
    if y.ndim != 1 or len(y) != len(p):
        raise ValueError(f"y_true must be 1-D with len(probs)={len(p)} entries, got shape {y.shape}")
    if len(y) == 0:
        raise ValueError("no cases to evaluate")
    if not np.issubdtype(y.dtype, np.integer):
        if not np.all(np.equal(np.mod(y, 1), 0)):
            raise ValueError("y_true must hold integer class indices")
        y = y.astype(int)
    if y.min() < 0 or y.max() >= p.shape[1]:
        raise ValueError(f"y_true must be in 0..{p.shape[1] - 1}, got values {sorted(set(y.tolist()))}")
    if not np.all(np.isfinite(p)):
        raise ValueError("probs contain nan or inf")
    return y.astype(np.int64), p


def predicted_labels(probs: np.ndarray) -> np.ndarray:
    """Arg-max decision rule used by every threshold metric (the models are trained with softmax CE)."""
    return np.asarray(probs).argmax(axis=1)


def binary_auc(y_binary: np.ndarray, scores: np.ndarray) -> float:
    """ROC AUC from midranks (= P(score_pos > score_neg) + ½ P(tie)); nan when one class is missing."""
    y = np.asarray(y_binary).astype(bool)
    s = np.asarray(scores, dtype=float)
    m = int(y.sum())
    n = len(y) - m
    if m == 0 or n == 0:
        return math.nan
    ranks = rankdata(s)
    return float((ranks[y].sum() - m * (m + 1) / 2.0) / (m * n))


def per_class_auc(y_true: Sequence[int] | np.ndarray, probs: np.ndarray) -> np.ndarray:
    """One-vs-rest AUC of each class (nan for a class absent from y_true or present alone)."""
    y, p = _validate(y_true, probs)
    return np.array([binary_auc(y == k, p[:, k]) for k in range(p.shape[1])])


def confusion(y_true: Sequence[int] | np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Confusion matrix, rows true class, columns predicted class, in CLASSES order."""
    y, p = _validate(y_true, probs)
    return confusion_matrix(y, predicted_labels(p), labels=list(range(p.shape[1])))


def _nanmean(values: np.ndarray, axis: int | None = None) -> np.ndarray | float:
    """nanmean without the 'mean of empty slice' RuntimeWarning (all-nan gives nan, silently)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)
        return np.nanmean(values, axis=axis)


def _rates_from_cm(cm: np.ndarray) -> dict[str, np.ndarray]:
    """Per-class rates from confusion matrices [..., C, C] (vectorised: also used by the bootstrap)."""
    cm = cm.astype(float)
    tp = np.diagonal(cm, axis1=-2, axis2=-1)
    support = cm.sum(axis=-1)  # true count per class
    predicted = cm.sum(axis=-2)
    total = cm.sum(axis=(-2, -1))[..., None]
    fn = support - tp
    fp = predicted - tp
    tn = total - tp - fn - fp
    with np.errstate(invalid="ignore", divide="ignore"):
        sensitivity = np.where(support > 0, tp / support, np.nan)
        specificity = np.where(tn + fp > 0, tn / (tn + fp), np.nan)
        denom = 2 * tp + fp + fn
        f1 = np.where(denom > 0, 2 * tp / np.where(denom > 0, denom, 1), 0.0)  # sklearn zero_division=0
    return {"sensitivity": sensitivity, "specificity": specificity, "f1": f1, "support": support}


def classification_metrics(y_true: Sequence[int] | np.ndarray, probs: np.ndarray) -> dict[str, float]:
    """All threshold and ranking metrics of one set of predictions, with the flat names of CONTRACTS.md.

    macro_auc is the unweighted mean of the one-vs-rest AUCs (scikit-learn's ``multi_class="ovr"``,
    ``average="macro"``); macro_f1 averages over all classes with zero_division=0 (scikit-learn's
    ``f1_score(average="macro", labels=all)``); balanced_accuracy is the mean sensitivity over the classes
    present in y_true (scikit-learn's ``balanced_accuracy_score``).
    """
    y, p = _validate(y_true, probs)
    n_classes = p.shape[1]
    if n_classes != len(CLASSES):
        raise ValueError(
            f"expected {len(CLASSES)} probability columns ({', '.join(CLASSES)}), got {n_classes}"
        )
    pred = predicted_labels(p)
    aucs = per_class_auc(y, p)
    cm = confusion_matrix(y, pred, labels=list(range(n_classes)))
    rates = _rates_from_cm(cm)
    out: dict[str, float] = {"macro_auc": float(_nanmean(aucs))}
    out.update({f"auc_{c}": float(a) for c, a in zip(CLASSES, aucs, strict=True)})
    out["macro_f1"] = float(
        f1_score(y, pred, labels=list(range(n_classes)), average="macro", zero_division=0)
    )
    out["accuracy"] = float(accuracy_score(y, pred))
    out["balanced_accuracy"] = float(_nanmean(rates["sensitivity"]))
    out.update({f"sensitivity_{c}": float(v) for c, v in zip(CLASSES, rates["sensitivity"], strict=True)})
    out.update({f"specificity_{c}": float(v) for c, v in zip(CLASSES, rates["specificity"], strict=True)})
    return out


# ----------------------------------------------------------------------------------------------- bootstrap


def _stratified_indices(y: np.ndarray, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """[B, n] resampling indices drawn with replacement inside each true class (class counts kept fixed)."""
    blocks = []
    for k in np.unique(y):
        members = np.flatnonzero(y == k)
        blocks.append(members[rng.integers(0, len(members), size=(n_resamples, len(members)))])
    return np.concatenate(blocks, axis=1)


def _auc_rows(y_binary: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """AUC of each row of [B, n] (labels and scores already resampled); rank once per row."""
    m = y_binary.sum(axis=1).astype(float)
    n = y_binary.shape[1] - m
    ranks = rankdata(scores, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = ((ranks * y_binary).sum(axis=1) - m * (m + 1) / 2.0) / (m * n)
    return np.where((m > 0) & (n > 0), auc, np.nan)


def _bootstrap_distribution(
    y: np.ndarray, p: np.ndarray, idx: np.ndarray, metrics: Sequence[str], chunk: int = 250
) -> dict[str, np.ndarray]:
    """Metric values on each resample, computed in chunks of resamples to bound memory ([chunk, n] arrays)."""
    n_classes = p.shape[1]
    pred = predicted_labels(p)
    need_auc = any(name == "macro_auc" or name.startswith("auc_") for name in metrics)
    need_cm = any(not (name == "macro_auc" or name.startswith("auc_")) for name in metrics)
    values: dict[str, list[np.ndarray]] = {name: [] for name in metrics}
    for start in range(0, idx.shape[0], chunk):
        block = idx[start : start + chunk]
        yb = y[block]
        per: dict[str, np.ndarray] = {}
        if need_auc:
            aucs = np.stack([_auc_rows(yb == k, p[block, k]) for k in range(n_classes)], axis=1)
            per["macro_auc"] = _nanmean(aucs, axis=1)
            for k, c in enumerate(CLASSES[:n_classes]):
                per[f"auc_{c}"] = aucs[:, k]
        if need_cm:
            b = np.arange(len(block))[:, None]
            flat = (b * n_classes + yb) * n_classes + pred[block]
            cm = np.bincount(flat.ravel(), minlength=len(block) * n_classes * n_classes)
            cm = cm.reshape(len(block), n_classes, n_classes)
            rates = _rates_from_cm(cm)
            per["macro_f1"] = rates["f1"].mean(axis=1)
            per["balanced_accuracy"] = _nanmean(rates["sensitivity"], axis=1)
            per["accuracy"] = np.trace(cm, axis1=1, axis2=2) / cm.sum(axis=(1, 2))
            for k, c in enumerate(CLASSES[:n_classes]):
                per[f"sensitivity_{c}"] = rates["sensitivity"][:, k]
                per[f"specificity_{c}"] = rates["specificity"][:, k]
        for name in metrics:
            if name not in per:
                raise KeyError(f"metric {name!r} cannot be bootstrapped; choose from {sorted(per)}")
            values[name].append(per[name])
    return {name: np.concatenate(v) for name, v in values.items()}


def bootstrap_ci(
    y_true: Sequence[int] | np.ndarray,
    probs: np.ndarray,
    n_resamples: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
    metrics: Iterable[str] = BOOTSTRAP_METRICS,
) -> dict[str, tuple[float, float, float]]:
    """Stratified percentile bootstrap: ``{metric: (value on all data, ci_low, ci_high)}``.

    Cases are resampled with replacement inside each true class so every resample keeps the class counts
    (and every class AUC stays defined). Deterministic for a seed. Any metric of
    :func:`classification_metrics` except the confusion matrix can be requested.
    """
    y, p = _validate(y_true, probs)
    if n_resamples < 1:
        raise ValueError("n_resamples must be >= 1")
    metrics = tuple(metrics)
    point = classification_metrics(y, p)
    rng = np.random.default_rng(seed)
    idx = _stratified_indices(y, n_resamples, rng)
    dist = _bootstrap_distribution(y, p, idx, metrics)
    out: dict[str, tuple[float, float, float]] = {}
    for name in metrics:
        d = dist[name][np.isfinite(dist[name])]
        if d.size == 0:
            out[name] = (point[name], math.nan, math.nan)
            continue
        low, high = np.quantile(d, [alpha / 2.0, 1.0 - alpha / 2.0])
        out[name] = (point[name], float(low), float(high))
    return out


# ----------------------------------------------------------------------------------------------- DeLong


def _delong_components(y_binary: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """AUCs and their DeLong covariance for k score vectors [k, n] on one binary label (Sun & Xu 2014).

    With midranks T_x (positives among themselves), T_y (negatives among themselves) and T_z (all cases),
    the structural components are V10 = (T_z - T_x)/n for the positives and V01 = 1 - (T_z - T_y)/m for the
    negatives; AUC = mean V10 and Cov = S10/m + S01/n with S the sample covariances (ddof=1).
    """
    y = np.asarray(y_binary).astype(bool)
    s = np.atleast_2d(np.asarray(scores, dtype=float))
    m = int(y.sum())
    n = len(y) - m
    if m < 2 or n < 2:
        raise ValueError(f"DeLong needs at least 2 positive and 2 negative cases, got {m} and {n}")
    pos, neg = s[:, y], s[:, ~y]
    tx = rankdata(pos, axis=1)
    ty = rankdata(neg, axis=1)
    tz = rankdata(np.concatenate([pos, neg], axis=1), axis=1)
    v10 = (tz[:, :m] - tx) / n
    v01 = 1.0 - (tz[:, m:] - ty) / m
    aucs = v10.mean(axis=1)
    cov = np.atleast_2d(np.cov(v10)) / m + np.atleast_2d(np.cov(v01)) / n
    return aucs, cov


def delong_test(
    y_true: Sequence[int] | np.ndarray, scores_a: np.ndarray, scores_b: np.ndarray
) -> tuple[float, float]:
    """Paired DeLong test of AUC(a) = AUC(b) on the same cases: ``(z, two-sided p)``; z > 0 when a is better.

    ``y_true`` is binary (0/1 or bool). Identical score vectors (zero variance of the difference) give
    ``(0.0, 1.0)``.
    """
    y = np.asarray(y_true)
    if not np.isin(np.unique(y), [0, 1]).all():
        raise ValueError("delong_test needs a binary y_true (0/1); use one-vs-rest labels for multi-class")
    a = np.asarray(scores_a, dtype=float)
    b = np.asarray(scores_b, dtype=float)
    if a.shape != y.shape or b.shape != y.shape:
        raise ValueError(f"scores must match y_true's shape {y.shape}, got {a.shape} and {b.shape}")
    aucs, cov = _delong_components(y, np.vstack([a, b]))
    var = cov[0, 0] + cov[1, 1] - 2.0 * cov[0, 1]
    delta = aucs[0] - aucs[1]
    if var <= 1e-15:
        return 0.0, 1.0
    z = float(delta / math.sqrt(var))
    return z, float(2.0 * norm.sf(abs(z)))


def delong_ci(
    y_true: Sequence[int] | np.ndarray, scores: np.ndarray, alpha: float = 0.05
) -> tuple[float, float, float]:
    """AUC with its DeLong (normal approximation) ``1 - alpha`` interval, clipped to [0, 1]."""
    y = np.asarray(y_true)
    if not np.isin(np.unique(y), [0, 1]).all():
        raise ValueError("delong_ci needs a binary y_true (0/1)")
    aucs, cov = _delong_components(y, np.asarray(scores, dtype=float)[None, :])
    auc = float(aucs[0])
    half = float(norm.ppf(1.0 - alpha / 2.0) * math.sqrt(max(cov[0, 0], 0.0)))
    return auc, max(0.0, auc - half), min(1.0, auc + half)


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


def compare_to_reference(
    y_true: Sequence[int] | np.ndarray,
    probs_by_variant: Mapping[str, np.ndarray],
    reference: str = "radgen",
) -> pd.DataFrame:
    """One-vs-rest DeLong test of every variant against the reference, per class, Holm-corrected.

    The family for Holm's correction is the set of variants compared with the reference within one class
    (the question "is baseline X different from RadGen on class c?" asked for every X). All probability
    arrays must be rows of the same cases in the same order. Columns follow CONTRACTS.md:
    variant, class, auc, auc_reference, delta, z, p, p_holm.
    """
    if reference not in probs_by_variant:
        raise KeyError(f"reference variant {reference!r} missing; have {sorted(probs_by_variant)}")
    y, p_ref = _validate(y_true, probs_by_variant[reference])
    others = [v for v in probs_by_variant if v != reference]
    rows = []
    for k, cls in enumerate(CLASSES[: p_ref.shape[1]]):
        yk = (y == k).astype(int)
        block = []
        for variant in others:
            _, p_var = _validate(y, probs_by_variant[variant])
            try:
                aucs, _ = _delong_components(yk, np.vstack([p_var[:, k], p_ref[:, k]]))
                z, pval = delong_test(yk, p_var[:, k], p_ref[:, k])
                auc, auc_ref = float(aucs[0]), float(aucs[1])
            except ValueError:  # fewer than 2 cases on one side: the test is undefined
                auc = binary_auc(yk, p_var[:, k])
                auc_ref = binary_auc(yk, p_ref[:, k])
                z, pval = math.nan, math.nan
            block.append(
                {
                    "variant": variant,
                    "class": cls,
                    "auc": auc,
                    "auc_reference": auc_ref,
                    "delta": auc - auc_ref,
                    "z": z,
                    "p": pval,
                }
            )
        adjusted = holm([r["p"] for r in block])
        for r, ph in zip(block, adjusted, strict=True):
            r["p_holm"] = float(ph)
        rows.extend(block)
    columns = ["variant", "class", "auc", "auc_reference", "delta", "z", "p", "p_holm"]
    return pd.DataFrame(rows, columns=columns)
