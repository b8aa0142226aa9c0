"""Snakemake resources of a workflow stage, from the config's `resources` block: the one source of them.

Why here and not in the SLURM profile: a profile's `set-resources` silently overrides what a rule declares, so a
runtime written in both places diverges (8 h in the profile against 720 min in the config). The config now holds
memory, runtime, partition, account and the form of the GPU request; the profile holds executor settings only.
Local runs ignore the SLURM-only names (`slurm_partition`, `slurm_account`, `gres`, `gpu_model`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: stage-block keys passed to Snakemake under the same name (`threads` is a rule directive, not a resource)
PLAIN_KEYS = ("mem_mb", "runtime")


def gpu_request(slurm: Mapping[str, Any], count: int) -> dict[str, Any]:
    """Resources asking for `count` GPUs: `gpu` (sbatch `--gpus`) or, for sites that reject `--gpus`, `gres`.

    `gres` mode drops `gpu`: the plugin would otherwise send both flags. Without `gpu`, a local run's
    `--resources gpu=N` no longer limits these jobs, so `gres` is for SLURM sites only.
    """
    if count <= 0:
        return {}
    model = slurm.get("gpu_model") or ""
    if slurm.get("gpu_request", "gpus") == "gres":
        return {"gres": f"gpu:{model}:{count}" if model else f"gpu:{count}"}
    return {"gpu": count, **({"gpu_model": model} if model else {})}


def job_resources(resources: Mapping[str, Any], stage: str, gpus: int | None = None) -> dict[str, Any]:
    """Resources of the jobs of `stage` (`train`, `predict`, `evaluate` or `default`).

    The stage block overlays `resources.default`, key by key. `gpus` overrides the stage block's `gpu` (a rule
    derives it from elsewhere); GPUs are never inherited from `default`. An empty partition or account is left
    out, so that SLURM uses its default partition and the plugin its own account lookup.
    """
    own = resources.get(stage) or {}
    block = {**(resources.get("default") or {}), **own}
    slurm = resources.get("slurm") or {}
    out: dict[str, Any] = {key: block[key] for key in PLAIN_KEYS if key in block}
    if block.get("partition"):
        out["slurm_partition"] = block["partition"]
    if slurm.get("account"):
        out["slurm_account"] = slurm["account"]
    out.update(gpu_request(slurm, int(own.get("gpu", 0) if gpus is None else gpus)))
    return out
