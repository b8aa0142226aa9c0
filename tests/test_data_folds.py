"""Patient-grouped, stratified folds with an inner split; the leakage check refuses bad tables."""

from __future__ import annotations

import logging
import time

import numpy as np
import pandas as pd
import pytest

from radgen.data.folds import (
    FoldLeakageError,
    MissingClassError,
    check_every_class,
    check_no_patient_leakage,
    fold_summary,
    make_folds,
    missing_classes,
)
from radgen.data.synthetic import sample_studies


@pytest.fixture(scope="module")
def manifest() -> pd.DataFrame:
    studies = sample_studies(600, 0, {"normal": 0.086, "pneumonia": 0.696, "tb": 0.217}, 0.35)
    return pd.DataFrame(
        {
            "image_id": [s.image_id for s in studies],
            "label": [s.label for s in studies],
            "patient_id": [s.patient_id for s in studies],
        }
    )


def test_columns_and_coverage(manifest):
    folds = make_folds(manifest, k=5, seed=0)
    assert list(folds.columns) == ["image_id", "fold", "inner"]
    assert list(folds["image_id"]) == list(manifest["image_id"])
    assert set(folds["fold"]) == set(range(5)) and set(folds["inner"]) == {"train", "val"}


def test_no_patient_in_two_folds_or_two_inner_roles(manifest):
    merged = manifest.merge(make_folds(manifest, k=5, seed=0), on="image_id")
    assert (merged.groupby("patient_id")["fold"].nunique() == 1).all()
    assert (merged.groupby("patient_id")["inner"].nunique() == 1).all()


def test_fold_class_shares_within_three_points(manifest):
    for seed in (0, 1, 2):
        summary = fold_summary(manifest, make_folds(manifest, k=5, seed=seed))
        overall = manifest["label"].value_counts(normalize=True)
        for c in ("normal", "pneumonia", "tb"):
            assert (summary[f"share_{c}"] - overall[c]).abs().max() <= 0.03
        assert summary["n"].max() - summary["n"].min() <= 6


def test_inner_val_fraction_and_classes_in_every_training_part(manifest):
    merged = manifest.merge(make_folds(manifest, k=5, seed=0, inner_val_fraction=0.15), on="image_id")
    assert 0.11 <= (merged["inner"] == "val").mean() <= 0.19
    for held_out in range(5):
        train_part = merged[merged["fold"] != held_out]
        val_labels = set(train_part.loc[train_part["inner"] == "val", "label"])
        assert val_labels == {"normal", "pneumonia", "tb"}


def test_deterministic_and_order_independent(manifest):
    a = make_folds(manifest, k=5, seed=7)
    b = make_folds(manifest, k=5, seed=7)
    assert a.equals(b)
    shuffled = manifest.sample(frac=1, random_state=0)
    c = make_folds(shuffled, k=5, seed=7).set_index("image_id").loc[a["image_id"]].reset_index()
    assert a.equals(c)
    assert not a["fold"].equals(make_folds(manifest, k=5, seed=8)["fold"])


def test_leakage_check_refuses_crafted_tables(manifest):
    folds = make_folds(manifest, k=5, seed=0)
    repeat = manifest.groupby("patient_id")["image_id"].apply(list)
    first, second = next(ids for ids in repeat if len(ids) > 1)[:2]
    bad = folds.copy()
    bad.loc[bad["image_id"] == second, "fold"] = (bad.loc[bad["image_id"] == first, "fold"].iloc[0] + 1) % 5
    with pytest.raises(FoldLeakageError, match="more than one fold"):
        check_no_patient_leakage(manifest, bad)
    bad = folds.copy()
    bad.loc[bad["image_id"] == first, "inner"] = "val"
    bad.loc[bad["image_id"] == second, "inner"] = "train"
    with pytest.raises(FoldLeakageError, match="both inner train and inner val"):
        check_no_patient_leakage(manifest, bad)
    with pytest.raises(FoldLeakageError, match="have no fold"):
        check_no_patient_leakage(manifest, folds.iloc[1:])


def test_input_errors(manifest):
    with pytest.raises(ValueError, match="at least 2"):
        make_folds(manifest, k=1)
    with pytest.raises(ValueError, match="cannot fill"):
        make_folds(manifest.iloc[:3], k=5)
    with pytest.raises(ValueError, match="duplicate image_id"):
        make_folds(pd.concat([manifest, manifest.iloc[:1]]), k=5)


def test_fast_at_scale():
    """1e5 images of 3e4 patients in well under a second or two (sklearn's StratifiedGroupKFold: ~5 s)."""
    rng = np.random.default_rng(0)
    sizes = rng.choice([1, 1, 1, 2, 3, 4, 6], size=30_000)
    labels = rng.choice(np.array(["normal", "pneumonia", "tb"]), size=30_000, p=[0.3, 0.5, 0.2])
    big = pd.DataFrame(
        {
            "image_id": np.arange(sizes.sum()).astype(str),
            "label": np.repeat(labels, sizes),
            "patient_id": np.repeat(np.arange(30_000), sizes).astype(str),
        }
    )
    start = time.perf_counter()
    folds = make_folds(big, k=5, seed=0)
    assert time.perf_counter() - start < 5
    summary = fold_summary(big, folds)
    assert (summary["share_normal"] - 0.3).abs().max() < 0.01


def test_tiny_dataset_still_has_inner_val_of_every_class():
    studies = sample_studies(90, 0, {"normal": 0.086, "pneumonia": 0.696, "tb": 0.217}, 0.35)
    small = pd.DataFrame(
        {
            "image_id": [s.image_id for s in studies],
            "label": [s.label for s in studies],
            "patient_id": [s.patient_id for s in studies],
        }
    )
    for k in (2, 5):
        merged = small.merge(make_folds(small, k=k, seed=0), on="image_id")
        for held_out in range(k):
            part = merged[merged["fold"] != held_out]
            assert set(part.loc[part["inner"] == "val", "label"]) == {"normal", "pneumonia", "tb"}


def _tiny(n_per_class: dict[str, int]) -> pd.DataFrame:
    """One image per patient, n_per_class[c] patients of class c."""
    labels = [c for c, n in n_per_class.items() for _ in range(n)]
    ids = [f"{c}{i}" for c, n in n_per_class.items() for i in range(n)]
    return pd.DataFrame({"image_id": ids, "label": labels, "patient_id": ids})


# k = 2, hand-built: fold 0 = a (normal, train), b (pneumonia, val), c (tb, train);
#                    fold 1 = d (normal, val), e (pneumonia, train), f (pneumonia, val)
HAND_MANIFEST = pd.DataFrame(
    {
        "image_id": list("abcdef"),
        "label": ["normal", "pneumonia", "tb", "normal", "pneumonia", "pneumonia"],
        "patient_id": list("abcdef"),
    }
)
HAND_FOLDS = pd.DataFrame(
    {
        "image_id": list("abcdef"),
        "fold": [0, 0, 0, 1, 1, 1],
        "inner": ["train", "val", "train", "val", "train", "val"],
    }
)
# held out 0: trains on {d, e, f} (no tb; inner-train {e} has no normal, inner-val {d, f} is complete);
# held out 1: {d, e, f} evaluated without tb; inner-train {a, c} has no pneumonia, inner-val {b} only pneumonia
HAND_MISSING = {
    (0, "training", "tb"),
    (0, "inner-train", "normal"),
    (1, "held-out", "tb"),
    (1, "inner-train", "pneumonia"),
    (1, "inner-val", "normal"),
    (1, "inner-val", "tb"),
}


def test_missing_classes_of_a_hand_built_table():
    assert set(missing_classes(HAND_MANIFEST, HAND_FOLDS, 2)) == HAND_MISSING
    # no inner split at all: only held-out and training parts are checked
    no_val = HAND_FOLDS.assign(inner="train")
    assert set(missing_classes(HAND_MANIFEST, no_val, 2)) == {(0, "training", "tb"), (1, "held-out", "tb")}
    # a class absent from the whole manifest is ingestion's business, not a fold's
    only_two = HAND_MANIFEST[HAND_MANIFEST["label"] != "tb"]
    assert all(cls != "tb" for _, _, cls in missing_classes(only_two, HAND_FOLDS, 2))


def test_missing_class_refused_with_fold_part_class_and_remedy():
    with pytest.raises(MissingClassError) as err:
        check_every_class(HAND_MANIFEST, HAND_FOLDS, 2)
    text = str(err.value)
    for fold, part, cls in HAND_MISSING:
        assert f"fold {fold} {part} part" in text and f"no {cls} image" in text
    assert text.count("\n  - ") == len(HAND_MISSING)
    assert "folds.k" in text and "folds.allow_missing_class: true" in text


def test_missing_class_allowed_warns_per_class(caplog):
    with caplog.at_level(logging.WARNING, logger="radgen"):
        check_every_class(HAND_MANIFEST, HAND_FOLDS, 2, allow_missing_class=True)
    warned = {r.getMessage().split()[1]: r.getMessage() for r in caplog.records}
    assert set(warned) == {"tb", "normal", "pneumonia"}
    assert "fold 0 training" in warned["tb"] and "fold 1 held-out" in warned["tb"]
    assert "fold 1 inner-val" in warned["tb"] and "fold 0 inner-train" not in warned["tb"]


def test_three_tb_patients_for_five_folds():
    """The issue's case: some folds cannot hold out tb (and some training parts lack it in an inner split)."""
    small = _tiny({"normal": 15, "pneumonia": 15, "tb": 3})
    with pytest.raises(MissingClassError, match=r"fold \d held-out part .* no tb image \(tb: 3 patient"):
        make_folds(small, k=5, seed=0)
    folds = make_folds(small, k=5, seed=0, allow_missing_class=True)
    merged = small.merge(folds, on="image_id")
    without_tb = sorted(set(range(5)) - set(merged.loc[merged["label"] == "tb", "fold"]))
    assert len(without_tb) >= 2  # 3 patients, 5 folds
    assert {f for f, part, cls in missing_classes(small, folds, 5) if part == "held-out"} == set(without_tb)


def test_enough_patients_of_every_class_pass_silently(caplog):
    small = _tiny({"normal": 10, "pneumonia": 10, "tb": 10})
    with caplog.at_level(logging.WARNING, logger="radgen"):
        folds = make_folds(small, k=5, seed=0)
    assert missing_classes(small, folds, 5) == [] and not caplog.records
