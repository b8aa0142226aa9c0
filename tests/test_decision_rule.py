"""Decisions under the true prior (issue 10, point 4): logit adjustment undoes the seed's double imbalance correction.

The toy problem has a known answer: 2-D Gaussian classes with a shared identity covariance and known priors, so
the Bayes decision is argmax_c log π_c − ‖x − μ_c‖²/2 and a linear softmax classifier can represent it exactly.
The classifier is trained with the seed's recipe (weighted sampler and/or class-weighted CE, radgen's
`class_weights`); the test then compares its decisions with the analytic Bayes rule, with and without the offsets.
"""

from __future__ import annotations

import json

import model_fixtures as mf
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

from radgen.constants import CLASSES
from radgen.models import CorruptCheckpointError, RadGenModel, build_model
from radgen.train.data import class_weights
from radgen.train.priors import prior_adjustment, training_priors

PRIOR = np.array([0.1, 0.7, 0.2])
MEANS = np.array([[-1.0, 0.0], [1.0, 0.0], [0.0, 1.5]])  # overlapping classes: the prior decides many points
N_TRAIN, N_TEST = 4000, 200_000


# --------------------------------------------------------------------------- toy problem
def sample(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    y = rng.choice(len(PRIOR), size=n, p=PRIOR)
    return MEANS[y] + rng.standard_normal((n, 2)), y


def bayes_decision(x: np.ndarray) -> np.ndarray:
    """argmax_c log π_c + log N(x; μ_c, I), written from the generating model alone."""
    return np.argmax(np.log(PRIOR) - 0.5 * ((x[:, None, :] - MEANS[None]) ** 2).sum(-1), axis=1)


def train_linear(x: np.ndarray, y: np.ndarray, sampler: bool, loss: bool, seed: int = 0) -> torch.nn.Linear:
    """A linear softmax classifier trained like radgen.train.engine: multinomial sampler with the class weights
    (else a permutation), cross-entropy weighted by them (else plain); Adam with a decaying step."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    cw = class_weights(y)
    sample_weights = torch.tensor(cw[y], dtype=torch.double)
    ce_weight = torch.tensor(cw, dtype=torch.float32) if loss else None
    xt, yt = torch.tensor(x, dtype=torch.float32), torch.from_numpy(y)
    model = torch.nn.Linear(2, len(PRIOR))
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda k: max(0.02, 1 - k / 800))
    for _ in range(40):
        if sampler:
            order = torch.multinomial(sample_weights, len(y), replacement=True, generator=gen)
        else:
            order = torch.randperm(len(y), generator=gen)
        for start in range(0, len(order), 200):
            idx = order[start : start + 200]
            opt.zero_grad()
            F.cross_entropy(model(xt[idx]), yt[idx], weight=ce_weight).backward()
            opt.step()
            sched.step()
    return model


@pytest.mark.parametrize(
    ("sampler", "loss", "margin"),
    [(True, True, 0.15), (True, False, 0.03), (False, True, 0.03)],  # measured gaps ≈ 0.30, 0.08, 0.08
)
def test_adjusted_argmax_recovers_the_bayes_decision(sampler, loss, margin):
    x, y = sample(N_TRAIN, np.random.default_rng(0))
    model = train_linear(x, y, sampler, loss)
    x_test, y_test = sample(N_TEST, np.random.default_rng(1))
    with torch.no_grad():
        logits = model(torch.tensor(x_test, dtype=torch.float32)).double().numpy()
    b = prior_adjustment(y, sampler_weighting=sampler, loss_weighting=loss)
    bayes = bayes_decision(x_test)
    adjusted, raw = np.argmax(logits + b, axis=1), np.argmax(logits, axis=1)

    acc_bayes, acc_adj, acc_raw = ((d == y_test).mean() for d in (bayes, adjusted, raw))
    assert (adjusted == bayes).mean() >= 0.97
    assert acc_adj == pytest.approx(acc_bayes, abs=0.01)
    assert acc_raw <= acc_adj - margin, "without the offsets the decision is under the training prior"
    # the adjusted probabilities are posteriors under the natural prior: their mean over p(x) is that prior
    probs = torch.softmax(torch.from_numpy(logits + b), dim=1).numpy()
    raw_probs = torch.softmax(torch.from_numpy(logits), dim=1).numpy()
    assert np.allclose(probs.mean(0), PRIOR, atol=0.02)
    assert np.abs(raw_probs.mean(0) - PRIOR).max() > 0.1


# --------------------------------------------------------------------------- the offsets by hand
COUNTS = np.array([10, 70, 20])
LABELS = np.repeat(np.arange(3), COUNTS)


def test_offsets_by_hand_for_counts_10_70_20():
    natural = np.array([0.1, 0.7, 0.2])
    # both corrections: π_eff ∝ n·(1/n)² = 1/n
    inv = np.array([1 / 10, 1 / 70, 1 / 20])
    both = training_priors(LABELS, sampler_weighting=True, loss_weighting=True)
    assert np.allclose(both.natural, natural)
    assert np.allclose(both.effective, inv / inv.sum())
    assert np.allclose(both.offset, np.log(natural) - np.log(inv / inv.sum()))
    # the rounded figure for the default data has the same shape: rare class weighted most
    assert np.argmax(both.effective) == 0 and np.argmin(both.effective) == 1
    # one correction (either): balanced batches or balanced loss -> uniform effective prior
    one = np.log(natural) - np.log(1 / 3)
    assert np.allclose(prior_adjustment(LABELS, sampler_weighting=True, loss_weighting=False), one)
    assert np.allclose(prior_adjustment(LABELS, sampler_weighting=False, loss_weighting=True), one)
    # none: training saw the natural prior, nothing to undo
    assert np.allclose(prior_adjustment(LABELS, sampler_weighting=False, loss_weighting=False), 0.0)


def test_effective_prior_uses_the_training_class_weights():
    """π_eff ∝ n_c·w_c per correction, with radgen's own w_c = N/(C·n_c)."""
    labels = np.array([0, 1, 1, 1, 2, 2])
    n, w = np.bincount(labels), class_weights(labels)
    for k, (sampler, loss) in enumerate([(False, False), (True, False), (True, True)]):
        expected = n * w**k / (n * w**k).sum()
        assert np.allclose(training_priors(labels, sampler, loss).effective, expected)


def test_absent_class_gives_finite_offsets():
    b = prior_adjustment(np.array([1, 1, 2, 2, 2]), sampler_weighting=True, loss_weighting=True)
    assert np.all(np.isfinite(b)) and np.argmin(b) == 0  # the class never seen is pushed down


# --------------------------------------------------------------------------- model buffer
@pytest.fixture
def image_model() -> RadGenModel:
    torch.manual_seed(0)
    return build_model(mf.variant("swin_b")["model"], image_size=mf.IMAGE_SIZE).eval()


def images(n: int = 4) -> torch.Tensor:
    return torch.rand(n, 1, mf.IMAGE_SIZE, mf.IMAGE_SIZE, generator=torch.Generator().manual_seed(0))


def test_predict_adds_the_offsets_and_they_round_trip(image_model, tmp_path):
    x = images()
    assert torch.equal(image_model.prior_logit_adjust, torch.zeros(len(CLASSES)))  # default: the old rule
    offsets = torch.tensor([0.5, -1.0, 0.25])
    image_model.prior_logit_adjust.copy_(offsets)
    probs, _ = image_model.predict(x)
    with torch.no_grad():
        logits = image_model(images=x)["logits"].float()
    assert torch.allclose(probs, torch.softmax(logits + offsets, -1), atol=1e-6)
    assert not torch.allclose(probs, torch.softmax(logits, -1), atol=1e-3)

    image_model.save_pretrained(tmp_path)
    assert torch.equal(load_file(str(tmp_path / "model.safetensors"))["prior_logit_adjust"], offsets)
    loaded = RadGenModel.from_pretrained(tmp_path)
    assert torch.equal(loaded.prior_logit_adjust, offsets)
    assert torch.equal(loaded.predict(x)[0], probs)


def test_checkpoint_without_the_buffer_loads_with_zero_offsets(image_model, tmp_path):
    """Checkpoints written before the buffer existed keep their old probabilities; other gaps still fail."""
    x = images()
    image_model.save_pretrained(tmp_path)
    weights = load_file(str(tmp_path / "model.safetensors"))
    weights.pop("prior_logit_adjust")
    save_file(weights, str(tmp_path / "model.safetensors"), metadata={"format": "pt"})
    loaded = RadGenModel.from_pretrained(tmp_path)
    assert torch.equal(loaded.prior_logit_adjust, torch.zeros(len(CLASSES)))
    with torch.no_grad():
        assert torch.allclose(
            loaded.predict(x)[0], torch.softmax(image_model(images=x)["logits"], -1), atol=1e-6
        )

    weights.pop(next(k for k in weights if k.startswith("fusion.head.")))
    save_file(weights, str(tmp_path / "model.safetensors"), metadata={"format": "pt"})
    with pytest.raises(CorruptCheckpointError, match="missing"):
        RadGenModel.from_pretrained(tmp_path)


def test_late_fusion_offsets_apply_to_the_averaged_probabilities():
    reports = [
        "FINDINGS: clear lungs.",
        "FINDINGS: right lower lobe consolidation.",
        "FINDINGS: apical cavity.",
    ]
    torch.manual_seed(0)
    model = build_model(
        mf.variant("late_fusion")["model"], image_size=mf.IMAGE_SIZE, train_reports=reports * 4
    ).eval()
    offsets = torch.tensor([-0.3, 0.9, 0.1])
    model.prior_logit_adjust.copy_(offsets)
    x = images(3)
    probs, _ = model.predict(x, reports)
    with torch.no_grad():
        branches = model(images=x, text=model.processor.tokenize_text(reports))["branch_logits"].float()
    averaged = torch.softmax(branches, -1).mean(0)
    expected = averaged * offsets.exp() / (averaged * offsets.exp()).sum(-1, keepdim=True)
    assert torch.allclose(probs, expected, atol=1e-5)


# --------------------------------------------------------------------------- trainer
def test_trainer_stores_the_offsets_of_the_inner_training_part(data, tmp_path):
    summary = mf.train(mf.variant("swin_b", epochs=1), data, tmp_path / "m")
    labels = data.part(mf.FOLD, "train")["label"]
    counts = np.array([(labels == c).sum() for c in CLASSES], dtype=float)
    natural = counts / counts.sum()
    effective = (1 / counts) / (1 / counts).sum()  # class_weighting: sampler and weighted CE
    expected = np.log(natural) - np.log(effective)
    saved = load_file(str(tmp_path / "m" / "model.safetensors"))["prior_logit_adjust"].numpy()
    assert np.allclose(saved, expected, atol=1e-5)
    meta = json.loads((tmp_path / "m" / "config.json").read_text())["metadata"]
    for record in (summary, json.loads((tmp_path / "m" / "summary.json").read_text()), meta):
        assert np.allclose(record["prior_natural"], natural, atol=1e-5)
        assert np.allclose(record["prior_effective"], effective, atol=1e-5)
        assert np.allclose(record["prior_logit_adjust"], expected, atol=1e-5)


def test_cli_predicted_class_follows_the_offsets(image_model, tmp_path, capsys):
    """`radgen predict` names the class of the adjusted probabilities (a large offset forces its class)."""
    from PIL import Image

    from radgen.cli import main

    path = tmp_path / "x.png"
    Image.fromarray((images(1)[0, 0].numpy() * 255).astype(np.uint8)).save(path)

    def cli_predicts(offsets: torch.Tensor) -> tuple[str, np.ndarray]:
        image_model.prior_logit_adjust.copy_(offsets)
        image_model.save_pretrained(tmp_path / "m")
        capsys.readouterr()
        assert main(["predict", str(path), "--checkpoint", str(tmp_path / "m"), "--json"]) == 0
        (result,) = json.loads(capsys.readouterr().out)
        return result["predicted"], np.array([result["probabilities"][c] for c in CLASSES])

    raw_class, raw_probs = cli_predicts(torch.zeros(len(CLASSES)))
    forced = next(i for i, c in enumerate(CLASSES) if c != raw_class)
    offsets = torch.zeros(len(CLASSES))
    offsets[forced] = 50.0
    adj_class, adj_probs = cli_predicts(offsets)
    assert adj_class == CLASSES[forced]
    expected = raw_probs * np.exp(offsets.numpy() - 50.0)  # softmax(logits + b) ∝ p_raw · e^b
    assert np.allclose(adj_probs, expected / expected.sum(), atol=1e-5)
