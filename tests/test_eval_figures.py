"""Figures render to PDF and PNG from small hand-made results, including when inputs are missing."""

from __future__ import annotations

import runpy
from pathlib import Path
from types import SimpleNamespace

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from radgen.constants import CLASSES
from radgen.evaluate.figures import (
    FIGURE_NAMES,
    _pick_examples,
    make_figures,
    plot_calibration,
    plot_roc,
    read_train_logs,
    reliability,
)

ROOT = Path(__file__).resolve().parent.parent


def _results(tmp_path: Path, n: int = 60) -> dict:
    rng = np.random.default_rng(0)
    y = rng.choice(3, size=n, p=[0.2, 0.5, 0.3])
    ids = [f"img{i:02d}" for i in range(n)]
    images = tmp_path / "images"
    images.mkdir()
    for i in ids[:8]:
        Image.fromarray(rng.integers(0, 255, size=(32, 32), dtype=np.uint8)).save(images / f"{i}.png")
    manifest = pd.DataFrame(
        {
            "image_id": ids,
            "path": [str(images / f"{i}.png") for i in ids],
            "label": [CLASSES[k] for k in y],
            "patient_id": ids,
            "report": ["The lungs are clear. No effusion."] * n,
        }
    )
    preds = {}
    for variant, strength in {"radgen": 2.0, "densenet121": 1.0}.items():
        logits = rng.normal(size=(n, 3))
        logits[np.arange(n), y] += strength
        p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
        preds[variant] = pd.DataFrame(
            {
                "image_id": ids,
                "label": [CLASSES[k] for k in y],
                "p_normal": p[:, 0],
                "p_pneumonia": p[:, 1],
                "p_tb": p[:, 2],
                "report_generated": "Right lower lobe consolidation.",
            }
        )
    logs = {}
    for fold in range(2):
        e = np.arange(5)
        logs[f"fold{fold}"] = pd.DataFrame(
            {
                "epoch": e,
                "train_loss": 1 / (e + 1),
                "val_macro_auc": 0.5 + e / 10,
                "lr_fusion_head": 1e-3 * (1 - e / 5),
            }
        )
    return {"manifest": manifest, "pooled": preds, "logs": logs}


def _check_outputs(out: Path, written: list[Path]) -> None:
    expected = {out / f"{name}.{ext}" for name in FIGURE_NAMES for ext in ("pdf", "png")}
    assert set(written) == expected
    for path in expected:
        assert path.stat().st_size > 1000, path
        if path.suffix == ".png":
            with Image.open(path) as im:
                assert im.size[0] > 100 and im.size[1] > 30
        else:
            assert path.read_bytes()[:5] == b"%PDF-"


def test_figures_with_missing_inputs(tmp_path: Path) -> None:
    res = _results(tmp_path)
    out = tmp_path / "figures"
    # no reference variant, no training log, no manifest: placeholder pages, never a missing file
    written = make_figures({"densenet121": res["pooled"]["densenet121"]}, out, reference="radgen")
    _check_outputs(out, written)


def test_reliability_and_examples() -> None:
    y = np.array([0, 0, 1, 1])
    p = np.array([0.05, 0.15, 0.85, 0.95])
    mean_p, freq, count, ece = reliability(y, p, n_bins=10)
    assert count.sum() == 4 and ece == pytest.approx(0.1)
    df = pd.DataFrame(
        {
            "image_id": list("abcd"),
            "label": ["normal", "normal", "tb", "tb"],
            "p_normal": [0.9, 0.2, 0.1, 0.6],
            "p_pneumonia": [0.05, 0.1, 0.1, 0.1],
            "p_tb": [0.05, 0.7, 0.8, 0.3],
            "report_generated": "",
        }
    )
    picked = {(kind, row["image_id"]) for kind, row in _pick_examples(df)}
    assert ("best", "a") in picked and ("worst", "b") in picked
    assert ("best", "c") in picked and ("worst", "d") in picked


def test_read_train_logs_tolerates_missing_files(tmp_path: Path) -> None:
    good = tmp_path / "fold0" / "train_log.csv"
    good.parent.mkdir()
    pd.DataFrame({"train_loss": [1.0, 0.5]}).to_csv(good, index=False)
    logs = read_train_logs([good, tmp_path / "fold1" / "train_log.csv"])
    assert list(logs) == ["fold0"] and list(logs["fold0"]["epoch"]) == [0, 1]


def test_figures_through_the_script_adapter(tmp_path: Path) -> None:
    """Full inputs: every figure is drawn by the adapter the Snakemake rule runs."""
    res = _results(tmp_path)
    models = []
    for variant in res["pooled"]:
        for fold, df in res["logs"].items():
            folder = tmp_path / "models" / variant / fold
            folder.mkdir(parents=True)
            if variant == "radgen":
                df.to_csv(folder / "train_log.csv", index=False)
            models.append(str(folder))
    paths = []
    for variant, df in res["pooled"].items():
        folder = tmp_path / "predictions" / variant
        folder.mkdir(parents=True)
        for fold in range(2):
            df.iloc[fold::2].to_csv(folder / f"fold{fold}.csv", index=False)
            paths.append(str(folder / f"fold{fold}.csv"))
    res["manifest"].to_csv(tmp_path / "manifest.csv", index=False)
    outputs = [str(tmp_path / "figures" / f"{n}.{e}") for n in FIGURE_NAMES for e in ("pdf", "png")]
    smk = SimpleNamespace(
        input=SimpleNamespace(predictions=paths, manifest=str(tmp_path / "manifest.csv"), models=models),
        output=outputs,
        params=SimpleNamespace(
            reference="radgen",
            labels={"radgen": "RadGen", "densenet121": "DenseNet-121"},
            drawn=["radgen", "densenet121"],
        ),
        log=[str(tmp_path / "figures.log")],
    )
    runpy.run_path(str(ROOT / "scripts" / "evaluate_figures.py"), init_globals={"snakemake": smk})
    _check_outputs(tmp_path / "figures", [Path(p) for p in outputs])


def test_variant_labels_with_dollars_print_literally(tmp_path: Path) -> None:
    """'$' in a label is text, not mathtext: an invalid formula ('$x^$') must not crash the figures and a valid
    pair ('$x^2$') must not turn into a superscript."""
    res = _results(tmp_path)
    labels = {"radgen": "a $x^2$ b $", "densenet121": r"c $x^$ d \frac $y$"}
    for plot in (plot_roc, plot_calibration):
        fig = plot(res["pooled"], "radgen", None, labels)
        fig.canvas.draw()  # mathtext is parsed here: raised ValueError for '$x^$'
        shown = [
            t._preprocess_math(t.get_text())  # what matplotlib draws, and whether as math
            for ax in fig.axes
            if ax.get_legend() is not None
            for t in ax.get_legend().get_texts()
        ]
        for label in labels.values():
            assert any(not math and text.startswith(label) for text, math in shown), (label, shown)
        plt.close(fig)
    written = make_figures(res["pooled"], tmp_path / "figures", labels=labels, manifest=res["manifest"])
    _check_outputs(tmp_path / "figures", written)
