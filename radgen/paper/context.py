"""Gather every number the paper shows from the results files, into a template context.

Why a separate step: the templates only lay numbers out; reading, checking, choosing the best value and computing
differences happens here, in plain Python that tests can call on a hand-made results tree. Required files
(manifest, folds, summary) raise ``PaperInputError`` naming the file; optional ones (pooled CIs, DeLong comparisons,
benchmarks, model summaries, any single metric) become ``--`` in the PDF.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from radgen.constants import CLASSES
from radgen.data.validity import read_warnings
from radgen.evaluate.labeler import CE_FINDINGS_METRICS, CE_METRICS, MAIN_FINDING_METRIC
from radgen.evaluate.reports import REPORT_METRICS as _NLG_METRICS
from radgen.paper import latex
from radgen.paper.methods import methods_context
from radgen.paper.provenance import config_hash, git_commit, package_versions
from radgen.variants import variant_set

log = logging.getLogger(__name__)

CLASS_LABELS: dict[str, str] = {"normal": "Normal", "pneumonia": "Pneumonia", "tb": "TB"}
SIGNIFICANCE_LEVEL = 0.05
DIGITS = 3
# The evaluation stage owns the metric names; the paper only lists them in its own order.
REPORT_METRICS: tuple[str, ...] = (
    *_NLG_METRICS,
    "METEOR",
    *CE_METRICS,
    *CE_FINDINGS_METRICS,
    MAIN_FINDING_METRIC,
)
DELTA_METRICS: tuple[str, ...] = (
    "macro_auc",
    "macro_f1",
    "accuracy",
    "balanced_accuracy",
    "auc_normal",
    "auc_pneumonia",
    "auc_tb",
    "sensitivity_tb",
    "BLEU-4",
    "ROUGE-L",
    "ce_f1_micro",
)
HEADLINE_METRICS: tuple[str, ...] = (
    "macro_auc",
    "macro_f1",
    "accuracy",
    "balanced_accuracy",
    "auc_normal",
    "auc_pneumonia",
    "auc_tb",
    "sensitivity_normal",
    "sensitivity_pneumonia",
    "sensitivity_tb",
    "specificity_normal",
    "specificity_pneumonia",
    "specificity_tb",
    "BLEU-1",
    "BLEU-4",
    "ROUGE-L",
    "CIDEr",
    "ce_f1_micro",
    "ce_f1_macro",
    "ce_findings_f1_micro",
    MAIN_FINDING_METRIC,
)
CI_LEVEL = 95  # percentile bootstrap intervals of pooled.csv (CONTRACTS.md)
MACRO_CLASS_NAMES = {"macro", "macro_auc", "macro-auc", "overall", "all"}

# Column specs: (metric key in summary.csv, TeX header). Headers are trusted constants, not data.
MAIN_COLUMNS: tuple[tuple[str, str], ...] = (
    ("macro_auc", "Macro-AUC"),
    ("auc_normal", r"AUC\textsubscript{N}"),
    ("auc_pneumonia", r"AUC\textsubscript{P}"),
    ("auc_tb", r"AUC\textsubscript{TB}"),
    ("BLEU-4", "BLEU-4"),
    ("ROUGE-L", "ROUGE-L"),
    ("ce_f1_micro", "CE-F1"),
)
REPORT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("BLEU-1", "B-1"),
    ("BLEU-2", "B-2"),
    ("BLEU-3", "B-3"),
    ("BLEU-4", "B-4"),
    ("ROUGE-L", "R-L"),
    ("CIDEr", "CIDEr"),
    ("METEOR", "METEOR"),  # dropped when no variant has it (needs Java)
    ("ce_precision_micro", "CE-P"),
    ("ce_recall_micro", "CE-R"),
    ("ce_f1_micro", "CE-F1"),
    ("ce_f1_macro", r"CE-F1\textsubscript{macro}"),
    ("ce_findings_f1_micro", r"CE-F1\textsubscript{find}"),
    (MAIN_FINDING_METRIC, "MF"),
)
NOT_COMPETING = ("oracle", "floor")  # rows shown for reference, never marked best
# Reference rows of the report table (radgen.evaluate.floors): what class information alone, and no information, buy.
FLOOR_LABELS: dict[str, str] = {
    "floor_same_class": "Floor: a random training report of the true class",
    "floor_random": "Floor: a random training report",
}
ABLATION_METRICS: tuple[tuple[str, str], ...] = (
    ("macro_auc", "Macro-AUC"),
    ("macro_f1", "Macro-F1"),
    ("sensitivity_tb", r"Sens\textsubscript{TB}"),
)
SENS_SPEC_COLUMNS: tuple[tuple[str, str], ...] = tuple(
    (f"{kind}_{c}", f"{short}\\textsubscript{{{CLASS_LABELS[c]}}}")
    for c in CLASSES
    for kind, short in (("sensitivity", "Sens"), ("specificity", "Spec"))
)


class PaperInputError(RuntimeError):
    """A required results file is missing or malformed; the message names the file."""


# --------------------------------------------------------------------------------------------------- inputs


_BENCH_RE = re.compile(r"(?P<variant>[^/\\]+)[/\\]fold(?P<fold>\d+)\.tsv$")
_MODEL_SUMMARY_RE = re.compile(r"(?P<variant>[^/\\]+)[/\\]fold(?P<fold>\d+)[/\\]summary\.json$")


def _index_paths(
    paths: Iterable[str | Path], pattern: re.Pattern[str], what: str
) -> dict[tuple[str, int], Path]:
    """Map (variant, fold) -> path for results/.../{variant}/fold{k}... paths (Snakemake input lists)."""
    out: dict[tuple[str, int], Path] = {}
    for p in paths:
        m = pattern.search(str(p))
        if not m:
            raise PaperInputError(f"{what} path {p} does not look like .../{{variant}}/fold{{k}}...")
        out[(m["variant"], int(m["fold"]))] = Path(p)
    return out


@dataclass
class PaperInputs:
    """Paths of every results file the paper reads (explicit, so Snakemake's declared inputs are what is read)."""

    manifest: Path
    folds: Path
    summary: Path
    pooled: Path | None = None
    comparisons: Path | None = None
    comparisons_meta: Path | None = None
    benchmarks: dict[tuple[str, int], Path] = field(default_factory=dict)
    model_summaries: dict[tuple[str, int], Path] = field(default_factory=dict)
    data_notes: list[str] = field(
        default_factory=list
    )  # validity warnings of the data stage, stated in the paper

    @classmethod
    def from_paths(
        cls,
        manifest: str | Path,
        folds: str | Path,
        summary: str | Path,
        pooled: str | Path | None = None,
        comparisons: str | Path | None = None,
        benchmarks: Iterable[str | Path] = (),
        model_summaries: Iterable[str | Path] = (),
        comparisons_meta: str | Path | None = None,
        data_notes: Iterable[str] = (),
    ) -> PaperInputs:
        """Build from flat path lists; variant and fold are parsed from the benchmark / summary.json paths."""
        return cls(
            manifest=Path(manifest),
            folds=Path(folds),
            summary=Path(summary),
            pooled=Path(pooled) if pooled else None,
            comparisons=Path(comparisons) if comparisons else None,
            comparisons_meta=Path(comparisons_meta) if comparisons_meta else None,
            data_notes=list(data_notes),
            benchmarks=_index_paths(benchmarks, _BENCH_RE, "benchmark"),
            model_summaries=_index_paths(model_summaries, _MODEL_SUMMARY_RE, "model summary"),
        )

    @classmethod
    def from_results_dir(cls, results: str | Path) -> PaperInputs:
        """Find everything under a results/ directory (CLI and tests; the Snakemake rule passes explicit paths)."""
        r = Path(results)
        return cls.from_paths(
            manifest=r / "data" / "manifest.csv",
            folds=r / "data" / "folds.csv",
            summary=r / "metrics" / "summary.csv",
            pooled=r / "metrics" / "pooled.csv",
            comparisons=r / "metrics" / "comparisons.csv",
            comparisons_meta=r / "metrics" / "comparisons.json",
            data_notes=[w["message"] for w in read_warnings(sorted((r / "data").glob("*_warnings.json")))],
            benchmarks=sorted((r / "benchmarks" / "train").glob("*/fold*.tsv")),
            model_summaries=sorted((r / "models").glob("*/fold*/summary.json")),
        )


def _read_csv(
    path: Path | None, columns: Iterable[str], *, required: bool, **kwargs: Any
) -> pd.DataFrame | None:
    """Read a CSV and check its header; a missing optional file gives None (logged), a missing required one raises."""
    if path is None or not Path(path).is_file():
        if required:
            raise PaperInputError(f"required results file not found: {path}")
        if path is not None:
            log.warning("optional results file not found, its numbers render as '--': %s", path)
        return None
    try:
        df = pd.read_csv(path, **kwargs)
    except pd.errors.EmptyDataError as exc:
        if required:
            raise PaperInputError(f"required results file is empty: {path}") from exc
        log.warning("optional results file is empty, its numbers render as '--': %s", path)
        return None
    except Exception as exc:  # pandas raises several types; the user needs the file name whatever it is
        raise PaperInputError(f"cannot read {path}: {exc}") from exc
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise PaperInputError(
            f"{path} lacks column(s) {', '.join(missing)}; it has {', '.join(map(str, df.columns))}"
        )
    return df


def _f(x: Any) -> float | None:
    """Float or None (NaN, empty and unparsable cells are all 'missing')."""
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) else v


# --------------------------------------------------------------------------------------------------- variants


@dataclass(frozen=True)
class Variant:
    """A variant as the paper shows it: config key, printable label, group (main | baseline | ablation)."""

    name: str
    label: str
    group: str


def variants_from_config(config: Mapping[str, Any]) -> tuple[list[Variant], Variant]:
    """Variants in config order and the reference (the one with group main), from radgen.variants."""
    if not config.get("variants"):
        raise PaperInputError("config defines no variants")
    try:
        specs = variant_set(config)
    except ValueError as err:
        raise PaperInputError(f"config: {err}") from None
    variants = [Variant(s.name, s.label, s.group) for s in specs.values()]
    return variants, next(v for v in variants if v.name == specs.reference.name)


# --------------------------------------------------------------------------------------------------- loaders


def load_dataset(manifest: Path, folds: Path) -> dict[str, Any]:
    """Images per class per held-out fold, patients per fold, totals."""
    man = _read_csv(
        manifest, ("image_id", "label", "patient_id"), required=True, dtype=str, keep_default_na=False
    )
    fol = _read_csv(
        folds, ("image_id", "fold"), required=True, dtype={"image_id": str}, keep_default_na=False
    )
    assert man is not None and fol is not None
    bad = sorted(set(man["label"]) - set(CLASSES))
    if bad:
        raise PaperInputError(f"{manifest}: unknown label(s) {', '.join(bad)}; expected {', '.join(CLASSES)}")
    df = man.merge(fol[["image_id", "fold"]], on="image_id", how="left")
    if df["fold"].isna().any() or (df["fold"].astype(str) == "").any():
        missing = df.loc[df["fold"].isna() | (df["fold"].astype(str) == ""), "image_id"].tolist()
        raise PaperInputError(f"{folds}: no fold for {len(missing)} manifest image(s), e.g. {missing[:5]}")
    df["fold"] = df["fold"].astype(int)
    rows = []
    for k, part in sorted(df.groupby("fold"), key=lambda kv: kv[0]):
        counts = {c: int((part["label"] == c).sum()) for c in CLASSES}
        rows.append(
            {"fold": int(k), "counts": counts, "images": len(part), "patients": part["patient_id"].nunique()}
        )
    per_patient = df.groupby("patient_id").size()
    total_counts = {c: int((df["label"] == c).sum()) for c in CLASSES}
    return {
        "folds": rows,
        "total": {"counts": total_counts, "images": len(df), "patients": int(df["patient_id"].nunique())},
        "k": len(rows),
        "patients_multi_study": int((per_patient > 1).sum()),
        "max_studies_per_patient": int(per_patient.max()) if len(per_patient) else 0,
        "classes": [{"key": c, "label": CLASS_LABELS[c]} for c in CLASSES],
    }


def load_summary(path: Path) -> dict[str, dict[str, dict[str, float | None]]]:
    """summary.csv -> {variant: {metric: {mean, std, n_folds}}}."""
    df = _read_csv(
        path, ("variant", "metric", "mean", "std"), required=True, dtype={"variant": str, "metric": str}
    )
    assert df is not None
    out: dict[str, dict[str, dict[str, float | None]]] = {}
    for row in df.itertuples(index=False):
        out.setdefault(str(row.variant), {})[str(row.metric)] = {
            "mean": _f(row.mean),
            "std": _f(row.std),
            "n_folds": _f(getattr(row, "n_folds", None)),
        }
    return out


def load_pooled(path: Path | None) -> dict[str, dict[str, dict[str, float | None]]]:
    """pooled.csv -> {variant: {metric: {value, ci_low, ci_high}}}; empty when absent."""
    df = _read_csv(
        path,
        ("variant", "metric", "value", "ci_low", "ci_high"),
        required=False,
        dtype={"variant": str, "metric": str},
    )
    out: dict[str, dict[str, dict[str, float | None]]] = {}
    if df is not None:
        for row in df.itertuples(index=False):
            out.setdefault(str(row.variant), {})[str(row.metric)] = {
                "value": _f(row.value),
                "ci_low": _f(row.ci_low),
                "ci_high": _f(row.ci_high),
            }
    return out


def _class_key(name: str) -> str:
    """Normalise the class column of comparisons.csv ('macro' and friends -> 'macro')."""
    key = name.strip().lower()
    return "macro" if key in MACRO_CLASS_NAMES else key


def load_comparisons(path: Path | None) -> dict[str, dict[str, dict[str, float | None]]]:
    """comparisons.csv -> {variant: {class: {auc, auc_reference, delta, z, p, p_holm, ci_low, ci_high, verdict}}}.

    ``verdict`` (higher | lower | no significant difference: the variant against the reference, at the Holm-adjusted
    level) is what the text's comparative words follow; empty when the file is absent."""
    cols = ("variant", "class", "auc", "auc_reference", "delta", "z", "p", "p_holm")
    df = _read_csv(path, cols, required=False, dtype={"variant": str, "class": str})
    out: dict[str, dict[str, Any]] = {}
    if df is not None:
        for rec in df.to_dict("records"):
            row: dict[str, Any] = {c: _f(rec.get(c)) for c in (*cols[2:], "ci_low", "ci_high")}
            verdict = rec.get("verdict")
            row["verdict"] = verdict if isinstance(verdict, str) and verdict else None
            out.setdefault(str(rec["variant"]), {})[_class_key(str(rec["class"]))] = row
    return out


def load_comparisons_meta(path: Path | None) -> dict[str, Any]:
    """comparisons.json (alpha, Holm families and their sizes, resampling unit); empty when absent."""
    if path is None or not Path(path).is_file():
        return {}
    return json.loads(Path(path).read_text())


def load_benchmarks(paths: Mapping[tuple[str, int], Path]) -> dict[str, list[dict[str, float | None]]]:
    """Snakemake benchmark TSVs -> {variant: [{s, max_rss, cpu_time}, ...one per fold]} (last line per file)."""
    out: dict[str, list[dict[str, float | None]]] = {}
    for (variant, _fold), path in sorted(paths.items()):
        df = _read_csv(path, ("s",), required=False, sep="\t")
        if df is None or df.empty:
            continue
        last = df.iloc[-1]  # repeated benchmarks append lines; the last is the run that produced the model
        out.setdefault(variant, []).append({k: _f(last.get(k)) for k in ("s", "max_rss", "cpu_time")})
    return out


def load_model_summaries(paths: Mapping[tuple[str, int], Path]) -> dict[str, list[dict[str, Any]]]:
    """summary.json of each trained model -> {variant: [dict per fold]}; unreadable files are an error."""
    out: dict[str, list[dict[str, Any]]] = {}
    for (variant, _fold), path in sorted(paths.items()):
        if not path.is_file():
            log.warning("model summary not found, its numbers render as '--': %s", path)
            continue
        try:
            out.setdefault(variant, []).append(json.loads(path.read_text()))
        except json.JSONDecodeError as exc:
            raise PaperInputError(f"{path} is not valid JSON: {exc}") from exc
    return out


# --------------------------------------------------------------------------------------------------- macros


@dataclass
class Macro:
    """One ``\\newcommand``: a letters-only name, its TeX body, and a comment saying where it comes from."""

    name: str
    value: str
    comment: str = ""


class MacroRegistry:
    """Ordered macros with a duplicate check (two data names can map to one TeX name)."""

    def __init__(self) -> None:
        self.macros: list[Macro] = []
        self._names: dict[str, str] = {}

    def add(self, parts: tuple[Any, ...] | list[Any], value: str, comment: str = "") -> str:
        name = latex.macro_name(*parts)
        source = "/".join(map(str, parts))
        if name in self._names:
            raise ValueError(f"macro \\{name} would be defined twice (from {self._names[name]} and {source})")
        self._names[name] = source
        self.macros.append(Macro(name, value, re.sub(r"[\r\n%]", " ", comment)))
        return name

    def names(self) -> list[str]:
        return [m.name for m in self.macros]


# --------------------------------------------------------------------------------------------------- tables


def _mark_best(rows: list[dict[str, Any]], keys: Iterable[str], digits: int = DIGITS) -> None:
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


def _cell(summary: Mapping[str, Any], variant: str, metric: str) -> dict[str, Any]:
    stats = summary.get(variant, {}).get(metric, {})
    return {"mean": stats.get("mean"), "std": stats.get("std"), "best": False, "sig": False}


def _significant(comparisons: Mapping[str, Any], variant: str, metric: str) -> bool:
    """True when DeLong (Holm) says this variant's AUC differs from the reference's for this AUC column."""
    if metric == "macro_auc":
        cls = "macro"
    elif metric.startswith("auc_"):
        cls = metric[len("auc_") :]
    else:
        return False
    return _is_sig(comparisons.get(variant, {}).get(cls, {}).get("p_holm"))


def _is_sig(p: float | None) -> bool:
    """Holm-adjusted p below the level; a missing p is never significant."""
    return p is not None and p < SIGNIFICANCE_LEVEL


def _rows(
    variants: list[Variant],
    summary: Mapping[str, Any],
    comparisons: Mapping[str, Any],
    keys: Iterable[str],
    reference: Variant,
) -> list[dict[str, Any]]:
    keys = list(keys)
    rows = []
    for v in variants:
        cells = {}
        for k in keys:
            c = _cell(summary, v.name, k)
            c["sig"] = v.name != reference.name and _significant(comparisons, v.name, k)
            cells[k] = c
        rows.append(
            {"name": v.name, "label": v.label, "group": v.group, "reference": v == reference, "cells": cells}
        )
    return rows


def _has_any(summary: Mapping[str, Any], metric: str, variants: Iterable[Variant] | None = None) -> bool:
    names = {v.name for v in variants} if variants is not None else set(summary)
    return any(summary.get(n, {}).get(metric, {}).get("mean") is not None for n in names)


def _columns(spec: Iterable[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"key": k, "header": h} for k, h in spec]


def build_tables(
    variants: list[Variant],
    reference: Variant,
    summary: Mapping[str, Any],
    comparisons: Mapping[str, Any],
    benchmarks: Mapping[str, Any],
    model_summaries: Mapping[str, Any],
) -> dict[str, Any]:
    """Structured tables for tables.tex.j2: columns, row groups (separated by rules), cells with best/sig flags."""
    baselines = [v for v in variants if v.group == "baseline"]
    ablations = [v for v in variants if v.group == "ablation"]
    others = [v for v in variants if v.group not in ("main", "baseline", "ablation") and v != reference]

    # Main results: baselines first, RadGen last (the row a reader compares against everything above it).
    main_keys = [k for k, _ in MAIN_COLUMNS]
    main_rows = _rows(baselines + others + [reference], summary, comparisons, main_keys, reference)
    _mark_best(main_rows, main_keys)
    main = {
        "columns": _columns(MAIN_COLUMNS),
        "groups": [g for g in (main_rows[:-1], main_rows[-1:]) if g],
    }

    # Ablations: the full model first, then each switch with its difference to it.
    abl_keys = [k for k, _ in ABLATION_METRICS]
    abl_rows = _rows([reference] + ablations, summary, comparisons, abl_keys, reference)
    _mark_best(abl_rows, abl_keys)
    for r in abl_rows:
        r["deltas"] = {}
        for k in abl_keys:
            ref_mean = abl_rows[0]["cells"][k]["mean"]
            mean = r["cells"][k]["mean"]
            r["deltas"][k] = None if r["reference"] or mean is None or ref_mean is None else mean - ref_mean
    ablation = {
        "columns": _columns(ABLATION_METRICS),
        "groups": [g for g in (abl_rows[:1], abl_rows[1:]) if g],
    }

    # Report quality: only variants that generate reports; METEOR only if some variant has it.
    report_spec = [
        (k, h) for k, h in REPORT_COLUMNS if k != "METEOR" or _has_any(summary, "METEOR", variants)
    ]
    report_keys = [k for k, _ in report_spec]
    gen = [v for v in variants if any(_has_any(summary, k, [v]) for k in report_keys)]
    rep_rows = _rows(gen, summary, comparisons, report_keys, reference)
    _mark_best(rep_rows, report_keys)
    floors = [Variant(name, label, "floor") for name, label in FLOOR_LABELS.items() if name in summary]
    floor_rows = _rows(floors, summary, {}, report_keys, reference)
    report = {"columns": _columns(report_spec), "groups": [g for g in (rep_rows, floor_rows) if g]}

    # Sensitivity / specificity of every variant, grouped as in the paper.
    ss_keys = [k for k, _ in SENS_SPEC_COLUMNS]
    ss_groups = [
        _rows(group, summary, comparisons, ss_keys, reference)
        for group in ([reference], baselines + others, ablations)
        if group
    ]
    _mark_best([r for g in ss_groups for r in g], ss_keys)
    sens_spec = {"columns": _columns(SENS_SPEC_COLUMNS), "groups": ss_groups}

    # Compute: benchmark wall time and peak RSS; parameters, epochs and device from the model summaries.
    compute_groups = []
    for group in ([reference], baselines + others, ablations):
        rows = [compute_row(v, benchmarks.get(v.name, []), model_summaries.get(v.name, [])) for v in group]
        if rows:
            compute_groups.append(rows)
    return {
        "main": main,
        "ablation": ablation,
        "report": report,
        "sens_spec": sens_spec,
        "compute": {"groups": compute_groups},
    }


def _mean(values: Iterable[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None


def compute_row(
    variant: Variant, bench: list[dict[str, float | None]], models: list[dict[str, Any]]
) -> dict[str, Any]:
    """One compute-table row; training time falls back to summary.json's train_seconds without benchmarks."""
    times = [b.get("s") for b in bench if b.get("s") is not None]
    if not times:
        times = [_f(m.get("train_seconds")) for m in models if _f(m.get("train_seconds")) is not None]
    rss = [b.get("max_rss") for b in bench if b.get("max_rss") is not None]
    params = [_f(m.get("n_parameters")) for m in models]
    devices = sorted({str(m["device"]) for m in models if m.get("device")})
    return {
        "name": variant.name,
        "label": variant.label,
        "n_parameters": _mean(params),
        "epochs_run": _mean(_f(m.get("epochs_run")) for m in models),
        "best_epoch": _mean(_f(m.get("best_epoch")) for m in models),
        "seconds_per_fold": _mean(times),
        "seconds_total": sum(times) if times else None,
        "peak_rss_mb": max(rss) if rss else None,
        "device": ", ".join(devices) if devices else None,
        "n_folds": max(len(bench), len(models)),
    }


# --------------------------------------------------------------------------------------------------- context


def _get(d: Mapping[str, Any] | None, *path: str, default: Any = None) -> Any:
    for key in path:
        if not isinstance(d, Mapping) or key not in d:
            return default
        d = d[key]
    return d


def _pexpr(p: float | None) -> str:
    """'$p=0.012$' / '$p<0.001$' for running text."""
    if p is None:
        return r"$p$ not available"
    return r"$p<0.001$" if p < 0.001 else f"$p={p:.3f}$"


DATA_DESCRIPTIONS = {
    "synthetic": "synthetic chest radiographs with reports, generated by this workflow from a fixed seed",
    "folder": "a user-provided image folder with one sub-folder per class",
    "csv": "a user-provided manifest of images, labels and reports",
}


def build_context(
    inputs: PaperInputs, config: Mapping[str, Any], repo_dir: str | Path = "."
) -> dict[str, Any]:
    """Read every input and return the context for both templates (tables and variables)."""
    variants, reference = variants_from_config(config)
    dataset = load_dataset(inputs.manifest, inputs.folds)
    summary = load_summary(inputs.summary)
    pooled = load_pooled(inputs.pooled)
    comparisons = load_comparisons(inputs.comparisons)
    comparisons_meta = load_comparisons_meta(inputs.comparisons_meta)
    benchmarks = load_benchmarks(inputs.benchmarks)
    models = load_model_summaries(inputs.model_summaries)
    unknown = sorted(set(summary) - {v.name for v in variants} - set(FLOOR_LABELS))
    if unknown:
        log.warning(
            "summary.csv has variants not in the config, left out of the paper: %s", ", ".join(unknown)
        )
    absent = [v.name for v in variants if v.name not in summary]
    if absent:
        log.warning(
            "variants of the config without results in summary.csv (shown as '--'): %s", ", ".join(absent)
        )

    tables = build_tables(variants, reference, summary, comparisons, benchmarks, models)
    data_notes = list(inputs.data_notes)
    source = str(_get(config, "data", "source", default="unknown"))
    synthetic = source == "synthetic"
    reg = MacroRegistry()
    _dataset_macros(reg, dataset)
    _config_macros(reg, config, variants, source)
    _provenance_macros(reg, config, models, repo_dir)
    _result_macros(reg, variants, reference, summary, pooled, comparisons)
    _headline_macros(reg, variants, reference, summary, pooled, comparisons)
    _comparison_macros(reg, comparisons_meta)
    _compute_macros(reg, tables["compute"]["groups"], reference)
    return {
        "methods": methods_context(config, variant_set(config)),
        "data_notes": data_notes,
        "synthetic": synthetic,
        "data_source": source,
        "reference": reference,
        "dataset": dataset,
        "tables": tables,
        "macros": reg.macros,
        "significance_level": SIGNIFICANCE_LEVEL,
        "has_comparisons": bool(comparisons),
        "comparisons_meta": comparisons_meta,
        "has_baselines": any(v.group == "baseline" for v in variants),
        "has_ablations": any(v.group == "ablation" for v in variants),
        "has_benchmarks": bool(benchmarks),
    }


def _dataset_macros(reg: MacroRegistry, ds: Mapping[str, Any]) -> None:
    total = ds["total"]
    reg.add(("NImages",), latex.integer(total["images"]), "images in the manifest")
    reg.add(("NPatients",), latex.integer(total["patients"]), "distinct patients")
    reg.add(
        ("NPatientsMultiStudy",),
        latex.integer(ds["patients_multi_study"]),
        "patients with more than one image",
    )
    reg.add(
        ("MaxStudiesPerPatient",), latex.integer(ds["max_studies_per_patient"]), "most images of one patient"
    )
    reg.add(("NFolds",), latex.integer(ds["k"]), "outer folds in folds.csv")
    reg.add(("NClasses",), latex.integer(len(CLASSES)), "classes")
    for c in CLASSES:
        n = total["counts"][c]
        reg.add(("N", c), latex.integer(n), f"images labelled {c}")
        reg.add(("Pct", c), latex.pct(n / total["images"] if total["images"] else None), f"share of {c}")
    sizes = [f["images"] for f in ds["folds"]]
    reg.add(("MinFoldImages",), latex.integer(min(sizes) if sizes else None), "smallest held-out fold")
    reg.add(("MaxFoldImages",), latex.integer(max(sizes) if sizes else None), "largest held-out fold")


def _breakable(text: str) -> str:
    """Allow line breaks after / and _ in long identifiers such as emilyalsentzer/Bio_ClinicalBERT (already escaped)."""
    return text.replace("/", r"/\allowbreak{}").replace(r"\_", r"\_\allowbreak{}")


def _config_macros(
    reg: MacroRegistry, config: Mapping[str, Any], variants: list[Variant], source: str
) -> None:
    """Settings the method section quotes (so that no setting is typed in main.tex either)."""
    m, t = config.get("model") or {}, config.get("training") or {}
    title = _get(config, "paper", "title", default="RadGen")
    reg.add(("Title",), latex.tex(title), "paper.title")
    reg.add(("DataSource",), latex.tex(source), "data.source")
    description = _get(config, "paper", "dataset_description", default=None) or DATA_DESCRIPTIONS.get(
        source, f"data from source {source}"
    )
    reg.add(("DataDescription",), latex.tex(description), "paper.dataset_description or data.source")
    reg.add(
        ("SyntheticSeed",),
        latex.tex(_get(config, "data", "synthetic", "seed", default="--")),
        "data.synthetic.seed",
    )
    reg.add(("ImageSize",), latex.integer(_get(config, "data", "image_size")), "data.image_size")
    reg.add(
        ("InnerValPct",),
        latex.pct(_get(config, "folds", "inner_val_fraction"), 0),
        "folds.inner_val_fraction",
    )
    reg.add(
        ("ImageEncoder",),
        _breakable(latex.tex(_get(m, "image_encoder", "name", default="--"))),
        "model.image_encoder.name",
    )
    reg.add(
        ("ReportGenerator",),
        _breakable(latex.tex(_get(m, "report_generator", "name", default="--"))),
        "model.report_generator.name",
    )
    reg.add(
        ("TextEncoder",),
        _breakable(latex.tex(_get(m, "text_encoder", "name", default="--"))),
        "model.text_encoder.name",
    )
    reg.add(
        ("Pretrained",),
        "pretrained" if _get(m, "image_encoder", "pretrained") else "randomly initialised",
        "model.image_encoder.pretrained",
    )
    reg.add(("EmbedDim",), latex.integer(m.get("embed_dim")), "model.embed_dim")
    hidden = _get(m, "head", "hidden", default=[]) or []
    reg.add(
        ("HeadHidden",), "--".join(str(int(h)) for h in hidden) if hidden else "none", "model.head.hidden"
    )
    reg.add(("HeadDropout",), latex.num(_get(m, "head", "dropout"), 1), "model.head.dropout")
    reg.add(("FusionHeads",), latex.integer(_get(m, "fusion", "num_heads")), "model.fusion.num_heads")
    reg.add(
        ("ReportMaxLength",),
        latex.integer(_get(m, "report_generator", "max_length")),
        "model.report_generator.max_length",
    )
    reg.add(
        ("TextMaxLength",),
        latex.integer(_get(m, "text_encoder", "max_length")),
        "model.text_encoder.max_length",
    )
    reg.add(
        ("NumBeams",),
        latex.integer(_get(m, "report_generator", "num_beams")),
        "model.report_generator.num_beams",
    )
    reg.add(("Epochs",), latex.integer(t.get("epochs")), "training.epochs")
    reg.add(("BatchSize",), latex.integer(t.get("batch_size")), "training.batch_size")
    reg.add(
        ("Patience",), latex.integer(t.get("early_stopping_patience")), "training.early_stopping_patience"
    )
    reg.add(("WarmupEpochs",), latex.integer(t.get("warmup_epochs")), "training.warmup_epochs")
    reg.add(
        ("FreezeTextEpochs",),
        latex.integer(t.get("freeze_text_encoder_epochs")),
        "training.freeze_text_encoder_epochs",
    )
    reg.add(("WeightDecay",), latex.sci(t.get("weight_decay")), "training.weight_decay")
    reg.add(("GradClip",), latex.sci(t.get("grad_clip")), "training.grad_clip")
    reg.add(("ReportLossWeight",), latex.sci(t.get("report_loss_weight")), "training.report_loss_weight")
    reg.add(("Amp",), latex.tex(t.get("amp", "none")), "training.amp")
    for group in ("image_encoder", "report_generator", "text_encoder", "fusion_head"):
        reg.add(("Lr", group), latex.sci(_get(t, "lr", group)), f"training.lr.{group}")
    reg.add(
        ("BootstrapResamples",),
        latex.integer(_get(config, "evaluation", "bootstrap_resamples")),
        "evaluation.bootstrap_resamples",
    )
    for group, what in (("baseline", "Baseline"), ("ablation", "Ablation")):
        labels = [latex.tex(v.label) for v in variants if v.group == group]
        text = ", ".join(labels[:-1]) + " and " + labels[-1] if len(labels) > 1 else "".join(labels) or "none"
        reg.add((what, "List"), text, f"labels of the {group} variants, in config order")
    reg.add(("NVariants",), latex.integer(len(variants)), "variants in the config")
    reg.add(("NBaselines",), latex.integer(sum(v.group == "baseline" for v in variants)), "baseline variants")
    reg.add(("NAblations",), latex.integer(sum(v.group == "ablation" for v in variants)), "ablation variants")
    reg.add(("SignificanceLevel",), latex.num(SIGNIFICANCE_LEVEL, 2), "DeLong significance level (Holm)")


def _provenance_macros(
    reg: MacroRegistry,
    config: Mapping[str, Any],
    models: Mapping[str, list[dict[str, Any]]],
    repo_dir: str | Path,
) -> None:
    reg.add(("GitCommit",), latex.tex(git_commit(repo_dir)), "git rev-parse --short HEAD (+ -dirty)")
    reg.add(
        ("ConfigHash",), latex.tex(config_hash(dict(config))), "sha256 of the resolved config, 12 hex digits"
    )
    for pkg, version in package_versions().items():
        reg.add((pkg, "Version"), latex.tex(version), f"version of {pkg} at render time")
    devices = sorted({str(m["device"]) for ms in models.values() for m in ms if m.get("device")})
    reg.add(
        ("TrainingDevice",),
        latex.tex(", ".join(devices) if devices else "unknown"),
        "device field of the models' summary.json",
    )


def _result_macros(
    reg: MacroRegistry,
    variants: list[Variant],
    reference: Variant,
    summary: Mapping[str, Any],
    pooled: Mapping[str, Any],
    comparisons: Mapping[str, Any],
) -> None:
    """Per variant: every metric's mean and std, pooled value with CI, DeLong p vs the reference, Δ vs reference.

    The report-metric floors get their means too (the text compares the generated reports with them)."""
    for name in FLOOR_LABELS:
        for metric in REPORT_METRICS:
            s = summary.get(name, {}).get(metric, {})
            reg.add((name, metric), latex.num(s.get("mean"), DIGITS), f"{name} {metric} mean over folds")
    for v in variants:
        reg.add((v.name, "Label"), latex.tex(v.label), f"label of variant {v.name}")
        for metric, s in sorted(summary.get(v.name, {}).items()):
            reg.add((v.name, metric), latex.num(s["mean"], DIGITS), f"{v.name} {metric} mean over folds")
            reg.add((v.name, metric, "Std"), latex.num(s["std"], DIGITS), f"{v.name} {metric} std over folds")
        for metric, s in sorted(pooled.get(v.name, {}).items()):
            reg.add((v.name, "Pooled", metric), latex.num(s["value"], DIGITS), f"{v.name} pooled {metric}")
            reg.add((v.name, "Pooled", metric, "Low"), latex.num(s["ci_low"], DIGITS), "95% bootstrap CI low")
            reg.add(
                (v.name, "Pooled", metric, "High"), latex.num(s["ci_high"], DIGITS), "95% bootstrap CI high"
            )
        if v == reference:
            continue
        for cls, c in sorted(comparisons.get(v.name, {}).items()):
            reg.add(
                (v.name, "DeLongP", cls),
                _pexpr(c["p_holm"]),
                f"Holm-adjusted DeLong p, {v.name} vs ref, {cls}",
            )
        for metric in DELTA_METRICS:
            a = summary.get(v.name, {}).get(metric, {}).get("mean")
            b = summary.get(reference.name, {}).get(metric, {}).get("mean")
            reg.add(
                (v.name, "Delta", metric),
                latex.signed(None if a is None or b is None else a - b, DIGITS),
                f"{v.name} minus {reference.name}, {metric}",
            )


def _headline_macros(
    reg: MacroRegistry,
    variants: list[Variant],
    reference: Variant,
    summary: Mapping[str, Any],
    pooled: Mapping[str, Any],
    comparisons: Mapping[str, Any],
) -> None:
    """The few comparisons the abstract and results state in words (best baseline, largest ablation drop)."""

    def auc(name: str) -> float | None:
        return summary.get(name, {}).get("macro_auc", {}).get("mean")

    ref_auc = auc(reference.name)
    reg.add(("RefLabel",), latex.tex(reference.label), "label of the reference (main) variant")
    ref_stats = summary.get(reference.name, {})
    for metric in HEADLINE_METRICS:  # always defined, so main.tex never depends on which metrics exist
        s = ref_stats.get(metric, {})
        reg.add(("Ref", metric), latex.num(s.get("mean"), DIGITS), f"reference {metric} mean over folds")
        reg.add(("Ref", metric, "Std"), latex.num(s.get("std"), DIGITS), f"reference {metric} std over folds")
    ref_pooled = pooled.get(reference.name, {}).get("macro_auc", {})
    reg.add(("RefPooledMacroAuc",), latex.num(ref_pooled.get("value"), DIGITS), "reference pooled macro-AUC")
    reg.add(("RefPooledMacroAucLow",), latex.num(ref_pooled.get("ci_low"), DIGITS), "its bootstrap CI low")
    reg.add(("RefPooledMacroAucHigh",), latex.num(ref_pooled.get("ci_high"), DIGITS), "its bootstrap CI high")
    reg.add(
        ("CILevel",), latex.integer(CI_LEVEL), "bootstrap confidence level in percent (evaluation contract)"
    )

    scored = [(auc(v.name), v) for v in variants if v.group == "baseline" and auc(v.name) is not None]
    best_auc, best = max(scored, key=lambda t: t[0]) if scored else (None, None)
    reg.add(
        ("BestBaselineLabel",),
        latex.tex(best.label) if best else "none",
        "baseline with the highest macro-AUC",
    )
    reg.add(("BestBaselineMacroAuc",), latex.num(best_auc, DIGITS), "its macro-AUC mean")
    reg.add(
        ("BestBaselineMacroAucStd",),
        latex.num(summary[best.name]["macro_auc"]["std"] if best else None, DIGITS),
        "its macro-AUC std",
    )
    diff = None if best_auc is None or ref_auc is None else ref_auc - best_auc
    reg.add(("RefMinusBestBaseline",), latex.signed(diff, DIGITS), "reference minus best baseline, macro-AUC")
    comp = comparisons.get(best.name, {}) if best else {}
    macro = comp.get("macro", {})
    reg.add(
        ("RefVsBestBaseline",), comparative_words(macro.get("verdict")), "paired test of macro-AUC (Holm)"
    )
    low, high = macro.get("ci_low"), macro.get("ci_high")  # CI of best baseline minus reference (pooled)
    pooled_delta = macro.get("delta")
    reg.add(
        ("RefMinusBestBaselinePooled",),
        latex.signed(None if pooled_delta is None else -pooled_delta, DIGITS),
        "reference minus best baseline, pooled out-of-fold macro-AUC (the tested difference)",
    )
    reg.add(("RefMinusBestBaselineLow",), latex.signed(None if high is None else -high, DIGITS), "its CI low")
    reg.add(("RefMinusBestBaselineHigh",), latex.signed(None if low is None else -low, DIGITS), "its CI high")
    reg.add(("RefVsBestBaselineP",), _pexpr(macro.get("p_holm")), "Holm-adjusted p of that test")
    n_sig = sum(1 for c in CLASSES if _is_sig(comp.get(c, {}).get("p_holm")))
    reg.add(
        ("BestBaselineNSig",),
        latex.integer(n_sig) if comp else "--",
        "classes with Holm-adjusted DeLong p < level, best baseline vs reference",
    )
    for c in CLASSES:
        reg.add(
            ("BestBaselineDeLongP", c), _pexpr(comp.get(c, {}).get("p_holm")), f"best baseline DeLong p, {c}"
        )
    n_sig_all = sum(
        1
        for v in variants
        if v != reference
        for c in CLASSES
        if _is_sig(comparisons.get(v.name, {}).get(c, {}).get("p_holm"))
    )
    n_tests = sum(1 for v in variants if v != reference for c in CLASSES if c in comparisons.get(v.name, {}))
    reg.add(
        ("NSigComparisons",), latex.integer(n_sig_all) if comparisons else "--", "significant DeLong tests"
    )
    reg.add(("NComparisons",), latex.integer(n_tests) if comparisons else "--", "per-class DeLong tests run")

    deltas = [
        (auc(v.name) - ref_auc, v)
        for v in variants
        if v.group == "ablation" and auc(v.name) is not None and ref_auc is not None
    ]
    worst = min(deltas, key=lambda t: t[0]) if deltas else (None, None)
    mildest = max(deltas, key=lambda t: t[0]) if deltas else (None, None)
    reg.add(
        ("LargestAblationLabel",),
        latex.tex(worst[1].label) if worst[1] else "none",
        "ablation with the lowest macro-AUC",
    )
    reg.add(("LargestAblationDelta",), latex.signed(worst[0], DIGITS), "its macro-AUC minus the reference's")
    reg.add(
        ("SmallestAblationLabel",),
        latex.tex(mildest[1].label) if mildest[1] else "none",
        "ablation with the highest macro-AUC",
    )
    reg.add(
        ("SmallestAblationDelta",), latex.signed(mildest[0], DIGITS), "its macro-AUC minus the reference's"
    )
    n_worse = sum(1 for d, _ in deltas if round(d, DIGITS) < 0)
    reg.add(
        ("NAblationsWorse",),
        latex.integer(n_worse) if deltas else "--",
        "ablations whose mean macro-AUC is below the reference's (descriptive, no test)",
    )
    verdicts = [comparisons.get(v.name, {}).get("macro", {}).get("verdict") for _, v in deltas]
    for key, verdict in (("NAblationsSigLower", "lower"), ("NAblationsSigHigher", "higher")):
        reg.add(
            (key,),
            latex.integer(sum(x == verdict for x in verdicts)) if comparisons else "--",
            f"ablations whose macro-AUC is significantly {verdict} than the reference's (paired test, Holm)",
        )


def comparative_words(verdict: str | None) -> str:
    """How the text compares the reference with a variant, from the paired test's verdict on the variant.

    The verdict is the variant's (higher / lower than the reference); the words are the reference's, so they flip.
    "Above" or "below" is written only when the Holm-adjusted test says so."""
    return {
        "higher": "significantly below",
        "lower": "significantly above",
        "no significant difference": "not significantly different from",
    }.get(verdict or "", "not tested against")


def _comparison_macros(reg: MacroRegistry, meta: Mapping[str, Any]) -> None:
    """What the Metrics paragraph states about the tests: level, unit, resamples, Holm families and their sizes."""
    families = meta.get("families") or {}
    per_class = next((f for name, f in families.items() if "class" in name.lower()), {})
    macro = next((f for name, f in families.items() if "macro" in name.lower()), {})
    reg.add(("TestUnit",), latex.tex(meta.get("unit", "image")), "resampling unit of CIs and tests")
    reg.add(
        ("NHolmClassTests",), latex.integer(per_class.get("n_tests")), "size of the per-class DeLong family"
    )
    reg.add(("NHolmMacroTests",), latex.integer(macro.get("n_tests")), "size of the macro-AUC family")


def _compute_macros(reg: MacroRegistry, groups: list[list[dict[str, Any]]], reference: Variant) -> None:
    rows = [r for g in groups for r in g]
    for r in rows:
        for who in ((r["name"],), ("Ref",)) if r["name"] == reference.name else ((r["name"],),):
            reg.add((*who, "NParams"), latex.count(r["n_parameters"]), f"{r['name']} parameters")
            reg.add(
                (*who, "TrainTimePerFold"), latex.duration(r["seconds_per_fold"]), "mean training wall time"
            )
            reg.add((*who, "PeakMemory"), latex.megabytes(r["peak_rss_mb"]), "max RSS over folds")
    total = [r["seconds_total"] for r in rows if r["seconds_total"] is not None]
    reg.add(
        ("TotalTrainTime",), latex.duration(sum(total) if total else None), "training wall time, all jobs"
    )
