"""Resume state of a training run: the checkpoint key, the early-stopping state, restoring and saving an epoch.

The checkpoint directory is keyed by config + data (+ the reports_from model), so stale state is never resumed;
everything an epoch needs is re-seeded from (seed, epoch), so only the generators' states travel with it.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

import torch

from radgen.train.checkpoint import find_state, load_state, save_state

RUNTIME_ONLY = frozenset(
    {"require_gpu", "devices"}
)  # training keys that do not change the model: not in the key


def epoch_seed(seed: int, epoch: int, stream: int) -> int:
    """Independent, reproducible seed per (seed, epoch, stream): resume needs no RNG carried over."""
    return int.from_bytes(hashlib.sha256(f"{seed}/{epoch}/{stream}".encode()).digest()[:8], "little") % (
        2**63
    )


def file_hash(path: Path) -> str:
    """sha256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def checkpoint_dir_for(
    root: Any, variant: dict[str, Any], fold: int, size: int, data_fingerprint: str, reports_model_dir: Any
) -> Path | None:
    """<root>/<16-hex key of the config, fold, image size, data and reports_from weights>; None without root."""
    if root is None:
        return None
    training = variant["training"]
    key_src = {
        "variant": {
            **{k: variant.get(k) for k in ("name", "model", "reports_from")},
            "training": {k: v for k, v in training.items() if k not in RUNTIME_ONLY},
        },
        "fold": int(fold),
        "image_size": size,
        "data": data_fingerprint,
        "reports_model": file_hash(Path(reports_model_dir) / "model.safetensors")
        if reports_model_dir
        else None,
    }
    key = hashlib.sha256(json.dumps(key_src, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return Path(root) / key


def initial_state() -> dict[str, Any]:
    """Early-stopping and bookkeeping state before epoch 0 (JSON-ready; stored in every checkpoint)."""
    return {
        "epoch": 0,
        "best_auc": -math.inf,
        "best_epoch": -1,
        "bad_epochs": 0,
        "stopped": False,
        "log": [],
        "train_seconds": 0.0,
        "time_breakdown_s": {},
        "resumed_from": None,
    }


def restore(run: Any, ckpt: Path | None, state: dict[str, Any]) -> bool:
    """Load the newest complete checkpoint into `run` and `state` in place; False when there is none."""
    found = find_state(ckpt) if ckpt is not None else None
    if found is None:
        return False
    with run.sw("checkpointing"):
        rng, meta = load_state(found, **_stateful(run))
    state.update(meta)
    run.sw.add(state.get("time_breakdown_s") or {})  # earlier sessions' sections
    state["resumed_from"] = state["epoch"]
    torch.set_rng_state(rng["torch"])
    run.sampler_gen.set_state(rng["sampler"])
    run.aug_gen.set_state(rng["augment"])
    return True


def save(run: Any, ckpt: Path, state: dict[str, Any]) -> None:
    """Write the end-of-epoch checkpoint (model, optimizer, scheduler, scaler, EMA, RNG, state)."""
    with run.sw("checkpointing"):
        save_state(
            ckpt,
            **_stateful(run),
            rng={
                "torch": torch.get_rng_state(),
                "sampler": run.sampler_gen.get_state(),
                "augment": run.aug_gen.get_state(),
            },
            meta={k: v for k, v in state.items() if k != "resumed_from"},
        )


def _stateful(run: Any) -> dict[str, Any]:
    """What a checkpoint saves and restores besides RNG and loop state: one list for both directions."""
    return {
        "model": run.model,
        "optimizer": run.optimizer,
        "scheduler": run.scheduler,
        "scaler": run.scaler,
        "ema": run.ema.state_tensors(),
    }
