"""Snakemake adapter: data config -> results/data/manifest.csv (synthetic PNGs into output.images), and the
manifest's validity warnings (e.g. no patient ids) in output.warnings."""

from radgen.data.ingest import build_manifest
from radgen.data.validity import write_warnings
from radgen.runlog import collect_warnings, job_log

with job_log(snakemake) as log, collect_warnings() as warnings:  # noqa: F821 - injected by Snakemake
    outputs = dict(snakemake.output.items())  # noqa: F821
    manifest = build_manifest(
        snakemake.params.data,  # noqa: F821
        outputs["manifest"],
        images_dir=outputs.get("images", "results/data/synthetic"),
        require_reports=bool(snakemake.params.require_reports),  # noqa: F821
        n_jobs=snakemake.threads,  # noqa: F821
    )
    log.info("wrote %s (%d images)", outputs["manifest"], len(manifest))
    if counts := manifest.attrs.get("imperfection"):  # synthetic source only
        log.info(
            "label noise: %d of %d studies flipped; omissions: %d (of %d abnormal studies, %d omissible)",
            counts["n_flipped"],
            counts["n_studies"],
            counts["n_omitted"],
            counts["n_abnormal"],
            counts["n_omissible"],
        )
    write_warnings(outputs["warnings"], "manifest", warnings)
