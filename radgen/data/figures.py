"""Example figure: a grid of films per class with their reports, for people to check the data by eye."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pandas as pd

from radgen.constants import CLASSES
from radgen.io import atomic_path

from .images import read_gray


def pick_examples(manifest: pd.DataFrame, per_class: int = 4, seed: int = 0) -> pd.DataFrame:
    """Up to `per_class` rows of each class, one study per patient, spread over the dataset (deterministic)."""
    rng = np.random.default_rng(seed)
    picked = []
    for label in CLASSES:
        rows = manifest[manifest["label"] == label].drop_duplicates("patient_id")
        if len(rows):
            picked.append(rows.iloc[np.sort(rng.permutation(len(rows))[:per_class])])
    return pd.concat(picked) if picked else manifest.iloc[:0]


def plot_examples(
    manifest: pd.DataFrame, out_png: str | Path, per_class: int = 4, seed: int = 0, wrap: int = 44
) -> None:
    """Write a PNG: one row per class, each film with its (wrapped) report under it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    examples = pick_examples(manifest, per_class, seed)
    labels = [c for c in CLASSES if (examples["label"] == c).any()]
    reports = {
        i: textwrap.fill(str(r) or "(no report)", wrap)
        for i, r in zip(examples.index, examples["report"], strict=True)
    }
    lines = max((t.count("\n") + 1 for t in reports.values()), default=1)
    fig_w, img_h, text_h = 3.1 * per_class, 2.9, 0.105 * lines + 0.25
    fig, axes = plt.subplots(
        2 * len(labels),
        per_class,
        figsize=(fig_w, len(labels) * (img_h + text_h)),
        gridspec_kw={"height_ratios": [img_h, text_h] * len(labels)},
        squeeze=False,
    )
    for ax in axes.ravel():
        ax.axis("off")
    for r, label in enumerate(labels):
        rows = examples[examples["label"] == label]
        for c, (idx, row) in enumerate(rows.iterrows()):
            ax_img, ax_txt = axes[2 * r, c], axes[2 * r + 1, c]
            ax_img.imshow(read_gray(row["path"]), cmap="gray", vmin=0, vmax=255, interpolation="lanczos")
            ax_img.set_title(f"{label.upper()}  {row['image_id']}", fontsize=9, fontweight="bold")
            ax_txt.text(
                0,
                1,
                reports[idx],
                va="top",
                ha="left",
                fontsize=6.3,
                family="DejaVu Sans",
                transform=ax_txt.transAxes,
            )
    fig.suptitle("Example films per class with their reports (patient's right = image left)", fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.985))
    with atomic_path(out_png) as tmp:
        fig.savefig(tmp, format="png", dpi=110, metadata={"Software": None})
    plt.close(fig)
