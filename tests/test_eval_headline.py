"""radgen.evaluate.headline on hand-built summary / comparisons tables: every selection computed by hand."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pandas as pd
import pytest

from radgen.evaluate.headline import headline, write_headline

GROUPS = {  # config order
    "radgen": "main",
    "b1": "baseline",
    "b2": "baseline",
    "b3": "baseline",
    "a1": "ablation",
    "a2": "ablation",
    "a3": "ablation",
    "oracle": "oracle",
}
MACRO_AUC = {"radgen": 0.85, "b1": 0.80, "b2": 0.82, "a1": 0.83, "a2": 0.86, "a3": 0.8504, "oracle": 0.99}


def _summary(aucs: dict[str, float] = MACRO_AUC) -> pd.DataFrame:
    rows = [
        {"variant": v, "metric": "macro_auc", "mean": m, "std": 0.01, "n_folds": 5} for v, m in aucs.items()
    ]
    rows.append(
        {"variant": "b3", "metric": "macro_f1", "mean": 0.99, "std": 0.0, "n_folds": 5}
    )  # no macro-AUC
    return pd.DataFrame(rows)


def _row(variant: str, cls: str, p_holm: float, **extra: object) -> dict[str, object]:
    return {"variant": variant, "class": cls, "p_holm": p_holm, **extra}


def _comparisons() -> pd.DataFrame:
    return pd.DataFrame(
        [
            _row("b2", "normal", 0.01),
            _row("b2", "pneumonia", 0.20),
            _row("b2", "tb", 0.04),
            _row("b2", "macro", 0.02, delta=-0.03, ci_low=-0.05, ci_high=-0.01, verdict="lower"),
            _row("b1", "tb", 0.001),
            _row("a1", "Macro-AUC", 0.01, delta=-0.02, verdict="lower"),  # class spelled another way
            _row("a2", "macro", 0.03, delta=0.01, verdict="higher"),
            _row("a3", "macro", 0.90, delta=0.0, verdict="no significant difference"),
        ]
    )


def test_best_baseline_is_the_highest_mean_and_carries_its_tests() -> None:
    best = headline(_summary(), _comparisons(), reference="radgen", groups=GROUPS)["best_baseline"]
    assert best["variant"] == "b2"  # 0.82 > 0.80; b3 has no macro-AUC; the oracle is no baseline
    assert best["macro_auc"] == pytest.approx(0.82) and best["macro_auc_std"] == pytest.approx(0.01)
    assert best["ref_minus"] == pytest.approx(0.03)  # 0.85 - 0.82
    assert best["verdict"] == "lower"
    # The test is b2 - radgen = -0.03 with CI (-0.05, -0.01); the text states radgen - b2.
    assert best["ref_minus_pooled"] == pytest.approx(0.03)
    assert (best["ref_minus_low"], best["ref_minus_high"]) == pytest.approx((0.01, 0.05))
    assert best["p_holm"] == pytest.approx(0.02)
    assert best["n_sig_classes"] == 2  # normal 0.01 and tb 0.04 below 0.05; pneumonia 0.20 not
    assert best["class_p_holm"] == pytest.approx({"normal": 0.01, "pneumonia": 0.20, "tb": 0.04})


def test_ablation_effects_and_counts() -> None:
    abl = headline(_summary(), _comparisons(), reference="radgen", groups=GROUPS)["ablations"]
    assert abl["largest"]["variant"] == "a1" and abl["largest"]["delta"] == pytest.approx(-0.02)
    assert abl["smallest"]["variant"] == "a2" and abl["smallest"]["delta"] == pytest.approx(0.01)
    assert abl["n_worse"] == 1  # only a1: a2 is above, a3's +0.0004 is not below
    assert (abl["n_sig_lower"], abl["n_sig_higher"]) == (1, 1)


def test_significance_counts_and_daggers() -> None:
    out = headline(_summary(), _comparisons(), reference="radgen", groups=GROUPS)
    assert out["comparisons"] == {"available": True, "n_sig_classes": 3}  # b2 normal, b2 tb, b1 tb
    assert out["significant"] == {
        "b2": ["normal", "tb", "macro"],
        "b1": ["tb"],
        "a1": ["macro"],
        "a2": ["macro"],
    }
    assert out["reference"] == "radgen" and out["alpha"] == 0.05


def test_ties_go_to_the_first_in_config_order_and_rounding_decides_worse() -> None:
    aucs = {"radgen": 0.85, "b1": 0.80, "b2": 0.80, "a1": 0.8496, "a2": 0.8494}
    out = headline(_summary(aucs), None, reference="radgen", groups=GROUPS)
    assert out["best_baseline"]["variant"] == "b1"
    # -0.0004 prints as -0.000 -> 0.000, not below; -0.0006 prints as -0.001, below.
    assert out["ablations"]["n_worse"] == 1
    assert out["ablations"]["largest"]["variant"] == "a2"


def test_without_comparisons_counts_are_unknown_not_zero() -> None:
    out = headline(_summary(), None, reference="radgen", groups=GROUPS)
    assert out["comparisons"] == {"available": False, "n_sig_classes": None}
    assert out["best_baseline"]["n_sig_classes"] is None and out["best_baseline"]["verdict"] is None
    assert out["ablations"]["n_sig_lower"] is None and out["significant"] == {}


def test_no_baseline_and_no_ablation() -> None:
    out = headline(_summary({"radgen": 0.9}), None, reference="radgen", groups={"radgen": "main"})
    assert out["best_baseline"] is None
    assert out["ablations"]["largest"] is None and out["ablations"]["n_worse"] is None


def test_write_headline_is_atomic_json_with_normal_permissions(tmp_path: Path) -> None:
    _summary().to_csv(tmp_path / "summary.csv", index=False)
    _comparisons().to_csv(tmp_path / "comparisons.csv", index=False)
    out = tmp_path / "metrics" / "headline.json"
    result = write_headline(
        tmp_path / "summary.csv", tmp_path / "comparisons.csv", out, reference="radgen", groups=GROUPS
    )
    assert json.loads(out.read_text()) == json.loads(json.dumps(result))
    assert sorted(p.name for p in out.parent.iterdir()) == ["headline.json"]
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~umask
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        write_headline(tmp_path / "nope.csv", None, tmp_path / "h.json", reference="radgen", groups=GROUPS)
