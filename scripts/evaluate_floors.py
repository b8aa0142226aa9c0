"""Snakemake adapter (rule report_floors): manifest + folds -> the report-metric floors of one fold."""

from radgen.evaluate.floors import evaluate_floors_files
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
        meteor=None if evaluation["meteor"] == "auto" else bool(evaluation["meteor"]),
        radcliq=bool(evaluation["radcliq"]),
        uncertain_as_positive=bool(evaluation["uncertain_as_positive"]),
    )
