"""What ran, read from the configuration: the facts the Methods section, the variant table and the deviation table
state. The wording lives in the templates; this module only decides which facts hold, so the paper's description
of the model cannot drift from the configuration that trained it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from radgen.variants import VariantSet, VariantSpec, flatten

SEED_SPEC = Path(__file__).resolve().parents[2] / "paper" / "seed_spec.yaml"
# radgen.models.image_encoder.GRAY_MEAN / GRAY_STD, not imported: the paper stage does not load torch (a test
# checks that the two agree).
GRAY_MEAN, GRAY_STD = 0.5, 0.25


def _component(block: Mapping[str, Any] | None, width_key: str, layers_key: str) -> dict[str, Any] | None:
    """A pretrained-or-not Hugging Face component: its name, and its shape when it is trained from scratch."""
    if not block:
        return None
    overrides = block.get("config_overrides") or {}
    return {
        "name": block.get("name") or "(unnamed)",
        "pretrained": bool(block.get("pretrained", False)),
        "width": overrides.get(width_key),
        "layers": overrides.get(layers_key),
        "vocab_size": block.get("vocab_size"),
        "max_length": block.get("max_length"),
        "num_beams": block.get("num_beams", 1),
        "token_positions": bool(block.get("token_positions", False)),
        "tag_token": bool(block.get("tag_token", False)),
    }


def _image(block: Mapping[str, Any] | None, image_size: int) -> dict[str, Any] | None:
    if block is None:
        return None
    kwargs = block.get("kwargs") or {}
    pretrained = bool(block.get("pretrained", False))
    return {
        "name": block["name"],
        "pretrained": pretrained,
        "channels": 3 if pretrained else 1,
        "gray_mean": GRAY_MEAN,  # without ImageNet weights; ImageNet's mean and std otherwise
        "gray_std": GRAY_STD,
        "size": image_size,
        "width": kwargs.get("embed_dim"),
        "depths": kwargs.get("depths"),
        "conv_stem": kwargs.get("embed_layer") == "conv_stem",
        "pool": kwargs.get("global_pool"),
        "z_norm": bool(block.get("z_norm", False)),
    }


def _reads_from(spec: VariantSpec, specs: VariantSet) -> str | None:
    """Label of the variant whose generated reports the text branch reads; None when it generates its own."""
    return None if spec.generates_reports else specs[spec.reports_variant].label


def text_in_training(spec: VariantSpec, specs: VariantSet) -> dict[str, Any]:
    """Which text a variant's text branch reads while it trains (the rule of radgen.train.engine).

    reads: has a text branch; share: percent of training images that read a generated report (0: reference
    reports only; an oracle always reads the reference); by: whose generated reports (None: its own)."""
    share = 0.0 if spec.is_oracle else float(spec.training.get("generated_report_fraction", 0.0))
    if not spec.reads_text or share <= 0:
        return {"reads": spec.reads_text, "share": 0, "by": None}
    return {"reads": True, "share": round(100 * share), "by": _reads_from(spec, specs)}


def text_at_test(spec: VariantSpec, specs: VariantSet) -> dict[str, Any]:
    """Which text a variant's text branch reads at test: the reference (oracle) or generated reports (by: whose)."""
    if not spec.reads_text or spec.is_oracle:
        return {"reads": spec.reads_text, "oracle": spec.is_oracle, "by": None}
    return {"reads": True, "oracle": False, "by": _reads_from(spec, specs)}


def variant_rows(specs: VariantSet) -> list[dict[str, Any]]:
    """One row per variant: the mechanisms that ran and the text it read in training and at test."""
    rows = []
    for spec in specs.values():
        model = spec.model
        fusion = model.get("fusion") or {}
        rows.append(
            {
                "name": spec.name,
                "label": spec.label,
                "group": spec.group,
                "description": spec.description,
                "image": (model.get("image_encoder") or {}).get("name") if spec.has_image else None,
                "generator": spec.generates_reports,
                "tag_token": spec.generates_reports and bool(model["report_generator"].get("tag_token")),
                "text": spec.reads_text,
                "fusion": fusion.get("type", "none"),
                "gate": fusion.get("type") in ("cross_attention", "concat")
                and bool(fusion.get("gate", True)),
                "class_weighting": bool(spec.training.get("class_weighting", True)),
                "text_train": text_in_training(spec, specs),
                "text_test": text_at_test(spec, specs),
                "changes": list(spec.changes),
                "forced": list(spec.forced),
            }
        )
    return rows


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, int | float) and isinstance(b, int | float) and not isinstance(a, bool):
        return abs(float(a) - float(b)) <= 1e-12 * max(1.0, abs(float(b)))
    return a == b


def deviations(
    config: Mapping[str, Any], specs: VariantSet, seed_spec: Path = SEED_SPEC
) -> list[dict[str, Any]]:
    """Rows (what, seed value, this build's value, reason) where the main variant departs from the seed spec."""
    spec = yaml.safe_load(seed_spec.read_text())
    ref = specs.reference
    values = flatten({"data": dict(config.get("data") or {}), "model": ref.model, "training": ref.training})
    rows = []
    for item in spec["settings"]:
        value = values.get(item["key"])
        if not _same(value, item["seed"]):
            rows.append(
                {"what": item["what"], "seed": item["seed"], "build": value, "reason": item["reason"]}
            )
    applies = {
        "horizontal flips": any(bool(s.training.get("augment")) for s in specs.values()),
        "gate initialisation": any(r["gate"] for r in variant_rows(specs)),
        "decision rule": any(bool(s.training.get("class_weighting", True)) for s in specs.values()),
        "statistics": True,
    }
    for item in spec["always"]:
        if applies.get(item["what"], True):
            rows.append(dict(item))
    return rows


def methods_context(config: Mapping[str, Any], specs: VariantSet) -> dict[str, Any]:
    """Everything the Methods text states about the main variant and the protocol, from the configuration."""
    ref = specs.reference
    model, training = ref.model, ref.training
    fusion = model.get("fusion") or {}
    head = model.get("head") or {}
    image_size = int((config.get("data") or {}).get("image_size", 224))
    return {
        "image": _image(model.get("image_encoder"), image_size),
        "generator": _component(model.get("report_generator"), "d_model", "decoder_layers")
        if ref.generates_reports
        else None,
        "text": _component(model.get("text_encoder"), "hidden_size", "num_hidden_layers")
        if ref.reads_text
        else None,
        "embed_dim": model.get("embed_dim"),
        "fusion": {
            "type": fusion.get("type"),
            "heads": fusion.get("num_heads"),
            "gate": bool(fusion.get("gate", True)),
            "dropout": fusion.get("dropout"),
        },
        "head": {"hidden": list(head.get("hidden") or []), "dropout": head.get("dropout")},
        "training": {
            "ema_decay": float(training.get("ema_decay", 0.0)),
            "generated_fraction": float(training.get("generated_report_fraction", 0.0)),
            "generated_ramp": float(training.get("generated_report_ramp_epochs", 0)),
            "class_weighting": bool(training.get("class_weighting", True)),
            "augment": bool(training.get("augment", False)),
            "lr_schedule": training.get("lr_schedule", "constant"),
            "text_mix_every": int(training.get("text_mix_every", 1)),
            "devices": int(training.get("devices", 1)),
        },
        "synthetic": dict((config.get("data") or {}).get("synthetic") or {})
        if (config.get("data") or {}).get("source", "synthetic") == "synthetic"
        else None,
        "any_tag_token": any(r["tag_token"] for r in variant_rows(specs)),
        "has_oracle": bool(specs.in_group("oracle")),
        "has_text_baselines": any(s.reports_variant for s in specs.values()),
        "variant_rows": variant_rows(specs),
        "deviations": deviations(config, specs),
    }
