"""Snakemake adapter: compile paper/main.pdf with latexmk (radgen.paper.compile).

No ``from __future__`` import here: Snakemake prepends a preamble to script files, so it would not be first.

input (named):  main                 paper/main.tex (compiled in the directory of output.pdf)
                tables, variables    paper/tables.tex, paper/variables.tex (declared so the DAG orders the jobs)
                figures              results/figures/*.pdf included by main.tex (declared for the same reason)
output (named): pdf                  paper/main.pdf
log:            log[0]               latexmk's full output; on failure the TeX error lines and the .log tail
"""

import logging
from typing import Any

from radgen.paper.compile import compile_pdf


def main(smk: Any) -> None:
    logging.basicConfig(
        filename=smk.log[0],
        level=logging.DEBUG,
        force=True,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        compile_pdf(smk.input.main, smk.output.pdf)
    except Exception:
        logging.exception("compiling the paper failed")
        raise


if __name__ == "__main__" and "snakemake" in globals():
    main(snakemake)  # noqa: F821
