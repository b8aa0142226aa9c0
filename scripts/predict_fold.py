"""Snakemake adapter (rule predict): held-out predictions -> results/predictions/{variant}/fold{k}.csv.

input: model (directory), manifest, folds, cache, cache_index, [reports_predictions]; output: predictions;
threads; log. On CUDA the job claims a free GPU for its whole life; training.require_gpu forbids a CPU fallback.
"""

from radgen.predict import predict_fold, write_predictions
from radgen.runlog import job_log
from radgen.runtime import job_device

with job_log(snakemake) as log:  # noqa: F821 - injected by Snakemake
    smk = snakemake  # noqa: F821
    inputs = dict(smk.input.items())
    require_gpu = bool(smk.config["training"].get("require_gpu", False))
    with job_device("auto", require_gpu=require_gpu, option="the prediction device") as device:
        predictions = predict_fold(
            inputs["model"],
            manifest=inputs["manifest"],
            folds=inputs["folds"],
            cache=inputs["cache"],
            cache_index=inputs["cache_index"],
            fold=int(smk.wildcards.fold),
            reports_predictions=inputs.get("reports_predictions"),
            threads=int(smk.threads),
            device=str(device),
        )
    write_predictions(predictions, smk.output.predictions)
    log.info("wrote %d predictions to %s", len(predictions), smk.output.predictions)
