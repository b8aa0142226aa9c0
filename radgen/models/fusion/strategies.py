"""Fusion strategies: how the image vector and the text states become class logits, one module per strategy.

Every strategy has the same interface, `(z_img, text_tokens, text_mask) -> FusionOutput`, owns its classifier
head(s) and its classification loss, and is chosen by name from FUSIONS (the one switch on `model.fusion.type`).
Sub-modules are created in the order the flat model of checkpoint format 1 created them, so a seed gives the same
initial weights as before the composition.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from radgen.models.fusion.blocks import ClassifierHead, ConcatBlock, CrossAttentionBlock, Gate, masked_mean
from radgen.models.losses import ShardNorm, cross_entropy


@dataclass
class FusionOutput:
    """logits [B,C]; gate [B,E] (gated strategies); branch_logits [n_branches,B,C] (late fusion)."""

    logits: torch.Tensor
    gate: torch.Tensor | None = None
    branch_logits: torch.Tensor | None = None


def _head(in_dim: int, head_cfg: dict[str, Any], n_classes: int) -> ClassifierHead:
    return ClassifierHead(
        in_dim, list(head_cfg.get("hidden", [])), float(head_cfg.get("dropout", 0.0)), n_classes
    )


class Fusion(nn.Module):
    """Base: one head on the fused vector; class-weighted cross-entropy on the logits that learn (`trained`)."""

    def trained(self, out: FusionOutput) -> list[torch.Tensor]:
        """The logits the class loss is taken on: the final ones (late fusion: each branch's)."""
        return [out.logits]

    def loss(
        self,
        out: FusionOutput,
        labels: torch.Tensor,
        class_weight: torch.Tensor | None = None,
        shard: ShardNorm | None = None,
    ) -> torch.Tensor:
        """Mean of the cross-entropies of `trained(out)` (one term except for late fusion)."""
        terms = [cross_entropy(logits, labels, class_weight, shard) for logits in self.trained(out)]
        return terms[0] if len(terms) == 1 else torch.stack(terms).mean()


class OneHead(Fusion):
    """A strategy whose single head reads `head_inputs` vectors of width dim side by side."""

    head_inputs = 1

    def __init__(
        self, dim: int, fusion_cfg: dict[str, Any], head_cfg: dict[str, Any], n_classes: int
    ) -> None:
        super().__init__()
        self.head = _head(self.head_inputs * dim, head_cfg, n_classes)


class SingleBranch(OneHead):
    """`none`: no fusion; the head reads whichever branch the model has (z_img, or the pooled text)."""

    def forward(
        self, z_img: torch.Tensor | None, text_tokens: torch.Tensor | None, text_mask: torch.Tensor | None
    ) -> FusionOutput:
        return FusionOutput(self.head(z_img if z_img is not None else masked_mean(text_tokens, text_mask)))


class EarlyFusion(OneHead):
    """`early`: the head reads [z_img; pooled text]."""

    head_inputs = 2

    def forward(
        self, z_img: torch.Tensor, text_tokens: torch.Tensor, text_mask: torch.Tensor
    ) -> FusionOutput:
        return FusionOutput(self.head(torch.cat([z_img, masked_mean(text_tokens, text_mask)], dim=-1)))


class LateFusion(Fusion):
    """`late`: one head per branch; logits = log of the averaged branch probabilities; loss = mean branch CE."""

    def __init__(
        self, dim: int, fusion_cfg: dict[str, Any], head_cfg: dict[str, Any], n_classes: int
    ) -> None:
        super().__init__()
        self.text_head = _head(dim, head_cfg, n_classes)
        self.head = _head(dim, head_cfg, n_classes)

    def forward(
        self, z_img: torch.Tensor, text_tokens: torch.Tensor, text_mask: torch.Tensor
    ) -> FusionOutput:
        branches = torch.stack([self.head(z_img), self.text_head(masked_mean(text_tokens, text_mask))])
        log_mean = torch.logsumexp(F.log_softmax(branches.float(), dim=-1), dim=0) - math.log(
            branches.shape[0]
        )
        return FusionOutput(log_mean, branch_logits=branches)

    def trained(self, out: FusionOutput) -> list[torch.Tensor]:
        """Each branch learns on its own (the mean of their cross-entropies), not through the averaged logits."""
        return list(out.branch_logits)


class GatedFusion(Fusion):
    """A fusion block gives z_text; the gate (optional) mixes it with z_img; the head reads the result."""

    def __init__(
        self, block: nn.Module, dim: int, fusion_cfg: dict[str, Any], head_cfg: dict[str, Any], n_classes: int
    ) -> None:
        super().__init__()
        self.block = block
        self.gate = Gate(dim) if fusion_cfg.get("gate", True) else None
        self.head = _head(dim, head_cfg, n_classes)

    def fuse(
        self, z_img: torch.Tensor, text_tokens: torch.Tensor, text_mask: torch.Tensor, pooled: torch.Tensor
    ) -> torch.Tensor:
        raise NotImplementedError

    def forward(
        self, z_img: torch.Tensor, text_tokens: torch.Tensor, text_mask: torch.Tensor
    ) -> FusionOutput:
        # pooled once for the block and the gate: one graph node, so its gradient is summed in one place
        pooled = masked_mean(text_tokens, text_mask)
        z_text = self.fuse(z_img, text_tokens, text_mask, pooled)
        if self.gate is None:  # no gating: the block's output (which carries z_img through) is used directly
            return FusionOutput(self.head(z_text))
        z, g = self.gate(z_img, pooled, z_text)
        return FusionOutput(self.head(z), gate=g)


class CrossAttentionFusion(GatedFusion):
    """`cross_attention`: z_img attends to the text tokens (CrossAttentionBlock), then the gate."""

    def __init__(
        self, dim: int, fusion_cfg: dict[str, Any], head_cfg: dict[str, Any], n_classes: int
    ) -> None:
        block = CrossAttentionBlock(
            dim, int(fusion_cfg.get("num_heads", 4)), float(fusion_cfg.get("dropout", 0.1))
        )
        super().__init__(block, dim, fusion_cfg, head_cfg, n_classes)

    def fuse(
        self, z_img: torch.Tensor, text_tokens: torch.Tensor, text_mask: torch.Tensor, pooled: torch.Tensor
    ) -> torch.Tensor:
        return self.block(z_img, text_tokens, text_mask)


class ConcatFusion(GatedFusion):
    """`concat`: z_text = LN(GELU(W[z_img; pooled text])) (ConcatBlock), then the gate."""

    def __init__(
        self, dim: int, fusion_cfg: dict[str, Any], head_cfg: dict[str, Any], n_classes: int
    ) -> None:
        super().__init__(
            ConcatBlock(dim, float(fusion_cfg.get("dropout", 0.1))), dim, fusion_cfg, head_cfg, n_classes
        )

    def fuse(
        self, z_img: torch.Tensor, text_tokens: torch.Tensor, text_mask: torch.Tensor, pooled: torch.Tensor
    ) -> torch.Tensor:
        return self.block(z_img, pooled)


FUSIONS: dict[str, type[Fusion]] = {
    "none": SingleBranch,
    "early": EarlyFusion,
    "late": LateFusion,
    "concat": ConcatFusion,
    "cross_attention": CrossAttentionFusion,
}


def build_fusion(
    fusion_type: str, dim: int, fusion_cfg: dict[str, Any], head_cfg: dict[str, Any], n_classes: int
) -> Fusion:
    """The strategy registered under `fusion_type` (FUSIONS)."""
    if fusion_type not in FUSIONS:
        raise ValueError(f"model.fusion.type must be one of {tuple(FUSIONS)}, got {fusion_type!r}")
    return FUSIONS[fusion_type](dim, fusion_cfg, head_cfg, n_classes)
