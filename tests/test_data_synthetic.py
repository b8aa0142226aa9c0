"""Synthetic chest X-rays: determinism, class ratio, repeat studies, and reports that say what is drawn."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import pytest

from radgen.constants import CLASSES
from radgen.data.synthetic import class_counts, generate_synthetic, render_study, sample_studies, write_report
from radgen.data.synthetic.cases import patient_sizes

SEED_PROPORTIONS = {"normal": 0.086, "pneumonia": 0.696, "tb": 0.217}


@pytest.fixture(scope="module")
def studies():
    return sample_studies(600, 0, SEED_PROPORTIONS, 0.35)


def sentences(report: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=\.)\s+|FINDINGS:|IMPRESSION:", report) if s.strip()]


def test_class_counts_are_exact_largest_remainder():
    assert class_counts(600, SEED_PROPORTIONS) == {"normal": 52, "pneumonia": 418, "tb": 130}
    assert sum(class_counts(7, SEED_PROPORTIONS).values()) == 7
    with pytest.raises(ValueError, match="unknown classes"):
        class_counts(10, {"covid": 1.0})


def test_patient_sizes_sum_and_repeat_fraction():
    rng = np.random.default_rng(0)
    for n in (1, 2, 3, 10, 52, 418):
        sizes = patient_sizes(n, 0.35, rng)
        assert sum(sizes) == n and min(sizes) >= 1


def test_class_proportions_within_two_points(studies):
    labels = np.array([s.label for s in studies])
    for c, p in SEED_PROPORTIONS.items():
        assert abs((labels == c).mean() - p) <= 0.02


def test_repeat_studies(studies):
    by_patient: dict[str, list] = {}
    for s in studies:
        by_patient.setdefault(s.patient_id, []).append(s)
    repeat = np.mean([len(v) > 1 for v in by_patient.values()])
    assert repeat > 0.2
    for group in by_patient.values():
        assert len({s.label for s in group}) == 1  # same class
        assert len({s.anatomy for s in group}) == 1  # same body
    assert len({s.image_id for s in studies}) == len(studies)


def test_reports_mention_what_was_drawn(studies):
    for s in studies:
        report = write_report(s)
        assert report.startswith("FINDINGS: ") and " IMPRESSION: " in report
        low = report.lower()
        kinds = {f.kind for f in s.findings}
        if s.label == "pneumonia":
            assert "consolidation" in low or "opacit" in low
            for f in s.findings:
                if f.kind == "consolidation":
                    side = {"right": "right", "left": "left", "bilateral": "both"}[f.side]
                    assert side in low, report
                    if f.pattern == "lobar":
                        assert f.lobe.lower().replace("lingula", "lingula") in low or "lobe" in low
        elif s.label == "tb":
            assert "upper" in low or "apex" in low, report
            assert "tuberculosis" in low
            if "cavity" in kinds:
                assert "cavit" in low
            if "effusion" not in kinds:
                assert "no pleural effusion" in low
        else:
            positive = [
                x
                for x in sentences(report)
                if re.search(r"consolidation|opacit|nodul|cavit|effusion|pneumonia|tuberculosis", x.lower())
            ]
            assert all(
                re.match(r"(no|the lungs are clear|both lungs are clear)", x.lower()) for x in positive
            ), report
        if "effusion" in kinds:
            side = next(f.side for f in s.findings if f.kind == "effusion")
            assert f"{side} pleural effusion" in low or f"{side} costophrenic" in low


def test_reports_vary_and_stay_short(studies):
    reports = [write_report(s) for s in studies]
    assert len(set(reports)) > 0.9 * len(reports)
    assert max(len(r.split()) for r in reports) <= 70


def _diff(study, size=64):
    """What the findings add to the film: render with and without them (same noise)."""
    bare = dataclasses.replace(study, findings=())
    return render_study(study, size).astype(float) - render_study(bare, size).astype(float)


INCIDENTAL = {"ecg_leads", "nipple_shadows", "skin_fold"}


def test_pathology_is_drawn_where_the_report_says(studies):
    """Unilateral disease adds opacity on the side the report names (patient's right = image left)."""
    checked = 0
    for s in studies:
        findings = [f for f in s.findings if f.kind not in INCIDENTAL]
        sides = {f.side for f in findings}
        if s.label == "normal" or len(sides) != 1 or "bilateral" in sides or len(findings) < len(s.findings):
            continue
        side = sides.pop()
        assert side in write_report(s)
        d = np.clip(_diff(s), 0, None)
        right, left = d[:, :32].sum(), d[:, 32:].sum()
        share = (right if side == "right" else left) / max(right + left, 1e-9)
        assert share > 0.75 or (s.subtle and right + left < 500), (share, write_report(s))
        checked += 1
        if checked == 25:
            break
    assert checked == 25
    tb = [s for s in studies if s.label == "tb" and {f.kind for f in s.findings} <= {"nodules", "cavity"}][:5]
    for s in tb:
        d = np.clip(_diff(s), 0, None)
        assert d[:32].sum() > 2 * d[32:].sum()  # upper zones


def test_normals_draw_no_disease(studies):
    normals = [s for s in studies if s.label == "normal" and not s.findings][:3]
    for s in normals:
        assert np.abs(_diff(s)).max() == 0


def test_generate_is_byte_identical_and_writes_grayscale_png(tmp_path):
    a = generate_synthetic(tmp_path / "a", n_images=24, image_size=48, seed=3)
    b = generate_synthetic(tmp_path / "b", n_images=24, image_size=48, seed=3)
    assert list(a.columns) == ["image_id", "path", "label", "patient_id", "report"]
    assert a.drop(columns="path").equals(b.drop(columns="path"))
    for pa, pb in zip(a["path"], b["path"], strict=True):
        assert Path(pa).read_bytes() == Path(pb).read_bytes()
    from PIL import Image

    with Image.open(a["path"].iloc[0]) as img:
        assert img.mode == "L" and img.size == (48, 48)
        assert not {k for k in img.info if k not in ("dpi",)}  # no text/time chunks
    c = generate_synthetic(tmp_path / "a", n_images=10, image_size=48, seed=4)
    assert len(list((tmp_path / "a").glob("*.png"))) == 10  # stale images removed
    assert not a["report"].equals(c["report"].reindex(a.index))


def test_all_classes_present_and_images_differ(tmp_path):
    m = generate_synthetic(tmp_path, n_images=30, image_size=32, seed=0)
    assert set(m["label"]) == set(CLASSES)
    from radgen.data.images import pixel_hash, read_gray

    assert len({pixel_hash(read_gray(p)) for p in m["path"]}) == len(m)
