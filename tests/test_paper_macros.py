"""The macro table of radgen.paper.macros against the paper's sources: every macro defined is used, every used one
is defined, and every value source points at something in a full results tree (a typo would print '--')."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
from paper_sample import write_sample_results

from radgen.config import load_config
from radgen.evaluate.floors import FLOORS
from radgen.paper.context import specs_from_config
from radgen.paper.facts import paper_facts
from radgen.paper.inputs import PaperInputs, read_inputs
from radgen.paper.macros import MACROS, PREFIX, render_macros, resolve
from radgen.paper.tables import build_tables

REPO = Path(__file__).resolve().parents[1]
SOURCES = [REPO / "paper" / "main.tex", *sorted((REPO / "paper" / "templates").glob("*.tex.j2"))]


def _sources() -> str:
    return "\n".join(p.read_text() for p in SOURCES)


def _used() -> set[str]:
    return set(re.findall(r"\\(RG[A-Za-z]+)", _sources()))


def _defined_in_sources() -> set[str]:
    """Macros the sources define themselves: \\newcommand / \\providecommand, and \\newif's three names."""
    text = _sources()
    names = set(re.findall(r"\\(?:newcommand|providecommand)\{?\\(RG[A-Za-z]+)", text))
    for flag in re.findall(r"\\newif\\if(RG[A-Za-z]+)", text):
        names |= {flag + "true", flag + "false"}
    return names


def test_declared_names_are_unique_letters_only() -> None:
    names = [PREFIX + m.name for m in MACROS]
    assert len(names) == len(set(names))
    assert all(re.fullmatch(r"[A-Za-z]+", n) for n in names)


def test_every_declared_macro_is_used_by_a_paper_source() -> None:
    unused = sorted(PREFIX + m.name for m in MACROS if PREFIX + m.name not in _used())
    assert not unused, f"declared but used by no paper source: {unused}"


def test_every_used_macro_is_defined() -> None:
    declared = {PREFIX + m.name for m in MACROS}
    undefined = sorted(_used() - declared - _defined_in_sources())
    assert not undefined, f"used by the paper but defined nowhere: {undefined}"
    assert not declared & _defined_in_sources(), "defined twice (table and template)"


def test_every_source_path_resolves_on_a_full_results_tree(tmp_path: Path) -> None:
    config = load_config(REPO / "config" / "config.yaml")
    res = write_sample_results(tmp_path, config, n_images=60, k=3)
    specs = specs_from_config(config)
    # The sample has neither floors nor findings-only CE: add them, copied from the reference's rows.
    summary = pd.read_csv(res / "metrics" / "summary.csv")
    ref = summary[summary["variant"] == specs.reference.name]
    ref = pd.concat([ref, ref[ref["metric"] == "ce_f1_micro"].assign(metric="ce_findings_f1_micro")])
    extra = [ref[ref["metric"] == "ce_findings_f1_micro"], *(ref.assign(variant=f) for f in FLOORS)]
    pd.concat([summary, *extra]).to_csv(res / "metrics" / "summary.csv", index=False)
    data = read_inputs(PaperInputs.from_results_dir(res))
    facts = paper_facts(data, config, specs, build_tables(data, specs)["compute"]["groups"], tmp_path)
    missing = [m.source for m in MACROS if resolve(facts, m.source) is None]
    assert not missing, f"value sources that resolve to nothing: {missing}"
    values = {m.name: m.value for m in render_macros(facts)}
    assert values["RGNImages"] == "60"
    assert values["RGRefLabel"] == specs.reference.label


def test_resolve_walks_mappings_and_attributes() -> None:
    class Obj:
        x = {"y": 3}

    assert resolve({"a": Obj()}, "a.x.y") == 3
    assert resolve({"a": Obj()}, "a.z.y") is None
    assert resolve({"a": {"b": None}}, "a.b.c") is None
