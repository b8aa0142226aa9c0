"""Training engine: class weights, progressive unfreezing, ablation switches, resume, determinism, leakage."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import load_file

from radgen.config import load_config, variant_config
from radgen.models import RadGenModel, build_model
from radgen.predict import predict_fold
from radgen.train import class_weights, train_fold
from radgen.train.data import FoldData
from radgen.train.toydata import make_toy_dataset, toy_config

ROOT = Path(__file__).resolve().parent.parent
FOLD = 0


class Interrupted(Exception):
    """Stands in for a kill between two epochs."""


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_toy_dataset(tmp_path_factory.mktemp("toy"), n=48, size=32, k=3, seed=0)


@pytest.fixture(scope="module")
def config() -> dict:
    return toy_config(load_config(ROOT / "config" / "config.yaml"))


def _variant(config: dict, name: str = "radgen", **training) -> dict:
    v = variant_config(config, name)
    v["training"].update(training)
    return v


def _train(v: dict, data: dict, out: Path, **kw) -> dict:
    return train_fold(v, **data, fold=FOLD, output_dir=out, threads=1, progress=False, **kw)


def _predict(model_dir: Path, data: dict, **kw) -> pd.DataFrame:
    return predict_fold(model_dir, **data, fold=FOLD, threads=1, **kw)


def test_class_weights_are_n_over_c_nc() -> None:
    labels = np.array([0, 0, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2])
    n, c = len(labels), 3
    expected = [n / (c * 2), n / (c * 6), n / (c * 4)]
    assert np.allclose(class_weights(labels), expected)
    assert np.allclose(class_weights(np.array([1, 1, 2])), [0.0, 0.5, 1.0])  # absent class: weight 0


def test_class_weights_come_from_the_training_part(config: dict, data: dict, tmp_path: Path) -> None:
    summary = _train(_variant(config, "swin_b", epochs=1), data, tmp_path / "m")
    train = FoldData(**data, fold=FOLD).train
    assert np.allclose(summary["class_weights"], class_weights(train.labels), atol=1e-6)


def test_outputs_log_and_summary(config: dict, data: dict, tmp_path: Path) -> None:
    out = tmp_path / "models" / "radgen" / "fold0"
    summary = _train(_variant(config), data, out, checkpoint_dir=tmp_path / "ckpt")
    assert {
        "config.json",
        "model.safetensors",
        "train_log.csv",
        "summary.json",
        "tokenizer_report",
        "tokenizer_text",
    } <= {p.name for p in out.iterdir()}
    log = pd.read_csv(out / "train_log.csv")
    assert list(log["epoch"]) == [0, 1]
    for col in (
        "train_loss",
        "train_loss_cls",
        "train_loss_report",
        "val_macro_auc",
        "lr_image_encoder",
        "lr_report_generator",
        "lr_text_encoder",
        "lr_fusion_head",
        "epoch_seconds",
    ):
        assert col in log.columns, col
    assert log["lr_text_encoder"].iloc[0] == 0.0  # frozen in epoch 0
    on_disk = json.loads((out / "summary.json").read_text())
    for key in ("n_parameters", "best_epoch", "epochs_run", "train_seconds", "best_val_macro_auc", "device"):
        assert key in on_disk and on_disk[key] == summary[key]
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no temporary directory left
    assert not list((tmp_path / "ckpt").glob("*/last"))  # checkpoints removed after success


def test_text_encoder_frozen_then_trained(config: dict, data: dict, tmp_path: Path) -> None:
    v = _variant(config, freeze_text_encoder_epochs=1, epochs=2)
    snapshots: list[dict[str, torch.Tensor]] = []

    def grab(epoch: int, row: dict, model: RadGenModel) -> None:
        snapshots.append({k: t.detach().clone() for k, t in model.text_encoder.state_dict().items()})

    torch.manual_seed(v["training"]["seed"])  # the engine's initial weights, rebuilt the same way
    initial = build_model(v["model"], image_size=32, train_reports=FoldData(**data, fold=FOLD).train.reports)
    before = initial.text_encoder.state_dict()
    _train(v, data, tmp_path / "m", epoch_callback=grab)
    assert all(torch.equal(before[k], snapshots[0][k]) for k in before)  # epoch 0: frozen
    assert any(not torch.equal(snapshots[0][k], snapshots[1][k]) for k in before)  # epoch 1: trained


def test_no_progressive_unfreezing_trains_text_encoder_in_epoch_0(
    config: dict, data: dict, tmp_path: Path
) -> None:
    v = _variant(config, "no_progressive_unfreezing", epochs=1)
    assert v["training"]["freeze_text_encoder_epochs"] == 0
    snap: list[dict[str, torch.Tensor]] = []
    torch.manual_seed(v["training"]["seed"])
    before = build_model(
        v["model"], image_size=32, train_reports=FoldData(**data, fold=FOLD).train.reports
    ).text_encoder.state_dict()
    _train(v, data, tmp_path / "m", epoch_callback=lambda e, r, m: snap.append(m.text_encoder.state_dict()))
    assert any(not torch.equal(before[k], snap[0][k]) for k in before)


def test_no_report_generation_has_no_report_loss(config: dict, data: dict, tmp_path: Path) -> None:
    _train(_variant(config, "no_report_generation", epochs=1), data, tmp_path / "m")
    log = pd.read_csv(tmp_path / "m" / "train_log.csv")
    assert log["train_loss_report"].isna().all()
    assert np.allclose(log["train_loss"], log["train_loss_cls"])
    model = RadGenModel.from_pretrained(tmp_path / "m")
    assert model.report_generator is None
    assert _predict(tmp_path / "m", data)["report_generated"].fillna("").eq("").all()


def test_resume_after_interruption_equals_uninterrupted(config: dict, data: dict, tmp_path: Path) -> None:
    v = _variant(config, epochs=3)
    _train(v, data, tmp_path / "full", checkpoint_dir=tmp_path / "ckpt_full")

    def kill_after_epoch_1(epoch: int, row: dict, model: RadGenModel) -> None:
        if epoch == 1:
            raise Interrupted

    with pytest.raises(Interrupted):
        _train(
            v, data, tmp_path / "resumed", checkpoint_dir=tmp_path / "ckpt", epoch_callback=kill_after_epoch_1
        )
    assert not (tmp_path / "resumed").exists()  # nothing half-written
    summary = _train(v, data, tmp_path / "resumed", checkpoint_dir=tmp_path / "ckpt")
    assert summary["resumed_from_epoch"] == 2 and summary["epochs_run"] == 3
    a, b = (
        load_file(tmp_path / "full" / "model.safetensors"),
        load_file(tmp_path / "resumed" / "model.safetensors"),
    )
    assert a.keys() == b.keys() and all(torch.allclose(a[k], b[k]) for k in a)
    pa, pb = _predict(tmp_path / "full", data), _predict(tmp_path / "resumed", data)
    pd.testing.assert_frame_equal(pa, pb)
    la, lb = (
        pd.read_csv(tmp_path / "full" / "train_log.csv"),
        pd.read_csv(tmp_path / "resumed" / "train_log.csv"),
    )
    pd.testing.assert_frame_equal(la.drop(columns="epoch_seconds"), lb.drop(columns="epoch_seconds"))


def test_stale_checkpoint_is_not_resumed(config: dict, data: dict, tmp_path: Path) -> None:
    v = _variant(config, epochs=2)
    with pytest.raises(Interrupted):
        _train(
            v,
            data,
            tmp_path / "m",
            checkpoint_dir=tmp_path / "ckpt",
            epoch_callback=lambda e, r, m: (_ for _ in ()).throw(Interrupted),
        )
    other = _variant(config, epochs=2, seed=1)  # another config: its own checkpoint key
    assert _train(other, data, tmp_path / "m", checkpoint_dir=tmp_path / "ckpt")["resumed_from_epoch"] is None


def test_same_seed_gives_identical_predictions(config: dict, data: dict, tmp_path: Path) -> None:
    v = _variant(config, epochs=1)
    _train(v, data, tmp_path / "a")
    _train(copy.deepcopy(v), data, tmp_path / "b")
    pd.testing.assert_frame_equal(_predict(tmp_path / "a", data), _predict(tmp_path / "b", data))


def test_held_out_reports_do_not_leak(config: dict, data: dict, tmp_path: Path) -> None:
    v = _variant(config, epochs=1)
    _train(v, data, tmp_path / "clean")
    manifest = pd.read_csv(data["manifest"])
    folds = pd.read_csv(data["folds"])
    held_out = set(folds.loc[folds["fold"] == FOLD, "image_id"])
    rng = np.random.default_rng(0)
    words = ["zebra", "quartz", "violin", "nebula", "pumpkin", "xylophone"]
    mask = manifest["image_id"].isin(held_out)
    manifest.loc[mask, "report"] = [" ".join(rng.choice(words, 8)) for _ in range(int(mask.sum()))]
    poisoned = dict(data, manifest=tmp_path / "poisoned.csv")
    manifest.to_csv(poisoned["manifest"], index=False)
    _train(v, poisoned, tmp_path / "poisoned")
    pd.testing.assert_frame_equal(
        _predict(tmp_path / "clean", data), _predict(tmp_path / "poisoned", poisoned)
    )


def test_reports_from_variant_reads_the_source_models_reports(
    config: dict, data: dict, tmp_path: Path
) -> None:
    _train(_variant(config, epochs=1), data, tmp_path / "radgen")
    source = _predict(tmp_path / "radgen", data)
    source.to_csv(tmp_path / "radgen.csv", index=False)
    v = _variant(config, "early_fusion", epochs=1)
    assert v["reports_from"] == "radgen"
    _train(v, data, tmp_path / "early", reports_model_dir=tmp_path / "radgen")
    with pytest.raises(ValueError, match="reads reports generated by"):
        _predict(tmp_path / "early", data)
    preds = _predict(tmp_path / "early", data, reports_predictions=tmp_path / "radgen.csv")
    assert preds["report_generated"].fillna("").tolist() == source["report_generated"].fillna("").tolist()
    assert np.allclose(preds[["p_normal", "p_pneumonia", "p_tb"]].sum(axis=1), 1.0, atol=1e-5)
