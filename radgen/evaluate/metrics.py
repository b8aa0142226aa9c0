"""Classification metrics of one set of predictions: pure functions over arrays.

Conventions (shared by every function in radgen.evaluate's statistics modules):
- ``y_true``: integer labels in ``0..C-1`` in the order of :data:`radgen.constants.CLASSES`;
- ``probs``: ``[n, C]`` class probabilities (any scores work for the AUCs; only their order matters);
- the predicted class is ``argmax(probs)`` (ties go to the first class, as ``numpy.argmax`` does);
- metrics of a class that is absent from ``y_true`` are ``nan`` and macro averages skip them
  (as scikit-learn's ``balanced_accuracy_score`` does); ``nan`` is written as JSON ``null`` downstream.

AUCs are computed from midranks (Mann-Whitney form), which is what makes the fast DeLong
(radgen.evaluate.delong) and the vectorised bootstrap (radgen.evaluate.bootstrap) cheap.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
from scipy.stats import rankdata
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

from radgen.constants import CLASSES

__all__ = [
    "ALPHA",
    "binary_auc",
    "classification_metrics",
    "confusion",
    "macro_auc",
    "nanmean",
    "per_class_auc",
    "predicted_labels",
    "rates_from_cm",
    "validate",
]

#: significance level of every comparison (applied to the Holm-adjusted p); the paper states it.
ALPHA = 0.05


def validate(y_true: Sequence[int] | np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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
    y, p = validate(y_true, probs)
    return np.array([binary_auc(y == k, p[:, k]) for k in range(p.shape[1])])


def macro_auc(y_true: Sequence[int] | np.ndarray, probs: np.ndarray) -> float:
    """Unweighted mean of the one-vs-rest AUCs of the classes that are defined; nan when none is.

    A class absent from y_true (or present alone) has no AUC. It is skipped, not scored 0.5: 0.5 would pull
    the mean toward chance by an amount that depends on how many classes a fold happens to miss, and would
    make an undefined value look like a measured one. Callers that need a number to rank on (early
    stopping) decide themselves what nan means for them.
    """
    return float(nanmean(per_class_auc(y_true, probs)))


def confusion(y_true: Sequence[int] | np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Confusion matrix, rows true class, columns predicted class, in CLASSES order."""
    y, p = validate(y_true, probs)
    return confusion_matrix(y, predicted_labels(p), labels=list(range(p.shape[1])))


def nanmean(values: np.ndarray, axis: int | None = None) -> np.ndarray | float:
    """nanmean without the 'mean of empty slice' RuntimeWarning (all-nan gives nan, silently)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)
        return np.nanmean(values, axis=axis)


def rates_from_cm(cm: np.ndarray) -> dict[str, np.ndarray]:
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
    y, p = validate(y_true, probs)
    n_classes = p.shape[1]
    if n_classes != len(CLASSES):
        raise ValueError(
            f"expected {len(CLASSES)} probability columns ({', '.join(CLASSES)}), got {n_classes}"
        )
    pred = predicted_labels(p)
    aucs = per_class_auc(y, p)
    cm = confusion_matrix(y, pred, labels=list(range(n_classes)))
    rates = rates_from_cm(cm)
    out: dict[str, float] = {"macro_auc": float(nanmean(aucs))}  # = macro_auc(y, p)
    out.update({f"auc_{c}": float(a) for c, a in zip(CLASSES, aucs, strict=True)})
    out["macro_f1"] = float(
        f1_score(y, pred, labels=list(range(n_classes)), average="macro", zero_division=0)
    )
    out["accuracy"] = float(accuracy_score(y, pred))
    out["balanced_accuracy"] = float(nanmean(rates["sensitivity"]))
    out.update({f"sensitivity_{c}": float(v) for c, v in zip(CLASSES, rates["sensitivity"], strict=True)})
    out.update({f"specificity_{c}": float(v) for c, v in zip(CLASSES, rates["specificity"], strict=True)})
    return out


# ----------------------------------------------------------------------------------------------- bootstrap
