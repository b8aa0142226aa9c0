"""The LaTeX-safe Jinja environment and its filters (radgen.paper.latex)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import jinja2
import pytest

from radgen.paper import latex

HAS_PDFLATEX = shutil.which("pdflatex") is not None
NASTY_REPORT = (
    r"Opacity_RUL 50% & effusion #2: cost $5 {left} \ right ^ top ~ approx <3> a|b, naïve café – done…"
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("a_b", r"a\_b"),
        ("50%", r"50\%"),
        ("A&B", r"A\&B"),
        ("#1", r"\#1"),
        ("$5", r"\$5"),
        ("{x}", r"\{x\}"),
        ("a\\b", r"a\textbackslash{}b"),
        ("x^2", r"x\textasciicircum{}2"),
        ("~", r"\textasciitilde{}"),
        ("<>|", r"\textless{}\textgreater{}\textbar{}"),
        ("plain text, (ok).", "plain text, (ok)."),
        ("line\nbreak", "line break"),
        (42, "42"),
    ],
)
def test_tex_escapes_every_special_character(raw: object, expected: str) -> None:
    assert latex.tex(raw) == expected


def test_tex_escapes_backslash_once_not_twice() -> None:
    # A backslash becomes \textbackslash{}; its braces must not be escaped again (single pass).
    assert latex.tex("\\{") == r"\textbackslash{}\{"


def test_tex_rejects_none() -> None:
    with pytest.raises(ValueError, match="None"):
        latex.tex(None)


def test_tex_replaces_characters_pdflatex_cannot_typeset() -> None:
    assert latex.tex("naïve") == "naïve"  # Latin-1 stays (T1 fonts have it)
    assert latex.tex("ﬁ") == "fi"  # NFKD ascii fallback
    assert latex.tex("肺") == "?"


def test_number_filters_and_missing_values() -> None:
    assert latex.num(0.91234, 3) == "0.912"
    assert latex.num(-0.0001, 3) == "0.000"  # no negative zero
    assert latex.num(-0.5, 2) == "$-$0.50"
    for missing in (None, float("nan"), ""):
        assert latex.num(missing) == latex.MISSING
        assert latex.pm(missing, 0.1) == latex.MISSING
        assert latex.pct(missing) == latex.MISSING
    assert latex.pm(0.8, 0.0123, 3) == r"0.800~\textpm{}~0.012"
    assert latex.pm(0.8, float("nan"), 3) == "0.800"  # one fold: no std
    assert latex.pct(0.125) == r"12.5\%"
    assert latex.signed(0.0123) == "+0.012"
    assert latex.signed(-0.0123) == "$-$0.012"
    assert latex.signed(0.00001) == "0.000"
    assert latex.integer(6033) == "6{,}033"
    assert latex.pvalue(0.0004) == "$<$0.001"
    assert latex.sci(1e-4) == r"$10^{-4}$"
    assert latex.sci(2e-5) == r"$2 \times 10^{-5}$"
    assert latex.sci(0.3) == "0.3"
    assert latex.count(87_800_000) == r"87.8\,M"
    assert latex.duration(30) == r"30.0\,s"
    assert latex.megabytes(2048) == r"2.00\,GB"


def test_bold_if_and_cell() -> None:
    assert latex.bold_if("0.9", True) == r"\textbf{0.9}"
    assert latex.bold_if("0.9", False) == "0.9"
    assert latex.bold_if(latex.MISSING, True) == latex.MISSING
    c = {"mean": 0.9, "std": 0.01, "best": True, "sig": True}
    out = latex.cell(c)
    assert out.startswith(r"\textbf{0.900}\textsuperscript{\dag}") and "0.010" in out
    assert latex.cell({"mean": None, "std": None}) == latex.MISSING
    assert latex.cell(None) == latex.MISSING


@pytest.mark.parametrize(
    ("parts", "name"),
    [
        (("radgen", "macro_auc"), "RGRadgenMacroAuc"),
        (("swin_b", "BLEU-4"), "RGSwinBBLEUFour"),
        (("densenet121",), "RGDensenetOneTwoOne"),
        (("fold10", "auc_tb", "Std"), "RGFoldOneZeroAucTbStd"),
    ],
)
def test_macro_names_are_letters_only(parts: tuple[str, ...], name: str) -> None:
    assert latex.macro_name(*parts) == name
    assert name.isalpha()


def test_environment_delimiters_and_strict_undefined(tmp_path: Path) -> None:
    (tmp_path / "t.tex.j2").write_text(
        "((= a comment =))\\section{(((title|tex)))} {#1} {{x}}\n((* for v in values *))(((v|num(2)))) ((* endfor *))\n"
    )
    env = latex.make_environment(tmp_path)
    out = env.get_template("t.tex.j2").render(title="A_B", values=[0.5, None])
    assert out == "\\section{A\\_B} {#1} {{x}}\n0.50 -- "  # TeX braces and # pass through untouched
    with pytest.raises(jinja2.UndefinedError):
        env.get_template("t.tex.j2").render(values=[])  # 'title' missing
    with pytest.raises(jinja2.UndefinedError):
        latex.render_string("(((row.missing_key)))", row={})


def _compile(tmp_path: Path, body: str) -> subprocess.CompletedProcess[str]:
    doc = (
        "\\documentclass{article}\n\\usepackage[T1]{fontenc}\n\\usepackage[utf8]{inputenc}\n"
        f"\\begin{{document}}\n{body}\n\\end{{document}}\n"
    )
    (tmp_path / "doc.tex").write_text(doc, encoding="utf-8")
    return subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "doc.tex"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.skipif(
    not HAS_PDFLATEX, reason="pdflatex not installed (apt-get install texlive-latex-recommended)"
)
def test_escaped_report_with_every_special_character_compiles(tmp_path: Path) -> None:
    body = latex.render_string(
        "Report: (((report|tex)))\n\n\\begin{tabular}{ll}(((report|tex))) & x \\\\ \\end{tabular}",
        report=NASTY_REPORT,
    )
    proc = _compile(tmp_path, body)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert (tmp_path / "doc.pdf").is_file()
    if shutil.which("pdftotext"):
        text = subprocess.run(
            ["pdftotext", "doc.pdf", "-"], cwd=tmp_path, capture_output=True, text=True
        ).stdout
        for ch in "_%&#${}\\^~<>|":
            assert ch in text, ch


@pytest.mark.skipif(not HAS_PDFLATEX, reason="pdflatex not installed")
def test_unescaped_report_would_not_compile(tmp_path: Path) -> None:
    """Guards the test above: the raw text really is hostile to TeX."""
    assert _compile(tmp_path, f"Report: {NASTY_REPORT}").returncode != 0
