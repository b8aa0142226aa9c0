"""The macros of paper/variables.tex, declared as data: TeX name -> path into the facts tree -> number format.

Why a table: every macro the paper sources use is one row that says where its value comes from, and nothing else
is emitted (tests/test_paper_macros.py checks both directions against main.tex and the templates). Names are
``RG`` + the row's name (letters only: TeX macro names cannot hold digits); values are resolved in the facts of
radgen.paper.facts and formatted with radgen.paper.latex. Words other than numbers live in the templates; only
the verdict -> comparative words mapping is here, because it is chosen by data.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from radgen.constants import CLASSES
from radgen.paper import latex

PREFIX = "RG"


@dataclass(frozen=True)
class Macro:
    """One ``\\newcommand``: a letters-only name, its TeX body, and a comment saying where it comes from."""

    name: str
    value: str
    comment: str = ""


@dataclass(frozen=True)
class MacroSpec:
    """A macro: its name (without RG), a dotted path into the facts, a format, and a default for a missing value."""

    name: str
    source: str
    fmt: str = "num"
    default: Any = None


def pexpr(p: float | None) -> str:
    """'$p=0.012$' / '$p<0.001$' for running text."""
    if p is None:
        return r"$p$ not available"
    return r"$p<0.001$" if p < 0.001 else f"$p={p:.3f}$"


def comparative_words(verdict: str | None) -> str:
    """How the text compares the reference with a variant, from the paired test's verdict on the variant.

    The verdict is the variant's (higher / lower than the reference); the words are the reference's, so they flip.
    "Above" or "below" is written only when the Holm-adjusted test says so."""
    return {
        "higher": "significantly below",
        "lower": "significantly above",
        "no significant difference": "not significantly different from",
    }.get(verdict or "", "not tested against")


FORMATS: dict[str, Callable[[Any], str]] = {
    "num": lambda x: latex.num(x, 3),
    "num2": lambda x: latex.num(x, 2),
    "signed": lambda x: latex.signed(x, 3),
    "int": latex.integer,
    "pct": latex.pct,
    "pct0": lambda x: latex.pct(x, 0),
    "sci": latex.sci,
    "tex": latex.tex,
    "count": latex.count,
    "duration": latex.duration,
    "mb": latex.megabytes,
    "p": pexpr,
    "words": comparative_words,
}

_CLS = {c: latex.macro_name(c, prefix="") for c in CLASSES}  # normal -> Normal, tb -> Tb

MACROS: tuple[MacroSpec, ...] = (
    # configuration: what ran (the reference's resolved training block, radgen.variants)
    MacroSpec("Title", "config.paper.title", "tex", "RadGen"),
    MacroSpec("DataSource", "config.data.source", "tex", "unknown"),
    MacroSpec("SyntheticSeed", "config.data.synthetic.seed", "tex", "--"),
    MacroSpec("InnerValPct", "config.folds.inner_val_fraction", "pct0"),
    MacroSpec("BootstrapResamples", "config.evaluation.bootstrap_resamples", "int"),
    MacroSpec("Epochs", "training.epochs", "int"),
    MacroSpec("BatchSize", "training.batch_size", "int"),
    MacroSpec("Patience", "training.early_stopping_patience", "int"),
    MacroSpec("WarmupEpochs", "training.warmup_epochs", "int"),
    MacroSpec("FreezeTextEpochs", "training.freeze_text_encoder_epochs", "int"),
    MacroSpec("WeightDecay", "training.weight_decay", "sci"),
    MacroSpec("GradClip", "training.grad_clip", "sci"),
    MacroSpec("ReportLossWeight", "training.report_loss_weight", "sci"),
    MacroSpec("Amp", "training.amp", "tex", "none"),
    MacroSpec("LrImageEncoder", "training.lr.image_encoder", "sci"),
    MacroSpec("LrReportGenerator", "training.lr.report_generator", "sci"),
    MacroSpec("LrTextEncoder", "training.lr.text_encoder", "sci"),
    MacroSpec("LrFusionHead", "training.lr.fusion_head", "sci"),
    MacroSpec("NVariants", "variants.n", "int"),
    MacroSpec("NBaselines", "variants.baseline", "int"),
    MacroSpec("NAblations", "variants.ablation", "int"),
    # data
    MacroSpec("NImages", "dataset.total.images", "int"),
    MacroSpec("NPatients", "dataset.total.patients", "int"),
    MacroSpec("NPatientsMultiStudy", "dataset.patients_multi_study", "int"),
    MacroSpec("MaxStudiesPerPatient", "dataset.max_studies_per_patient", "int"),
    MacroSpec("NFolds", "dataset.k", "int"),
    MacroSpec("NClasses", "n_classes", "int"),
    *(MacroSpec(f"N{_CLS[c]}", f"dataset.total.counts.{c}", "int") for c in CLASSES),
    *(MacroSpec(f"Pct{_CLS[c]}", f"share.{c}", "pct") for c in CLASSES),
    # provenance
    MacroSpec("GitCommit", "provenance.commit", "tex"),
    MacroSpec("ConfigHash", "provenance.config_hash", "tex"),
    *(
        MacroSpec(f"{latex.macro_name(pkg, prefix='')}Version", f"provenance.versions.{pkg}", "tex")
        for pkg in ("python", "torch", "transformers", "timm", "snakemake", "radgen")
    ),
    MacroSpec("TrainingDevice", "compute.devices", "tex", "unknown"),
    # the reference's results
    MacroSpec("RefLabel", "ref.label", "tex"),
    MacroSpec("RefMacroAuc", "ref.metrics.macro_auc.mean"),
    MacroSpec("RefMacroAucStd", "ref.metrics.macro_auc.std"),
    *(MacroSpec(f"RefAuc{_CLS[c]}", f"ref.metrics.auc_{c}.mean") for c in CLASSES),
    MacroSpec("RefSensitivityTb", "ref.metrics.sensitivity_tb.mean"),
    MacroSpec("RefSpecificityTb", "ref.metrics.specificity_tb.mean"),
    MacroSpec("RefBLEUOne", "ref.metrics.BLEU-1.mean"),
    MacroSpec("RefBLEUFour", "ref.metrics.BLEU-4.mean"),
    MacroSpec("RefBLEUFourStd", "ref.metrics.BLEU-4.std"),
    MacroSpec("RefROUGEL", "ref.metrics.ROUGE-L.mean"),
    MacroSpec("RefCIDEr", "ref.metrics.CIDEr.mean"),
    MacroSpec("RefCeFOneMicro", "ref.metrics.ce_f1_micro.mean"),
    MacroSpec("RefCeFOneMacro", "ref.metrics.ce_f1_macro.mean"),
    MacroSpec("RefCeFindingsFOneMicro", "ref.metrics.ce_findings_f1_micro.mean"),
    MacroSpec("RefPooledMacroAuc", "ref.pooled.macro_auc.value"),
    MacroSpec("RefPooledMacroAucLow", "ref.pooled.macro_auc.ci_low"),
    MacroSpec("RefPooledMacroAucHigh", "ref.pooled.macro_auc.ci_high"),
    MacroSpec("RefNParams", "compute.ref.n_parameters", "count"),
    MacroSpec("RefTrainTimePerFold", "compute.ref.seconds_per_fold", "duration"),
    MacroSpec("RefPeakMemory", "compute.ref.peak_rss_mb", "mb"),
    MacroSpec("TotalTrainTime", "compute.total_seconds", "duration"),
    # report floors (radgen.evaluate.floors)
    MacroSpec("FloorSameClassBLEUFour", "floors.floor_same_class.BLEU-4.mean"),
    MacroSpec("FloorSameClassROUGEL", "floors.floor_same_class.ROUGE-L.mean"),
    MacroSpec("FloorSameClassCeFOneMicro", "floors.floor_same_class.ce_f1_micro.mean"),
    MacroSpec("FloorSameClassCeFindingsFOneMicro", "floors.floor_same_class.ce_findings_f1_micro.mean"),
    MacroSpec("FloorRandomBLEUFour", "floors.floor_random.BLEU-4.mean"),
    MacroSpec("FloorRandomCeFOneMicro", "floors.floor_random.ce_f1_micro.mean"),
    # the evaluation stage's selections and tests (results/metrics/headline.json, comparisons.json)
    MacroSpec("SignificanceLevel", "headline.alpha", "num2"),
    MacroSpec("CILevel", "headline.ci_level", "int"),
    MacroSpec("TestUnit", "tests.unit", "tex", "image"),
    MacroSpec("NHolmClassTests", "tests.n_class", "int"),
    MacroSpec("NHolmMacroTests", "tests.n_macro", "int"),
    MacroSpec("NSigComparisons", "headline.comparisons.n_sig_classes", "int"),
    MacroSpec("BestBaselineLabel", "best_baseline.label", "tex", "none"),
    MacroSpec("BestBaselineMacroAuc", "best_baseline.macro_auc"),
    MacroSpec("BestBaselineMacroAucStd", "best_baseline.macro_auc_std"),
    MacroSpec("RefMinusBestBaseline", "best_baseline.ref_minus", "signed"),
    MacroSpec("RefVsBestBaseline", "best_baseline.verdict", "words"),
    MacroSpec("RefMinusBestBaselinePooled", "best_baseline.ref_minus_pooled", "signed"),
    MacroSpec("RefMinusBestBaselineLow", "best_baseline.ref_minus_low", "signed"),
    MacroSpec("RefMinusBestBaselineHigh", "best_baseline.ref_minus_high", "signed"),
    MacroSpec("RefVsBestBaselineP", "best_baseline.p_holm", "p"),
    MacroSpec("BestBaselineNSig", "best_baseline.n_sig_classes", "int"),
    *(MacroSpec(f"BestBaselineDeLongP{_CLS[c]}", f"best_baseline.class_p_holm.{c}", "p") for c in CLASSES),
    MacroSpec("LargestAblationLabel", "largest_ablation.label", "tex", "none"),
    MacroSpec("LargestAblationDelta", "largest_ablation.delta", "signed"),
    MacroSpec("SmallestAblationLabel", "smallest_ablation.label", "tex", "none"),
    MacroSpec("SmallestAblationDelta", "smallest_ablation.delta", "signed"),
    MacroSpec("NAblationsWorse", "headline.ablations.n_worse", "int"),
    MacroSpec("NAblationsSigLower", "headline.ablations.n_sig_lower", "int"),
    MacroSpec("NAblationsSigHigher", "headline.ablations.n_sig_higher", "int"),
)


def resolve(facts: Any, path: str) -> Any:
    """The value at a dotted path (mapping keys or attributes); None where any step is missing."""
    node = facts
    for part in path.split("."):
        if isinstance(node, Mapping):
            node = node.get(part)
        else:
            node = getattr(node, part, None)
        if node is None:
            return None
    return node


def render_macros(facts: Mapping[str, Any], specs: tuple[MacroSpec, ...] = MACROS) -> list[Macro]:
    """Every declared macro with its formatted value, in declaration order."""
    out = []
    for spec in specs:
        value = resolve(facts, spec.source)
        value = spec.default if value is None else value
        out.append(Macro(PREFIX + spec.name, FORMATS[spec.fmt](value), re.sub(r"[\r\n%]", " ", spec.source)))
    return out
