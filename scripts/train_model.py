"""Snakemake adapter (rule train): one variant on one fold -> results/models/{variant}/fold{k}/.

input: manifest, folds, cache, cache_index, pretrained (fetch_pretrained's manifest), [reports_model];
output: model (directory); params: variant (resolved variant_config), checkpoint_dir; threads; log.
On CUDA the job claims a free GPU for its whole life (radgen.runtime.job_device); with training.devices > 1 it
claims that many together and runs one DDP process on each.
"""

from radgen.runlog import job_log
from radgen.runtime import job_device
from radgen.train import train_fold

with job_log(snakemake):  # noqa: F821 - injected by Snakemake
    smk = snakemake  # noqa: F821
    inputs = dict(smk.input.items())
    training = smk.params.variant["training"]
    device, require_gpu = training.get("device", "auto"), bool(training.get("require_gpu", False))
    devices = int(training.get("devices", 1))
    with job_device(device, require_gpu=require_gpu, count=devices):
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
            pretrained_manifest=inputs["pretrained"],
        )
