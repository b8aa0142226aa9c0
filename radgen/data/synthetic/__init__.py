"""Synthetic chest X-rays with reports: the embedded default dataset (`data.source: synthetic`).

`generate_synthetic` samples patients and studies (cases.py), draws each film (render.py), writes its report from
the same drawn findings (reports.py) and returns the manifest. Output is byte-identical for a seed: numpy
Generators seeded per (seed, patient, study) and PNGs written by PIL without timestamps or text chunks.

Realistic imperfection (cases.noise_plan, cases.add_imperfections): about `label_noise` of the studies recorded
under each class show another class (the one drawn and written up), and `report_omission` of the abnormal studies
that have a secondary finding get a report that leaves it out, so that no model can be perfect for the wrong reason. `truth.csv` beside the
PNGs says which; the manifest keeps its five columns.
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from tqdm import tqdm

from radgen.constants import MANIFEST_COLUMNS
from radgen.io import write_csv

from .cases import class_counts, omissible, sample_studies
from .records import Finding, Study
from .render import render_study
from .reports import write_report

__all__ = [
    "Finding",
    "Study",
    "class_counts",
    "generate_synthetic",
    "imperfection_counts",
    "render_study",
    "sample_studies",
    "truth_table",
    "write_report",
]

log = logging.getLogger(__name__)


def write_png(image: np.ndarray, path: str | Path) -> None:
    """8-bit grayscale PNG with no metadata, so equal pixels give equal bytes."""
    Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8), mode="L").save(
        path, format="PNG", compress_level=6
    )


def _draw_and_write(job: tuple[Study, int, str]) -> None:
    study, size, path = job
    write_png(render_study(study, size), path)


TRUTH_FILE = "truth.csv"
TRUTH_COLUMNS = ("image_id", "drawn_class", "recorded_label", "label_flipped", "omitted_finding")


def truth_table(studies: list[Study]) -> pd.DataFrame:
    """Per study: drawn class, the label the manifest records, and the finding its report omits ("" if none)."""
    return pd.DataFrame(
        {
            "image_id": [s.image_id for s in studies],
            "drawn_class": [s.label for s in studies],
            "recorded_label": [s.manifest_label for s in studies],
            "label_flipped": [s.manifest_label != s.label for s in studies],
            "omitted_finding": [s.omitted_kind for s in studies],
        },
        columns=list(TRUTH_COLUMNS),
    )


def imperfection_counts(studies: list[Study]) -> dict[str, int]:
    """How many studies are imperfect, for the log and the paper (abnormal = drawn pneumonia or tb)."""
    return {
        "n_studies": len(studies),
        "n_flipped": sum(s.manifest_label != s.label for s in studies),
        "n_abnormal": sum(s.label != "normal" for s in studies),
        "n_omissible": sum(bool(omissible(s)) for s in studies),
        "n_omitted": sum(s.omitted >= 0 for s in studies),
    }


def generate_synthetic(
    out_dir: str | Path,
    n_images: int,
    image_size: int = 128,
    seed: int = 0,
    proportions: dict[str, float] | None = None,
    repeat_study_fraction: float = 0.35,
    n_jobs: int = 1,
    label_noise: float = 0.0,
    report_omission: float = 0.0,
) -> pd.DataFrame:
    """Write `n_images` PNGs and out_dir/truth.csv; return the manifest (image_id,path,label,patient_id,report).

    `n_images` has no default here: the workflow's (data.synthetic.n_images) is the schema's, filled in by
    build_manifest.

    Drawn class counts follow `proportions` exactly (largest remainder); `repeat_study_fraction` of the patients
    have several studies (same class, same anatomy). Label noise is applied after the proportions: the recorded
    share of a class with proportion p moves by label_noise (1 - 3p) / 2 in expectation. The exact rules are in
    cases.add_imperfections and reports.write_report. With both fractions 0 (the defaults here; the workflow's
    come from the config) the manifest and PNGs are those of the generator before these options existed.
    `manifest.attrs["imperfection"]` holds `imperfection_counts` (the data log prints them). Paths are
    out_dir/<image_id>.png as given (keep out_dir relative to the working directory for a portable manifest).
    PNGs in out_dir that are not part of this dataset are removed, so a smaller rerun leaves no stale images.
    """
    if n_images < 1 or image_size < 16:
        raise ValueError(f"need n_images >= 1 and image_size >= 16, got {n_images} and {image_size}")
    proportions = proportions or {"normal": 0.086, "pneumonia": 0.696, "tb": 0.217}
    studies = sample_studies(
        n_images,
        seed,
        proportions,
        repeat_study_fraction,
        label_noise=label_noise,
        report_omission=report_omission,
    )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [(out / f"{s.image_id}.png").as_posix() for s in studies]
    jobs = [(s, image_size, p) for s, p in zip(studies, paths, strict=True)]
    desc = f"synthetic {image_size}px"
    if n_jobs > 1:
        with ProcessPoolExecutor(max_workers=n_jobs) as pool:
            list(
                tqdm(pool.map(_draw_and_write, jobs, chunksize=16), total=len(jobs), desc=desc, mininterval=2)
            )
    else:
        for job in tqdm(jobs, desc=desc, mininterval=2):
            _draw_and_write(job)
    keep = {Path(p).name for p in paths}
    for stale in sorted(out.glob("*.png")):
        if stale.name not in keep:
            os.remove(stale)
    manifest = pd.DataFrame(
        {
            "image_id": [s.image_id for s in studies],
            "path": paths,
            "label": [s.manifest_label for s in studies],
            "patient_id": [s.patient_id for s in studies],
            "report": [write_report(s) for s in studies],
        },
        columns=list(MANIFEST_COLUMNS),
    )
    write_csv(truth_table(studies), out / TRUTH_FILE)
    manifest.attrs["imperfection"] = imperfection_counts(studies)
    counts = manifest["label"].value_counts().to_dict()
    n_pat = manifest["patient_id"].nunique()
    repeat = (manifest.groupby("patient_id").size() > 1).mean()
    log.info(
        "synthetic: %d images, %d patients (%.1f%% with repeat studies), recorded classes %s",
        len(manifest),
        n_pat,
        100 * repeat,
        counts,
    )
    return manifest
