"""Report-metric floors: drawn from training reports only, same class when asked, seeded, scored like
generated reports, and summarised like variants."""

from __future__ import annotations

import json
import logging
import runpy
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from radgen.evaluate.floors import (
    FLOORS,
    evaluate_floors,
    evaluate_floors_files,
    floor_hypotheses,
    split_fold,
    summarize_floors,
)
from radgen.evaluate.fold import METRIC_NAMES, evaluate_fold, score_reports

ROOT = Path(__file__).resolve().parents[1]
CLASS_TEXT = {
    "normal": "The lungs are clear. No effusion.",
    "pneumonia": "Right lower lobe consolidation. IMPRESSION: pneumonia.",
    "tb": "Left apical cavity with nodules. IMPRESSION: tuberculosis.",
}


def _tiny(k: int = 3, per_class: int = 12) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Manifest + folds: every report names its image ("img<id>") and its class; fold = i % k, the inner
    split alternates so that some training images are inner-val."""
    rows, folds = [], []
    for c, label in enumerate(CLASS_TEXT):
        for j in range(per_class):
            i = c * per_class + j
            image_id = f"{i:03d}"
            rows.append(
                {"image_id": image_id, "label": label, "report": f"{CLASS_TEXT[label]} img{image_id}."}
            )
            folds.append({"image_id": image_id, "fold": i % k, "inner": "val" if i % 5 == 0 else "train"})
    return pd.DataFrame(rows), pd.DataFrame(folds)


def _owner(report: str) -> str:
    """The image id a report of _tiny was written for."""
    return report.rsplit("img", 1)[1].rstrip(".")


def test_split_fold_training_part_is_every_other_fold_inner_val_included() -> None:
    manifest, folds = _tiny()
    held, train = split_fold(manifest, folds, 1)
    assert set(held.image_id) == set(folds.image_id[folds.fold == 1])
    assert set(train.image_id) == set(folds.image_id[folds.fold != 1])
    assert set(folds.set_index("image_id").loc[train.image_id, "inner"]) == {"train", "val"}
    with pytest.raises(ValueError, match="fold 7 has no held-out"):
        split_fold(manifest, folds, 7)
    with pytest.raises(ValueError, match="covers"):
        split_fold(manifest, folds.iloc[1:], 0)


def test_floors_use_training_reports_only_and_same_class_keeps_the_label() -> None:
    manifest, folds = _tiny()
    for fold in range(3):
        held, train = split_fold(manifest, folds, fold)
        hyps = floor_hypotheses(held, train, seed=fold)
        held_words = {f"img{i}" for i in held.image_id}
        label_of = manifest.set_index("image_id")["label"]
        for name in FLOORS:
            assert len(hyps[name]) == len(held)
            assert not any(w in h for h in hyps[name] for w in held_words)  # ids are fixed-width
            owners = [_owner(h) for h in hyps[name]]
            assert set(owners) <= set(train.image_id)  # a training image's own, untouched report
        same_owners = [_owner(h) for h in hyps["floor_same_class"]]
        assert list(label_of.loc[same_owners]) == list(held.label)
        # the random floor ignores the class: with 12 held-out images per class some draw crosses classes
        random_owners = [_owner(h) for h in hyps["floor_random"]]
        assert (label_of.loc[random_owners].to_numpy() != held.label.to_numpy()).any()


def test_floors_are_deterministic_and_independent_of_row_order() -> None:
    manifest, folds = _tiny()
    held, train = split_fold(manifest, folds, 0)
    first = floor_hypotheses(held, train, seed=5)
    assert floor_hypotheses(held, train, seed=5) == first
    assert floor_hypotheses(held, train, seed=6) != first
    shuffled = split_fold(
        manifest.sample(frac=1.0, random_state=1), folds.sample(frac=1.0, random_state=2), 0
    )
    assert floor_hypotheses(*shuffled, seed=5) == first


def test_training_images_without_report_are_never_drawn() -> None:
    manifest, folds = _tiny()
    held, train = split_fold(manifest, folds, 0)
    keep = train.image_id.isin(train.image_id[::2])
    train.loc[~keep, "report"] = ""
    hyps = floor_hypotheses(held, train, seed=0)
    assert all(h.strip() for name in FLOORS for h in hyps[name])
    assert {_owner(h) for name in FLOORS for h in hyps[name]} <= set(train.image_id[keep])
    train.loc[train.label == "tb", "report"] = ""
    with pytest.raises(ValueError, match="tb"):
        floor_hypotheses(held, train, seed=0)


def test_evaluate_floors_scores_with_the_generated_report_path() -> None:
    manifest, folds = _tiny()
    result = evaluate_floors(manifest, folds, fold=2, seed=10, meteor=False)
    assert set(result) == {"fold", "n", "seed", "floors"}
    assert result["fold"] == 2 and result["seed"] == 12 and set(result["floors"]) == set(FLOORS)
    held, train = split_fold(manifest, folds, 2)
    assert result["n"] == len(held)
    hyps = floor_hypotheses(held, train, seed=12)
    for name in FLOORS:
        expected = score_reports(held.report.tolist(), hyps[name], held.label.tolist(), meteor=False)
        assert result["floors"][name] == pytest.approx(expected, nan_ok=True)
    same, rand = result["floors"]["floor_same_class"], result["floors"]["floor_random"]
    # every report of a class says the same apart from its image id: the same-class floor names every
    # diagnosis and finding right, the random one does not
    assert same["ce_f1_micro"] == pytest.approx(1.0) and same["main_finding_rate"] == pytest.approx(1.0)
    assert same["ce_findings_f1_micro"] == pytest.approx(1.0)
    assert rand["ce_f1_micro"] < 1.0 and rand["main_finding_rate"] < 1.0
    assert same["BLEU-4"] > rand["BLEU-4"]


def test_a_floor_scores_as_a_variant_generating_the_same_reports_would() -> None:
    manifest, folds = _tiny()
    result = evaluate_floors(manifest, folds, fold=0, seed=0, meteor=False)
    held, train = split_fold(manifest, folds, 0)
    predictions = held[["image_id", "label"]].assign(p_normal=1 / 3, p_pneumonia=1 / 3, p_tb=1 / 3)
    predictions["report_generated"] = floor_hypotheses(held, train, seed=0)["floor_same_class"]
    fold = evaluate_fold(predictions, manifest, "copycat", 0, with_reports=True, meteor=False)["metrics"]
    floor = result["floors"]["floor_same_class"]
    assert {k: fold[k] for k in floor} == pytest.approx(floor)
    assert set(floor) <= set(METRIC_NAMES)
    assert {"ce_findings_precision_micro", "ce_findings_recall_micro", "ce_findings_f1_micro"} <= set(floor)


def test_no_reference_reports_gives_no_floors() -> None:
    manifest, folds = _tiny()
    manifest["report"] = ""
    assert evaluate_floors(manifest, folds, fold=0)["floors"] == {}


def test_summarize_floors_by_hand() -> None:
    folds = [
        {"fold": 0, "n": 4, "floors": {"floor_same_class": {"BLEU-4": 0.2}, "floor_random": {"BLEU-4": 0.1}}},
        {
            "fold": 1,
            "n": 4,
            "floors": {"floor_same_class": {"BLEU-4": 0.4}, "floor_random": {"BLEU-4": None}},
        },
    ]
    table = summarize_floors(folds).set_index(["variant", "metric"])
    assert list(table.reset_index().columns) == ["variant", "metric", "mean", "std", "n_folds"]
    assert table.loc[("floor_same_class", "BLEU-4"), "mean"] == pytest.approx(0.3)
    assert table.loc[("floor_same_class", "BLEU-4"), "std"] == pytest.approx(np.std([0.2, 0.4], ddof=1))
    assert table.loc[("floor_random", "BLEU-4"), "n_folds"] == 1
    assert summarize_floors([{"fold": 0, "n": 0, "floors": {}}]).empty


def test_files_and_script_adapter(tmp_path: Path) -> None:
    manifest, folds = _tiny(k=2, per_class=6)
    manifest.to_csv(tmp_path / "manifest.csv", index=False)
    folds.to_csv(tmp_path / "folds.csv", index=False)
    out = tmp_path / "floors" / "fold1.json"
    result = evaluate_floors_files(
        tmp_path / "manifest.csv", tmp_path / "folds.csv", out, 1, seed=3, meteor=False
    )
    assert json.loads(out.read_text()) == json.loads(json.dumps(result))
    assert summarize_floors([out])["variant"].unique().tolist() == list(FLOORS)

    out_script = tmp_path / "script" / "fold1.json"
    smk = SimpleNamespace(
        input=SimpleNamespace(manifest=str(tmp_path / "manifest.csv"), folds=str(tmp_path / "folds.csv")),
        output=SimpleNamespace(floors=str(out_script)),
        params=SimpleNamespace(
            evaluation={"seed": 3, "meteor": False, "radcliq": False, "uncertain_as_positive": False}
        ),
        wildcards=SimpleNamespace(fold="1"),
        log=[str(tmp_path / "logs" / "floors1.log")],
    )
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        runpy.run_path(str(ROOT / "scripts" / "evaluate_floors.py"), init_globals={"snakemake": smk})
    finally:
        for handler in root.handlers:
            if handler not in handlers:
                handler.close()
        root.handlers[:] = handlers
        root.setLevel(level)
        logging.captureWarnings(False)
    assert json.loads(out_script.read_text()) == json.loads(out.read_text())
    assert "floor_same_class fold 1" in (tmp_path / "logs" / "floors1.log").read_text()
