"""Validity warnings reach people: jobs print them on the console and the data jobs keep them in JSON files."""

from __future__ import annotations

import json
import logging
import runpy
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from radgen.data.folds import MissingClassError
from radgen.data.validity import format_warnings, print_warnings, read_warnings, write_warnings
from radgen.runlog import collect_warnings, job_log

ROOT = Path(__file__).resolve().parent.parent


class Namespace(dict):
    """Snakemake's named lists: attribute access and .items()."""

    __getattr__ = dict.__getitem__


def test_job_warnings_go_to_the_console_and_the_log(tmp_path, capsys):
    log_file = tmp_path / "logs" / "job.log"
    with job_log(SimpleNamespace(log=[str(log_file)], rule="folds")):
        logging.getLogger("radgen.data.folds").info("routine detail")
        logging.getLogger("radgen.data.folds").warning("class tb is missing")
        logging.getLogger("othertool").warning("third-party chatter")
    console = capsys.readouterr().err
    assert "class tb is missing" in console and "rule folds" in console
    assert "routine detail" not in console and "third-party chatter" not in console
    text = log_file.read_text()
    assert "routine detail" in text and "class tb is missing" in text and "third-party chatter" in text


def test_collect_warnings_keeps_radgen_warnings_only():
    with collect_warnings() as messages:
        logging.getLogger("radgen.data.ingest").warning("no patient ids: %d images", 3)
        logging.getLogger("radgen.data.ingest").info("fine")
        logging.getLogger("othertool").warning("not ours")
    logging.getLogger("radgen").warning("after the block")
    assert messages == ["no patient ids: 3 images"]


def test_warning_files_round_trip(tmp_path):
    a, b = tmp_path / "manifest_warnings.json", tmp_path / "folds_warnings.json"
    write_warnings(a, "manifest", ["no patient ids"])
    write_warnings(b, "folds", [])
    assert json.loads(a.read_text()) == [{"stage": "manifest", "message": "no patient ids"}]
    assert json.loads(b.read_text()) == []
    records = read_warnings([a, b, tmp_path / "absent.json"])
    assert records == [{"stage": "manifest", "message": "no patient ids"}]
    assert "[manifest] no patient ids" in format_warnings(records) and format_warnings([]) == ""


def test_print_warnings_shows_records_and_is_silent_without(tmp_path, capsys):
    a = tmp_path / "folds_warnings.json"
    print_warnings([a])
    write_warnings(a, "folds", [])
    print_warnings([a])
    assert capsys.readouterr().err == ""
    write_warnings(a, "folds", ["class tb is missing from fold 3 held-out"])
    print_warnings([a])
    assert "[folds] class tb is missing from fold 3 held-out" in capsys.readouterr().err


def _three_tb_patients(path: Path) -> None:
    ids = [f"n{i}" for i in range(10)] + [f"p{i}" for i in range(10)] + ["t0", "t1", "t2"]
    labels = ["normal"] * 10 + ["pneumonia"] * 10 + ["tb"] * 3
    pd.DataFrame({"image_id": ids, "path": "", "label": labels, "patient_id": ids, "report": ""}).to_csv(
        path, index=False
    )


def _run_folds(tmp_path: Path, allow: bool) -> Path:
    tmp_path.mkdir()
    _three_tb_patients(tmp_path / "manifest.csv")
    out = tmp_path / "out"
    smk = SimpleNamespace(
        input=Namespace(manifest=str(tmp_path / "manifest.csv")),
        output=Namespace(folds=str(out / "folds.csv"), warnings=str(out / "folds_warnings.json")),
        params=Namespace(folds={"k": 5, "seed": 0, "inner_val_fraction": 0.15, "allow_missing_class": allow}),
        log=[str(tmp_path / "folds.log")],
        rule="folds",
    )
    runpy.run_path(str(ROOT / "scripts" / "data_folds.py"), init_globals={"snakemake": smk})
    return out


def test_folds_job_refuses_or_writes_its_warnings(tmp_path):
    with pytest.raises(MissingClassError, match="allow_missing_class"):
        _run_folds(tmp_path / "refused", allow=False)
    assert not (tmp_path / "refused" / "out" / "folds_warnings.json").exists()
    out = _run_folds(tmp_path / "allowed", allow=True)
    records = json.loads((out / "folds_warnings.json").read_text())
    assert records and all(r["stage"] == "folds" for r in records)
    assert any(r["message"].startswith("class tb (3 patient(s)) is missing") for r in records)
    assert len(pd.read_csv(out / "folds.csv")) == 23


def test_manifest_job_writes_the_no_patient_id_warning(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    for folder in ("NORMAL", "PNEUMONIA", "TB"):
        for i in range(2):
            (tmp_path / "data" / folder).mkdir(parents=True, exist_ok=True)
            pixels = rng.integers(0, 256, (16, 16), dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / "data" / folder / f"{i}.png")
    smk = SimpleNamespace(
        output=Namespace(manifest="results/manifest.csv", warnings="results/manifest_warnings.json"),
        params=Namespace(data={"source": "folder", "path": "data"}, require_reports=False),
        threads=1,
        log=["results/manifest.log"],
        rule="manifest",
    )
    runpy.run_path(str(ROOT / "scripts" / "data_manifest.py"), init_globals={"snakemake": smk})
    records = json.loads(Path("results/manifest_warnings.json").read_text())
    assert [r["stage"] for r in records] == ["manifest"]
    assert "6 of 6 images have no patient_id" in records[0]["message"]
