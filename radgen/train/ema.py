"""Exponential moving average of the weights (timm.utils.ModelEmaV3), used for validation, generated training
text and the saved model.

Why an average: with a few hundred images, class-weighted sampling and small batches, the live weights jitter
from step to step and so does the inner-val AUC that early stopping reads; the average is smoother and usually
better.

timm's ModelEmaV3 (checked in timm 1.0.31's source): a deepcopy of the model on its device; `update(model)`
without a step uses the constant `decay` (no warm-up: warm-up needs a step argument and use_warmup); every
floating tensor of the state dict, parameters AND buffers, is lerped by 1 - decay, other tensors are copied;
stochastic rounding only touches bfloat16 EMA tensors (ours are float32). One difference mattered: state_dict()
lists a tied weight (BART's embedding = its output projection) under both names, and timm lerps each entry, so
a tied tensor moved twice per step (decay² instead of decay). `_OncePerTensor` lerps each storage once, which
makes the average equal to the engine's earlier hand-written one, step for step.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from timm.utils import ModelEmaV3


class _OncePerTensor(ModelEmaV3):
    """ModelEmaV3 whose update visits a tied tensor once (see the module docstring).

    The pairs of (average, live) tensors are listed once per live model and reused: building two state dicts
    every step cost 2 % of a demo training step, and both models' tensors are only ever updated in place
    (optimiser, BatchNorm statistics, checkpoint loading), so the lists stay valid.
    """

    _paired_with: int | None = None  # id() of the live model the pairs below belong to
    _pairs: tuple[list[torch.Tensor], list[torch.Tensor], list[tuple[torch.Tensor, torch.Tensor]]] = (
        [],
        [],
        [],
    )

    def _tensor_pairs(self, model: torch.nn.Module) -> tuple[list, list, list]:
        """(average floats, live floats, (average, live) others), each tied storage once."""
        if self._paired_with != id(model):
            ema_sd, model_sd = self.module.state_dict(), model.state_dict()
            seen: set[tuple[int, int]] = set()
            ema_f, model_f, others = [], [], []
            for name, ema_v in ema_sd.items():
                key = (ema_v.untyped_storage().data_ptr(), ema_v.storage_offset())
                if key in seen:
                    continue
                seen.add(key)
                if ema_v.is_floating_point():
                    ema_f.append(ema_v)
                    model_f.append(model_sd[name])
                else:
                    others.append((ema_v, model_sd[name]))
            self._paired_with, self._pairs = id(model), (ema_f, model_f, others)
        return self._pairs

    def apply_update_(self, model: torch.nn.Module, decay: float) -> None:
        ema_f, model_f, others = self._tensor_pairs(model)
        for ema_v, model_v in others:
            ema_v.copy_(model_v)
        self._foreach_lerp_(ema_f, model_f, weight=1.0 - decay)


class WeightEMA:
    """The run's weight average (decay 0: off, the live model is evaluated)."""

    def __init__(self, model: torch.nn.Module, decay: float) -> None:
        self.decay = float(decay)
        self.ema = _OncePerTensor(model, decay=self.decay) if self.decay > 0 else None

    def update(self, model: torch.nn.Module) -> None:
        """One step of the average towards the live weights."""
        if self.ema is not None:
            self.ema.update(model)

    @contextlib.contextmanager
    def averaged(self, model: torch.nn.Module) -> Iterator[torch.nn.Module]:
        """The model to evaluate: the averaged copy, or `model` itself when the average is off."""
        yield model if self.ema is None else self.ema.module

    def state_tensors(self) -> dict[str, torch.Tensor]:
        """Live views of the averaged tensors, for a checkpoint (empty when off)."""
        return {} if self.ema is None else self.ema.module.state_dict()

    def load_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        """Restore the average from a checkpoint's tensors."""
        for k, v in self.state_tensors().items():
            v.copy_(tensors[k])
