"""Benchmark: wall time of one training job (and its prediction) on the default config's synthetic data.

    python bench/bench_train.py [--variant radgen] [--fold 0] [--threads 1] [--data DIR] [--config PATH] [--seed 0]

The synthetic data are drawn with the DEVELOPMENT seed (data.synthetic.seed 0, `--seed` to change) whatever the
config says: a benchmark is a development tool, and the paper's seed must never inform a choice
(config/README.md, "How settings are chosen").

The data (manifest, folds, cache) are generated with radgen.data into DIR (a temporary directory by default;
pass --data to reuse it across runs); results/ is never touched. Prints one JSON line: seconds for data,
training, prediction, held-out macro-AUC, and the share of generated reports naming the true class's main
finding (radgen.evaluate.labeler.main_finding_rate), when the variant generates reports.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

T_START = time.time()

import numpy as np  # noqa: E402 - timed imports

from radgen.config import load_config, variant_config  # noqa: E402
from radgen.constants import CLASSES  # noqa: E402
from radgen.evaluate.labeler import main_finding_rate  # noqa: E402
from radgen.evaluate.metrics import macro_auc  # noqa: E402
from radgen.predict import predict_fold  # noqa: E402
from radgen.train import train_fold  # noqa: E402
from radgen.variants import generates_reports  # noqa: E402

T_IMPORT = time.time() - T_START
ROOT = Path(__file__).resolve().parent.parent


def make_data(config: dict, directory: Path) -> dict[str, Path]:
    from radgen.data.cache import build_cache
    from radgen.data.folds import make_folds
    from radgen.data.synthetic import generate_synthetic

    paths = {
        "manifest": directory / "manifest.csv",
        "folds": directory / "folds.csv",
        "cache": directory / "cache.npy",
        "cache_index": directory / "cache_index.csv",
    }
    if all(p.exists() for p in paths.values()):
        return paths
    syn, data = config["data"]["synthetic"], config["data"]
    manifest = generate_synthetic(
        directory / "images",
        n_images=syn["n_images"],
        image_size=syn["image_size"],
        seed=syn["seed"],
        proportions=syn["proportions"],
        repeat_study_fraction=syn["repeat_study_fraction"],
    )
    folds = make_folds(
        manifest,
        k=config["folds"]["k"],
        seed=config["folds"]["seed"],
        inner_val_fraction=config["folds"]["inner_val_fraction"],
    )
    build_cache(manifest, paths["cache"], paths["cache_index"], image_size=data["image_size"])
    manifest.to_csv(paths["manifest"], index=False)
    folds.to_csv(paths["folds"], index=False)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", default="radgen")
    parser.add_argument("--fold", type=int, default=0)
    parser.add_argument("--seed", type=int, default=0, help="synthetic seed (0: the development seed)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--data", type=Path, default=None, help="data directory to create or reuse")
    parser.add_argument("--config", type=Path, default=ROOT / "config" / "config.yaml")
    parser.add_argument(
        "--reports-from-dir",
        type=Path,
        default=None,
        help="model dir of the reports_from variant (trained on the fly when missing)",
    )
    args = parser.parse_args()

    config = load_config(args.config)
    config["data"]["synthetic"]["seed"] = args.seed
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        t0 = time.time()
        data = make_data(config, args.data or work / "data")
        t_data = time.time() - t0
        v = variant_config(config, args.variant)
        reports_dir = args.reports_from_dir
        if v["reports_from"] and reports_dir is None:  # its source model first (not timed)
            reports_dir = work / "source"
            train_fold(
                variant_config(config, v["reports_from"]),
                **data,
                fold=args.fold,
                output_dir=reports_dir,
                threads=args.threads,
                progress=False,
            )
        reports_csv = None
        if reports_dir is not None:
            reports_csv = work / "source.csv"
            predict_fold(reports_dir, **data, fold=args.fold, threads=args.threads).to_csv(
                reports_csv, index=False
            )
        t1 = time.time()
        summary = train_fold(
            v,
            **data,
            fold=args.fold,
            output_dir=work / "model",
            threads=args.threads,
            reports_model_dir=reports_dir,
            progress=False,
        )
        t_train = time.time() - t1
        t2 = time.time()
        preds = predict_fold(
            work / "model", **data, fold=args.fold, threads=args.threads, reports_predictions=reports_csv
        )
        t_predict = time.time() - t2
    y = np.array([CLASSES.index(c) for c in preds["label"]])
    auc = macro_auc(y, preds[[f"p_{c}" for c in CLASSES]].to_numpy())
    reports = preds["report_generated"].fillna("").astype(str)
    named = (
        main_finding_rate(reports.tolist(), preds["label"].tolist())
        if generates_reports(v["model"])
        else None
    )
    print(
        json.dumps(
            {
                "variant": args.variant,
                "fold": args.fold,
                "threads": args.threads,
                "import_s": round(T_IMPORT, 2),
                "data_s": round(t_data, 2),
                "train_s": round(t_train, 2),
                "predict_s": round(t_predict, 2),
                "epochs_run": summary["epochs_run"],
                "best_epoch": summary["best_epoch"],
                "synthetic_seed": args.seed,
                "held_out_macro_auc": round(auc, 4),
                "reports_naming_main_finding": named,
            }
        )
    )


if __name__ == "__main__":
    main()
