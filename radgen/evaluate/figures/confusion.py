"""The reference variant's pooled confusion matrix: counts and row percentages (recall of each true class)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.metrics import ConfusionMatrixDisplay

from radgen.constants import CLASS_SHORT_NAMES, CLASSES
from radgen.evaluate.figures.common import xy
from radgen.evaluate.metrics import confusion


def plot_confusion(df: pd.DataFrame, title: str = "") -> Figure:
    """Pooled confusion matrix drawn by sklearn's ConfusionMatrixDisplay: colour = fraction of the true class,
    cell text = count and row percentage."""
    y, p = xy(df)
    cm = confusion(y, p)
    row = cm.sum(axis=1, keepdims=True)
    frac = np.divide(cm, row, out=np.zeros_like(cm, dtype=float), where=row > 0)
    fig, ax = plt.subplots(figsize=(4.4, 3.9))
    names = [CLASS_SHORT_NAMES.get(c, c) for c in CLASSES]
    display = ConfusionMatrixDisplay(frac, display_labels=names)
    display.plot(ax=ax, cmap="Blues", colorbar=False, im_kw={"vmin": 0, "vmax": 1})
    for (i, j), text in np.ndenumerate(display.text_):
        text.set_text(f"{cm[i, j]}\n{100 * frac[i, j]:.1f}%")
        text.set_color("white" if frac[i, j] > 0.6 else "black")
        text.set_fontsize(9)
    ax.set_xlabel("Predicted class")
    ax.set_ylabel("True class")
    for spine in ax.spines.values():
        spine.set_visible(False)
    fig.colorbar(display.im_, ax=ax, fraction=0.046, pad=0.04, label="Fraction of true class")
    ax.set_title(title or f"Confusion matrix (n = {int(cm.sum())})")
    fig.tight_layout()
    return fig
