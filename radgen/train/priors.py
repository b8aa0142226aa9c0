"""Decision under the natural class prior: the logit offset that undoes the training's imbalance handling.

The seed corrects class imbalance twice (a weighted sampler AND class-weighted cross-entropy, both with
w_c = N/(C·n_c)), so the classifier's softmax estimates class posteriors under an effective prior ∝ 1/n_c, not
under the training part's class frequencies. Adding `prior_adjustment(...)` to the logits before the softmax
(logit adjustment, Menon et al., ICLR 2021) turns them back into posteriors under the natural prior, whose
argmax is the Bayes decision for 0-1 loss. The training itself is unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from radgen.constants import CLASSES

# an absent class is counted as half an example, so that its log-prior stays finite (as in tag_logit_adjustment)
ABSENT_COUNT = 0.5


@dataclass(frozen=True)
class PriorAdjustment:
    """The natural and effective training priors (each sums to 1) and the logit offset between them."""

    natural: np.ndarray
    effective: np.ndarray
    offset: np.ndarray

    def as_dict(self, digits: int = 6) -> dict[str, list[float]]:
        """JSON-ready fields for summary.json and the model's metadata."""

        def r(a: np.ndarray) -> list[float]:
            return [round(float(x), digits) for x in a]

        return {
            "prior_natural": r(self.natural),
            "prior_effective": r(self.effective),
            "prior_logit_adjust": r(self.offset),
        }


def training_priors(
    train_labels: np.ndarray,
    sampler_weighting: bool,
    loss_weighting: bool,
    n_classes: int = len(CLASSES),
) -> PriorAdjustment:
    """Natural prior n_c/N of the training part, effective prior of training, and b = log natural − log effective.

    Derivation: the sampler draws class c with probability ∝ n_c·w_c (n_c without it); weighted CE multiplies
    class c's loss by w_c, and the minimiser of a w-weighted CE under prior q is the posterior under q·w. So
    π_eff(c) ∝ n_c · w_c^[sampler] · w_c^[loss] with w_c ∝ 1/n_c, and p_nat(c|x) ∝ p_eff(c|x)·π_nat(c)/π_eff(c),
    i.e. softmax(logits + b). Both corrections: π_eff ∝ 1/n_c, b_c = 2·log n_c + const; one: π_eff uniform; none: b = 0.
    """
    counts = np.bincount(np.asarray(train_labels, dtype=np.int64), minlength=n_classes).astype(np.float64)
    counts = np.maximum(counts, ABSENT_COUNT)
    natural = counts / counts.sum()
    weight = 1.0 / counts  # ∝ N/(C·n_c); the constant cancels in the normalisation
    effective = natural * weight ** (int(bool(sampler_weighting)) + int(bool(loss_weighting)))
    effective = effective / effective.sum()
    return PriorAdjustment(natural=natural, effective=effective, offset=np.log(natural) - np.log(effective))


def prior_adjustment(train_labels: np.ndarray, sampler_weighting: bool, loss_weighting: bool) -> np.ndarray:
    """Offsets b [C] to add to the classifier's logits: softmax(logits + b) estimates p(y|x) under the natural
    prior of the training part. See `training_priors` for the derivation; no weighting gives b = 0."""
    return training_priors(train_labels, sampler_weighting, loss_weighting).offset


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
