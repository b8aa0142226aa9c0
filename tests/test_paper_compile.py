"""Compiling the paper (radgen.paper.compile) and the whole main.tex on a made-up results tree."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from paper_sample import FIGURES, write_sample_figures, write_sample_results

from radgen.config import load_config
from radgen.paper import compile as paper_compile
from radgen.paper.inputs import PaperInputs
from radgen.paper.render import render_paper

REPO = Path(__file__).resolve().parents[1]
HAS_TEX = shutil.which("latexmk") is not None and shutil.which("pdflatex") is not None
HAS_PDFTOTEXT = shutil.which("pdftotext") is not None
needs_tex = pytest.mark.skipif(not HAS_TEX, reason="latexmk/pdflatex not installed")


def test_missing_tex_names_the_install_command(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(paper_compile.shutil, "which", lambda _name: None)
    (tmp_path / "main.tex").write_text("x")
    with pytest.raises(paper_compile.PaperCompileError, match="apt-get install .*latexmk"):
        paper_compile.compile_pdf(tmp_path / "main.tex")


def test_missing_source_is_named(tmp_path: Path) -> None:
    with pytest.raises(paper_compile.PaperCompileError, match="nope.tex"):
        paper_compile.compile_pdf(tmp_path / "nope.tex")


@needs_tex
def test_tex_error_is_shown(tmp_path: Path) -> None:
    (tmp_path / "main.tex").write_text(
        "\\documentclass{article}\\begin{document}\\NoSuchMacro\\end{document}\n"
    )
    with pytest.raises(paper_compile.PaperCompileError) as err:
        paper_compile.compile_pdf(tmp_path / "main.tex")
    assert "Undefined control sequence" in str(err.value)
    assert "NoSuchMacro" in str(err.value)


NASTY = r"_ % & # $ { } \ ^ ~ < > |"


def _build(tmp_path: Path, *, figures: bool, nasty: bool = False) -> tuple[Path, pd.DataFrame]:
    config = load_config(REPO / "config" / "config.yaml")
    if nasty:  # every string from config reaches TeX through the escape filter
        config["paper"]["title"] += " " + NASTY
        config["variants"]["swin_b"]["label"] = "Swin " + NASTY
        config["model"]["text_encoder"]["name"] = "org/model_" + NASTY
    res = write_sample_results(tmp_path, config, n_images=120, k=5)
    if figures:
        write_sample_figures(res)
    paper = tmp_path / "paper"
    render_paper(
        PaperInputs.from_results_dir(res),
        config,
        paper / "tables.tex",
        paper / "variables.tex",
        repo_dir=tmp_path,
    )
    # main.tex is copied next to the rendered files, as with `snakemake --directory`.
    pdf = paper_compile.compile_pdf(REPO / "paper" / "main.tex", paper / "main.pdf")
    return pdf, pd.read_csv(res / "metrics" / "summary.csv")


def _text(pdf: Path, *args: str) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", *args, str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout


@pytest.mark.slow  # latexmk on the whole paper
@needs_tex
@pytest.mark.skipif(not HAS_PDFTOTEXT, reason="pdftotext (poppler-utils) not installed")
def test_full_paper_compiles_with_numbers_from_summary(tmp_path: Path) -> None:
    pdf, summary = _build(tmp_path, figures=True)
    first_page = _text(pdf, "-f", "1", "-l", "1")
    assert "SYNTHETIC DATA" in first_page and "NOT CLINICAL RESULTS" in first_page
    text = _text(pdf)
    radgen_auc = summary.query("variant == 'radgen' and metric == 'macro_auc'")["mean"].item()
    assert f"{radgen_auc:.3f}" in text
    assert "??" not in text  # no undefined reference or citation
    assert not re.search(r"\bXX\b", text)
    assert "was not generated" not in text  # every figure main.tex expects was found
    assert text.count("Synthetic data, not clinical results.") >= 6 + len(FIGURES)  # every caption
    log = (tmp_path / "paper" / "main.log").read_text(errors="replace")
    assert "Overfull \\hbox" not in log


@needs_tex
def test_paper_compiles_without_figures_and_with_hostile_config_strings(tmp_path: Path) -> None:
    pdf, _ = _build(tmp_path, figures=False, nasty=True)
    assert pdf.is_file()
    if HAS_PDFTOTEXT:
        text = _text(pdf).replace("\n", " ")
        assert "results/figures/roc_curves.pdf was not generated" in text
        assert "Swin _ % & # $ { } \\ ^ ~ < > |" in text
