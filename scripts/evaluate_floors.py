"""Snakemake adapter (rule report_floors): manifest + folds -> the report-metric floors of one fold."""

from radgen.evaluate.floors import evaluate_floors_files
from radgen.evaluate.fold import report_options
from radgen.runlog import job_log

with job_log(snakemake):  # noqa: F821 - injected by Snakemake
    smk = snakemake  # noqa: F821
    evaluation = smk.params.evaluation
    evaluate_floors_files(
        manifest_csv=smk.input.manifest,
        folds_csv=smk.input.folds,
        out_json=smk.output.floors,
        fold=int(smk.wildcards.fold),
        seed=int(evaluation["seed"]),
        **report_options(evaluation),
    )
