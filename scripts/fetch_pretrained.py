"""Snakemake adapter (local rule fetch_pretrained): every pretrained model the config names -> a local directory.

params: components ({key: {part, name, file}}), directory; output: manifest (JSON {key -> local path}); log.
Runs on the login node before any GPU job, so a missing model fails here, once, with advice.
"""

from radgen.pretrained_fetch import PretrainedComponent, fetch_all, write_manifest
from radgen.runlog import job_log

with job_log(snakemake) as log:  # noqa: F821 - injected by Snakemake
    smk = snakemake  # noqa: F821
    components = [PretrainedComponent(**spec) for spec in smk.params.components.values()]
    manifest = fetch_all(components, smk.params.directory)
    write_manifest(manifest, smk.output.manifest)
    log.info("%d pretrained model(s) ready: %s", len(manifest), ", ".join(manifest) or "none")
