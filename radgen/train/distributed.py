"""Several processes for one training job: torch DistributedDataParallel (NCCL on GPUs, gloo on CPU).

`training.devices: N > 1` makes `train_fold` launch N workers with torch's own launcher (`python -m
torch.distributed.run --standalone`, i.e. torchrun): fresh interpreters that run this module, so nothing of the
caller (a Snakemake script, pytest) is re-imported, unlike torch.multiprocessing.spawn, which re-executes the
parent's __main__ in every child (a Snakemake script would start training again); torchrun also picks a free
rendezvous port and sets RANK / WORLD_SIZE / LOCAL_RANK. Each worker calls `train_fold` again, which sees the
initialised process group and trains its share.

What is the same as one process: every rank draws the same sample order, augmentation parameters and text mix
(same seeds); a global batch of `batch_size` is split rank::N, the loss of each rank is normalised by the GLOBAL
batch's class-weight sum (a class-weighted mean over ranks is the global weighted mean, not a mean of per-rank
means), and DDP's gradient average then equals the one-process gradient. Validation and training-text
generation are split rank::N and gathered in order; the AUC that early stopping reads is broadcast from rank 0.
Rank 0 alone writes checkpoints, logs and the model. On CUDA BatchNorm becomes SyncBatchNorm; torch's
SyncBatchNorm runs on GPUs only, so on CPU BatchNorm statistics stay per process (a warning says so).
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.distributed as tdist

log = logging.getLogger("radgen.train")


@dataclass(frozen=True)
class Dist:
    """This process's place among the job's processes (rank 0 of 1 without torch.distributed)."""

    rank: int = 0
    world: int = 1

    @classmethod
    def current(cls) -> Dist:
        """From the initialised process group, else one process."""
        if tdist.is_available() and tdist.is_initialized():
            return cls(tdist.get_rank(), tdist.get_world_size())
        return cls()

    @property
    def main(self) -> bool:
        return self.rank == 0

    def shard(self, items: Any) -> Any:
        """This rank's share of a sequence or array: items[rank::world]."""
        return items[self.rank :: self.world]

    def all_sum(self, t: torch.Tensor) -> torch.Tensor:
        """Sum over ranks (in place; the tensor itself with one process)."""
        if self.world > 1:
            tdist.all_reduce(t, op=tdist.ReduceOp.SUM)
        return t

    def gather(self, part: list[Any]) -> list[Any]:
        """The full sequence from each rank's items[rank::world] share, in the original order."""
        if self.world == 1:
            return list(part)
        parts: list[Any] = [None] * self.world
        tdist.all_gather_object(parts, list(part))
        out: list[Any] = [None] * sum(len(p) for p in parts)
        for r, p in enumerate(parts):
            out[r :: self.world] = p
        return out

    def broadcast_float(self, value: float) -> float:
        """Rank 0's value on every rank."""
        if self.world == 1:
            return value
        box = [value]
        tdist.broadcast_object_list(box, src=0)
        return float(box[0])

    def barrier(self) -> None:
        if self.world > 1:
            tdist.barrier()


def wrap(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """DDP around `model` (the parameters that require grad now); unused parameters allowed (variants)."""
    ids = (
        [device.index if device.index is not None else torch.cuda.current_device()]
        if device.type == "cuda"
        else None
    )
    return torch.nn.parallel.DistributedDataParallel(model, device_ids=ids, find_unused_parameters=True)


def sync_batchnorm(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """BatchNorm → SyncBatchNorm on CUDA; on CPU (gloo) torch has no SyncBatchNorm: warn, keep per-rank stats."""
    has_bn = any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.modules())
    if device.type == "cuda":
        return torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
    if has_bn:
        log.warning("BatchNorm statistics are per process on CPU (torch's SyncBatchNorm needs GPUs)")
    return model


def shard_split(dist: Dist, split: Any) -> Any:
    """This rank's share of a radgen Split (the split itself with one process)."""
    if dist.world == 1:
        return split
    return type(split)(
        dist.shard(list(split.image_ids)),
        dist.shard(split.labels),
        dist.shard(list(split.reports)),
        dist.shard(split.rows),
    )


def split_map(dist: Dist, fn: Callable[[Any], list[Any]], split: Any) -> list[Any]:
    """fn over this rank's share of a radgen Split, gathered back into split order."""
    return fn(split) if dist.world == 1 else dist.gather(fn(shard_split(dist, split)))


# --------------------------------------------------------------------------- launching
def _portable(kwargs: dict[str, Any], directory: Path) -> dict[str, Any]:
    """train_fold keyword arguments as JSON: DataFrames and arrays are written to `directory`."""
    out: dict[str, Any] = {}
    for key, value in kwargs.items():
        if isinstance(value, pd.DataFrame):
            value.to_csv(directory / f"{key}.csv", index=False)
            value = str(directory / f"{key}.csv")
        elif isinstance(value, np.ndarray):
            np.save(directory / f"{key}.npy", value)
            value = str(directory / f"{key}.npy")
        elif isinstance(value, Path):
            value = str(value)
        out[key] = value
    return out


def launch(variant: dict[str, Any], devices: int, kwargs: dict[str, Any]) -> dict[str, Any]:
    """Run train_fold in `devices` torchrun workers; return rank 0's summary (read from output_dir)."""
    if kwargs.get("epoch_callback") is not None:
        raise ValueError("epoch_callback is not available with training.devices > 1 (it runs in the workers)")
    kwargs = {k: v for k, v in kwargs.items() if k != "epoch_callback"}
    threads = kwargs.get("threads")
    on_cpu = variant["training"].get("device") == "cpu" or not torch.cuda.is_available()
    if threads and on_cpu:  # the job's CPU threads are shared by its processes
        kwargs["threads"] = max(1, int(threads) // devices)
    out = Path(kwargs["output_dir"])
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{out.name}.ddp-", dir=out.parent) as tmp:
        spec = Path(tmp) / "spec.json"
        spec.write_text(json.dumps({"variant": variant, "kwargs": _portable(kwargs, Path(tmp))}, default=str))
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={devices}"]
        env = {**os.environ, "OMP_NUM_THREADS": str(kwargs.get("threads") or 1)}
        done = subprocess.run(
            [*cmd, "-m", "radgen.train.ddp_worker", str(spec)],
            env=env,
            check=False,
            preexec_fn=die_with_parent,
        )
    if done.returncode != 0:
        raise RuntimeError(
            f"distributed training ({devices} processes) failed with exit code {done.returncode}"
        )
    return json.loads((out / "summary.json").read_text())


def die_with_parent() -> None:
    """Linux: this process gets SIGKILL when its parent dies (prctl PR_SET_PDEATHSIG).

    torchrun starts its workers in new sessions, so a job killed with SIGKILL (a scheduler, the OOM killer) would
    otherwise leave its launcher's workers training on, and writing outputs, as orphans. Set in the launcher
    (before exec) and in each worker, a kill of the job takes all its processes with it.
    """
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG


def worker(spec_path: str) -> None:
    """One torchrun worker: join the process group (NCCL with CUDA, else gloo) and train this rank's share."""
    from radgen.train.engine import train_fold

    die_with_parent()
    if os.getppid() == 1:  # the launcher died before the line above
        raise SystemExit("radgen DDP worker: the torchrun launcher is gone")

    spec = json.loads(Path(spec_path).read_text())
    cuda = spec["variant"]["training"].get("device", "auto") != "cpu" and torch.cuda.is_available()
    if cuda:
        torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))
    tdist.init_process_group("nccl" if cuda else "gloo")
    try:
        train_fold(spec["variant"], **spec["kwargs"])
    finally:
        tdist.destroy_process_group()
