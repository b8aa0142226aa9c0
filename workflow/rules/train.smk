# Training and held-out prediction of every variant on every fold (GPU-resourced), after the pretrained models
# they need are materialised locally by fetch_pretrained (a local rule: it runs on the login node).
from dataclasses import asdict

from radgen.pretrained_fetch import components_of

# Code both stages run (fold data, image conversion, the batched model loop, the variant spec, the pretrained-model
# manifest; radgen/devices.py only picks a GPU and is left out). radgen/inference.py is read by
# prediction only, so editing it reruns prediction jobs and no training job.
RUNTIME_CODE = (
    "runtime.py",
    "data/folddata.py",
    "data/images.py",
    "variants.py",
    "constants.py",
    "pretrained_fetch.py",
)
PRETRAINED_DIR = config["pretrained"]["dir"]
PRETRAINED_MANIFEST = f"{PRETRAINED_DIR}/manifest.json"


# Every pretrained model any variant names, fetched once (an empty manifest when nothing is pretrained). A change of
# that set reruns this job; training jobs read the manifest as `ancient` so that they rerun only when their own
# model config changes (their params), not when another variant adds a model.
rule fetch_pretrained:
    output:
        manifest=PRETRAINED_MANIFEST,
    log:
        f"{LOGS}/fetch_pretrained.log",
    benchmark:
        "results/benchmarks/fetch_pretrained/run.tsv"
    conda:
        ENV
    params:
        components={
            c.key: asdict(c) for c in components_of(s.model for s in SPECS.values())
        },
        directory=lambda wildcards, output: Path(output.manifest).parent,
    script:
        "../../scripts/fetch_pretrained.py"


rule train:
    input:
        unpack(reports_from_model),
        manifest="results/data/manifest.csv",
        folds="results/data/folds.csv",
        cache="results/data/cache.npy",
        cache_index="results/data/cache_index.csv",
        pretrained=ancient(PRETRAINED_MANIFEST),
        code=code("models", "train", "evaluate/metrics.py", *RUNTIME_CODE),
    output:
        model=directory("results/models/{variant}/fold{fold}"),
    log:
        f"{LOGS}/train/{{variant}}/fold{{fold}}.log",
    benchmark:
        "results/benchmarks/train/{variant}/fold{fold}.tsv"
    conda:
        ENV
    threads: resource("train", "threads", 1)
    resources:
        **train_resources(),
    params:
        variant=lambda wc: SPECS[wc.variant].train_params(),
        checkpoint_dir="results/checkpoints/{variant}/fold{fold}",
    script:
        "../../scripts/train_model.py"


rule predict:
    input:
        unpack(reports_from_predictions),
        model="results/models/{variant}/fold{fold}",
        manifest="results/data/manifest.csv",
        folds="results/data/folds.csv",
        cache="results/data/cache.npy",
        cache_index="results/data/cache_index.csv",
        code=code("models", *RUNTIME_CODE, "inference.py", "predict.py"),
    output:
        predictions="results/predictions/{variant}/fold{fold}.csv",
    log:
        f"{LOGS}/predict/{{variant}}/fold{{fold}}.log",
    benchmark:
        "results/benchmarks/predict/{variant}/fold{fold}.tsv"
    conda:
        ENV
    threads: resource("predict", "threads", 1)
    resources:
        **rule_resources("predict", gpus=resource("predict", "gpu", 1)),
    script:
        "../../scripts/predict_fold.py"
