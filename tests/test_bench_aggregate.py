"""bench/aggregate.py on a hand-made results tree, against hand-computed numbers."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def _load_aggregate():
    spec = importlib.util.spec_from_file_location("bench_aggregate", ROOT / "bench" / "aggregate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


agg = _load_aggregate()


def _bench(results: Path, job: str, *seconds: float) -> None:
    path = results / "benchmarks" / f"{job}.tsv"
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = "".join(f"{s:.4f}\t0:00:00\t100.0\t-\t-\t-\t-\t-\t-\t{s:.2f}\n" for s in seconds)
    path.write_text(HEADER + rows)


def _model(results: Path, variant: str, fold: int, parts: dict[str, float], generator: bool) -> None:
    d = results / "models" / variant / f"fold{fold}"
    d.mkdir(parents=True, exist_ok=True)
    (d / "summary.json").write_text(json.dumps({"variant": variant, "time_breakdown_s": parts}))
    model = {"image_encoder": {"name": "x"}, "report_generator": {"enabled": generator}}
    (d / "config.json").write_text(json.dumps({"model": model}))


@pytest.fixture
def results(tmp_path) -> Path:
    r = tmp_path / "results"
    _bench(r, "train/radgen/fold0", 100)
    _bench(r, "train/radgen/fold1", 200)
    _bench(r, "train/swin_b/fold0", 50)
    _bench(r, "train/swin_b/fold1", 30, 50)  # two repeats: the job's time is their mean, 40
    _bench(r, "predict/radgen/fold0", 10)
    # RadGen-type: (20 + 30) / 100 and (10 + 10) / 100 of their time in generation + validation -> 70 / 200
    _model(
        r,
        "radgen",
        0,
        {"training_text_generation": 20, "validation": 30, "forward_backward_optimizer": 40, "other": 10},
        True,
    )
    _model(
        r,
        "radgen",
        1,
        {"training_text_generation": 10, "validation": 10, "forward_backward_optimizer": 60, "other": 20},
        True,
    )
    # image-only: not RadGen-type, whatever its validation costs
    _model(r, "swin_b", 0, {"validation": 30, "forward_backward_optimizer": 10}, False)
    no_breakdown = r / "models" / "old" / "fold0"  # a summary from before the breakdown existed: skipped
    no_breakdown.mkdir(parents=True)
    (no_breakdown / "summary.json").write_text(json.dumps({"variant": "old"}))
    return r


def test_benchmarks_per_rule_and_variant(results):
    bench = agg.read_benchmarks(results)
    assert len(bench) == 5
    rules = agg.per_rule(bench).set_index("rule")
    assert list(rules.index) == ["train", "predict"]  # slowest total first
    assert rules.loc["train", "jobs"] == 4
    assert rules.loc["train", "total_s"] == pytest.approx(100 + 200 + 50 + 40)
    assert rules.loc["train", "mean_s"] == pytest.approx(390 / 4)
    variants = agg.per_variant(bench).set_index(["rule", "variant"])
    assert variants.loc[("train", "radgen"), "mean_s"] == pytest.approx(150)
    assert variants.loc[("train", "swin_b"), "mean_s"] == pytest.approx(45)
    assert variants.loc[("train", "swin_b"), "total_s"] == pytest.approx(90)
    assert variants.loc[("predict", "radgen"), "total_s"] == pytest.approx(10)
    assert list(agg.slowest(bench, 3)["job"]) == [
        "train/radgen/fold1",
        "train/radgen/fold0",
        "train/swin_b/fold0",
    ]


def test_breakdown_shares_and_generation_share(results):
    breakdowns = agg.read_breakdowns(results)
    assert sorted(breakdowns["variant"]) == ["radgen", "radgen", "swin_b"]
    table = agg.shares(breakdowns).set_index("variant")
    assert table.loc["radgen", "jobs"] == 2
    assert table.loc["radgen", "mean_total_s"] == pytest.approx(100)
    assert table.loc["radgen", "forward_backward_optimizer"] == pytest.approx(100 / 200)
    assert table.loc["radgen", "training_text_generation"] == pytest.approx(30 / 200)
    assert table.loc["swin_b", "validation"] == pytest.approx(30 / 40)
    assert table.loc["swin_b", "training_text_generation"] == 0  # a part the variant never ran
    share, n = agg.generation_share(breakdowns)
    assert (share, n) == (pytest.approx(70 / 200), 2)


def test_section_is_written_once_and_the_rest_kept(results, tmp_path):
    out = tmp_path / "RESULTS.md"
    out.write_text('# Benchmark results\n\nintro\n\n## Benchmark log\n\n{"a": 1}\n')
    for _ in range(2):  # a second run replaces the section
        agg.main(["--results", str(results), "--out", str(out), "--top", "2", "--title", "fake run"])
    text = out.read_text()
    assert text.count(agg.BEGIN) == 1 and text.count(agg.END) == 1
    assert text.startswith("# Benchmark results\n\nintro\n") and '{"a": 1}' in text
    assert "35.0% of their time (2 jobs)" in text
    assert "5 jobs with a Snakemake benchmark, 400.0 s of job wall time" in text
    assert "| train/radgen/fold1 | 200.0 |" in text and "train/swin_b/fold0 |" not in text  # --top 2


def test_empty_results_render_without_tables(tmp_path):
    section = agg.render_section(tmp_path)
    assert section.startswith(agg.BEGIN) and section.endswith(agg.END)
    assert "0 jobs" in section and "|" not in section
    assert math.isnan(agg.generation_share(agg.read_breakdowns(tmp_path))[0])
