"""Snakemake adapter: one (variant, fold) -> results/metrics/{variant}/fold{k}.json.

input:  predictions  = results/predictions/{variant}/fold{k}.csv
        manifest     = results/data/manifest.csv (reference reports; needed when report metrics are on)
output: metrics      = results/metrics/{variant}/fold{k}.json (or the only output)
params: report_metrics (bool: the variant's model.report_generator.enabled; alias with_reports)
        evaluation   (optional: config["evaluation"]; reads radcliq (default false), meteor ("auto" | true |
                      false, default "auto" = when Java works), uncertain_as_positive (default false))
        variant, fold (optional; default from the wildcards)
log:    one file
"""

from radgen.evaluate.fold import evaluate_fold_files
from radgen.evaluate.io import setup_script_logging


def _param(sm, name, default=None):
    return getattr(sm.params, name, default)


def main(sm) -> None:
    setup_script_logging(sm.log[0] if sm.log else None)
    evaluation = dict(_param(sm, "evaluation") or {})
    with_reports = _param(sm, "report_metrics", _param(sm, "with_reports", False))
    meteor = evaluation.get("meteor", _param(sm, "meteor", "auto"))
    fold = _param(sm, "fold")
    evaluate_fold_files(
        predictions_csv=sm.input.predictions,
        manifest_csv=getattr(sm.input, "manifest", None),
        out_json=getattr(sm.output, "metrics", None) or sm.output[0],
        variant=str(_param(sm, "variant") or sm.wildcards.variant),
        fold=int(fold if fold is not None else sm.wildcards.fold),
        with_reports=bool(with_reports),
        meteor=None if meteor in (None, "auto") else bool(meteor),
        radcliq=bool(evaluation.get("radcliq", _param(sm, "radcliq", False))),
        uncertain_as_positive=bool(evaluation.get("uncertain_as_positive", False)),
    )


if __name__ == "__main__":
    main(snakemake)  # noqa: F821 - injected by Snakemake's script directive
