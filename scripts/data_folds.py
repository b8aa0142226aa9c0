"""Snakemake adapter: manifest -> results/data/folds.csv (patient-grouped, stratified, inner split), and the
folds' validity warnings (a class missing from a fold part, when folds.allow_missing_class allows it)."""

from radgen.data.folds import fold_summary, make_folds
from radgen.data.validity import write_warnings
from radgen.io import read_manifest, write_folds
from radgen.runlog import collect_warnings, job_log

with job_log(snakemake) as log, collect_warnings() as warnings:  # noqa: F821 - injected by Snakemake
    cfg = snakemake.params.folds  # noqa: F821
    manifest = read_manifest(snakemake.input.manifest)  # noqa: F821
    folds = make_folds(
        manifest,
        k=int(cfg["k"]),
        seed=int(cfg["seed"]),
        inner_val_fraction=float(cfg["inner_val_fraction"]),
        allow_missing_class=bool(cfg.get("allow_missing_class", False)),
    )
    write_folds(folds, snakemake.output.folds)  # noqa: F821
    log.info("folds:\n%s", fold_summary(manifest, folds).round(3).to_string())
    write_warnings(snakemake.output.warnings, "folds", warnings)  # noqa: F821
