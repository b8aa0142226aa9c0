"""Token tables: the training texts tokenised once, sliced per batch.

Ground-truth reports do not change during a run, so their text-encoder inputs and decoder labels are tokenised
once per fold (not once per batch per epoch); generated texts are tokenised once per text-mix draw. A batch's
slice keeps the columns where any of its rows has a token, which is exactly what tokenising the batch alone
gives (padding to the batch's longest text, on either side).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

CPU = torch.device("cpu")
IGNORE = -100  # decoder label padding (RadGenProcessor.tokenize_reports)


@dataclass(frozen=True)
class TokenTable:
    """ids [N, W] and mask [N, W] (mask: 1 = token) of N texts, on the CPU."""

    ids: torch.Tensor
    mask: torch.Tensor

    def batch(self, idx: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """(ids, mask) of rows `idx`, trimmed to the columns the batch uses."""
        rows = torch.from_numpy(np.asarray(idx, dtype=np.int64))
        ids, mask = self.ids[rows], self.mask[rows]
        keep = mask.bool().any(0)
        return ids[:, keep], mask[:, keep]


def text_table(model: Any, texts: list[str]) -> TokenTable:
    """Text-encoder inputs of `texts` (one processor.tokenize_text call)."""
    enc = model.processor.tokenize_text(texts, CPU)
    return TokenTable(enc["input_ids"], enc["attention_mask"])


def report_table(model: Any, reports: list[str]) -> TokenTable:
    """Decoder labels of `reports` (one processor.tokenize_reports call); padding is IGNORE."""
    labels = model.processor.tokenize_reports(reports, CPU)
    return TokenTable(labels, (labels != IGNORE).long())


def _pad_id(table: TokenTable) -> int | None:
    pads = table.ids[table.mask == 0]
    return int(pads[0]) if pads.numel() else None


def _widen(table: TokenTable, width: int, pad: int) -> TokenTable:
    extra = width - table.ids.shape[1]
    if extra <= 0:
        return table
    n = table.ids.shape[0]
    ids = torch.cat([table.ids, torch.full((n, extra), pad, dtype=table.ids.dtype)], 1)
    return TokenTable(ids, torch.cat([table.mask, torch.zeros((n, extra), dtype=table.mask.dtype)], 1))


def mixed_text_table(model: Any, base: TokenTable, texts: list[str], replaced: dict[int, str]) -> TokenTable:
    """`base` (the tokenised `texts`) with rows `replaced` re-tokenised from their new text.

    Right padding is assumed for the merge (the tables' tokenizers pad right); when the pad id cannot be read
    off either table, or padding is not on the right, all texts are tokenised afresh (one call).
    """
    if not replaced:
        return base
    rows = sorted(replaced)
    new = text_table(model, [replaced[i] for i in rows])
    width = max(base.ids.shape[1], new.ids.shape[1])
    pad = _pad_id(base) if _pad_id(base) is not None else _pad_id(new)
    if (pad is None and base.ids.shape[1] != new.ids.shape[1]) or not (_right(base) and _right(new)):
        return text_table(model, [replaced.get(i, t) for i, t in enumerate(texts)])
    base, new = _widen(base, width, pad or 0), _widen(new, width, pad or 0)
    ids, mask = base.ids.clone(), base.mask.clone()
    ids[rows], mask[rows] = new.ids, new.mask
    return TokenTable(ids, mask)


def _right(table: TokenTable) -> bool:
    """Is every row's padding at its end (mask non-increasing along the row)?"""
    m = table.mask
    return bool((m[:, 1:] <= m[:, :-1]).all()) if m.shape[1] > 1 else True
