"""The training loss of one batch: L = L_cls + report_loss_weight · L_report (DESIGN.md "Training").

One function on purpose: the whole loss (class-weighted CE, late fusion's per-branch CE, the tagger's CE, the
report term) sits here so that it can move into the model as one piece.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class ShardNorm:
    """This process holds a share of a global batch (DDP): means are taken over the GLOBAL batch, times `world`
    (DDP averages the gradients over ranks). class_weight_sum = Σ w[y] over the global batch (weighted CE)."""

    world: int
    n: int
    class_weight_sum: float


@dataclass(frozen=True)
class LossWeights:
    """classes: CE class weights [C] (None: unweighted); tag / report: weights of the tagger and report terms;
    shard: the global batch's normalisers when this process holds a share of it (None: one process)."""

    classes: torch.Tensor | None
    tag: float = 1.0
    report: float = 0.0
    shard: ShardNorm | None = None


def _ce(logits: torch.Tensor, labels: torch.Tensor, shard: ShardNorm | None, **weight: Any) -> torch.Tensor:
    """Cross-entropy mean (class-weighted when `weight` is given), over the global batch under `shard`."""
    if shard is None:
        return F.cross_entropy(logits.float(), labels, **weight)
    total = F.cross_entropy(logits.float(), labels, reduction="sum", **weight)
    return total * shard.world / (shard.class_weight_sum if weight.get("weight") is not None else shard.n)


def batch_loss(
    model_output: dict[str, Any], labels: torch.Tensor, weights: LossWeights
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """(loss, loss_cls, loss_report) of a batch; loss_report is None for a model without a generator.

    Late fusion trains each branch on its own (mean of the branches' weighted CEs); the tagger learns from the
    batches as sampled (unweighted CE), its prior is corrected at decision time by model.tag_logit_adjust.
    """
    out, shard = model_output, weights.shard
    if out["branch_logits"] is not None:
        loss_cls = torch.stack(
            [_ce(b, labels, shard, weight=weights.classes) for b in out["branch_logits"]]
        ).mean()
    else:
        loss_cls = _ce(out["logits"], labels, shard, weight=weights.classes)
    if out["tag_logits"] is not None:
        loss_cls = loss_cls + weights.tag * _ce(out["tag_logits"], labels, shard)
    loss_report = None
    if out["report_loss"] is not None:
        rep = out["report_loss"].float()
        loss_report = rep.mean() if shard is None else rep.sum() * shard.world / shard.n
    loss = loss_cls + weights.report * loss_report if loss_report is not None else loss_cls
    return loss, loss_cls, loss_report
