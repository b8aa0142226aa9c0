# Predictions -> per-fold metrics -> summary over folds, pooled CIs, DeLong tests, figures.

FIGURES = [
    "roc_curves",
    "confusion_matrix",
    "training_curves",
    "calibration",
    "qualitative_examples",
]


rule evaluate_fold:
    input:
        predictions="results/predictions/{variant}/fold{fold}.csv",
        manifest="results/data/manifest.csv",
        code=code("evaluate", "io.py"),
    output:
        metrics="results/metrics/{variant}/fold{fold}.json",
    log:
        f"{LOGS}/evaluate/{{variant}}/fold{{fold}}.log",
    benchmark:
        "results/benchmarks/evaluate_fold/{variant}/fold{fold}.tsv"
    conda:
        ENV
    resources:
        **rule_resources("default"),
    params:
        report_metrics=lambda wc: SPECS[wc.variant].generates_reports,
        evaluation=config["evaluation"],
    script:
        "../../scripts/evaluate_fold.py"


# Report-metric floors: random training reports of the true class / of any class, scored like generated ones.
# Its output path also matches evaluate_fold's pattern (variant "floors"), hence the ruleorder.
ruleorder: report_floors > evaluate_fold


rule report_floors:
    input:
        manifest="results/data/manifest.csv",
        folds="results/data/folds.csv",
        code=code("evaluate", "io.py"),
    output:
        floors="results/metrics/floors/fold{fold}.json",
    log:
        f"{LOGS}/evaluate/floors/fold{{fold}}.log",
    benchmark:
        "results/benchmarks/report_floors/fold{fold}.tsv"
    wildcard_constraints:
        fold=r"\d+",
    conda:
        ENV
    resources:
        **rule_resources("default"),
    params:
        evaluation=config["evaluation"],
    script:
        "../../scripts/evaluate_floors.py"


rule summarize:
    input:
        metrics=all_fold_files("results/metrics/{variant}/fold{fold}.json"),
        predictions=all_fold_files("results/predictions/{variant}/fold{fold}.csv"),
        manifest="results/data/manifest.csv",
        floors=(
            expand("results/metrics/floors/fold{fold}.json", fold=FOLDS)
            if any(spec.generates_reports for spec in SPECS.values())
            else []
        ),
        code=code("evaluate", "io.py"),
    output:
        summary=report(
            "results/metrics/summary.csv",
            caption="../report/summary.rst",
            category="Tables",
        ),
        summary_json="results/metrics/summary.json",
        pooled=report(
            "results/metrics/pooled.csv",
            caption="../report/pooled.rst",
            category="Tables",
        ),
        comparisons=report(
            "results/metrics/comparisons.csv",
            caption="../report/comparisons.rst",
            category="Tables",
        ),
        comparisons_meta="results/metrics/comparisons.json",
    log:
        f"{LOGS}/evaluate/summary.log",
    benchmark:
        "results/benchmarks/summarize/run.tsv"
    conda:
        ENV
    params:
        variants=VARIANTS,
        reference=REFERENCE,
        compared=[s.name for s in SPECS.in_group("baseline", "ablation", "extension")],
        evaluation=config["evaluation"],
    script:
        "../../scripts/evaluate_summary.py"


rule headline:
    input:
        summary="results/metrics/summary.csv",
        comparisons="results/metrics/comparisons.csv",
        code=code("evaluate/headline.py", "io.py"),
    output:
        headline="results/metrics/headline.json",
    log:
        f"{LOGS}/evaluate/headline.log",
    benchmark:
        "results/benchmarks/headline/run.tsv"
    conda:
        ENV
    params:
        reference=REFERENCE,
        groups={name: spec.group for name, spec in SPECS.items()},
    script:
        "../../scripts/evaluate_headline.py"


rule figures:
    input:
        predictions=all_fold_files("results/predictions/{variant}/fold{fold}.csv"),
        models=all_fold_files("results/models/{variant}/fold{fold}"),
        manifest="results/data/manifest.csv",
        code=code("evaluate", "io.py"),
    output:
        **{
            f"{name}_{ext}": (
                report(
                    f"results/figures/{name}.{ext}",
                    caption=f"../report/{name}.rst",
                    category="Figures",
                    labels={"figure": name, "format": ext},
                )
                if ext == "png"
                else f"results/figures/{name}.{ext}"
            )
            for name in FIGURES
            for ext in ("pdf", "png")
        },
    log:
        f"{LOGS}/evaluate/figures.log",
    benchmark:
        "results/benchmarks/figures/run.tsv"
    conda:
        ENV
    resources:
        **rule_resources("default"),
    params:
        labels={name: spec.label for name, spec in SPECS.items()},
        drawn=[spec.name for spec in SPECS.in_group("main", "baseline")],
        reference=REFERENCE,
    script:
        "../../scripts/evaluate_figures.py"
