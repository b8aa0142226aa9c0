"""Optimiser, learning-rate schedule and batching of a training run.

One AdamW parameter group per model part (its own learning rate), a per-step linear warm-up, then a constant or
linearly decaying rate (transformers' schedules); the epoch's sample order is cut into batches here.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch
from transformers import get_constant_schedule_with_warmup, get_linear_schedule_with_warmup

GROUPS = ("image_encoder", "report_generator", "text_encoder", "fusion_head")


def batches(order: np.ndarray, batch_size: int) -> list[np.ndarray]:
    """Chunks of the epoch's order; a trailing batch of one sample is dropped (BatchNorm needs two)."""
    out = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    if len(out) > 1 and len(out[-1]) < 2:
        out.pop()
    return out


def steps_per_epoch(n: int, batch_size: int) -> int:
    """Optimizer steps in one epoch of `n` samples."""
    return len(batches(np.arange(n), batch_size))


def build_optimizer(model: Any, training: dict[str, Any]) -> torch.optim.AdamW:
    """AdamW with one group per `model.parameter_groups()` entry at its `training.lr` rate."""
    groups = model.parameter_groups()
    lrs = training.get("lr") or {}
    missing = [g for g in groups if g not in lrs]
    if missing:
        raise ValueError(f"training.lr lacks learning rates for parameter group(s): {', '.join(missing)}")
    return torch.optim.AdamW(
        [{"params": ps, "lr": float(lrs[g]), "group_name": g} for g, ps in groups.items()],
        weight_decay=float(training.get("weight_decay", 0.0)),
        foreach=True,  # torch's default on GPUs; on a CPU too: fewer kernel calls, bit-identical (tests)
    )


def build_scheduler(
    optimizer: torch.optim.Optimizer, training: dict[str, Any], spe: int
) -> torch.optim.lr_scheduler.LambdaLR:
    """Per-step schedule: `warmup_epochs` of linear warm-up, then `lr_schedule` (constant | linear decay).

    transformers' schedules give step s the factor s/W during warm-up, so their first step runs at lr 0; the
    scheduler is advanced once here so that optimizer step k runs at the library's factor for k+1: warm-up
    (k+1)/W, reaching 1 at step W-1, as the engine always did. `linear` decays over total+1 steps so that no
    step of the run is wasted at lr 0: step k ≥ W runs at (T-k)/(T+1-W) (before the libraries: (T-k)/(T-W)).
    """
    warmup = int(round(float(training.get("warmup_epochs", 0)) * spe))
    total = int(training["epochs"]) * spe
    schedule = str(training.get("lr_schedule", "constant"))
    if schedule == "linear":
        scheduler = get_linear_schedule_with_warmup(optimizer, warmup, total + 1)
    elif schedule == "constant":
        scheduler = get_constant_schedule_with_warmup(optimizer, warmup)
    else:
        raise ValueError(f"training.lr_schedule must be 'constant' or 'linear', got {schedule!r}")
    with warnings.catch_warnings():  # "lr_scheduler.step() before optimizer.step()": intended, see above
        warnings.simplefilter("ignore", UserWarning)
        scheduler.step()
    return scheduler


def current_lrs(optimizer: torch.optim.Optimizer, text_frozen: bool) -> dict[str, float]:
    """`lr_<group>` log columns in GROUPS order; a frozen text encoder logs 0."""
    lr_now = {g["group_name"]: g["lr"] for g in optimizer.param_groups}
    return {
        f"lr_{g}": 0.0 if (g == "text_encoder" and text_frozen) else lr_now[g] for g in GROUPS if g in lr_now
    }


def backward_and_step(
    model: torch.nn.Module,
    loss: torch.Tensor,
    optimizer: torch.optim.Optimizer,
    scaler: Any,
    clip: float,
) -> None:
    """Backward pass, optional gradient clipping (after unscaling under fp16) and the optimizer step."""
    optimizer.zero_grad(set_to_none=True)
    if scaler is not None and scaler.is_enabled():
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
        if clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip, foreach=True)
        scaler.step(optimizer)
        scaler.update()
        return
    loss.backward()
    if clip > 0:
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip, foreach=True)
    optimizer.step()
