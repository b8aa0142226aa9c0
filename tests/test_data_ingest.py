"""Ingestion of folder and csv sources: aliases, reports, conversions, and one error naming every bad input."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from radgen.data.ingest import (
    IngestError,
    build_manifest,
    folder_inputs,
    image_id_from,
    ingest,
    normalize_label,
    reports_required,
)
from radgen.io import read_manifest

_counter = iter(range(10**6))


def save(path: Path, mode: str = "L", size=(24, 20)) -> Path:
    """A unique small film in the requested storage format."""
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = np.random.default_rng(next(_counter)).integers(0, 256, size[::-1], dtype=np.uint8)
    if mode == "I;16":
        Image.fromarray(arr.astype(np.uint16) * 16).save(path)
    else:
        Image.fromarray(arr, mode="L").convert(mode).save(path)
    return path


@pytest.fixture
def tree(tmp_path, monkeypatch):
    """data/xray/{NORMAL,Pneumonia,Tuberculosis} with mixed formats and a reports.csv."""
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "data" / "xray"
    save(root / "NORMAL" / "n1.png")
    save(root / "NORMAL" / "sub" / "n2.png", "RGB")
    save(root / "Pneumonia" / "p1.png", "RGBA")
    save(root / "Pneumonia" / "p2.png", "P")
    save(root / "Pneumonia" / "p3.jpg", "RGB")
    save(root / "Tuberculosis" / "t1.png", "I;16")
    save(root / "Tuberculosis" / "t2.png")
    (root / "Tuberculosis" / ".DS_Store").write_text("junk")
    (root / "README.txt").write_text("about this data")
    pd.DataFrame(
        {
            "filename": ["n1.png", "NORMAL/sub/n2.png", "p1.png", "p2.png", "p3.jpg", "t1.png", "t2.png"],
            "report": [
                "Clear lungs.",
                "Normal.",
                "RLL consolidation.",
                "Patchy opacity.",
                "LUL pneumonia.",
                "Upper zone cavity.",
                "Apical nodules.",
            ],
            "patient_id": ["A", "B", "C", "C", "D", "E", ""],
        }
    ).to_csv(root / "reports.csv", index=False)
    return root


def test_label_aliases():
    assert normalize_label("NORMAL") == "normal" and normalize_label("Healthy") == "normal"
    assert normalize_label("PNEUMONIA") == "pneumonia" and normalize_label("bacterial") == "pneumonia"
    assert normalize_label("Tuberculosis") == "tb" and normalize_label("TB") == "tb"
    assert normalize_label("covid") is None


def test_image_ids_are_stable_and_readable():
    assert image_id_from("NORMAL/sub/IM-0001.png") == "NORMAL__sub__IM-0001"
    assert image_id_from("x y.png") == "x_y"


def test_folder_tree_with_aliases_and_reports(tree, caplog):
    with caplog.at_level(logging.WARNING):
        m = ingest("folder", "data/xray", require_reports=True)
    assert list(m.columns) == ["image_id", "path", "label", "patient_id", "report"]
    assert sorted(m["label"].value_counts().items()) == [("normal", 2), ("pneumonia", 3), ("tb", 2)]
    row = m.set_index("image_id").loc["NORMAL__sub__n2"]
    assert (
        row["path"] == "data/xray/NORMAL/sub/n2.png"
        and row["report"] == "Normal."
        and row["patient_id"] == "B"
    )
    assert (m.loc[m["image_id"].isin(["Pneumonia__p1", "Pneumonia__p2"]), "patient_id"] == "C").all()
    # t2 has no patient id: it becomes its own patient, with a warning
    assert m.set_index("image_id").loc["Tuberculosis__t2", "patient_id"] == "Tuberculosis__t2"
    assert "no patient_id" in caplog.text and "README.txt" in caplog.text


def test_csv_manifest_paths_relative_to_csv(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    base = tmp_path / "site"
    for name in ("a.png", "b.png", "c.png", "d.png"):
        save(base / "imgs" / name)
    pd.DataFrame(
        {
            "path": ["imgs/a.png", "imgs/b.png", "imgs/c.png", str(base / "imgs" / "d.png")],
            "label": ["Normal", "PNEUMONIA", "tb", "pneumonia"],
            "report": ["r1", "r2", "r3", "r4"],
        }
    ).to_csv(base / "labels.csv", index=False)
    m = ingest("csv", "site/labels.csv", require_reports=True)
    assert list(m["path"][:3]) == ["site/imgs/a.png", "site/imgs/b.png", "site/imgs/c.png"]
    assert list(m["label"]) == ["normal", "pneumonia", "tb", "pneumonia"]
    assert (m["patient_id"] == m["image_id"]).all()  # fallback


def test_every_problem_is_listed_once_and_nothing_is_written(tree):
    root = tree
    Image.fromarray(np.zeros((50, 50), np.uint8)).save(root / "NORMAL" / "big.png")
    data = (root / "NORMAL" / "big.png").read_bytes()
    (root / "NORMAL" / "big.png").write_bytes(data[:40])  # truncated
    (root / "Pneumonia" / "fake.png").write_text("not a png")  # unreadable
    save(root / "COVID" / "c1.png")  # unknown class folder
    shutil.copy(root / "NORMAL" / "n1.png", root / "Pneumonia" / "copy_of_n1.png")  # duplicate pixels
    save(root / "Pneumonia" / "p1.bmp")  # same id as p1.png
    save(root / "stray.png")  # outside class folders
    out = Path("results/data/manifest.csv")
    with pytest.raises(IngestError) as err:
        build_manifest({"source": "folder", "path": "data/xray"}, out, require_reports=True)
    msg = str(err.value)
    for needle in (
        "data/xray/NORMAL/big.png",
        "data/xray/Pneumonia/fake.png",
        "data/xray/COVID/",
        "data/xray/Pneumonia/copy_of_n1.png",
        "Pneumonia__p1",
        "data/xray/Pneumonia/p1.bmp",
        "data/xray/stray.png",
        "unreadable image",
        "unknown label",
        "duplicate pixel content",
        "duplicate id",
        "missing report",
        "no manifest was written",
    ):
        assert needle in msg, needle
    kinds = {p.kind for p in err.value.problems}
    assert kinds >= {
        "unreadable image",
        "unknown label",
        "duplicate pixel content",
        "duplicate id",
        "missing report",
        "image outside class folder",
    }
    assert not out.exists()
    assert not out.parent.exists() or not list(out.parent.iterdir())  # no temp file left either


def test_empty_class(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    save(tmp_path / "d" / "normal" / "a.png")
    save(tmp_path / "d" / "pneumonia" / "b.png")
    (tmp_path / "d" / "tb").mkdir()
    with pytest.raises(IngestError, match=r"empty class \(1\)[\s\S]*- tb: no images"):
        ingest("folder", "d")


def test_csv_bad_rows_are_named(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("a.png", "b.png", "c.png"):
        save(tmp_path / name)
    pd.DataFrame(
        {
            "path": ["a.png", "b.png", "c.png", "a.png", "gone.png"],
            "label": ["normal", "covid", "tb", "normal", "pneumonia"],
            "report": ["r", "r", "", "r", "r"],
        }
    ).to_csv("m.csv", index=False)
    with pytest.raises(IngestError) as err:
        ingest("csv", "m.csv", require_reports=True)
    msg = str(err.value)
    assert "m.csv line 3 (b.png): label 'covid'" in msg  # unknown label
    assert "m.csv line 4 (c.png)" in msg and "missing report" in msg
    assert "duplicate id (1)" in msg and "m.csv line 5 (a.png)" in msg
    assert "gone.png" in msg and "file not found" in msg


def test_missing_columns(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    pd.DataFrame({"file": ["a.png"], "class": ["normal"]}).to_csv("m.csv", index=False)
    with pytest.raises(IngestError, match=r"missing column\(s\) \['path', 'label'\]"):
        ingest("csv", "m.csv")


def test_build_manifest_synthetic_writes_atomically(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = {"source": "synthetic", "synthetic": {"n_images": 20, "image_size": 32, "seed": 1}}
    m = build_manifest(
        data, "results/data/manifest.csv", images_dir="results/data/synthetic", require_reports=True
    )
    back = read_manifest("results/data/manifest.csv")
    assert back.equals(m.astype(str)) or back.to_dict() == m.to_dict()
    assert back["path"].str.startswith("results/data/synthetic/").all()
    assert [p.name for p in Path("results/data").iterdir() if p.name.startswith(".")] == []


def test_reports_required_follows_variants():
    base = {
        "model": {"report_generator": {"enabled": False}, "text_encoder": {"enabled": False}},
        "training": {},
    }
    assert not reports_required({**base, "variants": {"img": {}}})
    assert reports_required(
        {**base, "variants": {"img": {}, "txt": {"model": {"text_encoder": {"enabled": True}}}}}
    )


def test_folder_inputs_list_exactly_the_images_and_reports(tree):
    """The manifest rule's input for a folder source: what ingestion reads, nothing it ignores."""
    expected = [
        "data/xray/NORMAL/n1.png",
        "data/xray/NORMAL/sub/n2.png",
        "data/xray/Pneumonia/p1.png",
        "data/xray/Pneumonia/p2.png",
        "data/xray/Pneumonia/p3.jpg",
        "data/xray/Tuberculosis/t1.png",
        "data/xray/Tuberculosis/t2.png",
        "data/xray/reports.csv",
    ]
    assert folder_inputs("data/xray") == expected
    assert folder_inputs("data/nowhere") == ["data/nowhere"]  # Snakemake then names the missing input


@pytest.mark.skipif(os.sep == "\\", reason="on Windows a backslash is a path separator")
def test_reports_match_file_names_with_a_backslash(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "data"
    save(root / "NORMAL" / "a\\b.png")
    save(root / "NORMAL" / "x\\y.png")
    save(root / "NORMAL" / "sub" / "c.png")
    save(root / "Pneumonia" / "p.png")
    save(root / "TB" / "t.png")
    pd.DataFrame(
        {
            # a bare name and a path holding a backslash; Windows-style separators still work
            "filename": ["a\\b.png", "NORMAL/x\\y.png", "NORMAL\\sub\\c.png", "p.png", "TB/t.png"],
            "report": ["R1", "R2", "R3", "R4", "R5"],
        }
    ).to_csv(root / "reports.csv", index=False)
    m = ingest("folder", "data", require_reports=True)
    reports = dict(zip(m["path"], m["report"], strict=True))
    assert reports == {
        "data/NORMAL/a\\b.png": "R1",
        "data/NORMAL/x\\y.png": "R2",
        "data/NORMAL/sub/c.png": "R3",
        "data/Pneumonia/p.png": "R4",
        "data/TB/t.png": "R5",
    }
