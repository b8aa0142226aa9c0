"""Snakemake adapter (rule evaluate_fold): held-out predictions of one variant and fold -> metrics JSON."""

from radgen.evaluate.fold import evaluate_fold_files, report_options
from radgen.runlog import job_log

with job_log(snakemake):  # noqa: F821 - injected by Snakemake
    smk = snakemake  # noqa: F821
    evaluation = smk.params.evaluation
    evaluate_fold_files(
        predictions_csv=smk.input.predictions,
        manifest_csv=smk.input.manifest,
        out_json=smk.output.metrics,
        variant=smk.wildcards.variant,
        fold=int(smk.wildcards.fold),
        with_reports=bool(smk.params.report_metrics),
        **report_options(evaluation),
    )
