"""Which text a text branch reads while it trains (config/README.md, "Training text").

A model with a generator reads its own generated report (from the averaged weights) for a share of the training
samples each epoch, its ground-truth report for the rest. A text branch without a generator (`reports_from`)
reads that variant's generated reports: for inner-val (early stopping) and for the generated share of its text
mix, the same rule as RadGen's own text branch. An oracle (reports_from: ground_truth) reads ground truth.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from radgen.data.folddata import FoldData, Split
from radgen.runtime import generate_for, load_reports_source
from radgen.train.distributed import Dist, split_map
from radgen.train.timing import Stopwatch
from radgen.train.tokens import mixed_text_table
from radgen.variants import GROUND_TRUTH

log = logging.getLogger("radgen.train")


def generated_fraction(training: dict[str, Any], epoch: int) -> float:
    """Share of training samples whose text branch reads the model's own generated report in this epoch.

    Ramps linearly from 0 at epoch 0 to `generated_report_fraction` at epoch `generated_report_ramp_epochs`
    (0: the full share from epoch 0); the other samples read their ground-truth report.
    """
    p_max = float(training.get("generated_report_fraction", 0.0))
    ramp = float(training.get("generated_report_ramp_epochs", 0))
    if p_max <= 0:
        return 0.0
    return p_max if ramp <= 0 else p_max * min(1.0, epoch / ramp)


@dataclass
class ReaderTexts:
    """Texts of a text branch without its own generator: inner-val reports and the source's training reports."""

    val: list[str] | None = None
    train: list[str] | None = None


def reader_texts(
    model: Any,
    variant: dict[str, Any],
    data: FoldData,
    reports_model_dir: Any,
    device: torch.device,
    sw: Stopwatch,
    dist: Dist | None = None,
) -> ReaderTexts:
    """The reports_from model's reports for inner-val and inner-train (loaded once), or ground truth for val;
    with several processes each generates a share."""
    dist = dist or Dist()
    if not (model.has_text and not model.has_generator):
        return ReaderTexts()
    if reports_model_dir is None:
        if variant.get("reports_from") != GROUND_TRUTH:
            log.warning(
                "%s: no reports_from model given; inner-val uses ground-truth reports (optimistic)",
                variant.get("name", "model"),
            )
        return ReaderTexts(val=list(data.val.reports))
    with sw("setup"):
        source = load_reports_source(reports_model_dir, device)
    with sw("validation"):
        val = split_map(dist, lambda split: generate_for(source, data, split, device), data.val)
    with sw("training_text_generation"):
        train = split_map(dist, lambda split: generate_for(source, data, split, device), data.train)
    return ReaderTexts(val=val, train=train)


def epoch_generated(
    p_gen: float,
    data: FoldData,
    source_texts: list[str] | None,
    generate: Callable[[Split], list[str]],
    mix_gen: torch.Generator,
) -> dict[int, str]:
    """Training-sample index → generated text for this epoch's share `p_gen` (empty when 0).

    The samples are drawn from `mix_gen`; their texts come from the reports_from source when given, else from
    `generate` (the model's own averaged weights).
    """
    if p_gen <= 0:
        return {}
    train = data.train
    use_gen = np.flatnonzero((torch.rand(len(train), generator=mix_gen) < p_gen).numpy())
    if source_texts is not None:
        generated = [source_texts[i] for i in use_gen]
    else:
        subset = Split(
            [train.image_ids[i] for i in use_gen],
            train.labels[use_gen],
            [train.reports[i] for i in use_gen],
            train.rows[use_gen],
        )
        generated = generate(subset)
    return {int(i): text for i, text in zip(use_gen, generated, strict=True)}


def mixes(model: Any, source_texts: list[str] | None) -> bool:
    """Does this model's text branch read generated text in training at all?"""
    return bool(model.has_text and (model.has_generator or source_texts is not None))


def draw_due(training: dict[str, Any], epoch: int, last: dict[str, Any] | None) -> bool:
    """Is a new text mix drawn in `epoch`? Every `text_mix_every` epochs (1: every epoch, as specified)."""
    every = max(1, int(training.get("text_mix_every", 1)))
    return last is None or epoch // every != int(last["epoch"]) // every


def epoch_text_mix(run: Any, epoch: int, mix_gen: torch.Generator, state: dict[str, Any]) -> float:
    """Set `run.text_tokens_epoch` to this epoch's training texts (tokenised) and return the generated share.

    A new mix (samples and their generated texts, from the averaged weights or the reports_from source) is
    drawn when due (draw_due); otherwise the last one, kept in `state["text_mix"]` for resume, is reused.
    """
    if not run.model.has_text:
        return 0.0
    last = state.get("text_mix")
    if draw_due(run.training, epoch, last):
        p_gen = generated_fraction(run.training, epoch) if mixes(run.model, run.texts.train) else 0.0

        def own(split: Split) -> list[str]:
            with run.sw("training_text_generation"), run.ema.averaged(run.model) as m:
                return split_map(run.dist, lambda part: generate_for(m, run.data, part, run.device), split)

        generated = epoch_generated(p_gen, run.data, run.texts.train, own, mix_gen)
        last = {"epoch": epoch, "p_gen": p_gen, "rows": list(generated), "texts": list(generated.values())}
        state["text_mix"] = last
    if run.mix_cache[0] != last["epoch"]:
        with run.sw("tokenization"):
            replaced = dict(zip(last["rows"], last["texts"], strict=True))
            table = mixed_text_table(run.model, run.gt_text_tokens, run.data.train.reports, replaced)
        run.mix_cache = (last["epoch"], table)
    run.text_tokens_epoch = run.mix_cache[1]
    return float(last["p_gen"])
