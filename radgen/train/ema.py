"""Exponential moving average of the weights, used for validation, generated training text and the saved model.

Why: with a few hundred images, class-weighted sampling and small batches, the live weights jitter from step
to step and so does the inner-val AUC that early stopping reads; the average is smoother and usually better.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch


class WeightEMA:
    """Average of every floating tensor of the state dict (decay 0: off, the live weights are used)."""

    def __init__(self, model: torch.nn.Module, decay: float) -> None:
        self.decay = float(decay)
        self.shadow = {k: v.detach().clone() for k, v in model.state_dict().items()} if self.decay > 0 else {}
        # live views of the weights (updated in place by the optimizer and by load_state_dict)
        live = model.state_dict()
        self._float = [(self.shadow[k], live[k]) for k in self.shadow if live[k].dtype.is_floating_point]
        self._other = [(self.shadow[k], live[k]) for k in self.shadow if not live[k].dtype.is_floating_point]

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:  # noqa: ARG002 - the live views were bound at construction
        """One step of the average towards the live weights."""
        if self.decay <= 0:
            return
        if self._float:
            torch._foreach_lerp_([s for s, _ in self._float], [v for _, v in self._float], 1.0 - self.decay)
        for s, v in self._other:
            s.copy_(v)

    @contextlib.contextmanager
    def averaged(self, model: torch.nn.Module) -> Iterator[torch.nn.Module]:
        """The model to evaluate: `model` with the averaged weights loaded for the block."""
        if self.decay <= 0:
            yield model
            return
        backup = {k: v.detach().clone() for k, v in model.state_dict().items()}
        model.load_state_dict(self.shadow)
        try:
            yield model
        finally:
            model.load_state_dict(backup)

    def state_tensors(self) -> dict[str, torch.Tensor]:
        """Tensors a checkpoint stores (empty when off)."""
        return self.shadow

    def load_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        """Restore the average from a checkpoint's tensors."""
        for k, v in self.shadow.items():
            v.copy_(tensors[k])
