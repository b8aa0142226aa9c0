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

_ADV = r"(?:mildly|moderately|markedly|severely|slightly|minimally|massively|significantly|again|stably|still|now)"
_NODE_SITE = r"(?:hilar|mediastinal|paratracheal|subcarinal|axillary|supraclavicular|lymph)"

#: regular-expression fragments (matched on normalised text, word-bounded) per finding.
MENTIONS: dict[str, tuple[str, ...]] = {
    "consolidation": (r"consolidat\w*",),
    "opacity": (
        r"opaci\w*",
        r"infiltrat\w*",
        r"air ?space (?:disease|process|filling|shadowing)",
        r"ground glass",
        r"densit(?:y|ies)",
        r"haz(?:y|iness)",
    ),
    "effusion": (
        r"effusions?",
        r"pleural fluid",
        r"hydro ?pneumothora\w*",
        r"hydrothora\w*",
        r"fluid (?:in|within) the (?:\w+ )?(?:pleural|fissure\w*)",
        r"blunt\w* of the (?:\w+ ){0,2}(?:costophrenic|cp) (?:angles?|sulc\w*|recess\w*)",
        r"(?:costophrenic|cp) (?:angles?|sulc\w*|recess\w*) (?:is |are |remain |remains )?blunt\w*",
    ),
    "nodule": (r"nodul\w*", r"micronodul\w*", r"fibronodul\w*", r"coin lesions?"),
    "cavity": (r"cavit\w*",),
    "fibrosis": (
        r"fibros\w*",
        r"fibrotic",
        r"fibrous",
        r"fibronodul\w*",
        r"fibrocalcific",
        r"fibrocavit\w*",
        r"scar(?:s|ring|red)?",
        r"honeycomb\w*",
    ),
    "pneumonia": (r"pneumoni\w*", r"bronchopneumoni\w*", r"pna", r"infect\w*"),
    "tuberculosis": (
        r"tuberculo\w*",
        r"tb",
        r"ptb",
        r"koch\w*",
        r"mycobacteri\w*",
        r"miliary",
        r"ghon",
        r"ranke",
    ),
    "lymphadenopathy": (
        r"lymphadenopath\w*",
        r"adenopath\w*",
        r"lad",
        r"enlarged (?:\w+ ){0,2}(?:lymph )?nodes?",
        rf"{_NODE_SITE} (?:lymph )?nodes? (?:is |are |appear |appears )?(?:{_ADV} )?enlarge\w*",
        r"(?:lymph node|nodal|hilar|mediastinal) (?:enlargement|fullness)",
        r"enlarged (?:\w+ ){0,2}hil(?:um|a|ar)",
    ),
    "atelectasis": (
        r"atelecta\w*",
        r"(?:lobar|lobe|segmental|lung) collapse",
        r"collapse of the (?:\w+ ){0,3}(?:lobe|lung)",
        r"collapsed (?:\w+ )?(?:lobe|lung)",
        r"volume loss",
    ),
    "cardiomegaly": (
        r"cardiomegal\w*",
        r"cardiac enlargement",
        r"enlarge(?:d|ment of the) (?:heart|cardiac (?:silhouette|shadow|size)|cardiomediastinal silhouette)",
        r"(?:heart|heart size|cardiac silhouette|cardiac shadow|cardiac size|cardiomediastinal silhouette)"
        rf" (?:is |are |appears |remains |is again )?(?:{_ADV} )?(?:enlarged|increased)",
    ),
    "pneumothorax": (r"pneumothora\w*", r"ptx", r"hydro ?pneumothora\w*"),
    "edema": (
        r"o?edema\w*",
        r"(?:vascular|pulmonary|venous) congestion",
        r"chf",
        r"(?:congestive )?heart failure",
        r"kerley",
        r"cephali[sz]ation",
    ),
}

#: phrases that look like a mention but are not one (matches overlapping them are dropped).
UNMENTIONS: dict[str, tuple[str, ...]] = {
    "effusion": (r"pericardial effusions?", r"joint effusions?"),
    "opacity": (r"(?:bone|bony|osseous|mineral|breast|nipple) densit(?:y|ies)",),
    "cavity": (r"(?:pleural|thoracic|oral|abdominal|nasal|peritoneal|chest|nasal) cavit(?:y|ies)",),
    "fibrosis": (r"cystic fibrosis",),
    "lymphadenopathy": (r"lad (?:stent\w*|territory|artery|coronary|distribution|graft)",),
    "edema": (r"soft tissue o?edema\w*",),
}

#: phrases that state the absence of a finding directly (a negative mention).
NORMAL_PHRASES: dict[str, tuple[str, ...]] = {
    "cardiomegaly": (
        r"(?:heart|cardiac|cardiomediastinal) (?:size|silhouette|contours?|shadow)(?: and (?:[a-z]+ ){0,5}?[a-z]+)?"
        r" (?:is |are |appears? |remains? )?(?:within normal limits|normal|unremarkable|not enlarged)",
        r"normal (?:heart|cardiac|cardiomediastinal) (?:size|silhouette|contours?)",
        r"heart (?:is |appears )?(?:normal in size|of normal size|not enlarged|normal)",
    ),
    "effusion": (
        r"(?:costophrenic|cp) (?:angles?|sulci|recesses) (?:are |is |remain )?(?:sharp|clear|preserved|normal)",
    ),
    "lymphadenopathy": (
        r"(?:hila|hilar (?:contours|structures|regions|shadows)) (?:are |is |appear )?(?:normal|unremarkable)",
    ),
}

#: abnormalities outside FINDINGS: a positive or uncertain one cancels no_finding.
OTHER_ABNORMALITIES: tuple[str, ...] = (
    r"granulom\w*",
    r"fractur\w*",
    r"pacemaker",
    r"pacer",
    r"defibrillator",
    r"catheter",
    r"picc",
    r"(?:endotracheal|chest|feeding|nasogastric|ng|et|tracheostomy) tubes?",
    r"sternotomy",
    r"(?:surgical )?clips",
    r"hernia",
    r"emphysema\w*",
    r"hyperinflat\w*",
    r"hyperexpan\w*",
    r"copd",
    r"scoliosis",
    r"kyphosis",
    r"degenerative",
    r"osteophyt\w*",
    r"spondylosis",
    r"(?:pleural )?thickening",
    r"calcifi\w*",
    r"tortuous",
    r"ectatic",
    r"atheroscleros\w*",
    r"masses",
    r"mass",
    r"lesions?",
    r"bronchiectasis",
    r"elevat\w* (?:of the )?(?:\w+ )?hemidiaphragm",
    r"(?:hemidiaphragm|diaphragm) is elevated",
)

#: masked before anything else: they contain trigger words but do not negate.
PSEUDO_NEGATIONS: tuple[str, ...] = (
    r"no (?:significant |definite |appreciable |substantial |major )?(?:interval )?"
    r"(?:change|increase|decrease|improvement|progression|worsening|enlargement)",
    r"without (?:significant |definite )?(?:interval )?(?:change|increase|decrease|progression)",
    r"not (?:significantly )?changed",
    r"not clear",
    r"not only",
    r"no further",
    r"to suggest",
    r"to indicate",
)

NEGATION_POST: tuple[str, ...] = (
    r"(?:not|no longer) (?:\w+ly )?(?:seen|identified|present|visuali[sz]ed|evident|appreciated|demonstrated|"
    r"noted|detected|visible|apparent|shown)",
    r"unlikely",
    r"(?:was |has been |is |been )?ruled out",
    r"(?:has |have |had )?resolved",
    r"(?:has |have )?(?:cleared|disappeared)",
    r"(?:is |are )?absent",
    r"excluded",
)

NEGATION_PRE: tuple[str, ...] = (
    r"no",
    r"not",
    r"nor",
    r"neither",
    r"without",
    r"absence of",
    r"negative for",
    r"free of",
    r"clear of",
    r"rule out",
    r"r o",
    r"resolution of",
    r"resolved",
    r"never",
    r"denies",
    r"fails? to (?:show|reveal|demonstrate)",
)

UNCERTAIN_POST: tuple[str, ...] = (
    r"(?:cannot|can not|cant|could not|may not|not) (?:be )?(?:entirely |completely |totally )?(?:excluded|ruled out)",
    r"(?:is|are|was|were) (?:also )?(?:possible|possibly present|questioned|suspected|probable|favou?red|"
    r"considered|questionable|not excluded|uncertain)",
    r"(?:is|are) (?:more |most |less |quite )?likely",
    r"(?:may|might|could) (?:also )?be (?:present|seen|noted)",
)

UNCERTAIN_PRE: tuple[str, ...] = (
    r"(?:cannot|can not|cant|could not|not) (?:entirely |completely )?(?:exclude|rule out)",
    r"may",
    r"might",
    r"could",
    r"possibl[ey]",
    r"probabl[ey]",
    r"likely",
    r"presum\w*",
    r"suspect\w*",
    r"suspicio\w* (?:for|of)",  # a bare "suspicious nodule" asserts the nodule
    r"suspicion",
    r"concern(?:ing)? (?:for|of)",
    r"worrisome (?:for|of)",
    r"suggest(?:s|ive of|ive|ing|ed)?",
    r"questionabl[ey]",
    r"question of",
    r"differential (?:diagnosis )?(?:includes?|considerations?)",
    r"consider\w*",
    r"equivocal",
    r"indeterminate",
    r"vs",
    r"versus",
    r"uncertain",
)

TERMINATORS: tuple[str, ...] = (
    r"but",
    r"however",
    r"although",
    r"though",
    r"except(?: for)?",
    r"with the exception of",
    r"which",
    r"who",
    r"whereas",
    r"while",
    r"secondary to",
    r"aside from",
    r"apart from",
    r"other than",
    r"nevertheless",
    r"yet",
    r"there (?:is|are|was|were|has been|have been)",
    r"and (?:there|the|a|an)",
    r"as the (?:cause|source|reason|etiology|origin) of",
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

_LIST_NUMBER = re.compile(r"(?:^|(?<=[.:;!?\n]))\s*\(?\d{1,2}[.)](?=\s)")
_DECIMAL = re.compile(r"(?<=\d)\.(?=\d)")
_SENTENCE_END = re.compile(r"[.:;!?\n\r]+")
_APOSTROPHE = re.compile(r"['\u2019]")
_NON_WORD = re.compile(r"[^a-z0-9]+")

Span = tuple[int, int]  # [first word, last word + 1)


def _sentences(text: str) -> list[str]:
    """Normalised sentences: words of [a-z0-9] separated by single spaces."""
    t = _LIST_NUMBER.sub(" ", text.lower())
    t = _DECIMAL.sub("", t)
    t = _APOSTROPHE.sub("", t)
    out = []
    for raw in _SENTENCE_END.split(t):
        s = _NON_WORD.sub(" ", raw).strip()
        if s:
            out.append(s)
    return out


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
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return {}
    return dict(_label_text(str(text)))


@functools.lru_cache(maxsize=1 << 14)
def _label_text(text: str) -> tuple[tuple[str, int], ...]:
    sentences = _sentences(text)
    if not sentences:
        return ()
    result: dict[str, int] = {}
    other_asserted = False
    for s in sentences:
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
    if text is None or (isinstance(text, float) and math.isnan(text)):
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


#: findings whose mention (positive or uncertain) states a class's main finding; normal: the labeler's no_finding.
MAIN_FINDINGS: dict[str, tuple[str, ...]] = {
    "normal": ("no_finding",),
    "pneumonia": ("pneumonia", "consolidation"),
    "tb": ("tuberculosis", "cavity", "nodule", "fibrosis"),
}
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
