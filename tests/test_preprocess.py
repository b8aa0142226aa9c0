"""One preprocessing (issue 11): `radgen predict FILE` sees the image the workflow cached for FILE.

Independent truth: the workflow's own path (build_cache on a manifest -> predict_fold on the cached rows) for a
set of files of several modes and shapes; the CLI on the same files must give the same probabilities (to 1e-6)
and the same generated reports. The models are randomly initialised (no training) and saved with
save_pretrained, as the workflow saves trained ones. Also the CLI's smaller error cases (device, directory).
"""

from __future__ import annotations

import json

import model_fixtures as mf
import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from radgen.cli import main
from radgen.constants import CLASSES, PROB_COLUMNS
from radgen.data.cache import build_cache
from radgen.data.images import load_image, pad_and_resize, read_gray, to_float
from radgen.models import build_model
from radgen.predict import predict_fold, write_predictions

SIZE = mf.IMAGE_SIZE
REPORTS = [
    "Clear lungs. No pleural effusion.",
    "Patchy consolidation in the right lower lobe.",
    "Nodules and a cavity in the left upper zone.",
    "Heart size normal. No focal consolidation.",
]


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    yield from mf.one_thread()


def _film(h: int, w: int, seed: int) -> np.ndarray:
    """A smooth grey pattern with structure at every scale, so that resampling choices change pixels."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = 128 + 60 * np.sin(x / 3.0 + seed) * np.cos(y / 5.0) + rng.normal(0, 20, (h, w))
    return np.clip(base, 0, 255).astype(np.uint8)


def _write_inputs(d) -> dict[str, str]:
    """Test files: (non-)square, 8/16-bit grey, RGB, RGBA, palette; ids sort in this order."""
    d.mkdir(parents=True, exist_ok=True)
    files = {
        "a_wide_rgb.png": Image.fromarray(np.stack([_film(40, 57, 1)] * 3, -1), mode="RGB"),
        "b_square_grey.png": Image.fromarray(_film(48, 48, 2), mode="L"),
        "c_tall_16bit.png": Image.fromarray(_film(50, 30, 3).astype(np.uint16) * 64 + 1000),
        "d_square_rgba.png": Image.fromarray(
            np.dstack([_film(32, 32, 4)] * 3 + [np.full((32, 32), 255, np.uint8)])
        ),
        "e_wide_palette.png": Image.fromarray(_film(36, 44, 5), mode="L").convert("P"),
    }
    for name, img in files.items():
        img.save(d / name)
    return {name.split("_")[0]: str(d / name) for name in files}


def _workflow_frames(paths: dict[str, str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Manifest and folds: the test files held out in fold 0; two more films in fold 1 (inner train / val)."""
    ids = sorted(paths)
    manifest = pd.DataFrame(
        {
            "image_id": ids,
            "path": [paths[i] for i in ids],
            "label": [CLASSES[k % len(CLASSES)] for k in range(len(ids))],
            "patient_id": ids,
            "report": [REPORTS[k % len(REPORTS)] for k in range(len(ids))],
        }
    )
    n_test = len(ids) - 2
    folds = pd.DataFrame(
        {"image_id": ids, "fold": [0] * n_test + [1, 1], "inner": ["train"] * (n_test + 1) + ["val"]}
    )
    return manifest, folds


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    d = tmp_path_factory.mktemp("preprocess")
    paths = _write_inputs(d / "images")
    extra = d / "extra"
    extra.mkdir()
    for name, seed in (("y", 6), ("z", 7)):
        Image.fromarray(_film(40, 40, seed)).save(extra / f"{name}.png")
        paths[name] = str(extra / f"{name}.png")
    manifest, folds = _workflow_frames(paths)
    build_cache(manifest, d / "cache.npy", d / "cache_index.csv", image_size=SIZE)
    models = {}
    for name in ("radgen", "report_only"):
        torch.manual_seed(0)
        model = build_model(mf.variant(name)["model"], image_size=SIZE, train_reports=REPORTS)
        models[name] = d / name
        model.save_pretrained(models[name])
    kwargs = {
        "manifest": manifest,
        "folds": folds,
        "cache": d / "cache.npy",
        "cache_index": d / "cache_index.csv",
    }
    held_out = [i for i in sorted(paths) if i not in ("y", "z")]
    return {"dir": d, "paths": paths, "held_out": held_out, "models": models, "kwargs": kwargs}


def _cli(args: list[str], capsys) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = main(["predict", *map(str, args)])
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


def _cli_json(setup, capsys, *extra: str, model: str = "radgen") -> pd.DataFrame:
    files = [setup["paths"][i] for i in setup["held_out"]]
    rc, out, err = _cli(
        [*files, "--checkpoint", setup["models"][model], "--json", "--device", "cpu", *extra], capsys
    )
    assert rc == 0, err
    rows = json.loads(out)
    assert [r["image"] for r in rows] == files
    df = pd.DataFrame([r["probabilities"] for r in rows]).rename(columns=lambda c: f"p_{c}")
    df["report"] = [r["report"] for r in rows]
    return df


# --------------------------------------------------------------------------- the one preprocessing
def test_load_image_is_what_the_cache_stores(setup):
    from radgen.data.cache import load_cache

    array, index = load_cache(setup["dir"] / "cache.npy", setup["dir"] / "cache_index.csv")
    for image_id, path in setup["paths"].items():
        assert np.array_equal(load_image(path, SIZE), array[index[image_id]])


def test_load_image_pads_non_square_films():
    """Hand-computed: a 2x4 white film becomes a 4x4 square with one black row above and below."""
    white = np.full((2, 4), 255, np.uint8)
    out = pad_and_resize(white, 4)
    assert out[0].max() == 0 and out[3].max() == 0 and (out[1:3] == 255).all()


def test_to_float_scales_and_keeps_the_cache_size():
    u8 = torch.tensor([[[[0, 255], [51, 102]]]], dtype=torch.uint8)
    assert torch.equal(to_float(u8, 2), torch.tensor([[[[0.0, 1.0], [0.2, 0.4]]]]))


def test_cli_reproduces_the_workflows_predictions(setup, capsys):
    """Non-square and square files of every mode: CLI == predict_fold on the cache, probabilities and reports."""
    expected = predict_fold(setup["models"]["radgen"], **setup["kwargs"], fold=0, device="cpu", threads=1)
    assert expected["image_id"].tolist() == setup["held_out"]
    got = _cli_json(setup, capsys, "--batch-size", "2")
    assert np.abs(got[list(PROB_COLUMNS)].to_numpy() - expected[list(PROB_COLUMNS)].to_numpy()).max() <= 1e-6
    assert got["report"].tolist() == expected["report_generated"].tolist()


def test_the_comparison_would_see_a_stretched_image(setup):
    """The check above is sharp enough: stretching the wide film instead of padding it changes its output."""
    from radgen.inference import load_predictor

    predictor = load_predictor(setup["models"]["radgen"], torch.device("cpu"))
    grey = read_gray(setup["paths"]["a"])
    stretched = np.asarray(Image.fromarray(grey).resize((SIZE, SIZE), Image.Resampling.BILINEAR))[None]
    padded, _ = predictor.predict_arrays(load_image(setup["paths"]["a"], SIZE)[None])
    wrong, _ = predictor.predict_arrays(stretched)
    assert np.abs(padded - wrong).max() > 1e-5


def test_reports_from_variant_cli_matches_workflow(setup, capsys, tmp_path):
    """report_only reading the generator's reports: the CLI's --reports-from equals the workflow's CSV route."""
    source = predict_fold(setup["models"]["radgen"], **setup["kwargs"], fold=0, device="cpu", threads=1)
    csv = tmp_path / "radgen.csv"
    write_predictions(source, csv)
    expected = predict_fold(
        setup["models"]["report_only"],
        **setup["kwargs"],
        fold=0,
        device="cpu",
        threads=1,
        reports_predictions=csv,
    )
    got = _cli_json(setup, capsys, "--reports-from", str(setup["models"]["radgen"]), model="report_only")
    assert np.abs(got[list(PROB_COLUMNS)].to_numpy() - expected[list(PROB_COLUMNS)].to_numpy()).max() <= 1e-6
    assert got["report"].tolist() == expected["report_generated"].tolist()


# --------------------------------------------------------------------------- smaller CLI points
def test_cuda_without_gpu_is_one_clear_line(setup, capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    rc, out, err = _cli(
        [setup["paths"]["a"], "--checkpoint", setup["models"]["radgen"], "--device", "cuda"], capsys
    )
    assert rc == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "cuda" in err.lower() and "Traceback" not in err


def test_directory_as_image_is_called_a_directory(setup, capsys, tmp_path):
    missing = tmp_path / "missing.png"
    rc, out, err = _cli([tmp_path, missing, "--checkpoint", setup["models"]["radgen"]], capsys)
    assert rc == 2 and out == ""
    assert f"{tmp_path}: is a directory" in err and f"{missing}: no such file" in err
    assert f"{tmp_path}: no such file" not in err
