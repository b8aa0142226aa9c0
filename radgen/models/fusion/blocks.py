"""Building blocks of the fusion strategies: text pooling, the two fusion blocks, the gate, the classifier head."""

from __future__ import annotations

import torch
import torch.nn as nn


def masked_mean(tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over the valid (mask 1) tokens: [B, L, E], [B, L] → [B, E]."""
    m = mask.to(tokens.dtype).unsqueeze(-1)
    return (tokens * m).sum(1) / m.sum(1).clamp_min(1.0)


class CrossAttentionBlock(nn.Module):
    """Query z_img attends to the projected text tokens; then self-attention and an FFN, each residual.

    Cross-attention + residual LayerNorm, self-attention + residual LayerNorm, FFN + residual (seed spec).
    The query is the single z_img token, so the self-attention step acts on that one token.
    """

    def __init__(self, dim: int, num_heads: int, dropout: float) -> None:
        super().__init__()
        self.cross_attn = nn.MultiheadAttention(dim, num_heads, dropout=dropout, batch_first=True)
        self.norm1 = nn.LayerNorm(dim)
        self.self_attn = nn.MultiheadAttention(dim, num_heads, dropout=dropout, batch_first=True)
        self.norm2 = nn.LayerNorm(dim)
        self.ffn = nn.Sequential(
            nn.Linear(dim, 2 * dim), nn.GELU(), nn.Dropout(dropout), nn.Linear(2 * dim, dim)
        )
        self.drop = nn.Dropout(dropout)

    def forward(
        self, z_img: torch.Tensor, text_tokens: torch.Tensor, text_mask: torch.Tensor
    ) -> torch.Tensor:
        q = z_img.unsqueeze(1)
        attended, _ = self.cross_attn(
            q, text_tokens, text_tokens, key_padding_mask=~text_mask.bool(), need_weights=False
        )
        x = self.norm1(q + self.drop(attended))
        s, _ = self.self_attn(x, x, x, need_weights=False)
        x = self.norm2(x + self.drop(s))
        x = x + self.drop(self.ffn(x))
        return x.squeeze(1)


class ConcatBlock(nn.Module):
    """Ablation of cross-attention: z_text = LN(GELU(W[z_img; pooled text]))."""

    def __init__(self, dim: int, dropout: float) -> None:
        super().__init__()
        self.proj = nn.Sequential(nn.Linear(2 * dim, dim), nn.GELU(), nn.Dropout(dropout), nn.LayerNorm(dim))

    def forward(self, z_img: torch.Tensor, text_pooled: torch.Tensor) -> torch.Tensor:
        return self.proj(torch.cat([z_img, text_pooled], dim=-1))


class Gate(nn.Module):
    """g = σ(W[z_img; pooled text]); z = g⊙z_img + (1−g)⊙z_text (element-wise convex combination)."""

    def __init__(self, dim: int, init_bias: float = 2.0) -> None:
        """`init_bias` > 0 starts the gate open towards the image (σ(2) ≈ 0.88): early in training the generated
        reports are noise, and a gate starting at 0.5 let that noise drown z_img and stall the image path."""
        super().__init__()
        self.linear = nn.Linear(2 * dim, dim)
        nn.init.constant_(self.linear.bias, init_bias)

    def forward(
        self, z_img: torch.Tensor, text_pooled: torch.Tensor, z_text: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        g = torch.sigmoid(self.linear(torch.cat([z_img, text_pooled], dim=-1)))
        return g * z_img + (1.0 - g) * z_text, g


class ClassifierHead(nn.Module):
    """[Linear → LayerNorm → GELU → Dropout] per hidden width, then Linear → classes (hidden [] = linear)."""

    def __init__(self, in_dim: int, hidden: list[int], dropout: float, n_classes: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = in_dim
        for h in hidden:
            layers += [nn.Linear(width, h), nn.LayerNorm(h), nn.GELU(), nn.Dropout(dropout)]
            width = h
        layers.append(nn.Linear(width, n_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
