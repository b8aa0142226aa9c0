"""Snakemake adapter: manifest -> results/data/folds.csv (patient-grouped, stratified, inner split)."""

from radgen.data.folds import fold_summary, make_folds, write_folds
from radgen.data.ingest import read_manifest
from radgen.runlog import job_log

with job_log(snakemake) as log:  # noqa: F821 - injected by Snakemake
    cfg = snakemake.params.folds  # noqa: F821
    manifest = read_manifest(snakemake.input.manifest)  # noqa: F821
    folds = make_folds(
        manifest, k=int(cfg["k"]), seed=int(cfg["seed"]), inner_val_fraction=float(cfg["inner_val_fraction"])
    )
    write_folds(folds, snakemake.output.folds)  # noqa: F821
    log.info("folds:\n%s", fold_summary(manifest, folds).round(3).to_string())
