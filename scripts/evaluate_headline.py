"""Snakemake adapter (rule headline): summary.csv + comparisons.csv -> headline.json (the paper's selections)."""

from radgen.evaluate.headline import write_headline
from radgen.runlog import job_log

with job_log(snakemake):  # noqa: F821 - injected by Snakemake
    smk = snakemake  # noqa: F821
    write_headline(
        smk.input.summary,
        smk.input.comparisons,
        smk.output.headline,
        reference=smk.params.reference,
        groups=dict(smk.params.groups),
    )
