"""`radgen predict IMAGE ... --checkpoint DIR [--json]` (issue 3, item 4) and held-out prediction files.

The checkpoint is the session's reference run (tests/model_fixtures.py). Independent truth: the CLI's probabilities
for a held-out image's own PNG must equal radgen.predict.predict_fold's for that image (read from the cache);
an RGB copy of a grey image must give the grey image's result; batching must not change anything.
Every test that needs a trained model is marked slow (the reference run trains); tests/test_preprocess.py checks
the CLI against the workflow's prediction with untrained models in the fast set.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import model_fixtures as mf
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from radgen.cli import main
from radgen.constants import CLASSES, PREDICTION_COLUMNS

RADGEN_BIN = Path(sys.executable).parent / "radgen"


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def images(data, tmp_path_factory) -> dict[str, Path | str]:
    """Input files made from two held-out synthetic images (ids a, b)."""
    d = tmp_path_factory.mktemp("cli_images")
    held_out = data.part(mf.FOLD, "test")["image_id"].tolist()
    a, b = held_out[0], held_out[1]
    gray = np.asarray(Image.open(data.image_path(a)).convert("L"))
    assert gray.shape == (mf.IMAGE_SIZE, mf.IMAGE_SIZE)
    out: dict[str, Path | str] = {"id_a": a, "id_b": b}
    out["gray_png"] = d / "gray.png"
    shutil.copy(data.image_path(a), out["gray_png"])
    out["rgb_png"] = d / "rgb.png"
    Image.fromarray(np.stack([gray] * 3, -1), mode="RGB").save(out["rgb_png"])
    # RGB JPEG of another image, another (non-square) size, slightly tinted
    other = np.asarray(Image.open(data.image_path(b)).convert("L").resize((45, 57), Image.Resampling.BICUBIC))
    rgb = np.stack([other, other, np.clip(other.astype(int) + 6, 0, 255).astype(np.uint8)], -1)
    out["rgb_jpg"] = d / "other.jpg"
    Image.fromarray(rgb, mode="RGB").save(out["rgb_jpg"], quality=92)
    out["big_png"] = d / "big.png"
    Image.fromarray(gray).resize((80, 80), Image.Resampling.BILINEAR).save(out["big_png"])
    out["corrupt_png"] = d / "corrupt.png"
    out["corrupt_png"].write_bytes(b"\x89PNG\r\n\x1a\n this is not really a PNG")
    out["truncated_jpg"] = d / "truncated.jpg"
    blob = out["rgb_jpg"].read_bytes()
    out["truncated_jpg"].write_bytes(blob[: len(blob) // 2])
    return out


def run_cli(args: list[str], capsys) -> tuple[int, str, str]:
    capsys.readouterr()
    try:
        rc = main(["predict", *map(str, args)])
    except SystemExit as exc:  # argparse errors
        rc = exc.code
    except Exception as err:  # noqa: BLE001 - a traceback is exactly what the CLI must not produce
        pytest.fail(f"radgen predict crashed with {type(err).__name__} instead of a clear error: {err}")
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


def run_json(paths: list[Path], checkpoint: Path, capsys, *extra: str) -> list[dict]:
    rc, out, err = run_cli([*paths, "--checkpoint", checkpoint, "--json", *extra], capsys)
    assert rc == 0, err
    return json.loads(out)


def probs(result: dict) -> np.ndarray:
    return np.array([result["probabilities"][c] for c in CLASSES])


# --------------------------------------------------------------------------- success
@pytest.mark.slow  # trains (the session's reference run)
def test_png_and_rgb_jpeg_of_another_size(reference, images, capsys):
    paths = [images["gray_png"], images["rgb_jpg"]]
    results = run_json(paths, reference.model_dir, capsys)
    assert [r["image"] for r in results] == [str(p) for p in paths]
    for r in results:
        assert list(r["probabilities"]) == list(CLASSES)
        p = probs(r)
        assert ((p >= 0) & (p <= 1)).all() and abs(p.sum() - 1) < 1e-5
        assert r["predicted"] == CLASSES[int(p.argmax())]
        assert isinstance(r["report"], str)  # its content is checked against predict_fold below


@pytest.mark.slow  # trains (the session's reference run)
def test_text_output(reference, images, capsys):
    paths = [images["gray_png"], images["rgb_jpg"]]
    rc, out, err = run_cli([*paths, "--checkpoint", reference.model_dir], capsys)
    assert rc == 0, err
    as_json = run_json(paths, reference.model_dir, capsys)
    blocks = re.split(r"^(?=\S)", out, flags=re.M)
    blocks = [b for b in blocks if b.strip()]
    assert len(blocks) == len(paths)
    for block, path, expected in zip(blocks, paths, as_json, strict=True):
        assert block.splitlines()[0] == str(path)
        predicted = re.search(r"predicted: (\w+)", block).group(1)
        assert predicted in CLASSES and predicted == expected["predicted"]
        values = dict(re.findall(r"p_(\w+)=([0-9.]+)", block))
        assert list(values) == list(CLASSES)
        assert abs(sum(float(v) for v in values.values()) - 1) < 0.0025
        report = re.search(r"report: (.*)", block).group(1)
        assert report == (expected["report"] or "-")


@pytest.mark.slow  # trains (the session's reference run)
def test_matches_held_out_predictions(reference, images, capsys):
    """The CLI on a held-out image's own PNG gives predict_fold's probabilities and report for that image."""
    (result,) = run_json([images["gray_png"]], reference.model_dir, capsys)
    row = reference.predictions.set_index("image_id").loc[images["id_a"]]
    assert np.allclose(probs(result), row[["p_normal", "p_pneumonia", "p_tb"]].to_numpy(float), atol=1e-5)
    assert result["report"] == row["report_generated"]


@pytest.mark.slow  # trains (the session's reference run)
def test_rgb_copy_and_batching_change_nothing(reference, images, capsys):
    paths = [images["gray_png"], images["rgb_png"], images["rgb_jpg"], images["big_png"], images["gray_png"]]
    batched = run_json(paths, reference.model_dir, capsys, "--batch-size", "2")
    single = run_json(paths, reference.model_dir, capsys, "--batch-size", "1")
    assert [r["image"] for r in batched] == [str(p) for p in paths]
    for a, b in zip(batched, single, strict=True):
        assert np.allclose(probs(a), probs(b), atol=2e-6) and a["report"] == b["report"]
    gray, rgb = batched[0], batched[1]
    assert np.array_equal(probs(gray), probs(rgb)) and gray["report"] == rgb["report"]
    assert batched[4] == {**gray, "image": str(paths[4])}


@pytest.mark.slow  # trains (the session's reference run)
def test_console_script(reference, images):
    """The installed `radgen` entry point, in a fresh process."""
    if not RADGEN_BIN.exists():
        pytest.skip(f"{RADGEN_BIN} not installed (pip install -e .)")
    ok = subprocess.run(
        [
            str(RADGEN_BIN),
            "predict",
            str(images["gray_png"]),
            str(images["rgb_jpg"]),
            "--checkpoint",
            str(reference.model_dir),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr[-3000:]
    results = json.loads(ok.stdout)
    assert len(results) == 2 and all(abs(probs(r).sum() - 1) < 1e-5 for r in results)
    row = reference.predictions.set_index("image_id").loc[images["id_a"]]
    assert np.allclose(probs(results[0]), row[["p_normal", "p_pneumonia", "p_tb"]].to_numpy(float), atol=1e-4)
    # (error exits are checked in-process below: the entry point is `sys.exit(radgen.cli.main())`)


# --------------------------------------------------------------------------- errors
@pytest.mark.slow  # trains (the session's reference run)
def test_missing_image(reference, images, tmp_path, capsys):
    missing = tmp_path / "does_not_exist.png"
    rc, out, err = run_cli([images["gray_png"], missing, "--checkpoint", reference.model_dir], capsys)
    assert rc != 0 and str(missing) in err and out == ""


@pytest.mark.slow  # trains (the session's reference run)
@pytest.mark.parametrize("key", ["corrupt_png", "truncated_jpg"])
def test_corrupt_image(reference, images, capsys, key):
    rc, out, err = run_cli([images["gray_png"], images[key], "--checkpoint", reference.model_dir], capsys)
    assert rc != 0 and str(images[key]) in err and out == ""


@pytest.mark.slow  # trains (the session's reference run)
def test_every_bad_image_is_named_at_once(reference, images, tmp_path, capsys):
    missing = tmp_path / "gone.jpg"
    rc, _, err = run_cli(
        [images["corrupt_png"], missing, images["truncated_jpg"], "--checkpoint", reference.model_dir], capsys
    )
    assert rc != 0
    for p in (images["corrupt_png"], missing, images["truncated_jpg"]):
        assert str(p) in err


def _damage(d: Path, how: str) -> str:
    """Damage the copied checkpoint `d`; return the name the error message must contain."""
    if how == "missing_weights":
        (d / "model.safetensors").unlink()
        return "model.safetensors"
    if how == "missing_config":
        (d / "config.json").unlink()
        return "config.json"
    if how == "missing_text_tokenizer":
        shutil.rmtree(d / "tokenizer_text")
        return "tokenizer_text"
    if how == "missing_report_tokenizer":
        shutil.rmtree(d / "tokenizer_report")
        return "tokenizer_report"
    if how == "missing_tokenizer_json":  # tokenizer_config.json left, the vocabulary itself gone
        (d / "tokenizer_text" / "tokenizer.json").unlink()
        return "tokenizer.json"
    if how == "truncated_weights":  # e.g. a copy interrupted half-way
        blob = (d / "model.safetensors").read_bytes()
        (d / "model.safetensors").write_bytes(blob[: len(blob) // 2])
        return "model.safetensors"
    if how == "corrupt_config":
        (d / "config.json").write_text('{"format": "radgen-checkpoint", ')
        return "config.json"
    raise ValueError(how)


@pytest.mark.slow  # trains (the session's reference run)
@pytest.mark.parametrize(
    "how",
    [
        "missing_weights",
        "missing_config",
        "missing_text_tokenizer",
        "missing_report_tokenizer",
        "missing_tokenizer_json",
        "truncated_weights",
        "corrupt_config",
    ],
)
def test_incomplete_checkpoint_directory(reference, images, tmp_path, capsys, how):
    d = tmp_path / "ckpt"
    shutil.copytree(reference.model_dir, d)
    name = _damage(d, how)
    rc, out, err = run_cli([images["gray_png"], "--checkpoint", d], capsys)
    assert rc != 0 and out == ""
    assert name in err, f"the error does not name {name}: {err}"


def test_checkpoint_directory_that_does_not_exist(images, tmp_path, capsys):
    d = tmp_path / "nowhere"
    rc, _, err = run_cli([images["gray_png"], "--checkpoint", d], capsys)
    assert rc != 0 and str(d) in err


# --------------------------------------------------------------------------- models that read another's reports
@pytest.fixture(scope="module")
def report_only(reference, data, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report_only") / "fold0"
    mf.train(mf.variant("report_only", epochs=1), data, out, reports_model_dir=reference.model_dir)
    return out


@pytest.mark.slow  # trains (the session's reference run)
def test_reports_from_model_reads_the_generators_reports(reference, report_only, images, capsys):
    paths = [images["gray_png"], images["rgb_jpg"]]
    own = run_json(paths, reference.model_dir, capsys)
    results = run_json(paths, report_only, capsys, "--reports-from", str(reference.model_dir))
    for r, g in zip(results, own, strict=True):
        assert r["report"] == g["report"]  # the text it read is RadGen's generated report for that image
        assert abs(probs(r).sum() - 1) < 1e-5
    rc, _, err = run_cli([images["gray_png"], "--checkpoint", report_only], capsys)
    assert rc != 0 and "--reports-from" in err


@pytest.mark.slow  # trains (the session's reference run)
def test_predict_fold_of_reports_from_variant(reference, report_only, data, tmp_path):
    from radgen.predict import write_predictions

    csv = tmp_path / "radgen_fold0.csv"
    write_predictions(reference.predictions, csv)
    preds = mf.predict(report_only, data, reports_predictions=csv)
    assert list(preds.columns) == list(PREDICTION_COLUMNS)
    merged = preds.merge(reference.predictions, on="image_id", suffixes=("", "_src"))
    assert len(merged) == len(preds) == len(reference.predictions)
    assert (merged["report_generated"] == merged["report_generated_src"]).all()
    assert np.allclose(preds[["p_normal", "p_pneumonia", "p_tb"]].sum(axis=1), 1, atol=1e-5)
    with pytest.raises(ValueError, match="reports"):
        mf.predict(report_only, data)


def test_image_only_predictions_leave_report_empty(data, tmp_path):
    mf.train(mf.variant("swin_b", epochs=1), data, tmp_path / "m")
    preds = mf.predict(tmp_path / "m", data)
    assert list(preds.columns) == list(PREDICTION_COLUMNS)
    assert (preds["report_generated"] == "").all()
    written = tmp_path / "p.csv"
    from radgen.predict import write_predictions

    write_predictions(preds, written)
    back = pd.read_csv(written, keep_default_na=False)
    assert (back["report_generated"] == "").all() and len(back) == len(preds)
