"""Snakemake adapter (rule figures): pooled predictions, manifest and training logs -> results/figures/."""

from pathlib import Path

from radgen.evaluate.figures import make_figures, read_train_logs
from radgen.evaluate.summary import pool_predictions, predictions_by_variant
from radgen.io import read_manifest
from radgen.runlog import job_log

with job_log(snakemake):  # noqa: F821 - injected by Snakemake
    smk = snakemake  # noqa: F821
    reference = smk.params.reference
    grouped = predictions_by_variant(smk.input.predictions)
    train_logs = [Path(d) / "train_log.csv" for d in smk.input.models if Path(d).parent.name == reference]
    make_figures(
        pool_predictions({v: grouped[v] for v in smk.params.labels}),
        Path(smk.output[0]).parent,
        reference=reference,
        variants=list(smk.params.drawn),
        labels=dict(smk.params.labels),
        train_logs=read_train_logs(sorted(str(p) for p in train_logs)),
        manifest=read_manifest(smk.input.manifest),
    )
    missing = [p for p in smk.output if not Path(p).exists()]
    if missing:
        raise RuntimeError(f"figures not produced: {missing}")
