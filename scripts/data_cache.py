"""Snakemake adapter: manifest -> results/data/cache.npy + cache_index.csv (decoded, resized once)."""

from radgen.data.cache import build_cache
from radgen.io import read_manifest
from radgen.runlog import job_log

with job_log(snakemake):  # noqa: F821 - injected by Snakemake
    build_cache(
        read_manifest(snakemake.input.manifest),  # noqa: F821
        snakemake.output.cache,  # noqa: F821
        snakemake.output.index,  # noqa: F821
        image_size=int(snakemake.params.image_size),  # noqa: F821
        n_jobs=snakemake.threads,  # noqa: F821
    )
