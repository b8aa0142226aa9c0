"""Rendering paper/tables.tex and paper/variables.tex from a small hand-made results tree (radgen.paper.render)."""

from __future__ import annotations

import json
import logging
import re
import shutil
import statistics
import subprocess
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from radgen.config import config_hash
from radgen.evaluate.headline import write_headline
from radgen.paper import latex
from radgen.paper.inputs import PaperInputError, PaperInputs
from radgen.paper.macros import comparative_words
from radgen.paper.provenance import git_commit
from radgen.paper.render import render_paper

# Per-fold values (2 folds) from which summary.csv is written; the expected cells are computed from these by hand.
FOLD_VALUES: dict[str, dict[str, list[float]]] = {
    "radgen": {
        "macro_auc": [0.90, 0.80],
        "auc_tb": [0.95, 0.85],
        "BLEU-4": [0.20, 0.30],
        "macro_f1": [0.7, 0.6],
    },
    "swin_b": {"macro_auc": [0.70, 0.75], "auc_tb": [0.96, 0.90], "macro_f1": [0.5, 0.6]},
    "no_gating": {
        "macro_auc": [0.80, 0.80],
        "auc_tb": [0.90, 0.80],
        "BLEU-4": [0.10, 0.20],
        "macro_f1": [0.6, 0.6],
    },
}
LABELS = {"radgen": "RadGen", "swin_b": "Swin_B & #1", "no_gating": "w/o gating"}


def _config(source: str = "synthetic") -> dict[str, Any]:
    return {
        "data": {"source": source, "image_size": 64, "synthetic": {"seed": 0}},
        "folds": {"k": 2, "inner_val_fraction": 0.15},
        "model": {
            "embed_dim": 64,
            "image_encoder": {"name": "swin_tiny"},
            "report_generator": {"enabled": True},
            "head": {"hidden": [64, 32], "dropout": 0.3},
        },
        "training": {"epochs": 2, "lr": {"image_encoder": 1e-3}},
        "paper": {"title": "RadGen: 100% _safe_ title"},
        "variants": {
            "radgen": {"label": LABELS["radgen"], "group": "main"},
            "swin_b": {"label": LABELS["swin_b"], "group": "baseline"},
            "no_gating": {"label": LABELS["no_gating"], "group": "ablation"},
        },
    }


def _write_tree(root: Path, *, optional: bool = True, report_metrics: bool = True) -> Path:
    """results/ with 8 images of 5 patients in 2 folds, summary from FOLD_VALUES, optional files if asked."""
    res = root / "results"
    (res / "data").mkdir(parents=True)
    (res / "metrics").mkdir()
    manifest = pd.DataFrame(
        {
            "image_id": [f"i{j}" for j in range(8)],
            "path": [f"x/i{j}.png" for j in range(8)],
            "label": ["normal", "pneumonia", "pneumonia", "tb", "normal", "pneumonia", "tb", "tb"],
            "patient_id": ["p1", "p1", "p2", "p3", "p4", "p4", "p5", "p5"],
            "report": ["a_b 50% & c", "", "x", "y", "z", "w", "v", "u"],
        }
    )
    manifest.to_csv(res / "data" / "manifest.csv", index=False)
    pd.DataFrame(
        {"image_id": manifest["image_id"], "fold": [0, 0, 0, 0, 1, 1, 1, 1], "inner": ["train"] * 8}
    ).to_csv(res / "data" / "folds.csv", index=False)
    rows = []
    for variant, metrics in FOLD_VALUES.items():
        for metric, values in metrics.items():
            if metric == "BLEU-4" and not report_metrics:
                continue
            rows.append(
                {
                    "variant": variant,
                    "metric": metric,
                    "mean": statistics.mean(values),
                    "std": statistics.stdev(values),
                    "n_folds": len(values),
                }
            )
    pd.DataFrame(rows).to_csv(res / "metrics" / "summary.csv", index=False)
    if optional:
        pd.DataFrame(
            [
                {"variant": "radgen", "metric": "macro_auc", "value": 0.86, "ci_low": 0.81, "ci_high": 0.9},
            ]
        ).to_csv(res / "metrics" / "pooled.csv", index=False)
        pd.DataFrame(
            [
                {
                    "variant": v,
                    "class": c,
                    "auc": 0.8,
                    "auc_reference": 0.85,
                    "delta": -0.05,
                    "z": -2.1,
                    "p": 0.01,
                    "p_holm": 0.02 if (v, c) == ("swin_b", "tb") else 0.4,
                }
                for v in ("swin_b", "no_gating")
                for c in ("normal", "pneumonia", "tb")
            ]
            + [  # the paired macro-AUC test: Swin (variant) significantly lower than RadGen, CI of Swin - RadGen
                {
                    "variant": v,
                    "class": "macro",
                    "auc": 0.72,
                    "auc_reference": 0.85,
                    "delta": -0.13,
                    "p": 0.001,
                    "p_holm": 0.002 if v == "swin_b" else 0.6,
                    "ci_low": -0.2,
                    "ci_high": -0.05,
                    "verdict": "lower" if v == "swin_b" else "no significant difference",
                }
                for v in ("swin_b", "no_gating")
            ]
        ).to_csv(res / "metrics" / "comparisons.csv", index=False)
        for v_i, variant in enumerate(FOLD_VALUES):
            for fold in (0, 1):
                bench = res / "benchmarks" / "train" / variant / f"fold{fold}.tsv"
                bench.parent.mkdir(parents=True, exist_ok=True)
                bench.write_text(
                    "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
                    f"{10 + fold * 20}\t0:00:10\t{500 + 100 * fold}\t1\t1\t1\t0\t0\t90\t9\n"
                )
                model = res / "models" / variant / f"fold{fold}"
                model.mkdir(parents=True)
                (model / "summary.json").write_text(
                    json.dumps(
                        {
                            "n_parameters": 1_500_000 * (v_i + 1),
                            "best_epoch": 1,
                            "epochs_run": 2,
                            "train_seconds": 9.0,
                            "best_val_macro_auc": 0.8,
                            "device": "cpu",
                        }
                    )
                )
    write_headline(  # what the workflow's headline rule writes from these files
        res / "metrics" / "summary.csv",
        res / "metrics" / "comparisons.csv",
        res / "metrics" / "headline.json",
        reference="radgen",
        groups={"radgen": "main", "swin_b": "baseline", "no_gating": "ablation"},
    )
    return res


def _render(
    tmp_path: Path, config: dict[str, Any] | None = None, **tree: Any
) -> tuple[str, dict[str, str], dict]:
    res = _write_tree(tmp_path, **tree)
    out = tmp_path / "paper"
    ctx = render_paper(
        PaperInputs.from_results_dir(res),
        config or _config(),
        out / "tables.tex",
        out / "variables.tex",
        repo_dir=tmp_path,
    )
    return (out / "tables.tex").read_text(), _macros((out / "variables.tex").read_text()), ctx


def _macros(text: str) -> dict[str, str]:
    return dict(re.findall(r"^\\newcommand\{\\([A-Za-z]+)\}\{(.*)\}(?:%.*)?$", text, flags=re.M))


def _table(tables: str, label: str) -> str:
    """The LaTeX of one table environment, found by its label."""
    for block in tables.split("\\begin{table}")[1:]:
        if f"\\label{{{label}}}" in block:
            return block.split("\\end{table}")[0]
    raise AssertionError(f"no table {label}")


def _row(table: str, label_tex: str) -> list[str]:
    line = next(ln for ln in table.splitlines() if ln.startswith(label_tex + " &"))
    return [c.strip() for c in line.rstrip("\\ ").split(" & ")]


def test_main_table_has_mean_std_from_folds_and_bolds_best(tmp_path: Path) -> None:
    tables, _, _ = _render(tmp_path)
    main = _table(tables, "tab:main")
    radgen = _row(main, "RadGen")
    swin = _row(main, latex.tex(LABELS["swin_b"]))
    # macro-AUC of RadGen: folds 0.90, 0.80 -> mean 0.850, sample std 0.0707 -> 0.071; best of the column.
    assert radgen[1] == r"\textbf{0.850}\,{\scriptsize\textpm{}0.071}"
    # Swin: 0.70, 0.75 -> 0.725 +- 0.035, not bold; its paired macro-AUC test (p_holm 0.002) marks it.
    assert swin[1] == r"0.725\textsuperscript{\dag}\,{\scriptsize\textpm{}0.035}"
    # AUC_TB: Swin 0.96/0.90 -> 0.930 is the best, and DeLong p_holm 0.02 < 0.05 marks it.
    assert swin[4] == r"\textbf{0.930}\textsuperscript{\dag}\,{\scriptsize\textpm{}0.042}"
    assert radgen[4] == r"0.900\,{\scriptsize\textpm{}0.071}"
    # Swin has no report metrics: BLEU-4 is '--'; RadGen 0.20/0.30 -> 0.250.
    assert swin[5] == "--" and radgen[5].startswith(r"0.250")
    assert "Swin\\_B \\& \\#1" in main  # labels from config are escaped


def test_ablation_table_shows_difference_to_reference(tmp_path: Path) -> None:
    tables, macros, _ = _render(tmp_path)
    ablation = _table(tables, "tab:ablation")
    row = _row(ablation, "w/o gating")
    assert row[1] == r"{\scriptsize --}"  # the test config's ablation has no description
    assert row[2].startswith("0.800") and row[3] == "$-$0.050"  # 0.80 - 0.85
    assert row[4].startswith("0.600") and row[5] == "$-$0.050"  # macro-F1 0.60 - 0.65
    assert _row(ablation, "RadGen")[1] == r"{\scriptsize nothing (full model)}"
    assert macros["RGLargestAblationDelta"] == "$-$0.050"
    assert macros["RGLargestAblationLabel"] == "w/o gating"


def test_dataset_table_counts_images_per_class_per_fold(tmp_path: Path) -> None:
    tables, macros, _ = _render(tmp_path)
    dataset = _table(tables, "tab:dataset")
    assert _row(dataset, "0") == ["0", "1", "2", "1", "4", "3"]  # normal, pneumonia, tb, images, patients
    assert _row(dataset, "1") == ["1", "1", "1", "2", "4", "2"]
    assert _row(dataset, "All") == ["All", "2", "3", "3", "8", "5"]
    assert (macros["RGNImages"], macros["RGNPatients"], macros["RGNFolds"]) == ("8", "5", "2")
    assert (macros["RGNNormal"], macros["RGNPneumonia"], macros["RGNTb"]) == ("2", "3", "3")


def test_synthetic_notice_in_every_caption(tmp_path: Path) -> None:
    tables, macros, _ = _render(tmp_path)
    captions = re.findall(r"\\caption\{(.{0,40})", tables)
    assert len(captions) == 8
    assert all(c.startswith(r"\RGSyntheticCaption ") for c in captions)
    assert "Synthetic data" in macros["RGSyntheticCaption"]
    variables = (tmp_path / "paper" / "variables.tex").read_text()
    assert "\\newif\\ifRGSynthetic\n\\RGSynthetictrue" in variables


def test_real_data_source_has_no_synthetic_notice(tmp_path: Path) -> None:
    _, macros, _ = _render(tmp_path, _config(source="folder"))
    assert macros["RGSyntheticCaption"] == ""
    assert "\\RGSyntheticfalse" in (tmp_path / "paper" / "variables.tex").read_text()


@pytest.mark.parametrize(
    ("verdict", "words"),
    [
        ("higher", "significantly below"),
        ("lower", "significantly above"),
        ("no significant difference", "not significantly different from"),
        (None, "not tested against"),
    ],
)
def test_comparative_words_follow_the_test_not_the_means(verdict, words) -> None:
    assert comparative_words(verdict) == words


def test_variables_define_text_and_provenance_macros(tmp_path: Path) -> None:
    _, macros, _ = _render(tmp_path)
    expected = {
        "RGRefMacroAuc": "0.850",
        "RGRefMacroAucStd": "0.071",
        "RGRefBLEUFour": "0.250",
        "RGBestBaselineLabel": latex.tex(LABELS["swin_b"]),
        "RGBestBaselineMacroAuc": "0.725",
        "RGRefMinusBestBaseline": "+0.125",
        "RGRefVsBestBaseline": "significantly above",  # from the test's verdict, not from the printed means
        "RGRefMinusBestBaselinePooled": "+0.130",  # -(Swin - RadGen) on the pooled predictions
        "RGRefMinusBestBaselineLow": "+0.050",
        "RGRefMinusBestBaselineHigh": "+0.200",
        "RGNAblationsSigLower": "0",
        "RGBestBaselineNSig": "1",
        "RGBestBaselineDeLongPTb": "$p=0.020$",
        "RGRefPooledMacroAuc": "0.860",
        "RGRefPooledMacroAucLow": "0.810",
        "RGGitCommit": "unknown",  # tmp_path is not a git checkout
        "RGConfigHash": config_hash(_config()),
        "RGTrainingDevice": "cpu",
        "RGRefNParams": r"1.5\,M",
        "RGRefTrainTimePerFold": r"20.0\,s",
        "RGRefPeakMemory": "600\\,MB",
        "RGTitle": r"RadGen: 100\% \_safe\_ title",
        "RGNBaselines": "1",
        "RGNAblations": "1",
        "RGNAblationsWorse": "1",
        "RGDataDescription": "synthetic chest radiographs with reports, generated by this workflow from a fixed seed",
    }
    for name, value in expected.items():
        assert macros.get(name) == value, name
    for name in (
        "RGPythonVersion",
        "RGTorchVersion",
        "RGTransformersVersion",
        "RGTimmVersion",
        "RGSnakemakeVersion",
        "RGDataSource",
        "RGRefCeFOneMicro",
    ):
        assert name in macros
    assert macros["RGRefCeFOneMicro"] == "--"  # not in this summary
    assert all(name.isalpha() for name in macros)


def test_missing_optional_metrics_and_files_render_as_dashes(tmp_path: Path) -> None:
    tables, macros, ctx = _render(tmp_path, optional=False, report_metrics=False)
    main = _table(tables, "tab:main")
    assert _row(main, "RadGen")[5:] == ["--", "--", "--"]  # BLEU-4, ROUGE-L, CE-F1
    assert "No variant generates reports" in _table(tables, "tab:reports")
    assert r"\dag" not in main and "DeLong comparisons were not available" in main
    compute = _table(tables, "tab:compute")
    assert _row(compute, "RadGen")[1:] == ["--"] * 7
    for name in ("RGRefBLEUFour", "RGRefPooledMacroAuc", "RGBestBaselineDeLongPTb", "RGRefNParams"):
        assert macros[name] in ("--", r"$p$ not available"), name
    assert macros["RGTrainingDevice"] == "unknown"
    assert not ctx["has_comparisons"]


def test_meteor_column_only_when_present(tmp_path: Path) -> None:
    tables, _, _ = _render(tmp_path)
    assert "METEOR" not in _table(tables, "tab:reports")
    summary = tmp_path / "results" / "metrics" / "summary.csv"
    df = pd.read_csv(summary)
    df.loc[len(df)] = {"variant": "radgen", "metric": "METEOR", "mean": 0.2, "std": 0.01, "n_folds": 2}
    df.to_csv(summary, index=False)
    render_paper(
        PaperInputs.from_results_dir(tmp_path / "results"),
        _config(),
        tmp_path / "t.tex",
        tmp_path / "v.tex",
        repo_dir=tmp_path,
    )
    assert "METEOR" in _table((tmp_path / "t.tex").read_text(), "tab:reports")


@pytest.mark.parametrize(
    "missing", ["data/manifest.csv", "data/folds.csv", "metrics/summary.csv", "metrics/headline.json"]
)
def test_missing_required_file_is_named(tmp_path: Path, missing: str) -> None:
    res = _write_tree(tmp_path)
    (res / missing).unlink()
    with pytest.raises(PaperInputError, match=re.escape(missing.split("/")[-1])):
        render_paper(PaperInputs.from_results_dir(res), _config(), tmp_path / "t.tex", tmp_path / "v.tex")
    assert not (tmp_path / "t.tex").exists() and not (tmp_path / "v.tex").exists()


def test_summary_without_required_column_is_named(tmp_path: Path) -> None:
    res = _write_tree(tmp_path)
    pd.read_csv(res / "metrics" / "summary.csv").drop(columns="std").to_csv(res / "metrics" / "summary.csv")
    with pytest.raises(PaperInputError, match="summary.csv lacks column"):
        render_paper(PaperInputs.from_results_dir(res), _config(), tmp_path / "t.tex", tmp_path / "v.tex")


def test_render_leaves_no_temporary_files(tmp_path: Path) -> None:
    _render(tmp_path)
    assert sorted(p.name for p in (tmp_path / "paper").iterdir()) == [
        "methods.tex",
        "tables.tex",
        "variables.tex",
    ]


def test_inputs_from_snakemake_style_path_lists(tmp_path: Path) -> None:
    inputs = PaperInputs.from_paths(
        "m.csv",
        "f.csv",
        "s.csv",
        "h.json",
        benchmarks=["results/benchmarks/train/swin_b/fold3.tsv"],
        model_summaries=["results/models/no_gating/fold0/summary.json"],
    )
    assert list(inputs.benchmarks) == [("swin_b", 3)]
    assert list(inputs.model_summaries) == [("no_gating", 0)]
    with pytest.raises(PaperInputError, match="does not look like"):
        PaperInputs.from_paths("m", "f", "s", "h", benchmarks=["oops.tsv"])


def test_provenance_helpers(tmp_path: Path) -> None:
    assert git_commit(tmp_path) == "unknown"
    a = {"x": 1, "y": {"b": 2, "a": [1, 2]}}
    b = {"y": {"a": [1, 2], "b": 2}, "x": 1}
    assert config_hash(a) == config_hash(b) and len(config_hash(a)) == 12
    assert config_hash(a) != config_hash({**a, "x": 2})


@pytest.mark.skipif(shutil.which("git") is None, reason="git not installed")
def test_git_commit_short_hash_and_dirty_flag(tmp_path: Path) -> None:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t", *args],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()

    git("init", "-q")
    (tmp_path / "f.txt").write_text("a")
    git("add", "f.txt")
    git("commit", "-q", "-m", "x")
    head = git("rev-parse", "--short=10", "HEAD")
    assert git_commit(tmp_path) == head
    (tmp_path / "untracked.txt").write_text("b")
    assert git_commit(tmp_path) == head  # untracked files (results/, generated tex) do not count
    (tmp_path / "f.txt").write_text("changed")
    assert git_commit(tmp_path) == head + "-dirty"


class _Named(dict):
    """Stands in for Snakemake's Namedlist: attribute access and .get."""

    __getattr__ = dict.__getitem__


def test_snakemake_adapter(tmp_path: Path) -> None:
    import runpy

    res = _write_tree(tmp_path)
    repo = Path(__file__).resolve().parents[1]
    templates = repo / "paper" / "templates"
    inputs = {
        "manifest": res / "data" / "manifest.csv",
        "folds": res / "data" / "folds.csv",
        "summary": res / "metrics" / "summary.csv",
        "pooled": res / "metrics" / "pooled.csv",
        "headline": res / "metrics" / "headline.json",
        "benchmarks": sorted((res / "benchmarks" / "train").glob("*/fold*.tsv")),
    }
    models = sorted((res / "models").glob("*/fold*"))
    inputs |= {"models": models, "templates": sorted(templates.glob("*.tex.j2"))}
    params = {"config": _config()}
    out = tmp_path / "paper"
    smk = _Named(
        input=_Named(inputs),
        output=_Named(
            tables=out / "tables.tex", variables=out / "variables.tex", methods=out / "methods.tex"
        ),
        params=_Named(params),
        config=_config(),
        log=[tmp_path / "render.log"],
        rule="render_paper",
        scriptdir=str(repo / "scripts"),
    )
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        runpy.run_path(str(repo / "scripts" / "paper_render.py"), init_globals={"snakemake": smk})
    finally:  # the adapter configures the root logger for its own process; undo that here
        for handler in root.handlers:
            if handler not in saved[0]:
                handler.close()
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    macros = _macros((out / "variables.tex").read_text())
    assert macros["RGRefMacroAuc"] == "0.850" and macros["RGRefNParams"] == r"1.5\,M"
    assert "wrote" in (tmp_path / "render.log").read_text()
    assert r"\section{Method}" in (out / "methods.tex").read_text()


def test_an_oracle_row_is_never_marked_best() -> None:
    from radgen.paper.tables import _mark_best

    def row(name: str, group: str, mean: float) -> dict:
        return {"name": name, "group": group, "cells": {"auc": {"mean": mean, "best": False}}}

    rows = [row("radgen", "main", 0.86), row("swin", "baseline", 0.90), row("oracle", "oracle", 0.97)]
    _mark_best(rows, ["auc"])
    assert [r["cells"]["auc"]["best"] for r in rows] == [False, True, False]


def test_methods_states_the_grey_normalisation_the_encoder_uses() -> None:
    from radgen.models.image_encoder import GRAY_MEAN, GRAY_STD
    from radgen.paper.methods import GRAY_MEAN as STATED_MEAN
    from radgen.paper.methods import GRAY_STD as STATED_STD

    assert (STATED_MEAN, STATED_STD) == (GRAY_MEAN, GRAY_STD)


def test_methods_describe_a_reused_text_mix_and_distributed_training_only_when_they_run(
    tmp_path: Path,
) -> None:
    from radgen.config import load_config

    res = _write_tree(tmp_path)
    config = load_config(Path(__file__).resolve().parents[1] / "config" / "config.yaml")  # the text mix runs
    render_paper(PaperInputs.from_results_dir(res), config, tmp_path / "t.tex", tmp_path / "v.tex")
    plain = (tmp_path / "methods.tex").read_text()
    assert "reused in between" not in plain and "distributed data parallelism" not in plain
    config["training"] = {**config["training"], "text_mix_every": 3, "devices": 2}
    render_paper(PaperInputs.from_results_dir(res), config, tmp_path / "t.tex", tmp_path / "v.tex")
    text = " ".join((tmp_path / "methods.tex").read_text().split())
    assert "every 3 epochs and reused in between" in text
    assert "trained on 2 devices with distributed data parallelism" in text
