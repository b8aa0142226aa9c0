"""Everything a training run holds, built once per fold: data, model, optimisation, loss weights, generators.

`prepare_run` reads the variant's `training` block; the loop (radgen.train.loop) and the engine only use `Run`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from radgen.models import RadGenModel, build_model
from radgen.models.pretrained import load_manifest, resolve_sources
from radgen.runtime import resolve_device
from radgen.train.data import FoldData, class_weights
from radgen.train.distributed import Dist, sync_batchnorm, wrap
from radgen.train.ema import WeightEMA
from radgen.train.optim import build_optimizer, build_scheduler, steps_per_epoch
from radgen.train.priors import PriorAdjustment, tag_logit_adjustment, training_priors
from radgen.train.textmix import ReaderTexts
from radgen.train.timing import Stopwatch
from radgen.train.tokens import TokenTable, report_table, text_table


@dataclass
class Run:
    """One variant on one fold: the live objects and the settings the loop reads."""

    name: str
    fold: int
    training: dict[str, Any]
    device: torch.device
    data: FoldData
    model: RadGenModel
    optimizer: torch.optim.Optimizer
    scheduler: Any
    scaler: Any
    ema: Any
    class_weight: torch.Tensor | None
    class_weights: np.ndarray
    sample_weights: torch.Tensor
    priors: PriorAdjustment
    sw: Stopwatch
    amp_dtype: torch.dtype | None
    sampler_gen: torch.Generator = field(default_factory=torch.Generator)
    aug_gen: torch.Generator = field(default_factory=torch.Generator)
    texts: ReaderTexts = field(default_factory=ReaderTexts)
    gt_text_tokens: TokenTable | None = None  # ground-truth training reports, text-encoder inputs
    report_tokens: TokenTable | None = None  # ground-truth training reports, decoder labels
    text_tokens_epoch: TokenTable | None = None  # this epoch's text mix (radgen.train.textmix)
    mix_cache: tuple[int, TokenTable | None] = (-1, None)  # (epoch of the mix, its table)
    dist: Dist = field(default_factory=Dist)
    forward_module: Any = None  # the model, or its DistributedDataParallel wrapper (radgen.train.distributed)
    wrapped_frozen: bool | None = None  # text-encoder freeze state the DDP wrapper was built with

    def prepare_forward(self, frozen: bool) -> None:
        """The module the training step calls: the model, or a DDP wrapper rebuilt when the set of trainable
        parameters changes (DDP registers only parameters that require grad when it is built)."""
        if self.dist.world == 1:
            self.forward_module = self.model
        elif self.forward_module is None or self.wrapped_frozen != frozen:
            self.forward_module, self.wrapped_frozen = wrap(self.model, self.device), frozen

    @property
    def seed(self) -> int:
        return int(self.training.get("seed", 0))

    @property
    def epochs(self) -> int:
        return int(self.training["epochs"])

    @property
    def batch_size(self) -> int:
        return int(self.training["batch_size"])

    @property
    def weighting(self) -> bool:
        return bool(self.training.get("class_weighting", True))

    def text_frozen(self, epoch: int) -> bool:
        """Is the text encoder frozen in `epoch` (progressive unfreezing)?"""
        return self.model.has_text and epoch < int(self.training.get("freeze_text_encoder_epochs", 0))


def tokenise_ground_truth(run: Run) -> None:
    """The training part's reports tokenised once per fold, for the text encoder and as decoder labels."""
    reports = list(run.data.train.reports)
    with run.sw("tokenization"):
        if run.model.has_text:
            run.gt_text_tokens = text_table(run.model, reports)
        if run.model.has_generator:
            run.report_tokens = report_table(run.model, reports)


def make_model(
    variant: dict[str, Any],
    data: FoldData,
    fold: int,
    size: int,
    device: torch.device,
    sources: dict[str, str] | None,
) -> RadGenModel:
    """The variant's model on `device`, its metadata and tokenizers from the fold's training part; `sources`:
    pretrained_sources(...) (None: pretrained parts load from their configured names)."""
    model_cfg, name = variant["model"], variant.get("name", "model")
    metadata = {
        "variant": name,
        "label": variant.get("label", name),
        "fold": int(fold),
        "reports_from": variant.get("reports_from"),
        "training": dict(variant["training"]),
    }
    model = build_model(
        model_cfg,
        image_size=size,
        train_reports=data.train.reports,
        metadata=metadata,
        pretrained_sources=sources,
        training=variant["training"],
    )
    return model.to(device)


def set_decision_offsets(model: RadGenModel, labels: np.ndarray, training: dict[str, Any]) -> PriorAdjustment:
    """Store the prior (and tag prior) offsets of the training part in the model's buffers (before the EMA copies
    them): class_weighting switches both corrections, predictions undo both."""
    weighting = bool(training.get("class_weighting", True))
    priors = training_priors(labels, sampler_weighting=weighting, loss_weighting=weighting)
    model.prior_logit_adjust.copy_(torch.tensor(priors.offset, dtype=torch.float32))
    if model.tagger is not None:
        offsets = tag_logit_adjustment(labels, str(training.get("tag_prior", "balanced")), weighting)
        model.tagger.logit_adjust.copy_(torch.tensor(offsets, dtype=torch.float32))
    return priors


def pretrained_sources(variant: dict[str, Any], pretrained_manifest: Any) -> dict[str, str] | None:
    """The local paths fetch_pretrained wrote for the variant's pretrained parts (None without a manifest);
    fails on a part the manifest lacks, before any data is read."""
    if pretrained_manifest is None:
        return None
    return resolve_sources(variant["model"], load_manifest(pretrained_manifest), str(pretrained_manifest))


def run_device(training: dict[str, Any]) -> torch.device:
    """training.device resolved; fails at once without CUDA when training.require_gpu (before any data is read)."""
    return resolve_device(
        training.get("device", "auto"), require_gpu=bool(training.get("require_gpu", False))
    )


def prepare_run(
    variant: dict[str, Any],
    data: FoldData,
    fold: int,
    size: int,
    sw: Stopwatch,
    sources: dict[str, str] | None,
    device: torch.device,
    dist: Dist | None = None,
) -> Run:
    """Model, optimiser, schedule, scaler, class weights, priors, EMA and generators of one run on `device`."""
    training, dist = dict(variant["training"]), dist or Dist()
    if dist.world > 1 and device.type == "cuda" and device.index is None:  # DDP needs the rank's device
        device = torch.device("cuda", torch.cuda.current_device())
    amp = training.get("amp", "none") if device.type == "cuda" else "none"
    seed = int(training.get("seed", 0))
    torch.manual_seed(seed)
    np.random.seed(seed % (2**32))
    with sw("setup"):
        model = make_model(variant, data, fold, size, device, sources)
        if dist.world > 1:
            model = sync_batchnorm(model, device)
    optimizer = build_optimizer(model, training)
    weighting = bool(training.get("class_weighting", True))
    cw = class_weights(data.train.labels)
    priors = set_decision_offsets(model, data.train.labels, training)
    return Run(
        name=variant.get("name", "model"),
        fold=int(fold),
        training=training,
        device=device,
        data=data,
        model=model,
        optimizer=optimizer,
        scheduler=build_scheduler(
            optimizer, training, steps_per_epoch(len(data.train), int(training["batch_size"]))
        ),
        scaler=torch.amp.GradScaler("cuda", enabled=amp == "fp16") if device.type == "cuda" else None,
        ema=WeightEMA(model, float(training.get("ema_decay", 0.0))),
        class_weight=torch.tensor(cw, dtype=torch.float32, device=device) if weighting else None,
        class_weights=cw,
        sample_weights=torch.tensor(cw[data.train.labels], dtype=torch.double),
        priors=priors,
        sw=sw,
        amp_dtype={"fp16": torch.float16, "bf16": torch.bfloat16}.get(amp),
        sampler_gen=torch.Generator().manual_seed(seed),
        aug_gen=torch.Generator().manual_seed(seed + 1),
        dist=dist,
    )
