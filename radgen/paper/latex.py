"""A Jinja2 environment that is safe for LaTeX, and the filters the paper templates use.

Why a custom environment: Jinja's default delimiters (``{{ }}``, ``{% %}``, ``{# #}``) clash with TeX braces and
``#`` parameters, its default Undefined silently renders missing numbers as empty strings, and nothing escapes TeX's
special characters. Here the delimiters are ``((( )))`` for values, ``((* *))`` for blocks and ``((= =))`` for
comments, any undefined name raises, and every string from data or config is meant to go through ``tex``.

Macro names (``macro_name``): TeX control words consist of letters only, so a name built from data is sanitised by
this scheme, documented once here and used everywhere:

* the name is the prefix (default ``RG``) followed by each part in turn;
* each part is split into runs of ASCII letters and runs of digits; every other character (``_``, ``-``, ``.``,
  spaces, non-ASCII...) is only a separator;
* a run of letters keeps its case but gets an upper-case first letter (``macro_auc`` -> ``MacroAuc``,
  ``BLEU`` -> ``BLEU``);
* every digit is spelled out as a capitalised English word (``BLEU-4`` -> ``BLEUFour``, ``densenet121`` ->
  ``DensenetOneTwoOne``, ``fold10`` -> ``FoldOneZero``).

So ``macro_name("radgen", "macro_auc")`` is ``RGRadgenMacroAuc``. Distinct inputs can collide (``a_b`` and ``aB``);
the macros of the paper are declared by name in ``radgen.paper.macros``, and a test refuses duplicates there.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import jinja2

MISSING = "--"
"""What a missing optional number renders as, in tables and in macros."""

_TEX_SPECIALS: dict[str, str] = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "$": r"\$",
    "&": r"\&",
    "#": r"\#",
    "^": r"\textasciicircum{}",
    "_": r"\_",
    "%": r"\%",
    "~": r"\textasciitilde{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
    # Typographic characters that pdflatex's utf8 input handles only partly; spelled as TeX so any font works.
    "\u2013": "--",
    "\u2014": "---",
    "\u2018": "`",
    "\u2019": "'",
    "\u201c": "``",
    "\u201d": "''",
    "\u2026": r"\dots{}",
    "\u00a0": "~",
    "\u2022": r"\textbullet{}",
    "\u00b1": r"\textpm{}",
    "\u00b0": r"\textdegree{}",
    "\u00d7": r"\texttimes{}",
}
_DIGIT_WORDS = ("Zero", "One", "Two", "Three", "Four", "Five", "Six", "Seven", "Eight", "Nine")
_MACRO_NAME_RE = re.compile(r"[A-Za-z]+")


def _is_missing(x: Any) -> bool:
    """None, NaN and empty strings all mean 'no value' in the results files (pandas reads blanks as NaN)."""
    if x is None:
        return True
    if isinstance(x, str):
        return x.strip() == ""
    try:
        return math.isnan(float(x))
    except (TypeError, ValueError):
        return False


def _tex_char(ch: str) -> str:
    """Escape one character; characters outside Latin-1 fall back to an ASCII transliteration or '?'.

    pdflatex with T1 fonts typesets Latin-1 (PadChest's Spanish reports) but stops on e.g. CJK or emoji, so those
    are replaced rather than allowed to break the build.
    """
    if ch in _TEX_SPECIALS:
        return _TEX_SPECIALS[ch]
    if ch in "\n\r\t\f\v":
        return " "
    code = ord(ch)
    if code < 32 or code == 127:
        return ""
    if code <= 0xFF:
        return ch
    ascii_form = unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode("ascii")
    return "".join(_tex_char(c) for c in ascii_form) if ascii_form else "?"


def tex(value: Any) -> str:
    """Escape a value for LaTeX text mode; None is an error because a silently empty cell hides a bug."""
    if value is None:
        raise ValueError("tex filter received None: a required text value is missing")
    text = unicodedata.normalize("NFC", str(value))
    return "".join(_tex_char(ch) for ch in text)


def _minus(s: str) -> str:
    """Typeset a leading minus sign as a real minus, not a hyphen."""
    return "$-$" + s[1:] if s.startswith("-") else s


def num(x: Any, digits: int = 3) -> str:
    """Fixed-point number, or ``--`` when missing."""
    if _is_missing(x):
        return MISSING
    value = float(x)
    if math.isinf(value):
        return r"$\infty$" if value > 0 else r"$-\infty$"
    out = f"{value:.{digits}f}"
    if float(out) == 0:  # no "-0.000"
        out = out.lstrip("-")
    return _minus(out)


def signed(x: Any, digits: int = 3) -> str:
    """Number with an explicit sign, for differences (Δ columns)."""
    if _is_missing(x):
        return MISSING
    out = num(x, digits)
    return "+" + out if float(f"{float(x):.{digits}f}") > 0 else out


def pm(mean: Any, std: Any = None, digits: int = 3) -> str:
    """``mean ± std``; the std is dropped when missing (one fold), the whole is ``--`` when the mean is."""
    if _is_missing(mean):
        return MISSING
    if _is_missing(std):
        return num(mean, digits)
    return f"{num(mean, digits)}~\\textpm{{}}~{num(std, digits)}"


def pct(x: Any, digits: int = 1) -> str:
    """A fraction in [0, 1] as a percentage with an escaped percent sign."""
    if _is_missing(x):
        return MISSING
    return num(100.0 * float(x), digits) + r"\%"


def integer(x: Any) -> str:
    """Integer with thin-space thousands separators (6{,}033 style), ``--`` when missing."""
    if _is_missing(x):
        return MISSING
    return f"{round(float(x)):,}".replace(",", "{,}").replace("-", "$-$")


def pvalue(p: Any) -> str:
    """P-value as papers print it: three decimals, ``$<$0.001`` below that."""
    if _is_missing(p):
        return MISSING
    value = float(p)
    if value < 0.001:
        return r"$<$0.001"
    return f"{value:.3f}"


def sci(x: Any, digits: int = 1) -> str:
    """Scientific notation for small settings such as learning rates (1e-4 -> 1\\times10^{-4} in math mode)."""
    if _is_missing(x):
        return MISSING
    value = float(x)
    if value == 0:
        return "0"
    exponent = math.floor(math.log10(abs(value)))
    if -2 <= exponent <= 3:
        return _minus(f"{value:g}")
    mantissa = value / 10**exponent
    mant = f"{mantissa:.{digits}f}".rstrip("0").rstrip(".")
    factor = "" if mant == "1" else mant + r" \times "
    return f"${factor}10^{{{exponent}}}$"


def count(x: Any) -> str:
    """Parameter counts in K / M / B, e.g. 87.8\\,M."""
    if _is_missing(x):
        return MISSING
    value = float(x)
    for scale, unit in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(value) >= scale:
            return f"{value / scale:.1f}\\,{unit}"
    return integer(value)


def duration(seconds: Any) -> str:
    """Seconds as s / min / h, whichever reads best."""
    if _is_missing(seconds):
        return MISSING
    s = float(seconds)
    if s < 120:
        return f"{s:.1f}\\,s"
    if s < 7200:
        return f"{s / 60:.1f}\\,min"
    return f"{s / 3600:.2f}\\,h"


def megabytes(mb: Any) -> str:
    """Memory given in MB (Snakemake benchmark unit) as MB or GB."""
    if _is_missing(mb):
        return MISSING
    value = float(mb)
    return f"{value / 1024:.2f}\\,GB" if value >= 1024 else f"{value:.0f}\\,MB"


def bold_if(text: Any, condition: Any) -> str:
    """Wrap already-formatted TeX in \\textbf when condition holds (never bolds ``--``)."""
    s = str(text)
    return f"\\textbf{{{s}}}" if condition and s != MISSING else s


def cell(c: Any, digits: int = 3, stacked: bool = False) -> str:
    """A table cell from a dict {mean, std, best, sig}: bold mean if best, small std, a dagger if significant.

    The std is typeset smaller so that seven mean±std columns fit a single-column page; ``stacked`` puts it under
    the mean (for tables with ten or more columns).
    """
    if c is None or _is_missing(c.get("mean")):
        return MISSING
    out = bold_if(num(c["mean"], digits), c.get("best"))
    if c.get("sig"):
        out += r"\textsuperscript{\dag}"
    if not _is_missing(c.get("std")):
        std = f"{{\\scriptsize\\textpm{{}}{num(c['std'], digits)}}}"
        out = (
            f"\\begin{{tabular}}[t]{{@{{}}c@{{}}}}{out}\\\\[-0.3ex]{std}\\end{{tabular}}"
            if stacked
            else f"{out}\\,{std}"
        )
    return out


def macro_name(*parts: Any, prefix: str = "RG") -> str:
    """A letters-only TeX macro name from arbitrary parts (scheme in the module docstring)."""
    out = [prefix]
    for part in parts:
        for run in re.findall(r"[A-Za-z]+|[0-9]", str(part)):
            out.append(_DIGIT_WORDS[int(run)] if run.isdigit() else run[0].upper() + run[1:])
    name = "".join(out)
    if not _MACRO_NAME_RE.fullmatch(name):
        raise ValueError(f"cannot build a TeX macro name from {parts!r}")
    return name


def setting(value: Any) -> str:
    """A configuration value as a table cell: yes/no, lists joined, numbers in short form, text escaped."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return MISSING
    if isinstance(value, list | tuple):
        return ", ".join(setting(v) for v in value) if value else "none"
    if isinstance(value, float):
        return tex(f"{value:g}")
    return tex(value).replace(r"\_", r"\_\allowbreak{}").replace("/", r"/\allowbreak{}")  # long model ids


FILTERS = {
    "tex": tex,
    "setting": setting,
    "num": num,
    "signed": signed,
    "pm": pm,
    "pct": pct,
    "integer": integer,
    "pvalue": pvalue,
    "sci": sci,
    "count": count,
    "duration": duration,
    "megabytes": megabytes,
    "bold_if": bold_if,
    "cell": cell,
    "macro_name": macro_name,
}


def make_environment(template_dirs: Path | str | Iterable[Path | str]) -> jinja2.Environment:
    """The LaTeX-safe environment: TeX-neutral delimiters, StrictUndefined, no autoescape, the filters above."""
    if isinstance(template_dirs, (str, Path)):
        template_dirs = [template_dirs]
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(d) for d in template_dirs]),
        block_start_string="((*",
        block_end_string="*))",
        variable_start_string="(((",
        variable_end_string=")))",
        comment_start_string="((=",
        comment_end_string="=))",
        line_statement_prefix=None,
        line_comment_prefix=None,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters.update(FILTERS)
    return env


def render_string(source: str, **context: Any) -> str:
    """Render a template given as a string with the LaTeX environment (tests, one-off snippets)."""
    env = make_environment([])
    return env.from_string(source).render(**context)
