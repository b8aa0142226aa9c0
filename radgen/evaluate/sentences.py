"""Sentence splitting and word normalisation of report text: the one place its regular expressions live.

Two readers split differently on purpose: the NLG metrics follow R2Gen (a colon does not end a sentence,
apostrophes become spaces) so that BLEU/ROUGE/CIDEr are comparable with the literature; the findings labeler
also splits at colons ("IMPRESSION: ...") and joins contractions ("can't" -> "cant") so that its negation
cues match. Everything else (list numbering dropped, decimals protected, punctuation to spaces) is shared.
"""

from __future__ import annotations

import math
import re
from typing import Any

__all__ = ["is_missing", "sentences"]

LIST_NUMBER = re.compile(r"(?:^|(?<=[.:;!?\n]))\s*\(?\d{1,2}[.)](?=\s)")  # "1. ", "2) " at a sentence start
DECIMAL = re.compile(r"(?<=\d)\.(?=\d)")  # "1.5" -> "15": not a sentence end
SENTENCE_END = re.compile(r"[.!?;\n\r]+")  # R2Gen's boundaries (NLG metrics)
CLAUSE_END = re.compile(r"[.:;!?\n\r]+")  # also at colons (labeler: "FINDINGS:", "IMPRESSION:")
APOSTROPHE = re.compile(r"['\u2019]")
NON_WORD = re.compile(r"[^a-z0-9]+")


def is_missing(text: Any) -> bool:
    """None or NaN (how pandas reads an empty report cell)."""
    return text is None or (isinstance(text, float) and math.isnan(text))


def sentences(text: str, *, split_at_colon: bool, join_apostrophes: bool) -> list[str]:
    """Lowercased sentences of words [a-z0-9] separated by single spaces; empty sentences dropped."""
    t = DECIMAL.sub("", LIST_NUMBER.sub(" ", text.lower()))
    if join_apostrophes:
        t = APOSTROPHE.sub("", t)
    end = CLAUSE_END if split_at_colon else SENTENCE_END
    return [words for raw in end.split(t) if (words := NON_WORD.sub(" ", raw).strip())]
