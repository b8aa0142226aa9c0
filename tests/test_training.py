"""Training engine (issue 3): class weights, progressive unfreezing, the loss terms of the variants, per-epoch
outputs, resume after a kill, same-seed determinism and no leakage of held-out reports; plus the paper-size step.

Runs are tiny (tests/model_fixtures.py: 72 images at 32 px, batch 8, a few epochs, one thread) and shared where
possible: the reference run (RadGen, 6 epochs, fold 0) is built once per session.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import model_fixtures as mf
import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

import radgen.train.engine as engine
import radgen.train.setup as setup
import radgen.train.textmix as textmix
from radgen.constants import CLASSES, PREDICTION_COLUMNS
from radgen.train import class_weights

SUMMARY_KEYS = {"n_parameters", "best_epoch", "epochs_run", "train_seconds", "best_val_macro_auc", "device"}


# --------------------------------------------------------------------------- fixtures


@dataclass
class Spied:
    """What a training run did, seen from outside the engine."""

    summary: dict
    out: Path
    initial: dict[str, torch.Tensor] = field(default_factory=dict)  # every parameter before epoch 0
    after_epoch: list[dict[str, torch.Tensor]] = field(
        default_factory=list
    )  # live parameters after each epoch
    ce_weights: list[torch.Tensor | None] = field(default_factory=list)  # `weight` of each classification CE
    sampler_weights: list[torch.Tensor] = field(default_factory=list)  # weights given to torch.multinomial

    def changed(self, prefix: str, epoch: int) -> bool:
        """Did any parameter under `prefix` change during `epoch`?"""
        before = self.initial if epoch == 0 else self.after_epoch[epoch - 1]
        keys = [k for k in before if k.startswith(prefix)]
        assert keys, f"no parameters under {prefix}"
        return any(not torch.equal(before[k], self.after_epoch[epoch][k]) for k in keys)


def spied_train(v: dict, data: mf.SynthData, out: Path) -> Spied:
    record = Spied(summary={}, out=out)
    live: dict[str, torch.nn.Module] = {}
    real_build, real_ce, real_multinomial = setup.build_model, F.cross_entropy, torch.multinomial

    def snapshot() -> dict[str, torch.Tensor]:
        return {k: p.detach().clone() for k, p in live["model"].named_parameters()}

    def build(*args, **kwargs):
        live["model"] = real_build(*args, **kwargs)
        record.initial = snapshot()
        return live["model"]

    def ce(*args, **kwargs):
        if "weight" in kwargs:  # the classification loss (the report and tagger losses pass no `weight`)
            w = kwargs["weight"]
            record.ce_weights.append(None if w is None else w.detach().cpu().clone())
        return real_ce(*args, **kwargs)

    def multinomial(weights, *args, **kwargs):
        record.sampler_weights.append(weights.detach().cpu().clone())
        return real_multinomial(weights, *args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(setup, "build_model", build)
        mp.setattr(F, "cross_entropy", ce)
        mp.setattr(torch, "multinomial", multinomial)
        record.summary = mf.train(
            v, data, out, epoch_callback=lambda *_: record.after_epoch.append(snapshot())
        )
    return record


def freeze_epochs() -> int:
    return int(mf.tiny_config()["training"]["freeze_text_encoder_epochs"])


@pytest.fixture(scope="module")
def radgen_spied(data, tmp_path_factory) -> Spied:
    """RadGen with its configured freeze, trained one epoch past it."""
    n = freeze_epochs()
    assert n >= 1, "config: RadGen should freeze the text encoder for at least one epoch"
    return spied_train(mf.variant("radgen", epochs=n + 1), data, tmp_path_factory.mktemp("spied") / "radgen")


def expected_class_weights(data: mf.SynthData) -> np.ndarray:
    """N / (C · n_c) over the inner-training rows of fold 0, from folds.csv and the manifest alone."""
    labels = data.part(mf.FOLD, "train")["label"]
    counts = np.array([(labels == c).sum() for c in CLASSES], dtype=float)
    return len(labels) / (len(CLASSES) * counts)


def read_log(model_dir: Path) -> pd.DataFrame:
    return pd.read_csv(model_dir / "train_log.csv")


# --------------------------------------------------------------------------- class weights
def test_class_weights_function_by_hand():
    labels = np.array([0, 1, 1, 1, 2, 2])  # N=6, C=3: 6/(3·1), 6/(3·3), 6/(3·2)
    assert np.allclose(class_weights(labels), [2.0, 2 / 3, 1.0])
    assert np.allclose(class_weights(np.array([1, 1, 2, 2])), [0.0, 2 / 3, 2 / 3])  # absent class: weight 0


def test_tag_logit_adjustment_by_hand():
    labels = np.array([0, 1, 1, 1, 2, 2, 2, 2])  # natural prior 1/8, 3/8, 4/8
    log_nat, log_uni = np.log([1 / 8, 3 / 8, 4 / 8]), np.log([1 / 3] * 3)
    # balanced batches (weighted sampler): balanced decision = no offset; natural decision = log prior ratio
    assert np.allclose(engine.tag_logit_adjustment(labels, "balanced", weighting=True), 0.0)
    assert np.allclose(engine.tag_logit_adjustment(labels, "natural", weighting=True), log_nat - log_uni)
    # natural batches (no weighting): the reverse
    assert np.allclose(engine.tag_logit_adjustment(labels, "natural", weighting=False), 0.0)
    assert np.allclose(engine.tag_logit_adjustment(labels, "balanced", weighting=False), log_uni - log_nat)
    # a balanced decision moves an ambiguous tag towards the rare class, a natural one towards the common one
    logits = np.zeros(3)
    assert np.argmax(logits + engine.tag_logit_adjustment(labels, "balanced", weighting=False)) == 0
    assert np.argmax(logits + engine.tag_logit_adjustment(labels, "natural", weighting=True)) == 2
    with pytest.raises(ValueError, match="tag_prior"):
        engine.tag_logit_adjustment(labels, "uniform", weighting=True)


def test_class_weights_are_those_of_the_training_part(radgen_spied, data):
    w = expected_class_weights(data)
    assert not np.allclose(w, 1.0), "tiny data should be imbalanced"
    assert np.allclose(radgen_spied.summary["class_weights"], w, atol=1e-5)
    config = json.loads((radgen_spied.out / "config.json").read_text())
    assert np.allclose(config["metadata"]["class_weights"], w, atol=1e-5)
    # the weighted CE really uses them, at every step
    assert radgen_spied.ce_weights and all(x is not None for x in radgen_spied.ce_weights)
    for x in radgen_spied.ce_weights:
        assert np.allclose(x.numpy(), w, atol=1e-6)
    # the sampler draws each training image with its class weight, once per epoch
    labels = data.part(mf.FOLD, "train")["label"].map(CLASSES.index).to_numpy()
    assert len(radgen_spied.sampler_weights) == radgen_spied.summary["epochs_run"]
    for sw in radgen_spied.sampler_weights:
        assert len(sw) == len(labels) == radgen_spied.summary["n_train"]
        assert np.allclose(np.sort(sw.numpy()), np.sort(w[labels]))


def test_no_class_weighting_uses_plain_ce_and_no_weighted_sampler(data, tmp_path):
    run = spied_train(mf.variant("no_class_weighting", epochs=1), data, tmp_path / "m")
    assert run.ce_weights and all(x is None for x in run.ce_weights)
    assert run.sampler_weights == []


def test_saved_tag_offsets_follow_tag_prior_and_training_labels(data, tmp_path):
    """The trainer stores the offsets of `tag_prior` for the fold's training part in the saved model."""
    v = mf.variant("radgen", epochs=1, tag_prior="natural")
    v["model"]["report_generator"]["tag_token"] = True  # the class-token extension (off in RadGen itself)
    mf.train(v, data, tmp_path / "m")
    saved = load_file(str(tmp_path / "m" / "model.safetensors"))[
        "report_generator.tagger.logit_adjust"
    ].numpy()
    labels = data.part(mf.FOLD, "train")["label"].map(CLASSES.index).to_numpy()
    counts = np.bincount(labels, minlength=len(CLASSES))
    assert np.allclose(saved, np.log(counts / counts.sum()) - np.log(1 / 3), atol=1e-6)  # sampled balanced


# --------------------------------------------------------------------------- progressive unfreezing
def test_text_encoder_frozen_then_unfrozen(radgen_spied):
    n = freeze_epochs()
    for epoch in range(n):
        assert not radgen_spied.changed("text_encoder.", epoch), f"BERT changed in frozen epoch {epoch}"
        assert radgen_spied.changed("image_encoder.", epoch)  # the rest trains meanwhile
        assert radgen_spied.changed("text_proj.", epoch)
    assert radgen_spied.changed("text_encoder.", n), f"BERT did not change in epoch {n} after unfreezing"
    log = read_log(radgen_spied.out)
    assert (log["lr_text_encoder"][:n] == 0).all() and (log["lr_text_encoder"][n:] > 0).all()


def test_no_progressive_unfreezing_trains_text_encoder_from_epoch_0(data, tmp_path):
    v = mf.variant("no_progressive_unfreezing", epochs=1)
    assert v["training"]["freeze_text_encoder_epochs"] == 0
    run = spied_train(v, data, tmp_path / "m")
    assert run.changed("text_encoder.", 0)
    assert read_log(run.out)["lr_text_encoder"][0] > 0


# --------------------------------------------------------------------------- loss terms
def test_no_report_generation_loss_has_no_report_term(data, tmp_path, reference):
    mf.train(mf.variant("no_report_generation", epochs=1), data, tmp_path / "m")
    log = read_log(tmp_path / "m")
    assert log["train_loss_report"].isna().all()
    assert np.allclose(log["train_loss"], log["train_loss_cls"], rtol=0, atol=1e-9)
    # control: RadGen's loss does include 0.3 · L_report
    ref = read_log(reference.model_dir)
    weight = mf.tiny_config()["training"]["report_loss_weight"]
    assert (ref["train_loss_report"] > 0).all()
    assert np.allclose(
        ref["train_loss"], ref["train_loss_cls"] + weight * ref["train_loss_report"], rtol=1e-4
    )


# --------------------------------------------------------------------------- outputs
def test_model_directory_and_logs(reference):
    d = reference.model_dir
    files = {p.relative_to(d).as_posix() for p in d.rglob("*") if p.is_file()}
    assert {
        "config.json",
        "model.safetensors",
        "train_log.csv",
        "summary.json",
        "tokenizer_report/tokenizer_config.json",
        "tokenizer_text/tokenizer_config.json",
    } <= files
    assert not [f for f in files if Path(f).suffix in {".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt"}]
    summary = json.loads((d / "summary.json").read_text())
    assert SUMMARY_KEYS <= set(summary) and summary["epochs_run"] == mf.REFERENCE_EPOCHS
    log = read_log(d)
    assert list(log["epoch"]) == list(range(mf.REFERENCE_EPOCHS))
    for col in (
        "train_loss",
        "train_loss_cls",
        "train_loss_report",
        "val_macro_auc",
        "epoch_seconds",
        "lr_image_encoder",
        "lr_report_generator",
        "lr_text_encoder",
        "lr_fusion_head",
    ):
        assert col in log.columns and log[col].notna().all(), col
    assert ((log["val_macro_auc"] >= 0) & (log["val_macro_auc"] <= 1)).all()
    assert summary["best_val_macro_auc"] == pytest.approx(log["val_macro_auc"].max())
    assert summary["best_epoch"] == int(log["val_macro_auc"].idxmax())
    assert list(reference.predictions.columns) == list(PREDICTION_COLUMNS)


def test_predictions_cover_exactly_the_held_out_fold(reference, data):
    preds = reference.predictions
    assert set(preds["image_id"]) == set(data.part(mf.FOLD, "test")["image_id"])
    probs = preds[["p_normal", "p_pneumonia", "p_tb"]].to_numpy()
    assert np.allclose(probs.sum(1), 1, atol=1e-5)
    # RadGen's text branch read its own generated reports (strings; may be short after 6 tiny epochs)
    assert preds["report_generated"].map(lambda s: isinstance(s, str)).all()


# --------------------------------------------------------------------------- resume
class SimulatedKill(Exception):
    pass


def _kill_after(epoch_index: int):
    def callback(epoch, *_):  # (epoch, log_row[, model]) depending on the engine version
        if epoch == epoch_index:
            raise SimulatedKill(f"killed after epoch {epoch}")

    return callback


def _assert_same_weights(dir_a: Path, dir_b: Path) -> None:
    a, b = load_file(str(dir_a / "model.safetensors")), load_file(str(dir_b / "model.safetensors"))
    assert a.keys() == b.keys()
    for k in a:
        assert torch.allclose(a[k].float(), b[k].float(), rtol=0, atol=1e-7), k


def _assert_same_predictions(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(
        a.reset_index(drop=True), b.reset_index(drop=True), check_exact=False, rtol=0, atol=1e-7
    )


def _resume_and_compare(reference: mf.Run, data: mf.SynthData, ckpt: Path, out: Path) -> None:
    v = mf.variant("radgen", epochs=mf.REFERENCE_EPOCHS)
    epochs_rerun: list[int] = []
    summary = mf.train(v, data, out, checkpoint_dir=ckpt, epoch_callback=lambda e, *_: epochs_rerun.append(e))
    assert epochs_rerun == list(range(2, mf.REFERENCE_EPOCHS)), "the rerun did not resume after epoch 2"
    assert summary["resumed_from_epoch"] == 2 and summary["epochs_run"] == mf.REFERENCE_EPOCHS
    _assert_same_weights(reference.model_dir, out)
    _assert_same_predictions(reference.predictions, mf.predict(out, data))
    a, b = read_log(reference.model_dir), read_log(out)
    cols = [c for c in a.columns if c != "epoch_seconds"]
    pd.testing.assert_frame_equal(a[cols], b[cols])
    assert not any(ckpt.rglob("state.safetensors")), "checkpoints should be removed after a finished run"


@pytest.mark.slow  # > 3 s on 2 busy cores (issue 12: make test-fast)
def test_resume_after_interruption_equals_uninterrupted_run(reference, data, tmp_path):
    v = mf.variant("radgen", epochs=mf.REFERENCE_EPOCHS)
    ckpt, out = tmp_path / "ckpt", tmp_path / "model"
    with pytest.raises(SimulatedKill):
        mf.train(v, data, out, checkpoint_dir=ckpt, epoch_callback=_kill_after(1))  # after 2 epochs
    assert not out.exists(), "an interrupted run must not leave a model directory"
    states = list(ckpt.glob("*/last/state.json"))
    assert len(states) == 1 and json.loads(states[0].read_text())["epoch"] == 2
    _resume_and_compare(reference, data, ckpt, out)


def test_checkpoint_of_another_config_is_not_resumed(data, tmp_path):
    """Checkpoints are keyed by config and data: a changed config starts afresh instead of resuming stale state."""
    ckpt = tmp_path / "ckpt"
    with pytest.raises(SimulatedKill):
        mf.train(
            mf.variant("radgen", epochs=2),
            data,
            tmp_path / "m",
            checkpoint_dir=ckpt,
            epoch_callback=_kill_after(0),
        )
    other = mf.variant("radgen", epochs=2, seed=1)
    epochs_run: list[int] = []
    summary = mf.train(
        other, data, tmp_path / "m", checkpoint_dir=ckpt, epoch_callback=lambda e, *_: epochs_run.append(e)
    )
    assert summary["resumed_from_epoch"] is None and epochs_run == [0, 1]


KILL_SCRIPT = """
import os, signal, sys
from pathlib import Path
import pandas as pd
sys.path.insert(0, {tests!r})
import model_fixtures as mf
root = Path({root!r})
data = mf.SynthData(root, pd.read_csv(root / "manifest.csv", dtype={{"image_id": str, "patient_id": str}},
                                      keep_default_na=False),
                    pd.read_csv(root / "folds.csv", dtype={{"image_id": str}}), root / "cache.npy",
                    root / "cache_index.csv")
def kill(epoch, *_):
    if epoch == 1:
        os.kill(os.getpid(), signal.SIGKILL)
mf.train(mf.variant("radgen", epochs=mf.REFERENCE_EPOCHS), data, Path({out!r}), checkpoint_dir=Path({ckpt!r}),
         epoch_callback=kill)
"""


@pytest.mark.slow  # > 3 s on 2 busy cores (issue 12: make test-fast)
def test_resume_after_sigkill_equals_uninterrupted_run(reference, data, tmp_path):
    """A real kill (SIGKILL in a child process, no exception handling) after epoch 2, then a rerun here."""
    ckpt, out = tmp_path / "ckpt", tmp_path / "model"
    script = KILL_SCRIPT.format(
        tests=str(Path(__file__).parent), root=str(data.root), out=str(out), ckpt=str(ckpt)
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, env=env, check=False
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-3000:]
    assert not out.exists()
    _resume_and_compare(reference, data, ckpt, out)


# --------------------------------------------------------------------------- determinism
@pytest.mark.slow  # > 3 s on 2 busy cores (issue 12: make test-fast)
def test_same_seed_gives_identical_predictions(reference, data, tmp_path):
    mf.train(mf.variant("radgen", epochs=mf.REFERENCE_EPOCHS), data, tmp_path / "again")
    _assert_same_weights(reference.model_dir, tmp_path / "again")
    again = mf.predict(tmp_path / "again", data)
    pd.testing.assert_frame_equal(again, reference.predictions, check_exact=True)


@pytest.mark.slow  # > 3 s on 2 busy cores (issue 12: make test-fast)
def test_other_seed_gives_other_predictions(reference, data, tmp_path):
    """Control for the test above: the seed does reach the model."""
    mf.train(mf.variant("radgen", epochs=mf.REFERENCE_EPOCHS, seed=1), data, tmp_path / "seed1")
    other = mf.predict(tmp_path / "seed1", data)
    cols = ["p_normal", "p_pneumonia", "p_tb"]
    assert not np.allclose(other[cols].to_numpy(), reference.predictions[cols].to_numpy(), atol=1e-4)


# --------------------------------------------------------------------------- leakage
def _nonsense(manifest: pd.DataFrame, ids: set[str]) -> pd.DataFrame:
    out = manifest.copy()
    rng = np.random.default_rng(123)
    words = [
        "zorblax",
        "quixotic",
        "marmalade",
        "TUBERCULOSIS",
        "normal",
        "pneumonia",
        "xylophone",
        "cavity",
        "consolidation",
        "clear",
        "lungs",
        "left",
        "right",
        "banana",
    ]
    mask = out["image_id"].isin(ids)
    out.loc[mask, "report"] = [" ".join(rng.choice(words, size=25)) for _ in range(int(mask.sum()))]
    assert (out.loc[mask, "report"] != manifest.loc[mask, "report"]).all()
    return out


@pytest.mark.slow  # > 3 s on 2 busy cores (issue 12: make test-fast)
def test_held_out_reports_do_not_leak(reference, data, tmp_path):
    held_out = set(data.part(mf.FOLD, "test")["image_id"])
    modified = _nonsense(data.manifest, held_out)
    mf.train(mf.variant("radgen", epochs=mf.REFERENCE_EPOCHS), data, tmp_path / "m", manifest=modified)
    preds = mf.predict(tmp_path / "m", data, manifest=modified)
    pd.testing.assert_frame_equal(preds, reference.predictions, check_exact=True)


@pytest.mark.slow  # > 3 s on 2 busy cores (issue 12: make test-fast)
def test_training_reports_do_reach_the_model(reference, data, tmp_path):
    """Control for the leakage test: the same edit on the inner-training reports changes the predictions."""
    train_ids = set(data.part(mf.FOLD, "train")["image_id"])
    modified = _nonsense(data.manifest, train_ids)
    mf.train(mf.variant("radgen", epochs=mf.REFERENCE_EPOCHS), data, tmp_path / "m", manifest=modified)
    preds = mf.predict(tmp_path / "m", data, manifest=modified)
    cols = ["p_normal", "p_pneumonia", "p_tb"]
    assert not np.allclose(preds[cols].to_numpy(), reference.predictions[cols].to_numpy(), atol=1e-4)


# --------------------------------------------------------------------------- the paper setting


# --------------------------------------------------------------------------- the text readers' protocol
def _texts_read_in_training(
    v: dict, data: mf.SynthData, out: Path, **kwargs
) -> tuple[list[str], list[int], list[dict[int, str]]]:
    """Every text the text branch tokenised during training, which splits were asked of reports_from, and each
    epoch's generated texts (training-sample index → text)."""
    from radgen.models.processing import RadGenProcessor

    seen: list[str] = []
    asked: list[int] = []
    mixes: list[dict[int, str]] = []
    real_tokenize, real_draw = RadGenProcessor.tokenize_text, textmix.epoch_generated

    def tokenize(self, reports, device=None):
        seen.extend(reports)
        return real_tokenize(self, reports, device)

    def draw(*args, **kw):
        mixes.append(real_draw(*args, **kw))
        return mixes[-1]

    source = object()  # the reports_from model, replaced by a marker
    real_generate = textmix.generate_for

    def fake_generate(model, fold_data, split, device):
        if model is not source:
            return real_generate(model, fold_data, split, device)
        asked.append(len(split))
        return [f"GENERATED {i}" for i in split.image_ids]

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(RadGenProcessor, "tokenize_text", tokenize)
        mp.setattr(textmix, "load_reports_source", lambda model_dir, device: source)
        mp.setattr(textmix, "generate_for", fake_generate)
        mp.setattr(textmix, "epoch_generated", draw)
        mf.train(v, data, out, **kwargs)
    return seen, asked, mixes


def test_text_baselines_train_on_the_same_text_mix_as_radgen(data, tmp_path):
    """report_only reads the source generator's reports for the generated share of its training texts."""
    from radgen.data.folddata import FoldData

    v = mf.variant("report_only", epochs=2, augment=False)
    fraction = v["training"]["generated_report_fraction"]
    assert 0 < fraction < 1
    seen, asked, mixes = _texts_read_in_training(
        v, data, tmp_path / "m", reports_model_dir=tmp_path / "source"
    )
    train_ids = FoldData(**data.kwargs(), fold=mf.FOLD).train.image_ids
    assert sorted(asked) == sorted([len(train_ids), len(data.part(mf.FOLD, "val"))])
    assert len(mixes) == 2  # drawn anew each epoch (text_mix_every: 1)
    for mix in mixes:
        # each chosen training sample reads the source's report of ITS image, for about `fraction` of them
        assert all(text == f"GENERATED {train_ids[i]}" for i, text in mix.items())
        assert abs(len(mix) / len(train_ids) - fraction) < 0.2, (len(mix), len(train_ids), fraction)
        assert set(mix.values()) <= set(seen), "generated texts must reach the text encoder"
    assert mixes[0].keys() != mixes[1].keys()
    gt = set(data.part(mf.FOLD, "train")["report"])
    assert gt <= set(seen), "the ground-truth share is missing"


def test_text_mix_every_reuses_the_mix_between_draws(data, tmp_path):
    """text_mix_every: 2 draws the mix at epochs 0 and 2 only; a resumed run reuses the checkpointed mix."""
    v = mf.variant("report_only", epochs=3, augment=False, text_mix_every=2)
    _, _, mixes = _texts_read_in_training(v, data, tmp_path / "m", reports_model_dir=tmp_path / "source")
    assert len(mixes) == 2
    log = read_log(tmp_path / "m")
    assert log["generated_text_fraction"].iloc[1] == log["generated_text_fraction"].iloc[0]
    # killed after epoch 0, the rerun resumes at epoch 1 with epoch 0's mix and draws again at epoch 2 only
    (tmp_path / "source").mkdir()
    (tmp_path / "source" / "model.safetensors").write_bytes(b"stands for the reports_from weights")
    ckpt = tmp_path / "ckpt"
    with pytest.raises(SimulatedKill):
        _texts_read_in_training(
            v,
            data,
            tmp_path / "r",
            reports_model_dir=tmp_path / "source",
            checkpoint_dir=ckpt,
            epoch_callback=_kill_after(0),
        )
    _, _, resumed = _texts_read_in_training(
        v, data, tmp_path / "r", reports_model_dir=tmp_path / "source", checkpoint_dir=ckpt
    )
    assert resumed == mixes[1:]
    _assert_same_weights(tmp_path / "m", tmp_path / "r")


def test_oracle_reads_ground_truth_only(data, tmp_path):
    cfg = mf.tiny_config()
    v = mf.variant("oracle_report_only", cfg, epochs=1)
    assert v["reports_from"] == "ground_truth"
    seen, asked, mixes = _texts_read_in_training(v, data, tmp_path / "m")
    assert asked == [] and not any(t.startswith("GENERATED ") for t in seen)
    assert all(mix == {} for mix in mixes)
    assert set(seen) <= set(data.manifest["report"])
