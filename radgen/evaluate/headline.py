"""The headline selections the paper states in words, chosen in the evaluation stage (results/metrics/headline.json).

Why here and not in the paper stage: which baseline is "best", which ablation costs most and how many tests are
significant are analysis choices; made once, next to the metrics, they are a results file a reader (or a test) can
check, and the paper stage only lays them out. Inputs are summary.csv and comparisons.csv (CONTRACTS.md); variant
names and groups come from radgen.variants (the workflow passes them), labels stay with the paper.

headline.json::

    {"reference", "alpha", "ci_level", "digits",
     "best_baseline": null | {"variant", "macro_auc", "macro_auc_std", "ref_minus" (fold means),
                              "verdict", "ref_minus_pooled", "ref_minus_low", "ref_minus_high", "p_holm",
                              "n_sig_classes" (null without tests), "class_p_holm": {class: p}},
     "ablations": {"largest": null | {"variant", "delta"}, "smallest": ..., "n_worse",
                   "n_sig_lower", "n_sig_higher"},
     "comparisons": {"available", "n_sig_classes"},
     "significant": {variant: [class or "macro", ...]}}   (Holm-adjusted p below alpha; table daggers)
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from radgen.constants import CLASSES
from radgen.evaluate.classification import ALPHA
from radgen.io import atomic_path

CI_LEVEL = 95  # percent; the percentile bootstrap intervals of pooled.csv and comparisons.csv
DIGITS = 3  # "below the reference" counts a difference as the paper prints it (3 decimals)
MACRO_CLASS_NAMES = frozenset({"macro", "macro_auc", "macro-auc", "overall", "all"})

Table = dict[str, dict[str, dict[str, Any]]]


def as_float(x: Any) -> float | None:
    """Float or None: NaN, empty and unparsable cells of the results files are all 'missing'."""
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) else v


def _class_key(name: str) -> str:
    key = str(name).strip().lower()
    return "macro" if key in MACRO_CLASS_NAMES else key


def macro_auc_table(summary: pd.DataFrame) -> dict[str, dict[str, float | None]]:
    """summary.csv rows of macro_auc -> {variant: {mean, std}}."""
    rows = summary[summary["metric"] == "macro_auc"]
    return {
        str(r.variant): {"mean": as_float(r.mean), "std": as_float(r.std)}
        for r in rows.itertuples(index=False)
    }


def comparison_table(comparisons: pd.DataFrame | None) -> Table:
    """comparisons.csv -> {variant: {class ('macro' for the macro-AUC row): {delta, p_holm, ci_low, ci_high, verdict}}}."""
    out: Table = {}
    if comparisons is None:
        return out
    for rec in comparisons.to_dict("records"):
        row: dict[str, Any] = {c: as_float(rec.get(c)) for c in ("delta", "p_holm", "ci_low", "ci_high")}
        verdict = rec.get("verdict")
        row["verdict"] = verdict if isinstance(verdict, str) and verdict else None
        out.setdefault(str(rec["variant"]), {})[_class_key(rec["class"])] = row
    return out


def _sig(p: float | None, alpha: float) -> bool:
    """Holm-adjusted p below the level; a missing p is never significant."""
    return p is not None and p < alpha


def best_baseline(
    aucs: Mapping[str, Mapping[str, float | None]],
    comps: Table,
    reference: str,
    baselines: Sequence[str],
    alpha: float,
) -> dict[str, Any] | None:
    """The baseline with the highest mean macro-AUC over folds (first in config order on ties), and its tests."""
    scored = [(aucs[b]["mean"], b) for b in baselines if aucs.get(b, {}).get("mean") is not None]
    if not scored:
        return None
    best_auc, best = max(scored, key=lambda t: t[0])
    ref_auc = aucs.get(reference, {}).get("mean")
    comp = comps.get(best, {})
    macro = comp.get("macro", {})

    def neg(
        x: float | None,
    ) -> float | None:  # the test is variant - reference; the text says reference - variant
        return None if x is None else -x

    return {
        "variant": best,
        "macro_auc": best_auc,
        "macro_auc_std": aucs[best]["std"],
        "ref_minus": None if ref_auc is None else ref_auc - best_auc,
        "verdict": macro.get("verdict"),
        "ref_minus_pooled": neg(macro.get("delta")),
        "ref_minus_low": neg(macro.get("ci_high")),
        "ref_minus_high": neg(macro.get("ci_low")),
        "p_holm": macro.get("p_holm"),
        "n_sig_classes": sum(_sig(comp.get(c, {}).get("p_holm"), alpha) for c in CLASSES) if comp else None,
        "class_p_holm": {c: comp.get(c, {}).get("p_holm") for c in CLASSES},
    }


def ablation_effects(
    aucs: Mapping[str, Mapping[str, float | None]],
    comps: Table,
    reference: str,
    ablations: Sequence[str],
    digits: int = DIGITS,
) -> dict[str, Any]:
    """Largest and smallest mean macro-AUC change of an ablation, and how many are lower / significantly so."""
    ref_auc = aucs.get(reference, {}).get("mean")
    deltas = [
        (aucs[a]["mean"] - ref_auc, a)
        for a in ablations
        if ref_auc is not None and aucs.get(a, {}).get("mean") is not None
    ]
    if not deltas:
        return {"largest": None, "smallest": None, "n_worse": None, "n_sig_lower": None, "n_sig_higher": None}
    worst, mildest = min(deltas, key=lambda t: t[0]), max(deltas, key=lambda t: t[0])
    verdicts = [comps.get(a, {}).get("macro", {}).get("verdict") for _, a in deltas]
    return {
        "largest": {"variant": worst[1], "delta": worst[0]},
        "smallest": {"variant": mildest[1], "delta": mildest[0]},
        "n_worse": sum(round(d, digits) < 0 for d, _ in deltas),
        "n_sig_lower": sum(v == "lower" for v in verdicts) if comps else None,
        "n_sig_higher": sum(v == "higher" for v in verdicts) if comps else None,
    }


def headline(
    summary: pd.DataFrame,
    comparisons: pd.DataFrame | None,
    *,
    reference: str,
    groups: Mapping[str, str],
    alpha: float = ALPHA,
) -> dict[str, Any]:
    """Every selection the paper's text makes; ``groups`` maps each variant (config order) to its group."""
    aucs = macro_auc_table(summary)
    comps = comparison_table(comparisons)
    names = list(groups)
    others = [v for v in names if v != reference]
    significant = {
        v: [c for c, row in comps[v].items() if _sig(row.get("p_holm"), alpha)] for v in others if v in comps
    }
    n_sig = sum(c in significant.get(v, []) for v in others for c in CLASSES)
    return {
        "reference": reference,
        "alpha": alpha,
        "ci_level": CI_LEVEL,
        "digits": DIGITS,
        "best_baseline": best_baseline(
            aucs, comps, reference, [v for v in names if groups[v] == "baseline"], alpha
        ),
        "ablations": ablation_effects(aucs, comps, reference, [v for v in names if groups[v] == "ablation"]),
        "comparisons": {"available": bool(comps), "n_sig_classes": n_sig if comps else None},
        "significant": {v: cs for v, cs in significant.items() if cs},
    }


def _read(path: str | Path | None) -> pd.DataFrame | None:
    if path is None or not Path(path).is_file():
        return None
    try:
        return pd.read_csv(path, dtype={"variant": str, "class": str, "metric": str})
    except pd.errors.EmptyDataError:
        return None


def write_headline(
    summary_csv: str | Path,
    comparisons_csv: str | Path | None,
    out_json: str | Path,
    *,
    reference: str,
    groups: Mapping[str, str],
    alpha: float = ALPHA,
) -> dict[str, Any]:
    """Read summary.csv (required) and comparisons.csv (optional), write headline.json atomically; returns it."""
    summary = _read(summary_csv)
    if summary is None:
        raise FileNotFoundError(f"summary not found or empty: {summary_csv}")
    result = headline(summary, _read(comparisons_csv), reference=reference, groups=groups, alpha=alpha)
    with atomic_path(out_json) as tmp:
        tmp.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return result
