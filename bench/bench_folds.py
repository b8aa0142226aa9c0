"""Benchmark: make_folds at public-collection scale (1e5 images, 3e4 patients, repeat studies) vs sklearn.

    .venv/bin/python bench/bench_folds.py [--images 100000] [--patients 30000] [--sklearn]

Prints wall time and the worst per-fold deviation of each class share from the whole (percentage points).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from radgen.data.folds import fold_summary, make_folds


def synthetic_manifest(n_images: int, n_patients: int, seed: int = 0) -> pd.DataFrame:
    """60 % of patients with one study, the rest with several (long tail, like follow-up films); one label each
    at the seed paper's ratio; about n_images images in all."""
    rng = np.random.default_rng(seed)
    repeat = rng.random(n_patients) < 0.4
    lam = max((n_images / n_patients - 0.6) / 0.4 - 2, 0)
    sizes = np.where(repeat, 2 + np.minimum(rng.geometric(1 / (1 + lam), n_patients) - 1, 60), 1)
    labels = rng.choice(np.array(["normal", "pneumonia", "tb"]), size=n_patients, p=[0.086, 0.696, 0.218])
    return pd.DataFrame(
        {
            "image_id": np.arange(sizes.sum()).astype(str),
            "label": np.repeat(labels, sizes),
            "patient_id": np.repeat(np.arange(n_patients), sizes).astype(str),
        }
    )


def worst_deviation(manifest: pd.DataFrame, folds: pd.DataFrame) -> float:
    summary = fold_summary(manifest, folds)
    overall = manifest["label"].value_counts(normalize=True)
    return max(float((summary[f"share_{c}"] - overall[c]).abs().max()) for c in overall.index) * 100


def sklearn_folds(manifest: pd.DataFrame, k: int, seed: int) -> pd.DataFrame:
    from sklearn.model_selection import StratifiedGroupKFold

    fold = np.empty(len(manifest), dtype=int)
    splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    for f, (_, test) in enumerate(
        splitter.split(np.zeros(len(manifest)), manifest["label"], manifest["patient_id"])
    ):
        fold[test] = f
    return pd.DataFrame({"image_id": manifest["image_id"], "fold": fold, "inner": "train"})


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--patients", type=int, default=30_000)
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sklearn", action="store_true", help="also time sklearn's StratifiedGroupKFold")
    args = parser.parse_args()
    manifest = synthetic_manifest(args.images, args.patients)
    n_pat = manifest["patient_id"].nunique()
    print(
        f"{len(manifest)} images, {n_pat} patients, "
        f"{(manifest.groupby('patient_id').size() > 1).mean():.0%} with repeat studies, k={args.k}"
    )
    times = []
    for r in range(args.repeats):
        start = time.perf_counter()
        folds = make_folds(manifest, k=args.k, seed=r)
        times.append(time.perf_counter() - start)
    print(
        f"radgen make_folds (incl. inner split and leakage check): best {min(times):.3f} s, "
        f"median {np.median(times):.3f} s; worst class-share deviation {worst_deviation(manifest, folds):.3f} pts"
    )
    if args.sklearn:
        start = time.perf_counter()
        folds = sklearn_folds(manifest, args.k, 0)
        print(
            f"sklearn StratifiedGroupKFold(shuffle=True): {time.perf_counter() - start:.3f} s; "
            f"worst class-share deviation {worst_deviation(manifest, folds):.3f} pts"
        )


if __name__ == "__main__":
    main()
