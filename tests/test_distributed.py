"""Multi-process training of one job (issue 13, point 4): 2 gloo processes on CPU against one process.

The same global batch must give the same per-epoch losses, the same inner-val AUC and the same held-out
probabilities. Not bit-for-bit: each process runs the forward/backward on half the batch (other matmul shapes,
so other float32 summation orders) and gloo sums the gradients of the two halves, so results agree to float32
rounding carried through a few optimizer steps; TOLERANCE bounds that. What must NOT be tolerated (and would
exceed it by orders of magnitude) is a different loss: a class-weighted mean taken per rank and then averaged.
Dropout is off here: the processes draw masks for their halves, one process for the whole batch.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from toydata import make_toy_dataset, toy_config

from radgen.config import load_config, variant_config
from radgen.predict import predict_fold
from radgen.train import train_fold

ROOT = Path(__file__).resolve().parent.parent
TOLERANCE = 1e-5  # absolute, on losses (≈ 1), AUCs and probabilities; measured: ≤ 2e-7 (float32 rounding)
LOSSES = ["train_loss", "train_loss_cls", "train_loss_report"]


def _no_dropout(v: dict) -> dict:
    m = v["model"]
    m["fusion"]["dropout"] = m["head"]["dropout"] = 0.0
    # no BatchNorm (the conv stem's, z_norm): per-process statistics on CPU, where torch has no SyncBatchNorm
    m["image_encoder"]["z_norm"] = False
    m["image_encoder"]["kwargs"].pop("embed_layer", None)
    m["report_generator"]["config_overrides"].update(
        dropout=0.0, attention_dropout=0.0, activation_dropout=0.0
    )
    m["text_encoder"]["config_overrides"].update(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    return v


def _train(paths: dict, out: Path, devices: int) -> tuple[dict, pd.DataFrame, pd.DataFrame]:
    cfg = toy_config(load_config(ROOT / "config" / "config.yaml"))
    v = _no_dropout(variant_config(cfg, "radgen"))
    v["training"].update(epochs=2, devices=devices, augment=True)
    kw = {k: paths[k] for k in ("manifest", "folds", "cache", "cache_index")}
    summary = train_fold(v, **kw, fold=0, output_dir=out, image_size=32, threads=1, progress=False)
    preds = predict_fold(out, **kw, fold=0, device="cpu", threads=1)
    return summary, pd.read_csv(out / "train_log.csv"), preds


@pytest.mark.slow
def test_two_gloo_processes_equal_one_process(tmp_path):
    paths = make_toy_dataset(tmp_path / "data", n=60)
    one, log1, pred1 = _train(paths, tmp_path / "one", 1)
    two, log2, pred2 = _train(paths, tmp_path / "two", 2)
    assert two["epochs_run"] == one["epochs_run"] == 2 and two["n_train"] == one["n_train"]
    assert not list(tmp_path.glob(".two.ddp-*")), "the launcher's spec directory is left behind"
    for col in LOSSES:
        assert np.allclose(log2[col], log1[col], rtol=0, atol=TOLERANCE), (col, log1[col], log2[col])
    assert np.allclose(log2["val_macro_auc"], log1["val_macro_auc"], rtol=0, atol=TOLERANCE)
    p = ["p_normal", "p_pneumonia", "p_tb"]
    assert (pred2["image_id"] == pred1["image_id"]).all()
    diff = np.abs(pred2[p].to_numpy() - pred1[p].to_numpy()).max()
    assert diff <= TOLERANCE, diff
    print(
        json.dumps(
            {
                "max_prob_diff": float(diff),
                "max_loss_diff": float(np.abs(log2[LOSSES] - log1[LOSSES]).max().max()),
            }
        )
    )
