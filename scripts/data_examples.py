"""Snakemake adapter: manifest -> example figure (films per class with their reports)."""

from radgen.data.figures import plot_examples
from radgen.io import read_manifest
from radgen.runlog import job_log

with job_log(snakemake) as log:  # noqa: F821 - injected by Snakemake
    plot_examples(read_manifest(snakemake.input.manifest), snakemake.output.figure)  # noqa: F821
    log.info("wrote %s", snakemake.output.figure)  # noqa: F821
