"""Snakemake adapter (rule summarize): every fold's metrics and predictions + the manifest's patients ->
summary, patient-level pooled CIs and comparisons (+ comparisons.json, what the paper states about them)."""

from radgen.evaluate.summary import predictions_by_variant, write_summary
from radgen.runlog import job_log

with job_log(snakemake):  # noqa: F821 - injected by Snakemake
    smk = snakemake  # noqa: F821
    write_summary(
        fold_jsons=list(smk.input.metrics),
        predictions_by_variant=predictions_by_variant(smk.input.predictions),
        summary_csv=smk.output.summary,
        summary_json=smk.output.summary_json,
        pooled_csv=smk.output.pooled,
        comparisons_csv=smk.output.comparisons,
        reference=smk.params.reference,
        n_resamples=int(smk.params.evaluation["bootstrap_resamples"]),
        seed=int(smk.params.evaluation["seed"]),
        variant_order=list(smk.params.variants),
        manifest_csv=smk.input.manifest,
        comparisons_json=smk.output.comparisons_meta,
        floor_jsons=list(smk.input.floors),
        compared=list(smk.params.compared),
    )
