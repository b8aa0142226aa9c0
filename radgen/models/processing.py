"""RadGenProcessor: everything between raw inputs and tensors (both tokenizers, image conversion, decoding).

A plain object, not an nn.Module (as transformers' processors): tokenizers are not parameters, and callers
reach them as `model.processor.tokenize_text(...)`. Saved beside the weights (tokenizer_report/,
tokenizer_text/), so a model directory is complete without the training data.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from radgen.data.images import to_float

REPORT_TOKENIZER_DIR = "tokenizer_report"
TEXT_TOKENIZER_DIR = "tokenizer_text"
TOKENIZER_DIRS = {"report": REPORT_TOKENIZER_DIR, "text": TEXT_TOKENIZER_DIR}
TOKENIZER_FILES = ("tokenizer_config.json", "tokenizer.json")


def clean_report_text(text: str) -> str:
    """Undo WordPiece spacing around punctuation ("FINDINGS : a thick - walled" -> "FINDINGS: a thick-walled")."""
    text = re.sub(r"\s+([.,;:!?%)])", r"\1", text)
    text = re.sub(r"([(])\s+", r"\1", text)
    text = re.sub(r"(\w)\s*-\s*(\w)", r"\1-\2", text)
    return re.sub(r"\s{2,}", " ", text).strip()


def _to(t: torch.Tensor, device: torch.device | str | None) -> torch.Tensor:
    return t if device is None else t.to(device)


class RadGenProcessor:
    """Report tokenizer (decoder targets, decoding), text tokenizer (text-branch input) and image conversion."""

    def __init__(
        self,
        image_size: int,
        report_tokenizer: Any = None,
        text_tokenizer: Any = None,
        report_max_length: int = 64,
        text_max_length: int = 128,
    ) -> None:
        self.image_size = int(image_size)
        self.report_tokenizer = report_tokenizer
        self.text_tokenizer = text_tokenizer
        self.report_max_length = int(report_max_length)
        self.text_max_length = int(text_max_length)

    def images_to_tensor(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 cache images [B,1,S,S] -> float model input [B,1,size,size] in [0, 1] (radgen.data.images)."""
        return to_float(images, self.image_size)

    def tokenize_text(
        self, reports: Sequence[str], device: torch.device | str | None = None
    ) -> dict[str, torch.Tensor]:
        """Reports → text-encoder inputs (input_ids, attention_mask)."""
        enc = self.text_tokenizer(
            [r or "" for r in reports],
            padding=True,
            truncation=True,
            max_length=self.text_max_length,
            return_tensors="pt",
        )
        return {
            "input_ids": _to(enc["input_ids"], device),
            "attention_mask": _to(enc["attention_mask"], device),
        }

    def tokenize_reports(
        self, reports: Sequence[str], device: torch.device | str | None = None
    ) -> torch.Tensor:
        """Reference reports → decoder labels (padding = -100); one slot is left for the decoder start token."""
        enc = self.report_tokenizer(
            [r or "" for r in reports],
            padding=True,
            truncation=True,
            max_length=self.report_max_length - 1,
            return_tensors="pt",
        )
        return _to(enc["input_ids"].masked_fill(enc["attention_mask"] == 0, -100), device)

    def decode_reports(self, ids: torch.Tensor) -> list[str]:
        """Generated token ids → report texts (special and control tokens dropped, punctuation re-attached)."""
        texts = self.report_tokenizer.batch_decode(ids, skip_special_tokens=True)
        return [clean_report_text(t) for t in texts]

    # ----------------------------------------------------------------- persistence
    def required_files(self) -> list[str]:
        return self.files_for(self.report_tokenizer is not None, self.text_tokenizer is not None)

    @staticmethod
    def files_for(report: bool, text: bool) -> list[str]:
        """Files a model directory must hold for a processor with these tokenizers."""
        dirs = [d for d, on in ((REPORT_TOKENIZER_DIR, report), (TEXT_TOKENIZER_DIR, text)) if on]
        return [f"{d}/{f}" for d in dirs for f in TOKENIZER_FILES]

    def save_pretrained(self, directory: str | Path) -> None:
        d = Path(directory)
        if self.report_tokenizer is not None:
            self.report_tokenizer.save_pretrained(str(d / REPORT_TOKENIZER_DIR))
        if self.text_tokenizer is not None:
            self.text_tokenizer.save_pretrained(str(d / TEXT_TOKENIZER_DIR))
