"""Snakemake adapter (rule train): one variant on one fold -> results/models/{variant}/fold{k}/.

input: manifest, folds, cache, cache_index, [reports_model]; output: model (directory);
params: variant (resolved variant_config), checkpoint_dir; threads; log.
"""

from radgen.runlog import job_log
from radgen.train import train_fold

with job_log(snakemake):  # noqa: F821 - injected by Snakemake
    smk = snakemake  # noqa: F821
    inputs = dict(smk.input.items())
    train_fold(
        smk.params.variant,
        manifest=inputs["manifest"],
        folds=inputs["folds"],
        cache=inputs["cache"],
        cache_index=inputs["cache_index"],
        fold=int(smk.wildcards.fold),
        output_dir=smk.output.model,
        image_size=int(smk.config["data"]["image_size"]),
        checkpoint_dir=smk.params.checkpoint_dir,
        reports_model_dir=inputs.get("reports_model"),
        threads=int(smk.threads),
        progress=True,
    )
