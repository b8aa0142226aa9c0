"""One training epoch and one validation pass of a run (radgen.train.setup.Run).

Every epoch's randomness is re-seeded from (seed, epoch) by the engine; here the sampler, augmentation, tag
forcing and dropout draw from those streams in a fixed order, so a resumed run repeats an uninterrupted one.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from radgen.models.losses import ShardNorm
from radgen.runtime import predict_split
from radgen.train.data import augment, to_float
from radgen.train.distributed import shard_split
from radgen.train.metrics import early_stopping_auc
from radgen.train.optim import backward_and_step, batches
from radgen.train.setup import Run

LOSS_KEYS = ("loss", "cls", "report")


def sample_order(run: Run) -> np.ndarray:
    """The epoch's sample order: class-weighted draws with replacement, or a permutation without weighting."""
    n = len(run.data.train)
    if run.weighting:
        return torch.multinomial(run.sample_weights, n, replacement=True, generator=run.sampler_gen).numpy()
    return torch.randperm(n, generator=run.sampler_gen).numpy()


def load_batch(run: Run, idx: np.ndarray) -> dict[str, Any]:
    """Images (augmented), labels, text-encoder inputs and decoder labels of this process's share of the global
    batch `idx` (all of it with one process); random draws and padding are those of the global batch."""
    model, train, device = run.model, run.data.train, run.device
    mine = slice(run.dist.rank, None, run.dist.world)
    local = idx[mine]
    with run.sw("data_and_augmentation"):
        images = None
        if model.has_image:
            images = to_float(run.data.images(train.rows[local]), model.image_size).to(device)
        if images is not None and run.training.get("augment", False):
            images = augment(images, run.aug_gen, draws=len(idx), rows=mine)
        labels = torch.from_numpy(train.labels[local]).to(device)
    with run.sw("tokenization"):  # slices of the tables tokenised once (radgen.train.tokens)
        text = None
        if model.has_text:
            ids, mask = run.text_tokens_epoch.batch(idx)
            text = {"input_ids": ids[mine].to(device), "attention_mask": mask[mine].to(device)}
        report_labels = run.report_tokens.batch(idx)[0][mine].to(device) if model.has_generator else None
    return {"images": images, "labels": labels, "text": text, "report_labels": report_labels}


def tag_targets(run: Run, idx: np.ndarray, mix_gen: torch.Generator) -> torch.Tensor | None:
    """Tag forcing: for a `tag_forcing` share of the batch the generator is told the true class, else -1."""
    forcing = float(run.training.get("tag_forcing", 0.0))
    if forcing <= 0 or run.model.tagger is None:
        return None
    forced = torch.rand(len(idx), generator=mix_gen) < forcing
    return run.dist.shard(torch.where(forced, torch.from_numpy(run.data.train.labels[idx]), -1)).to(
        run.device
    )


def shard_norm(run: Run, idx: np.ndarray) -> ShardNorm | None:
    """With several processes, the global batch's normalisers of the model's loss (None: one process)."""
    if run.dist.world == 1:
        return None
    w = run.class_weights[run.data.train.labels[idx]].sum() if run.weighting else len(idx)
    return ShardNorm(run.dist.world, len(idx), float(w))


def train_step(run: Run, idx: np.ndarray, mix_gen: torch.Generator) -> torch.Tensor:
    """One optimizer step on the global batch `idx`; returns [loss, cls, report] · batch size (float64, on
    device; with several processes this rank's part of it, summed over ranks at the end of the epoch)."""
    batch = load_batch(run, idx)
    with run.sw("forward_backward_optimizer"):
        with torch.autocast(
            device_type=run.device.type,
            dtype=run.amp_dtype or torch.float32,
            enabled=run.amp_dtype is not None,
        ):
            out = run.forward_module(
                images=batch["images"],
                text=batch["text"],
                report_labels=batch["report_labels"],
                tag_targets=tag_targets(run, idx, mix_gen),
                labels=batch["labels"],
                class_weight=run.class_weight,
                shard=shard_norm(run, idx),
            )
            loss, loss_cls, loss_report = out.loss, out.loss_cls, out.loss_report
        backward_and_step(
            run.model, loss, run.optimizer, run.scaler, float(run.training.get("grad_clip", 0.0))
        )
        run.scheduler.step()
        run.ema.update(run.model)
        parts = [loss, loss_cls, loss_report if loss_report is not None else torch.zeros_like(loss)]
        sums = torch.stack([p.detach() for p in parts]).double() * len(idx)
        return sums if run.dist.world == 1 else sums / run.dist.world


def train_epoch(run: Run, epoch: int, mix_gen: torch.Generator, bar: Any) -> dict[str, float]:
    """One epoch over the sampled order; the mean losses (one host-device sync, at the end)."""
    order = sample_order(run)
    frozen = run.text_frozen(epoch)
    run.model.train()
    if frozen:
        run.model.text_encoder.eval()
    sums = torch.zeros(len(LOSS_KEYS), dtype=torch.float64, device=run.device)
    n_seen = 0
    for idx in batches(order, run.batch_size):
        sums += train_step(run, idx, mix_gen)
        n_seen += len(idx)
        bar.update(1)
    means = (run.dist.all_sum(sums) / max(n_seen, 1)).tolist()
    return dict(zip(LOSS_KEYS, means, strict=True))


def validate(run: Run, model: Any, reports: list[str] | None) -> float:
    """Inner-val macro-AUC of `model` (the averaged weights) on generated or given reports; the processes
    predict a share each, rank 0's AUC of the gathered probabilities is every rank's."""
    d, val = run.dist, run.data.val
    part = shard_split(d, val)
    probs, _ = predict_split(
        model, run.data, part, run.device, reports=d.shard(reports) if reports else reports
    )
    if d.world > 1:
        probs = np.stack(d.gather(list(probs)))
    return d.broadcast_float(early_stopping_auc(val.labels, probs))
