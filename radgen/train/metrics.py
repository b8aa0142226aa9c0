"""Validation metric used for early stopping."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score


def macro_auc(labels: np.ndarray, probs: np.ndarray) -> float:
    """One-vs-rest macro-AUC over the classes present with both positives and negatives (0.5 if none)."""
    aucs = []
    for c in range(probs.shape[1]):
        y = (labels == c).astype(int)
        if 0 < y.sum() < len(y):
            aucs.append(roc_auc_score(y, probs[:, c]))
    return float(np.mean(aucs)) if aucs else 0.5
