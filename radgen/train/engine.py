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

Units: radgen.train.setup (the run's objects), optim (optimiser, transformers' schedule), ema (timm's
ModelEmaV3), textmix (which text is read), tokens (fixed texts tokenised once), loss (the one loss function),
loop (epoch, validation), resume (checkpoint key and state), output (log, summary, model directory), distributed
(`training.devices` > 1: DistributedDataParallel workers launched with torchrun).
Time: summary.json's `time_breakdown_s` says where the job's wall time went (radgen.train.timing).
"""

from __future__ import annotations

import logging
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from radgen.models import RadGenModel
from radgen.runtime import set_determinism
from radgen.train import resume
from radgen.train.checkpoint import load_model_tensors, save_model_tensors
from radgen.train.data import FoldData
from radgen.train.distributed import Dist, launch
from radgen.train.loop import train_epoch, validate
from radgen.train.optim import current_lrs, steps_per_epoch
from radgen.train.output import build_summary, commit_output, log_row, stage_output
from radgen.train.priors import tag_logit_adjustment
from radgen.train.resume import epoch_seed
from radgen.train.setup import Run, prepare_run, pretrained_sources, run_device, tokenise_ground_truth
from radgen.train.textmix import epoch_text_mix, reader_texts
from radgen.train.timing import Stopwatch

__all__ = ["tag_logit_adjustment", "train_fold"]

# train_fold's arguments handed to the distributed workers (epoch_callback must be None there)
LAUNCH_ARGS = (
    "manifest",
    "folds",
    "cache",
    "cache_index",
    "fold",
    "output_dir",
    "image_size",
    "checkpoint_dir",
    "reports_model_dir",
    "threads",
    "progress",
    "epoch_callback",
    "keep_checkpoints",
    "pretrained_manifest",
)

log = logging.getLogger("radgen.train")
PathLike = str | Path


def _validate_and_keep_best(
    run: Run, epoch: int, state: dict[str, Any], ckpt: Path | None, best: dict
) -> float:
    """Inner-val AUC of the averaged weights; on improvement they become the best checkpoint (file or memory)."""
    with run.sw("validation"), run.ema.averaged(run.model) as m:
        auc = validate(run, m, run.texts.val)
        if auc > state["best_auc"] + 1e-9:
            state.update(best_auc=auc, best_epoch=epoch, bad_epochs=0)
            with run.sw("checkpointing"):
                if ckpt is not None and run.dist.main:
                    ckpt.mkdir(parents=True, exist_ok=True)
                    save_model_tensors(m, ckpt / "best.safetensors")
                else:
                    best["weights"] = {k: v.detach().clone() for k, v in m.state_dict().items()}
        else:
            state["bad_epochs"] += 1
    return auc


def _run_epoch(run: Run, epoch: int, state: dict[str, Any], ckpt: Path | None, best: dict, bar: Any) -> dict:
    """Train and validate one epoch; update `state` (log, early stopping); return the log row."""
    t0 = time.time()
    torch.manual_seed(epoch_seed(run.seed, epoch, 0))
    run.sampler_gen.manual_seed(epoch_seed(run.seed, epoch, 1))
    run.aug_gen.manual_seed(epoch_seed(run.seed, epoch, 2))
    mix_gen = torch.Generator().manual_seed(epoch_seed(run.seed, epoch, 3))
    frozen = run.text_frozen(epoch)
    if run.model.text_encoder is not None:
        run.model.text_encoder.requires_grad_(not frozen)
    run.prepare_forward(frozen)
    p_gen = epoch_text_mix(run, epoch, mix_gen, state)
    means = train_epoch(run, epoch, mix_gen, bar)
    best_before = state["best_auc"]
    auc = _validate_and_keep_best(run, epoch, state, ckpt, best)
    lrs = current_lrs(run.optimizer, frozen)
    row = log_row(epoch, means, run.model.has_generator, auc, lrs, p_gen, time.time() - t0)
    state["log"].append(row)
    state["epoch"] = epoch + 1
    if state["bad_epochs"] >= int(run.training.get("early_stopping_patience", run.epochs)):
        state["stopped"] = True
    bar.set_postfix(epoch=epoch, loss=f"{row['train_loss']:.3f}", val_auc=f"{auc:.3f}")
    log.info(
        "%s fold %d epoch %d: loss %.4f (cls %.4f, report %.4f) val macro-AUC %.4f%s",
        *(run.name, run.fold, epoch, row["train_loss"], row["train_loss_cls"], row["train_loss_report"], auc),
        " *" if auc > best_before + 1e-9 else "",
    )
    return row


def _progress(run: Run, state: dict[str, Any], enabled: bool) -> Any:
    spe = steps_per_epoch(len(run.data.train), run.batch_size)
    return tqdm(
        total=run.epochs * spe,
        initial=state["epoch"] * spe,
        desc=f"{run.name} fold{run.fold}",
        unit="step",
        disable=not enabled,
        mininterval=1.0,
        file=sys.stderr,
        dynamic_ncols=True,
    )


def _restore_best(run: Run, ckpt: Path | None, best: dict) -> None:
    with run.sw("checkpointing"):
        if ckpt is not None and (ckpt / "best.safetensors").is_file():
            load_model_tensors(run.model, ckpt / "best.safetensors")
        elif "weights" in best:
            run.model.load_state_dict(best["weights"])
    if run.model.text_encoder is not None:
        run.model.text_encoder.requires_grad_(True)


def _write_outputs(
    run: Run, state: dict[str, Any], out: Path, previous_seconds: float, clock0: float
) -> dict[str, Any]:
    """The model directory (model, train_log.csv, summary.json with where the job's time went: this session since
    `clock0` plus `previous_seconds` of killed sessions)."""
    summary = build_summary(run, state)
    run.model.metadata.update(
        {
            "best_epoch": summary["best_epoch"],
            "class_weights": summary["class_weights"],
            **run.priors.as_dict(),
        }
    )
    with run.sw("checkpointing"):
        staged = stage_output(out, run.model, state["log"])
    # seconds per part of this job (all sessions) up to here, `other` the rest of it
    summary["time_breakdown_s"] = run.sw.breakdown(previous_seconds + time.perf_counter() - clock0)
    commit_output(staged, out, summary)
    return summary


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
    devices, dist = int(variant["training"].get("devices", 1)), Dist.current()
    device = run_device(variant["training"])
    if devices > 1 and dist.world == 1:  # launch `devices` workers, each of which comes back here
        kwargs = dict(locals())
        return launch(variant, devices, {k: kwargs[k] for k in LAUNCH_ARGS})
    sources = pretrained_sources(variant, pretrained_manifest)  # a part fetch_pretrained lacks: fail now
    wall0, clock0, sw = time.time(), time.perf_counter(), Stopwatch()
    set_determinism(threads)
    with sw("setup"):
        data = FoldData(manifest, folds, cache, cache_index, fold)
        size = int(image_size or data.image_size)
        run = prepare_run(variant, data, fold, size, sw, sources, device, dist)
    run.texts = reader_texts(run.model, variant, data, reports_model_dir, run.device, sw, dist)
    tokenise_ground_truth(run)
    ckpt = resume.checkpoint_dir_for(
        checkpoint_dir, variant, fold, size, data.fingerprint(), reports_model_dir
    )
    state, best = resume.initial_state(), {}
    if resume.restore(run, ckpt, state):
        log.info("%s fold %d: resuming from %s after epoch %d", run.name, fold, ckpt, state["epoch"] - 1)
    bar = _progress(run, state, progress and dist.main)
    previous_seconds = float(state["train_seconds"])  # wall time of earlier (killed) sessions
    for epoch in range(int(state["epoch"]), run.epochs):
        if state["stopped"]:
            break
        row = _run_epoch(run, epoch, state, ckpt, best, bar)
        state["train_seconds"] = previous_seconds + (time.time() - wall0)
        state["time_breakdown_s"] = dict(sw.seconds)
        if ckpt is not None and dist.main:
            resume.save(run, ckpt, state)
        if epoch_callback is not None:
            epoch_callback(epoch, row, run.model)
    bar.close()
    if not dist.main:  # rank 0 alone writes the outputs
        return {"epochs_run": int(state["epoch"]), "rank": dist.rank}
    _restore_best(run, ckpt, best)
    summary = _write_outputs(run, state, Path(output_dir), previous_seconds, clock0)
    if ckpt is not None and not keep_checkpoints:
        shutil.rmtree(ckpt, ignore_errors=True)
    return summary
