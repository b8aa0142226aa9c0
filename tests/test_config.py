"""The schema is the first line of defence: bad configs stop with a message naming the key."""

from __future__ import annotations

import copy
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
        (lambda c: c["evaluation"].update(reference_variant="nope"), "evaluation.reference_variant"),
    ],
)
def test_invalid_config_names_the_key(default_config, mutate, key):
    config = copy.deepcopy(default_config)
    mutate(config)
    with pytest.raises(ConfigError) as info:
        validate_config(config)
    assert key in str(info.value)


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
