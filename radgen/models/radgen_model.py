"""RadGenModel: image → (generated report) → text states → fusion → class logits, by composition.

The model holds its parts (image encoder, report generator with its class conditioning, text encoder, one fusion
strategy from the registry), its RadGenConfig and its RadGenProcessor (tokenizers, image conversion; a plain
attribute, not a module). Build with radgen.models.build_model or load with `RadGenModel.from_pretrained(dir)`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from radgen.models.configuration import RadGenConfig
from radgen.models.fusion import build_fusion
from radgen.models.image_encoder import ImageEncoder
from radgen.models.losses import ShardNorm
from radgen.models.outputs import LossWeights, RadGenOutput, training_loss
from radgen.models.pretrained import configure_transformers_logging
from radgen.models.processing import RadGenProcessor
from radgen.models.report_generator import GeneratorOutput, ReportGenerator, Tagger
from radgen.models.text_encoder import TextEncoder

configure_transformers_logging()  # warnings stay visible (a checkpoint that did not load); progress bars go


def check_parts(fusion_type: str, has_image: bool, has_text: bool, has_generator: bool) -> None:
    """The combinations of parts a fusion strategy can work with (ValueError naming what to change)."""
    if not has_image and not has_text:
        raise ValueError("model needs an image encoder or an enabled text encoder")
    if has_generator and not has_image:
        raise ValueError("model.report_generator needs an image encoder (it decodes from image tokens)")
    both = has_image and has_text
    if fusion_type == "none" and both:
        raise ValueError(
            "fusion type 'none' uses one branch: disable model.text_encoder or set image_encoder null"
        )
    if fusion_type != "none" and not both:
        raise ValueError(f"fusion type {fusion_type!r} needs both an image encoder and a text encoder")


class RadGenModel(nn.Module):
    """Image → (generated report) → text states → fusion → 3 class logits."""

    def __init__(
        self,
        config: RadGenConfig,
        processor: RadGenProcessor,
        image_encoder: ImageEncoder | None,
        report_generator: ReportGenerator | None,
        text_encoder: TextEncoder | None,
    ) -> None:
        super().__init__()
        check_parts(
            config.fusion_type,
            image_encoder is not None,
            text_encoder is not None,
            report_generator is not None,
        )
        self.config = config
        self.processor = processor
        self.classes = config.classes
        self.image_encoder = image_encoder
        self.report_generator = report_generator
        self.text_encoder = text_encoder
        dim, n_classes = config.embed_dim, len(config.classes)
        self.text_proj = nn.Linear(text_encoder.hidden_size, dim) if text_encoder is not None else None
        self.fusion = build_fusion(config.fusion_type, dim, config.fusion, config.head, n_classes)
        # offsets added to the class logits at prediction time (never in training), set by the trainer to
        # log(natural prior / effective training prior) (radgen.train.priors): undoes the sampler + weighted-CE
        # double correction so that `predict` returns posteriors under the training part's class frequencies.
        # Late fusion: added to the final logits, i.e. the log of the averaged branch probabilities
        self.register_buffer("prior_logit_adjust", torch.zeros(n_classes))
        if report_generator is not None:
            report_generator.add_tagger(dim, n_classes)
        self.loss_weights = LossWeights(config.report_loss_weight, config.tag_loss_weight)

    # ----------------------------------------------------------------- parts
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
    def tagger(self) -> Tagger | None:
        """The report generator's image tagger (None without class-conditioned decoding)."""
        return self.report_generator.tagger if self.report_generator is not None else None

    @property
    def image_size(self) -> int:
        return self.config.image_size

    @property
    def metadata(self) -> dict[str, Any]:
        return self.config.metadata

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def n_parameters(self) -> int:
        """Distinct parameters (tied embeddings counted once)."""
        return sum(p.numel() for p in self.parameters())

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """Parameters per learning-rate group: image_encoder, report_generator (+adapter), text_encoder, fusion_head.

        The tagger is a classifier on z_img: it learns at the head's rate (fusion_head), as it always has.
        """
        groups: dict[str, list[nn.Parameter]] = {
            "image_encoder": [],
            "report_generator": [],
            "text_encoder": [],
            "fusion_head": [],
        }
        for name, p in self.named_parameters():
            top = name.split(".", 1)[0]
            key = top if top in ("image_encoder", "report_generator", "text_encoder") else "fusion_head"
            groups["fusion_head" if name.startswith("report_generator.tagger.") else key].append(p)
        return {k: v for k, v in groups.items() if v}

    # ----------------------------------------------------------------- forward
    def forward(
        self,
        images: torch.Tensor | None = None,
        text: dict[str, torch.Tensor] | None = None,
        report_labels: torch.Tensor | None = None,
        tag_targets: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        class_weight: torch.Tensor | None = None,
        shard: ShardNorm | None = None,
        image_features: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> RadGenOutput:
        """images float [B,1,S,S] in [0,1]; text from processor.tokenize_text; report_labels from
        processor.tokenize_reports; tag_targets [B] (training, optional): the class given to the generator instead
        of the tagger's choice, -1 = the tagger's ("tag forcing"). With `labels` [B] the output carries the loss
        (class_weight [C]: weights of the class cross-entropy; shard: this process's share of a global batch under
        DDP, radgen.models.losses); image_features: (z_img, tokens) of `images` already computed by
        `encode_images` (inference reuses those the generator read). Fields: RadGenOutput.
        """
        z_img = tokens = text_tokens = mask = None
        generated = GeneratorOutput()
        features = image_features if image_features is not None else self.encode_images(images)
        if features is not None:
            z_img, tokens = features
        if self.report_generator is not None:
            generated = self.report_generator.conditioned_loss(tokens, z_img, report_labels, tag_targets)
        if self.text_encoder is not None:
            text = _needed(text, "this model needs report text (generated, or from reports_from)")
            mask = text["attention_mask"]
            text_tokens = self.text_proj(self.text_encoder(text["input_ids"], mask))
        fused = self.fusion(z_img, text_tokens, mask)
        loss = loss_cls = loss_report = None
        if labels is not None:
            loss, loss_cls, loss_report = training_loss(
                self.fusion, fused, generated, labels, class_weight, self.loss_weights, shard
            )
        return RadGenOutput(
            loss=loss,
            loss_cls=loss_cls,
            loss_report=loss_report,
            logits=fused.logits,
            branch_logits=fused.branch_logits,
            gate=fused.gate,
            tag_logits=generated.tag_logits,
            report_loss=generated.report_loss,
        )

    # ----------------------------------------------------------------- inference
    def encode_images(self, images: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor] | None:
        """(z_img [B, D], image tokens [B, N, D]) of the image encoder; None for a model without one."""
        if self.image_encoder is None:
            return None
        return self.image_encoder(_needed(images, "this model needs images"))

    @torch.no_grad()
    def generate_reports(
        self,
        images: torch.Tensor | None,
        num_beams: int | None = None,
        image_features: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> list[str]:
        """Greedy/beam reports for a batch of images (the model's own generator, batched, key/value cached);
        `image_features` as in `forward`."""
        if self.report_generator is None:
            raise ValueError("this model has no report generator")
        z_img, tokens = image_features if image_features is not None else self.encode_images(images)
        ids = self.report_generator.generate(
            tokens,
            max_length=self.processor.report_max_length,
            num_beams=int(num_beams or self.config.num_beams),
            z_img=z_img,
        )
        return self.processor.decode_reports(ids)

    def _text_to_read(
        self, features: tuple[torch.Tensor, torch.Tensor] | None, reports: Sequence[str] | None, n: int
    ) -> list[str]:
        """The text the text branch reads: own generated reports, else the given ones ('' without a text branch)."""
        if self.report_generator is not None:
            return self.generate_reports(None, image_features=features)
        if self.text_encoder is None:
            return [""] * n
        if reports is None:
            raise ValueError(
                "this model has a text branch but no report generator: pass the reports it should read "
                f"(it was trained to read reports generated by {self.metadata.get('reports_from') or 'another model'})"
            )
        return [r if isinstance(r, str) else "" for r in reports]

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
            # eval mode: the features the generator reads are the ones the classifier reads; computed once
            features = self.encode_images(images)
            texts = self._text_to_read(features, reports, n)
            text_in = (
                self.processor.tokenize_text(texts, self.device) if self.text_encoder is not None else None
            )
            logits = self(text=text_in, image_features=features)["logits"].float() + self.prior_logit_adjust
            return F.softmax(logits, dim=-1), texts
        finally:
            self.train(was_training)

    # ----------------------------------------------------------------- persistence
    def hf_configs(self) -> dict[str, dict[str, Any]]:
        """The transformers sub-configs: rebuild the exact architecture without a download."""
        out = {}
        if self.report_generator is not None:
            out["report_generator"] = self.report_generator.bart.config.to_dict()
        if self.text_encoder is not None:
            out["text_encoder"] = self.text_encoder.model.config.to_dict()
        return out

    def save_pretrained(self, directory: str | Path) -> None:
        """config.json + model.safetensors + tokenizer dirs; JSON and safetensors only (no pickle)."""
        # persistence imports the builders, which import this module: imported at call time
        from radgen.models.persistence import save_directory

        save_directory(self, directory)

    @classmethod
    def from_pretrained(cls, directory: str | Path, map_location: str | torch.device = "cpu") -> RadGenModel:
        """Rebuild from config.json (no hub access) and load model.safetensors strictly; never unpickles.
        Directories of checkpoint format 1 load too (radgen.models.persistence)."""
        from radgen.models.persistence import load_directory

        return load_directory(directory, map_location)


def _needed(value: Any, message: str) -> Any:
    if value is None:
        raise ValueError(message)
    return value
