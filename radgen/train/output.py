"""What a finished training run writes: train_log.csv rows, summary.json and the save_pretrained directory.

The directory is staged beside its final place and renamed in, so a crash never leaves a half-written model.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch


def log_row(
    epoch: int,
    means: dict[str, float],
    has_generator: bool,
    auc: float,
    lrs: dict[str, float],
    p_gen: float,
    seconds: float,
) -> dict[str, Any]:
    """One train_log.csv row (column order is the file's)."""
    return {
        "epoch": epoch,
        "train_loss": means["loss"],
        "train_loss_cls": means["cls"],
        "train_loss_report": means["report"] if has_generator else float("nan"),
        "val_macro_auc": auc,
        **lrs,
        "generated_text_fraction": p_gen,
        "epoch_seconds": seconds,
    }


def build_summary(run: Any, state: dict[str, Any]) -> dict[str, Any]:
    """summary.json's fields (time_breakdown_s is added at the end)."""
    return {
        "n_parameters": run.model.n_parameters(),
        "best_epoch": int(state["best_epoch"]),
        "epochs_run": int(state["epoch"]),
        "train_seconds": round(float(state["train_seconds"]), 3),
        "best_val_macro_auc": float(state["best_auc"]),
        "device": str(run.device),
        "variant": run.name,
        "fold": int(run.fold),
        "n_train": len(run.data.train),
        "n_val": len(run.data.val),
        "class_weights": [round(float(w), 6) for w in run.class_weights],
        **run.priors.as_dict(),
        "early_stopped": bool(state["stopped"]) and int(state["epoch"]) < run.epochs,
        "resumed_from_epoch": state.get("resumed_from"),
        "torch_threads": torch.get_num_threads(),
    }


def stage_output(out: Path, model: Any, rows: list[dict[str, Any]]) -> Path:
    """Write the model and train_log.csv into a temporary sibling of `out` (renamed by commit_output)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    if rows:
        with open(tmp / "train_log.csv", "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    return tmp


def commit_output(tmp: Path, out: Path, summary: dict[str, Any]) -> None:
    """Add summary.json and rename the staged directory into place."""
    (tmp / "summary.json").write_text(json.dumps(summary, indent=2))
    if out.exists():
        shutil.rmtree(out)
    os.replace(tmp, out)
