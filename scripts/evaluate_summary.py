"""Snakemake adapter: all fold JSONs and predictions -> summary.csv/json, pooled.csv, comparisons.csv.

input:  metrics      = every results/metrics/{variant}/fold{k}.json (alias folds)
        predictions  = every results/predictions/{variant}/fold{k}.csv (variant = the parent folder name)
output: summary      = results/metrics/summary.csv (alias summary_csv)
        summary_json = results/metrics/summary.json
        pooled       = results/metrics/pooled.csv
        comparisons  = results/metrics/comparisons.csv
params: reference    (default "radgen"), variants (optional list: row order of the outputs),
        evaluation   (optional: config["evaluation"]; reads bootstrap_resamples (default 1000), seed (0))
log:    one file
"""

from collections import defaultdict
from pathlib import Path

from radgen.evaluate.io import setup_script_logging
from radgen.evaluate.summary import write_summary


def predictions_by_variant(paths) -> dict[str, list[str]]:
    """Group results/predictions/{variant}/fold{k}.csv paths by their variant folder."""
    grouped: dict[str, list[str]] = defaultdict(list)
    for path in paths:
        grouped[Path(path).parent.name].append(str(path))
    return {v: sorted(p) for v, p in grouped.items()}


def main(sm) -> None:
    setup_script_logging(sm.log[0] if sm.log else None)
    evaluation = dict(getattr(sm.params, "evaluation", None) or {})
    folds = getattr(sm.input, "metrics", None) or sm.input.folds
    variants = getattr(sm.params, "variants", None)
    write_summary(
        fold_jsons=list(folds),
        predictions_by_variant=predictions_by_variant(sm.input.predictions),
        summary_csv=getattr(sm.output, "summary", None) or sm.output.summary_csv,
        summary_json=sm.output.summary_json,
        pooled_csv=sm.output.pooled,
        comparisons_csv=sm.output.comparisons,
        reference=getattr(sm.params, "reference", None) or evaluation.get("reference_variant", "radgen"),
        n_resamples=int(evaluation.get("bootstrap_resamples", getattr(sm.params, "n_resamples", 1000))),
        seed=int(evaluation.get("seed", getattr(sm.params, "seed", 0))),
        variant_order=list(variants) if variants else None,
    )


if __name__ == "__main__":
    main(snakemake)  # noqa: F821 - injected by Snakemake's script directive
