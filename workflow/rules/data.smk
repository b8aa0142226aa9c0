# Raw data -> validated manifest -> patient-grouped folds and the decoded image cache.

from radgen.data.ingest import folder_inputs

SYNTHETIC = config["data"]["source"] == "synthetic"
FOLDER = config["data"]["source"] == "folder"


rule manifest:
    input:
        # a folder source's listing at DAG time: adding, removing or changing an image reruns the manifest
        source=lambda wildcards: (
            folder_inputs(config["data"]["path"])
            if FOLDER
            else ([] if SYNTHETIC else [config["data"]["path"]])
        ),
        code=code("data", "config.py", "io.py"),
    output:
        **({"images": directory("results/data/synthetic")} if SYNTHETIC else {}),
        manifest="results/data/manifest.csv",
        warnings="results/data/manifest_warnings.json",
    log:
        f"{LOGS}/data/manifest.log",
    benchmark:
        "results/benchmarks/manifest/run.tsv"
    conda:
        ENV
    threads: 2
    resources:
        **rule_resources("default"),
    params:
        data=config["data"],
        require_reports=any(spec.needs_reports for spec in SPECS.values()),
    script:
        "../../scripts/data_manifest.py"


rule synthetic_examples:
    input:
        manifest="results/data/manifest.csv",
        code=code("data", "io.py"),
    output:
        figure=report(
            "results/data/synthetic_examples.png",
            caption="../report/synthetic_examples.rst",
            category="Data",
        ),
    log:
        f"{LOGS}/data/synthetic_examples.log",
    benchmark:
        "results/benchmarks/synthetic_examples/run.tsv"
    conda:
        ENV
    resources:
        **rule_resources("default"),
    script:
        "../../scripts/data_examples.py"


rule folds:
    input:
        manifest="results/data/manifest.csv",
        code=code("data/folds.py", "data/validity.py", "io.py"),
    output:
        folds="results/data/folds.csv",
        warnings="results/data/folds_warnings.json",
    log:
        f"{LOGS}/data/folds.log",
    conda:
        ENV
    params:
        folds=config["folds"],
    script:
        "../../scripts/data_folds.py"


rule image_cache:
    input:
        manifest="results/data/manifest.csv",
        code=code("data/images.py", "data/cache.py", "io.py"),
    output:
        cache="results/data/cache.npy",
        index="results/data/cache_index.csv",
    log:
        f"{LOGS}/data/image_cache.log",
    benchmark:
        "results/benchmarks/image_cache/run.tsv"
    conda:
        ENV
    threads: 2
    resources:
        **rule_resources("default"),
    params:
        image_size=config["data"]["image_size"],
    script:
        "../../scripts/data_cache.py"
