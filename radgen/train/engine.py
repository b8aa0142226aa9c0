"""Training engine: one variant on one fold → a save_pretrained directory, train_log.csv and summary.json.

Protocol (DESIGN.md "Training"): AdamW with one learning rate per parameter group, linear warm-up per step,
gradient clipping, L = L_cls + report_loss_weight · L_report, class weights N/(C·n_c) from the inner-train part
(weighted sampler + weighted CE), text encoder frozen for the first `freeze_text_encoder_epochs` epochs, early
stopping on inner-val macro-AUC computed from GENERATED reports, best epoch restored, AMP on CUDA.

Decision rule: sampler and weighted CE together train the softmax under an effective prior ∝ 1/n_c, so the saved
model carries `prior_logit_adjust` = log(natural prior / effective prior) of the inner-train part
(radgen.train.priors), added to the logits by `RadGenModel.predict`: inner-val AUC, the prediction CSVs and the
CLI see posteriors under the training part's class frequencies, and their argmax is the Bayes decision.

Determinism and resume: every epoch's randomness (sampler, augmentation, dropout, text mixing) is re-seeded
from (seed, epoch), and the checkpoint written after each epoch holds model, optimizer, scheduler, scaler,
RNG and early-stopping state; a rerun after a kill resumes from it and ends bit-for-bit equal on CPU.

Time: summary.json's `time_breakdown_s` says where the job's wall time went (radgen.train.timing; sections only
read the clock, they add no host-device synchronisation).
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import logging
import math
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from radgen.constants import CLASSES
from radgen.models import RadGenModel, build_model
from radgen.models.pretrained import load_manifest, resolve_sources
from radgen.runtime import generate_for, load_reports_source, predict_split, resolve_device, set_determinism
from radgen.train.checkpoint import find_state, load_model_tensors, load_state, save_model_tensors, save_state
from radgen.train.data import FoldData, Split, augment, class_weights, to_float
from radgen.train.metrics import macro_auc
from radgen.train.priors import training_priors
from radgen.train.timing import Stopwatch
from radgen.variants import GROUND_TRUTH

log = logging.getLogger("radgen.train")

GROUPS = ("image_encoder", "report_generator", "text_encoder", "fusion_head")
PathLike = str | Path


# --------------------------------------------------------------------------- small helpers
def epoch_seed(seed: int, epoch: int, stream: int) -> int:
    """Independent, reproducible seed per (seed, epoch, stream): resume needs no RNG carried over."""
    return int.from_bytes(hashlib.sha256(f"{seed}/{epoch}/{stream}".encode()).digest()[:8], "little") % (
        2**63
    )


def lr_lambda(warmup_steps: int, total_steps: int, schedule: str) -> Callable[[int], float]:
    """Linear warm-up from 1/warmup to 1 over `warmup_steps` optimizer steps, then constant or linear decay to 0."""

    def f(step: int) -> float:
        if warmup_steps > 0 and step < warmup_steps:
            return (step + 1) / warmup_steps
        if schedule == "linear" and total_steps > warmup_steps:
            return max(0.0, (total_steps - step) / (total_steps - warmup_steps))
        return 1.0

    return f


def generated_fraction(training: dict[str, Any], epoch: int) -> float:
    """Share of training samples whose text branch reads the model's own generated report in this epoch.

    Ramps linearly from 0 at epoch 0 to `generated_report_fraction` at epoch `generated_report_ramp_epochs`
    (0: the full share from epoch 0); the other samples read their ground-truth report
    (see config/README.md, "Training text").
    """
    p_max = float(training.get("generated_report_fraction", 0.0))
    ramp = float(training.get("generated_report_ramp_epochs", 0))
    if p_max <= 0:
        return 0.0
    return p_max if ramp <= 0 else p_max * min(1.0, epoch / ramp)


def tag_logit_adjustment(labels: np.ndarray, prior: str, weighting: bool) -> np.ndarray:
    """Offsets added to the tagger's logits before its argmax picks the generator's control token.

    The tagger learns from the batches as sampled: class-balanced when `weighting` (weighted sampler), natural
    frequencies otherwise. `balanced` decides as if the classes were equally likely (what class weighting aims
    at; the tags, and so the reports, keep their sensitivity for the rare classes, which text-reading
    classifiers rank by); `natural` decides under the training frequencies (logit adjustment, Menon et al.,
    2021: more reports name the majority class, fewer name the rare ones).
    """
    counts = np.bincount(labels, minlength=len(CLASSES)).astype(np.float64)
    log_natural = np.log(np.maximum(counts, 0.5) / counts.sum())
    log_uniform = np.full(len(CLASSES), np.log(1.0 / len(CLASSES)))
    sampled = log_uniform if weighting else log_natural
    target = {"balanced": log_uniform, "natural": log_natural}.get(prior)
    if target is None:
        raise ValueError(f"training.tag_prior must be 'balanced' or 'natural', got {prior!r}")
    return target - sampled


def batches(order: np.ndarray, batch_size: int) -> list[np.ndarray]:
    """Chunks of the epoch's order; a trailing batch of one sample is dropped (BatchNorm needs two)."""
    out = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    if len(out) > 1 and len(out[-1]) < 2:
        out.pop()
    return out


def steps_per_epoch(n: int, batch_size: int) -> int:
    return len(batches(np.arange(n), batch_size))


class WeightEMA:
    """Exponential moving average of the weights (decay 0: off, the live weights are used).

    Why: with a few hundred images, class-weighted sampling and small batches, the live weights jitter from step
    to step and so does the inner-val AUC that early stopping reads; the average is smoother and usually better.
    Validation, the generated training reports, the best checkpoint and the saved model all use the average.
    """

    def __init__(self, model: torch.nn.Module, decay: float) -> None:
        self.decay = float(decay)
        self.shadow = {k: v.detach().clone() for k, v in model.state_dict().items()} if self.decay > 0 else {}
        # live views of the weights (updated in place by the optimizer and by load_state_dict)
        live = model.state_dict()
        self._float = [(self.shadow[k], live[k]) for k in self.shadow if live[k].dtype.is_floating_point]
        self._other = [(self.shadow[k], live[k]) for k in self.shadow if not live[k].dtype.is_floating_point]

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:  # noqa: ARG002 - the live views were bound at construction
        if self.decay <= 0:
            return
        if self._float:
            torch._foreach_lerp_([s for s, _ in self._float], [v for _, v in self._float], 1.0 - self.decay)
        for s, v in self._other:
            s.copy_(v)

    @contextlib.contextmanager
    def applied(self, model: torch.nn.Module) -> Iterator[None]:
        """Temporarily load the averaged weights into `model`."""
        if self.decay <= 0:
            yield
            return
        backup = {k: v.detach().clone() for k, v in model.state_dict().items()}
        model.load_state_dict(self.shadow)
        try:
            yield
        finally:
            model.load_state_dict(backup)


# --------------------------------------------------------------------------- the engine
RUNTIME_ONLY = frozenset({"require_gpu"})  # training keys that do not change the model: not in the resume key


def train_fold(
    variant: dict[str, Any],
    *,
    manifest: Any,
    folds: Any,
    cache: Any,
    cache_index: Any,
    fold: int,
    output_dir: PathLike,
    image_size: int | None = None,
    checkpoint_dir: PathLike | None = None,
    reports_model_dir: PathLike | None = None,
    threads: int | None = None,
    progress: bool = True,
    epoch_callback: Callable[[int, dict[str, Any], RadGenModel], None] | None = None,
    keep_checkpoints: bool = False,
    pretrained_manifest: PathLike | None = None,
) -> dict[str, Any]:
    """Train `variant` (a radgen.config.variant_config dict) on fold `fold`; write output_dir; return the summary.

    - manifest/folds/cache/cache_index: paths (or DataFrames / array) following CONTRACTS.md.
    - image_size: model input size (default: the cache's size).
    - checkpoint_dir: root for per-epoch checkpoints (a sub-directory keyed by config+data hash); None = none.
    - reports_model_dir: for variants with `reports_from`, that variant's model of the same fold; its reports
      for the inner-val images drive early stopping (without it, ground-truth val reports are used, with a warning).
    - epoch_callback(epoch, log_row, model): called after each epoch's checkpoint with the live (not averaged)
      model; tests use it to inspect weights and to simulate a kill.
    - pretrained_manifest: fetch_pretrained's manifest; pretrained parts then load only from the local paths it
      lists (never a hub). None: from their configured names (hub id or local directory).
    - training.require_gpu: fail at once without CUDA instead of falling back to CPU.
    """
    wall0 = time.time()
    clock0 = time.perf_counter()
    sw = Stopwatch()  # summary.json's time_breakdown_s (radgen.train.timing: CUDA caveat)
    training = dict(variant["training"])
    model_cfg = variant["model"]
    name = variant.get("name", "model")
    seed = int(training.get("seed", 0))
    set_determinism(threads)
    device = resolve_device(
        training.get("device", "auto"), require_gpu=bool(training.get("require_gpu", False))
    )
    sources = (
        resolve_sources(model_cfg, load_manifest(pretrained_manifest), str(pretrained_manifest))
        if pretrained_manifest is not None
        else None
    )
    amp = training.get("amp", "none") if device.type == "cuda" else "none"
    amp_dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(amp)

    with sw("setup"):
        data = FoldData(manifest, folds, cache, cache_index, fold)
    size = int(image_size or data.image_size)
    train, val = data.train, data.val

    torch.manual_seed(seed)
    np.random.seed(seed % (2**32))
    metadata = {
        "variant": name,
        "label": variant.get("label", name),
        "fold": int(fold),
        "reports_from": variant.get("reports_from"),
        "training": training,
    }
    with sw("setup"):
        model = build_model(
            model_cfg,
            image_size=size,
            train_reports=train.reports,
            metadata=metadata,
            pretrained_sources=sources,
        )
        model = model.to(device)

    # Text a text branch without a generator of its own reads: the reports_from variant's generated reports for
    # inner-val (early stopping) and, for the generated share of the text mix, for the training images — the same
    # rule as RadGen's own text branch. An oracle (reports_from: ground_truth) reads ground truth everywhere.
    val_reports: list[str] | None = None
    source_train_texts: list[str] | None = None
    if model.has_text and not model.has_generator:
        if reports_model_dir is not None:
            with sw("setup"):
                source = load_reports_source(reports_model_dir, device)
            with sw("validation"):
                val_reports = generate_for(source, data, val, device)
            with sw("training_text_generation"):
                source_train_texts = generate_for(source, data, train, device)
            del source
        else:
            if variant.get("reports_from") != GROUND_TRUTH:
                log.warning(
                    "%s: no reports_from model given; inner-val uses ground-truth reports (optimistic)", name
                )
            val_reports = list(val.reports)

    # optimisation
    groups = model.parameter_groups()
    lrs = training.get("lr") or {}
    missing = [g for g in groups if g not in lrs]
    if missing:
        raise ValueError(f"training.lr lacks learning rates for parameter group(s): {', '.join(missing)}")
    optimizer = torch.optim.AdamW(
        [{"params": ps, "lr": float(lrs[g]), "group_name": g} for g, ps in groups.items()],
        weight_decay=float(training.get("weight_decay", 0.0)),
    )
    batch_size = int(training["batch_size"])
    epochs = int(training["epochs"])
    spe = steps_per_epoch(len(train), batch_size)
    warmup = int(round(float(training.get("warmup_epochs", 0)) * spe))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lr_lambda(warmup, epochs * spe, str(training.get("lr_schedule", "constant")))
    )
    scaler = torch.amp.GradScaler("cuda", enabled=amp == "fp16") if device.type == "cuda" else None

    weighting = bool(training.get("class_weighting", True))
    cw = class_weights(train.labels)
    ce_weight = torch.tensor(cw, dtype=torch.float32, device=device) if weighting else None
    sample_weights = torch.tensor(cw[train.labels], dtype=torch.double)
    # class_weighting switches both corrections; predictions undo both (before the EMA copies the buffers)
    priors = training_priors(train.labels, sampler_weighting=weighting, loss_weighting=weighting)
    model.prior_logit_adjust.copy_(torch.tensor(priors.offset, dtype=torch.float32))
    if model.tagger is not None:
        model.tagger.logit_adjust.copy_(
            torch.tensor(
                tag_logit_adjustment(train.labels, str(training.get("tag_prior", "balanced")), weighting),
                dtype=torch.float32,
            )
        )
    freeze_epochs = int(training.get("freeze_text_encoder_epochs", 0))
    report_weight = float(training.get("report_loss_weight", 0.0))
    patience = int(training.get("early_stopping_patience", epochs))
    clip = float(training.get("grad_clip", 0.0))
    tag_weight = float(training.get("tag_loss_weight", 1.0))
    tag_forcing = float(training.get("tag_forcing", 0.0))

    # checkpoint keyed by config + data (+ the reports_from model), so stale state is never resumed
    ckpt: Path | None = None
    if checkpoint_dir is not None:
        key_src = {
            "variant": {
                **{k: variant.get(k) for k in ("name", "model", "reports_from")},
                "training": {k: v for k, v in training.items() if k not in RUNTIME_ONLY},
            },
            "fold": int(fold),
            "image_size": size,
            "data": data.fingerprint(),
            "reports_model": _file_hash(Path(reports_model_dir) / "model.safetensors")
            if reports_model_dir
            else None,
        }
        key = hashlib.sha256(json.dumps(key_src, sort_keys=True, default=str).encode()).hexdigest()[:16]
        ckpt = Path(checkpoint_dir) / key

    state: dict[str, Any] = {
        "epoch": 0,
        "best_auc": -math.inf,
        "best_epoch": -1,
        "bad_epochs": 0,
        "stopped": False,
        "log": [],
        "train_seconds": 0.0,
        "time_breakdown_s": {},
        "resumed_from": None,
    }
    sampler_gen = torch.Generator().manual_seed(seed)
    aug_gen = torch.Generator().manual_seed(seed + 1)
    best_in_memory: dict[str, torch.Tensor] | None = None
    ema = WeightEMA(model, float(training.get("ema_decay", 0.0)))
    if ckpt is not None and (found := find_state(ckpt)) is not None:
        with sw("checkpointing"):
            rng, meta = load_state(
                found, model=model, optimizer=optimizer, scheduler=scheduler, scaler=scaler, ema=ema.shadow
            )
        state.update(meta)
        sw.add(state.get("time_breakdown_s") or {})  # earlier sessions' sections
        state["resumed_from"] = state["epoch"]
        torch.set_rng_state(rng["torch"])
        sampler_gen.set_state(rng["sampler"])
        aug_gen.set_state(rng["augment"])
        log.info(
            "%s fold %d: resuming from checkpoint %s after epoch %d", name, fold, found, state["epoch"] - 1
        )

    bar = tqdm(
        total=epochs * spe,
        initial=state["epoch"] * spe,
        desc=f"{name} fold{fold}",
        unit="step",
        disable=not progress,
        mininterval=1.0,
        file=sys.stderr,
        dynamic_ncols=True,
    )
    previous_seconds = float(state["train_seconds"])  # wall time of earlier (killed) sessions
    for epoch in range(int(state["epoch"]), epochs):
        if state["stopped"]:
            break
        t0 = time.time()
        torch.manual_seed(epoch_seed(seed, epoch, 0))
        sampler_gen.manual_seed(epoch_seed(seed, epoch, 1))
        aug_gen.manual_seed(epoch_seed(seed, epoch, 2))
        mix_gen = torch.Generator().manual_seed(epoch_seed(seed, epoch, 3))

        frozen = model.has_text and epoch < freeze_epochs
        if model.text_encoder is not None:
            model.text_encoder.requires_grad_(not frozen)

        # which text each training sample's text branch reads this epoch
        train_texts = list(train.reports)
        mixes = model.has_text and (model.has_generator or source_train_texts is not None)
        p_gen = generated_fraction(training, epoch) if mixes else 0.0
        if p_gen > 0:
            use_gen = np.flatnonzero((torch.rand(len(train), generator=mix_gen) < p_gen).numpy())
            if source_train_texts is not None:
                generated = [source_train_texts[i] for i in use_gen]
            else:
                subset = Split(
                    [train.image_ids[i] for i in use_gen],
                    train.labels[use_gen],
                    [train.reports[i] for i in use_gen],
                    train.rows[use_gen],
                )
                with sw("training_text_generation"), ema.applied(model):
                    generated = generate_for(model, data, subset, device)
            for i, text in zip(use_gen, generated, strict=True):
                train_texts[i] = text

        if weighting:
            order = torch.multinomial(
                sample_weights, len(train), replacement=True, generator=sampler_gen
            ).numpy()
        else:
            order = torch.randperm(len(train), generator=sampler_gen).numpy()

        model.train()
        if frozen:
            model.text_encoder.eval()
        sums = {"loss": 0.0, "cls": 0.0, "report": 0.0}
        n_seen = 0
        for idx in batches(order, batch_size):
            with sw("data_and_augmentation"):
                images = to_float(data.images(train.rows[idx]), size).to(device) if model.has_image else None
                if images is not None and training.get("augment", False):
                    images = augment(images, aug_gen)
                labels = torch.from_numpy(train.labels[idx]).to(device)
            with sw("tokenization"):
                text = (
                    model.processor.tokenize_text([train_texts[i] for i in idx], device)
                    if model.has_text
                    else None
                )
                report_labels = (
                    model.processor.tokenize_reports([train.reports[i] for i in idx], device)
                    if model.has_generator
                    else None
                )
            with sw("forward_backward_optimizer"):
                with torch.autocast(
                    device_type=device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None
                ):
                    tag_targets = None
                    if tag_forcing > 0 and model.tagger is not None:
                        forced = torch.rand(len(idx), generator=mix_gen) < tag_forcing
                        tag_targets = torch.where(forced, torch.from_numpy(train.labels[idx]), -1).to(device)
                    out = model(
                        images=images, text=text, report_labels=report_labels, tag_targets=tag_targets
                    )
                    if out["branch_logits"] is not None:
                        loss_cls = torch.stack(
                            [
                                F.cross_entropy(b.float(), labels, weight=ce_weight)
                                for b in out["branch_logits"]
                            ]
                        ).mean()
                    else:
                        loss_cls = F.cross_entropy(out["logits"].float(), labels, weight=ce_weight)
                    # the tagger learns from the batches as sampled (unweighted CE); its prior is corrected at
                    # decision time by model.tagger.logit_adjust
                    if out["tag_logits"] is not None:
                        loss_cls = loss_cls + tag_weight * F.cross_entropy(out["tag_logits"].float(), labels)
                    loss_report = (
                        out["report_loss"].float().mean() if out["report_loss"] is not None else None
                    )
                    loss = loss_cls + report_weight * loss_report if loss_report is not None else loss_cls
                optimizer.zero_grad(set_to_none=True)
                if scaler is not None and scaler.is_enabled():
                    scaler.scale(loss).backward()
                    scaler.unscale_(optimizer)
                    if clip > 0:
                        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
                    scaler.step(optimizer)
                    scaler.update()
                else:
                    loss.backward()
                    if clip > 0:
                        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
                    optimizer.step()
                scheduler.step()
                ema.update(model)
                b = len(idx)
                n_seen += b
                sums["loss"] += float(loss.detach()) * b
                sums["cls"] += float(loss_cls.detach()) * b
                sums["report"] += float(loss_report.detach()) * b if loss_report is not None else 0.0
            bar.update(1)
            bar.set_postfix(epoch=epoch, loss=f"{sums['loss'] / n_seen:.3f}", refresh=False)

        with sw("validation"), ema.applied(model):
            probs, _ = predict_split(model, data, val, device, reports=val_reports)
            auc = macro_auc(val.labels, probs)
            improved = auc > state["best_auc"] + 1e-9
            if improved:
                state.update(best_auc=auc, best_epoch=epoch, bad_epochs=0)
                with sw("checkpointing"):
                    if ckpt is not None:
                        ckpt.mkdir(parents=True, exist_ok=True)
                        save_model_tensors(model, ckpt / "best.safetensors")
                    else:
                        best_in_memory = {k: v.detach().clone() for k, v in model.state_dict().items()}
            else:
                state["bad_epochs"] += 1
        row: dict[str, Any] = {
            "epoch": epoch,
            "train_loss": sums["loss"] / max(n_seen, 1),
            "train_loss_cls": sums["cls"] / max(n_seen, 1),
            "train_loss_report": sums["report"] / max(n_seen, 1) if model.has_generator else float("nan"),
            "val_macro_auc": auc,
        }
        lr_now = {g["group_name"]: g["lr"] for g in optimizer.param_groups}
        for g in GROUPS:
            if g in lr_now:
                row[f"lr_{g}"] = 0.0 if (g == "text_encoder" and frozen) else lr_now[g]
        row["generated_text_fraction"] = p_gen
        row["epoch_seconds"] = time.time() - t0
        state["log"].append(row)
        state["train_seconds"] = previous_seconds + (time.time() - wall0)
        state["time_breakdown_s"] = dict(sw.seconds)
        state["epoch"] = epoch + 1
        if state["bad_epochs"] >= patience:
            state["stopped"] = True
        bar.set_postfix(epoch=epoch, loss=f"{row['train_loss']:.3f}", val_auc=f"{auc:.3f}")
        log.info(
            "%s fold %d epoch %d: loss %.4f (cls %.4f, report %.4f) val macro-AUC %.4f%s",
            name,
            fold,
            epoch,
            row["train_loss"],
            row["train_loss_cls"],
            row["train_loss_report"],
            auc,
            " *" if improved else "",
        )
        if ckpt is not None:
            with sw("checkpointing"):
                save_state(
                    ckpt,
                    model=model,
                    optimizer=optimizer,
                    scheduler=scheduler,
                    scaler=scaler,
                    ema=ema.shadow,
                    rng={
                        "torch": torch.get_rng_state(),
                        "sampler": sampler_gen.get_state(),
                        "augment": aug_gen.get_state(),
                    },
                    meta={k: v for k, v in state.items() if k != "resumed_from"},
                )
        if epoch_callback is not None:
            epoch_callback(epoch, row, model)
    bar.close()

    # restore the best epoch
    with sw("checkpointing"):
        if ckpt is not None and (ckpt / "best.safetensors").is_file():
            load_model_tensors(model, ckpt / "best.safetensors")
        elif best_in_memory is not None:
            model.load_state_dict(best_in_memory)
    if model.text_encoder is not None:
        model.text_encoder.requires_grad_(True)

    summary = {
        "n_parameters": model.n_parameters(),
        "best_epoch": int(state["best_epoch"]),
        "epochs_run": int(state["epoch"]),
        "train_seconds": round(float(state["train_seconds"]), 3),
        "best_val_macro_auc": float(state["best_auc"]),
        "device": str(device),
        "variant": name,
        "fold": int(fold),
        "n_train": len(train),
        "n_val": len(val),
        "class_weights": [round(float(w), 6) for w in cw],
        **priors.as_dict(),
        "early_stopped": bool(state["stopped"]) and int(state["epoch"]) < epochs,
        "resumed_from_epoch": state.get("resumed_from"),
        "torch_threads": torch.get_num_threads(),
    }
    model.metadata.update(
        {"best_epoch": summary["best_epoch"], "class_weights": summary["class_weights"], **priors.as_dict()}
    )
    with sw("checkpointing"):
        staged = _stage_output(Path(output_dir), model, state["log"])
    # seconds per part of this job (all sessions) up to here, `other` the rest of it
    summary["time_breakdown_s"] = sw.breakdown(previous_seconds + time.perf_counter() - clock0)
    _commit_output(staged, Path(output_dir), summary)
    if ckpt is not None and not keep_checkpoints:
        shutil.rmtree(ckpt, ignore_errors=True)
    return summary


def _file_hash(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _stage_output(out: Path, model: RadGenModel, rows: list[dict[str, Any]]) -> Path:
    """Write the model and train_log.csv into a temporary sibling of `out` (renamed by _commit_output)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    if rows:
        with open(tmp / "train_log.csv", "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    return tmp


def _commit_output(tmp: Path, out: Path, summary: dict[str, Any]) -> None:
    """Add summary.json and rename the staged directory into place: a crash never leaves a half-written model dir."""
    (tmp / "summary.json").write_text(json.dumps(summary, indent=2))
    if out.exists():
        shutil.rmtree(out)
    os.replace(tmp, out)
