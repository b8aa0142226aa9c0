"""Snakemake adapter: render paper/tables.tex and paper/variables.tex from results/ (radgen.paper.render).

No ``from __future__`` import here: Snakemake prepends a preamble to script files, so it would not be first.

input (named):  manifest, folds, summary            required results files
                pooled, comparisons                 optional (missing -> '--' in the PDF)
                benchmarks                          list of results/benchmarks/train/{variant}/fold{k}.tsv
                model_summaries                     list of results/models/{variant}/fold{k}/summary.json
                  (or models:                       list of results/models/{variant}/fold{k} directories)
                tables_template, variables_template paper/templates/{tables,variables}.tex.j2
                  (or templates:                    a list holding both, told apart by file name)
output (named): tables, variables                   paper/tables.tex, paper/variables.tex
params:         config (optional)                   resolved config (default: snakemake.config)
                repo_dir (optional)                 git checkout whose commit is recorded (default: scripts/..)
log:            log[0]
"""

import logging
from pathlib import Path
from typing import Any

from radgen.paper.context import PaperInputs
from radgen.paper.render import render_paper


def _paths(value: Any) -> list[str]:
    """A named input may be one path or a list of paths."""
    if value is None:
        return []
    return [str(value)] if isinstance(value, (str, Path)) else [str(v) for v in value]


def _template(inp: Any, kind: str) -> str:
    """input.{kind}_template, else the entry of input.templates named {kind}.tex.j2."""
    named = inp.get(f"{kind}_template")
    if named:
        return str(named)
    matches = [p for p in _paths(inp.get("templates")) if Path(p).name == f"{kind}.tex.j2"]
    if len(matches) != 1:
        raise FileNotFoundError(f"no input {kind}_template and no {kind}.tex.j2 among input.templates")
    return matches[0]


def main(smk: Any) -> None:
    logging.basicConfig(
        filename=smk.log[0],
        level=logging.INFO,
        force=True,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        inp = smk.input
        summaries = _paths(inp.get("model_summaries")) or [
            str(Path(d) / "summary.json") for d in _paths(inp.get("models"))
        ]
        inputs = PaperInputs.from_paths(
            manifest=inp.manifest,
            folds=inp.folds,
            summary=inp.summary,
            pooled=inp.get("pooled"),
            comparisons=inp.get("comparisons"),
            benchmarks=_paths(inp.get("benchmarks")),
            model_summaries=summaries,
        )
        render_paper(
            inputs,
            dict(smk.params.get("config") or smk.config),
            smk.output.tables,
            smk.output.variables,
            tables_template=_template(inp, "tables"),
            variables_template=_template(inp, "variables"),
            repo_dir=smk.params.get("repo_dir") or Path(smk.scriptdir).parent,
        )
    except Exception:
        logging.exception("rendering the paper tables failed")
        raise


if __name__ == "__main__" and "snakemake" in globals():
    main(snakemake)  # noqa: F821
