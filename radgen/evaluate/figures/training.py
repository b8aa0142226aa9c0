"""Training curves of the reference variant: losses, inner-validation macro-AUC and learning rates per epoch."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from radgen.evaluate.figures.common import PALETTE, empty, log


def read_train_logs(paths: Mapping[Any, str | Path] | Sequence[str | Path]) -> dict[str, pd.DataFrame]:
    """Training logs keyed by fold name; unreadable or missing files are skipped with a warning."""
    items = paths.items() if isinstance(paths, Mapping) else ((Path(p).parent.name, p) for p in paths)
    logs = {}
    for key, path in items:
        try:
            df = pd.read_csv(path)
        except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            log.warning("figures: training log %s unreadable (%s); skipped", path, exc)
            continue
        if "epoch" not in df.columns:
            df = df.assign(epoch=np.arange(len(df)))
        logs[str(key)] = df
    return logs


def plot_training_curves(logs: Mapping[str, pd.DataFrame], title: str = "") -> Figure:
    """Per-epoch curves of each fold: losses, inner-validation macro-AUC and learning rates when logged."""
    if not logs:
        return empty("No training log found.")
    columns = set().union(*(df.columns for df in logs.values()))
    loss_cols = [c for c in ("train_loss", "train_loss_cls", "train_loss_report") if c in columns]
    lr_cols = sorted(c for c in columns if c.startswith("lr_"))
    panels = [
        p for p, ok in (("loss", loss_cols), ("auc", "val_macro_auc" in columns), ("lr", lr_cols)) if ok
    ]
    if not panels:
        return empty("Training logs have none of train_loss*, val_macro_auc, lr_* columns.")
    fig, axes = plt.subplots(1, len(panels), figsize=(3.8 * len(panels), 3.3), squeeze=False)
    axes = dict(zip(panels, axes[0], strict=True))
    dashes = {"train_loss": "-", "train_loss_cls": "--", "train_loss_report": ":"}
    for i, (fold, df) in enumerate(sorted(logs.items())):
        color = PALETTE[i % len(PALETTE)]
        x = df["epoch"].to_numpy()
        if "loss" in axes:
            for c in loss_cols:
                if c in df:
                    axes["loss"].plot(x, df[c], ls=dashes[c], color=color, lw=1.2)
        if "auc" in axes and "val_macro_auc" in df:
            auc = pd.to_numeric(df["val_macro_auc"], errors="coerce")
            axes["auc"].plot(x, auc, color=color, lw=1.2, marker="o", ms=2.5, label=fold)
            if auc.notna().any():
                best = int(np.nanargmax(auc.to_numpy()))
                axes["auc"].plot(x[best], auc.iloc[best], marker="*", ms=9, color=color, zorder=5)
        if "lr" in axes:
            for j, c in enumerate(lr_cols):
                if c in df:
                    axes["lr"].plot(
                        x,
                        pd.to_numeric(df[c], errors="coerce").where(lambda v: v > 0),  # 0 = frozen: a gap
                        color=PALETTE[j % len(PALETTE)],
                        lw=1.0,
                        alpha=0.6,
                        label=c.removeprefix("lr_") if i == 0 else None,
                    )
    if "loss" in axes:
        ax = axes["loss"]
        ax.set_title("Training loss")
        ax.set_ylabel("loss")
        for c in loss_cols:
            ax.plot(
                [],
                [],
                ls=dashes[c],
                color="0.3",
                label=c.replace("train_loss", "total").replace("total_", ""),
            )
        ax.legend()
    if "auc" in axes:
        ax = axes["auc"]
        ax.set_title("Inner-validation macro-AUC (★ best)")
        ax.set_ylabel("macro-AUC")
        ax.legend(title="fold", ncol=2)
    if "lr" in axes:
        ax = axes["lr"]
        ax.set_title("Learning rates")
        ax.set_yscale("log")
        ax.legend()
    for ax in axes.values():
        ax.set_xlabel("epoch")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
