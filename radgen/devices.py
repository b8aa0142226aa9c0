"""One GPU per concurrent job on one machine: a job claims a free device with an exclusive lock file.

Why: Snakemake's `--resources gpu=N` runs N GPU jobs at once but assigns no device, so without a claim all N train on
GPU 0. Each job takes `flock` on `<tmp>/radgen-gpu-locks-<host>[-slurm<job>]/<id>.lock` for its whole life; the
kernel drops the lock when the process ends (even after `kill -9`), so no stale lock outlives a job. When a scheduler
has set CUDA_VISIBLE_DEVICES (SLURM does per job), the job picks among the listed devices only. Torch-free, so the
claim can be tested without CUDA and edited without rerunning any training job.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import socket
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

LOCK_PREFIX = "radgen-gpu-locks"


class GpuBusyError(RuntimeError):
    """Every visible GPU stayed claimed by another job for longer than the caller would wait."""


def visible_gpus(count: int, env: Mapping[str, str] | None = None) -> list[str]:
    """Physical ids (or UUIDs) of the `count` devices this process sees, in CUDA's logical order.

    CUDA_VISIBLE_DEVICES="3,5" makes logical device 0 the physical GPU 3 and 1 the GPU 5; unset, logical = physical.
    """
    env = os.environ if env is None else env
    raw = env.get("CUDA_VISIBLE_DEVICES")
    if raw is None:
        return [str(i) for i in range(count)]
    ids = [part.strip() for part in raw.split(",") if part.strip()]
    return ids[:count]


def lock_dir(env: Mapping[str, str] | None = None) -> Path:
    """Where a machine's GPU locks live: one directory per host (a shared TMPDIR stays correct) and, inside a
    SLURM allocation, per job (SLURM numbers each job's GPUs from 0, so two jobs on one node must not compete)."""
    env = os.environ if env is None else env
    name = f"{LOCK_PREFIX}-{_safe(socket.gethostname())}"
    if env.get("SLURM_JOB_ID"):
        name += f"-slurm{_safe(env['SLURM_JOB_ID'])}"
    return Path(tempfile.gettempdir()) / name


@dataclass
class GpuClaim:
    """A held device: `index` is the logical CUDA index for torch, `physical` the id in nvidia-smi's numbering."""

    index: int
    physical: str
    path: Path
    _fd: int | None = field(default=None, repr=False)

    def release(self) -> None:
        """Free the device for the next job (also happens when the process ends)."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> GpuClaim:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def claim_gpu(
    gpus: Sequence[str],
    directory: Path | None = None,
    *,
    poll_s: float = 2.0,
    timeout_s: float | None = None,
) -> GpuClaim:
    """Lock the first free device of `gpus` (from `visible_gpus`); wait while all are taken.

    Waiting (not sharing) is deliberate: more concurrent jobs than GPUs (e.g. `--resources gpu` larger than the
    machine has, or none given) queue here instead of running out of GPU memory. `timeout_s` None waits for ever.
    """
    return claim_gpus(gpus, 1, directory, poll_s=poll_s, timeout_s=timeout_s)[0]


def claim_gpus(
    gpus: Sequence[str],
    count: int,
    directory: Path | None = None,
    *,
    poll_s: float = 2.0,
    timeout_s: float | None = None,
) -> list[GpuClaim]:
    """Lock `count` free devices of `gpus` at once (a multi-GPU training job); all or none, waiting as claim_gpu.

    All or none: a job holding part of what it needs while waiting for the rest could deadlock with another such
    job, so partial locks are released before the next attempt.
    """
    if not gpus or count > len(gpus):
        raise ValueError(f"cannot claim {count} GPU(s) from the visible device list {list(gpus)}")
    directory = Path(directory) if directory is not None else lock_dir()
    _shared_dir(directory)
    start, warned = time.monotonic(), False
    while True:
        held = _lock_free(gpus, count, directory)
        if len(held) == count:
            for claim in held:
                log.info("claimed GPU %s (CUDA index %d; lock %s)", claim.physical, claim.index, claim.path)
            return held
        for claim in held:
            claim.release()
        waited = time.monotonic() - start
        if timeout_s is not None and waited >= timeout_s:
            raise GpuBusyError(
                f"{count} of the {len(gpus)} GPUs ({', '.join(gpus)}) were not free together for {waited:.0f} s: "
                f"other RadGen jobs hold them (locks in {directory})"
            )
        if not warned:
            log.warning(
                "fewer than %d of the %d GPUs (%s) are free (other RadGen jobs hold them; locks in %s); waiting. "
                "Is `--resources gpu=` larger than the number of GPUs?",
                count,
                len(gpus),
                ", ".join(gpus),
                directory,
            )
            warned = True
        time.sleep(poll_s)


def _lock_free(gpus: Sequence[str], count: int, directory: Path) -> list[GpuClaim]:
    """Lock free devices of `gpus` in order until `count` are held (fewer when not enough are free)."""
    held: list[GpuClaim] = []
    for index, gpu in enumerate(gpus):
        if len(held) == count:
            break
        claim = _try_lock(directory / f"{_safe(gpu)}.lock", index, gpu)
        if claim is not None:
            held.append(claim)
    return held


def _try_lock(path: Path, index: int, gpu: str) -> GpuClaim | None:
    try:  # open an existing lock without O_CREAT: fs.protected_regular forbids O_CREAT on others' files in /tmp
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        fd = os.open(path, os.O_RDONLY | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return GpuClaim(index, gpu, path, fd)


def _shared_dir(directory: Path) -> None:
    """Create the lock directory usable by every user of the machine (sticky, world-writable like /tmp)."""
    if directory.is_dir():
        return
    directory.mkdir(parents=True, exist_ok=True)
    try:
        directory.chmod(0o1777)
    except PermissionError:  # another user created it first
        pass


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", text)
