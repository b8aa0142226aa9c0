"""Text encoder: a BERT-family transformers model over report text → contextual token states H_text."""

from __future__ import annotations

import torch
import torch.nn as nn


class TextEncoder(nn.Module):
    """Wraps an AutoModel; runs without autograd while frozen (progressive unfreezing saves compute)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.hidden_size = int(model.config.hidden_size)

    @property
    def frozen(self) -> bool:
        return not any(p.requires_grad for p in self.model.parameters())

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.frozen):
            return self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
