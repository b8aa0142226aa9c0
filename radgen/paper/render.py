"""Render ``paper/tables.tex``, ``paper/variables.tex`` and ``paper/methods.tex`` from the results and the config.

Why atomic writes: Snakemake (and a human running latexmk by hand) must never see a half-written ``.tex``; each file
is written next to its destination and moved into place only when complete.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from radgen.io import atomic_path
from radgen.paper.context import build_context
from radgen.paper.inputs import PaperInputs
from radgen.paper.latex import make_environment

log = logging.getLogger(__name__)

DEFAULT_TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "paper" / "templates"
TABLES_TEMPLATE = "tables.tex.j2"
VARIABLES_TEMPLATE = "variables.tex.j2"
METHODS_TEMPLATE = "methods.tex.j2"


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write text to path through radgen.io.atomic_path (temporary file, rename, normal permissions)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def render_paper(
    inputs: PaperInputs,
    config: Mapping[str, Any],
    tables_out: str | Path,
    variables_out: str | Path,
    *,
    tables_template: str | Path | None = None,
    variables_template: str | Path | None = None,
    methods_out: str | Path | None = None,
    methods_template: str | Path | None = None,
    repo_dir: str | Path = ".",
) -> dict[str, Any]:
    """Render every file; returns the context (tests inspect it). All are rendered before any is written."""
    jobs = {  # methods.tex goes next to tables.tex unless told otherwise: main.tex inputs all three
        Path(variables_template or DEFAULT_TEMPLATE_DIR / VARIABLES_TEMPLATE): variables_out,
        Path(tables_template or DEFAULT_TEMPLATE_DIR / TABLES_TEMPLATE): tables_out,
        Path(methods_template or DEFAULT_TEMPLATE_DIR / METHODS_TEMPLATE): methods_out
        or Path(tables_out).with_name("methods.tex"),
    }
    for t in jobs:
        if not t.is_file():
            raise FileNotFoundError(f"paper template not found: {t}")
    context = build_context(inputs, config, repo_dir=repo_dir)
    env = make_environment(sorted({str(t.parent) for t in jobs}))
    texts = {out: env.get_template(t.name).render(**context) for t, out in jobs.items()}
    for out, text in texts.items():
        atomic_write_text(out, text)
    log.info("wrote %s (%d macros)", ", ".join(map(str, texts)), len(context["macros"]))
    return context


def main(argv: list[str] | None = None) -> None:
    """``python -m radgen.paper.render --results results --config config/config.yaml`` outside Snakemake."""
    from radgen.config import load_config

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--results", default="results", help="results directory")
    parser.add_argument("--config", default="config/config.yaml")
    parser.add_argument("--templates", default=str(DEFAULT_TEMPLATE_DIR))
    parser.add_argument("--out", default="paper", help="directory for tables.tex and variables.tex")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    out = Path(args.out)
    render_paper(
        PaperInputs.from_results_dir(args.results),
        load_config(args.config),
        out / "tables.tex",
        out / "variables.tex",
        tables_template=Path(args.templates) / TABLES_TEMPLATE,
        variables_template=Path(args.templates) / VARIABLES_TEMPLATE,
        methods_out=out / "methods.tex",
        methods_template=Path(args.templates) / METHODS_TEMPLATE,
    )


if __name__ == "__main__":
    main()
