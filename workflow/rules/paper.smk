# Metrics -> Jinja-rendered LaTeX tables and numbers -> the compiled paper.


rule render_paper:
    input:
        manifest="results/data/manifest.csv",
        folds="results/data/folds.csv",
        summary="results/metrics/summary.csv",
        headline="results/metrics/headline.json",
        pooled="results/metrics/pooled.csv",
        comparisons_meta="results/metrics/comparisons.json",
        warnings=[
            "results/data/manifest_warnings.json",
            "results/data/folds_warnings.json",
        ],
        benchmarks=all_fold_files("results/benchmarks/train/{variant}/fold{fold}.tsv"),
        models=all_fold_files("results/models/{variant}/fold{fold}"),
        templates=sorted(
            str(p) for p in PAPER_DIR.joinpath("templates").glob("*.tex.j2")
        ),
        code=code("paper", "io.py", "config.py", "variants.py"),
    output:
        tables="paper/tables.tex",
        variables="paper/variables.tex",
        methods="paper/methods.tex",
    log:
        f"{LOGS}/paper/render.log",
    conda:
        ENV
    params:
        config=config,
    script:
        "../../scripts/paper_render.py"


rule compile_paper:
    input:
        main=str(PAPER_DIR / "main.tex"),
        tables="paper/tables.tex",
        variables="paper/variables.tex",
        methods="paper/methods.tex",
        figures=expand("results/figures/{name}.pdf", name=FIGURES),
    output:
        pdf="paper/main.pdf",
    log:
        f"{LOGS}/paper/compile.log",
    benchmark:
        "results/benchmarks/compile_paper/run.tsv"
    conda:
        ENV
    resources:
        **rule_resources("default"),
    script:
        "../../scripts/paper_compile.py"
