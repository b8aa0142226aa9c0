"""Snakemake adapter (rule compile_paper): paper/main.tex (+ generated tables, macros, figures) -> main.pdf."""

from radgen.paper.compile import compile_pdf
from radgen.runlog import job_log

with job_log(snakemake):  # noqa: F821 - injected by Snakemake
    compile_pdf(snakemake.input.main, snakemake.output.pdf)  # noqa: F821
