"""Read every results file the paper uses, once, into typed tables (the only module of the paper stage that reads).

Why one module: the checks (required file present, declared columns there, labels known) and the "missing means
``--``" rule are in one place, and everything downstream works on plain typed values. Required files (manifest,
folds, summary, headline) raise ``PaperInputError`` naming the file; optional ones (pooled CIs, comparisons.json,
benchmarks, model summaries, any single metric) become ``--`` in the PDF.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from radgen.constants import CLASSES
from radgen.data.validity import read_warnings
from radgen.evaluate.headline import as_float

log = logging.getLogger(__name__)


class PaperInputError(RuntimeError):
    """A required results file is missing or malformed; the message names the file."""


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
    headline: Path
    pooled: Path | None = None
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
        headline: str | Path,
        pooled: str | Path | None = None,
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
            headline=Path(headline),
            pooled=Path(pooled) if pooled else None,
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
            headline=r / "metrics" / "headline.json",
            pooled=r / "metrics" / "pooled.csv",
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


# --------------------------------------------------------------------------------------------------- typed tables


@dataclass(frozen=True)
class Stat:
    """One metric of one variant in summary.csv: mean and std over folds."""

    mean: float | None
    std: float | None
    n_folds: float | None = None


@dataclass(frozen=True)
class Pooled:
    """One metric of one variant in pooled.csv: value on the pooled out-of-fold predictions and its bootstrap CI."""

    value: float | None
    ci_low: float | None
    ci_high: float | None


@dataclass(frozen=True)
class Counts:
    """Images per class, images and distinct patients of one held-out fold (or of all of them: fold None)."""

    counts: dict[str, int]
    images: int
    patients: int
    fold: int | None = None


@dataclass(frozen=True)
class Dataset:
    """What the manifest and folds.csv say about the data: per-fold counts, totals and repeat studies."""

    folds: list[Counts]
    total: Counts
    patients_multi_study: int
    max_studies_per_patient: int

    @property
    def k(self) -> int:
        return len(self.folds)


@dataclass(frozen=True)
class Bench:
    """The last line of a Snakemake benchmark TSV of a training job (repeated runs append lines)."""

    s: float | None
    max_rss: float | None
    cpu_time: float | None


Summary = dict[str, dict[str, Stat]]


@dataclass
class PaperData:
    """Every input of the paper, read and checked."""

    dataset: Dataset
    summary: Summary
    headline: dict[str, Any]
    pooled: dict[str, dict[str, Pooled]] = field(default_factory=dict)
    comparisons_meta: dict[str, Any] = field(default_factory=dict)
    benchmarks: dict[str, list[Bench]] = field(default_factory=dict)
    models: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    data_notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------------------------------- loaders


def _counts(part: pd.DataFrame, fold: int | None = None) -> Counts:
    return Counts(
        counts={c: int((part["label"] == c).sum()) for c in CLASSES},
        images=len(part),
        patients=int(part["patient_id"].nunique()),
        fold=fold,
    )


def load_dataset(manifest: Path, folds: Path) -> Dataset:
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
    per_patient = df.groupby("patient_id").size()
    return Dataset(
        folds=[_counts(part, int(k)) for k, part in sorted(df.groupby("fold"), key=lambda kv: kv[0])],
        total=_counts(df),
        patients_multi_study=int((per_patient > 1).sum()),
        max_studies_per_patient=int(per_patient.max()) if len(per_patient) else 0,
    )


def load_summary(path: Path) -> Summary:
    """summary.csv -> {variant: {metric: Stat}}."""
    df = _read_csv(
        path, ("variant", "metric", "mean", "std"), required=True, dtype={"variant": str, "metric": str}
    )
    assert df is not None
    out: Summary = {}
    for row in df.itertuples(index=False):
        stat = Stat(as_float(row.mean), as_float(row.std), as_float(getattr(row, "n_folds", None)))
        out.setdefault(str(row.variant), {})[str(row.metric)] = stat
    return out


def load_pooled(path: Path | None) -> dict[str, dict[str, Pooled]]:
    """pooled.csv -> {variant: {metric: Pooled}}; empty when absent."""
    cols = ("variant", "metric", "value", "ci_low", "ci_high")
    df = _read_csv(path, cols, required=False, dtype={"variant": str, "metric": str})
    out: dict[str, dict[str, Pooled]] = {}
    for row in [] if df is None else df.itertuples(index=False):
        out.setdefault(str(row.variant), {})[str(row.metric)] = Pooled(
            as_float(row.value), as_float(row.ci_low), as_float(row.ci_high)
        )
    return out


def _read_json(path: Path | None, *, required: bool) -> dict[str, Any]:
    """A JSON results file; a missing optional one is {}, a missing required one or invalid JSON raises."""
    if path is None or not Path(path).is_file():
        if required:
            raise PaperInputError(f"required results file not found: {path}")
        return {}
    try:
        return json.loads(Path(path).read_text())
    except json.JSONDecodeError as exc:
        raise PaperInputError(f"{path} is not valid JSON: {exc}") from exc


def load_benchmarks(paths: Mapping[tuple[str, int], Path]) -> dict[str, list[Bench]]:
    """Snakemake benchmark TSVs -> {variant: [Bench, ...one per fold]} (last line per file)."""
    out: dict[str, list[Bench]] = {}
    for (variant, _fold), path in sorted(paths.items()):
        df = _read_csv(path, ("s",), required=False, sep="\t")
        if df is None or df.empty:
            continue
        last = df.iloc[-1]  # repeated benchmarks append lines; the last is the run that produced the model
        out.setdefault(variant, []).append(
            Bench(*(as_float(last.get(k)) for k in ("s", "max_rss", "cpu_time")))
        )
    return out


def load_model_summaries(paths: Mapping[tuple[str, int], Path]) -> dict[str, list[dict[str, Any]]]:
    """summary.json of each trained model -> {variant: [dict per fold]}; unreadable files are an error."""
    out: dict[str, list[dict[str, Any]]] = {}
    for (variant, _fold), path in sorted(paths.items()):
        if not path.is_file():
            log.warning("model summary not found, its numbers render as '--': %s", path)
            continue
        out.setdefault(variant, []).append(_read_json(path, required=True))
    return out


def read_inputs(inputs: PaperInputs) -> PaperData:
    """Read and check every input once."""
    return PaperData(
        dataset=load_dataset(inputs.manifest, inputs.folds),
        summary=load_summary(inputs.summary),
        headline=_read_json(inputs.headline, required=True),
        pooled=load_pooled(inputs.pooled),
        comparisons_meta=_read_json(inputs.comparisons_meta, required=False),
        benchmarks=load_benchmarks(inputs.benchmarks),
        models=load_model_summaries(inputs.model_summaries),
        data_notes=list(inputs.data_notes),
    )
