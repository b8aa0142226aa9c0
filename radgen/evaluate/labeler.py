"""Offline rule-based findings labeler (CheXpert-labeler / NegEx style) and clinical-efficacy metrics.

Pipeline, per sentence of a report:

1. **Normalisation**: lowercase; list numbering ("1. ", "2) ") dropped; decimals protected; sentences split
   at ``. ; : ! ?`` and line breaks (so "IMPRESSION: ..." starts a new sentence); hyphens, slashes and other
   punctuation become spaces ("ground-glass" -> "ground glass", "and/or" -> "and or"); apostrophes dropped
   ("can't" -> "cant"). Anonymisation tokens such as "XXXX" stay ordinary words that match nothing.
2. **Mentions**: phrase patterns per finding (:data:`MENTIONS`, with synonyms and abbreviations such as
   "TB", "PTB", "infiltrate", "airspace disease", "LAD", "cavitary"); matches inside an *unmention* phrase
   (:data:`UNMENTIONS`: "pleural cavity", "LAD stent", "pericardial effusion", ...) are skipped. A few
   phrases state a finding's absence directly (:data:`NORMAL_PHRASES`: "heart size is normal",
   "costophrenic angles are sharp") and count as a negative mention.
3. **Classification of each mention**, in CheXpert's order:
   - *pseudo-negations* (:data:`PSEUDO_NEGATIONS`: "no change", "no interval change", "to suggest", ...)
     are masked first, so their words trigger nothing of their own; "not ruled out" / "cannot be
     excluded" are pseudo-negations too, but read as uncertainty cues (below), never as negation;
   - *negation*: a pre-trigger (:data:`NEGATION_PRE`: no, not, without, no evidence of, negative for,
     absence of, rule out, free of, clear of, resolution of, ...) up to 12 words before the mention, or a
     post-trigger (:data:`NEGATION_POST`: unlikely, ruled out, resolved, is not seen, is absent, ...) up to 8
     words after it -> 0;
   - otherwise *uncertainty*: a pre-cue (:data:`UNCERTAIN_PRE`: may, could, possible, suspected, cannot
     exclude, concern for, suggestive of, ...) or a post-cue (:data:`UNCERTAIN_POST`: cannot be excluded,
     not ruled out, is suspected, ...) with the same windows, or two findings joined by
     "or" / "versus" / "vs" ("atelectasis versus pneumonia") -> -1; cues that contain a negation word
     ("cannot exclude", "not ruled out") are uncertainty, never negation;
   - otherwise positive -> 1.
   A scope stops at a *terminator* (:data:`TERMINATORS`: but, however, although, except, which,
   secondary to, aside from, there is, ...), at a cue of the other kind ("no effusion, possible
   pneumothorax": the negation stops at "possible") and at the end of the sentence.
4. **Aggregation** over all mentions of a report: positive beats uncertain beats negative.
   ``no_finding`` is 1 when the report has text and no other finding is positive or uncertain and no
   other abnormality (:data:`OTHER_ABNORMALITIES`: granuloma, fracture, devices, emphysema, ...) is
   positive or uncertain; it is absent otherwise (as in CheXpert, it is never 0).

Clinical efficacy (:func:`ce_metrics`): each report becomes a binary vector over :data:`FINDINGS`.
**Uncertain policy: uncertain -> negative by default** (as R2GenCMN maps CheXpert's uncertain labels to 0);
``uncertain_as_positive=True`` switches to the other convention. Micro P/R/F1 pool true/false positives
over all findings and reports; macro P/R/F1 average the per-finding values over the findings that are
positive in at least one reference or generated report (a finding never positive anywhere has undefined
precision and recall and is left out rather than counted as 0).

Findings-only clinical efficacy (:func:`ce_findings_metrics`, keys :data:`CE_FINDINGS_METRICS`): the same
P/R/F1 over :data:`FINDINGS` minus :data:`DIAGNOSIS_LABELS` (pneumonia, tuberculosis, no_finding). The full
CE rewards a report for naming the class; the findings-only CE asks whether it describes what the image shows.
"""

from __future__ import annotations

import functools
import logging
import math
import re
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from radgen.evaluate.labeler_rules import (
    MAIN_FINDINGS,
    MENTIONS,
    NEGATION_POST,
    NEGATION_PRE,
    NORMAL_PHRASES,
    OTHER_ABNORMALITIES,
    PSEUDO_NEGATIONS,
    TERMINATORS,
    UNCERTAIN_POST,
    UNCERTAIN_PRE,
    UNMENTIONS,
)
from radgen.evaluate.sentences import is_missing, sentences

__all__ = [
    "CE_FINDINGS_METRICS",
    "CE_METRICS",
    "DIAGNOSIS_LABELS",
    "FINDINGS",
    "OBSERVATION_FINDINGS",
    "MAIN_FINDINGS",
    "MAIN_FINDING_METRIC",
    "MENTIONS",
    "ce_findings_metrics",
    "ce_metrics",
    "label_matrix",
    "label_report",
    "main_finding_rate",
    "names_main_finding",
]

log = logging.getLogger(__name__)

FINDINGS: tuple[str, ...] = (
    "no_finding",
    "consolidation",
    "opacity",
    "effusion",
    "nodule",
    "cavity",
    "fibrosis",
    "pneumonia",
    "tuberculosis",
    "lymphadenopathy",
    "atelectasis",
    "cardiomegaly",
    "pneumothorax",
    "edema",
)

CE_METRICS: tuple[str, ...] = (
    "ce_precision_micro",
    "ce_recall_micro",
    "ce_f1_micro",
    "ce_precision_macro",
    "ce_recall_macro",
    "ce_f1_macro",
)

#: Labels of FINDINGS that name a diagnosis (a class of the task) rather than an observation, left out of the
#: findings-only clinical efficacy: ``pneumonia`` and ``tuberculosis`` are the disease classes themselves
#: (their mentions include "infection", "TB", "miliary", "Koch"), and ``no_finding`` is the normal class.
#: Consolidation, nodules, cavities, fibrosis, effusion and the rest are what a radiologist sees and stay.
DIAGNOSIS_LABELS: frozenset[str] = frozenset({"no_finding", "pneumonia", "tuberculosis"})

#: FINDINGS without DIAGNOSIS_LABELS, in FINDINGS order: the columns of the findings-only CE.
OBSERVATION_FINDINGS: tuple[str, ...] = tuple(f for f in FINDINGS if f not in DIAGNOSIS_LABELS)

CE_FINDINGS_METRICS: tuple[str, ...] = (
    "ce_findings_precision_micro",
    "ce_findings_recall_micro",
    "ce_findings_f1_micro",
    "ce_findings_precision_macro",
    "ce_findings_recall_macro",
    "ce_findings_f1_macro",
)

_CONNECTORS = re.compile(r"\b(?:or|versus|vs|and or)\b")
_PRE_WINDOW = 12  # words between a pre-trigger and the mention
_POST_WINDOW = 8  # words between the mention and a post-trigger
_CONNECTOR_GAP = 2  # words allowed between a connector and the findings it joins


def _compile(fragments: Iterable[str]) -> re.Pattern[str]:
    # Longer alternatives first: Python's alternation is leftmost-first, not longest.
    ordered = sorted(fragments, key=len, reverse=True)
    return re.compile(r"\b(?:" + "|".join(ordered) + r")\b")


_RE_MENTION = {f: _compile(p) for f, p in MENTIONS.items()}
_RE_UNMENTION = {f: _compile(p) for f, p in UNMENTIONS.items()}
_RE_NORMAL = {f: _compile(p) for f, p in NORMAL_PHRASES.items()}
_RE_OTHER = _compile(OTHER_ABNORMALITIES)
_RE_PSEUDO = _compile(PSEUDO_NEGATIONS)
_RE_NEG_POST = _compile(NEGATION_POST)
_RE_NEG_PRE = _compile(NEGATION_PRE)
_RE_UNC_POST = _compile(UNCERTAIN_POST)
_RE_UNC_PRE = _compile(UNCERTAIN_PRE)
_RE_TERM = _compile(TERMINATORS)

Span = tuple[int, int]  # [first word, last word + 1)


def _sentences(text: str) -> list[str]:
    """The labeler's sentences: split at colons too, contractions joined (radgen.evaluate.sentences)."""
    return sentences(text, split_at_colon=True, join_apostrophes=True)


def _word_spans(pattern: re.Pattern[str], s: str, word_at: np.ndarray) -> list[Span]:
    """Matches of pattern as word spans (word_at maps a character offset to its word index)."""
    return [(int(word_at[m.start()]), int(word_at[m.end() - 1]) + 1) for m in pattern.finditer(s)]


def _overlaps(span: Span, others: Sequence[Span]) -> bool:
    return any(span[0] < o[1] and o[0] < span[1] for o in others)


def _blocked(lo: int, hi: int, blockers: Sequence[Span]) -> bool:
    """True when a blocker lies within the words [lo, hi) between a cue and a mention."""
    return any(lo <= b[0] and b[1] <= hi for b in blockers)


def _in_scope(mention: Span, pre: Sequence[Span], post: Sequence[Span], blockers: Sequence[Span]) -> bool:
    for cue in pre:
        if (
            cue[1] <= mention[0]
            and mention[0] - cue[1] <= _PRE_WINDOW
            and not _blocked(cue[1], mention[0], blockers)
        ):
            return True
    for cue in post:
        if (
            cue[0] >= mention[1]
            and cue[0] - mention[1] <= _POST_WINDOW
            and not _blocked(mention[1], cue[0], blockers)
        ):
            return True
    return False


def _joined_by_connector(mention: Span, partners: Sequence[Span], connectors: Sequence[Span]) -> bool:
    """'X or Y' / 'X versus Y': an alternative between two findings is uncertain for both."""
    for c in connectors:
        if 0 <= c[0] - mention[1] <= _CONNECTOR_GAP:
            if any(p != mention and 0 <= p[0] - c[1] <= _CONNECTOR_GAP for p in partners):
                return True
        if 0 <= mention[0] - c[1] <= _CONNECTOR_GAP:
            if any(p != mention and 0 <= c[0] - p[1] <= _CONNECTOR_GAP for p in partners):
                return True
    return False


@functools.lru_cache(maxsize=1 << 16)
def _label_sentence(s: str) -> tuple[tuple[tuple[str, int], ...], bool]:
    """(finding, value) for each mention of one normalised sentence, and whether another abnormality is
    asserted (positive or uncertain). Cached: real and generated reports repeat sentences a lot."""
    word_at = np.cumsum([c == " " for c in s])
    pseudo = _word_spans(_RE_PSEUDO, s, word_at)
    unc_post = [c for c in _word_spans(_RE_UNC_POST, s, word_at) if not _overlaps(c, pseudo)]
    unc_pre = [
        c
        for c in _word_spans(_RE_UNC_PRE, s, word_at)
        if not _overlaps(c, pseudo) and not _overlaps(c, unc_post)
    ]
    unc = unc_pre + unc_post
    neg_post = [
        c for c in _word_spans(_RE_NEG_POST, s, word_at) if not _overlaps(c, pseudo) and not _overlaps(c, unc)
    ]
    neg_pre = [
        c
        for c in _word_spans(_RE_NEG_PRE, s, word_at)
        if not _overlaps(c, pseudo)
        and not _overlaps(c, unc)
        # "not" inside "is not seen" acts backwards only; "resolved" works both ways
        and not any(c[0] >= p[0] and c[1] <= p[1] and p[1] - p[0] > c[1] - c[0] for p in neg_post)
    ]
    neg = neg_pre + neg_post
    terms = _word_spans(_RE_TERM, s, word_at)
    connectors = [c for c in _word_spans(_CONNECTORS, s, word_at) if not _overlaps(c, unc_post)]

    mentions: list[tuple[str, Span]] = []
    for finding, pattern in _RE_MENTION.items():
        if finding == "no_finding":
            continue
        spans = _word_spans(pattern, s, word_at)
        if spans and finding in _RE_UNMENTION:
            skip = _word_spans(_RE_UNMENTION[finding], s, word_at)
            spans = [sp for sp in spans if not _overlaps(sp, skip)]
        mentions.extend((finding, sp) for sp in spans)
    other = _word_spans(_RE_OTHER, s, word_at)
    partners = [sp for _, sp in mentions] + other

    def classify(span: Span) -> int:
        if _in_scope(span, neg_pre, neg_post, terms + unc):
            return 0
        if _in_scope(span, unc_pre, unc_post, terms + neg) or _joined_by_connector(
            span, partners, connectors
        ):
            return -1
        return 1

    labels = [(finding, classify(span)) for finding, span in mentions]
    for finding, pattern in _RE_NORMAL.items():
        labels.extend((finding, 0) for _ in pattern.finditer(s))
    other_asserted = any(classify(span) != 0 for span in other)
    return tuple(labels), other_asserted


_PRIORITY = {1: 2, -1: 1, 0: 0}  # positive > uncertain > negative


def label_report(text: Any) -> dict[str, int]:
    """Findings of one report: ``{finding: 1 positive | 0 negated | -1 uncertain}``; unmentioned ones absent.

    See the module docstring for the rules. Missing text (None, NaN, "") gives ``{}``.
    """
    if is_missing(text):
        return {}
    return dict(_label_text(str(text)))


@functools.lru_cache(maxsize=1 << 14)
def _label_text(text: str) -> tuple[tuple[str, int], ...]:
    parts = _sentences(text)
    if not parts:
        return ()
    result: dict[str, int] = {}
    other_asserted = False
    for s in parts:
        labels, other = _label_sentence(s)
        other_asserted = other_asserted or other
        for finding, value in labels:
            if finding not in result or _PRIORITY[value] > _PRIORITY[result[finding]]:
                result[finding] = value
    if not other_asserted and not any(v != 0 for v in result.values()):
        result["no_finding"] = 1
    return tuple((f, result[f]) for f in FINDINGS if f in result)


def label_matrix(texts: Sequence[Any], uncertain_as_positive: bool = False) -> np.ndarray:
    """Binary [n_reports, len(FINDINGS)] matrix: 1 where the finding is positive (or uncertain, if asked)."""
    column = {f: j for j, f in enumerate(FINDINGS)}
    out = np.zeros((len(texts), len(FINDINGS)), dtype=np.int8)
    for i, text in enumerate(texts):
        for finding, value in label_report(text).items():
            if value == 1 or (value == -1 and uncertain_as_positive):
                out[i, column[finding]] = 1
    return out


def _prf(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(tp + fp > 0, tp / np.maximum(tp + fp, 1), 0.0)
        recall = np.where(tp + fn > 0, tp / np.maximum(tp + fn, 1), 0.0)
        denom = 2 * tp + fp + fn
        f1 = np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0)
    return precision, recall, f1


def _has_text(text: Any) -> bool:
    if is_missing(text):
        return False
    return bool(str(text).strip())


def ce_metrics(
    references: Sequence[Any], hypotheses: Sequence[Any], uncertain_as_positive: bool = False
) -> dict[str, float]:
    """Clinical efficacy of generated reports: precision, recall and F1 of their findings against the
    reference reports' findings, micro and macro over :data:`FINDINGS` (keys in :data:`CE_METRICS`).

    Uncertain findings count as negative unless ``uncertain_as_positive``. Pairs whose reference is empty
    are left out (logged). Macro averages run over findings positive in at least one reference or
    hypothesis; when no finding is positive anywhere every value is nan.
    """
    return _ce(references, hypotheses, uncertain_as_positive, FINDINGS, CE_METRICS)


def ce_findings_metrics(
    references: Sequence[Any], hypotheses: Sequence[Any], uncertain_as_positive: bool = False
) -> dict[str, float]:
    """:func:`ce_metrics` over :data:`OBSERVATION_FINDINGS` only (keys in :data:`CE_FINDINGS_METRICS`):
    naming the right diagnosis (pneumonia, tuberculosis, no finding) earns nothing here, describing the
    right consolidation, cavity or effusion does. nan when no observation is positive anywhere."""
    return _ce(references, hypotheses, uncertain_as_positive, OBSERVATION_FINDINGS, CE_FINDINGS_METRICS)


def _ce(
    references: Sequence[Any],
    hypotheses: Sequence[Any],
    uncertain_as_positive: bool,
    findings: Sequence[str],
    names: Sequence[str],
) -> dict[str, float]:
    """Micro and macro P/R/F1 over the given columns of :data:`FINDINGS`, keyed by ``names`` (P, R, F1 micro
    then P, R, F1 macro)."""
    if len(references) != len(hypotheses):
        raise ValueError(f"{len(references)} references for {len(hypotheses)} hypotheses")
    keep = [i for i, r in enumerate(references) if _has_text(r)]
    if len(keep) < len(references):
        log.warning(
            "clinical efficacy: %d of %d pairs have no reference report and are left out",
            len(references) - len(keep),
            len(references),
        )
    if not keep:
        raise ValueError("no hypothesis has a non-empty reference report: clinical efficacy is undefined")
    columns = [FINDINGS.index(f) for f in findings]
    ref = label_matrix([references[i] for i in keep], uncertain_as_positive)[:, columns]
    hyp = label_matrix([hypotheses[i] for i in keep], uncertain_as_positive)[:, columns]
    tp = (ref & hyp).sum(axis=0).astype(float)
    fp = ((1 - ref) & hyp).sum(axis=0).astype(float)
    fn = (ref & (1 - hyp)).sum(axis=0).astype(float)
    active = (tp + fp + fn) > 0
    if not active.any():
        log.warning(
            "clinical efficacy (%s): no finding is positive in any report; P/R/F1 undefined (nan)", names[0]
        )
        return dict.fromkeys(names, math.nan)
    micro = _prf(tp.sum(), fp.sum(), fn.sum())
    macro = (v.mean() for v in _prf(tp[active], fp[active], fn[active]))
    return {name: float(v) for name, v in zip(names, (*micro, *macro), strict=True)}


MAIN_FINDING_METRIC = "main_finding_rate"


def names_main_finding(report: Any, label: str) -> bool:
    """Does the report state the main finding of class `label` (positive or uncertain mention; for normal,
    no finding at all)? A report that hedges ("nodules, tuberculosis should be considered") counts: it points
    the reader at the right disease."""
    if label not in MAIN_FINDINGS:
        raise ValueError(f"unknown class {label!r}; expected one of {sorted(MAIN_FINDINGS)}")
    found = label_report(report)
    if label == "normal":
        return found.get("no_finding", 0) == 1
    return any(found.get(f, 0) in (1, -1) for f in MAIN_FINDINGS[label])


def main_finding_rate(hypotheses: Sequence[Any], labels: Sequence[str]) -> float:
    """Share of generated reports that name the main finding of their image's true class (nan when empty).

    Unlike CE, which compares finding by finding with the reference report, this asks the question a reader
    of the report asks first: does it point at the right diagnosis?
    """
    if len(hypotheses) != len(labels):
        raise ValueError(f"{len(hypotheses)} reports for {len(labels)} labels")
    if not len(labels):
        return math.nan
    return float(np.mean([names_main_finding(h, str(y)) for h, y in zip(hypotheses, labels, strict=True)]))
