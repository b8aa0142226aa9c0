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
class LossWeights:
    """classes: CE class weights [C] (None: unweighted); tag / report: weights of the tagger and report terms."""

    classes: torch.Tensor | None
    tag: float = 1.0
    report: float = 0.0


def batch_loss(
    model_output: dict[str, Any], labels: torch.Tensor, weights: LossWeights
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """(loss, loss_cls, loss_report) of a batch; loss_report is None for a model without a generator.

    Late fusion trains each branch on its own (mean of the branches' weighted CEs); the tagger learns from the
    batches as sampled (unweighted CE), its prior is corrected at decision time by model.tag_logit_adjust.
    """
    out = model_output
    if out["branch_logits"] is not None:
        loss_cls = torch.stack(
            [F.cross_entropy(b.float(), labels, weight=weights.classes) for b in out["branch_logits"]]
        ).mean()
    else:
        loss_cls = F.cross_entropy(out["logits"].float(), labels, weight=weights.classes)
    if out["tag_logits"] is not None:
        loss_cls = loss_cls + weights.tag * F.cross_entropy(out["tag_logits"].float(), labels)
    loss_report = out["report_loss"].float().mean() if out["report_loss"] is not None else None
    loss = loss_cls + weights.report * loss_report if loss_report is not None else loss_cls
    return loss, loss_cls, loss_report
