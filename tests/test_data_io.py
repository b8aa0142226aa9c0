"""radgen.io (contract files, the one atomic writer) and the shared defaults: behaviour on small hand-made files."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from radgen.config import SCHEMA_PATH, config_hash
from radgen.io import (
    atomic_path,
    read_folds,
    read_manifest,
    read_predictions,
    write_csv,
    write_folds,
    write_json,
)


def test_atomic_path_keeps_the_old_file_on_failure_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "out.txt"
    with atomic_path(target) as tmp:
        tmp.write_text("first")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed mid-way")
    assert target.read_text() == "first"
    assert [p.name for p in target.parent.iterdir()] == ["out.txt"]


def test_outputs_get_the_permissions_of_any_user_file(tmp_path: Path) -> None:
    mask = os.umask(0)
    os.umask(mask)
    write_csv(pd.DataFrame({"a": [1]}), tmp_path / "x.csv")
    (tmp_path / "plain.csv").write_text(
        "a\n1\n"
    )  # what open() gives: 0o666 minus the umask, not mkstemp's 0o600
    mode = stat.S_IMODE((tmp_path / "x.csv").stat().st_mode)
    assert mode == stat.S_IMODE((tmp_path / "plain.csv").stat().st_mode) == 0o666 & ~mask


def test_csv_is_byte_identical_with_unix_line_ends(tmp_path: Path) -> None:
    frame = pd.DataFrame({"image_id": ["b", "a"], "v": [1.5, 2.0]})
    write_csv(frame, tmp_path / "a.csv")
    write_csv(frame.copy(), tmp_path / "b.csv")
    assert (
        (tmp_path / "a.csv").read_bytes()
        == (tmp_path / "b.csv").read_bytes()
        == b"image_id,v\nb,1.5\na,2.0\n"
    )


def test_json_writes_nan_as_null_and_numpy_as_python(tmp_path: Path) -> None:
    write_json(
        tmp_path / "m.json", {"auc": np.float32(0.5), "missing": float("nan"), "cm": np.eye(2, dtype=int)}
    )
    assert json.loads((tmp_path / "m.json").read_text()) == {
        "auc": 0.5,
        "missing": None,
        "cm": [[1, 0], [0, 1]],
    }


def test_manifest_ids_stay_strings_and_a_missing_report_is_empty(tmp_path: Path) -> None:
    (tmp_path / "m.csv").write_text("image_id,path,label\n0001,a.png,tb\n0002,b.png,normal\n")
    m = read_manifest(tmp_path / "m.csv")
    assert m["image_id"].tolist() == ["0001", "0002"] and m["report"].tolist() == ["", ""]
    (tmp_path / "bad.csv").write_text("image_id,path\n1,a.png\n")
    with pytest.raises(ValueError, match="label"):
        read_manifest(tmp_path / "bad.csv")


def test_folds_round_trip_in_contract_order(tmp_path: Path) -> None:
    folds = pd.DataFrame(
        {"inner": ["train", "val"], "fold": [1, 0], "image_id": ["007", "008"], "extra": [0, 0]}
    )
    write_folds(folds, tmp_path / "folds.csv")
    assert (tmp_path / "folds.csv").read_text().splitlines()[0] == "image_id,fold,inner"
    back = read_folds(tmp_path / "folds.csv")
    assert back["image_id"].tolist() == ["007", "008"] and back["fold"].tolist() == [1, 0]


def test_predictions_with_a_duplicate_id_are_refused(tmp_path: Path) -> None:
    header = "image_id,label,p_normal,p_pneumonia,p_tb,report_generated\n"
    (tmp_path / "p.csv").write_text(header + "a,tb,0.1,0.1,0.8,\na,tb,0.2,0.2,0.6,\n")
    with pytest.raises(ValueError, match="duplicate image_id"):
        read_predictions(tmp_path / "p.csv")
    (tmp_path / "q.csv").write_text(header + "a,tb,0.1,0.1,0.8,\n")
    assert read_predictions(tmp_path / "q.csv")["report_generated"].tolist() == [""]


def test_build_manifest_takes_missing_synthetic_keys_from_the_schema(monkeypatch: pytest.MonkeyPatch) -> None:
    """One default for data.synthetic: the schema's (the generator itself has no n_images default)."""
    import radgen.data.synthetic as synthetic
    from radgen.data import ingest

    seen = {}

    def fake(images_dir, **kwargs):  # noqa: ANN001, ANN003, ANN202
        seen.update(kwargs)
        raise RuntimeError("stop before writing")

    monkeypatch.setattr(synthetic, "generate_synthetic", fake)
    with pytest.raises(RuntimeError, match="stop"):
        ingest.build_manifest({"source": "synthetic", "synthetic": {"seed": 5}}, "unused.csv")
    schema = yaml.safe_load(SCHEMA_PATH.read_text())["properties"]["data"]["properties"]["synthetic"][
        "properties"
    ]
    assert seen["n_images"] == schema["n_images"]["default"]
    assert seen["label_noise"] == schema["label_noise"]["default"] and seen["seed"] == 5


def test_config_hash_ignores_key_order() -> None:

    a = {"data": {"source": "synthetic", "seed": 1}, "folds": {"k": 5}}
    b = {"folds": {"k": 5}, "data": {"seed": 1, "source": "synthetic"}}
    assert config_hash(a) == config_hash(b)
    assert config_hash(a) != config_hash({**a, "folds": {"k": 4}})
