"""Config loading, schema validation and per-variant resolution shared by the Snakefile, scripts and the CLI."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from radgen.variants import (  # deep_merge: re-exported for callers of radgen.config
    GROUND_TRUTH,
    deep_merge,  # noqa: F401
    resolve_blocks,
    resolve_variant,
    undeclared_differences,
)

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "workflow" / "schemas" / "config.schema.yaml"


class ConfigError(ValueError):
    """A config that cannot run; the message names the offending key."""


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


def schema_defaults() -> dict[str, Any]:
    """Every default of the schema as a config (what validate_config fills into an empty one): the one source
    of default values, for code that runs on a partial config block (e.g. data.synthetic in build_manifest)."""
    config: dict[str, Any] = {}
    for _ in _validator_with_defaults()(_load_schema()).iter_errors(config):
        pass  # required keys without defaults are missing from {}: only the filled defaults matter here
    return config


def _key(path: Any) -> str:
    return ".".join(str(p) for p in path) or "<top level>"


def validate_config(config: dict[str, Any], base_dir: str | Path = ".") -> dict[str, Any]:
    """Fill defaults in place and raise ConfigError naming every bad key; returns the same dict.

    Variants are validated after merging onto the shared model/training blocks (against the same strict schema),
    so a typo inside a variant's override is reported under `variants.<name>.model...`. Cross-field rules
    (one main variant, reports_from, attention heads, ablations that change only what they declare) run here,
    before any job.
    """
    schema = _load_schema()
    validator = _validator_with_defaults()(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(e.path))
    messages = [f"{_key(e.path)}: {e.message}" for e in errors]
    if not messages:
        messages += _variant_errors(config, schema)
        messages += _data_errors(config["data"], base_dir)
    if messages:
        raise ConfigError("invalid config:\n  " + "\n  ".join(messages))
    return config


def _variant_errors(config: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    section_validators = {
        section: _validator_with_defaults()(
            {**schema["definitions"][section], "definitions": schema["definitions"]}
        )
        for section in ("model", "training")
    }
    messages: list[str] = []
    specs = {}
    for name in config["variants"]:
        block = config["variants"][name] or {}
        model, training = resolve_blocks(config, block)
        bad = False
        for section, resolved in (("model", model), ("training", training)):
            for err in section_validators[section].iter_errors(resolved):
                messages.append(f"variants.{name}.{section}.{_key(err.path)}: {err.message}")
                bad = True
        if not bad:
            specs[name] = resolve_variant(config, name)
    mains = [n for n, b in config["variants"].items() if (b or {}).get("group") == "main"]
    if len(mains) != 1:
        messages.append(
            f"variants: exactly one variant needs `group: main` (the reference of every comparison); found "
            f"{len(mains)}{': ' + ', '.join(mains) if mains else ''}"
        )
    for name, spec in specs.items():
        where = f"variants.{name}"
        source = spec.reports_from
        if source is not None and source != GROUND_TRUTH:
            if source not in config["variants"]:
                messages.append(f"{where}.reports_from: unknown variant {source!r} (or {GROUND_TRUTH!r})")
            elif source in specs and not specs[source].generates_reports:
                messages.append(f"{where}.reports_from: variant {source!r} generates no reports")
        if source is not None and not spec.reads_text:
            messages.append(f"{where}.reports_from: the variant has no text branch to read reports with")
        if spec.reads_text and not spec.generates_reports and source is None:
            messages.append(
                f"{where}.reports_from: a text branch without its own generator must name the variant whose "
                f"generated reports it reads (or {GROUND_TRUTH!r} for an oracle)"
            )
        if (
            spec.generates_reports
            and spec.model["report_generator"].get("tag_token")
            and spec.group != "extension"
        ):
            messages.append(
                f"{where}.group: a class-token generator (report_generator.tag_token) is an extension of RadGen, "
                "not RadGen: give it group: extension"
            )
        if spec.is_oracle and spec.group != "oracle":
            messages.append(
                f"{where}.group: a variant reading ground-truth reports at test must be group: oracle"
            )
        if not spec.has_image and not spec.reads_text:
            messages.append(f"{where}.model: neither an image encoder nor a text encoder is enabled")
        messages += [f"{where}.model.{m}" for m in _width_errors(spec.model)]
        if spec.changes or spec.forced or spec.group == "ablation":
            messages += _ablation_errors(spec, specs.get(mains[0]) if len(mains) == 1 else None)
    return messages


def _ablation_errors(spec: Any, reference: Any) -> list[str]:
    where = f"variants.{spec.name}"
    if spec.group != "ablation":
        return [f"{where}.changes: only ablations declare changes (group is {spec.group!r})"]
    if not spec.changes:
        return [f"{where}.changes: an ablation must list the keys of the component it removes"]
    if reference is None:
        return []
    undeclared, unchanged = undeclared_differences(spec, reference)
    out = []
    if undeclared:
        out.append(
            f"{where}: differs from the main variant {reference.name!r} outside its declared changes/forced keys: "
            + ", ".join(undeclared)
        )
    if unchanged:
        out.append(
            f"{where}.changes: declared but identical to the main variant {reference.name!r}: "
            + ", ".join(unchanged)
        )
    return out


def _width_errors(model: dict[str, Any]) -> list[str]:
    """Attention heads must divide the widths they split (else the job would fail mid-way)."""
    out = []
    fusion = model.get("fusion") or {}
    heads, dim = int(fusion.get("num_heads", 4)), int(model["embed_dim"])
    if fusion.get("type") == "cross_attention" and dim % heads:
        out.append(f"fusion.num_heads: {heads} does not divide embed_dim {dim}")
    pairs = (
        ("report_generator", "d_model", ("decoder_attention_heads", "encoder_attention_heads")),
        ("text_encoder", "hidden_size", ("num_attention_heads",)),
    )
    for part, width_key, head_keys in pairs:
        overrides = (model.get(part) or {}).get("config_overrides") or {}
        width = overrides.get(width_key)
        for head_key in head_keys:
            if width is not None and overrides.get(head_key) and int(width) % int(overrides[head_key]):
                out.append(
                    f"{part}.config_overrides.{head_key}: {overrides[head_key]} does not divide "
                    f"{width_key} {width}"
                )
    return out


def _data_errors(data: dict[str, Any], base_dir: str | Path) -> list[str]:
    if data["source"] == "synthetic":
        return []
    if not data.get("path"):
        return [f"data.path: required when data.source is {data['source']!r}"]
    if not (Path(base_dir) / data["path"]).exists():
        return [f"data.path: {data['path']!r} does not exist (relative to {Path(base_dir).resolve()})"]
    return []


def variant_config(config: dict[str, Any], variant: str) -> dict[str, Any]:
    """What a training job of `variant` depends on: name, reports_from, resolved model and training."""
    return resolve_variant(config, variant).train_params()


def config_hash(obj: Any, length: int = 12) -> str:
    """First characters of the sha256 of a config (or any JSON-serialisable fragment) in canonical JSON: keys
    sorted, no spaces, ASCII, so key order and formatting do not matter. The one config hash: the paper's
    ConfigHash (radgen.paper.provenance) uses this formula."""
    canonical = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=True)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:length]
