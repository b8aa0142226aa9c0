"""The paper's tables as data: columns, row groups (separated by rules) and cells with best / significant flags.

Why separate from the templates: which rows and columns a table has depends on the results (METEOR only with Java,
the report table only for variants that generate reports); the templates lay the cells out and own every word.
Significance daggers come from the evaluation stage's headline.json; "best" is the highest mean as printed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from radgen.constants import CLASSES
from radgen.evaluate.floors import FLOORS
from radgen.evaluate.headline import as_float
from radgen.evaluate.labeler import MAIN_FINDING_METRIC
from radgen.paper.inputs import Bench, PaperData, Summary
from radgen.variants import VariantSet, VariantSpec

DIGITS = 3
NOT_COMPETING = ("oracle", "floor")  # rows shown for reference, never marked best

# The metrics (summary.csv keys) of each table, in column order; the headers are words, in tables.tex.j2.
MAIN_COLUMNS: tuple[str, ...] = (
    "macro_auc",
    "auc_normal",
    "auc_pneumonia",
    "auc_tb",
    "BLEU-4",
    "ROUGE-L",
    "ce_f1_micro",
)
REPORT_COLUMNS: tuple[str, ...] = (
    "BLEU-1",
    "BLEU-2",
    "BLEU-3",
    "BLEU-4",
    "ROUGE-L",
    "CIDEr",
    "METEOR",  # dropped when no variant has it (needs Java)
    "ce_precision_micro",
    "ce_recall_micro",
    "ce_f1_micro",
    "ce_f1_macro",
    "ce_findings_f1_micro",
    MAIN_FINDING_METRIC,
)
ABLATION_COLUMNS: tuple[str, ...] = ("macro_auc", "macro_f1", "sensitivity_tb")
SENS_SPEC_COLUMNS: tuple[str, ...] = tuple(
    f"{kind}_{c}" for c in CLASSES for kind in ("sensitivity", "specificity")
)

Row = dict[str, Any]


def _mark_best(rows: list[Row], keys: Iterable[str], digits: int = DIGITS) -> None:
    """Flag the best (highest, as printed) mean of each column; ties at printed precision are all bold.

    An oracle row reads the reference reports at test time: a ceiling, never "best" among deployable models."""
    rows = [r for r in rows if r.get("group") not in NOT_COMPETING]
    for key in keys:
        values = [round(r["cells"][key]["mean"], digits) for r in rows if r["cells"][key]["mean"] is not None]
        if len(values) < 2:
            continue  # bold in a one-row column says nothing
        best = max(values)
        for r in rows:
            m = r["cells"][key]["mean"]
            r["cells"][key]["best"] = m is not None and round(m, digits) == best


def _tested_class(metric: str) -> str | None:
    """The comparisons.csv class of an AUC column ('macro' for macro-AUC); None for columns that are not tested."""
    if metric == "macro_auc":
        return "macro"
    return metric[len("auc_") :] if metric.startswith("auc_") else None


def _rows(
    names: Sequence[tuple[str, str, str]],
    summary: Summary,
    significant: Mapping[str, Sequence[str]],
    keys: Sequence[str],
    reference: str,
) -> list[Row]:
    """One row per (name, label, group) with a cell per key: mean, std, best (set later), sig (from headline)."""
    rows = []
    for name, label, group in names:
        cells = {}
        for k in keys:
            stat = summary.get(name, {}).get(k)
            sig = name != reference and _tested_class(k) in significant.get(name, ())
            cells[k] = {
                "mean": stat.mean if stat else None,
                "std": stat.std if stat else None,
                "best": False,
                "sig": sig,
            }
        rows.append(
            {"name": name, "label": label, "group": group, "reference": name == reference, "cells": cells}
        )
    return rows


def _has_any(summary: Summary, metric: str, names: Iterable[str]) -> bool:
    return any(getattr(summary.get(n, {}).get(metric), "mean", None) is not None for n in names)


def _columns(keys: Iterable[str]) -> list[dict[str, str]]:
    return [{"key": k} for k in keys]


def _ids(specs: Iterable[VariantSpec]) -> list[tuple[str, str, str]]:
    return [(s.name, s.label, s.group) for s in specs]


def variant_groups(specs: VariantSet) -> tuple[list[VariantSpec], list[VariantSpec], list[VariantSpec]]:
    """(reference,), baselines + other compared rows (oracle, extension), ablations: the row groups of the tables."""
    ref = specs.reference
    others = [
        s for s in specs.values() if s.group not in ("main", "baseline", "ablation") and s.name != ref.name
    ]
    return [ref], specs.in_group("baseline") + others, specs.in_group("ablation")


def _ablation_table(summary: Summary, significant: Mapping[str, Any], specs: VariantSet) -> dict[str, Any]:
    """The full model first, then each switch with the difference of its mean to the full model's."""
    ref = specs.reference
    keys = list(ABLATION_COLUMNS)
    rows = _rows(_ids([ref, *specs.in_group("ablation")]), summary, significant, keys, ref.name)
    _mark_best(rows, keys)
    for r in rows:
        r["deltas"] = {}
        for k in keys:
            ref_mean, mean = rows[0]["cells"][k]["mean"], r["cells"][k]["mean"]
            r["deltas"][k] = None if r["reference"] or mean is None or ref_mean is None else mean - ref_mean
    return {"columns": _columns(ABLATION_COLUMNS), "groups": [g for g in (rows[:1], rows[1:]) if g]}


def _report_table(summary: Summary, significant: Mapping[str, Any], specs: VariantSet) -> dict[str, Any]:
    """Only variants that have report metrics; METEOR only if some variant has it; the floors below them."""
    keys = [k for k in REPORT_COLUMNS if k != "METEOR" or _has_any(summary, "METEOR", specs)]
    gen = [s for s in specs.values() if any(_has_any(summary, k, [s.name]) for k in keys)]
    ref = specs.reference.name
    rows = _rows(_ids(gen), summary, significant, keys, ref)
    _mark_best(rows, keys)
    floors = _rows([(f, f, "floor") for f in FLOORS if f in summary], summary, {}, keys, ref)
    return {"columns": _columns(keys), "groups": [g for g in (rows, floors) if g]}


def build_tables(data: PaperData, specs: VariantSet) -> dict[str, Any]:
    """Structured tables for tables.tex.j2: main, ablation, report, sens_spec, compute."""
    summary, ref = data.summary, specs.reference.name
    significant = data.headline.get("significant") or {}
    groups = variant_groups(specs)
    main_keys = list(MAIN_COLUMNS)  # baselines first, the reference last: the row compared with all
    main_rows = _rows(_ids(groups[1] + groups[0]), summary, significant, main_keys, ref)
    _mark_best(main_rows, main_keys)
    ss_keys = list(SENS_SPEC_COLUMNS)
    ss_groups = [_rows(_ids(g), summary, significant, ss_keys, ref) for g in groups if g]
    _mark_best([r for g in ss_groups for r in g], ss_keys)
    compute = [
        [compute_row(s, data.benchmarks.get(s.name, []), data.models.get(s.name, [])) for s in g]
        for g in groups
        if g
    ]
    return {
        "main": {
            "columns": _columns(MAIN_COLUMNS),
            "groups": [g for g in (main_rows[:-1], main_rows[-1:]) if g],
        },
        "ablation": _ablation_table(summary, significant, specs),
        "report": _report_table(summary, significant, specs),
        "sens_spec": {"columns": _columns(SENS_SPEC_COLUMNS), "groups": ss_groups},
        "compute": {"groups": compute},
    }


def _mean(values: Iterable[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None


def compute_row(spec: VariantSpec, bench: list[Bench], models: list[dict[str, Any]]) -> Row:
    """One compute-table row; training time falls back to summary.json's train_seconds without benchmarks."""
    times = [b.s for b in bench if b.s is not None]
    if not times:
        times = [t for t in (as_float(m.get("train_seconds")) for m in models) if t is not None]
    rss = [b.max_rss for b in bench if b.max_rss is not None]
    devices = sorted({str(m["device"]) for m in models if m.get("device")})
    return {
        "name": spec.name,
        "label": spec.label,
        "n_parameters": _mean(as_float(m.get("n_parameters")) for m in models),
        "epochs_run": _mean(as_float(m.get("epochs_run")) for m in models),
        "best_epoch": _mean(as_float(m.get("best_epoch")) for m in models),
        "seconds_per_fold": _mean(times),
        "seconds_total": sum(times) if times else None,
        "peak_rss_mb": max(rss) if rss else None,
        "device": ", ".join(devices) if devices else None,
        "n_folds": max(len(bench), len(models)),
    }
