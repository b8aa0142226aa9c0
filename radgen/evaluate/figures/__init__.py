"""Paper figures from pooled out-of-fold predictions and training logs: PDF for the paper, PNG for people.

Figures (``results/figures/{name}.pdf`` and ``.png``, names in :data:`FIGURE_NAMES`), one module each:

- ``roc_curves`` (roc.py): one-vs-rest ROC curve per class, the reference variant (RadGen) against the
  compared variants, AUC in the legend;
- ``confusion_matrix`` (confusion.py): the reference variant's pooled confusion matrix, counts and row
  percentages;
- ``training_curves`` (training.py): training losses, inner-validation macro-AUC and learning rates per epoch
  of the reference variant, one line per fold (columns missing from a log are skipped);
- ``calibration`` (calibration.py): reliability diagram per class (one-vs-rest), reference and compared
  variants, with the expected calibration error, and the reference's histogram of predicted probabilities;
- ``qualitative_examples`` (qualitative.py): a page of examples of the reference variant: for each class the
  most confident correct case ("best") and the most confident wrong one ("worst"), with the image, reference
  report, generated report and probabilities.

Every ``plot_*`` returns the matplotlib Figure (tests read its content); :func:`make_figures` saves them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from radgen.evaluate.figures.calibration import plot_calibration, reliability
from radgen.evaluate.figures.common import empty, log, save_figure, variant_label
from radgen.evaluate.figures.confusion import plot_confusion
from radgen.evaluate.figures.qualitative import plot_qualitative
from radgen.evaluate.figures.roc import plot_roc
from radgen.evaluate.figures.training import plot_training_curves, read_train_logs

__all__ = [
    "FIGURE_NAMES",
    "make_figures",
    "plot_calibration",
    "plot_confusion",
    "plot_qualitative",
    "plot_roc",
    "plot_training_curves",
    "read_train_logs",
    "reliability",
    "save_figure",
]

FIGURE_NAMES: tuple[str, ...] = (
    "roc_curves",
    "confusion_matrix",
    "training_curves",
    "calibration",
    "qualitative_examples",
)


def make_figures(
    pooled: Mapping[str, pd.DataFrame],
    out_dir: str | Path,
    reference: str = "radgen",
    variants: Sequence[str] | None = None,
    labels: Mapping[str, str] | None = None,
    train_logs: Mapping[str, pd.DataFrame] | None = None,
    manifest: pd.DataFrame | None = None,
    base_dir: str | Path | None = None,
) -> list[Path]:
    """Every figure of :data:`FIGURE_NAMES` as PDF and PNG in out_dir; returns the written paths.

    ``variants``: the variants drawn next to the reference in the ROC and calibration figures (default: all
    pooled ones). A figure whose inputs are missing becomes a page saying so, never a missing file.
    """
    labels = dict(labels or {})
    ref_label = variant_label(labels, reference)
    written: list[Path] = []
    written += save_figure(plot_roc(pooled, reference, variants, labels), out_dir, "roc_curves")
    if reference in pooled:
        cm_fig = plot_confusion(pooled[reference], title=f"{ref_label}: pooled out-of-fold confusion matrix")
        qual_fig = plot_qualitative(
            pooled[reference], manifest, title=f"{ref_label}: best and worst cases", base_dir=base_dir
        )
    else:
        cm_fig = empty(f"No predictions of {ref_label}.")
        qual_fig = empty(f"No predictions of {ref_label}.")
    written += save_figure(cm_fig, out_dir, "confusion_matrix")
    written += save_figure(
        plot_training_curves(train_logs or {}, title=f"{ref_label}: training"), out_dir, "training_curves"
    )
    written += save_figure(plot_calibration(pooled, reference, variants, labels), out_dir, "calibration")
    written += save_figure(qual_fig, out_dir, "qualitative_examples")
    log.info("figures: wrote %d files to %s", len(written), out_dir)
    return written
