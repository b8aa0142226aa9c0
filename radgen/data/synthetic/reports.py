"""Radiology reports written from the drawn findings of a `Study` (FINDINGS: ... IMPRESSION: ...).

Every positive sentence comes from a `Finding` that render.py drew, with its side, lobe or zone and extent;
pertinent negatives are said only when true of the film. Wording is picked from a few templates per sentence so
that a report generator has to learn content, not one fixed string. Reports stay short (about 15-65 words) to
fit the generator's token budget. Sides are the patient's (right = image left).
"""

from __future__ import annotations

import numpy as np

from .records import Finding, Study

LOBE_TEXT = {
    "RUL": "right upper lobe",
    "RML": "right middle lobe",
    "RLL": "right lower lobe",
    "LUL": "left upper lobe",
    "LINGULA": "left lingula",
    "LLL": "left lower lobe",
}
SILHOUETTE = {
    "RML": " obscuring the right heart border",
    "LINGULA": " obscuring the left heart border",
    "RLL": " obscuring the right hemidiaphragm",
    "LLL": " obscuring the left hemidiaphragm",
}


def _pick(rng: np.random.Generator, options: list[str]) -> str:
    return options[int(rng.integers(len(options)))]


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def zone_phrase(side: str, zones: tuple[str, ...]) -> str:
    """'the right upper zone', 'the left mid and lower zones', 'both upper zones'."""
    names = " and ".join(zones)
    plural = len(zones) > 1 or side == "bilateral"
    where = "both" if side == "bilateral" else f"the {side}"
    return f"{where} {names} zone{'s' if plural else ''}"


def _side_word(side: str) -> str:
    return "bilateral" if side == "bilateral" else side


def _consolidation(f: Finding, rng: np.random.Generator) -> tuple[str, str]:
    """(finding sentence, impression) of a pneumonia consolidation, by pattern."""
    if f.pattern == "lobar":
        return _lobar(f, rng)
    if f.pattern == "faint":
        return _faint(f, rng)
    return _patchy(f, rng)


def _lobar(f: Finding, rng: np.random.Generator) -> tuple[str, str]:
    lobe = LOBE_TEXT[f.lobe]
    extra = " with air bronchograms" if f.flag else ""
    sil = SILHOUETTE.get(f.lobe, "") if f.extent == "extensive" or f.lobe in ("RML", "LINGULA") else ""
    if f.extent == "extensive":
        finding = _pick(
            rng,
            [
                f"Dense consolidation of the {lobe}{extra}{sil}.",
                f"Lobar consolidation in the {lobe}{extra}{sil}.",
                f"Homogeneous airspace opacity filling the {lobe}{extra}{sil}.",
            ],
        )
    else:
        finding = _pick(
            rng,
            [
                f"Focal consolidation in the {lobe}{extra}{sil}.",
                f"Segmental airspace opacity in the {lobe}{extra}{sil}.",
                f"Consolidation in part of the {lobe}{extra}{sil}.",
            ],
        )
    impression = _pick(
        rng,
        [
            f"{_cap(lobe)} pneumonia.",
            f"Findings consistent with {lobe} pneumonia.",
            f"{_cap(lobe)} consolidation in keeping with pneumonia.",
        ],
    )
    return finding, impression


def _faint(f: Finding, rng: np.random.Generator) -> tuple[str, str]:
    where = zone_phrase(f.side, f.zones)
    finding = _pick(
        rng,
        [
            f"Subtle hazy opacity in {where}.",
            f"Faint ill-defined opacity in {where}.",
            f"Minimal patchy opacity in {where}.",
        ],
    )
    impression = _pick(
        rng,
        [
            f"Subtle {f.side} {f.zones[0]} zone opacity, possibly early pneumonia.",
            f"Faint {f.side} {f.zones[0]} zone opacity, may represent early infection.",
            "Subtle opacity suspicious for early pneumonia.",
        ],
    )
    return finding, impression


def _patchy(f: Finding, rng: np.random.Generator) -> tuple[str, str]:
    where = zone_phrase(f.side, f.zones)
    size = {
        "small": ["scattered", "a few", "small"],
        "moderate": ["patchy", "multifocal patchy", "several patchy"],
        "extensive": ["extensive patchy", "widespread patchy", "confluent patchy"],
    }[f.extent]
    adj = _pick(rng, size)
    finding = _pick(
        rng,
        [
            f"{_cap(adj)} airspace opacities in {where}.",
            f"There are {adj} consolidations in {where}.",
            f"{_cap(adj)} areas of consolidation in {where}.",
        ],
    )
    if f.side == "bilateral":
        impression = _pick(
            rng,
            [
                "Bilateral patchy opacities compatible with bronchopneumonia.",
                "Multifocal bilateral pneumonia.",
                f"Bilateral {' and '.join(f.zones)} zone pneumonia.",
            ],
        )
    else:
        impression = _pick(
            rng,
            [
                f"{_cap(f.side)} {' and '.join(f.zones)} zone pneumonia.",
                f"Patchy {f.side} opacities compatible with pneumonia.",
                f"Findings suggest {f.side} {' and '.join(f.zones)} zone bronchopneumonia.",
            ],
        )
    return finding, impression


def _tb_sentence(f: Finding, rng: np.random.Generator) -> str:
    if f.kind == "nodules":
        where = zone_phrase(f.side, f.zones)
        if f.count <= 4:
            return _pick(
                rng, [f"A few faint small nodules in {where}.", f"A few subtle nodular opacities in {where}."]
            )
        size = "small" if f.pattern == "small" else "large"
        return _pick(
            rng,
            [
                f"Multiple {size} nodular opacities in {where}.",
                f"Clustered {size} nodules in {where}.",
                f"Several ill-defined {size} nodules in {where}.",
            ],
        )
    if f.kind == "cavity":
        cm = max(1, round(f.size * 2 * 19))
        level = " with an air-fluid level" if f.flag else ""
        return _pick(
            rng,
            [
                f"A thick-walled cavity of about {cm} cm in the {f.side} upper zone{level}.",
                f"Cavitary lesion in the {f.side} upper lobe measuring {cm} cm{level}.",
            ],
        )
    if f.kind == "fibrosis":
        where = zone_phrase(f.side, f.zones)
        loss = f" with volume loss and elevation of the {f.side} hilum" if f.flag else ""
        return _pick(
            rng,
            [
                f"Fibrotic streaky opacities in {where}{loss}.",
                f"Reticular and linear scarring in {where}{loss}.",
                f"Fibronodular changes in {where}{loss}.",
            ],
        )
    if f.kind == "miliary":
        return _pick(
            rng,
            [
                "Innumerable tiny nodules throughout both lungs including the upper zones, a miliary pattern.",
                "Diffuse miliary nodules in both lungs from the upper to the lower zones.",
            ],
        )
    if f.kind == "lymphadenopathy":
        if f.side == "bilateral":
            return _pick(rng, ["Bilateral hilar lymphadenopathy.", "Both hila are enlarged and lobulated."])
        return _pick(rng, [f"{_cap(f.side)} hilar lymphadenopathy.", f"Enlarged lobulated {f.side} hilum."])
    if f.kind == "granuloma":
        return _pick(
            rng,
            [
                f"Calcified granuloma in the {f.side} upper zone.",
                f"A small calcified nodule in the {f.side} upper zone.",
            ],
        )
    if f.kind == "apical_cap":
        return _pick(
            rng, [f"{_cap(f.side)} apical pleural thickening.", f"Pleural capping at the {f.side} apex."]
        )
    raise ValueError(f"not a tuberculosis finding: {f.kind}")


def _tb_impression(findings: list[Finding], subtle: bool, rng: np.random.Generator) -> str:
    kinds = {f.kind for f in findings}
    sides = {f.side for f in findings if f.kind in ("nodules", "cavity", "fibrosis")}
    side = "bilateral" if "bilateral" in sides or len(sides) > 1 else next(iter(sides), "")
    where = "bilateral upper zone" if side == "bilateral" else f"{side} upper zone"
    if "miliary" in kinds:
        return _pick(
            rng, ["Miliary pattern, consistent with disseminated tuberculosis.", "Miliary tuberculosis."]
        )
    if subtle:
        return _pick(
            rng,
            [
                f"Subtle {where} nodules, suspicious for tuberculosis.",
                f"Faint {where} nodularity; tuberculosis should be considered.",
            ],
        )
    if "cavity" in kinds:
        return _pick(
            rng,
            [
                f"Cavitary {where} disease, consistent with active tuberculosis.",
                "Upper lobe cavitation, highly suggestive of pulmonary tuberculosis.",
            ],
        )
    if "fibrosis" in kinds:
        return _pick(
            rng,
            [
                f"Fibronodular {where} changes consistent with pulmonary tuberculosis.",
                "Upper zone fibrosis{} in keeping with post-primary tuberculosis.".format(
                    " and nodules" if "nodules" in kinds else ""
                ),
            ],
        )
    return _pick(
        rng,
        [
            f"{_cap(where)} nodules, consistent with pulmonary tuberculosis.",
            "Findings consistent with pulmonary tuberculosis.",
            f"{_cap(where)} tuberculosis.",
        ],
    )


def _effusion(f: Finding, rng: np.random.Generator) -> str:
    if f.extent == "small":
        return _pick(
            rng,
            [
                f"Small {f.side} pleural effusion.",
                f"Blunting of the {f.side} costophrenic angle, a small pleural effusion.",
            ],
        )
    return _pick(
        rng, [f"Moderate {f.side} pleural effusion.", f"Moderate {f.side} pleural effusion with a meniscus."]
    )


def _incidental(f: Finding, rng: np.random.Generator) -> str:
    if f.kind == "ecg_leads":
        return _pick(rng, ["ECG leads overlie the chest.", "Monitoring leads project over the chest."])
    if f.kind == "nipple_shadows":
        return _pick(rng, ["Bilateral nipple shadows.", "Nipple shadows project over both lower zones."])
    if f.kind == "skin_fold":
        return _pick(
            rng,
            [
                f"A skin fold projects over the {f.side} hemithorax.",
                f"Skin fold over the {f.side} lateral chest wall.",
            ],
        )
    raise ValueError(f"not an incidental finding: {f.kind}")


INCIDENTAL = ("ecg_leads", "nipple_shadows", "skin_fold")


def _technique(study: Study, rng: np.random.Generator) -> list[str]:
    """Technical remarks: low volumes, rotation."""
    t = study.technique
    out = []
    if t.inspiration < 0.9:
        out.append(_pick(rng, ["Low lung volumes.", "Suboptimal inspiration."]))
    if abs(t.rotation) > 3.5:
        out.append(_pick(rng, ["The patient is slightly rotated.", "Mild patient rotation."]))
    return out


def _pneumonia_lungs(disease: list[Finding], rng: np.random.Generator) -> tuple[list[str], list[str]]:
    """Consolidation sentences and impressions; sometimes the clear other lung."""
    sentences, impressions = [], []
    for f in disease:
        finding, impression = _consolidation(f, rng)
        sentences.append(finding)
        impressions.append(impression)
    sides = {f.side for f in disease}
    if sides in ({"right"}, {"left"}) and rng.random() < 0.5:
        other = "left" if sides == {"right"} else "right"
        sentences.append(
            _pick(rng, [f"The {other} lung is clear.", f"No consolidation in the {other} lung."])
        )
    return sentences, impressions


def _tb_lungs(
    disease: list[Finding], omitted: Finding | None, subtle: bool, rng: np.random.Generator
) -> tuple[list[str], list[str]]:
    """TB sentences (cavity and miliary first) without the omitted one, the impression, sometimes 'no cavity'."""
    order = {"miliary": 0, "cavity": 1, "nodules": 2, "fibrosis": 3, "consolidation": 4}
    sentences = []
    for f in sorted(disease, key=lambda f: order.get(f.kind, 9)):
        text = (
            f"Patchy consolidation in {zone_phrase(f.side, f.zones)}."
            if f.kind == "consolidation"
            else _tb_sentence(f, rng)
        )
        if f is not omitted:
            sentences.append(text)
    impressions = [_tb_impression([f for f in disease if f is not omitted], subtle, rng)]
    if not any(f.kind in ("cavity", "miliary") for f in disease) and rng.random() < 0.4:
        sentences.append(_pick(rng, ["No cavitation.", "No cavity is seen."]))
    return sentences, impressions


def _lungs(
    study: Study, disease: list[Finding], omitted: Finding | None, rng: np.random.Generator
) -> tuple[list[str], list[str]]:
    """(sentences, impressions) about the lung fields, by class."""
    if study.label == "normal":
        clear = [
            "The lungs are clear.",
            "Both lungs are clear.",
            "No focal consolidation.",
            "No focal airspace opacity.",
        ]
        return [_pick(rng, clear)], []
    if study.label == "pneumonia":
        return _pneumonia_lungs(disease, rng)
    return _tb_lungs(disease, omitted, study.subtle, rng)


def _pleura_and_heart(
    study: Study, effusions: list[Finding], omitted: Finding | None, rng: np.random.Generator
) -> list[str]:
    """Effusions (or the pertinent negative) and the heart, then incidentals."""
    sentences = []
    for f in effusions:
        text = _effusion(f, rng)
        if f is not omitted:
            sentences.append(text)
    if not effusions:
        if study.label == "normal":
            negatives = [
                "No pleural effusion or pneumothorax.",
                "No pleural effusion.",
                "The costophrenic angles are clear.",
            ]
        else:
            negatives = ["No pleural effusion.", "No pleural effusion or pneumothorax."]
        sentences.append(_pick(rng, negatives))
    hilar = any(f.kind == "lymphadenopathy" for f in study.findings)
    heart = (
        ["Heart size is normal.", "Normal heart size."]
        if hilar
        else [
            "Heart size is normal.",
            "The cardiomediastinal silhouette is normal.",
            "Normal cardiac silhouette.",
        ]
    )
    sentences.append(_pick(rng, heart))
    sentences += [_incidental(f, rng) for f in study.findings if f.kind in INCIDENTAL]
    return sentences


NORMAL_IMPRESSIONS = [
    "No acute cardiopulmonary abnormality.",
    "Normal chest radiograph.",
    "No active lung disease.",
    "No evidence of pneumonia or tuberculosis.",
]


def write_report(study: Study) -> str:
    """The report of one study; deterministic for the study.

    An omitted finding (`study.omitted`, see cases.omissible) loses its sentence and nothing else is said about it:
    no pertinent negative replaces an omitted effusion, a pneumonia impression drops "with a parapneumonic
    effusion", and a TB impression is written from the remaining findings (its kind never changes: the primary
    finding is never omitted). Wording is picked exactly as without the omission, so the report is the full one
    minus those words. The order of the random picks is part of the output (byte-identical datasets).
    """
    rng = np.random.default_rng([study.seed, 7])
    findings = list(study.findings)
    omitted = findings[study.omitted] if study.omitted >= 0 else None
    disease = [f for f in findings if f.kind not in INCIDENTAL and f.kind != "effusion"]
    effusions = [f for f in findings if f.kind == "effusion"]
    sentences = _technique(study, rng)
    lungs, impressions = _lungs(study, disease, omitted, rng)
    sentences += lungs + _pleura_and_heart(study, effusions, omitted, rng)
    if study.label == "normal":
        impressions.append(_pick(rng, NORMAL_IMPRESSIONS))
    elif any(f is not omitted for f in effusions) and study.label == "pneumonia":
        impressions[-1] = impressions[-1][:-1] + " with a parapneumonic effusion."
    return f"FINDINGS: {' '.join(sentences)} IMPRESSION: {' '.join(impressions)}"
