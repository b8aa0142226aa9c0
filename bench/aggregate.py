"""Where a finished workflow run spent its time: a section of bench/RESULTS.md from its results/ tree.

    python bench/aggregate.py [--results results] [--out bench/RESULTS.md] [--top 10] [--title "make demo, ..."]

Reads the Snakemake benchmark of every job (results/benchmarks/<rule>/<variant>/fold<k>.tsv: `s` is the job's wall
time, the mean when a benchmark holds repeats) and the `time_breakdown_s` of every trained model
(results/models/<variant>/fold<k>/summary.json, written by radgen.train.engine). Writes, between the markers
below, the mean and total wall time per rule and per rule and variant, the slowest jobs, each variant's time
shares (pooled: a part's seconds over all the variant's jobs divided by their total) and the share of
RadGen-type jobs (models with their own report generator) spent in training-text generation and validation
(which includes validation's generation). Everything else in RESULTS.md is kept; the section is replaced when
present and appended otherwise. The sum of job times is CPU-slot time, not the run's wall time (jobs overlap).
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

BEGIN, END = "<!-- aggregate:begin -->", "<!-- aggregate:end -->"
GENERATION_PARTS = ("training_text_generation", "validation")
ROOT = Path(__file__).resolve().parent.parent


# --------------------------------------------------------------------------- reading
def read_benchmarks(results: Path) -> pd.DataFrame:
    """One row per job: job (path under benchmarks/ without .tsv), rule, variant, s, cpu_time, max_rss."""
    root = results / "benchmarks"
    rows = []
    for path in sorted(root.rglob("*.tsv")):
        parts = path.relative_to(root).with_suffix("").parts
        table = pd.read_csv(path, sep="\t")
        num = {
            c: pd.to_numeric(table[c], errors="coerce").mean()
            for c in ("s", "cpu_time", "max_rss")
            if c in table
        }
        rows.append(
            {
                "job": "/".join(parts),
                "rule": parts[0],
                "variant": parts[1] if len(parts) > 2 else "",
                "s": num.get("s", math.nan),
                "cpu_time": num.get("cpu_time", math.nan),
                "max_rss": num.get("max_rss", math.nan),
            }
        )
    return pd.DataFrame(rows, columns=["job", "rule", "variant", "s", "cpu_time", "max_rss"])


def _generates_reports(model_dir: Path) -> bool:
    """The saved model has a report generator of its own (config.json's model block; RadGen-type)."""
    from radgen.variants import generates_reports

    config = model_dir / "config.json"
    return config.is_file() and generates_reports(json.loads(config.read_text()).get("model") or {})


def read_breakdowns(results: Path) -> pd.DataFrame:
    """One row per trained model with a time breakdown: variant, fold, generator, one column per part, total."""
    rows = []
    for path in sorted((results / "models").glob("*/fold*/summary.json")):
        parts = json.loads(path.read_text()).get("time_breakdown_s")
        if not parts:
            continue
        rows.append(
            {
                "variant": path.parent.parent.name,
                "fold": path.parent.name,
                "generator": _generates_reports(path.parent),
                **{k: float(v) for k, v in parts.items()},
                "total": float(sum(parts.values())),
            }
        )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- tables
def per_rule(bench: pd.DataFrame) -> pd.DataFrame:
    """jobs, mean_s, total_s per rule, the slowest rule first."""
    out = bench.groupby("rule")["s"].agg(jobs="count", mean_s="mean", total_s="sum")
    return out.sort_values("total_s", ascending=False).reset_index()


def per_variant(bench: pd.DataFrame) -> pd.DataFrame:
    """jobs, mean_s, total_s per rule and variant, the slowest mean first within each rule."""
    out = (
        bench.groupby(["rule", "variant"])["s"].agg(jobs="count", mean_s="mean", total_s="sum").reset_index()
    )
    return out.sort_values(["rule", "mean_s"], ascending=[True, False]).reset_index(drop=True)


def slowest(bench: pd.DataFrame, n: int) -> pd.DataFrame:
    return bench.sort_values("s", ascending=False).head(n)[["job", "s"]].reset_index(drop=True)


def part_names(breakdowns: pd.DataFrame) -> list[str]:
    return [c for c in breakdowns.columns if c not in ("variant", "fold", "generator", "total")]


def shares(breakdowns: pd.DataFrame) -> pd.DataFrame:
    """Per variant: jobs, mean_total_s and each part's pooled share of the variant's time (0-1)."""
    parts = part_names(breakdowns)
    grouped = breakdowns.fillna({p: 0.0 for p in parts}).groupby("variant")
    sums = grouped[[*parts, "total"]].sum()
    out = sums[parts].div(sums["total"], axis=0)
    out.insert(0, "mean_total_s", grouped["total"].mean())
    out.insert(0, "jobs", grouped.size())
    return out.reset_index()


def generation_share(breakdowns: pd.DataFrame) -> tuple[float, int]:
    """(pooled share of training-text generation + validation in RadGen-type jobs, number of such jobs)."""
    if breakdowns.empty:
        return math.nan, 0
    gen = breakdowns[breakdowns["generator"]]
    if gen.empty:
        return math.nan, 0
    used = sum(gen[p].fillna(0.0).sum() for p in GENERATION_PARTS if p in gen)
    return float(used / gen["total"].sum()), len(gen)


# --------------------------------------------------------------------------- markdown
def markdown_table(df: pd.DataFrame, formats: dict[str, str] | None = None) -> str:
    """A GitHub table; `formats` maps a column to a format spec (e.g. '.1f', '.1%')."""
    formats = formats or {}

    def cell(col: str, value: object) -> str:
        if isinstance(value, float) and math.isnan(value):
            return "–"
        return format(value, formats[col]) if col in formats else str(value)

    lines = ["| " + " | ".join(df.columns) + " |", "|" + "---|" * len(df.columns)]
    lines += [
        "| " + " | ".join(cell(c, v) for c, v in zip(df.columns, row, strict=True)) + " |"
        for row in df.itertuples(index=False)
    ]
    return "\n".join(lines)


def render_section(results: Path, top: int = 10, title: str = "") -> str:
    """The markdown section (markers included) for the run in `results`."""
    bench, breakdowns = read_benchmarks(results), read_breakdowns(results)
    seconds = {"mean_s": ".1f", "total_s": ".1f", "s": ".1f", "mean_total_s": ".1f"}
    lines = [BEGIN, f"## Where the time went{': ' + title if title else ''}", ""]
    lines.append(
        f"{len(bench)} jobs with a Snakemake benchmark, {bench['s'].sum():.1f} s of job wall time in all "
        f"(jobs overlap: this is not the run's wall time); {len(breakdowns)} trained models with a time breakdown."
    )
    if not bench.empty:
        lines += ["", "### Per rule", "", markdown_table(per_rule(bench), seconds)]
        lines += ["", "### Per rule and variant", "", markdown_table(per_variant(bench), seconds)]
        lines += [
            "",
            f"### The {min(top, len(bench))} slowest jobs",
            "",
            markdown_table(slowest(bench, top), seconds),
        ]
    if not breakdowns.empty:
        table = shares(breakdowns)
        share, n = generation_share(breakdowns)
        lines += ["", "### Training time shares (summary.json time_breakdown_s, pooled per variant)", ""]
        lines.append(markdown_table(table, {**seconds, **{p: ".1%" for p in part_names(breakdowns)}}))
        lines += [
            "",
            "Training-text generation + validation (with its generation) in RadGen-type jobs: "
            + (f"{share:.1%} of their time ({n} jobs)." if n else "no such job."),
        ]
    lines.append(END)
    return "\n".join(lines)


def update_results(path: Path, section: str) -> None:
    """Replace the marked section of `path` (or append it); the rest of the file is kept."""
    text = path.read_text() if path.is_file() else "# Benchmark results\n"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + section + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--results", type=Path, default=ROOT / "results")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "RESULTS.md")
    parser.add_argument("--top", type=int, default=10, help="how many of the slowest jobs to list")
    parser.add_argument("--title", default="", help="what was run, e.g. 'make demo, 2 cores, 2026-05-01'")
    args = parser.parse_args(argv)
    section = render_section(args.results, args.top, args.title)
    update_results(args.out, section)
    print(section)


if __name__ == "__main__":
    main()
