"""A `folder` source is an input of the manifest: adding, removing or changing an image reruns it.

Cheap: a copy of the workflow, six films of the tiny dataset (conftest) in the folder layout, and only the
manifest target (one real run, then dry runs).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import yaml
from test_workflow_e2e import ROOT, run

COPIED = ("workflow", "scripts", "config", "radgen")
TARGET = "results/data/manifest.csv"
FOLDERS = {"normal": "NORMAL", "pneumonia": "PNEUMONIA", "tb": "TB"}

pytestmark = pytest.mark.slow  # a Snakemake run and six dry runs: about 15 s


def _snakemake(work: Path, *args: str) -> subprocess.CompletedProcess:
    pythonpath = os.pathsep.join([str(work), os.environ.get("PYTHONPATH", "")])
    args = (TARGET, *args, "--cores", "1", "--configfile", "folder.yaml")
    return run(list(args), work, timeout=300, env={"PYTHONPATH": pythonpath})


def _plans_manifest(work: Path) -> bool:
    result = _snakemake(work, "-n")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return "rule manifest:" in result.stdout + result.stderr


@pytest.fixture(scope="module")
def spare(data) -> dict[str, Path]:
    """A film of each class of the tiny dataset that the folder does not hold (to add, or to copy over one)."""
    third = data.manifest.groupby("label").nth(2)
    return {row.label: Path(row.path) for row in third.itertuples()}


@pytest.fixture(scope="module")
def work(tmp_path_factory, tiny_config, data) -> Path:
    work = tmp_path_factory.mktemp("folder_source")
    ignore = shutil.ignore_patterns("__pycache__")
    for name in COPIED:
        shutil.copytree(ROOT / name, work / name, ignore=ignore)
    films = data.manifest.groupby("label").head(2)  # two of each class, with their reports and patients
    names = [f"{FOLDERS[row.label]}/{Path(row.path).name}" for row in films.itertuples()]
    for name, source in zip(names, films["path"], strict=True):
        (work / "data" / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, work / "data" / name)
    reports = pd.DataFrame({"filename": names, "report": films["report"], "patient_id": films["patient_id"]})
    reports.to_csv(work / "data" / "reports.csv", index=False)
    config = tiny_config()
    config["data"] = {"source": "folder", "path": "data", "image_size": config["data"]["image_size"]}
    (work / "folder.yaml").write_text(yaml.safe_dump(config))
    result = _snakemake(work)
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(pd.read_csv(work / TARGET)) == 6
    return work


def test_unchanged_folder_is_up_to_date(work):
    assert not _plans_manifest(work)


def test_added_image_reruns_the_manifest(work, spare):
    extra = work / "data" / "TB" / "extra.png"
    shutil.copy(spare["tb"], extra)
    try:
        assert _plans_manifest(work)
    finally:
        extra.unlink()
    assert not _plans_manifest(work)


def test_removed_or_changed_image_reruns_the_manifest(work, spare):
    image = sorted((work / "data" / "NORMAL").glob("*.png"))[-1]
    moved = work / "moved.png"
    image.rename(moved)
    try:
        assert _plans_manifest(work)
    finally:
        moved.rename(image)
    original = image.read_bytes()
    # other pixels (a mere touch is no change: Snakemake compares small files' checksums)
    image.write_bytes(spare["normal"].read_bytes())
    later = (work / TARGET).stat().st_mtime + 10
    os.utime(image, (later, later))
    try:
        assert _plans_manifest(work)
    finally:
        image.write_bytes(original)
