"""ROC curves per class (one-vs-rest), the reference variant against the compared ones, AUC in the legend."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure
from sklearn.metrics import roc_curve

from radgen.constants import CLASS_NAMES, CLASSES
from radgen.evaluate.figures.common import empty, line_style, ordered, variant_label, xy
from radgen.evaluate.metrics import binary_auc


def plot_roc(
    pooled: Mapping[str, pd.DataFrame],
    reference: str = "radgen",
    variants: Sequence[str] | None = None,
    labels: Mapping[str, str] | None = None,
) -> Figure:
    """ROC curves per class (one-vs-rest), one line per variant."""
    order = ordered(pooled, reference, variants)
    if not order:
        return empty("No predictions to draw ROC curves from.")
    labels = labels or {}
    fig, axes = plt.subplots(1, len(CLASSES), figsize=(11, 3.9), sharey=True)
    for k, (ax, cls) in enumerate(zip(axes, CLASSES, strict=True)):
        ax.plot([0, 1], [0, 1], ls=":", color="0.6", lw=0.8)
        for i, variant in enumerate(order):
            y, p = xy(pooled[variant])
            if (y == k).all() or not (y == k).any():
                continue
            fpr, tpr, _ = roc_curve(y == k, p[:, k])
            auc = binary_auc(y == k, p[:, k])
            ax.plot(
                fpr,
                tpr,
                label=f"{variant_label(labels, variant)} ({auc:.3f})",
                **line_style(variant, i, reference),
            )
        ax.set_title(f"{CLASS_NAMES.get(cls, cls)} vs rest")
        ax.set_xlabel("False positive rate (1 - specificity)")
        ax.set_xlim(-0.01, 1.01)
        ax.set_ylim(-0.01, 1.01)
        ax.set_aspect("equal")
        ax.legend(loc="lower right", title="AUC", title_fontsize=7.5)
    axes[0].set_ylabel("True positive rate (sensitivity)")
    fig.tight_layout()
    return fig
