"""`radgen predict` and predict_fold on untrained but complete checkpoints: formats, images, error messages.

Fast (no training): the CLI's behaviour does not depend on whether a model is any good.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from radgen.cli import main
from radgen.config import load_config, variant_config
from radgen.constants import PREDICTION_COLUMNS
from radgen.models import build_model
from radgen.predict import predict_fold, write_predictions
from radgen.train.toydata import make_toy_dataset, toy_config

ROOT = Path(__file__).resolve().parent.parent
REPORTS = [
    "No acute abnormality.",
    "Right lower zone consolidation, pneumonia.",
    "Left apical cavity, tuberculosis.",
]


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    config = toy_config(load_config(ROOT / "config" / "config.yaml"))
    root = tmp_path_factory.mktemp("ckpt")
    out = {}
    for variant in ("radgen", "swin_b", "early_fusion"):
        torch.manual_seed(0)
        v = variant_config(config, variant)
        model = build_model(
            v["model"],
            image_size=32,
            train_reports=REPORTS * 4,
            metadata={"variant": variant, "reports_from": v["reports_from"]},
        )
        model.save_pretrained(root / variant)
        out[variant] = root / variant
    return out


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("img")
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (70, 50), dtype=np.uint8)).save(d / "gray.png")
    Image.fromarray(rng.integers(0, 256, (40, 64, 3), dtype=np.uint8)).save(d / "rgb.jpg", quality=90)
    (d / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    return {
        "png": d / "gray.png",
        "jpg": d / "rgb.jpg",
        "corrupt": d / "corrupt.png",
        "missing": d / "nope.png",
    }


def test_cli_png_and_jpeg_json(checkpoints: dict, images: dict, capsys: pytest.CaptureFixture) -> None:
    rc = main(
        [
            "predict",
            str(images["png"]),
            str(images["jpg"]),
            "--checkpoint",
            str(checkpoints["radgen"]),
            "--json",
            "--batch-size",
            "1",
        ]
    )
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    assert [r["image"] for r in out] == [str(images["png"]), str(images["jpg"])]
    for r in out:
        assert set(r["probabilities"]) == {"normal", "pneumonia", "tb"}
        assert abs(sum(r["probabilities"].values()) - 1) < 1e-4
        assert r["predicted"] == max(r["probabilities"], key=r["probabilities"].get)
        assert isinstance(r["report"], str)


def test_cli_batching_does_not_change_results(
    checkpoints: dict, images: dict, capsys: pytest.CaptureFixture
) -> None:
    args = [
        "predict",
        str(images["png"]),
        str(images["jpg"]),
        "--checkpoint",
        str(checkpoints["swin_b"]),
        "--json",
    ]
    main([*args, "--batch-size", "1"])
    one = json.loads(capsys.readouterr().out)
    main([*args, "--batch-size", "2"])
    two = json.loads(capsys.readouterr().out)
    for a, b in zip(one, two, strict=True):
        assert a["predicted"] == b["predicted"] and a["report"] == b["report"] == ""
        assert all(abs(a["probabilities"][c] - b["probabilities"][c]) < 1e-5 for c in a["probabilities"])


def test_cli_text_output(checkpoints: dict, images: dict, capsys: pytest.CaptureFixture) -> None:
    assert main(["predict", str(images["jpg"]), "--checkpoint", str(checkpoints["radgen"])]) == 0
    text = capsys.readouterr().out
    assert "predicted:" in text and "p_normal=" in text and "report:" in text


def test_cli_bad_images_are_all_reported(
    checkpoints: dict, images: dict, capsys: pytest.CaptureFixture
) -> None:
    rc = main(
        [
            "predict",
            str(images["png"]),
            str(images["corrupt"]),
            str(images["missing"]),
            "--checkpoint",
            str(checkpoints["radgen"]),
        ]
    )
    err = capsys.readouterr().err
    assert rc == 2
    assert "corrupt.png" in err and "nope.png" in err and "gray.png" not in err


def test_cli_incomplete_checkpoint(
    checkpoints: dict, images: dict, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(checkpoints["radgen"], broken)
    (broken / "model.safetensors").unlink()
    shutil.rmtree(broken / "tokenizer_report")
    rc = main(["predict", str(images["png"]), "--checkpoint", str(broken)])
    err = capsys.readouterr().err
    assert rc == 2 and "model.safetensors" in err and "tokenizer_report" in err
    assert main(["predict", str(images["png"]), "--checkpoint", str(tmp_path / "none")]) == 2


def test_cli_model_without_generator_needs_reports_from(
    checkpoints: dict, images: dict, capsys: pytest.CaptureFixture
) -> None:
    assert main(["predict", str(images["png"]), "--checkpoint", str(checkpoints["early_fusion"])]) == 2
    assert "--reports-from" in capsys.readouterr().err
    rc = main(
        [
            "predict",
            str(images["png"]),
            "--checkpoint",
            str(checkpoints["early_fusion"]),
            "--reports-from",
            str(checkpoints["radgen"]),
            "--json",
        ]
    )
    assert rc == 0 and len(json.loads(capsys.readouterr().out)) == 1


def test_predict_fold_format(checkpoints: dict, tmp_path: Path) -> None:
    data = make_toy_dataset(tmp_path / "toy", n=30, size=32, k=3)
    df = predict_fold(checkpoints["radgen"], **data, fold=1, threads=1)
    assert tuple(df.columns) == PREDICTION_COLUMNS
    folds = pd.read_csv(data["folds"])
    assert set(df["image_id"]) == set(folds.loc[folds["fold"] == 1, "image_id"])
    write_predictions(df, tmp_path / "pred" / "fold1.csv")
    back = pd.read_csv(tmp_path / "pred" / "fold1.csv", keep_default_na=False)
    assert tuple(back.columns) == PREDICTION_COLUMNS and len(back) == len(df)
    image_only = predict_fold(checkpoints["swin_b"], **data, fold=1, threads=1)
    assert image_only["report_generated"].eq("").all()
