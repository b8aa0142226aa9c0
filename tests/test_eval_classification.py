"""Classification metrics, bootstrap and DeLong against independent computations (scikit-learn, brute force)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy.stats import norm
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    confusion_matrix,
    f1_score,
    recall_score,
    roc_auc_score,
)

from radgen.constants import CLASSES
from radgen.evaluate.classification import (
    _bootstrap_distribution,
    _stratified_indices,
    bootstrap_ci,
    classification_metrics,
    compare_to_reference,
    confusion,
    delong_ci,
    delong_test,
    holm,
    per_class_auc,
)


def _random_case(seed: int, n: int = 300, strength: float = 1.0, rounding: int | None = None):
    rng = np.random.default_rng(seed)
    y = rng.choice(3, size=n, p=[0.15, 0.6, 0.25])
    logits = rng.normal(size=(n, 3))
    logits[np.arange(n), y] += strength
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    if rounding is not None:  # creates ties, rows still summing to 1 (sklearn checks that)
        p[:, :2] = np.round(p[:, :2], rounding)
        p[:, 2] = 1.0 - p[:, 0] - p[:, 1]
    return y, p


@pytest.mark.parametrize("seed,rounding", [(0, None), (1, None), (2, 1), (3, 2)])
def test_classification_metrics_equal_sklearn(seed: int, rounding: int | None) -> None:
    y, p = _random_case(seed, rounding=rounding)
    m = classification_metrics(y, p)
    pred = p.argmax(axis=1)
    assert m["macro_auc"] == pytest.approx(roc_auc_score(y, p, multi_class="ovr"))
    for k, c in enumerate(CLASSES):
        assert m[f"auc_{c}"] == pytest.approx(roc_auc_score(y == k, p[:, k]))
    assert m["macro_f1"] == pytest.approx(f1_score(y, pred, average="macro"))
    assert m["accuracy"] == pytest.approx(accuracy_score(y, pred))
    assert m["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y, pred))
    recalls = recall_score(y, pred, average=None, labels=[0, 1, 2])
    cm = confusion_matrix(y, pred, labels=[0, 1, 2])
    for k, c in enumerate(CLASSES):
        assert m[f"sensitivity_{c}"] == pytest.approx(recalls[k])
        tn = cm.sum() - cm[k, :].sum() - cm[:, k].sum() + cm[k, k]
        fp = cm[:, k].sum() - cm[k, k]
        assert m[f"specificity_{c}"] == pytest.approx(tn / (tn + fp))
    np.testing.assert_array_equal(confusion(y, p), cm)


def test_metric_names_follow_the_contract() -> None:
    y, p = _random_case(0)
    expected = {"macro_auc", "macro_f1", "accuracy", "balanced_accuracy"}
    expected |= {f"{m}_{c}" for m in ("auc", "sensitivity", "specificity") for c in CLASSES}
    assert set(classification_metrics(y, p)) == expected


def test_absent_class_gives_nan_auc_and_matches_sklearn_balanced_accuracy() -> None:
    y, p = _random_case(4)
    keep = y != 0
    y, p = y[keep], p[keep]
    m = classification_metrics(y, p)
    assert math.isnan(m["auc_normal"])
    assert m["macro_auc"] == pytest.approx(np.mean([m["auc_pneumonia"], m["auc_tb"]]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert m["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y, p.argmax(1)))
        assert m["macro_f1"] == pytest.approx(f1_score(y, p.argmax(1), average="macro", labels=[0, 1, 2]))
    assert math.isnan(m["sensitivity_normal"])


def test_input_validation() -> None:
    y, p = _random_case(0, n=20)
    with pytest.raises(ValueError, match="0..2"):
        classification_metrics(np.r_[y[:-1], 3], p)
    with pytest.raises(ValueError, match="2-D"):
        classification_metrics(y, p[:, 0])
    with pytest.raises(ValueError, match="len"):
        classification_metrics(y[:-1], p)


# ------------------------------------------------------------------------------------------------ bootstrap


def test_bootstrap_is_deterministic_for_a_seed() -> None:
    y, p = _random_case(5, n=200)
    a = bootstrap_ci(y, p, n_resamples=1000, seed=7)
    b = bootstrap_ci(y, p, n_resamples=1000, seed=7)
    c = bootstrap_ci(y, p, n_resamples=1000, seed=8)
    assert a == b
    assert a != c
    for value, low, high in a.values():
        assert low <= high
        assert low - 0.02 <= value <= high + 0.02  # percentile CI around the point estimate


def test_bootstrap_resamples_are_stratified_and_each_equals_a_direct_computation() -> None:
    y, p = _random_case(6, n=150)
    idx = _stratified_indices(y, 50, np.random.default_rng(0))
    for row in idx:
        np.testing.assert_array_equal(np.bincount(y[row], minlength=3), np.bincount(y, minlength=3))
    metrics = ("macro_auc", "auc_tb", "macro_f1", "balanced_accuracy", "accuracy", "specificity_normal")
    dist = _bootstrap_distribution(y, p, idx, metrics, chunk=7)  # chunking must not change anything
    for b in (0, 13, 49):
        direct = classification_metrics(y[idx[b]], p[idx[b]])
        for name in metrics:
            assert dist[name][b] == pytest.approx(direct[name]), name


def test_bootstrap_ci_width_shrinks_with_n() -> None:
    small = bootstrap_ci(*_random_case(9, n=100), n_resamples=1000, seed=0)["macro_auc"]
    large = bootstrap_ci(*_random_case(9, n=1600), n_resamples=1000, seed=0)["macro_auc"]
    assert (large[2] - large[1]) < (small[2] - small[1])


# ------------------------------------------------------------------------------------------------ DeLong


def _brute_force_delong(y: np.ndarray, scores: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """AUCs (Mann-Whitney) and DeLong covariance from the full m x n kernel matrix, O(m n)."""
    pos, neg = y == 1, y == 0
    m, n = pos.sum(), neg.sum()
    v10, v01, aucs = [], [], []
    for s in scores:
        x, z = s[pos][:, None], s[neg][None, :]
        psi = (x > z).astype(float) + 0.5 * (x == z)
        aucs.append(psi.mean())
        v10.append(psi.mean(axis=1))  # per positive
        v01.append(psi.mean(axis=0))  # per negative
    k = len(scores)
    s10 = np.array(
        [[np.sum((v10[i] - aucs[i]) * (v10[j] - aucs[j])) / (m - 1) for j in range(k)] for i in range(k)]
    )
    s01 = np.array(
        [[np.sum((v01[i] - aucs[i]) * (v01[j] - aucs[j])) / (n - 1) for j in range(k)] for i in range(k)]
    )
    return np.array(aucs), s10 / m + s01 / n


@pytest.mark.parametrize("seed,ties", [(0, False), (1, True), (2, False), (3, True)])
def test_delong_test_matches_brute_force(seed: int, ties: bool) -> None:
    rng = np.random.default_rng(seed)
    n = 40
    y = (rng.random(n) < 0.4).astype(int)
    a = y * 0.8 + rng.normal(size=n)
    b = y * 0.3 + 0.5 * a + rng.normal(size=n)  # correlated with a, as two models on the same cases are
    if ties:
        a, b = np.round(a), np.round(b)
    aucs, cov = _brute_force_delong(y, [a, b])
    z_expected = (aucs[0] - aucs[1]) / math.sqrt(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])
    p_expected = 2 * norm.sf(abs(z_expected))
    z, p = delong_test(y, a, b)
    assert z == pytest.approx(z_expected, rel=1e-9)
    assert p == pytest.approx(p_expected, rel=1e-9)
    z_swapped, p_swapped = delong_test(y, b, a)
    assert z_swapped == pytest.approx(-z)
    assert p_swapped == pytest.approx(p)


def test_delong_ci_matches_brute_force_and_contains_the_auc() -> None:
    rng = np.random.default_rng(11)
    y = (rng.random(60) < 0.3).astype(int)
    s = y + rng.normal(size=60)
    (auc_expected,), cov = _brute_force_delong(y, [s])
    auc, low, high = delong_ci(y, s, alpha=0.05)
    assert auc == pytest.approx(auc_expected)
    assert auc == pytest.approx(roc_auc_score(y, s))
    half = norm.ppf(0.975) * math.sqrt(cov[0, 0])
    assert low == pytest.approx(max(0.0, auc - half))
    assert high == pytest.approx(min(1.0, auc + half))
    assert low < auc < high
    _, low90, high90 = delong_ci(y, s, alpha=0.10)
    assert low < low90 and high90 < high


def test_delong_edge_cases() -> None:
    y = np.array([0, 0, 1, 1, 0, 1])
    s = np.array([0.1, 0.4, 0.35, 0.8, 0.2, 0.9])
    assert delong_test(y, s, s) == (0.0, 1.0)
    with pytest.raises(ValueError, match="at least 2"):
        delong_test(np.array([0, 0, 0, 1]), s[:4], s[:4])
    with pytest.raises(ValueError, match="binary"):
        delong_test(np.array([0, 1, 2, 1, 0, 1]), s, s)


# ------------------------------------------------------------------------------------------------ Holm


def test_holm_by_hand() -> None:
    # sorted 0.01, 0.03, 0.04 -> 3*0.01, 2*0.03, max(0.06, 1*0.04)
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03]), [0.03, 0.06, 0.06])
    np.testing.assert_allclose(holm([0.5, 0.9]), [1.0, 1.0])
    out = holm([0.02, np.nan, 0.01])
    assert math.isnan(out[1])
    np.testing.assert_allclose(out[[0, 2]], [0.02, 0.02])


def test_compare_to_reference() -> None:
    y, good = _random_case(12, n=400, strength=2.0)
    _, weak = _random_case(13, n=400, strength=0.2)
    table = compare_to_reference(y, {"radgen": good, "weak": weak, "same": good}, reference="radgen")
    assert list(table.columns) == ["variant", "class", "auc", "auc_reference", "delta", "z", "p", "p_holm"]
    assert len(table) == 2 * len(CLASSES)
    assert set(table["variant"]) == {"weak", "same"}
    weak_rows = table[table["variant"] == "weak"]
    assert (weak_rows["delta"] < 0).all() and (weak_rows["z"] < 0).all()
    same_rows = table[table["variant"] == "same"]
    assert (same_rows["p"] == 1.0).all() and (same_rows["delta"] == 0).all()
    for cls, block in table.groupby("class"):
        np.testing.assert_allclose(block["p_holm"], holm(block["p"].to_numpy()))
        k = CLASSES.index(cls)
        assert block["auc_reference"].iloc[0] == pytest.approx(per_class_auc(y, good)[k])
