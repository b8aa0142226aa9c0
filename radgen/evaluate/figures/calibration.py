"""Reliability diagram per class (one-vs-rest) with the expected calibration error, and the reference's
histogram of predicted probabilities."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import NullFormatter
from sklearn.calibration import calibration_curve

from radgen.constants import CLASS_NAMES, CLASS_SHORT_NAMES, CLASSES
from radgen.evaluate.figures.common import empty, line_style, ordered, variant_label, xy


def reliability(
    y_binary: np.ndarray, prob: np.ndarray, n_bins: int = 10
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Uniform-bin reliability curve (sklearn's calibration_curve): mean predicted probability and observed
    frequency of each non-empty bin, the count of every bin (same bins) and the ECE (count-weighted mean gap)."""
    prob = np.asarray(prob, dtype=float)
    freq, mean_p = calibration_curve(
        np.asarray(y_binary).astype(int), prob, n_bins=n_bins, strategy="uniform"
    )
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    count = np.bincount(np.searchsorted(edges[1:-1], prob), minlength=n_bins)  # calibration_curve's binning
    ece = float(np.sum(count[count > 0] * np.abs(freq - mean_p)) / max(count.sum(), 1))
    return mean_p, freq, count, ece


def _class_panel(
    ax: Axes,
    hist: Axes,
    k: int,
    pooled: Mapping[str, pd.DataFrame],
    order: list[str],
    reference: str,
    n_bins: int,
) -> dict[str, tuple[Line2D, float]]:
    """One class's reliability curves (and the reference's histogram); returns {variant: (line, ece)}."""
    cls = CLASSES[k]
    ax.plot([0, 1], [0, 1], ls=":", color="0.6", lw=0.8)
    drawn = {}
    for i, variant in enumerate(order):
        y, p = xy(pooled[variant])
        mean_p, freq, count, ece = reliability(y == k, p[:, k], n_bins)
        (line,) = ax.plot(mean_p, freq, marker="o", ms=3, **line_style(variant, i, reference))
        drawn[variant] = (line, ece)
        if variant == reference:
            hist.bar((np.arange(n_bins) + 0.5) / n_bins, count, width=0.9 / n_bins, color="0.35")
    ax.set_title(f"{CLASS_NAMES.get(cls, cls)} vs rest")
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.02, 1.02)
    ax.tick_params(labelbottom=False)
    hist.set_xlim(0, 1)
    hist.set_xlabel(f"Predicted P({CLASS_NAMES.get(cls, cls)})")
    hist.set_yscale("log")
    hist.yaxis.set_minor_formatter(NullFormatter())
    return drawn


def plot_calibration(
    pooled: Mapping[str, pd.DataFrame],
    reference: str = "radgen",
    variants: Sequence[str] | None = None,
    labels: Mapping[str, str] | None = None,
    n_bins: int = 10,
) -> Figure:
    """Reliability diagram per class with ECE; the reference's probability histogram underneath."""
    order = ordered(pooled, reference, variants)
    if not order:
        return empty("No predictions to draw a reliability diagram from.")
    labels = labels or {}
    n = len(CLASSES)
    fig = plt.figure(figsize=(12.5, 4.9))
    grid = fig.add_gridspec(2, n + 1, height_ratios=[3.2, 1], width_ratios=[1] * n + [0.75])
    axes = np.array([[fig.add_subplot(grid[r, k]) for k in range(n)] for r in range(2)])
    panels = [_class_panel(axes[0, k], axes[1, k], k, pooled, order, reference, n_bins) for k in range(n)]
    axes[0, 0].set_ylabel("Observed frequency")
    axes[1, 0].set_ylabel(f"{variant_label(labels, reference)}\ncount")
    # one legend beside the panels (curves can run anywhere inside them), with the ECE of each class
    side = fig.add_subplot(grid[:, n])
    side.axis("off")
    side.legend(
        [panels[-1][v][0] for v in order],
        [
            f"{variant_label(labels, v)}\n{' / '.join(f'{panel[v][1]:.3f}' for panel in panels)}"
            for v in order
        ],
        loc="center left",
        title="ECE (" + " / ".join(CLASS_SHORT_NAMES.get(c, c) for c in CLASSES) + ")",
        title_fontsize=7.5,
        labelspacing=0.9,
    )
    fig.tight_layout()
    return fig
