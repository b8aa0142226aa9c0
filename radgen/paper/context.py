"""The template context of the paper: typed inputs + variant specs -> tables, macros and flags.

Why this is short: reading lives in radgen.paper.inputs, the analysis choices (best baseline, largest ablation,
significance) in the evaluation stage's headline.json (radgen.evaluate.headline), the macros in the table of
radgen.paper.macros, and every sentence in paper/templates/*.tex.j2. This module only wires them together.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from radgen.constants import CLASSES
from radgen.evaluate.floors import FLOORS
from radgen.paper.facts import paper_facts
from radgen.paper.inputs import PaperData, PaperInputError, PaperInputs, read_inputs
from radgen.paper.macros import render_macros
from radgen.paper.methods import methods_context
from radgen.paper.tables import build_tables
from radgen.variants import VariantSet, variant_set

log = logging.getLogger(__name__)


def specs_from_config(config: Mapping[str, Any]) -> VariantSet:
    """The variants (radgen.variants), with a paper-stage error when the config has none or an invalid one."""
    if not config.get("variants"):
        raise PaperInputError("config defines no variants")
    try:
        return variant_set(config)
    except ValueError as err:
        raise PaperInputError(f"config: {err}") from None


def _warn_mismatch(data: PaperData, specs: VariantSet) -> None:
    unknown = sorted(set(data.summary) - set(specs) - set(FLOORS))
    if unknown:
        log.warning(
            "summary.csv has variants not in the config, left out of the paper: %s", ", ".join(unknown)
        )
    absent = [name for name in specs if name not in data.summary]
    if absent:
        log.warning(
            "variants of the config without results in summary.csv (shown as '--'): %s", ", ".join(absent)
        )


def build_context(
    inputs: PaperInputs, config: Mapping[str, Any], repo_dir: str | Path = "."
) -> dict[str, Any]:
    """Read every input and return the context for the templates (tables, variables, methods)."""
    specs = specs_from_config(config)
    data = read_inputs(inputs)
    _warn_mismatch(data, specs)
    tables = build_tables(data, specs)
    facts = paper_facts(data, config, specs, tables["compute"]["groups"], repo_dir)
    data_cfg = config.get("data") or {}
    return {
        "methods": methods_context(config, specs),
        "data_notes": data.data_notes,
        "synthetic": data_cfg.get("source", "unknown") == "synthetic",
        "data_source": str(data_cfg.get("source", "unknown")),
        "dataset_description": (config.get("paper") or {}).get("dataset_description"),
        "dataset": data.dataset,
        "classes": list(CLASSES),
        "tables": tables,
        "macros": render_macros(facts),
        "significance_level": data.headline.get("alpha"),
        "has_comparisons": bool((data.headline.get("comparisons") or {}).get("available")),
        "has_baselines": bool(specs.in_group("baseline")),
        "has_ablations": bool(specs.in_group("ablation")),
        "has_benchmarks": bool(data.benchmarks),
    }
