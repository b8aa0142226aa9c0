"""Classification metrics, bootstrap confidence intervals and DeLong tests: pure functions over arrays.

Conventions (shared by every function here):
- ``y_true``: integer labels in ``0..C-1`` in the order of :data:`radgen.constants.CLASSES`;
- ``probs``: ``[n, C]`` class probabilities (any scores work for the AUCs; only their order matters);
- the predicted class is ``argmax(probs)`` (ties go to the first class, as ``numpy.argmax`` does);
- metrics of a class that is absent from ``y_true`` are ``nan`` and macro averages skip them
  (as scikit-learn's ``balanced_accuracy_score`` does); ``nan`` is written as JSON ``null`` downstream.

AUCs are computed from midranks (Mann-Whitney form), which is what makes the fast DeLong
(Sun & Xu 2014) and the vectorised bootstrap cheap: one sort per resample and class.

Repeat studies of one patient are not independent, so every inference here can take ``groups`` (one
patient id per row): the bootstrap then resamples patients (cluster bootstrap) and the DeLong variance
becomes Obuchowski's (1997) clustered one. Without ``groups`` each row is its own patient, which gives
back the image-level bootstrap and the classic DeLong test exactly.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm, rankdata
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

from radgen.constants import CLASSES

__all__ = [
    "ALPHA",
    "BOOTSTRAP_METRICS",
    "COMPARISON_COLUMNS",
    "FAMILY_CLASS",
    "FAMILY_MACRO",
    "METHOD_BOOTSTRAP",
    "METHOD_DELONG",
    "binary_auc",
    "bootstrap_ci",
    "classification_metrics",
    "clustered_delong_cov",
    "clustered_delong_test",
    "compare_to_reference",
    "confusion",
    "delong_ci",
    "delong_test",
    "holm",
    "paired_bootstrap_test",
    "per_class_auc",
    "predicted_labels",
    "verdict",
]

#: metrics that :func:`bootstrap_ci` resamples by default (the ones the paper quotes with CIs).
BOOTSTRAP_METRICS: tuple[str, ...] = (
    "macro_auc",
    *(f"auc_{c}" for c in CLASSES),
    "macro_f1",
    "balanced_accuracy",
)

#: significance level of every comparison (applied to the Holm-adjusted p); the paper states it.
ALPHA = 0.05
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


def _group_codes(groups: Sequence[Any] | np.ndarray, n: int) -> np.ndarray:
    """Patient ids -> codes 0..P-1 in sorted id order (so integer ids 0..n-1 keep the row order)."""
    g = np.asarray(groups)
    if g.ndim != 1 or len(g) != n:
        raise ValueError(f"groups must be 1-D with one patient id per row ({n}), got shape {g.shape}")
    return np.unique(g, return_inverse=True)[1].reshape(-1)


def _patient_strata(y: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Stratum of each patient: its most frequent label, ties to the first class in CLASSES order."""
    counts = np.zeros((int(codes.max()) + 1, int(y.max()) + 1), dtype=np.int64)
    np.add.at(counts, (codes, y), 1)
    return counts.argmax(axis=1)


def _cluster_indices(
    y: np.ndarray, groups: Sequence[Any] | np.ndarray, n_resamples: int, rng: np.random.Generator
) -> np.ndarray:
    """[B, L] row indices of a patient (cluster) bootstrap, right-padded with -1.

    Patients are drawn with replacement inside their stratum (:func:`_patient_strata`), so each resample
    keeps the number of patients per stratum; every drawn patient brings all its rows, hence the ragged
    lengths and the padding. With one row per patient this is exactly :func:`_stratified_indices`.
    """
    codes = _group_codes(groups, len(y))
    sizes = np.bincount(codes)
    order = np.argsort(codes, kind="stable")  # rows grouped by patient
    starts = np.cumsum(sizes) - sizes
    draws = _stratified_indices(_patient_strata(y, codes), n_resamples, rng)  # [B, P] patients
    size_flat = sizes[draws].ravel()
    total = int(size_flat.sum())
    within = np.arange(total) - np.repeat(np.cumsum(size_flat) - size_flat, size_flat)
    rows = order[np.repeat(starts[draws.ravel()], size_flat) + within]
    lengths = sizes[draws].sum(axis=1)
    col = np.arange(total) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    out = np.full((n_resamples, int(lengths.max())), -1, dtype=np.int64)
    out[np.repeat(np.arange(n_resamples), lengths), col] = rows
    return out


def _resample_indices(
    y: np.ndarray, groups: Sequence[Any] | np.ndarray | None, n_resamples: int, seed: int
) -> np.ndarray:
    """Image-level (groups None) or patient-level resampling indices, deterministic for a seed."""
    if n_resamples < 1:
        raise ValueError("n_resamples must be >= 1")
    rng = np.random.default_rng(seed)
    if groups is None:
        return _stratified_indices(y, n_resamples, rng)
    return _cluster_indices(y, groups, n_resamples, rng)


def _auc_rows(y_binary: np.ndarray, scores: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """AUC of each row of [B, n] (labels and scores already resampled); rank once per row.

    ``valid`` masks padding: padded entries get score +inf, so they rank above every real case and leave
    the real cases' midranks unchanged; they count neither as positives nor as negatives.
    """
    if valid is not None:
        y_binary = y_binary & valid
        scores = np.where(valid, scores, np.inf)
    m = y_binary.sum(axis=1).astype(float)
    n = (y_binary.shape[1] if valid is None else valid.sum(axis=1)) - m
    ranks = rankdata(scores, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = ((ranks * y_binary).sum(axis=1) - m * (m + 1) / 2.0) / (m * n)
    return np.where((m > 0) & (n > 0), auc, np.nan)


def _bootstrap_distribution(
    y: np.ndarray, p: np.ndarray, idx: np.ndarray, metrics: Sequence[str], chunk: int = 250
) -> dict[str, np.ndarray]:
    """Metric values on each resample, computed in chunks of resamples to bound memory ([chunk, n] arrays).

    ``idx`` entries of -1 are padding (patient bootstrap resamples differ in length) and are ignored.
    """
    n_classes = p.shape[1]
    pred = predicted_labels(p)
    need_auc = any(name == "macro_auc" or name.startswith("auc_") for name in metrics)
    need_cm = any(not (name == "macro_auc" or name.startswith("auc_")) for name in metrics)
    values: dict[str, list[np.ndarray]] = {name: [] for name in metrics}
    for start in range(0, idx.shape[0], chunk):
        block = idx[start : start + chunk]
        valid = block >= 0
        padded = not valid.all()
        block = np.where(valid, block, 0)
        yb = y[block]
        per: dict[str, np.ndarray] = {}
        if need_auc:
            mask = valid if padded else None
            aucs = np.stack([_auc_rows(yb == k, p[block, k], mask) for k in range(n_classes)], axis=1)
            per["macro_auc"] = _nanmean(aucs, axis=1)
            for k, c in enumerate(CLASSES[:n_classes]):
                per[f"auc_{c}"] = aucs[:, k]
        if need_cm:
            b = np.arange(len(block))[:, None]
            flat = (b * n_classes + yb) * n_classes + pred[block]
            cm = np.bincount(
                flat.ravel(),
                weights=valid.ravel().astype(float) if padded else None,
                minlength=len(block) * n_classes * n_classes,
            )
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
    groups: Sequence[Any] | np.ndarray | None = None,
) -> dict[str, tuple[float, float, float]]:
    """Stratified percentile bootstrap: ``{metric: (value on all data, ci_low, ci_high)}``.

    Without ``groups``, cases are resampled with replacement inside each true class so every resample
    keeps the class counts (and every class AUC stays defined). With ``groups`` (a patient id per row)
    it is a cluster bootstrap: patients are resampled with replacement, each bringing all its rows,
    stratified by the patient's most frequent label (ties to the first class in CLASSES order), because
    repeat studies of one patient are correlated and resampling them as independent images makes the
    intervals too narrow. Deterministic for a seed. Any metric of :func:`classification_metrics` except
    the confusion matrix can be requested.
    """
    y, p = _validate(y_true, probs)
    metrics = tuple(metrics)
    point = classification_metrics(y, p)
    idx = _resample_indices(y, groups, n_resamples, seed)
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


def paired_bootstrap_test(
    y_true: Sequence[int] | np.ndarray,
    probs_a: np.ndarray,
    probs_b: np.ndarray,
    groups: Sequence[Any] | np.ndarray | None = None,
    n_resamples: int = 1000,
    seed: int = 0,
    alpha: float = ALPHA,
    metric: str = "macro_auc",
) -> tuple[float, float, float, float]:
    """Paired (patient-)bootstrap of ``delta = metric(a) - metric(b)``: ``(delta, ci_low, ci_high, p)``.

    Both models are scored on the same resamples (same patients), so their correlation cancels in the
    delta. The interval is the percentile one; the two-sided p is twice the share of resampled deltas on
    the far side of 0 (ties at 0 count on both sides), with the +1 correction of Davison & Hinkley:
    ``min(1, 2 * min(1 + #{d <= 0}, 1 + #{d >= 0}) / (B + 1))``, which inverts the percentile interval.
    """
    y, pa = _validate(y_true, probs_a)
    _, pb = _validate(y, probs_b)
    delta = classification_metrics(y, pa)[metric] - classification_metrics(y, pb)[metric]
    idx = _resample_indices(y, groups, n_resamples, seed)
    d = (
        _bootstrap_distribution(y, pa, idx, (metric,))[metric]
        - _bootstrap_distribution(y, pb, idx, (metric,))[metric]
    )
    d = d[np.isfinite(d)]
    if d.size == 0:
        return float(delta), math.nan, math.nan, math.nan
    low, high = np.quantile(d, [alpha / 2.0, 1.0 - alpha / 2.0])
    tail = min(int((d <= 0).sum()), int((d >= 0).sum()))
    p = min(1.0, 2.0 * (1 + tail) / (d.size + 1))
    return float(delta), float(low), float(high), float(p)


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


def _paired_inputs(
    y_true: Sequence[int] | np.ndarray, scores_a: np.ndarray, scores_b: np.ndarray, who: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Binary labels and two score vectors of the same shape, checked once for every paired test."""
    y = np.asarray(y_true)
    if not np.isin(np.unique(y), [0, 1]).all():
        raise ValueError(f"{who} needs a binary y_true (0/1); use one-vs-rest labels for multi-class")
    a = np.asarray(scores_a, dtype=float)
    b = np.asarray(scores_b, dtype=float)
    if a.shape != y.shape or b.shape != y.shape:
        raise ValueError(f"scores must match y_true's shape {y.shape}, got {a.shape} and {b.shape}")
    return y, a, b


def delong_test(
    y_true: Sequence[int] | np.ndarray, scores_a: np.ndarray, scores_b: np.ndarray
) -> tuple[float, float]:
    """Paired DeLong test of AUC(a) = AUC(b) on the same cases: ``(z, two-sided p)``; z > 0 when a is better.

    ``y_true`` is binary (0/1 or bool). Identical score vectors (zero variance of the difference) give
    ``(0.0, 1.0)``.
    """
    y, a, b = _paired_inputs(y_true, scores_a, scores_b, "delong_test")
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


def clustered_delong_cov(
    y_binary: Sequence[int] | np.ndarray,
    scores: np.ndarray,
    groups: Sequence[Any] | np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """AUCs and their covariance for k score vectors [k, n] with clustered cases (Obuchowski 1997).

    The structural components V10 (per positive) and V01 (per negative) are those of DeLong; they are
    summed per cluster (patient) i into X_i and Y_i, with m_i positives and n_i negatives in it. With
    M, N the totals, I the number of clusters and I10, I01 those holding a positive / a negative:
    S10 = I10/((I10-1) M) sum_i (X_i - m_i A)(X_i - m_i A)', S01 likewise with Y, n_i, I01, N,
    S11 = I/(I-1) sum_i (X_i - m_i A)(Y_i - n_i A)', and Cov = S10/M + S01/N + (S11 + S11')/(M N).
    With one case per cluster S11 = 0 and this is DeLong's covariance exactly.
    """
    y = np.asarray(y_binary).astype(bool)
    s = np.atleast_2d(np.asarray(scores, dtype=float))
    if s.shape[1] != len(y):
        raise ValueError(f"scores must have {len(y)} columns (one per case), got shape {s.shape}")
    codes = np.arange(len(y)) if groups is None else _group_codes(groups, len(y))
    n_clusters = int(codes.max()) + 1
    m_i = np.bincount(codes[y], minlength=n_clusters)
    n_i = np.bincount(codes[~y], minlength=n_clusters)
    i10, i01 = int((m_i > 0).sum()), int((n_i > 0).sum())
    if i10 < 2 or i01 < 2:
        raise ValueError(f"DeLong needs at least 2 positive and 2 negative clusters, got {i10} and {i01}")
    big_m, big_n = int(m_i.sum()), int(n_i.sum())
    pos, neg = s[:, y], s[:, ~y]
    tz = rankdata(np.concatenate([pos, neg], axis=1), axis=1)
    v10 = (tz[:, :big_m] - rankdata(pos, axis=1)) / big_n
    v01 = 1.0 - (tz[:, big_m:] - rankdata(neg, axis=1)) / big_m
    aucs = v10.mean(axis=1)
    x = np.stack([np.bincount(codes[y], weights=r, minlength=n_clusters) for r in v10])
    z = np.stack([np.bincount(codes[~y], weights=r, minlength=n_clusters) for r in v01])
    x -= m_i[None, :] * aucs[:, None]
    z -= n_i[None, :] * aucs[:, None]
    s10 = i10 / ((i10 - 1) * big_m) * (x @ x.T)
    s01 = i01 / ((i01 - 1) * big_n) * (z @ z.T)
    s11 = n_clusters / (n_clusters - 1) * (x @ z.T)
    cov = s10 / big_m + s01 / big_n + (s11 + s11.T) / (big_m * big_n)
    return aucs, cov


def _delta_test(aucs: np.ndarray, cov: np.ndarray) -> tuple[float, float, float]:
    """z, two-sided p and standard error of aucs[0] - aucs[1] (``(0, 1, 0)`` without variance)."""
    var = cov[0, 0] + cov[1, 1] - 2.0 * cov[0, 1]
    if var <= 1e-15:
        return 0.0, 1.0, 0.0
    se = math.sqrt(var)
    z = float((aucs[0] - aucs[1]) / se)
    return z, float(2.0 * norm.sf(abs(z))), se


def clustered_delong_test(
    y_binary: Sequence[int] | np.ndarray,
    scores_a: np.ndarray,
    scores_b: np.ndarray,
    groups: Sequence[Any] | np.ndarray | None = None,
) -> tuple[float, float, float, float]:
    """Paired DeLong test with repeat studies per patient: ``(auc_a, auc_b, z, two-sided p)``.

    The variance of AUC(a) - AUC(b) is Obuchowski's clustered one (:func:`clustered_delong_cov`), so
    correlated studies of one patient do not count as independent evidence. z > 0 when a is better;
    without ``groups`` (or with one row per patient) this equals :func:`delong_test`.
    """
    y, a, b = _paired_inputs(y_binary, scores_a, scores_b, "clustered_delong_test")
    aucs, cov = clustered_delong_cov(y, np.vstack([a, b]), groups)
    z, p, _ = _delta_test(aucs, cov)
    return float(aucs[0]), float(aucs[1]), z, p


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
    z, pval, se = _delta_test(aucs, cov)
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
        "auc": float(_nanmean(per_class_auc(y, p_var))),
        "auc_reference": float(_nanmean(per_class_auc(y, p_ref))),
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
    y, p_ref = _validate(y_true, probs_by_variant[reference])
    rows = []
    for variant in (v for v in probs_by_variant if v != reference):
        _, p_var = _validate(y, probs_by_variant[variant])
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
