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
        code=code("evaluate"),
    output:
        metrics="results/metrics/{variant}/fold{fold}.json",
    log:
        f"{LOGS}/evaluate/{{variant}}/fold{{fold}}.log",
    conda:
        ENV
    params:
        report_metrics=lambda wc: generates_reports(wc.variant),
        evaluation=config["evaluation"],
    script:
        "../../scripts/evaluate_fold.py"


rule summarize:
    input:
        metrics=all_fold_files("results/metrics/{variant}/fold{fold}.json"),
        predictions=all_fold_files("results/predictions/{variant}/fold{fold}.csv"),
        manifest="results/data/manifest.csv",
        code=code("evaluate"),
    output:
        summary=report("results/metrics/summary.csv", category="Tables"),
        summary_json="results/metrics/summary.json",
        pooled=report("results/metrics/pooled.csv", category="Tables"),
        comparisons=report("results/metrics/comparisons.csv", category="Tables"),
        comparisons_meta="results/metrics/comparisons.json",
    log:
        f"{LOGS}/evaluate/summary.log",
    conda:
        ENV
    params:
        variants=VARIANTS,
        reference=REFERENCE,
        evaluation=config["evaluation"],
    script:
        "../../scripts/evaluate_summary.py"


rule figures:
    input:
        predictions=all_fold_files("results/predictions/{variant}/fold{fold}.csv"),
        models=all_fold_files("results/models/{variant}/fold{fold}"),
        manifest="results/data/manifest.csv",
        code=code("evaluate"),
    output:
        **{
            f"{name}_{ext}": (
                report(
                    f"results/figures/{name}.{ext}",
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
    conda:
        ENV
    params:
        labels={v: variant(v)["label"] for v in VARIANTS},
        drawn=[v for v in VARIANTS if variant(v)["group"] in ("main", "baseline")],
        reference=REFERENCE,
    script:
        "../../scripts/evaluate_figures.py"
