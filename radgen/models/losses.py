"""The loss terms the model computes for itself, over one batch or over a process's share of a global batch.

Why the share: with distributed data parallel (training.devices > 1) each process holds part of the global batch
and DDP averages the gradients over processes; a mean taken per process would weight a sample by its share's size
(and a class-weighted mean by its share's weight sum). Normalising by the global batch's totals times the world size
makes the averaged gradient equal the one-process gradient.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class ShardNorm:
    """Normalisers of the global batch a process holds a share of: world size, global batch size n, and
    class_weight_sum = Σ w[y] over the global batch (for the class-weighted cross-entropy)."""

    world: int
    n: int
    class_weight_sum: float


def cross_entropy(
    logits: torch.Tensor,
    labels: torch.Tensor,
    class_weight: torch.Tensor | None = None,
    shard: ShardNorm | None = None,
) -> torch.Tensor:
    """Cross-entropy mean (class-weighted when class_weight is given); over the global batch under `shard`."""
    if shard is None:
        return F.cross_entropy(logits.float(), labels, weight=class_weight)
    total = F.cross_entropy(logits.float(), labels, weight=class_weight, reduction="sum")
    return total * shard.world / (shard.class_weight_sum if class_weight is not None else shard.n)


def batch_mean(values: torch.Tensor, shard: ShardNorm | None = None) -> torch.Tensor:
    """Mean of per-sample values; over the global batch under `shard`."""
    values = values.float()
    return values.mean() if shard is None else values.sum() * shard.world / shard.n
