"""Patient-grouped, stratified folds with an inner split; the leakage check refuses bad tables."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from radgen.data.folds import FoldLeakageError, check_no_patient_leakage, fold_summary, make_folds
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
