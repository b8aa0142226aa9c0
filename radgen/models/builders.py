"""Builders: a RadGenConfig (or a variant's model block) -> RadGenModel, one short builder per part.

One builder serves every variant: a variant is a model config, never a code fork. Missing parts (image_encoder
null, report_generator/text_encoder disabled) are left out, so an ablation really has no such parameters.
Parts are created in a fixed order (image encoder, generator, text encoder, then the model's projection, fusion and
tagger): the order random weights are drawn in, so a seed gives the same model as checkpoint format 1 did.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch.nn as nn
from transformers import AutoConfig, AutoModel, AutoTokenizer, BartConfig, BartForConditionalGeneration

from radgen.models.configuration import RadGenConfig
from radgen.models.image_encoder import ImageEncoder
from radgen.models.pretrained import hf_from_pretrained, timm_weights_file
from radgen.models.processing import RadGenProcessor
from radgen.models.radgen_model import RadGenModel
from radgen.models.report_generator import ReportGenerator
from radgen.models.text_encoder import TextEncoder
from radgen.models.tokenization import TAG_TOKENS, train_report_tokenizer, train_text_tokenizer
from radgen.pretrained_fetch import DEFAULT_NAMES
from radgen.variants import generates_reports, reads_text


@dataclass
class BuildContext:
    """What the part builders share: tokenizers given or trained, saved sub-configs, local weight sources."""

    train_reports: Sequence[str] | None
    tokenizers: dict[str, Any]
    hf_configs: dict[str, dict[str, Any]] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    loading: bool = False  # rebuilding a saved model: architecture only, its weights come from the checkpoint

    def tokenizer(self, key: str, block: dict[str, Any], train: Any, **kwargs: Any) -> Any:
        """The given tokenizer, or one trained on the fold's training reports (None for a hub model's own)."""
        tok = self.tokenizers.get(key)
        if tok is not None or block.get("pretrained", False):
            return tok
        if not self.train_reports:
            raise ValueError(f"training reports are needed to build the {key} tokenizer")
        return train(self.train_reports, int(block.get("vocab_size", 1000)), **kwargs)


def _from_hub(model_cls: Any, name: str, what: str, tokenizer: Any) -> tuple[Any, Any]:
    """A pretrained transformers model and its tokenizer (unless one is given), from the hub or a local dir."""
    key = f"model.{what.replace(' ', '_')}.name"
    model = hf_from_pretrained(model_cls, name, what=what, config_key=key)
    tok = tokenizer or hf_from_pretrained(AutoTokenizer, name, what=f"{what} tokenizer", config_key=key)
    return model, tok


def _bart(
    gen_cfg: dict[str, Any],
    tokenizer: Any,
    hf_config: dict[str, Any] | None,
    load_weights: bool,
    source: str | None = None,
) -> tuple[BartForConditionalGeneration, Any]:
    name = source or gen_cfg.get("name", DEFAULT_NAMES["report_generator"])
    if hf_config is not None:
        return BartForConditionalGeneration(BartConfig.from_dict(hf_config)), tokenizer
    if load_weights and gen_cfg.get("pretrained", False):
        return _from_hub(BartForConditionalGeneration, name, "report generator", tokenizer)
    if tokenizer is None:
        raise ValueError("a randomly initialised report generator needs a tokenizer (pass train_reports)")
    overrides = dict(gen_cfg.get("config_overrides") or {})
    overrides.pop("model_type", None)
    config = BartConfig(
        vocab_size=len(tokenizer),
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.eos_token_id,
        forced_bos_token_id=tokenizer.bos_token_id,
        **overrides,
    )
    return BartForConditionalGeneration(config), tokenizer


def _text_model(
    txt_cfg: dict[str, Any],
    tokenizer: Any,
    hf_config: dict[str, Any] | None,
    load_weights: bool,
    source: str | None = None,
) -> tuple[nn.Module, Any]:
    name = source or txt_cfg.get("name", DEFAULT_NAMES["text_encoder"])
    if hf_config is not None:
        hf = dict(hf_config)
        return AutoModel.from_config(AutoConfig.for_model(hf.pop("model_type"), **hf)), tokenizer
    if load_weights and txt_cfg.get("pretrained", False):
        return _from_hub(AutoModel, name, "text encoder", tokenizer)
    if tokenizer is None:
        raise ValueError("a randomly initialised text encoder needs a tokenizer (pass train_reports)")
    overrides = dict(txt_cfg.get("config_overrides") or {})
    model_type = overrides.pop("model_type", "bert")
    config = AutoConfig.for_model(
        model_type, vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id, **overrides
    )
    return AutoModel.from_config(config), tokenizer


def build_image_encoder(config: RadGenConfig, ctx: BuildContext) -> ImageEncoder | None:
    """A timm backbone (None for a text-only model); local weights via `pretrained_cfg_overlay` when given."""
    img_cfg = config.image_encoder
    if img_cfg is None:
        return None
    kwargs = dict(img_cfg.get("kwargs") or {})
    if (
        "image_encoder" in ctx.sources and not ctx.loading
    ):  # timm reads the local file instead of its hub entry
        overlay = dict(kwargs.get("pretrained_cfg_overlay") or {})
        kwargs["pretrained_cfg_overlay"] = {
            **overlay,
            "file": timm_weights_file(ctx.sources["image_encoder"]),
        }
    return ImageEncoder(
        img_cfg["name"],
        config.embed_dim,
        config.image_size,
        pretrained=bool(img_cfg.get("pretrained", False)),
        kwargs=kwargs,
        load_weights=not ctx.loading,
        z_norm=bool(img_cfg.get("z_norm", False)),
    )


def _tag_token_ids(
    gen_cfg: dict[str, Any], bart: BartForConditionalGeneration, tok: Any, ctx: BuildContext
) -> list[int]:
    """Vocabulary ids of the class control tokens; a hub tokenizer/model learns them first."""
    if not ctx.loading and gen_cfg.get("pretrained", False):
        tok.add_special_tokens({"additional_special_tokens": list(TAG_TOKENS)})
        bart.resize_token_embeddings(len(tok))
    ids = tok.convert_tokens_to_ids(list(TAG_TOKENS))
    if any(i is None or i == tok.unk_token_id for i in ids):
        raise ValueError(f"report tokenizer lacks the control tokens {TAG_TOKENS}")
    return ids


def build_report_generator(config: RadGenConfig, ctx: BuildContext) -> tuple[ReportGenerator | None, Any]:
    """Adapter + BART decoder and the report tokenizer, or (None, None) for a model that generates nothing."""
    if not generates_reports(config.model):
        return None, None
    gen_cfg = config.report_generator
    extra = TAG_TOKENS if config.tag_token else ()
    tok = ctx.tokenizer(
        "report", gen_cfg, train_report_tokenizer, max_length=config.report_max_length, extra_specials=extra
    )
    bart, tok = _bart(
        gen_cfg,
        tok,
        ctx.hf_configs.get("report_generator"),
        not ctx.loading,
        ctx.sources.get("report_generator"),
    )
    tag_ids = _tag_token_ids(gen_cfg, bart, tok, ctx) if config.tag_token else None
    generator = ReportGenerator(
        bart,
        config.embed_dim,
        tag_token_ids=tag_ids,
        token_positions=bool(gen_cfg.get("token_positions", False)),
    )
    return generator, tok


def build_text_encoder(config: RadGenConfig, ctx: BuildContext) -> tuple[TextEncoder | None, Any]:
    """A BERT-family encoder and its tokenizer, or (None, None) for a model without a text branch."""
    if not reads_text(config.model):
        return None, None
    txt_cfg = config.text_encoder
    tok = ctx.tokenizer("text", txt_cfg, train_text_tokenizer, max_length=config.text_max_length)
    model, tok = _text_model(
        txt_cfg, tok, ctx.hf_configs.get("text_encoder"), not ctx.loading, ctx.sources.get("text_encoder")
    )
    return TextEncoder(model), tok


def build_model(
    config: RadGenConfig | Mapping[str, Any],
    *,
    image_size: int | None = None,
    train_reports: Sequence[str] | None = None,
    tokenizers: dict[str, Any] | None = None,
    hf_configs: dict[str, dict[str, Any]] | None = None,
    metadata: dict[str, Any] | None = None,
    pretrained_sources: dict[str, str] | None = None,
    training: Mapping[str, Any] | None = None,
) -> RadGenModel:
    """Build the model a RadGenConfig (or a resolved variant's model block) describes.

    - A model block becomes RadGenConfig.from_blocks(block, training, image_size, metadata); `training` defaults
      to metadata["training"] (where training records its block) for the loss weights.
    - Pretrained parts come from `from_pretrained(name)` (hub id or local dir) / timm `pretrained=True`, or,
      when `pretrained_sources` ({part -> local path}, radgen.models.pretrained.resolve_sources) is given, from
      those local paths only (the workflow's fetch_pretrained output); the saved config keeps the names.
    - Random-init parts follow `config_overrides`; their tokenizers are trained on `train_reports`
      (the fold's training reports only) unless `tokenizers` ({"report", "text"}) are given.
    - `hf_configs` (from a saved checkpoint) rebuilds the exact architecture without any download.
    """
    if not isinstance(config, RadGenConfig):
        if image_size is None:
            raise ValueError("build_model needs image_size with a model block")
        training = training if training is not None else (metadata or {}).get("training")
        config = RadGenConfig.from_blocks(config, training, image_size, metadata)
    ctx = BuildContext(
        train_reports,
        dict(tokenizers or {}),
        dict(hf_configs or {}),
        dict(pretrained_sources or {}),
        loading=hf_configs is not None,
    )
    image_encoder = build_image_encoder(config, ctx)
    report_generator, report_tok = build_report_generator(config, ctx)
    text_encoder, text_tok = build_text_encoder(config, ctx)
    processor = RadGenProcessor(
        config.image_size, report_tok, text_tok, config.report_max_length, config.text_max_length
    )
    return RadGenModel(config, processor, image_encoder, report_generator, text_encoder)
