"""Snakemake adapter (rule render_paper): results files + config -> paper/tables.tex, variables.tex, methods.tex."""

from pathlib import Path

from radgen.data.validity import read_warnings
from radgen.paper.inputs import PaperInputs
from radgen.paper.render import render_paper
from radgen.runlog import job_log

with job_log(snakemake):  # noqa: F821 - injected by Snakemake
    smk = snakemake  # noqa: F821
    templates = {Path(p).name: str(p) for p in smk.input.templates}
    inputs = PaperInputs.from_paths(
        manifest=smk.input.manifest,
        folds=smk.input.folds,
        summary=smk.input.summary,
        headline=smk.input.headline,
        pooled=smk.input.pooled,
        comparisons_meta=smk.input.get("comparisons_meta"),
        data_notes=[w["message"] for w in read_warnings(smk.input.get("warnings", []))],
        benchmarks=list(smk.input.benchmarks),
        model_summaries=[str(Path(d) / "summary.json") for d in smk.input.models],
    )
    render_paper(
        inputs,
        dict(smk.params.config),
        smk.output.tables,
        smk.output.variables,
        tables_template=templates["tables.tex.j2"],
        variables_template=templates["variables.tex.j2"],
        methods_out=smk.output.methods,
        methods_template=templates["methods.tex.j2"],
        repo_dir=Path(smk.scriptdir).parent,
    )
