"""RadGenOutput (what RadGenModel.forward returns) and the training loss the model computes for itself."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from transformers.utils import ModelOutput

from radgen.models.fusion import Fusion, FusionOutput
from radgen.models.losses import ShardNorm, batch_mean, cross_entropy
from radgen.models.report_generator import GeneratorOutput


@dataclass
class RadGenOutput(ModelOutput):
    """loss = loss_cls + report_loss_weight · loss_report (labels given); loss_cls = the fusion's class loss +
    tag_loss_weight · tagger CE; loss_report = mean per-report token CE. logits [B,C] (late fusion: log of the
    averaged branch probabilities), branch_logits [n,B,C] (late only), gate [B,E], tag_logits [B,C],
    report_loss [B]. Absent parts are None, and `out["name"]` returns None for them too (unlike ModelOutput,
    whose item access knows only the fields that are set)."""

    loss: torch.Tensor | None = None
    loss_cls: torch.Tensor | None = None
    loss_report: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    branch_logits: torch.Tensor | None = None
    gate: torch.Tensor | None = None
    tag_logits: torch.Tensor | None = None
    report_loss: torch.Tensor | None = None

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str) and key in self.__dataclass_fields__:
            return getattr(self, key)
        return super().__getitem__(key)


@dataclass(frozen=True)
class LossWeights:
    report: float = 0.0
    tag: float = 1.0


def training_loss(
    fusion: Fusion,
    fused: FusionOutput,
    generated: GeneratorOutput,
    labels: torch.Tensor,
    class_weight: torch.Tensor | None,
    weights: LossWeights,
    shard: ShardNorm | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """(loss, loss_cls, loss_report) exactly as training has always computed them.

    The tagger learns from the batches as sampled (unweighted CE); its prior is corrected at decision time by
    its logit_adjust. Late fusion's class loss is the mean of its branches' (Fusion.loss).
    """
    loss_cls = fusion.loss(fused, labels, class_weight, shard)
    if generated.tag_logits is not None:
        loss_cls = loss_cls + weights.tag * cross_entropy(generated.tag_logits, labels, shard=shard)
    if generated.report_loss is None:
        return loss_cls, loss_cls, None
    loss_report = batch_mean(generated.report_loss, shard)
    return loss_cls + weights.report * loss_report, loss_cls, loss_report
