"""The validation score early stopping ranks epochs by."""

from __future__ import annotations

import math

import numpy as np

from radgen.evaluate.metrics import macro_auc


def early_stopping_auc(labels: np.ndarray, probs: np.ndarray) -> float:
    """The evaluation stage's macro-AUC (one definition) of the inner-validation part; 0.5 when no class has an
    AUC (an inner-val part of one class): epochs must still be ranked, and chance level never beats a measured AUC.
    """
    auc = macro_auc(labels, probs)
    return 0.5 if math.isnan(auc) else auc
