"""Synthetic chest X-rays: determinism, class ratio, repeat studies, reports that say what is drawn, and the
deliberate imperfections (label noise, omitted findings) with their truth table."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from radgen.constants import CLASSES
from radgen.data.ingest import build_manifest
from radgen.data.synthetic import (
    class_counts,
    generate_synthetic,
    imperfection_counts,
    render_study,
    sample_studies,
    write_report,
)
from radgen.data.synthetic.cases import noise_plan, omissible, patient_sizes

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


# --------------------------------------------------------------------------- label noise and omitted findings
N_NOISY = 2000


def noisy_studies(label_noise: float, report_omission: float, n: int = N_NOISY, seed: int = 0) -> list:
    return sample_studies(
        n, seed, SEED_PROPORTIONS, 0.35, label_noise=label_noise, report_omission=report_omission
    )


def within_binomial(k: int, n: int, p: float, z: float = 4.0) -> bool:
    return abs(k - n * p) <= z * np.sqrt(n * p * (1 - p))


def without_imperfection(study):
    return dataclasses.replace(study, recorded_label="", omitted=-1)


@pytest.mark.parametrize("noise", [0.03, 0.2])
def test_flipped_share_is_binomial_and_flips_change_the_class(noise):
    studies = noisy_studies(noise, 0.0)
    flipped = [s for s in studies if s.manifest_label != s.label]
    assert within_binomial(len(flipped), len(studies), noise)
    assert all(s.manifest_label in CLASSES and s.recorded_label != s.label for s in flipped)
    clean = noisy_studies(0.0, 0.0)
    assert [without_imperfection(s) for s in studies] == clean  # image and report drawn for the true class


@pytest.mark.parametrize("noise", [0.03, 0.1])
def test_every_recorded_class_has_about_the_configured_share_of_wrong_labels(noise):
    """The rare class must not collect the majority's wrong labels (a uniform flip would make ~16 % of the
    recorded normals disease films at 3 % noise with the seed's class ratio)."""
    studies = noisy_studies(noise, 0.0, n=6000)
    for c in CLASSES:
        recorded = [s for s in studies if s.manifest_label == c]
        wrong = sum(s.label != c for s in recorded)
        assert within_binomial(wrong, len(recorded), noise), (c, wrong, len(recorded))


def test_noise_plan_by_hand():
    """counts 10 / 70 / 20, noise 0.1: flows t -> r = 0.1 n_r n_t / (N - n_r), N = 100."""
    plan = noise_plan({"normal": 10, "pneumonia": 70, "tb": 20}, 0.1)
    to_normal_from_p, to_tb_from_p = 0.1 * 10 * 70 / 90, 0.1 * 20 * 70 / 80
    q, dest = plan["pneumonia"]
    assert q == pytest.approx((to_normal_from_p + to_tb_from_p) / 70)
    assert dest == pytest.approx(
        (
            to_normal_from_p / (to_normal_from_p + to_tb_from_p),
            0.0,
            to_tb_from_p / (to_normal_from_p + to_tb_from_p),
        )
    )
    incoming_normal = sum(plan[t][0] * n * plan[t][1][0] for t, n in (("pneumonia", 70), ("tb", 20)))
    assert incoming_normal == pytest.approx(0.1 * 10)  # each recorded class receives noise * n_r wrong labels
    assert noise_plan({"normal": 10, "pneumonia": 70, "tb": 20}, 0.0)["tb"][0] == 0.0


def test_drawn_classes_exact_and_recorded_close_to_proportions():
    noise = 0.2
    studies = noisy_studies(noise, 0.0)
    drawn = {c: sum(s.label == c for s in studies) for c in CLASSES}
    assert drawn == class_counts(N_NOISY, SEED_PROPORTIONS)
    for c in CLASSES:
        recorded = sum(s.manifest_label == c for s in studies)
        assert abs(recorded - drawn[c]) <= noise * drawn[c] + 4 * np.sqrt(N_NOISY * noise)


def test_imperfections_are_nested_in_the_fractions():
    low, high = noisy_studies(0.03, 0.1), noisy_studies(0.2, 0.5)
    for a, b in zip(low, high, strict=True):
        if a.recorded_label:
            assert b.recorded_label == a.recorded_label
        if a.omitted >= 0:
            assert b.omitted == a.omitted


def test_omission_share_and_eligibility():
    studies = noisy_studies(0.0, 0.1)
    eligible = [s for s in studies if omissible(s)]
    omitted = [s for s in studies if s.omitted >= 0]
    assert set(map(id, omitted)) <= set(map(id, eligible))
    assert within_binomial(len(omitted), len(eligible), 0.1)
    assert all(s.label != "normal" for s in eligible)
    everything = noisy_studies(0.0, 1.0)
    assert imperfection_counts(everything)["n_omitted"] == imperfection_counts(everything)["n_omissible"] > 0


OMITTED_WORDS = {
    "effusion": r"effusion|costophrenic",
    "lymphadenopathy": r"lymphadenopathy|enlarged|lobulated",
    "granuloma": r"granuloma|calcified",
    "apical_cap": r"apical|capping|apex",
    "consolidation": r"consolidation",
    "nodules": r"\bnodules\b|\bnodular\b",  # not "fibronodular", nor a granuloma's "calcified nodule"
}


def test_omission_shortens_the_report_and_removes_the_finding():
    studies = [s for s in noisy_studies(0.0, 1.0) if s.omitted >= 0]
    assert {s.omitted_kind for s in studies} == set(OMITTED_WORDS)  # every rule is exercised
    for s in studies:
        report, full = write_report(s), write_report(without_imperfection(s))
        assert len(report.split()) < len(full.split()), (report, full)
        words = OMITTED_WORDS[s.omitted_kind]
        assert re.search(words, full.lower()) and not re.search(words, report.lower()), (report, full)
        findings_part = report.split(" IMPRESSION: ")[0]
        assert set(sentences(findings_part)) <= set(sentences(full.split(" IMPRESSION: ")[0]))
        disease = "pneumonia" if s.label == "pneumonia" else "tuberculosis"
        assert disease in report.split(" IMPRESSION: ")[1].lower()  # the diagnosis is still the drawn class


def test_noise_zero_reproduces_the_generator_without_imperfections(tmp_path):
    """Fractions 0: no study is touched, so the manifest is the one the generator wrote before these options."""
    clean = generate_synthetic(tmp_path / "clean", n_images=30, image_size=32, seed=2)
    noisy = generate_synthetic(
        tmp_path / "noisy", n_images=30, image_size=32, seed=2, label_noise=0.5, report_omission=1.0
    )
    studies = sample_studies(30, 2, SEED_PROPORTIONS, 0.35)
    assert all(not s.recorded_label and s.omitted < 0 for s in studies)
    assert list(clean["label"]) == [s.label for s in studies]
    assert list(clean["report"]) == [write_report(s) for s in studies]
    truth = pd.read_csv(tmp_path / "noisy" / "truth.csv", keep_default_na=False)
    clean_truth = pd.read_csv(tmp_path / "clean" / "truth.csv", keep_default_na=False)
    assert not clean_truth["label_flipped"].any() and (clean_truth["omitted_finding"] == "").all()
    assert truth["label_flipped"].any() and (truth["omitted_finding"] != "").any()
    same_label = ~truth["label_flipped"].to_numpy()
    same_report = (truth["omitted_finding"] == "").to_numpy()
    assert (clean["label"] == noisy["label"]).to_numpy().tolist() == same_label.tolist()
    assert (clean["report"] == noisy["report"]).to_numpy().tolist() == same_report.tolist()
    for pa, pb in zip(clean["path"], noisy["path"], strict=True):  # the films never change
        assert Path(pa).read_bytes() == Path(pb).read_bytes()


def test_truth_table_matches_manifest_and_counts(tmp_path):
    m = generate_synthetic(tmp_path, n_images=40, image_size=32, seed=5, label_noise=0.3, report_omission=1.0)
    truth = pd.read_csv(tmp_path / "truth.csv", keep_default_na=False)
    assert list(truth.columns) == [
        "image_id",
        "drawn_class",
        "recorded_label",
        "label_flipped",
        "omitted_finding",
    ]
    assert list(truth["image_id"]) == list(m["image_id"])
    assert list(truth["recorded_label"]) == list(m["label"])
    assert (truth["label_flipped"] == (truth["drawn_class"] != truth["recorded_label"])).all()
    counts = m.attrs["imperfection"]
    assert counts["n_studies"] == len(m) and counts["n_flipped"] == int(truth["label_flipped"].sum())
    assert counts["n_omitted"] == int((truth["omitted_finding"] != "").sum())
    assert counts["n_abnormal"] == int((truth["drawn_class"] != "normal").sum())
    assert list(tmp_path.glob("*.csv")) == [tmp_path / "truth.csv"]


def test_noisy_generation_is_byte_identical(tmp_path):
    kw = {"n_images": 30, "image_size": 32, "seed": 3, "label_noise": 0.2, "report_omission": 0.5}
    a, b = generate_synthetic(tmp_path / "a", **kw), generate_synthetic(tmp_path / "b", **kw)
    assert a.drop(columns="path").equals(b.drop(columns="path"))
    assert (tmp_path / "a" / "truth.csv").read_bytes() == (tmp_path / "b" / "truth.csv").read_bytes()


def test_build_manifest_passes_the_config_keys(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    syn = {"n_images": 30, "image_size": 32, "seed": 1, "label_noise": 0.5, "report_omission": 0.0}
    m = build_manifest({"source": "synthetic", "synthetic": syn}, "manifest.csv", images_dir="images")
    truth = pd.read_csv("images/truth.csv", keep_default_na=False)
    assert truth["label_flipped"].sum() > 0 and (truth["omitted_finding"] == "").all()
    assert m.attrs["imperfection"]["n_flipped"] == truth["label_flipped"].sum()
