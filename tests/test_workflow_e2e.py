"""End to end: the real Snakemake DAG on a tiny config in a temporary copy of the repository.

One module-scoped run is shared by the checks below (it is the expensive part): a first run with a variant that
cannot train and --keep-going, then a rerun without it that must not retrain anything finished, to the PDF.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
SNAKEMAKE = [sys.executable, "-m", "snakemake"]
COPIED = ("workflow", "scripts", "config", "paper", "radgen")

pytestmark = pytest.mark.e2e


def run(
    args: list[str], cwd: Path, timeout: int = 1200, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """Snakemake in a subprocess (the workflow tests' one way of running it); `env` adds variables."""
    env = {**os.environ, "PYTHONHASHSEED": "0", **(env or {})}
    return subprocess.run(
        [*SNAKEMAKE, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def planned_rules(dry_run_output: str) -> dict[str, int]:
    """Rule -> job count from the 'Job stats' table of a dry run."""
    match = re.search(r"Job stats:\n.*?\n-+\s+-+\n(.*?)\ntotal", dry_run_output, re.S)
    if not match:
        return {}
    rows = (line.split() for line in match.group(1).splitlines() if line.strip())
    return {name: int(count) for name, count in rows}


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, tiny_config) -> Path:
    work = tmp_path_factory.mktemp("radgen_e2e")
    for name in COPIED:
        shutil.copytree(
            ROOT / name,
            work / name,
            ignore=shutil.ignore_patterns(
                "__pycache__", "tables.tex", "variables.tex", "main.pdf", "main.aux"
            ),
        )
    config = tiny_config()  # conftest: radgen, densenet121, report_only, no_gating; 2 folds
    # valid for the schema, but timm has no such model: the job fails, the others must finish
    cannot_train = {
        "group": "baseline",
        "model": {
            "image_encoder": {"name": "no_such_timm_model"},
            "report_generator": {"enabled": False},
            "text_encoder": {"enabled": False},
            "fusion": {"type": "none"},
        },
    }
    broken = {**config, "variants": {**config["variants"], "broken": cannot_train}}
    (work / "broken.yaml").write_text(yaml.safe_dump(broken))
    (work / "tiny.yaml").write_text(yaml.safe_dump(config))

    first = run(["--cores", "2", "--configfile", "broken.yaml", "--keep-going"], work)
    assert first.returncode != 0, "the broken variant should have failed"
    finished = sorted(
        p.relative_to(work).as_posix() for p in (work / "results" / "predictions").rglob("*.csv")
    )
    assert len(finished) == 2 * 4, (
        f"--keep-going should finish every other job; got {finished}\n{first.stderr[-3000:]}"
    )

    resumed = run(["--cores", "2", "--configfile", "tiny.yaml"], work)
    assert resumed.returncode == 0, resumed.stderr[-6000:]
    assert "rule train:" not in resumed.stderr + resumed.stdout, "the rerun retrained a finished model"
    return work


def test_pdf_quotes_a_number_from_the_summary(finished_run):
    pdf = finished_run / "paper" / "main.pdf"
    assert pdf.stat().st_size > 10_000
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    summary = pd.read_csv(finished_run / "results" / "metrics" / "summary.csv")
    auc = summary.query("variant == 'radgen' and metric == 'macro_auc'")["mean"].item()
    assert f"{auc:.3f}" in text
    assert "synthetic" in text.lower()


def test_every_fold_and_variant_has_outputs(finished_run):
    results = finished_run / "results"
    for variant in ("radgen", "densenet121", "report_only", "no_gating"):
        for fold in (0, 1):
            assert (results / "models" / variant / f"fold{fold}" / "model.safetensors").exists()
            assert (results / "metrics" / variant / f"fold{fold}.json").exists()
            predictions = pd.read_csv(results / "predictions" / variant / f"fold{fold}.csv")
            assert list(predictions.columns[:5]) == ["image_id", "label", "p_normal", "p_pneumonia", "p_tb"]
    for log in ("data/manifest.log", "train/radgen/fold0.log", "paper/render.log"):
        assert (results / "logs" / log).exists(), log


def test_touching_a_template_reruns_only_rendering(finished_run):
    # Snakemake 9 compares checksums of small inputs, so a real edit (not a touch) is needed.
    with open(finished_run / "paper" / "templates" / "tables.tex.j2", "a") as fh:
        fh.write("((= edited by the test =))\n")
    dry = run(["-n", "paper/tables.tex", "--configfile", "tiny.yaml"], finished_run)
    assert dry.returncode == 0, dry.stderr
    assert set(planned_rules(dry.stdout + dry.stderr)) == {"render_paper"}


def test_touching_metric_code_reruns_only_evaluation_and_rendering(finished_run):
    with open(finished_run / "radgen" / "evaluate" / "classification.py", "a") as fh:
        fh.write("\n# edited by the test\n")
    dry = run(["-n", "--configfile", "tiny.yaml"], finished_run)
    assert dry.returncode == 0, dry.stderr
    rules = set(planned_rules(dry.stdout + dry.stderr))
    assert "evaluate_fold" in rules and "render_paper" in rules
    assert not rules & {"train", "predict", "manifest", "folds", "image_cache"}, rules


def test_renaming_a_label_reruns_only_the_paper(finished_run):
    """A label is paper text: renaming it must not retrain, repredict or re-evaluate anything."""
    config = yaml.safe_load((finished_run / "tiny.yaml").read_text())
    config["variants"]["no_gating"]["label"] = "without the gate"
    config["variants"]["densenet121"]["group"] = "baseline"  # unchanged value, rewritten
    (finished_run / "relabelled.yaml").write_text(yaml.safe_dump(config))
    # other tests of this module may have edited code already: compare with the unchanged config's plan
    before = run(["-n", "--configfile", "tiny.yaml"], finished_run)
    dry = run(["-n", "--configfile", "relabelled.yaml"], finished_run)
    assert dry.returncode == 0 and before.returncode == 0, dry.stderr + before.stderr
    base, rules = planned_rules(before.stdout + before.stderr), planned_rules(dry.stdout + dry.stderr)
    assert "render_paper" in rules, rules
    assert not set(rules) & {"train", "predict"}, rules
    for rule in ("evaluate_fold", "report_floors", "summarize"):
        assert rules.get(rule, 0) == base.get(rule, 0), (rule, rules, base)


@pytest.mark.parametrize(
    ("mutate", "key"),
    [
        (lambda c: c["data"].update(source="dicom"), "data.source"),
        (lambda c: c["training"].update(epoch=3), "'epoch' was unexpected"),
        (lambda c: c["model"]["fusion"].update(gatee=False), "'gatee' was unexpected"),
        (lambda c: c["training"]["lr"].update(imgae_encoder=1e-3), "'imgae_encoder' was unexpected"),
        (
            lambda c: c["variants"]["no_gating"].update(model={"fusion": {"gatee": False}}),
            "variants.no_gating.model.fusion",
        ),
        (lambda c: c["model"]["fusion"].update(num_heads=5), "does not divide embed_dim"),
    ],
)
def test_invalid_config_fails_before_any_job(tmp_path, tiny_config, mutate, key):
    for name in COPIED:
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    config = tiny_config()
    mutate(config)
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(config))
    result = run(["-n", "--configfile", "bad.yaml"], tmp_path, timeout=120)
    assert result.returncode != 0
    assert key in result.stderr + result.stdout
    assert not (tmp_path / "results").exists()
