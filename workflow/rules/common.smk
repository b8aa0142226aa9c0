# Helpers shared by the workflow files: validated config, variant/fold lists, per-stage code inputs.
from pathlib import Path

from radgen.config import ConfigError, validate_config
from radgen.job_resources import gpu_request, job_resources
from radgen.variants import variant_set

try:
    validate_config(config)
except ConfigError as err:
    raise WorkflowError(str(err)) from None


SPECS = variant_set(
    config
)  # the one definition of every variant (radgen.variants.VariantSpec)
VARIANTS = list(SPECS)
FOLDS = list(range(config["folds"]["k"]))
REFERENCE = SPECS.reference.name
ENV = "../envs/radgen.yaml"
LOGS = "results/logs"
PAPER_DIR = Path(workflow.basedir).parent / "paper"


def code(*packages):
    """Source files of radgen sub-packages: editing them re-runs exactly the steps that use them."""
    root = Path(workflow.basedir).parent / "radgen"
    files = []
    for package in packages:
        path = root / package
        files += (
            sorted(str(p) for p in path.rglob("*.py")) if path.is_dir() else [str(path)]
        )
    return files


def reports_from_model(wildcards):
    source = SPECS[wildcards.variant].reports_variant
    return (
        {"reports_model": f"results/models/{source}/fold{wildcards.fold}"}
        if source
        else {}
    )


def reports_from_predictions(wildcards):
    source = SPECS[wildcards.variant].reports_variant
    return (
        {
            "reports_predictions": f"results/predictions/{source}/fold{wildcards.fold}.csv"
        }
        if source
        else {}
    )


def resource(stage, key, default):
    return config.get("resources", {}).get(stage, {}).get(key, default)


def rule_resources(stage, gpus=None):
    """mem_mb, runtime, partition, account and GPU request of a stage's jobs: the config is their one source."""
    return job_resources(config.get("resources", {}), stage, gpus)


def train_gpus(wildcards):
    """GPUs of one training job: training.devices (its DDP processes) when above 1, else resources.train.gpu."""
    devices = int(SPECS[wildcards.variant].training.get("devices", 1))
    return devices if devices > 1 else resource("train", "gpu", 1)


def train_resources():
    """rule_resources("train") with the GPU request a function of the variant (training.devices)."""
    slurm = config.get("resources", {}).get("slurm", {})
    per_job = {
        key: (lambda wildcards, key=key: gpu_request(slurm, train_gpus(wildcards))[key])
        for key in gpu_request(slurm, resource("train", "gpu", 1))
    }
    return {**rule_resources("train", gpus=0), **per_job}


def all_fold_files(pattern):
    return expand(pattern, variant=VARIANTS, fold=FOLDS)


def final_targets():
    targets = ["paper/tables.tex", "paper/variables.tex"]
    if config["paper"]["compile_pdf"]:
        targets.append("paper/main.pdf")
    if config["data"]["source"] == "synthetic":
        targets.append("results/data/synthetic_examples.png")
    return targets
