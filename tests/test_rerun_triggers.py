"""Jobs depend on the code they run: editing radgen/inference.py reruns prediction, never training (issue 12).

No model is trained: every output (log, benchmark) of a tiny DAG is created empty in a temporary copy of the repository and
`snakemake --touch` orders their times as if the workflow had run; a dry run after an edit shows what an edit
reruns (Snakemake's mtime trigger on the rules' `code` inputs).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from test_workflow_e2e import COPIED, ROOT, planned_rules, run

pytestmark = (
    pytest.mark.slow
)  # a dry run, --touch and dry runs of the whole DAG; a fresh interpreter importing torch

IGNORED = shutil.ignore_patterns("__pycache__", "tables.tex", "variables.tex", "main.pdf")


def smk(args: list[str], cwd: Path) -> str:
    done = run([*args, "--configfile", "tiny.yaml"], cwd, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout + done.stderr


def create_outputs(work: Path) -> None:
    """Every output, log and benchmark file a dry run of the whole DAG lists, empty (no suffix: a directory)."""
    for line in smk(["-n"], work).splitlines():
        key, _, value = line.strip().partition(": ")
        if key not in ("output", "log", "benchmark"):
            continue
        for name in value.split(", "):
            path = work / name
            if path.suffix:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.touch()
            else:
                path.mkdir(parents=True, exist_ok=True)


@pytest.fixture(scope="module")
def finished(tmp_path_factory, tiny_config) -> Path:
    """A copy of the repository whose tiny DAG (one generating and one report-reading variant) looks done."""
    work = tmp_path_factory.mktemp("rerun_triggers")
    for name in COPIED:
        shutil.copytree(ROOT / name, work / name, ignore=IGNORED)
    (work / "tiny.yaml").write_text(yaml.safe_dump(tiny_config(variants=("radgen", "report_only"))))
    create_outputs(work)
    smk(["--touch", "--cores", "1"], work)
    assert "Nothing to be done" in smk(["-n"], work), "the touched DAG should be up to date"
    return work


def test_editing_inference_reruns_prediction_and_no_training(finished):
    with open(finished / "radgen" / "inference.py", "a") as fh:
        fh.write("\n# edited by the test\n")
    rules = planned_rules(smk(["-n"], finished))
    assert rules.get("predict") == 4, rules  # 2 variants x 2 folds
    assert "train" not in rules and "image_cache" not in rules, rules


def test_training_code_does_not_import_inference():
    """The import graph behind the rule inputs: training never loads radgen.inference, prediction never training."""
    probe = (
        "import sys, radgen.train, radgen.train.engine\n"
        "assert 'radgen.inference' not in sys.modules, 'training imports radgen.inference'\n"
        "for m in [m for m in sys.modules if m.startswith('radgen')]: del sys.modules[m]\n"
        "import radgen.predict, radgen.cli, radgen.inference\n"
        "bad = sorted(m for m in sys.modules if m.startswith('radgen.train'))\n"
        "assert not bad, f'prediction imports training: {bad}'\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
