"""Image encoder: any timm backbone → image tokens and a pooled vector, both projected to embed_dim."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn

from radgen.models.pretrained import timm_create
from radgen.models.stems import resolve_kwargs

# Grey-level statistics for randomly initialised single-channel encoders (synthetic and real CXRs alike).
GRAY_MEAN, GRAY_STD = 0.5, 0.25


class ImageEncoder(nn.Module):
    """timm backbone + a Linear to embed_dim for the pooled vector (z_img) and one for the token grid.

    Input: float images [B, 1, S, S] in [0, 1]. Pretrained (ImageNet) backbones get the grey channel
    replicated to 3 channels and ImageNet mean/std; random-init backbones take 1 channel (cheaper).
    Two projections, not one: with a shared one the report loss (on the tokens) kept pulling z_img away
    from what the classifier needs.
    """

    def __init__(
        self,
        name: str,
        embed_dim: int,
        image_size: int,
        pretrained: bool = False,
        kwargs: dict[str, Any] | None = None,
        load_weights: bool = True,
        z_norm: bool = False,
    ) -> None:
        """`pretrained` fixes the architecture (3 channels, ImageNet statistics); `load_weights` False builds
        that architecture without fetching weights (used when a saved checkpoint supplies them). `z_norm` adds a
        BatchNorm on z_img: max-pooled features of a randomly initialised backbone share a large common offset
        that MLP heads with LayerNorm took many epochs to learn around (they stalled; linear heads did not)."""
        super().__init__()
        self.name = name
        self.in_chans = 3 if pretrained else 1
        kwargs = resolve_kwargs(kwargs or {})
        common = {"num_classes": 0, "in_chans": self.in_chans}
        fetch = pretrained and load_weights
        try:  # transformers (Swin, ViT) need the input size; CNNs do not accept it
            self.backbone = timm_create(name, pretrained=fetch, **common, img_size=image_size, **kwargs)
        except TypeError:
            self.backbone = timm_create(name, pretrained=fetch, **common, **kwargs)
        cfg = getattr(self.backbone, "pretrained_cfg", None) or {}
        if self.in_chans == 3:
            mean, std = cfg.get("mean", (0.485, 0.456, 0.406)), cfg.get("std", (0.229, 0.224, 0.225))
        else:
            mean, std = (GRAY_MEAN,), (GRAY_STD,)
        self.register_buffer(
            "mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1), persistent=False
        )
        self.register_buffer(
            "std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1), persistent=False
        )
        self.num_features = int(self.backbone.num_features)
        self.proj = nn.Linear(self.num_features, embed_dim)
        self.token_proj = nn.Linear(self.num_features, embed_dim)
        self.z_norm = nn.BatchNorm1d(embed_dim) if z_norm else nn.Identity()

    def _tokens(self, feats: torch.Tensor) -> torch.Tensor:
        if feats.ndim == 3:  # ViT-style [B, T, C]
            return feats
        if getattr(self.backbone, "output_fmt", "NCHW") == "NHWC":  # Swin
            return feats.flatten(1, 2)
        return feats.flatten(2).transpose(1, 2)  # CNN NCHW → [B, HW, C]

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (z_img [B, E], tokens [B, T, E])."""
        x = images
        if x.shape[1] != self.in_chans:
            x = x[:, :1].expand(-1, self.in_chans, -1, -1)
        x = (x - self.mean) / self.std
        feats = self.backbone.forward_features(x)
        pooled = self.backbone.forward_head(feats, pre_logits=True)
        return self.z_norm(self.proj(pooled)), self.token_proj(self._tokens(feats))
