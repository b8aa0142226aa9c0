"""Fold JSONs, summary (mean/std by hand), pooled CIs, comparisons, and the Snakemake script adapters."""

from __future__ import annotations

import json
import logging
import math
import runpy
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from radgen.constants import CLASSES
from radgen.evaluate.classification import (
    COMPARISON_COLUMNS,
    classification_metrics,
    compare_to_reference,
    holm,
)
from radgen.evaluate.fold import evaluate_fold_files
from radgen.evaluate.summary import (
    comparisons_table,
    patient_groups,
    pool_predictions,
    pooled_table,
    summarize_folds,
    summary_to_json,
)

ROOT = Path(__file__).resolve().parent.parent
REPORTS = {
    "normal": "The heart is normal in size. The lungs are clear. No pleural effusion.",
    "pneumonia": "Right lower lobe consolidation consistent with pneumonia. No effusion.",
    "tb": "Left upper lobe cavity with nodules, consistent with tuberculosis.",
}


def _fold_json(variant: str, fold: int, **metrics: float | None) -> dict:
    return {"variant": variant, "fold": fold, "n": 10, "metrics": metrics, "confusion_matrix": [[0] * 3] * 3}


def test_summary_mean_and_std_by_hand(tmp_path: Path) -> None:
    paths = []
    for fold, (auc, f1) in enumerate([(0.8, 0.5), (0.9, 0.7), (0.7, None)]):
        path = tmp_path / f"fold{fold}.json"
        path.write_text(json.dumps(_fold_json("radgen", fold, macro_auc=auc, macro_f1=f1, zeta=1.0)))
        paths.append(path)
    paths.append(_fold_json("densenet121", 0, macro_auc=0.6))  # dicts work too
    summary = summarize_folds(paths)
    assert list(summary.columns) == ["variant", "metric", "mean", "std", "n_folds"]
    row = summary.set_index(["variant", "metric"])
    assert row.loc[("radgen", "macro_auc"), "mean"] == pytest.approx(0.8)
    # sample std of 0.8, 0.9, 0.7: sqrt(((0)^2 + 0.1^2 + 0.1^2) / 2) = 0.1
    assert row.loc[("radgen", "macro_auc"), "std"] == pytest.approx(0.1)
    assert row.loc[("radgen", "macro_auc"), "n_folds"] == 3
    # a null fold value is skipped: mean of 0.5, 0.7 and std sqrt((0.1^2 + 0.1^2) / 1)
    assert row.loc[("radgen", "macro_f1"), "mean"] == pytest.approx(0.6)
    assert row.loc[("radgen", "macro_f1"), "std"] == pytest.approx(math.sqrt(0.02))
    assert row.loc[("radgen", "macro_f1"), "n_folds"] == 2
    assert math.isnan(row.loc[("densenet121", "macro_auc"), "std"])  # one fold: no spread
    # contract metric order first, unknown names after
    assert list(summary[summary.variant == "radgen"].metric) == ["macro_auc", "macro_f1", "zeta"]
    twin = summary_to_json(summary)
    assert twin["radgen"]["macro_auc"] == {
        "mean": pytest.approx(0.8),
        "std": pytest.approx(0.1),
        "n_folds": 3,
    }
    assert twin["densenet121"]["macro_auc"]["std"] is None
    with pytest.raises(ValueError, match="twice"):
        summarize_folds([_fold_json("a", 0, x=1.0), _fold_json("a", 0, x=2.0)])


def _make_results(
    root: Path,
    variants: dict[str, float],
    n: int = 90,
    k: int = 3,
    seed: int = 0,
    patient_ids: list[str] | None = None,
) -> dict:
    """Manifest and fold prediction CSVs of a few variants with known quality (one patient per image
    unless ``patient_ids`` is given)."""
    rng = np.random.default_rng(seed)
    labels = np.array(CLASSES)[rng.choice(3, size=n, p=[0.2, 0.5, 0.3])]
    ids = [f"img{i:03d}" for i in range(n)]
    manifest = pd.DataFrame(
        {
            "image_id": ids,
            "path": [f"images/{i}.png" for i in ids],
            "label": labels,
            "patient_id": ids if patient_ids is None else patient_ids,
            "report": [REPORTS[c] for c in labels],
        }
    )
    manifest.loc[0, "report"] = ""  # one study without a report
    (root / "data").mkdir(parents=True, exist_ok=True)
    manifest.to_csv(root / "data" / "manifest.csv", index=False)
    y = np.array([CLASSES.index(c) for c in labels])
    paths: dict[str, list[Path]] = {}
    for variant, strength in variants.items():
        logits = rng.normal(size=(n, 3))
        logits[np.arange(n), y] += strength
        p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
        generated = [REPORTS[CLASSES[j]] if i % 4 else "" for i, j in enumerate(p.argmax(1))]
        df = pd.DataFrame(
            {
                "image_id": ids,
                "label": labels,
                "p_normal": p[:, 0],
                "p_pneumonia": p[:, 1],
                "p_tb": p[:, 2],
                "report_generated": generated if variant == "radgen" else "",
            }
        )
        out = root / "predictions" / variant
        out.mkdir(parents=True, exist_ok=True)
        paths[variant] = []
        for fold in range(k):
            path = out / f"fold{fold}.csv"
            df.iloc[fold::k].to_csv(path, index=False)
            paths[variant].append(path)
    return {"manifest": root / "data" / "manifest.csv", "predictions": paths, "y": y}


def test_fold_json_with_and_without_reports(tmp_path: Path) -> None:
    res = _make_results(tmp_path, {"radgen": 2.0, "densenet121": 1.0})
    out = tmp_path / "metrics" / "radgen" / "fold0.json"
    result = evaluate_fold_files(
        res["predictions"]["radgen"][0], res["manifest"], out, "radgen", 0, with_reports=True, meteor=False
    )
    on_disk = json.loads(out.read_text())
    assert on_disk == json.loads(json.dumps(result))
    assert set(on_disk) == {"variant", "fold", "n", "metrics", "confusion_matrix"}
    assert on_disk["n"] == 30 and on_disk["variant"] == "radgen" and on_disk["fold"] == 0
    metrics = on_disk["metrics"]
    for key in ("macro_auc", "BLEU-4", "ROUGE-L", "CIDEr", "ce_f1_micro", "ce_precision_macro"):
        assert key in metrics and 0 <= metrics[key] <= 10
    assert "METEOR" not in metrics
    df = pd.read_csv(res["predictions"]["radgen"][0])
    y = np.array([CLASSES.index(c) for c in df["label"]])
    expected = classification_metrics(y, df[["p_normal", "p_pneumonia", "p_tb"]].to_numpy())
    assert metrics["macro_auc"] == pytest.approx(expected["macro_auc"])
    assert np.array(on_disk["confusion_matrix"]).sum() == 30
    assert not list(out.parent.glob(".*tmp"))  # atomic write leaves nothing behind

    out_b = tmp_path / "metrics" / "densenet121" / "fold0.json"
    evaluate_fold_files(
        res["predictions"]["densenet121"][0], res["manifest"], out_b, "densenet121", 0, with_reports=False
    )
    assert "BLEU-4" not in json.loads(out_b.read_text())["metrics"]


def test_fold_rejects_unknown_labels(tmp_path: Path) -> None:
    res = _make_results(tmp_path, {"radgen": 1.0})
    path = res["predictions"]["radgen"][0]
    df = pd.read_csv(path)
    df.loc[0, "label"] = "covid"
    df.to_csv(path, index=False)
    with pytest.raises(ValueError, match="covid"):
        evaluate_fold_files(path, res["manifest"], tmp_path / "x.json", "radgen", 0, with_reports=False)
    assert not (tmp_path / "x.json").exists()


def test_pooled_and_comparisons(tmp_path: Path) -> None:
    res = _make_results(tmp_path, {"radgen": 2.5, "densenet121": 0.3, "swin_b": 2.5}, n=150)
    pooled = pool_predictions(res["predictions"])
    assert all(len(df) == 150 for df in pooled.values())
    table = pooled_table(pooled, n_resamples=200, seed=0)
    assert list(table.columns) == ["variant", "metric", "value", "ci_low", "ci_high", "unit"]
    assert set(table.unit) == {"image"}
    assert set(table.metric) == {
        "macro_auc",
        "auc_normal",
        "auc_pneumonia",
        "auc_tb",
        "macro_f1",
        "balanced_accuracy",
    }
    assert (table.ci_low <= table.value + 1e-9).all() and (table.value <= table.ci_high + 1e-9).all()
    comp = comparisons_table(pooled, reference="radgen", n_resamples=200)
    assert list(comp.columns) == COMPARISON_COLUMNS
    assert list(comp.columns[:8]) == ["variant", "class", "auc", "auc_reference", "delta", "z", "p", "p_holm"]
    assert len(comp) == 2 * 4
    assert set(comp["class"]) == {*CLASSES, "macro"}
    weak = comp[comp.variant == "densenet121"]
    assert (weak.delta < 0).all() and (weak.p_holm < 0.05).all() and (weak.verdict == "lower").all()
    assert (comp.p_holm >= comp.p - 1e-12).all()
    # the same image in two fold files is a leak
    dup = res["predictions"]["radgen"] + [res["predictions"]["radgen"][0]]
    with pytest.raises(ValueError, match="more than one fold"):
        pool_predictions({"radgen": dup})


def test_patient_groups_from_the_manifest() -> None:
    manifest = pd.DataFrame({"image_id": ["a", "b", "c", "d"], "patient_id": ["p1", "", "p1", "a"]})
    groups = patient_groups(manifest)
    assert groups["a"] == groups["c"]  # same patient
    assert len({groups["a"], groups["b"], groups["d"]}) == 3  # empty id: own patient; "a" as a patient id
    with pytest.raises(ValueError, match="patient_id"):
        patient_groups(manifest.drop(columns="patient_id"))


def test_pooled_and_comparisons_are_patient_level(tmp_path: Path) -> None:
    n = 120
    patients = [f"pat{i // 3:03d}" for i in range(n)]  # three studies per patient
    res = _make_results(tmp_path, {"radgen": 1.5, "densenet121": 1.0}, n=n, patient_ids=patients)
    pooled = pool_predictions(res["predictions"])
    manifest = pd.read_csv(res["manifest"], dtype=str, keep_default_na=False)
    own = patient_groups(manifest.assign(patient_id=""))  # every image its own patient
    by_patient = patient_groups(manifest)
    image_level = pooled_table(pooled, n_resamples=100, seed=3)
    singletons = pooled_table(pooled, n_resamples=100, seed=3, patients=own)
    assert set(singletons.unit) == {"patient"}
    pd.testing.assert_frame_equal(singletons.drop(columns="unit"), image_level.drop(columns="unit"))
    clustered = pooled_table(pooled, n_resamples=100, seed=3, patients=by_patient)
    assert not np.allclose(clustered.ci_low, image_level.ci_low)  # the patients changed the resamples
    pd.testing.assert_series_equal(clustered.value, image_level.value)  # not the point estimates
    comp = comparisons_table(pooled, "radgen", patients=by_patient, n_resamples=100, seed=3)
    ids = pooled["radgen"]["image_id"]
    y = np.array([CLASSES.index(c) for c in pooled["radgen"]["label"]])
    probs = {v: df[["p_normal", "p_pneumonia", "p_tb"]].to_numpy(float) for v, df in pooled.items()}
    expected = compare_to_reference(y, probs, "radgen", ids.map(by_patient).to_numpy(), 100, 3)
    pd.testing.assert_frame_equal(comp.reset_index(drop=True), expected)
    np.testing.assert_allclose(comp.p_holm[comp["class"] != "macro"], holm(comp.p[comp["class"] != "macro"]))
    with pytest.raises(ValueError, match="not in the manifest"):
        pooled_table(pooled, n_resamples=100, patients={k: v for k, v in own.items() if k != "img005"})


def _run_script(name: str, smk: SimpleNamespace) -> None:
    """Run a Snakemake script adapter the way the script: directive does, with `snakemake` injected."""
    runpy.run_path(str(ROOT / "scripts" / f"{name}.py"), init_globals={"snakemake": smk})


@pytest.fixture
def restore_logging():
    """The adapters configure the root logger for a Snakemake job; put it back for the other tests."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    for handler in root.handlers:
        if handler not in handlers:
            handler.close()
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.captureWarnings(False)


def test_script_adapters(tmp_path: Path, restore_logging) -> None:
    res = _make_results(tmp_path, {"radgen": 2.0, "densenet121": 1.0})
    jsons = []
    for variant, paths in res["predictions"].items():
        for fold, path in enumerate(paths):
            out = tmp_path / "metrics" / variant / f"fold{fold}.json"
            _run_script(
                "evaluate_fold",
                SimpleNamespace(
                    input=SimpleNamespace(predictions=str(path), manifest=str(res["manifest"])),
                    output=SimpleNamespace(metrics=str(out)),
                    params=SimpleNamespace(
                        report_metrics=variant == "radgen",
                        evaluation={"meteor": False, "radcliq": False, "uncertain_as_positive": False},
                    ),
                    wildcards=SimpleNamespace(variant=variant, fold=str(fold)),
                    log=[str(tmp_path / "logs" / f"{variant}{fold}.log")],
                ),
            )
            jsons.append(out)
    m = tmp_path / "metrics"
    _run_script(
        "evaluate_summary",
        SimpleNamespace(
            input=SimpleNamespace(
                metrics=[str(p) for p in jsons],
                predictions=[str(p) for ps in res["predictions"].values() for p in ps],
                manifest=str(res["manifest"]),
                floors=[],
            ),
            output=SimpleNamespace(
                summary=str(m / "summary.csv"),
                summary_json=str(m / "summary.json"),
                pooled=str(m / "pooled.csv"),
                comparisons=str(m / "comparisons.csv"),
                comparisons_meta=str(m / "comparisons.json"),
            ),
            params=SimpleNamespace(
                reference="radgen",
                variants=["radgen", "densenet121"],
                compared=["densenet121"],
                evaluation={"bootstrap_resamples": 100, "seed": 0},
            ),
            log=[str(tmp_path / "logs" / "summary.log")],
        ),
    )
    summary = pd.read_csv(m / "summary.csv")
    assert list(dict.fromkeys(summary.variant)) == ["radgen", "densenet121"]  # config order
    assert (summary[summary.metric == "macro_auc"].n_folds == 3).all()
    assert "BLEU-4" in set(summary[summary.variant == "radgen"].metric)
    assert json.loads((m / "summary.json").read_text())["radgen"]["macro_auc"]["n_folds"] == 3
    comparisons = pd.read_csv(m / "comparisons.csv")
    assert len(comparisons) == 3 + 1
    pooled = pd.read_csv(m / "pooled.csv")
    assert len(pooled) == 2 * 6 and set(pooled.unit) == {"patient"}
    meta = json.loads((m / "comparisons.json").read_text())
    assert meta["unit"] == "patient" and meta["alpha"] == 0.05 and meta["n_resamples"] == 100
    assert {k: v["n_tests"] for k, v in meta["families"].items()} == {
        "per-class DeLong": 3,
        "macro-AUC": 1,
    }
    assert (tmp_path / "logs" / "summary.log").read_text()


def test_results_and_paper_files_get_normal_permissions(tmp_path):
    """mkstemp makes 0600 files; metrics, figures and tables.tex must be as readable as any file the user writes."""
    import os
    import stat

    from radgen.io import write_json
    from radgen.paper.render import atomic_write_text

    umask = os.umask(0)
    os.umask(umask)
    write_json(tmp_path / "m.json", {"a": 1})
    atomic_write_text(tmp_path / "t.tex", "x")
    for name in ("m.json", "t.tex"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o666 & ~umask
