"""Classification metrics, bootstrap and DeLong against independent computations (scikit-learn, brute force),
including the patient-level (clustered) versions against identity cases and hand-computed values."""

from __future__ import annotations

import math
import warnings
from collections import Counter
from fractions import Fraction

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
from radgen.evaluate.bootstrap import _bootstrap_distribution, _cluster_indices, _stratified_indices
from radgen.evaluate.classification import (
    ALPHA,
    COMPARISON_COLUMNS,
    FAMILY_CLASS,
    FAMILY_MACRO,
    METHOD_BOOTSTRAP,
    METHOD_DELONG,
    bootstrap_ci,
    classification_metrics,
    clustered_delong_cov,
    clustered_delong_test,
    compare_to_reference,
    confusion,
    delong_ci,
    delong_test,
    holm,
    paired_bootstrap_test,
    verdict,
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


# ------------------------------------------------------------------------------------- patient bootstrap


def _patients(seed: int, n_patients: int = 60, max_studies: int = 4):
    """Patients with 1..max_studies studies each (labels mostly constant within a patient), row order mixed."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, max_studies + 1, size=n_patients)
    groups = np.repeat(np.arange(n_patients) * 7 + 3, sizes)  # ids that are not row positions
    base = rng.choice(3, size=n_patients, p=[0.3, 0.4, 0.3])
    y = np.repeat(base, sizes)
    flip = rng.random(len(y)) < 0.15
    y[flip] = rng.choice(3, size=flip.sum())
    effect = np.repeat(rng.normal(size=(n_patients, 3)), sizes, axis=0)  # patient-level shared noise
    logits = effect + 0.5 * rng.normal(size=(len(y), 3))
    logits[np.arange(len(y)), y] += 1.2
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    perm = rng.permutation(len(y))
    return y[perm], p[perm], groups[perm]


def test_patient_bootstrap_with_one_image_per_patient_is_the_image_bootstrap() -> None:
    y, p = _random_case(14, n=120)
    idx_image = _stratified_indices(y, 40, np.random.default_rng(3))
    idx_patient = _cluster_indices(y, np.arange(len(y)), 40, np.random.default_rng(3))
    np.testing.assert_array_equal(idx_patient, idx_image)
    assert bootstrap_ci(y, p, 300, seed=2, groups=np.arange(len(y))) == bootstrap_ci(y, p, 300, seed=2)


def test_patient_resamples_hold_whole_patients_per_stratum_and_equal_a_direct_computation() -> None:
    y, p, groups = _patients(15)
    idx = _cluster_indices(y, groups, 30, np.random.default_rng(0))
    # brute-force strata: the most frequent label of each patient, ties to the lowest class index
    stratum = {}
    for g in np.unique(groups):
        counts = Counter(y[groups == g].tolist())
        stratum[g] = min(counts, key=lambda k: (-counts[k], k))
    patients_per_stratum = Counter(stratum.values())
    for row in idx:
        rows = row[row >= 0]
        assert (row[len(rows) :] == -1).all()  # padding only at the end
        times = Counter(rows.tolist())
        drawn = Counter()
        for g in np.unique(groups):
            members = np.flatnonzero(groups == g)
            k = {times.get(int(r), 0) for r in members}
            assert len(k) == 1, "a drawn patient brings all of its rows, each as often"
            drawn[stratum[g]] += k.pop()
        assert drawn == patients_per_stratum
    metrics = ("macro_auc", "auc_normal", "macro_f1", "balanced_accuracy", "accuracy", "sensitivity_tb")
    dist = _bootstrap_distribution(y, p, idx, metrics, chunk=7)
    for b in (0, 11, 29):
        rows = idx[b][idx[b] >= 0]
        direct = classification_metrics(y[rows], p[rows])
        for name in metrics:
            assert dist[name][b] == pytest.approx(direct[name]), name


def test_patient_bootstrap_of_duplicated_studies_equals_the_image_bootstrap_of_the_originals() -> None:
    y, p = _random_case(16, n=150)
    y2, p2, g2 = np.repeat(y, 2), np.repeat(p, 2, axis=0), np.repeat(np.arange(150), 2)
    original = bootstrap_ci(y, p, 400, seed=5)
    clustered = bootstrap_ci(y2, p2, 400, seed=5, groups=g2)
    naive = bootstrap_ci(y2, p2, 400, seed=5)
    for name, (value, low, high) in original.items():
        assert clustered[name] == pytest.approx((value, low, high), abs=1e-12), name
    width = original["macro_auc"][2] - original["macro_auc"][1]
    assert naive["macro_auc"][2] - naive["macro_auc"][1] < 0.85 * width  # duplicates fake precision


def test_bootstrap_rejects_misshapen_groups() -> None:
    y, p = _random_case(17, n=30)
    with pytest.raises(ValueError, match="one patient id per row"):
        bootstrap_ci(y, p, 100, groups=np.arange(29))


# --------------------------------------------------------------------------------------- clustered DeLong


def _brute_force_clustered(y, scores, groups):
    """Obuchowski (1997) written out with explicit pair kernels and per-cluster loops."""
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    big_m, big_n = len(pos), len(neg)
    clusters = list(dict.fromkeys(groups.tolist()))
    k = len(scores)
    aucs, xs, ys = [], [], []
    m_i = np.array([sum(groups[i] == c for i in pos) for c in clusters], dtype=float)
    n_i = np.array([sum(groups[j] == c for j in neg) for c in clusters], dtype=float)
    for s in scores:
        psi = np.array([[1.0 if s[i] > s[j] else 0.5 if s[i] == s[j] else 0.0 for j in neg] for i in pos])
        auc = psi.mean()
        v10 = dict(zip(pos.tolist(), psi.mean(axis=1), strict=True))
        v01 = dict(zip(neg.tolist(), psi.mean(axis=0), strict=True))
        xs.append(np.array([sum(v10[i] for i in pos if groups[i] == c) for c in clusters]) - m_i * auc)
        ys.append(np.array([sum(v01[j] for j in neg if groups[j] == c) for c in clusters]) - n_i * auc)
        aucs.append(auc)
    i_all, i10, i01 = len(clusters), int((m_i > 0).sum()), int((n_i > 0).sum())
    cov = np.zeros((k, k))
    for r in range(k):
        for t in range(k):
            s10 = i10 / ((i10 - 1) * big_m) * np.sum(xs[r] * xs[t])
            s01 = i01 / ((i01 - 1) * big_n) * np.sum(ys[r] * ys[t])
            s11_rt = i_all / (i_all - 1) * np.sum(xs[r] * ys[t])
            s11_tr = i_all / (i_all - 1) * np.sum(xs[t] * ys[r])
            cov[r, t] = s10 / big_m + s01 / big_n + (s11_rt + s11_tr) / (big_m * big_n)
    return np.array(aucs), cov


def test_clustered_delong_by_hand() -> None:
    # patients A: pos 0.9, neg 0.2; B: pos 0.4, neg 0.5; C: pos 0.7; D: neg 0.1.
    # V10 = 1, 2/3, 1 -> AUC 8/9; V01 = 1 (0.2), 2/3 (0.5), 1 (0.1). Cluster deviations X - m AUC:
    # 1/9, -2/9, 1/9, 0 and Y - n AUC: 1/9, -2/9, 0, 1/9; I = 4, I10 = I01 = 3, M = N = 3.
    # S10 = S01 = 3/(2*3) * 6/81 = 1/27; S11 = 4/3 * 5/81 = 20/243;
    # Var = 1/81 + 1/81 + 2 * (20/243) / 9 = 94/2187 (the naive DeLong's would be 2/81 = 54/2187).
    y = np.array([1, 0, 1, 0, 1, 0])
    s = np.array([0.9, 0.2, 0.4, 0.5, 0.7, 0.1])
    g = np.array(["A", "A", "B", "B", "C", "D"])
    aucs, cov = clustered_delong_cov(y, s[None, :], g)
    var = Fraction(94, 2187)
    assert aucs[0] == pytest.approx(8 / 9, abs=1e-12)
    assert cov[0, 0] == pytest.approx(float(var), abs=1e-12)
    assert delong_ci(y, s)[0] == pytest.approx(8 / 9)
    # against constant scores (AUC 1/2, zero variance) the variance of the difference is Var alone
    auc_a, auc_b, z, p = clustered_delong_test(y, s, np.full(6, 0.5), g)
    assert (auc_a, auc_b) == pytest.approx((8 / 9, 0.5))
    assert z == pytest.approx((8 / 9 - 0.5) / math.sqrt(float(var)), rel=1e-10)
    assert p == pytest.approx(2 * norm.sf(z), rel=1e-10)


@pytest.mark.parametrize("seed,ties", [(0, False), (1, True), (2, False)])
def test_clustered_delong_with_one_image_per_patient_is_delong(seed: int, ties: bool) -> None:
    rng = np.random.default_rng(seed)
    y = (rng.random(50) < 0.4).astype(int)
    a = y * 0.8 + rng.normal(size=50)
    b = y * 0.3 + 0.5 * a + rng.normal(size=50)
    if ties:
        a, b = np.round(a), np.round(b)
    z, p = delong_test(y, a, b)
    for groups in (None, np.arange(50)[::-1], [f"p{i}" for i in range(50)]):
        auc_a, auc_b, zc, pc = clustered_delong_test(y, a, b, groups)
        assert zc == pytest.approx(z, abs=1e-10) and pc == pytest.approx(p, abs=1e-10)
        assert (auc_a, auc_b) == pytest.approx((roc_auc_score(y, a), roc_auc_score(y, b)))


@pytest.mark.parametrize("seed", [3, 4])
def test_clustered_delong_matches_brute_force_with_mixed_clusters(seed: int) -> None:
    rng = np.random.default_rng(seed)
    groups = rng.integers(0, 12, size=40)
    y = (rng.random(40) < 0.45).astype(int)
    a = np.round(y + rng.normal(size=40) + 0.5 * groups / 12, 1)  # ties and a cluster effect
    b = np.round(0.5 * y + 0.6 * a + rng.normal(size=40), 1)
    aucs_expected, cov_expected = _brute_force_clustered(y, [a, b], groups)
    aucs, cov = clustered_delong_cov(y, np.vstack([a, b]), groups)
    np.testing.assert_allclose(aucs, aucs_expected, atol=1e-12)
    np.testing.assert_allclose(cov, cov_expected, atol=1e-12)
    _, _, z, p = clustered_delong_test(y, a, b, groups)
    var = cov_expected[0, 0] + cov_expected[1, 1] - 2 * cov_expected[0, 1]
    assert z == pytest.approx((aucs_expected[0] - aucs_expected[1]) / math.sqrt(var), rel=1e-9)


@pytest.mark.parametrize("seed", [5, 6, 7])
def test_duplicated_studies_keep_the_auc_but_not_the_naive_precision(seed: int) -> None:
    rng = np.random.default_rng(seed)
    y = (rng.random(60) < 0.4).astype(int)
    a = y * 0.7 + rng.normal(size=60)
    b = y * 0.4 + 0.5 * a + rng.normal(size=60)
    y2, a2, b2, g2 = (np.repeat(v, 2) for v in (y, a, b, np.arange(60)))
    z, p = delong_test(y, a, b)
    auc_a, auc_b, zc, pc = clustered_delong_test(y2, a2, b2, g2)
    assert (auc_a, auc_b) == pytest.approx((roc_auc_score(y, a), roc_auc_score(y, b)), abs=1e-12)
    # each patient counted once: the clustered test on duplicates is the DeLong test on the originals
    assert (zc, pc) == pytest.approx((z, p), abs=1e-10)
    z_naive, p_naive = delong_test(y2, a2, b2)  # duplicates as independent images
    _, var_naive = clustered_delong_cov(y2, a2[None, :])
    _, var_clustered = clustered_delong_cov(y2, a2[None, :], g2)
    assert var_clustered[0, 0] > 1.9 * var_naive[0, 0]
    assert abs(z_naive) > abs(zc) and p_naive < pc


def test_clustered_delong_edge_cases() -> None:
    y = np.array([0, 0, 1, 1, 0, 1])
    s = np.array([0.1, 0.4, 0.35, 0.8, 0.2, 0.9])
    assert clustered_delong_test(y, s, s, [0, 1, 2, 3, 4, 5])[2:] == (0.0, 1.0)
    with pytest.raises(ValueError, match="at least 2 positive and 2 negative clusters"):
        clustered_delong_test(y, s, s[::-1], [0, 0, 1, 1, 0, 1])  # all positives in one patient
    with pytest.raises(ValueError, match="binary"):
        clustered_delong_test(np.array([0, 1, 2, 1, 0, 1]), s, s)


# --------------------------------------------------------------------------------- paired macro bootstrap


def test_paired_bootstrap_matches_a_resample_by_resample_computation() -> None:
    y, p_a, groups = _patients(18, n_patients=40)
    noise = np.exp(np.random.default_rng(19).normal(size=p_a.shape))
    p_b = 0.5 * p_a + 0.5 * noise / noise.sum(axis=1, keepdims=True)  # a weaker model on the same cases
    n_res = 40
    delta, low, high, p = paired_bootstrap_test(y, p_a, p_b, groups, n_resamples=n_res, seed=9)
    macro = lambda yy, pp: classification_metrics(yy, pp)["macro_auc"]  # noqa: E731
    assert delta == pytest.approx(macro(y, p_a) - macro(y, p_b))
    idx = _cluster_indices(y, groups, n_res, np.random.default_rng(9))
    d = np.array([macro(y[r[r >= 0]], p_a[r[r >= 0]]) - macro(y[r[r >= 0]], p_b[r[r >= 0]]) for r in idx])
    assert (low, high) == pytest.approx(tuple(np.quantile(d, [ALPHA / 2, 1 - ALPHA / 2])))
    below, above = int((d <= 0).sum()), int((d >= 0).sum())
    assert p == pytest.approx(min(1.0, 2 * (1 + min(below, above)) / (n_res + 1)))


def test_paired_bootstrap_identity_and_clear_difference() -> None:
    y, good = _random_case(20, n=300, strength=2.5)
    _, weak = _random_case(21, n=300, strength=0.2)
    assert paired_bootstrap_test(y, good, good, n_resamples=200) == (0.0, 0.0, 0.0, 1.0)
    delta, low, high, p = paired_bootstrap_test(y, weak, good, np.arange(300), n_resamples=199)
    assert delta < 0 and high < 0
    assert p == pytest.approx(2 / 200)  # no resample on the other side of 0: the smallest p possible
    assert paired_bootstrap_test(y, weak, good, n_resamples=199) == (delta, low, high, p)


# ------------------------------------------------------------------------------------------- comparisons


def test_verdict() -> None:
    assert verdict(0.02, 0.01) == "higher"
    assert verdict(-0.02, 0.049) == "lower"
    assert verdict(0.3, ALPHA) == "no significant difference"
    assert verdict(0.3, math.nan) == "no significant difference"


def test_compare_to_reference() -> None:
    y, good, groups = _patients(22, n_patients=120)
    rng = np.random.default_rng(23)
    weak = np.exp(rng.normal(size=good.shape))
    weak = 0.1 * good + 0.9 * weak / weak.sum(axis=1, keepdims=True)
    table = compare_to_reference(
        y, {"radgen": good, "weak": weak, "same": good}, "radgen", groups, n_resamples=200, seed=1
    )
    assert list(table.columns) == COMPARISON_COLUMNS
    assert len(table) == 2 * (len(CLASSES) + 1)
    assert set(table["variant"]) == {"weak", "same"}
    per_class = table[table["class"] != "macro"]
    macro = table[table["class"] == "macro"]
    assert set(per_class["method"]) == {METHOD_DELONG} and set(per_class["holm_family"]) == {FAMILY_CLASS}
    assert set(macro["method"]) == {METHOD_BOOTSTRAP} and set(macro["holm_family"]) == {FAMILY_MACRO}
    # Holm over all variant x class rows together, and over the macro rows together
    np.testing.assert_allclose(per_class["p_holm"], holm(per_class["p"].to_numpy()))
    np.testing.assert_allclose(macro["p_holm"], holm(macro["p"].to_numpy()))
    for row in per_class.itertuples():
        k = CLASSES.index(row[2])
        expected = clustered_delong_test(
            y == k, weak[:, k] if row.variant == "weak" else good[:, k], good[:, k], groups
        )
        assert (row.auc, row.auc_reference, row.z, row.p) == pytest.approx(expected)
        # Wald interval: 0 lies outside exactly when the unadjusted p is below ALPHA
        assert row.ci_low <= row.delta <= row.ci_high
        assert (row.ci_low > 0 or row.ci_high < 0) == (row.p < ALPHA)
    for row in macro.itertuples():
        probs = weak if row.variant == "weak" else good
        d, low, high, p = paired_bootstrap_test(y, probs, good, groups, n_resamples=200, seed=1)
        assert (row.delta, row.ci_low, row.ci_high, row.p) == pytest.approx((d, low, high, p))
        assert row.auc == pytest.approx(classification_metrics(y, probs)["macro_auc"])
        assert math.isnan(row.z)
    weak_rows = table[table["variant"] == "weak"]
    assert (weak_rows["delta"] < 0).all() and (weak_rows["verdict"] == "lower").all()
    same_rows = table[table["variant"] == "same"]
    assert (same_rows["p"] == 1.0).all() and (same_rows["delta"] == 0).all()
    assert (same_rows["verdict"] == "no significant difference").all()
    for row in table.itertuples():
        assert row.verdict == verdict(row.delta, row.p_holm)


def test_macro_auc_skips_an_undefined_class_instead_of_scoring_it_half() -> None:
    from radgen.evaluate.classification import macro_auc

    y = np.array([0, 0, 1, 1])  # no tb: its one-vs-rest AUC is undefined
    p = np.array([[0.9, 0.05, 0.05], [0.4, 0.5, 0.1], [0.6, 0.3, 0.1], [0.1, 0.8, 0.1]])
    normal = roc_auc_score(y == 0, p[:, 0])
    pneumonia = roc_auc_score(y == 1, p[:, 1])
    assert macro_auc(y, p) == pytest.approx((normal + pneumonia) / 2)  # 0.5 for tb would pull it down
    assert math.isnan(macro_auc(np.zeros(3, dtype=int), np.full((3, 3), 1 / 3)))  # nothing defined
