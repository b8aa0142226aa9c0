"""The schema is the first line of defence: bad configs stop with a message naming the key."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest

from radgen.config import ConfigError, deep_merge, load_config, validate_config, variant_config

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture()
def default_config() -> dict:
    return load_config(ROOT / "config" / "config.yaml")


def test_default_and_paper_configs_are_valid(default_config):
    validate_config(default_config)
    paper = ROOT / "config" / "paper.yaml"
    if paper.exists():
        validate_config(load_config(paper))


def test_defaults_are_filled_in():
    config = load_config(ROOT / "config" / "config.yaml")
    del config["folds"]
    del config["data"]["synthetic"]
    validate_config(config)
    assert config["folds"] == {"k": 5, "seed": 0, "inner_val_fraction": 0.15, "allow_missing_class": False}
    assert config["data"]["synthetic"]["n_images"] == 900


@pytest.mark.parametrize(
    ("mutate", "key"),
    [
        (lambda c: c["data"].update(source="dicom"), "data.source"),
        (lambda c: c["data"]["synthetic"].update(n_images=-5), "data.synthetic.n_images"),
        (lambda c: c["folds"].update(k=0), "folds.k"),
        (lambda c: c["data"].update(source="csv", path="no/such/file.csv"), "data.path"),
        (lambda c: c["data"].update(source="folder", path=None), "data.path"),
        (lambda c: c["training"].update(batch_size=0), "training.batch_size"),
        (lambda c: c.update(trainig={}), "trainig"),
        (
            lambda c: c["variants"]["radgen"].update(model={"fusion": {"type": "sum"}}),
            "variants.radgen.model.fusion.type",
        ),
        (
            lambda c: c["variants"]["report_only"].update(reports_from="densenet121"),
            "variants.report_only.reports_from",
        ),
        (lambda c: c["training"].update(epoch=3), "training: Additional properties"),
        (lambda c: c["model"]["fusion"].update(gatee=False), "model.fusion: Additional properties"),
        (lambda c: c["training"]["lr"].update(imgae_encoder=1e-3), "training.lr: Additional properties"),
        (lambda c: c["evaluation"].update(reference_variant="radgen"), "evaluation: Additional properties"),
        (lambda c: c["resources"].update(trian={"gpu": 1}), "resources: Additional properties"),
        (
            lambda c: c["variants"]["no_gating"].update(model={"fusion": {"gatee": False}}),
            "variants.no_gating.model.fusion: Additional properties",
        ),
        (
            lambda c: c["variants"]["radgen"].update(training={"lr": {"fusion_heads": 1e-3}}),
            "variants.radgen.training.lr: Additional properties",
        ),
        (lambda c: c["variants"]["swin_b"].update(group="main"), "exactly one variant needs `group: main`"),
        (
            lambda c: c["model"]["report_generator"].update(tag_token=True),
            "variants.radgen.group: a class-token generator (report_generator.tag_token) is an extension",
        ),
        (
            lambda c: c["variants"]["radgen"].update(group="baseline"),
            "exactly one variant needs `group: main`",
        ),
        (lambda c: c["model"]["fusion"].update(num_heads=3), "variants.radgen.model.fusion.num_heads"),
        (
            lambda c: c["model"]["text_encoder"]["config_overrides"].update(num_attention_heads=5),
            "variants.radgen.model.text_encoder.config_overrides.num_attention_heads",
        ),
        (lambda c: c["variants"]["report_only"].pop("reports_from"), "variants.report_only.reports_from"),
        (
            lambda c: c["variants"]["swin_b"].update(reports_from="radgen"),
            "variants.swin_b.reports_from: the variant has no text branch",
        ),
        (
            lambda c: c["variants"]["report_only"].update(reports_from="ground_truth"),
            "variants.report_only.group: a variant reading ground-truth reports at test must be group: oracle",
        ),
    ],
)
def test_invalid_config_names_the_key(default_config, mutate, key):
    config = copy.deepcopy(default_config)
    mutate(config)
    with pytest.raises(ConfigError) as info:
        validate_config(config)
    assert key in str(info.value)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        # the ablation also changes something it does not declare
        (
            lambda c: c["variants"]["no_gating"].update(training={"epochs": 3}),
            "variants.no_gating: differs from the main variant 'radgen' outside its declared changes/forced "
            "keys: training.epochs",
        ),
        # no_class_weighting that also switched the tag prior (the old default) is no longer one component
        (
            lambda c: c["variants"]["no_class_weighting"]["training"].update(tag_prior="natural"),
            "outside its declared changes/forced keys: training.tag_prior",
        ),
        # a typo-free override that changes nothing: the ablation would train RadGen again under its name
        (
            lambda c: c["variants"]["no_gating"].update(model={"fusion": {"gate": True}}),
            "variants.no_gating.changes: declared but identical to the main variant 'radgen': model.fusion.gate",
        ),
        (
            lambda c: c["variants"]["no_gating"].pop("changes"),
            "variants.no_gating.changes: an ablation must list",
        ),
        (
            lambda c: c["variants"]["swin_b"].update(changes=["model.head"]),
            "variants.swin_b.changes: only ablations declare changes",
        ),
    ],
)
def test_an_ablation_changes_only_what_it_declares(default_config, mutate, message):
    config = copy.deepcopy(default_config)
    mutate(config)
    with pytest.raises(ConfigError) as info:
        validate_config(config)
    assert message in str(info.value)


def test_shipped_ablations_remove_exactly_their_component(default_config):
    """Independent check of the shipped configs: flatten both resolved variants and compare key by key."""
    from radgen.variants import flatten, variant_set

    for path in ("config.yaml", "paper.yaml"):
        config = validate_config(load_config(ROOT / "config" / path))
        specs = variant_set(config)
        ref = flatten({"model": specs.reference.model, "training": specs.reference.training})
        for spec in specs.in_group("ablation"):
            mine = flatten({"model": spec.model, "training": spec.training})
            differing = {k for k in set(mine) | set(ref) if mine.get(k, "<absent>") != ref.get(k, "<absent>")}
            assert differing, f"{path}: {spec.name} trains the main variant again"
            allowed = set(spec.changes) | set(spec.forced)
            assert differing <= allowed, f"{path}: {spec.name} also changes {sorted(differing - allowed)}"
            assert set(spec.changes) <= differing


def test_a_class_token_variant_is_accepted_as_an_extension(default_config):
    config = copy.deepcopy(default_config)
    config["variants"]["radgen_tag"] = {
        "label": "RadGen + class token",
        "group": "extension",
        "model": {"report_generator": {"tag_token": True}},
        "training": {"tag_forcing": 1.0},
    }
    validate_config(config)


def test_variant_spec_answers_every_role_question(default_config):
    from radgen.variants import variant_set

    specs = variant_set(validate_config(default_config))
    assert specs.reference.name == "radgen"
    assert specs["radgen"].generates_reports and specs["radgen"].text_at_test == "own generated"
    assert not specs["radgen"].model["report_generator"]["tag_token"], "the main RadGen has no class token"
    assert specs["report_only"].reports_variant == "radgen" and not specs["report_only"].generates_reports
    assert specs["oracle_report_only"].is_oracle and specs["oracle_report_only"].reports_variant is None
    assert specs["oracle_report_only"].text_at_test == "ground truth"
    assert specs["swin_b"].text_at_test == "none" and not specs["swin_b"].needs_reports
    assert "label" not in specs["radgen"].train_params() and "group" not in specs["radgen"].train_params()


def test_variant_overrides_merge_deeply(default_config):
    resolved = variant_config(default_config, "no_gating")
    assert resolved["model"]["fusion"]["gate"] is False
    assert resolved["model"]["fusion"]["type"] == default_config["model"]["fusion"]["type"]
    assert variant_config(default_config, "report_only")["model"]["image_encoder"] is None
    densenet = variant_config(default_config, "densenet121")["model"]["image_encoder"]
    assert densenet["name"] == "densenet121" and "depths" not in densenet["kwargs"], "Swin kwargs leaked"
    with pytest.raises(KeyError, match="unknown variant"):
        variant_config(default_config, "nope")


def test_deep_merge_does_not_mutate_inputs():
    base = {"a": {"b": 1, "c": 2}}
    merged = deep_merge(base, {"a": {"b": 3}})
    assert merged == {"a": {"b": 3, "c": 2}} and base == {"a": {"b": 1, "c": 2}}


def _schema_keys(node: dict, defs: dict, prefix: str = "") -> list[str]:
    """Dotted paths of every named key of the schema (following $ref and oneOf)."""
    if "$ref" in node:
        node = defs[node["$ref"].split("/")[-1]]
    for option in node.get("oneOf", []):
        if option.get("type") == "object":
            node = option
    keys = []
    for name, sub in (node.get("properties") or {}).items():
        path = f"{prefix}{name}"
        keys.append(path)
        keys += _schema_keys(sub, defs, path + ".")
    return keys


def test_every_schema_key_is_documented_in_config_readme():
    import yaml

    schema = yaml.safe_load((ROOT / "workflow" / "schemas" / "config.schema.yaml").read_text())
    readme = (ROOT / "config" / "README.md").read_text()
    keys = _schema_keys(schema, schema["definitions"])
    variant_keys = schema["properties"]["variants"]["additionalProperties"]["properties"]

    def documented(key: str) -> bool:  # by its full path, or as a named child of a documented block
        parent, _, last = key.rpartition(".")
        return f"`{key}" in readme or bool(parent and parent in readme and re.search(rf"\b{last}\b", readme))

    missing = [k for k in keys if k != "variants" and not documented(k)]
    missing += [k for k in variant_keys if f"`{k}`" not in readme]
    assert not missing, f"config/README.md does not document: {missing}"
