"""What each synthetic film shows: patients, their anatomy, the technique of each study and the drawn findings.

Sampling is separate from drawing (render.py) and writing (reports.py) so that the report of an image can only
say what was drawn: both read the same `Study` record. Every random choice comes from a numpy Generator seeded
by (seed, patient, study), so a study does not change when other studies are added or the image size changes.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from radgen.constants import CLASSES

from .findings import draw_seed, evolve, sample_findings, sample_incidentals
from .records import Anatomy, Study, Technique


def class_counts(n_images: int, proportions: dict[str, float]) -> dict[str, int]:
    """Exact per-class counts summing to n_images (largest remainder; ties go to the earlier class)."""
    unknown = set(proportions) - set(CLASSES)
    if unknown:
        raise ValueError(f"unknown classes in proportions: {sorted(unknown)}; expected {CLASSES}")
    weights = np.array([float(proportions.get(c, 0.0)) for c in CLASSES])
    if (weights < 0).any() or weights.sum() <= 0:
        raise ValueError(f"class proportions must be non-negative and not all zero, got {proportions}")
    quotas = n_images * weights / weights.sum()
    counts = np.floor(quotas).astype(int)
    order = sorted(range(len(CLASSES)), key=lambda i: (-(quotas[i] - counts[i]), i))
    for i in order[: n_images - int(counts.sum())]:
        counts[i] += 1
    return {c: int(n) for c, n in zip(CLASSES, counts, strict=True)}


def patient_sizes(n: int, repeat_fraction: float, rng: np.random.Generator) -> list[int]:
    """Studies per patient for one class: `repeat_fraction` of the patients get 2-5 studies, the rest one."""
    if n <= 0:
        return []
    mean_repeats = 2.4  # mean studies of a patient with repeats
    n_patients = max(1, round(n / (1 + repeat_fraction * (mean_repeats - 1))))
    extras = n - n_patients
    if extras <= 0:
        return [1] * n
    n_repeat = int(np.clip(round(repeat_fraction * n_patients), 1, extras))
    sizes = np.ones(n_patients, dtype=int)
    sizes[:n_repeat] = 2
    left = extras - n_repeat
    while left > 0:  # spread the remaining studies over the repeat patients, at most 5 studies each
        room = np.flatnonzero(sizes[:n_repeat] < 5)
        if room.size == 0:
            sizes[:n_repeat] += 1
            left -= n_repeat
            continue
        take = rng.choice(room, size=min(left, room.size), replace=False)
        sizes[take] += 1
        left -= take.size
    if left < 0:  # the last "+1 everyone" round overshot; trim from the largest
        for i in np.argsort(-sizes, kind="stable")[:-left]:
            sizes[i] -= 1
    return [int(s) for s in rng.permutation(sizes)]


def sample_anatomy(rng: np.random.Generator) -> Anatomy:
    """A patient's body habitus (kept for all their studies)."""
    apex = rng.uniform(-0.8, -0.74)
    dome_right = rng.uniform(0.36, 0.46)
    return Anatomy(
        size=rng.uniform(1.06, 1.18),
        width=rng.uniform(0.92, 1.08),
        soft=rng.uniform(0.5, 0.72),
        heart_w=rng.uniform(0.29, 0.35),
        heart_h=rng.uniform(0.2, 0.26),
        heart_x=rng.uniform(0.05, 0.11),
        apex=apex,
        dome_right=dome_right,
        dome_left=dome_right + rng.uniform(0.02, 0.06),
        dome_h=rng.uniform(0.16, 0.24),
        mediastinum=rng.uniform(0.09, 0.12),
        rib_offset=rng.uniform(0.0, 1.0),
        rib_spacing=rng.uniform(0.11, 0.13),
        vessel_seed=int(rng.integers(2**31)),
        gastric_bubble=rng.uniform(0.04, 0.07) if rng.random() < 0.6 else 0.0,
    )


def sample_technique(rng: np.random.Generator) -> Technique:
    """How one film was taken: rotation, inspiration, exposure, contrast, noise."""
    return Technique(
        rotation=float(np.clip(rng.normal(0, 1.8), -5, 5)),
        twist=float(np.clip(rng.normal(0, 0.018), -0.05, 0.05)),
        shift_x=rng.uniform(-0.04, 0.04),
        shift_y=rng.uniform(0.0, 0.08),
        inspiration=rng.uniform(0.86, 1.06),
        exposure=rng.uniform(0.8, 1.25),
        contrast=rng.uniform(0.88, 1.12),
        gamma=rng.uniform(0.85, 1.2),
        noise=rng.uniform(0.01, 0.035),
    )


INCIDENTAL_KINDS = ("ecg_leads", "nipple_shadows", "skin_fold")
TB_PRIMARY = (
    "miliary",
    "cavity",
    "fibrosis",
    "nodules",
)  # the kind a TB impression is about, first present wins


def omissible(study: Study) -> list[int]:
    """Indices of the findings a report may leave out without contradicting itself or changing the diagnosis.

    Pneumonia: only the effusion (the consolidation is the diagnosis). Tuberculosis: every finding except the
    primary one (the first of miliary, cavity, fibrosis, nodules that is present: the impression is about it),
    so a secondary consolidation, nodules beside a cavity or fibrosis, hilar lymphadenopathy, a granuloma, an
    apical cap or an effusion. Normal studies and incidental objects (ECG leads, nipple shadows, skin folds) never.
    """
    if study.label == "pneumonia":
        return [i for i, f in enumerate(study.findings) if f.kind == "effusion"]
    if study.label != "tb":
        return []
    kinds = [f.kind for f in study.findings]
    primary = next(k for k in TB_PRIMARY if k in kinds)
    return [
        i
        for i, f in enumerate(study.findings)
        if f.kind not in INCIDENTAL_KINDS and i != kinds.index(primary)
    ]


def noise_plan(counts: dict[str, int], label_noise: float) -> dict[str, tuple[float, tuple[float, ...]]]:
    """Per drawn class t: (probability that its label is flipped, probabilities of each other class as the label).

    Why not a uniform flip: with the seed's 8.6 / 69.6 / 21.7 % ratio, flipping a share of all studies uniformly
    makes about half of the wrong labels land on the rare normal class, so 16 % of the recorded normals would be
    disease films. Here every recorded class r receives label_noise · n_r wrong labels, taken from the other
    classes in proportion to their size (flow t → r = label_noise · n_r · n_t / (N − n_r)); so about
    `label_noise` of each recorded class is wrong, and `label_noise` of all studies in all. A rare class gives away
    a larger share of its films (flip probability above 1 is capped, for very large noise).
    """
    total = sum(counts.values())
    plan = {}
    for t in CLASSES:
        flows = [
            label_noise * counts[r] * counts[t] / max(total - counts[r], 1) if r != t else 0.0
            for r in CLASSES
        ]
        out = sum(flows)
        q = min(1.0, out / counts[t]) if counts[t] else 0.0
        plan[t] = (q, tuple(f / out if out else 0.0 for f in flows))
    return plan


def add_imperfections(
    study: Study, plan: dict[str, tuple[float, tuple[float, ...]]], report_omission: float
) -> Study:
    """Label noise and an omitted finding for one study, drawn from its own stream ([study.seed, 8]).

    Four uniforms are always drawn, so a study's fate does not depend on other studies and a larger fraction only
    adds imperfect studies to those of a smaller one. The label is flipped when u0 < the drawn class's flip
    probability (`noise_plan`), to the class picked by u1 from the plan's destination probabilities; a finding from
    `omissible` is left out of the report when u2 < report_omission (which one: u3, uniformly). Image and report
    stay those of the drawn class (`label`).
    """
    u = np.random.default_rng([study.seed, 8]).random(4)
    changes: dict[str, object] = {}
    flip, destinations = plan[study.label]
    if u[0] < flip:
        changes["recorded_label"] = CLASSES[int(np.searchsorted(np.cumsum(destinations), u[1], side="right"))]
    candidates = omissible(study)
    if candidates and u[2] < report_omission:
        changes["omitted"] = candidates[int(u[3] * len(candidates))]
    return replace(study, **changes) if changes else study


def sample_studies(
    n_images: int,
    seed: int,
    proportions: dict[str, float],
    repeat_study_fraction: float,
    *,
    label_noise: float = 0.0,
    report_omission: float = 0.0,
) -> list[Study]:
    """All studies of a synthetic dataset, ordered by patient id; no pixels are drawn here.

    Drawn classes follow `proportions` exactly; label noise is applied afterwards (`noise_plan`): about
    `label_noise` of the studies recorded under each class show another class. With both fractions 0 the studies
    are exactly those of the generator before label noise and omissions existed.
    """
    if not 0 <= repeat_study_fraction < 1:
        raise ValueError(f"repeat_study_fraction must be in [0, 1), got {repeat_study_fraction}")
    for name, value in (("label_noise", label_noise), ("report_omission", report_omission)):
        if not 0 <= value <= 1:
            raise ValueError(f"{name} must be in [0, 1], got {value}")
    counts = class_counts(n_images, proportions)
    rng = np.random.default_rng([seed, 0])
    patients = [
        (label, size)
        for label in CLASSES
        for size in patient_sizes(counts[label], repeat_study_fraction, rng)
    ]
    patients = [patients[i] for i in rng.permutation(len(patients))]
    width = max(5, len(str(len(patients))))
    studies = []
    for p, (label, n_studies) in enumerate(patients):
        prng = np.random.default_rng([seed, 1, p])
        patient_id = f"SYN{p + 1:0{width}d}"
        anatomy = sample_anatomy(prng)
        findings, subtle = sample_findings(label, prng)
        for s in range(n_studies):
            srng = np.random.default_rng([seed, 2, p, s])
            if s > 0:
                findings = [f for f in evolve(findings, srng) if f.kind not in ("ecg_leads", "skin_fold")]
                findings += [
                    f for f in sample_incidentals(srng, label) if f.kind in ("ecg_leads", "skin_fold")
                ]
            studies.append(
                Study(
                    image_id=f"{patient_id}_{s + 1}",
                    patient_id=patient_id,
                    label=label,
                    study_index=s,
                    anatomy=anatomy,
                    technique=sample_technique(srng),
                    findings=tuple(findings),
                    subtle=subtle,
                    seed=draw_seed(srng),
                )
            )
    plan = noise_plan(counts, label_noise)
    return [add_imperfections(s, plan, report_omission) for s in studies]
