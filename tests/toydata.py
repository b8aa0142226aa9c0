"""Tiny, instantly generated fold data (manifest, folds, cache) for tests and smoke runs of the engine.

Not the paper's synthetic chest X-rays (radgen.data.synthetic): just class-dependent blobs with matching
one-line reports, so that a few epochs of a tiny model learn something measurable in seconds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from radgen.constants import CLASSES

_REPORTS = {
    "normal": [
        "No acute cardiopulmonary abnormality. Lungs are clear.",
        "Clear lungs. No consolidation or effusion.",
    ],
    "pneumonia": [
        "Patchy consolidation in the {side} lower zone, consistent with pneumonia.",
        "{Side} lower lobe airspace consolidation. Pneumonia.",
    ],
    "tb": [
        "Nodules and a cavity in the {side} upper zone, suggesting tuberculosis.",
        "{Side} apical cavitation with fibrosis, in keeping with TB.",
    ],
}


def make_toy_dataset(
    directory: str | Path,
    n: int = 60,
    size: int = 32,
    k: int = 3,
    seed: int = 0,
    counts: tuple[int, int, int] | None = None,
) -> dict[str, Path]:
    """Write manifest.csv, folds.csv, cache.npy, cache_index.csv into `directory`; return their paths."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    if counts is None:
        counts = (n // 4, n // 2, n - n // 4 - n // 2)
    labels = [c for c, m in zip(CLASSES, counts, strict=True) for _ in range(m)]
    yy, xx = np.mgrid[0:size, 0:size] / size
    images, rows = [], []
    for i, label in enumerate(labels):
        img = 0.35 + 0.08 * rng.standard_normal((size, size))
        side = rng.choice(["right", "left"])
        cx = 0.3 if side == "right" else 0.7  # radiological convention: patient's right on the image left
        if label == "pneumonia":
            img += 0.45 * np.exp(-((xx - cx) ** 2 + (yy - 0.7) ** 2) / 0.015)
        elif label == "tb":
            for _ in range(3):
                ox, oy = rng.uniform(-0.08, 0.08, 2)
                img += 0.5 * np.exp(-((xx - cx - ox) ** 2 + (yy - 0.25 - oy) ** 2) / 0.002)
        images.append(np.clip(img * 255, 0, 255).astype(np.uint8))
        template = _REPORTS[label][int(rng.integers(2))]
        rows.append(
            {
                "image_id": f"img{i:04d}",
                "path": f"images/img{i:04d}.png",
                "label": label,
                "patient_id": f"p{i:04d}",
                "report": template.format(side=side, Side=side.capitalize()),
            }
        )
    manifest = pd.DataFrame(rows)
    order = rng.permutation(len(manifest))
    folds = []
    for c in CLASSES:  # stratified: deal each class's images round-robin over folds, 1 in 5 to inner val
        ids = [i for i in order if manifest.label[i] == c]
        for j, i in enumerate(ids):
            folds.append(
                {
                    "image_id": manifest.image_id[i],
                    "fold": j % k,
                    "inner": "val" if (j // k) % 5 == 4 else "train",
                }
            )
    paths = {
        "manifest": d / "manifest.csv",
        "folds": d / "folds.csv",
        "cache": d / "cache.npy",
        "cache_index": d / "cache_index.csv",
    }
    manifest.to_csv(paths["manifest"], index=False)
    pd.DataFrame(folds).sort_values("image_id").to_csv(paths["folds"], index=False)
    np.save(paths["cache"], np.stack(images))
    pd.DataFrame({"image_id": manifest.image_id, "row": np.arange(len(manifest))}).to_csv(
        paths["cache_index"], index=False
    )
    return paths


def toy_config(config: dict) -> dict:
    """`config` with model/training shrunk for 32-px toy data (tests, smoke runs); variants are kept."""
    from radgen.config import deep_merge

    tiny_model = {
        "image_encoder": {
            "kwargs": {
                "embed_dim": 16,
                "depths": [1, 1],
                "num_heads": [2, 2],
                "window_size": 4,
                "patch_size": 4,
            }
        },
        "embed_dim": 32,
        "report_generator": {
            "config_overrides": {
                "d_model": 32,
                "decoder_layers": 1,
                "encoder_layers": 1,
                "decoder_attention_heads": 2,
                "encoder_attention_heads": 2,
                "decoder_ffn_dim": 64,
                "encoder_ffn_dim": 64,
                "max_position_embeddings": 64,
            },
            "max_length": 40,
            "vocab_size": 200,
        },
        "text_encoder": {
            "config_overrides": {
                "hidden_size": 32,
                "num_hidden_layers": 1,
                "num_attention_heads": 2,
                "intermediate_size": 64,
                "max_position_embeddings": 64,
            },
            "max_length": 40,
            "vocab_size": 200,
        },
        "fusion": {"num_heads": 2},
        "head": {"hidden": [16]},
    }
    tiny_training = {
        "epochs": 2,
        "batch_size": 8,
        "freeze_text_encoder_epochs": 1,
        "warmup_epochs": 0.5,
        "early_stopping_patience": 10,
        "device": "cpu",
    }
    out = dict(config)
    out["model"] = deep_merge(config["model"], tiny_model)
    out["training"] = deep_merge(config["training"], tiny_training)
    return out
