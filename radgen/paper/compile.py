"""Compile ``paper/main.tex`` to ``paper/main.pdf`` with latexmk, with errors a user can act on.

Why a wrapper: a bare latexmk failure in a Snakemake log is 2,000 lines of TeX chatter; here a missing TeX
installation says which packages to install, and a failed run shows the TeX error lines and the end of the log.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import shutil
import subprocess
from pathlib import Path

from radgen.io import atomic_path

log = logging.getLogger(__name__)

APT_HINT = (
    "apt-get install -y --no-install-recommends latexmk texlive-latex-recommended texlive-latex-extra "
    "texlive-fonts-recommended poppler-utils"
)
LATEXMK_ARGS = ("-pdf", "-interaction=nonstopmode", "-halt-on-error", "-file-line-error", "-g")


class PaperCompileError(RuntimeError):
    """TeX is missing or the document does not compile; the message carries the relevant log lines."""


def check_tex() -> str:
    """Path of latexmk; raises with the install command if latexmk or pdflatex is missing."""
    missing = [tool for tool in ("latexmk", "pdflatex") if shutil.which(tool) is None]
    if missing:
        raise PaperCompileError(
            f"cannot compile the paper: {' and '.join(missing)} not found on PATH. Install TeX, e.g. on "
            f"Debian/Ubuntu: {APT_HINT}  (or set paper.compile_pdf: false and build only paper/tables.tex)"
        )
    return str(shutil.which("latexmk"))


def log_excerpt(log_file: Path, tail: int = 40) -> str:
    """TeX error lines ('! ...' and file:line: ...) with context, then the last lines of the .log."""
    if not log_file.is_file():
        return f"(no TeX log at {log_file})"
    lines = log_file.read_text(errors="replace").splitlines()
    errors: list[str] = []
    for i, line in enumerate(lines):
        if line.startswith("!") or re.match(r"^[^\s:]+\.tex:\d+: ", line):
            errors.extend(lines[i : i + 4])
    parts = []
    if errors:
        parts.append("TeX errors:\n" + "\n".join(errors[:60]))
    parts.append(f"last {tail} lines of {log_file}:\n" + "\n".join(lines[-tail:]))
    return "\n\n".join(parts)


def compile_pdf(main_tex: str | Path, pdf_out: str | Path | None = None, *, timeout: int = 600) -> Path:
    """Run latexmk in the directory of ``pdf_out`` (default: main_tex's), where tables.tex / variables.tex are.

    Relative ``\\input`` and ``\\graphicspath`` resolve from that directory. When main_tex lives elsewhere (a
    Snakemake run with ``--directory`` reads the source from the repository) it is copied there first. Returns
    the PDF path.
    """
    main_tex = Path(main_tex).resolve()
    if not main_tex.is_file():
        raise PaperCompileError(f"paper source not found: {main_tex}")
    latexmk = check_tex()
    workdir = Path(pdf_out).resolve().parent if pdf_out else main_tex.parent
    if workdir != main_tex.parent:
        workdir.mkdir(parents=True, exist_ok=True)
        with atomic_path(workdir / main_tex.name) as tmp:
            shutil.copyfile(main_tex, tmp)
        main_tex = workdir / main_tex.name
    built = workdir / (main_tex.stem + ".pdf")
    cmd = [latexmk, *LATEXMK_ARGS, main_tex.name]
    log.info("running %s in %s", " ".join(cmd), workdir)
    env = dict(os.environ, max_print_line="1000")  # long lines in the .log: file:line errors stay on one line
    try:
        proc = subprocess.run(
            cmd, cwd=workdir, capture_output=True, text=True, timeout=timeout, env=env, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise PaperCompileError(
            f"latexmk did not finish within {timeout} s\n{log_excerpt(workdir / (main_tex.stem + '.log'))}"
        ) from exc
    log.debug("latexmk stdout:\n%s", proc.stdout)
    if proc.returncode != 0 or not built.is_file():
        raise PaperCompileError(
            f"latexmk failed on {main_tex} (exit {proc.returncode}).\n"
            f"{log_excerpt(workdir / (main_tex.stem + '.log'))}\n\nlatexmk said:\n{proc.stderr[-3000:]}"
        )
    target = Path(pdf_out).resolve() if pdf_out else built
    if target != built:
        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(target) as tmp:
            shutil.copyfile(built, tmp)
    log.info("wrote %s", target)
    return target


def main(argv: list[str] | None = None) -> None:
    """``python -m radgen.paper.compile [paper/main.tex]``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("main_tex", nargs="?", default="paper/main.tex")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    compile_pdf(args.main_tex, args.out)


if __name__ == "__main__":
    main()
