"""The workflow as users deploy it: `snakemake -s /path/to/workflow/Snakefile --directory elsewhere`.

The repository is not copied and Snakemake is started from a third directory: configs, scripts, schemas, captions
and the paper sources must be found through the Snakefile, every result must land in the working directory.
Small: a dry run of the whole tiny DAG, a real run of the data rules only (seconds), and `--report` on made-up
tables and figures (tests/paper_sample.py), which renders every caption of workflow/report/.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from paper_sample import FIGURES, write_sample_results
from PIL import Image
from test_workflow_e2e import ROOT, planned_rules, run

SNAKEFILE = ROOT / "workflow" / "Snakefile"
DATA_TARGETS = (
    "results/data/manifest.csv",
    "results/data/folds.csv",
    "results/data/cache.npy",
    "results/data/synthetic_examples.png",
)
# Rules without a benchmark: `all` runs nothing; folds (a pandas split) and render_paper (Jinja) are quick local rules.
UNBENCHMARKED = {"all", "folds", "render_paper"}

pytestmark = pytest.mark.slow  # four Snakemake runs, about 15 s


def deployed(work: Path, *args: str, timeout: int = 300) -> str:
    """Snakemake on the repository's Snakefile with `work` as working directory, started from work's parent."""
    # a relative --configfile would be read from where Snakemake starts, not from --directory
    config = work / "tiny.yaml"
    done = run(
        ["-s", str(SNAKEFILE), "--directory", str(work), *args, "--configfile", str(config)],
        work.parent,
        timeout,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout + done.stderr


@pytest.fixture(scope="module")
def work(tmp_path_factory, tiny_config) -> Path:
    """A working directory holding nothing but the config; its data rules run for real."""
    work = tmp_path_factory.mktemp("deployed") / "work"
    work.mkdir()
    (work / "tiny.yaml").write_text(yaml.safe_dump(tiny_config()))
    deployed(work, *DATA_TARGETS, "--cores", "2")
    return work


def jobs_of(dry_run: str) -> list[tuple[str, dict[str, str]]]:
    """(rule, {field: value}) of every job a dry run lists."""
    jobs = []
    for block in re.split(r"\n(?=(?:local)?rule \w+:\n)", dry_run):
        head = re.match(r"(?:local)?rule (\w+):\n", block)
        if head:
            fields = dict(re.findall(r"^\s+(\w+): (.*)$", block, re.M))
            jobs.append((head.group(1), fields))
    return jobs


def test_dry_run_plans_the_whole_dag_with_benchmarks(work, tiny_config):
    config = tiny_config()
    out = deployed(work, "-n", "--forceall")
    rules = planned_rules(out)
    n_models = len(config["variants"]) * config["folds"]["k"]
    assert rules["train"] == rules["predict"] == rules["evaluate_fold"] == n_models, rules
    assert rules["compile_paper"] == rules["render_paper"] == 1, rules
    jobs = jobs_of(out)
    assert {rule for rule, _ in jobs} == set(rules)
    for rule, fields in jobs:
        benchmark = fields.get("benchmark")
        if rule in UNBENCHMARKED:
            assert benchmark is None, (rule, benchmark)
        else:
            assert benchmark and benchmark.startswith(f"results/benchmarks/{rule}/"), (rule, fields)
    # one file per job: no two jobs of a rule write the same benchmark
    benchmarks = [fields["benchmark"] for rule, fields in jobs if rule not in UNBENCHMARKED]
    assert len(set(benchmarks)) == len(benchmarks)


def test_data_rules_write_into_the_working_directory(work):
    for target in DATA_TARGETS:
        assert (work / target).stat().st_size > 0, target
    manifest = pd.read_csv(work / "results" / "data" / "manifest.csv")
    images = [Path(p) if Path(p).is_absolute() else work / p for p in manifest["path"]]
    assert len(images) == 90 and all(p.is_file() for p in images)
    assert all(work in p.resolve().parents for p in images), (
        "synthetic films must be written under --directory"
    )
    for rule in ("manifest", "image_cache", "synthetic_examples"):
        bench = pd.read_csv(work / "results" / "benchmarks" / rule / "run.tsv", sep="\t")
        assert len(bench) == 1 and bench["s"].iloc[0] > 0, rule
    assert "Nothing to be done" in deployed(work, "-n", *DATA_TARGETS)


def test_report_renders_every_caption(work, tiny_config):
    """`snakemake --report` from elsewhere: each caption file is found, its Jinja rendered, and it is in the HTML."""
    write_sample_results(work, tiny_config(), n_images=40, k=2)
    figures = work / "results" / "figures"
    figures.mkdir(parents=True, exist_ok=True)
    for name in FIGURES:
        Image.fromarray(np.zeros((8, 8), np.uint8)).save(figures / f"{name}.png")
    deployed(work, "--report", "report.html")
    html = (work / "report.html").read_text()
    # each result's caption is an HTML string in the report's embedded JSON
    found = [json.loads(f'"{c}"') for c in re.findall(r'"caption": "((?:[^"\\]|\\.)*)"', html)]
    results = [re.sub(r"<[^>]+>", "", c) for c in found]
    # summary, pooled and comparisons tables, the result figures, the data examples: none without a caption
    assert len(results) == 3 + len(FIGURES) + 1 and all(results)
    description = re.sub(r"<[^>]+>", "", html)
    for caption in sorted((ROOT / "workflow" / "report").glob("*.rst")):
        first_words = " ".join(re.sub(r"[*`]", "", caption.read_text().splitlines()[0]).split()[:5])
        shown = [description] if caption.stem == "workflow" else results
        assert any(first_words in text for text in shown), caption.name
    assert "snakemake.config" not in html  # every Jinja field was filled in ...
    assert "2 patient-grouped" in description  # ... from the run's config (k = 2)
