"""A `folder` source is an input of the manifest: adding, removing or changing an image reruns it.

Cheap: a copy of the workflow, six 16 px images, and only the manifest target (one real run, then dry runs).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image
from test_workflow_e2e import ROOT, run

COPIED = ("workflow", "scripts", "config", "radgen")
TARGET = "results/data/manifest.csv"


def _image(path: Path, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (16, 16), dtype=np.uint8)).save(path)


def _snakemake(work: Path, *args: str) -> subprocess.CompletedProcess:
    pythonpath = os.pathsep.join([str(work), os.environ.get("PYTHONPATH", "")])
    args = (TARGET, *args, "--cores", "1", "--configfile", "folder.yaml")
    return run(list(args), work, timeout=300, env={"PYTHONPATH": pythonpath})


def _plans_manifest(work: Path) -> bool:
    result = _snakemake(work, "-n")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return "rule manifest:" in result.stdout + result.stderr


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("folder_source")
    ignore = shutil.ignore_patterns("__pycache__")
    for name in COPIED:
        shutil.copytree(ROOT / name, work / name, ignore=ignore)
    names = []
    for k, folder in enumerate(("NORMAL", "PNEUMONIA", "TB")):
        for i in range(2):
            _image(work / "data" / folder / f"{i}.png", seed=10 * k + i)
            names.append(f"{folder}/{i}.png")
    reports = pd.DataFrame({"filename": names, "report": "Some finding.", "patient_id": names})
    reports.to_csv(work / "data" / "reports.csv", index=False)
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    config["data"] = {"source": "folder", "path": "data", "image_size": 16}
    (work / "folder.yaml").write_text(yaml.safe_dump(config))
    result = _snakemake(work)
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(pd.read_csv(work / TARGET)) == 6
    return work


def test_unchanged_folder_is_up_to_date(work):
    assert not _plans_manifest(work)


def test_added_image_reruns_the_manifest(work):
    extra = work / "data" / "TB" / "extra.png"
    _image(extra, seed=99)
    try:
        assert _plans_manifest(work)
    finally:
        extra.unlink()
    assert not _plans_manifest(work)


def test_removed_or_changed_image_reruns_the_manifest(work):
    image = work / "data" / "NORMAL" / "1.png"
    moved = work / "NORMAL_1.png"
    image.rename(moved)
    try:
        assert _plans_manifest(work)
    finally:
        moved.rename(image)
    original = image.read_bytes()
    _image(
        image, seed=123
    )  # new pixels (a mere touch is no change: Snakemake compares small files' checksums)
    later = (work / TARGET).stat().st_mtime + 10
    os.utime(image, (later, later))
    try:
        assert _plans_manifest(work)
    finally:
        image.write_bytes(original)
