"""Config loading, schema validation and per-variant resolution shared by the Snakefile, scripts and the CLI."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import jsonschema
import yaml

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "workflow" / "schemas" / "config.schema.yaml"


class ConfigError(ValueError):
    """A config that cannot run; the message names the offending key."""


def deep_merge(base: dict[str, Any], override: dict[str, Any] | None) -> dict[str, Any]:
    """Return base updated recursively by override; a None/non-dict override value replaces the whole key."""
    out = copy.deepcopy(base)
    for key, value in (override or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def load_config(path: str | Path) -> dict[str, Any]:
    """Read a YAML config file (validate it with validate_config)."""
    with open(path) as fh:
        return yaml.safe_load(fh) or {}


def _validator_with_defaults() -> type:
    """jsonschema validator that fills `default:` values in, as Snakemake's validate(set_default=True) does."""
    base = jsonschema.Draft202012Validator
    validate_properties = base.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):  # noqa: ANN001 - jsonschema callback signature
        if isinstance(instance, dict):
            for name, sub in properties.items():
                if isinstance(sub, dict) and "default" in sub and name not in instance:
                    instance[name] = copy.deepcopy(sub["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(base, {"properties": set_defaults})


def _load_schema() -> dict[str, Any]:
    with open(SCHEMA_PATH) as fh:
        return yaml.safe_load(fh)


def _key(path: Any) -> str:
    return ".".join(str(p) for p in path) or "<top level>"


def validate_config(config: dict[str, Any], base_dir: str | Path = ".") -> dict[str, Any]:
    """Fill defaults in place and raise ConfigError naming every bad key; returns the same dict.

    Variants are validated after merging onto the shared model/training blocks, so a typo inside a
    variant's override is reported under `variants.<name>.model...`.
    """
    schema = _load_schema()
    validator = _validator_with_defaults()(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(e.path))
    messages = [f"{_key(e.path)}: {e.message}" for e in errors]
    if not messages:
        model_validator = _validator_with_defaults()(
            {**schema["definitions"]["model"], "definitions": schema["definitions"]}
        )
        train_validator = _validator_with_defaults()(
            {**schema["definitions"]["training"], "definitions": schema["definitions"]}
        )
        for name in config["variants"]:
            resolved = variant_config(config, name)
            for section, val in (("model", model_validator), ("training", train_validator)):
                for err in val.iter_errors(resolved[section]):
                    messages.append(f"variants.{name}.{section}.{_key(err.path)}: {err.message}")
            source = resolved["reports_from"]
            if source is not None:
                if source not in config["variants"]:
                    messages.append(f"variants.{name}.reports_from: unknown variant {source!r}")
                elif not variant_config(config, source)["model"]["report_generator"].get("enabled", True):
                    messages.append(f"variants.{name}.reports_from: variant {source!r} generates no reports")
            model = resolved["model"]
            if model.get("image_encoder") is None and not model["text_encoder"].get("enabled", True):
                messages.append(
                    f"variants.{name}.model: neither an image encoder nor a text encoder is enabled"
                )
        data = config["data"]
        if data["source"] != "synthetic":
            if not data.get("path"):
                messages.append(f"data.path: required when data.source is {data['source']!r}")
            elif not (Path(base_dir) / data["path"]).exists():
                messages.append(
                    f"data.path: {data['path']!r} does not exist (relative to {Path(base_dir).resolve()})"
                )
        ref = config["evaluation"]["reference_variant"]
        if ref not in config["variants"]:
            messages.append(f"evaluation.reference_variant: {ref!r} is not a variant of this config")
    if messages:
        raise ConfigError("invalid config:\n  " + "\n  ".join(messages))
    return config


def variant_config(config: dict[str, Any], variant: str) -> dict[str, Any]:
    """Resolve one variant block against the shared model/training defaults."""
    variants = config.get("variants") or {}
    if variant not in variants:
        raise KeyError(f"unknown variant {variant!r}; config defines: {', '.join(variants) or 'none'}")
    block = variants[variant] or {}
    model = deep_merge(config["model"], block.get("model"))
    for part, override in (block.get("model") or {}).items():
        # A different backbone brings its own settings: the default's kwargs (e.g. Swin depths) must not leak in.
        base = config["model"].get(part)
        if (
            isinstance(override, dict)
            and isinstance(base, dict)
            and override.get("name", base.get("name")) != base.get("name")
        ):
            model[part] = copy.deepcopy(override)
    return {
        "name": variant,
        "label": block.get("label", variant),
        "group": block.get("group", "baseline"),
        "reports_from": block.get("reports_from"),
        "model": model,
        "training": deep_merge(config["training"], block.get("training")),
    }


def config_hash(obj: Any, length: int = 12) -> str:
    """Stable short hash of any JSON-serialisable config fragment (keys sorted)."""
    blob = json.dumps(obj, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:length]
