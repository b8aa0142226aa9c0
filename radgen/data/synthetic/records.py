"""The records every part of the synthetic generator shares: anatomy, technique, findings and studies."""

from __future__ import annotations

from dataclasses import dataclass, field

LOBES = ("RUL", "RML", "RLL", "LUL", "LINGULA", "LLL")
LOBE_SIDE = {"RUL": "right", "RML": "right", "RLL": "right", "LUL": "left", "LINGULA": "left", "LLL": "left"}
ZONES = ("upper", "mid", "lower")


@dataclass(frozen=True)
class Anatomy:
    """Patient-level body habitus; shared by all studies of a patient (same person, similar film)."""

    size: float  # thorax scale in the frame
    width: float  # extra horizontal scale (broad vs narrow chest)
    soft: float  # soft-tissue thickness: larger patients give whiter, lower-contrast films
    heart_w: float  # cardiac half-width (cardiothoracic ratio ~ heart_w / 0.82)
    heart_h: float
    heart_x: float
    apex: float  # y of the lung apices
    dome_right: float  # y of the right costophrenic level (the left one sits lower)
    dome_left: float
    dome_h: float  # height of the diaphragmatic domes
    mediastinum: float  # half-width of the upper mediastinum
    rib_offset: float
    rib_spacing: float
    vessel_seed: int
    gastric_bubble: float  # 0: none


@dataclass(frozen=True)
class Technique:
    """Study-level acquisition: what differs between two films of the same patient."""

    rotation: float  # in-plane rotation (degrees)
    twist: float  # patient rotation: mediastinum shifted against the chest wall
    shift_x: float
    shift_y: float
    inspiration: float  # lung height factor; < 0.92 reads as "low lung volumes"
    exposure: float
    contrast: float
    gamma: float
    noise: float


@dataclass(frozen=True)
class Finding:
    """One drawn abnormality (or incidental object). `kind` and the location fields drive both drawing and text."""

    kind: str  # consolidation|effusion|nodules|cavity|fibrosis|miliary|lymphadenopathy|granuloma|apical_cap|
    #            nipple_shadows|ecg_leads|skin_fold
    side: str = ""  # right | left | bilateral | ""
    lobe: str = ""  # for lobar consolidation
    zones: tuple[str, ...] = ()  # for zonal findings
    pattern: str = ""  # consolidation: lobar|patchy|faint; nodules: small|large
    extent: str = ""  # small | moderate | extensive
    strength: float = 1.0  # drawn opacity, 0..1
    size: float = 0.0  # e.g. cavity radius in body units (1 unit ~ 19 cm)
    count: int = 0
    flag: bool = False  # air bronchograms (consolidation), air-fluid level (cavity), volume loss (fibrosis)
    seed: int = 0


@dataclass(frozen=True)
class Study:
    image_id: str
    patient_id: str
    label: str
    study_index: int
    anatomy: Anatomy
    technique: Technique
    findings: tuple[Finding, ...] = field(default_factory=tuple)
    subtle: bool = False
    seed: int = 0  # drawing noise and report wording
    recorded_label: str = ""  # the manifest's label when label noise flipped it ("": same as `label`)
    omitted: int = -1  # index in `findings` of the drawn finding the report leaves out (-1: none)

    @property
    def manifest_label(self) -> str:
        """The label the manifest records; `label` is the drawn class, which the film and the report show."""
        return self.recorded_label or self.label

    @property
    def omitted_kind(self) -> str:
        return self.findings[self.omitted].kind if self.omitted >= 0 else ""
