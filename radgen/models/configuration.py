"""RadGenConfig: what a RadGen model is, as plain data (the variant's model block + the loss weights).

Configuration apart from modeling, as in transformers: the config is built once from the variant spec
(radgen.variants), validated here, saved as the checkpoint's config.json and read back without building anything.
Modules read their settings from it; nothing else re-reads raw config dictionaries.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from radgen.constants import CLASSES

FORMAT = "radgen-checkpoint"
# 1: flat modules (fusion/gate/head/tagger at the top); 2: fusion and tagger composed (radgen.models.persistence
# renames version-1 tensors on load)
FORMAT_VERSION = 2


@dataclass
class RadGenConfig:
    """The model block of a resolved variant, the image side and the training loss weights.

    report_loss_weight / tag_loss_weight come from the variant's training block (same keys and defaults as
    training reads them): the model computes its own loss, so it carries the weights of its terms.
    """

    model: dict[str, Any]
    image_size: int
    report_loss_weight: float = 0.0
    tag_loss_weight: float = 1.0
    metadata: dict[str, Any] = field(default_factory=dict)
    classes: tuple[str, ...] = CLASSES

    def __post_init__(self) -> None:
        self.model = copy.deepcopy(dict(self.model))
        self.image_size = int(self.image_size)
        self.metadata = dict(self.metadata or {})

    # ----------------------------------------------------------------- construction
    @classmethod
    def from_blocks(
        cls,
        model: Mapping[str, Any],
        training: Mapping[str, Any] | None,
        image_size: int,
        metadata: Mapping[str, Any] | None = None,
    ) -> RadGenConfig:
        """From a variant's model and training blocks (VariantSpec.model / .training)."""
        training = training or {}
        return cls(
            model=dict(model),
            image_size=image_size,
            report_loss_weight=float(training.get("report_loss_weight", 0.0)),
            tag_loss_weight=float(training.get("tag_loss_weight", 1.0)),
            metadata=dict(metadata or {}),
        )

    @classmethod
    def from_variant(
        cls, spec: Any, image_size: int, metadata: Mapping[str, Any] | None = None
    ) -> RadGenConfig:
        """From a VariantSpec (or its train_params() dict: {"model": ..., "training": ...})."""
        model = spec["model"] if isinstance(spec, Mapping) else spec.model
        training = spec["training"] if isinstance(spec, Mapping) else spec.training
        return cls.from_blocks(model, training, image_size, metadata)

    def to_dict(self, hf_configs: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """config.json content; `hf_configs` are the transformers sub-configs (exact architecture, no download)."""
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "classes": list(self.classes),
            "image_size": self.image_size,
            "model": self.model,
            "loss": {"report_loss_weight": self.report_loss_weight, "tag_loss_weight": self.tag_loss_weight},
            "hf_configs": dict(hf_configs or {}),
            "metadata": self.metadata,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RadGenConfig:
        """Read config.json; a version-1 file has no "loss" block: the weights come from its stored training block."""
        loss = data.get("loss") or (data.get("metadata") or {}).get("training") or {}
        return cls.from_blocks(data["model"], loss, data["image_size"], data.get("metadata"))

    # ----------------------------------------------------------------- views on the model block
    @property
    def embed_dim(self) -> int:
        return int(self.model["embed_dim"])

    @property
    def fusion(self) -> dict[str, Any]:
        return dict(self.model.get("fusion") or {})

    @property
    def fusion_type(self) -> str:
        return str(self.fusion.get("type", "cross_attention"))

    @property
    def head(self) -> dict[str, Any]:
        return dict(self.model.get("head") or {})

    @property
    def image_encoder(self) -> dict[str, Any] | None:
        return self.model.get("image_encoder")

    @property
    def report_generator(self) -> dict[str, Any]:
        return dict(self.model.get("report_generator") or {})

    @property
    def text_encoder(self) -> dict[str, Any]:
        return dict(self.model.get("text_encoder") or {})

    @property
    def report_max_length(self) -> int:
        return int(self.report_generator.get("max_length", 64))

    @property
    def text_max_length(self) -> int:
        return int(self.text_encoder.get("max_length", 128))

    @property
    def num_beams(self) -> int:
        return int(self.report_generator.get("num_beams", 1))

    @property
    def tag_token(self) -> bool:
        return bool(self.report_generator.get("tag_token", False))
