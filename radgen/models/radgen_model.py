"""RadGenModel: composition of the modules + `build_model` + save_pretrained/from_pretrained.

One builder serves every variant: a variant is a model config, never a code fork. Missing parts
(image_encoder null, report_generator/text_encoder disabled, fusion none/early/late, gate false) simply
leave the corresponding module out, so an ablation really has no such parameters.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import load_model, save_model
from transformers import AutoConfig, AutoModel, AutoTokenizer, BartConfig, BartForConditionalGeneration

from radgen.constants import CLASSES
from radgen.models.fusion import ClassifierHead, ConcatFusion, CrossAttentionFusion, Gate, masked_mean
from radgen.models.image_encoder import ImageEncoder
from radgen.models.pretrained import configure_transformers_logging, hf_from_pretrained, timm_weights_file
from radgen.models.report_generator import ReportGenerator
from radgen.models.text_encoder import TextEncoder
from radgen.models.tokenization import (
    TAG_TOKENS,
    load_tokenizer,
    train_report_tokenizer,
    train_text_tokenizer,
)
from radgen.pretrained_fetch import DEFAULT_NAMES
from radgen.variants import generates_reports, reads_text

FORMAT = "radgen-checkpoint"
FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
REPORT_TOKENIZER_DIR = "tokenizer_report"
TEXT_TOKENIZER_DIR = "tokenizer_text"
# buffers a checkpoint written before they existed may lack; they load as their initial value (zeros = the old rule)
OPTIONAL_BUFFERS = frozenset({"prior_logit_adjust"})
FUSION_TYPES = ("cross_attention", "concat", "early", "late", "none")

configure_transformers_logging()  # warnings stay visible (a checkpoint that did not load); progress bars go


class CheckpointError(Exception):
    """A checkpoint directory that cannot be loaded; the message says which file and why."""


class IncompleteCheckpointError(CheckpointError, FileNotFoundError):
    """A checkpoint directory lacks files; the message lists every missing one."""


class CorruptCheckpointError(CheckpointError, ValueError):
    """A checkpoint file exists but cannot be read (truncated weights, invalid JSON, wrong tensors)."""


def clean_report_text(text: str) -> str:
    """Undo WordPiece spacing around punctuation ("FINDINGS : a thick - walled" -> "FINDINGS: a thick-walled")."""
    text = re.sub(r"\s+([.,;:!?%)])", r"\1", text)
    text = re.sub(r"([(])\s+", r"\1", text)
    text = re.sub(r"(\w)\s*-\s*(\w)", r"\1-\2", text)
    return re.sub(r"\s{2,}", " ", text).strip()


class RadGenModel(nn.Module):
    """Image → (generated report) → text states → fusion → 3 class logits.

    Use `build_model` (new model) or `RadGenModel.from_pretrained(dir)` (saved one).
    """

    def __init__(
        self,
        model_cfg: dict[str, Any],
        image_size: int,
        image_encoder: ImageEncoder | None,
        report_generator: ReportGenerator | None,
        text_encoder: TextEncoder | None,
        report_tokenizer: Any = None,
        text_tokenizer: Any = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.model_cfg = copy.deepcopy(model_cfg)
        self.image_size = int(image_size)
        self.metadata = dict(metadata or {})
        self.classes = CLASSES
        dim = int(model_cfg["embed_dim"])
        fusion_cfg = model_cfg.get("fusion") or {}
        head_cfg = model_cfg.get("head") or {}
        self.fusion_type = fusion_cfg.get("type", "cross_attention")
        if self.fusion_type not in FUSION_TYPES:
            raise ValueError(f"model.fusion.type must be one of {FUSION_TYPES}, got {self.fusion_type!r}")
        self.image_encoder = image_encoder
        self.report_generator = report_generator
        self.text_encoder = text_encoder
        self.report_tokenizer = report_tokenizer
        self.text_tokenizer = text_tokenizer
        if image_encoder is None and text_encoder is None:
            raise ValueError("model needs an image encoder or an enabled text encoder")
        if report_generator is not None and image_encoder is None:
            raise ValueError("model.report_generator needs an image encoder (it decodes from image tokens)")
        both = image_encoder is not None and text_encoder is not None
        if self.fusion_type == "none" and both:
            raise ValueError(
                "fusion type 'none' uses one branch: disable model.text_encoder or set image_encoder null"
            )
        if self.fusion_type != "none" and not both:
            raise ValueError(
                f"fusion type {self.fusion_type!r} needs both an image encoder and a text encoder"
            )

        self.text_proj = nn.Linear(text_encoder.hidden_size, dim) if text_encoder is not None else None
        self.fusion: nn.Module | None = None
        self.gate: Gate | None = None
        self.text_head: ClassifierHead | None = None
        hidden, dropout = list(head_cfg.get("hidden", [])), float(head_cfg.get("dropout", 0.0))
        head_in = dim
        if self.fusion_type == "cross_attention":
            self.fusion = CrossAttentionFusion(
                dim, int(fusion_cfg.get("num_heads", 4)), float(fusion_cfg.get("dropout", 0.1))
            )
        elif self.fusion_type == "concat":
            self.fusion = ConcatFusion(dim, float(fusion_cfg.get("dropout", 0.1)))
        elif self.fusion_type == "early":
            head_in = 2 * dim
        elif self.fusion_type == "late":
            self.text_head = ClassifierHead(dim, hidden, dropout, len(CLASSES))
        if self.fusion_type in ("cross_attention", "concat") and fusion_cfg.get("gate", True):
            self.gate = Gate(dim)
        self.head = ClassifierHead(head_in, hidden, dropout, len(CLASSES))
        # offsets added to the class logits at prediction time (never in training), set by the trainer to
        # log(natural prior / effective training prior) (radgen.train.priors): undoes the sampler + weighted-CE
        # double correction so that `predict` returns posteriors under the training part's class frequencies.
        # Late fusion: added to the final logits, i.e. the log of the averaged branch probabilities
        self.register_buffer("prior_logit_adjust", torch.zeros(len(CLASSES)))
        # image tagger: a linear classifier on z_img whose (detached) probabilities condition the report generator
        self.tagger = (
            nn.Linear(dim, len(CLASSES))
            if report_generator is not None and report_generator.tag_token_ids is not None
            else None
        )
        # offsets added to the tagger's logits before the tag is chosen, set by the trainer from
        # training.tag_prior (radgen.train.engine.tag_logit_adjustment): zero for a balanced decision after
        # class-balanced batches; log(natural prior / batch prior) for a decision under the real frequencies
        if self.tagger is not None:
            self.register_buffer("tag_logit_adjust", torch.zeros(len(CLASSES)))

    # ----------------------------------------------------------------- properties
    @property
    def has_image(self) -> bool:
        return self.image_encoder is not None

    @property
    def has_generator(self) -> bool:
        return self.report_generator is not None

    @property
    def has_text(self) -> bool:
        return self.text_encoder is not None

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def n_parameters(self) -> int:
        """Distinct parameters (tied embeddings counted once)."""
        return sum(p.numel() for p in self.parameters())

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """Parameters per learning-rate group: image_encoder, report_generator (+adapter), text_encoder, fusion_head."""
        groups: dict[str, list[nn.Parameter]] = {
            "image_encoder": [],
            "report_generator": [],
            "text_encoder": [],
            "fusion_head": [],
        }
        for name, p in self.named_parameters():
            top = name.split(".", 1)[0]
            key = top if top in ("image_encoder", "report_generator", "text_encoder") else "fusion_head"
            groups[key].append(p)
        return {k: v for k, v in groups.items() if v}

    # ----------------------------------------------------------------- text helpers
    @property
    def report_max_length(self) -> int:
        return int(self.model_cfg["report_generator"].get("max_length", 64))

    @property
    def text_max_length(self) -> int:
        return int(self.model_cfg["text_encoder"].get("max_length", 128))

    def tokenize_text(
        self, reports: Sequence[str], device: torch.device | None = None
    ) -> dict[str, torch.Tensor]:
        """Reports → text-encoder inputs (input_ids, attention_mask)."""
        enc = self.text_tokenizer(
            [r or "" for r in reports],
            padding=True,
            truncation=True,
            max_length=self.text_max_length,
            return_tensors="pt",
        )
        device = device or self.device
        return {"input_ids": enc["input_ids"].to(device), "attention_mask": enc["attention_mask"].to(device)}

    def tokenize_reports(self, reports: Sequence[str], device: torch.device | None = None) -> torch.Tensor:
        """Reference reports → decoder labels (padding = -100); one slot is left for the decoder start token."""
        enc = self.report_tokenizer(
            [r or "" for r in reports],
            padding=True,
            truncation=True,
            max_length=self.report_max_length - 1,
            return_tensors="pt",
        )
        labels = enc["input_ids"].masked_fill(enc["attention_mask"] == 0, -100)
        return labels.to(device or self.device)

    # ----------------------------------------------------------------- forward
    def forward(
        self,
        images: torch.Tensor | None = None,
        text: dict[str, torch.Tensor] | None = None,
        report_labels: torch.Tensor | None = None,
        tag_targets: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor | None]:
        """images float [B,1,S,S] in [0,1]; text from tokenize_text; report_labels from tokenize_reports.

        tag_targets (training only, optional): [B] class indices given to the generator as its control token
        instead of the tagger's most likely class ("tag forcing"); -1 = use the tagger's.

        Returns logits [B,3] (for late fusion: log of the averaged branch probabilities), branch_logits
        [n_branches,B,3] (late fusion only), gate [B,E] (None without gate), report_loss [B] (per-report mean
        token cross-entropy; None unless labels), tag_logits [B,3] (the image tagger; None without it).
        """
        out: dict[str, torch.Tensor | None] = {
            "branch_logits": None,
            "gate": None,
            "report_loss": None,
            "tag_logits": None,
        }
        z_img = tokens = None
        if self.image_encoder is not None:
            if images is None:
                raise ValueError("this model needs images")
            z_img, tokens = self.image_encoder(images)
            tags = None
            if self.tagger is not None:
                out["tag_logits"] = self.tagger(z_img)
                tags = self.tags_from_logits(out["tag_logits"])
                if tag_targets is not None:
                    tags = torch.where(tag_targets >= 0, tag_targets, tags)
            if self.report_generator is not None and report_labels is not None:
                out["report_loss"] = self.report_generator(tokens, report_labels, z_img, tags)
        t_tok = t_pool = mask = None
        if self.text_encoder is not None:
            if text is None:
                raise ValueError("this model needs report text (generated, or from reports_from)")
            mask = text["attention_mask"]
            t_tok = self.text_proj(self.text_encoder(text["input_ids"], mask))
            t_pool = masked_mean(t_tok, mask)

        if self.fusion_type == "none":
            out["logits"] = self.head(z_img if z_img is not None else t_pool)
        elif self.fusion_type == "early":
            out["logits"] = self.head(torch.cat([z_img, t_pool], dim=-1))
        elif self.fusion_type == "late":
            branches = torch.stack([self.head(z_img), self.text_head(t_pool)])
            out["branch_logits"] = branches
            out["logits"] = torch.logsumexp(F.log_softmax(branches.float(), dim=-1), dim=0) - torch.log(
                torch.tensor(2.0, device=branches.device)
            )
        else:
            if self.fusion_type == "cross_attention":
                z_text = self.fusion(z_img, t_tok, mask)
            else:
                z_text = self.fusion(z_img, t_pool)
            if self.gate is not None:
                z, g = self.gate(z_img, t_pool, z_text)
                out["gate"] = g
            else:  # no gating: the fusion output (which carries z_img through its residual/concat) is used directly
                z = z_text
            out["logits"] = self.head(z)
        return out

    def tags_from_logits(self, tag_logits: torch.Tensor) -> torch.Tensor:
        """The class the generator is told: argmax of the prior-adjusted tagger logits (detached)."""
        return (tag_logits.detach().float() + self.tag_logit_adjust).argmax(-1)

    # ----------------------------------------------------------------- inference
    @torch.no_grad()
    def generate_reports(self, images: torch.Tensor, num_beams: int | None = None) -> list[str]:
        """Greedy/beam reports for a batch of images (the model's own generator)."""
        if self.report_generator is None:
            raise ValueError("this model has no report generator")
        z_img, tokens = self.image_encoder(images)
        tags = self.tags_from_logits(self.tagger(z_img)) if self.tagger is not None else None
        nb = int(num_beams or self.model_cfg["report_generator"].get("num_beams", 1))
        ids = self.report_generator.generate(
            tokens, max_length=self.report_max_length, num_beams=nb, z_img=z_img, tags=tags
        )
        return [
            clean_report_text(t) for t in self.report_tokenizer.batch_decode(ids, skip_special_tokens=True)
        ]

    @torch.no_grad()
    def predict(
        self, images: torch.Tensor | None, reports: Sequence[str] | None = None
    ) -> tuple[torch.Tensor, list[str]]:
        """Class probabilities [B,3] and the report text the text branch read ('' for image-only models).

        The probabilities are softmax(logits + prior_logit_adjust): posteriors under the natural class prior,
        so that their argmax is the Bayes decision (zero offsets for a model trained without class weighting).
        With a generator the text branch reads ONLY the generated reports; `reports` is for models without
        one (report_only, early/late fusion read another variant's generated reports).
        """
        was_training = self.training
        self.eval()
        try:
            n = images.shape[0] if images is not None else len(reports or [])
            text_in: dict[str, torch.Tensor] | None = None
            texts: list[str] = [""] * n
            if self.report_generator is not None:
                texts = self.generate_reports(images)
            elif self.text_encoder is not None:
                if reports is None:
                    raise ValueError(
                        "this model has a text branch but no report generator: pass the reports it should read "
                        f"(it was trained to read reports generated by {self.metadata.get('reports_from') or 'another model'})"
                    )
                texts = [r if isinstance(r, str) else "" for r in reports]
            if self.text_encoder is not None:
                text_in = self.tokenize_text(texts)
            logits = self(images=images, text=text_in)["logits"].float() + self.prior_logit_adjust
            return F.softmax(logits, dim=-1), texts
        finally:
            self.train(was_training)

    # ----------------------------------------------------------------- persistence
    def hf_configs(self) -> dict[str, dict[str, Any]]:
        out = {}
        if self.report_generator is not None:
            out["report_generator"] = self.report_generator.bart.config.to_dict()
        if self.text_encoder is not None:
            out["text_encoder"] = self.text_encoder.model.config.to_dict()
        return out

    def config_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "classes": list(self.classes),
            "image_size": self.image_size,
            "model": self.model_cfg,
            "hf_configs": self.hf_configs(),
            "metadata": self.metadata,
        }

    def save_pretrained(self, directory: str | Path) -> None:
        """config.json + model.safetensors + tokenizer dirs; JSON and safetensors only (no pickle)."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        (d / CONFIG_FILE).write_text(json.dumps(self.config_dict(), indent=2, default=str))
        save_model(self, str(d / WEIGHTS_FILE), metadata={"format": "pt"})
        if self.report_tokenizer is not None:
            self.report_tokenizer.save_pretrained(str(d / REPORT_TOKENIZER_DIR))
        if self.text_tokenizer is not None:
            self.text_tokenizer.save_pretrained(str(d / TEXT_TOKENIZER_DIR))

    @staticmethod
    def required_files(directory: str | Path) -> list[str]:
        """Files a complete checkpoint must hold (tokenizer dirs depend on its config)."""
        d = Path(directory)
        files = [CONFIG_FILE, WEIGHTS_FILE]
        try:
            cfg = json.loads((d / CONFIG_FILE).read_text())["model"]
        except (OSError, ValueError, KeyError, TypeError):
            return files
        tokenizer_files = ("tokenizer_config.json", "tokenizer.json")
        if generates_reports(cfg):
            files += [f"{REPORT_TOKENIZER_DIR}/{f}" for f in tokenizer_files]
        if reads_text(cfg):
            files += [f"{TEXT_TOKENIZER_DIR}/{f}" for f in tokenizer_files]
        return files

    @classmethod
    def check_checkpoint(cls, directory: str | Path) -> dict[str, Any]:
        """Return the parsed config.json; raise IncompleteCheckpointError listing every missing file, or
        CorruptCheckpointError for a config.json that is not a RadGen checkpoint config."""
        d = Path(directory)
        if not d.is_dir():
            raise IncompleteCheckpointError(f"checkpoint directory {d} does not exist")
        missing = [f for f in cls.required_files(d) if not (d / f).is_file()]
        if missing:
            raise IncompleteCheckpointError(
                f"checkpoint directory {d} is incomplete; missing: {', '.join(missing)}"
            )
        try:
            cfg = json.loads((d / CONFIG_FILE).read_text())
        except (OSError, ValueError) as err:
            raise CorruptCheckpointError(f"{d / CONFIG_FILE} is not valid JSON ({err})") from None
        if (
            not isinstance(cfg, dict)
            or cfg.get("format") != FORMAT
            or not {"model", "image_size"} <= set(cfg)
        ):
            raise CorruptCheckpointError(f"{d / CONFIG_FILE} is not a RadGen checkpoint config")
        return cfg

    @classmethod
    def from_pretrained(cls, directory: str | Path, map_location: str | torch.device = "cpu") -> RadGenModel:
        """Rebuild from config.json (no hub access) and load model.safetensors strictly; never unpickles.

        Strict except for OPTIONAL_BUFFERS: a checkpoint saved before `prior_logit_adjust` existed loads with
        zero offsets, i.e. with exactly the probabilities it produced then (no format bump needed).
        """
        d = Path(directory)
        cfg = cls.check_checkpoint(d)
        tokenizers = {}
        for key, sub in (("report", REPORT_TOKENIZER_DIR), ("text", TEXT_TOKENIZER_DIR)):
            if (d / sub).is_dir():
                try:
                    tokenizers[key] = load_tokenizer(d / sub)
                except Exception as err:  # noqa: BLE001 - tokenizers raise many types for broken files
                    raise CorruptCheckpointError(
                        f"{d / sub} cannot be loaded as a tokenizer ({err})"
                    ) from None
        model = build_model(
            cfg["model"],
            image_size=cfg["image_size"],
            tokenizers=tokenizers,
            hf_configs=cfg.get("hf_configs") or {},
            metadata=cfg.get("metadata"),
        )
        try:
            missing, unexpected = load_model(
                model, str(d / WEIGHTS_FILE), strict=False, device=str(map_location)
            )
            missing = sorted(set(missing) - OPTIONAL_BUFFERS)
            if missing or unexpected:
                raise RuntimeError(
                    f"missing tensors {missing[:5]}, unexpected tensors {sorted(unexpected)[:5]}"
                )
        except Exception as err:  # noqa: BLE001 - safetensors/torch errors for truncated or mismatched files
            raise CorruptCheckpointError(
                f"{d / WEIGHTS_FILE} cannot be loaded into the model of {d / CONFIG_FILE} "
                f"({type(err).__name__}: {str(err)[:300]})"
            ) from None
        model.to(map_location)
        model.eval()
        return model


# --------------------------------------------------------------------------- builders
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
        model = hf_from_pretrained(
            BartForConditionalGeneration,
            name,
            what="report generator",
            config_key="model.report_generator.name",
        )
        tok = tokenizer or hf_from_pretrained(
            AutoTokenizer, name, what="report generator tokenizer", config_key="model.report_generator.name"
        )
        return model, tok
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
        model = hf_from_pretrained(AutoModel, name, what="text encoder", config_key="model.text_encoder.name")
        tok = tokenizer or hf_from_pretrained(
            AutoTokenizer, name, what="text encoder tokenizer", config_key="model.text_encoder.name"
        )
        return model, tok
    if tokenizer is None:
        raise ValueError("a randomly initialised text encoder needs a tokenizer (pass train_reports)")
    overrides = dict(txt_cfg.get("config_overrides") or {})
    model_type = overrides.pop("model_type", "bert")
    config = AutoConfig.for_model(
        model_type, vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id, **overrides
    )
    return AutoModel.from_config(config), tokenizer


def build_model(
    model_cfg: dict[str, Any],
    *,
    image_size: int,
    train_reports: Sequence[str] | None = None,
    tokenizers: dict[str, Any] | None = None,
    hf_configs: dict[str, dict[str, Any]] | None = None,
    metadata: dict[str, Any] | None = None,
    pretrained_sources: dict[str, str] | None = None,
) -> RadGenModel:
    """Build the model a (resolved variant) model config describes.

    - Pretrained parts come from `from_pretrained(name)` (hub id or local dir) / timm `pretrained=True`, or,
      when `pretrained_sources` ({part -> local path}, radgen.models.pretrained.resolve_sources) is given, from
      those local paths only (the workflow's fetch_pretrained output); the saved config keeps the names.
    - Random-init parts follow `config_overrides`; their tokenizers are trained on `train_reports`
      (the fold's training reports only) unless `tokenizers` ({"report", "text"}) are given.
    - `hf_configs` (from a saved checkpoint) rebuilds the exact architecture without any download.
    """
    tokenizers = dict(tokenizers or {})
    sources = dict(pretrained_sources or {})
    loading = hf_configs is not None
    hf_configs = hf_configs or {}
    dim = int(model_cfg["embed_dim"])
    img_cfg = model_cfg.get("image_encoder")
    image_encoder = None
    if img_cfg is not None:
        img_kwargs = dict(img_cfg.get("kwargs") or {})
        if "image_encoder" in sources and not loading:  # timm reads the local file instead of its hub entry
            overlay = dict(img_kwargs.get("pretrained_cfg_overlay") or {})
            img_kwargs["pretrained_cfg_overlay"] = {
                **overlay,
                "file": timm_weights_file(sources["image_encoder"]),
            }
        image_encoder = ImageEncoder(
            img_cfg["name"],
            dim,
            image_size,
            pretrained=bool(img_cfg.get("pretrained", False)),
            kwargs=img_kwargs,
            load_weights=not loading,
            z_norm=bool(img_cfg.get("z_norm", False)),
        )

    report_generator, report_tok = None, None
    gen_cfg = model_cfg.get("report_generator") or {}
    if generates_reports(model_cfg):
        tok = tokenizers.get("report")
        if tok is None and not gen_cfg.get("pretrained", False):
            if not train_reports:
                raise ValueError("training reports are needed to build the report generator's tokenizer")
            tok = train_report_tokenizer(
                train_reports,
                int(gen_cfg.get("vocab_size", 1000)),
                int(gen_cfg.get("max_length", 64)),
                extra_specials=TAG_TOKENS if gen_cfg.get("tag_token", False) else (),
            )
        bart, report_tok = _bart(
            gen_cfg, tok, hf_configs.get("report_generator"), not loading, sources.get("report_generator")
        )
        tag_ids = None
        if gen_cfg.get("tag_token", False):
            if not loading and gen_cfg.get(
                "pretrained", False
            ):  # a hub tokenizer/model learns the control tokens
                report_tok.add_special_tokens({"additional_special_tokens": list(TAG_TOKENS)})
                bart.resize_token_embeddings(len(report_tok))
            tag_ids = report_tok.convert_tokens_to_ids(list(TAG_TOKENS))
            if any(i is None or i == report_tok.unk_token_id for i in tag_ids):
                raise ValueError(f"report tokenizer lacks the control tokens {TAG_TOKENS}")
        report_generator = ReportGenerator(
            bart, dim, tag_token_ids=tag_ids, token_positions=bool(gen_cfg.get("token_positions", False))
        )

    text_encoder, text_tok = None, None
    txt_cfg = model_cfg.get("text_encoder") or {}
    if reads_text(model_cfg):
        tok = tokenizers.get("text")
        if tok is None and not txt_cfg.get("pretrained", False):
            if not train_reports:
                raise ValueError("training reports are needed to build the text encoder's tokenizer")
            tok = train_text_tokenizer(
                train_reports, int(txt_cfg.get("vocab_size", 1000)), int(txt_cfg.get("max_length", 128))
            )
        model, text_tok = _text_model(
            txt_cfg, tok, hf_configs.get("text_encoder"), not loading, sources.get("text_encoder")
        )
        text_encoder = TextEncoder(model)

    return RadGenModel(
        model_cfg,
        image_size,
        image_encoder,
        report_generator,
        text_encoder,
        report_tokenizer=report_tok,
        text_tokenizer=text_tok,
        metadata=metadata,
    )
