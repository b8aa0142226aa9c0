"""Figures: what each plot draws (axes, curves, labels, values, read back from the Figure) and that every
declared file is written, including when inputs are missing."""

from __future__ import annotations

import runpy
from pathlib import Path
from types import SimpleNamespace

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from PIL import Image
from sklearn.metrics import roc_auc_score

from radgen.constants import CLASSES
from radgen.evaluate.figures import (
    FIGURE_NAMES,
    make_figures,
    plot_calibration,
    plot_confusion,
    plot_qualitative,
    plot_roc,
    plot_training_curves,
    read_train_logs,
    reliability,
)
from radgen.evaluate.figures.qualitative import _pick_examples

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
    for path in expected:  # a real PDF / PNG (what is drawn in them is tested on the Figures below)
        if path.suffix == ".png":
            with Image.open(path) as im:
                assert im.format == "PNG"
        else:
            assert path.read_bytes()[:5] == b"%PDF-"


@pytest.mark.slow  # every figure of a run (several seconds)
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


@pytest.mark.slow  # every figure of a run (several seconds)
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


@pytest.mark.slow  # every figure of a run (several seconds)
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


def _legend_texts(ax) -> list[str]:
    return [t.get_text() for t in ax.get_legend().get_texts()]


def test_roc_draws_one_curve_per_variant_with_its_auc(tmp_path: Path) -> None:
    res = _results(tmp_path)
    fig = plot_roc(res["pooled"], "radgen", None, {"radgen": "RadGen", "densenet121": "DenseNet"})
    assert len(fig.axes) == len(CLASSES)
    assert fig.axes[0].get_ylabel() == "True positive rate (sensitivity)"
    for k, ax in enumerate(fig.axes):
        assert ax.get_title() == ["Normal", "Pneumonia", "Tuberculosis"][k] + " vs rest"
        assert ax.get_xlabel() == "False positive rate (1 - specificity)"
        lines = ax.get_lines()
        assert len(lines) == 3  # chance diagonal + two variants
        for line, variant, label in zip(lines[1:], ("radgen", "densenet121"), _legend_texts(ax), strict=True):
            df = res["pooled"][variant]
            truth = roc_auc_score(df["label"] == CLASSES[k], df[f"p_{CLASSES[k]}"])
            assert label == f"{'RadGen' if variant == 'radgen' else 'DenseNet'} ({truth:.3f})"
            x, y = line.get_data()
            assert np.trapezoid(y, x) == pytest.approx(truth)  # the drawn curve is the ROC of that AUC
    plt.close(fig)


def test_confusion_shows_counts_and_row_percentages(tmp_path: Path) -> None:
    df = pd.DataFrame(
        {
            "image_id": list("abcdef"),
            "label": ["normal", "normal", "pneumonia", "pneumonia", "pneumonia", "tb"],
            "p_normal": [0.8, 0.1, 0.1, 0.7, 0.2, 0.1],
            "p_pneumonia": [0.1, 0.8, 0.8, 0.2, 0.7, 0.1],
            "p_tb": [0.1, 0.1, 0.1, 0.1, 0.1, 0.8],
            "report_generated": "",
        }
    )
    fig = plot_confusion(df)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["Normal", "Pneumonia", "TB"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["Normal", "Pneumonia", "TB"]
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) == (
        "Predicted class",
        "True class",
        "Confusion matrix (n = 6)",
    )
    # rows true, columns predicted: normal 1/1/0, pneumonia 1/2/0, tb 0/0/1
    expected = {
        (0, 0): "1\n50.0%",
        (0, 1): "1\n50.0%",
        (1, 0): "1\n33.3%",
        (1, 1): "2\n66.7%",
        (2, 2): "1\n100.0%",
    }
    cells = {(round(t.get_position()[1]), round(t.get_position()[0])): t.get_text() for t in ax.texts}
    assert len(cells) == 9
    for (i, j), text in cells.items():
        assert text == expected.get((i, j), "0\n0.0%"), (i, j, text)
    assert ax.images[0].get_array()[1, 1] == pytest.approx(2 / 3)  # colour = fraction of the true class
    plt.close(fig)


def test_training_curves_one_line_per_fold_and_best_epoch_marked(tmp_path: Path) -> None:
    logs = _results(tmp_path)["logs"]
    logs["fold1"] = logs["fold1"].assign(val_macro_auc=[0.6, 0.9, 0.7, 0.8, 0.5])
    fig = plot_training_curves(logs)
    loss, auc, lr = fig.axes
    assert [a.get_title() for a in fig.axes] == [
        "Training loss",
        "Inner-validation macro-AUC (★ best)",
        "Learning rates",
    ]
    assert [a.get_xlabel() for a in fig.axes] == ["epoch"] * 3
    assert len([ln for ln in loss.get_lines() if len(ln.get_xdata())]) == 2  # one train_loss line per fold
    assert _legend_texts(loss) == ["total"]
    assert _legend_texts(auc) == ["fold0", "fold1"]
    stars = [ln for ln in auc.get_lines() if ln.get_marker() == "*"]
    assert [(float(s.get_xdata()[0]), float(s.get_ydata()[0])) for s in stars] == [(4.0, 0.9), (1.0, 0.9)]
    assert lr.get_yscale() == "log" and _legend_texts(lr) == ["fusion_head"]
    plt.close(fig)


def test_calibration_curves_bins_and_ece(tmp_path: Path) -> None:
    res = _results(tmp_path)
    fig = plot_calibration(res["pooled"], "radgen", None, {"radgen": "RadGen"})
    curves, hists, side = fig.axes[:3], fig.axes[3:6], fig.axes[6]
    df = res["pooled"]["radgen"]
    for k, (ax, hist) in enumerate(zip(curves, hists, strict=True)):
        assert len(ax.get_lines()) == 3  # diagonal + two variants
        p = df[f"p_{CLASSES[k]}"].to_numpy()
        y = (df["label"] == CLASSES[k]).to_numpy()
        bins = np.minimum((p * 10).astype(int), 9)  # hand binning: [0, .1), [.1, .2), ...
        filled = sorted(set(bins))
        x, freq = ax.get_lines()[1].get_data()  # the reference's curve
        assert x == pytest.approx([p[bins == b].mean() for b in filled])
        assert freq == pytest.approx([y[bins == b].mean() for b in filled])
        assert sum(bar.get_height() for bar in hist.patches) == len(df)
        assert hist.get_xlabel() == f"Predicted P({['Normal', 'Pneumonia', 'Tuberculosis'][k]})"
    labels = _legend_texts(side)
    assert labels[0].startswith("RadGen\n") and labels[1].startswith("densenet121\n")
    eces = [float(v) for v in labels[0].split("\n")[1].split(" / ")]
    for k, ece in enumerate(eces):
        p = df[f"p_{CLASSES[k]}"].to_numpy()
        y = (df["label"] == CLASSES[k]).to_numpy()
        bins = np.minimum((p * 10).astype(int), 9)
        gap = sum(abs(y[bins == b].mean() - p[bins == b].mean()) * (bins == b).sum() for b in set(bins))
        assert ece == pytest.approx(gap / len(p), abs=5e-4)
    plt.close(fig)


def test_qualitative_page_has_an_image_and_text_per_example(tmp_path: Path) -> None:
    res = _results(tmp_path)
    fig = plot_qualitative(res["pooled"]["radgen"], res["manifest"], title="T")
    picked = _pick_examples(res["pooled"]["radgen"])
    assert len(fig.axes) == 2 * len(picked)
    for r, (kind, row) in enumerate(picked):
        image_ax, text_ax = fig.axes[2 * r], fig.axes[2 * r + 1]
        has_file = (tmp_path / "images" / f"{row['image_id']}.png").exists()
        assert len(image_ax.images) == int(has_file)
        texts = [t.get_text() for t in text_ax.texts]
        assert texts[0].startswith(f"{kind.upper()}  ·  {row['image_id']}")
        assert texts[2].startswith("Reference: The lungs are clear.")
        assert texts[3] == "Generated: Right lower lobe consolidation."
    plt.close(fig)
