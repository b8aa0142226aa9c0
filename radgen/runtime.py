"""Running a model: device choice, determinism, batched prediction and report generation.

Shared by training (inner-val early stopping, generated training text) and by inference (radgen.inference, the
workflow's prediction and `radgen predict`). It sits below both so that radgen.inference, which training does
not import, can change without retraining anything, while the loop both use has exactly one definition.
Images arrive as the cache stores them (uint8 [B, 1, S, S]) and become model input through the model's processor
(`model.processor.images_to_tensor`, i.e. radgen.data.images.to_float), the one conversion every path uses.
"""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
import torch

from radgen.constants import CLASSES
from radgen.data.folddata import FoldData, Split
from radgen.devices import claim_gpus, visible_gpus
from radgen.models import RadGenModel

EVAL_BATCH = 128
PathLike = str | Path
log = logging.getLogger(__name__)


class DeviceUnavailableError(RuntimeError):
    """A device was asked for by name (e.g. 'cuda') but this machine has none."""


class GpuRequiredError(DeviceUnavailableError):
    """training.require_gpu is true and this job sees no CUDA device: failing beats training 100x slower on CPU."""


def _nvidia_driver() -> str:
    try:
        first = Path("/proc/driver/nvidia/version").read_text().splitlines()[0]
    except (OSError, IndexError):
        return "none loaded (/proc/driver/nvidia/version is absent)"
    return " ".join(first.split()[:8])


def no_gpu_message(option: str = "training.require_gpu") -> str:
    """Why a job sees no CUDA device, with what this machine reports and what to do about each cause."""
    with warnings.catch_warnings(record=True) as caught:  # torch explains a too-old driver in a warning
        warnings.simplefilter("always")
        torch.cuda.is_available()
    torch_says = "; ".join(str(w.message).splitlines()[0] for w in caught)
    wheel_cuda = torch.version.cuda
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    facts = [
        f"torch {torch.__version__} built for CUDA {wheel_cuda or 'none (a CPU-only wheel)'}",
        f"CUDA_VISIBLE_DEVICES={'unset' if visible is None else repr(visible)}",
        f"NVIDIA driver: {_nvidia_driver()}",
    ]
    if torch_says:
        facts.append(f"torch: {torch_says}")
    return (
        f"{option} is true but this job sees no CUDA device ({'; '.join(facts)}). Likely causes: "
        "(1) no GPU was allocated to the job: under SLURM the rule needs its gpu request (the profile's gpu/gres), "
        "and an empty CUDA_VISIBLE_DEVICES hides every GPU; "
        f"(2) the NVIDIA driver is older than this torch wheel needs (CUDA {wheel_cuda or '?'}): `nvidia-smi` shows "
        "the newest CUDA the driver supports; reinstall torch built for that CUDA, e.g. "
        "`make setup TORCH_INDEX=https://download.pytorch.org/whl/cu126` (README, 'GPUs'); "
        "(3) a CPU-only torch wheel. To train on CPU on purpose, set training.require_gpu: false."
    )


def resolve_device(
    name: str | None, option: str = "training.device", require_gpu: bool = False
) -> torch.device:
    """auto -> cuda when available, else cpu; `option` names the setting in the error message.

    require_gpu: no CPU fallback; a job without CUDA raises GpuRequiredError at once, naming the likely cause.
    """
    if require_gpu and name == "cpu":
        raise GpuRequiredError(f"{option} is 'cpu' but training.require_gpu is true; choose one")
    if require_gpu and not torch.cuda.is_available():
        raise GpuRequiredError(no_gpu_message())
    if name in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise DeviceUnavailableError(f"{option} is 'cuda' but no CUDA device is available")
    return torch.device(name)


@contextlib.contextmanager
def job_device(
    name: str | None, *, require_gpu: bool = False, option: str = "training.device", count: int = 1
) -> Iterator[torch.device]:
    """The device of one workflow job, held for the block: on CUDA a free GPU is claimed (radgen.devices) and made
    torch's current device, so that concurrent jobs on one machine spread over its GPUs (among those
    CUDA_VISIBLE_DEVICES lists, when a scheduler set it). CPU jobs claim nothing. `count` > 1 (a DDP training job):
    that many GPUs are claimed together and become the CUDA_VISIBLE_DEVICES its worker processes inherit."""
    device = resolve_device(name, option, require_gpu=require_gpu)
    if device.type != "cuda" or device.index is not None:
        yield device
        return
    claims = claim_gpus(visible_gpus(torch.cuda.device_count()), count)
    try:
        if count > 1:
            os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(c.physical for c in claims)
            log.info("this job's %d workers use GPUs %s", count, os.environ["CUDA_VISIBLE_DEVICES"])
            yield device
            return
        torch.cuda.set_device(claims[0].index)
        log.info("this job uses GPU %s (cuda:%d)", claims[0].physical, claims[0].index)
        yield torch.device("cuda", claims[0].index)
    finally:
        for claim in claims:
            claim.release()


def set_determinism(threads: int | None) -> None:
    """Deterministic kernels where PyTorch has them (warn elsewhere); a fixed thread count for parallel jobs."""
    if threads:
        torch.set_num_threads(int(threads))
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True, warn_only=True)
    if torch.backends.cudnn.is_available():
        torch.backends.cudnn.benchmark = False


def split_batches(data: FoldData, split: Split, batch_size: int = EVAL_BATCH) -> Iterator[torch.Tensor]:
    """uint8 [B, 1, S, S] cache images of a split, in split order."""
    for start in range(0, len(split), batch_size):
        yield data.images(split.rows[start : start + batch_size])


@torch.no_grad()
def predict_batches(
    model: RadGenModel,
    batches: Iterable[torch.Tensor],
    device: torch.device,
    reports: Sequence[str] | None = None,
) -> tuple[np.ndarray, list[str]]:
    """Probabilities [n, 3] and the text read, for uint8 image batches (`reports`: one per image, in order)."""
    probs, texts, start = [], [], 0
    for u8 in batches:
        images = model.processor.images_to_tensor(u8).to(device) if model.has_image else None
        rep = list(reports[start : start + len(u8)]) if reports is not None else None
        p, t = model.predict(images, rep)
        probs.append(p.cpu().numpy())
        texts += t
        start += len(u8)
    return np.concatenate(probs) if probs else np.zeros((0, len(CLASSES))), texts


@torch.no_grad()
def generate_batches(model: RadGenModel, batches: Iterable[torch.Tensor], device: torch.device) -> list[str]:
    """The model's own reports for uint8 image batches (eval mode, no augmentation; training mode restored)."""
    was = model.training
    model.eval()
    try:
        return [
            t
            for u8 in batches
            for t in model.generate_reports(model.processor.images_to_tensor(u8).to(device))
        ]
    finally:
        model.train(was)


def generate_for(
    model: RadGenModel, data: FoldData, split: Split, device: torch.device, batch_size: int = EVAL_BATCH
) -> list[str]:
    """The model's own reports for every image of a split."""
    return generate_batches(model, split_batches(data, split, batch_size), device)


def predict_split(
    model: RadGenModel,
    data: FoldData,
    split: Split,
    device: torch.device,
    reports: Sequence[str] | None = None,
    batch_size: int = EVAL_BATCH,
) -> tuple[np.ndarray, list[str]]:
    """Probabilities [n, 3] and the text read, for a split (generated reports when the model has a generator)."""
    return predict_batches(model, split_batches(data, split, batch_size), device, reports)


def load_reports_source(model_dir: PathLike, device: torch.device) -> RadGenModel:
    """Another variant's model (a `reports_from` source), loaded once for all the splits it must describe."""
    source = RadGenModel.from_pretrained(model_dir, map_location=device)
    if not source.has_generator:
        raise ValueError(f"{model_dir} has no report generator; it cannot serve as reports_from")
    return source


def reports_from_model(model_dir: PathLike, data: FoldData, split: Split, device: torch.device) -> list[str]:
    """Reports generated by another variant's model (its `reports_from` source) for a split."""
    return generate_for(load_reports_source(model_dir, device), data, split, device)
