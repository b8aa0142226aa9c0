"""Snakemake adapter: pooled predictions, manifest and training logs -> results/figures/*.pdf and *.png.

input:  predictions  = every results/predictions/{variant}/fold{k}.csv (variant = the parent folder name)
        manifest     = results/data/manifest.csv (images and reference reports of the qualitative page)
        models       = results/models/{variant}/fold{k} directories (the reference's train_log.csv files
                       are read from them), or train_logs = the reference's train_log.csv files; optional
output: every results/figures/{name}.{pdf,png} for name in radgen.evaluate.figures.FIGURE_NAMES
        (roc_curves, confusion_matrix, training_curves, calibration, qualitative_examples), named or not;
        all are written to the folder of the first one
params: reference    (default "radgen")
        variants     (optional: {variant: display label} or a list); ROC and calibration draw the reference
                     and the variants of group main/baseline (groups from the workflow config; all of
                     them when there is no config)
        labels       (optional {variant: display label}, overrides variants' labels)
log:    one file
"""

from collections import defaultdict
from pathlib import Path

from radgen.config import variant_config
from radgen.evaluate.figures import FIGURE_NAMES, make_figures, read_train_logs
from radgen.evaluate.io import read_manifest, setup_script_logging
from radgen.evaluate.summary import pool_predictions


def _drawn_variants(sm, candidates: list[str]) -> list[str]:
    """Main and baseline variants (ablations would crowd the ROC figure); all when groups are unknown."""
    config = getattr(sm, "config", None) or {}
    if not config.get("variants"):
        return candidates
    kept = []
    for name in candidates:
        try:
            group = variant_config(config, name)["group"]
        except KeyError:
            continue
        if group in ("main", "baseline"):
            kept.append(name)
    return kept or candidates


def main(sm) -> None:
    setup_script_logging(sm.log[0] if sm.log else None)
    reference = getattr(sm.params, "reference", None) or "radgen"
    grouped: dict[str, list[str]] = defaultdict(list)
    for path in sm.input.predictions:
        grouped[Path(path).parent.name].append(str(path))
    variants = getattr(sm.params, "variants", None) or list(grouped)
    labels = dict(variants) if isinstance(variants, dict) else {}
    labels.update(getattr(sm.params, "labels", None) or {})
    order = [v for v in variants if v in grouped] + [v for v in grouped if v not in variants]
    pooled = pool_predictions({v: grouped[v] for v in order})

    manifest_path = getattr(sm.input, "manifest", None)
    manifest = read_manifest(manifest_path) if manifest_path else None
    log_files = list(getattr(sm.input, "train_logs", None) or [])
    for model_dir in getattr(sm.input, "models", None) or []:
        if Path(model_dir).parent.name == reference:
            log_files.append(str(Path(model_dir) / "train_log.csv"))
    outputs = [Path(p) for p in sm.output]
    written = make_figures(
        pooled,
        outputs[0].parent,
        reference=reference,
        variants=_drawn_variants(sm, order),
        labels=labels,
        train_logs=read_train_logs(sorted(log_files)),
        manifest=manifest,
    )
    missing = [str(p) for p in outputs if p not in written]
    if missing:
        raise ValueError(
            f"declared outputs not produced: {missing}; figures are {list(FIGURE_NAMES)} x pdf/png"
        )


if __name__ == "__main__":
    main(snakemake)  # noqa: F821 - injected by Snakemake's script directive
