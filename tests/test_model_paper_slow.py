"""config/paper.yaml builds the full-size RadGen (random init) and takes one training step on CPU."""

from __future__ import annotations

import resource
import time
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from radgen.config import load_config, validate_config, variant_config
from radgen.models import build_model

ROOT = Path(__file__).resolve().parent.parent
REPORTS = [
    "FINDINGS: No focal consolidation. No pleural effusion. IMPRESSION: Normal chest radiograph.",
    "FINDINGS: Patchy consolidation in the right lower zone. IMPRESSION: Right lower zone pneumonia.",
    "FINDINGS: A thick-walled cavity in the left upper zone. IMPRESSION: Findings of pulmonary tuberculosis.",
]


@pytest.mark.slow
def test_paper_config_full_size_training_step() -> None:
    config = load_config(ROOT / "config" / "paper.yaml")
    validate_config(config, base_dir=ROOT)
    v = variant_config(config, "radgen")
    model_cfg, training = v["model"], v["training"]
    for part in ("image_encoder", "report_generator", "text_encoder"):
        model_cfg[part]["pretrained"] = False  # random init: no hub in tests
    size = int(config["data"]["image_size"])
    torch.manual_seed(0)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    t0 = time.time()
    model = build_model(model_cfg, image_size=size, train_reports=REPORTS * 4, training=training)
    build_s = time.time() - t0
    assert model.image_encoder.num_features == 1024  # Swin-B
    assert (
        model.report_generator.bart.config.d_model == 768
        and len(model.report_generator.bart.model.decoder.layers) == 6
    )
    assert model.text_encoder.hidden_size == 768 and model.text_encoder.model.config.num_hidden_layers == 12
    assert model.fusion.head.net[0].out_features == 256 and model.fusion.head.net[4].out_features == 128

    groups = model.parameter_groups()
    optimizer = torch.optim.AdamW(
        [{"params": p, "lr": training["lr"][g]} for g, p in groups.items()],
        weight_decay=training["weight_decay"],
    )
    batch = 2
    images = torch.rand(batch, 1, size, size)
    labels = torch.tensor([1, 2])
    text = model.processor.tokenize_text(REPORTS[1:3])
    report_labels = model.processor.tokenize_reports(REPORTS[1:3])
    before = {n: p.detach().clone() for n, p in model.named_parameters() if n.startswith("fusion.head.")}
    t1 = time.time()
    model.train()
    out = model(images=images, text=text, report_labels=report_labels, labels=labels)
    loss = out["loss"]  # the model's own: class CE + report_loss_weight · mean report loss
    expected = (
        F.cross_entropy(out["logits"], labels) + training["report_loss_weight"] * out["report_loss"].mean()
    )
    assert torch.allclose(loss, expected, atol=1e-5)
    optimizer.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), training["grad_clip"])
    optimizer.step()
    step_s = time.time() - t1
    assert torch.isfinite(loss)
    assert any(not torch.equal(before[n], p) for n, p in model.named_parameters() if n in before)
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    print(
        f"\nfull-size RadGen: {model.n_parameters() / 1e6:.1f} M parameters, build {build_s:.1f} s, "
        f"one step (batch {batch}, {size} px, CPU) {step_s:.1f} s, peak RSS {peak_gb:.1f} GB"
    )
