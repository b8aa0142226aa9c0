"""RadGen model modules: encoder shapes, conv stem, position codes, variant switches, save/load, tokenizers.

Fusion, gate, per-variant forward passes and pretrained loading are tested in test_model_architecture.py."""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import pytest
import torch
from toydata import toy_config

from radgen.config import load_config, variant_config
from radgen.models import (
    ConcatFusion,
    CrossAttentionFusion,
    ImageEncoder,
    IncompleteCheckpointError,
    RadGenModel,
    build_model,
    train_report_tokenizer,
    train_text_tokenizer,
)
from radgen.models.stems import ConvStemPatchEmbed

ROOT = Path(__file__).resolve().parent.parent
REPORTS = [
    "No acute cardiopulmonary abnormality. Lungs are clear.",
    "Patchy consolidation in the right lower zone, consistent with pneumonia.",
    "Nodules and a cavity in the left upper zone, suggesting tuberculosis.",
    "Left lower lobe airspace consolidation. Pneumonia.",
] * 3
SIZE = 32
B = 4


@pytest.fixture(scope="module")
def config() -> dict:
    return toy_config(load_config(ROOT / "config" / "config.yaml"))


def _model(config: dict, variant: str = "radgen", **model_over) -> RadGenModel:
    cfg = variant_config(config, variant)["model"]
    for key, value in model_over.items():
        cfg[key] = value
    torch.manual_seed(0)
    return build_model(cfg, image_size=SIZE, train_reports=REPORTS)


def _inputs(model: RadGenModel) -> dict:
    torch.manual_seed(1)
    return {
        "images": torch.rand(B, 1, SIZE, SIZE) if model.has_image else None,
        "text": model.tokenize_text(REPORTS[:B]) if model.has_text else None,
        "report_labels": model.tokenize_reports(REPORTS[:B]) if model.has_generator else None,
    }


# --------------------------------------------------------------------------- modules
@pytest.mark.parametrize(
    "name,kwargs",
    [
        (
            "swin_tiny_patch4_window7_224",
            {
                "embed_dim": 16,
                "depths": [1, 1],
                "num_heads": [2, 2],
                "window_size": 4,
                "patch_size": 4,
                "embed_layer": "conv_stem",
                "global_pool": "max",
            },
        ),
        (
            "swin_tiny_patch4_window7_224",
            {"embed_dim": 16, "depths": [1, 1], "num_heads": [2, 2], "window_size": 4, "patch_size": 4},
        ),
        ("densenet121", {"growth_rate": 4, "block_config": [1, 1, 1, 1]}),
    ],
)
def test_image_encoder_shapes(name: str, kwargs: dict) -> None:
    enc = ImageEncoder(name, 24, SIZE, kwargs=kwargs, z_norm=True)
    z, tokens = enc(torch.rand(B, 1, SIZE, SIZE))
    assert z.shape == (B, 24)
    assert tokens.ndim == 3 and tokens.shape[0] == B and tokens.shape[2] == 24


def test_image_encoder_accepts_rgb_input() -> None:
    enc = ImageEncoder("densenet121", 8, SIZE, kwargs={"growth_rate": 4, "block_config": [1, 1, 1, 1]})
    z, _ = enc(torch.rand(2, 3, SIZE, SIZE))  # only the first channel is read by a 1-channel encoder
    assert z.shape == (2, 8)


def test_conv_stem_is_a_patch_embed() -> None:
    stem = ConvStemPatchEmbed(img_size=32, patch_size=4, in_chans=1, embed_dim=16, output_fmt="NHWC")
    assert stem.grid_size == (8, 8)
    assert stem(torch.rand(2, 1, 32, 32)).shape == (2, 8, 8, 16)
    with pytest.raises(ValueError, match="power-of-two"):
        ConvStemPatchEmbed(img_size=30, patch_size=3)


def test_report_generator_and_text_encoder_shapes(config: dict) -> None:
    generator = variant_config(config, "radgen")["model"]["report_generator"]
    model = _model(config, report_generator={**generator, "tag_token": True})  # the class-token extension
    x = _inputs(model)
    z, tokens = model.image_encoder(x["images"])
    loss = model.report_generator(tokens, x["report_labels"], z, torch.tensor([0, 1, 2, 1]))
    assert loss.shape == (B,) and torch.isfinite(loss).all()
    ids = model.report_generator.generate(tokens, max_length=12, z_img=z, tags=torch.tensor([0, 1, 2, 1]))
    assert ids.shape[0] == B and ids.shape[1] <= 13
    assert ids[:, 2].tolist() == [model.report_generator.tag_token_ids[t] for t in (0, 1, 2, 1)]
    reports = model.generate_reports(x["images"])
    assert len(reports) == B and all(isinstance(r, str) for r in reports)
    h = model.text_encoder(x["text"]["input_ids"], x["text"]["attention_mask"])
    assert h.shape == (*x["text"]["input_ids"].shape, model.text_encoder.hidden_size)


def test_grid_positions_code_row_and_column() -> None:
    from radgen.models.report_generator import grid_positions

    codes = grid_positions(16, 8)  # a 4x4 grid: channels 0-3 code the row, 4-7 the column
    assert codes.shape == (16, 8)
    assert len({tuple(c.tolist()) for c in codes}) == 16  # every token has its own code
    assert torch.equal(codes[1, :4], codes[2, :4]) and not torch.equal(codes[1, 4:], codes[2, 4:])  # same row
    assert torch.equal(codes[1, 4:], codes[5, 4:]) and not torch.equal(
        codes[1, :4], codes[5, :4]
    )  # same column
    # hand-computed: token 5 is row 1, column 1; lowest frequency 1 rad per token
    assert torch.allclose(
        codes[5, [0, 2, 4, 6]],
        torch.tensor([1.0, 1.0, 1.0, 1.0]).sin() * torch.tensor([1.0, 0.0, 1.0, 0.0])
        + torch.tensor([1.0, 1.0, 1.0, 1.0]).cos() * torch.tensor([0.0, 1.0, 0.0, 1.0]),
    )
    assert grid_positions(5, 10).shape == (5, 10)  # not square, dim not a multiple of 4


def test_token_positions_reach_the_decoder_memory_only_when_switched_on(config: dict) -> None:
    """Without codes the decoder's memory is just the tokens permuted along with them (it cannot tell where
    anything is); with codes, permuted tokens give a different memory."""
    for positions in (False, True):
        gen_cfg = {
            **variant_config(config, "radgen")["model"]["report_generator"],
            "token_positions": positions,
        }
        model = _model(config, report_generator=gen_cfg).eval()
        assert model.report_generator.token_positions is positions
        z, tokens = model.image_encoder(_inputs(model)["images"])
        perm = torch.randperm(tokens.shape[1], generator=torch.Generator().manual_seed(0))
        with torch.no_grad():
            memory = model.report_generator.encoder_outputs(tokens, z).last_hidden_state
            permuted = model.report_generator.encoder_outputs(tokens[:, perm], z).last_hidden_state
        assert torch.equal(memory[:, 0], permuted[:, 0])  # the pooled z_img token has no place
        assert torch.allclose(memory[:, 1:][:, perm], permuted[:, 1:], atol=1e-6) is (not positions)


# --------------------------------------------------------------------------- variants
def _names(model: torch.nn.Module) -> set[str]:
    return {n for n, _ in model.named_parameters()}


def test_variant_switches_change_the_model(config: dict) -> None:
    radgen = _model(config, "radgen")
    assert isinstance(radgen.fusion, CrossAttentionFusion) and radgen.gate is not None
    assert radgen.report_generator is not None and any(n.startswith("gate.") for n in _names(radgen))

    no_gate = _model(config, "no_gating")
    assert no_gate.gate is None and not any(n.startswith("gate.") for n in _names(no_gate))

    concat = _model(config, "concat_fusion")
    assert isinstance(concat.fusion, ConcatFusion) and concat.gate is not None
    assert not any(
        isinstance(m, (CrossAttentionFusion, torch.nn.MultiheadAttention)) for m in concat.modules()
    )

    no_report = _model(config, "no_report_generation")
    assert no_report.report_generator is None and no_report.text_encoder is None
    assert not any("bart" in n for n in _names(no_report))
    out = no_report(**_inputs(no_report))
    assert out["report_loss"] is None and out["tag_logits"] is None

    early = _model(config, "early_fusion")
    assert early.head.net[0].in_features == 2 * config["model"]["embed_dim"] and early.gate is None

    late = _model(config, "late_fusion")
    out = late(**_inputs(late))
    assert late.text_head is not None and out["branch_logits"].shape == (2, B, 3)
    expected = torch.softmax(out["branch_logits"], -1).mean(0)
    assert torch.allclose(torch.softmax(out["logits"], -1), expected, atol=1e-6)

    report_only = _model(config, "report_only")
    assert report_only.image_encoder is None and report_only.report_generator is None

    densenet = _model(config, "densenet121")
    assert "densenet" in type(densenet.image_encoder.backbone).__name__.lower()


def test_invalid_combinations_are_rejected(config: dict) -> None:
    cfg = variant_config(config, "radgen")["model"]
    with pytest.raises(ValueError, match="fusion type 'none'"):
        build_model({**cfg, "fusion": {"type": "none"}}, image_size=SIZE, train_reports=REPORTS)
    with pytest.raises(ValueError, match="fusion.type"):
        build_model({**cfg, "fusion": {"type": "sum"}}, image_size=SIZE, train_reports=REPORTS)


# --------------------------------------------------------------------------- persistence
def test_save_load_round_trip(config: dict, tmp_path: Path) -> None:
    model = _model(config).eval()
    model.save_pretrained(tmp_path)
    assert {"config.json", "model.safetensors", "tokenizer_report", "tokenizer_text"} <= {
        p.name for p in tmp_path.iterdir()
    }
    cfg = json.loads((tmp_path / "config.json").read_text())
    assert cfg["classes"] == ["normal", "pneumonia", "tb"] and cfg["image_size"] == SIZE
    loaded = RadGenModel.from_pretrained(tmp_path)
    x = torch.rand(B, 1, SIZE, SIZE)
    p1, r1 = model.predict(x)
    p2, r2 = loaded.predict(x)
    assert torch.equal(p1, p2) and r1 == r2


def test_loading_never_unpickles(config: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _model(config).save_pretrained(tmp_path)

    def forbidden(*_a, **_k):  # noqa: ANN002, ANN003
        raise AssertionError("checkpoint loading must not unpickle")

    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(pickle, "loads", forbidden)
    monkeypatch.setattr(torch, "load", forbidden)
    RadGenModel.from_pretrained(tmp_path)
    assert (
        not list(tmp_path.rglob("*.bin"))
        and not list(tmp_path.rglob("*.pt"))
        and not list(tmp_path.rglob("*.pkl"))
    )


def test_incomplete_checkpoint_lists_missing_files(config: dict, tmp_path: Path) -> None:
    _model(config).save_pretrained(tmp_path)
    (tmp_path / "model.safetensors").unlink()
    shutil.rmtree(tmp_path / "tokenizer_text")
    with pytest.raises(IncompleteCheckpointError) as err:
        RadGenModel.from_pretrained(tmp_path)
    assert "model.safetensors" in str(err.value) and "tokenizer_text" in str(err.value)


def test_tokenizers_are_deterministic_and_fold_local() -> None:
    a = train_report_tokenizer(REPORTS, 200, 40)
    b = train_report_tokenizer(REPORTS, 200, 40)
    assert a.get_vocab() == b.get_vocab()
    assert (a.bos_token_id, a.pad_token_id, a.eos_token_id) == (0, 1, 2)
    assert "tuberculosis" in a.get_vocab() and "effusion" not in a.get_vocab()  # only the given reports
    t = train_text_tokenizer(REPORTS, 200, 40)
    assert t.decode(t(REPORTS[1])["input_ids"], skip_special_tokens=True).replace(" ,", ",") == REPORTS[1]
