"""The named facts the macros of the paper point at: one nested mapping built from the typed inputs.

Why a facts tree: radgen.paper.macros declares each macro as a path into it (``ref.metrics.macro_auc.mean``), so a
macro is one line of data; this module is the one place that puts values under those paths. Variants come from
radgen.variants (the reference's resolved training block, labels, groups), never from the raw config's variants.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from radgen.config import config_hash
from radgen.constants import CLASSES
from radgen.evaluate.floors import FLOORS
from radgen.paper.inputs import PaperData
from radgen.paper.provenance import git_commit, package_versions
from radgen.variants import VariantSet


def _labelled(entry: Mapping[str, Any] | None, specs: VariantSet) -> dict[str, Any]:
    """A headline selection with the label of the variant it names ({} when there is none)."""
    if not entry:
        return {}
    name = entry.get("variant")
    return {**entry, "label": specs[name].label if name in specs else name}


def _tests(meta: Mapping[str, Any]) -> dict[str, Any]:
    """What the Metrics paragraph states about the tests: resampling unit and the sizes of the two Holm families."""
    families = meta.get("families") or {}
    per_class = next((f for name, f in families.items() if "class" in name.lower()), {})
    macro = next((f for name, f in families.items() if "macro" in name.lower()), {})
    return {"unit": meta.get("unit"), "n_class": per_class.get("n_tests"), "n_macro": macro.get("n_tests")}


def _compute(data: PaperData, compute_groups: list[list[dict[str, Any]]], reference: str) -> dict[str, Any]:
    rows = [r for g in compute_groups for r in g]
    total = [r["seconds_total"] for r in rows if r["seconds_total"] is not None]
    devices = sorted({str(m["device"]) for ms in data.models.values() for m in ms if m.get("device")})
    return {
        "ref": next((r for r in rows if r["name"] == reference), {}),
        "total_seconds": sum(total) if total else None,
        "devices": ", ".join(devices) if devices else None,
    }


def paper_facts(
    data: PaperData,
    config: Mapping[str, Any],
    specs: VariantSet,
    compute_groups: list[list[dict[str, Any]]],
    repo_dir: str | Path = ".",
) -> dict[str, Any]:
    """Everything a macro can point at (see radgen.paper.macros.MACROS)."""
    ref = specs.reference
    total = data.dataset.total
    headline = data.headline
    return {
        "config": config,
        "training": ref.training,
        "dataset": data.dataset,
        "share": {c: total.counts[c] / total.images if total.images else None for c in CLASSES},
        "n_classes": len(CLASSES),
        "variants": {"n": len(specs), **{g: len(specs.in_group(g)) for g in ("baseline", "ablation")}},
        "ref": {
            "label": ref.label,
            "metrics": data.summary.get(ref.name, {}),
            "pooled": data.pooled.get(ref.name, {}),
        },
        "floors": {f: data.summary.get(f, {}) for f in FLOORS},
        "headline": headline,
        "best_baseline": _labelled(headline.get("best_baseline"), specs),
        "largest_ablation": _labelled((headline.get("ablations") or {}).get("largest"), specs),
        "smallest_ablation": _labelled((headline.get("ablations") or {}).get("smallest"), specs),
        "tests": _tests(data.comparisons_meta),
        "compute": _compute(data, compute_groups, ref.name),
        "provenance": {
            "commit": git_commit(repo_dir),
            "config_hash": config_hash(dict(config)),
            "versions": package_versions(),
        },
    }
