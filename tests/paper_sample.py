"""Write a small, made-up results tree with the exact layout of CONTRACTS.md.

Why: the paper's rendering and layout can be checked (a test fixture, never part of the workflow) without training
anything. The numbers are random but plausible and deterministic for a seed; they are not results of anything.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from radgen.config import variant_config
from radgen.constants import CLASSES
from radgen.evaluate.headline import write_headline
from radgen.variants import variant_set

CLASSIFICATION = (
    "macro_auc",
    "auc_normal",
    "auc_pneumonia",
    "auc_tb",
    "macro_f1",
    "accuracy",
    "balanced_accuracy",
)
SENS_SPEC = tuple(f"{kind}_{c}" for kind in ("sensitivity", "specificity") for c in CLASSES)
REPORT = (
    "BLEU-1",
    "BLEU-2",
    "BLEU-3",
    "BLEU-4",
    "ROUGE-L",
    "CIDEr",
    "ce_precision_micro",
    "ce_recall_micro",
    "ce_f1_micro",
    "ce_precision_macro",
    "ce_recall_macro",
    "ce_f1_macro",
)


def _generates_reports(config: Mapping[str, Any], name: str) -> bool:
    return bool(variant_config(dict(config), name)["model"].get("report_generator", {}).get("enabled"))


def write_sample_results(
    root: str | Path,
    config: Mapping[str, Any],
    *,
    n_images: int = 240,
    k: int = 5,
    seed: int = 0,
    meteor: bool = False,
    report_metrics: bool = True,
) -> Path:
    """Create ``root/results/...`` for the variants of ``config``; returns the results directory."""
    rng = np.random.default_rng(seed)
    res = Path(root) / "results"
    (res / "data").mkdir(parents=True, exist_ok=True)
    (res / "metrics").mkdir(parents=True, exist_ok=True)

    # Data: patients with 1-3 studies, class ratio of the seed paper, folds grouped by patient.
    labels = rng.choice(list(CLASSES), size=n_images, p=[0.086, 0.696, 0.218])
    patient_of, pid, i = [], 0, 0
    while i < n_images:
        n = int(rng.choice([1, 1, 2, 3]))
        patient_of += [f"P{pid:04d}"] * n
        pid += 1
        i += n
    patient_of = patient_of[:n_images]
    ids = [f"img{j:05d}" for j in range(n_images)]
    reports = [f"Finding_{j}: 50% opacity & no effusion (#{j})." for j in range(n_images)]
    pd.DataFrame(
        {
            "image_id": ids,
            "path": [f"data/{x}.png" for x in ids],
            "label": labels,
            "patient_id": patient_of,
            "report": reports,
        }
    ).to_csv(res / "data" / "manifest.csv", index=False)
    fold_of_patient = {p: int(rng.integers(k)) for p in sorted(set(patient_of))}
    pd.DataFrame(
        {
            "image_id": ids,
            "fold": [fold_of_patient[p] for p in patient_of],
            "inner": rng.choice(["train", "val"], size=n_images, p=[0.85, 0.15]),
        }
    ).to_csv(res / "data" / "folds.csv", index=False)

    # Metrics: RadGen a little better than the rest, ablations slightly below it.
    summary, pooled, comparisons = [], [], []
    names = list(config["variants"])
    for v_i, name in enumerate(names):
        group = (config["variants"][name] or {}).get("group", "baseline")
        shift = 0.0 if group == "main" else -0.02 - 0.01 * v_i
        metrics = list(CLASSIFICATION + SENS_SPEC)
        if report_metrics and _generates_reports(config, name):
            metrics += list(REPORT) + (["METEOR"] if meteor else [])
        for m in metrics:
            base = 0.25 if m.startswith(("BLEU", "CIDEr", "ROUGE", "METEOR")) else 0.85
            folds = np.clip(base + shift + rng.normal(0, 0.02, size=k), 0, 1)
            summary.append(
                {"variant": name, "metric": m, "mean": folds.mean(), "std": folds.std(ddof=1), "n_folds": k}
            )
            if m in CLASSIFICATION:
                v = float(np.clip(base + shift + rng.normal(0, 0.01), 0, 1))
                pooled.append(
                    {"variant": name, "metric": m, "value": v, "ci_low": v - 0.03, "ci_high": v + 0.02}
                )
        if group != "main":
            for c in CLASSES:
                p = float(rng.uniform(0, 0.2)) if v_i % 2 else float(rng.uniform(0.0001, 0.01))
                comparisons.append(
                    {
                        "variant": name,
                        "class": c,
                        "auc": 0.8,
                        "auc_reference": 0.85,
                        "delta": -0.05,
                        "z": -2.0,
                        "p": p / 3,
                        "p_holm": min(1.0, p),
                        "holm_family": "per-class DeLong",
                    }
                )
            p_macro = 0.004 if v_i % 2 else 0.3
            comparisons.append(
                {
                    "variant": name,
                    "class": "macro",
                    "auc": 0.83,
                    "auc_reference": 0.85,
                    "delta": -0.02,
                    "p": p_macro / 2,
                    "p_holm": p_macro,
                    "ci_low": -0.04,
                    "ci_high": -0.005 if p_macro < 0.05 else 0.01,
                    "holm_family": "macro-AUC",
                    "verdict": "lower" if p_macro < 0.05 else "no significant difference",
                }
            )
        # Training artefacts per fold.
        for fold in range(k):
            bench = res / "benchmarks" / "train" / name / f"fold{fold}.tsv"
            bench.parent.mkdir(parents=True, exist_ok=True)
            s = 30 + 10 * v_i + rng.uniform(0, 5)
            bench.write_text(
                "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
                f"{s:.4f}\t0:00:{int(s):02d}\t{900 + 50 * v_i:.2f}\t2500.1\t850.3\t860.2\t1.2\t3.4\t95.0\t{s * 0.9:.2f}\n"
            )
            model_dir = res / "models" / name / f"fold{fold}"
            model_dir.mkdir(parents=True, exist_ok=True)
            (model_dir / "summary.json").write_text(
                json.dumps(
                    {
                        "n_parameters": 250_000 + 40_000 * v_i,
                        "best_epoch": int(rng.integers(3, 8)),
                        "epochs_run": 8,
                        "train_seconds": s - 2,
                        "best_val_macro_auc": 0.9,
                        "device": "cpu",
                    }
                )
            )
    pd.DataFrame(summary).to_csv(res / "metrics" / "summary.csv", index=False)
    pd.DataFrame(pooled).to_csv(res / "metrics" / "pooled.csv", index=False)
    table = pd.DataFrame(comparisons)
    table.to_csv(res / "metrics" / "comparisons.csv", index=False)
    families = {
        name: {"n_tests": int((table["holm_family"] == name).sum())}
        for name in ("per-class DeLong", "macro-AUC")
    }
    (res / "metrics" / "comparisons.json").write_text(
        json.dumps({"alpha": 0.05, "correction": "Holm", "families": families, "unit": "patient"})
    )
    specs = variant_set(dict(config))  # the headline rule of the workflow, on the made-up metrics
    write_headline(
        res / "metrics" / "summary.csv",
        res / "metrics" / "comparisons.csv",
        res / "metrics" / "headline.json",
        reference=specs.reference.name,
        groups={name: spec.group for name, spec in specs.items()},
    )
    return res


FIGURES: tuple[str, ...] = (
    "roc_curves",
    "confusion_matrix",
    "calibration",
    "qualitative_examples",
    "training_curves",
)
"""The figure files paper/main.tex includes from results/figures/ (made by the evaluation rules in a real run)."""


def write_sample_figures(results: str | Path) -> list[Path]:
    """Placeholder PDFs under the names main.tex expects, to check the page layout with figures present."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(results) / "figures"
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in FIGURES:
        fig, ax = plt.subplots(figsize=(6, 3.2))
        x = np.linspace(0, 1, 50)
        ax.plot(x, np.sqrt(x), label="sample")
        ax.set_title(f"sample figure: {name}")
        ax.legend()
        fig.tight_layout()
        path = out / f"{name}.pdf"
        fig.savefig(path)
        plt.close(fig)
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> None:
    """``python tests/paper_sample.py ROOT`` writes ROOT/results from config/config.yaml's variants."""
    from radgen.config import load_config

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("root")
    parser.add_argument("--config", default="config/config.yaml")
    parser.add_argument("--meteor", action="store_true")
    parser.add_argument("--figures", action="store_true", help="also write placeholder figures")
    args = parser.parse_args(argv)
    res = write_sample_results(args.root, load_config(args.config), meteor=args.meteor)
    if args.figures:
        write_sample_figures(res)
    print(res)


if __name__ == "__main__":
    main()
