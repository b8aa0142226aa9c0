"""Which findings a film of each class shows: disease patterns (pneumonia, TB), incidentals, follow-up films.

The order of the random draws is part of the output (byte-identical datasets for a seed): a change here
changes every later study of the same patient.
"""

from __future__ import annotations

import numpy as np

from .records import LOBE_SIDE, LOBES, ZONES, Finding

UPPER = ("upper",)


def _side(rng: np.random.Generator, p_bilateral: float) -> str:
    if rng.random() < p_bilateral:
        return "bilateral"
    return "right" if rng.random() < 0.55 else "left"


def draw_seed(rng: np.random.Generator) -> int:
    """A seed for a finding's own Generator (its shape does not move when other draws change)."""
    return int(rng.integers(2**31))


def _effusion(rng: np.random.Generator, side: str) -> Finding:
    if side == "bilateral":
        side = "right" if rng.random() < 0.5 else "left"
    return Finding("effusion", side=side, extent="small" if rng.random() < 0.7 else "moderate")


def sample_pneumonia(rng: np.random.Generator) -> tuple[list[Finding], bool]:
    """Lobar or patchy consolidation (lower lobes most often); 15 % are faint early changes."""
    if rng.random() < 0.15:
        side = "right" if rng.random() < 0.55 else "left"
        zone = str(rng.choice(ZONES, p=[0.15, 0.35, 0.5]))
        return [
            Finding(
                "consolidation",
                side=side,
                zones=(zone,),
                pattern="faint",
                extent="small",
                strength=rng.uniform(0.3, 0.5),
                seed=draw_seed(rng),
            )
        ], True
    findings: list[Finding] = []
    if rng.random() < 0.45:
        lobe = str(rng.choice(LOBES, p=[0.12, 0.13, 0.28, 0.1, 0.09, 0.28]))
        side = LOBE_SIDE[lobe]
        findings.append(
            Finding(
                "consolidation",
                side=side,
                lobe=lobe,
                pattern="lobar",
                extent="extensive" if rng.random() < 0.55 else "moderate",
                strength=rng.uniform(0.75, 1.0),
                flag=bool(rng.random() < 0.5),
                seed=draw_seed(rng),
            )
        )
    else:
        side = _side(rng, 0.3)
        first = int(rng.choice(3, p=[0.15, 0.35, 0.5]))
        zones = [ZONES[first]]
        if rng.random() < 0.45:
            zones.append(ZONES[first - 1] if first == 2 else ZONES[first + 1])
        findings.append(
            Finding(
                "consolidation",
                side=side,
                zones=tuple(z for z in ZONES if z in zones),
                pattern="patchy",
                extent=str(rng.choice(["small", "moderate", "extensive"])),
                strength=rng.uniform(0.5, 0.85),
                seed=draw_seed(rng),
            )
        )
    if rng.random() < 0.15:
        findings.append(_effusion(rng, side))
    return findings, False


def _tb_faint(rng: np.random.Generator, side: str) -> list[Finding]:
    """Early TB: a few faint upper-zone nodules, sometimes an apical cap."""
    findings = [
        Finding(
            "nodules",
            side=side if side != "bilateral" else "right",
            zones=UPPER,
            pattern="small",
            count=int(rng.integers(2, 5)),
            strength=rng.uniform(0.35, 0.55),
            seed=draw_seed(rng),
        )
    ]
    if rng.random() < 0.5:
        findings.append(Finding("apical_cap", side=findings[0].side, seed=draw_seed(rng)))
    return findings


def _tb_lesions(rng: np.random.Generator, kind: str, side: str) -> tuple[list[Finding], str]:
    """The main lesions of a post-primary pattern (nodules, cavity, fibrosis) and the side they favour."""
    findings = []
    if kind == "nodules" or rng.random() < 0.5:
        big = rng.random() < 0.4
        findings.append(
            Finding(
                "nodules",
                side=side,
                zones=UPPER if rng.random() < 0.7 else ("upper", "mid"),
                pattern="large" if big else "small",
                count=int(rng.integers(5, 14)),
                strength=rng.uniform(0.6, 0.9),
                seed=draw_seed(rng),
            )
        )
    main_side = side if side != "bilateral" else ("right" if rng.random() < 0.6 else "left")
    if kind == "cavity":
        findings.append(
            Finding(
                "cavity",
                side=main_side,
                zones=UPPER,
                size=rng.uniform(0.05, 0.085),
                flag=bool(rng.random() < 0.25),
                strength=rng.uniform(0.8, 1.0),
                seed=draw_seed(rng),
            )
        )
        if rng.random() < 0.4:
            findings.append(
                Finding(
                    "consolidation",
                    side=main_side,
                    zones=UPPER,
                    pattern="patchy",
                    extent="small",
                    strength=rng.uniform(0.45, 0.7),
                    seed=draw_seed(rng),
                )
            )
    if kind == "fibrosis":
        findings.append(
            Finding(
                "fibrosis",
                side=side,
                zones=UPPER,
                count=int(rng.integers(7, 13)),
                flag=side != "bilateral" and rng.random() < 0.7,
                strength=rng.uniform(0.55, 0.85),
                seed=draw_seed(rng),
            )
        )
    return findings, main_side


def _tb_associated(rng: np.random.Generator, findings: list[Finding], main_side: str) -> list[Finding]:
    """What often comes with the lesions: nodes, a granuloma, an apical cap, a small effusion."""
    out = []
    if rng.random() < 0.2:
        out.append(
            Finding(
                "lymphadenopathy",
                side=main_side if rng.random() < 0.8 else "bilateral",
                strength=rng.uniform(0.7, 1.0),
                seed=draw_seed(rng),
            )
        )
    if rng.random() < 0.25:
        out.append(Finding("granuloma", side=main_side, zones=UPPER, seed=draw_seed(rng)))
    if rng.random() < 0.25 and not any(f.kind == "apical_cap" for f in findings + out):
        out.append(Finding("apical_cap", side=main_side, seed=draw_seed(rng)))
    if rng.random() < 0.12:
        out.append(_effusion(rng, main_side))
    return out


def sample_tb(rng: np.random.Generator) -> tuple[list[Finding], bool]:
    """Post-primary pattern: upper-zone nodules, cavities, fibrosis with volume loss; 15 % faint."""
    side = _side(rng, 0.25)
    if rng.random() < 0.15:
        return _tb_faint(rng, side), True
    kind = str(rng.choice(["nodules", "cavity", "fibrosis", "miliary"], p=[0.35, 0.3, 0.28, 0.07]))
    if kind == "miliary":
        miliary = Finding(
            "miliary",
            side="bilateral",
            count=int(rng.integers(120, 220)),
            strength=rng.uniform(0.45, 0.7),
            seed=draw_seed(rng),
        )
        return [miliary], False
    findings, main_side = _tb_lesions(rng, kind, side)
    return findings + _tb_associated(rng, findings, main_side), False


def sample_incidentals(rng: np.random.Generator, label: str) -> list[Finding]:
    """Non-pathological things on the film (every class, most often in normals): confounders, not disease."""
    out = []
    p_leads = 0.15 if label == "normal" else 0.18
    if rng.random() < p_leads:
        out.append(Finding("ecg_leads", count=int(rng.integers(3, 6)), seed=draw_seed(rng)))
    if rng.random() < (0.15 if label == "normal" else 0.06):
        out.append(Finding("nipple_shadows", side="bilateral", seed=draw_seed(rng)))
    if rng.random() < (0.08 if label == "normal" else 0.03):
        out.append(Finding("skin_fold", side="right" if rng.random() < 0.5 else "left", seed=draw_seed(rng)))
    return out


def sample_findings(label: str, rng: np.random.Generator) -> tuple[list[Finding], bool]:
    """The findings of a first film of a class, and whether they are subtle."""
    if label == "normal":
        return sample_incidentals(rng, label), False
    findings, subtle = sample_pneumonia(rng) if label == "pneumonia" else sample_tb(rng)
    return findings + sample_incidentals(rng, label), subtle


def evolve(findings: list[Finding], rng: np.random.Generator) -> list[Finding]:
    """A follow-up film of the same disease: same places, new shapes and a somewhat different opacity."""
    out = []
    for f in findings:
        strength = float(
            np.clip(f.strength * rng.uniform(0.8, 1.15), 0.3 if f.pattern == "faint" else 0.45, 1.0)
        )
        out.append(Finding(**{**f.__dict__, "strength": strength, "seed": draw_seed(rng)}))
    return out
