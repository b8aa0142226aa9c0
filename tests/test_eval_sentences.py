"""The shared sentence splitter: the labeler's and the NLG metrics' conventions differ only where documented."""

from __future__ import annotations

import math

from radgen.evaluate.sentences import is_missing, sentences


def test_both_conventions_share_numbering_decimals_and_punctuation() -> None:
    text = "1. Right-sided effusion, 1.5 cm.  2) Heart: normal!"
    assert sentences(text, split_at_colon=False, join_apostrophes=False) == [
        "right sided effusion 15 cm",
        "heart normal",
    ]
    assert sentences(text, split_at_colon=True, join_apostrophes=True) == [
        "right sided effusion 15 cm",
        "heart",
        "normal",
    ]


def test_apostrophes_join_only_for_the_labeler() -> None:
    assert sentences("Can't exclude it", split_at_colon=True, join_apostrophes=True) == ["cant exclude it"]
    assert sentences("Can't exclude it", split_at_colon=False, join_apostrophes=False) == ["can t exclude it"]


def test_missing_text() -> None:
    assert is_missing(None) and is_missing(math.nan) and not is_missing("") and not is_missing("x")
    assert sentences(" . ;\n", split_at_colon=True, join_apostrophes=True) == []
