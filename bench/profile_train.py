"""Profile a few epochs of one training job: which Python functions and which torch operators take the time.

    python bench/profile_train.py [--variant radgen] [--fold 0] [--epochs 3] [--threads 1] [--data DIR]
                                  [--config PATH] [--seed 0] [--top 25] [--torch-ops] [--stats FILE]

Trains `--variant` on `--fold` for `--epochs` epochs (the config's other settings unchanged; the text encoder
is frozen for the first `freeze_text_encoder_epochs`, so profile past them to see a typical epoch) under
cProfile and prints the functions with the most cumulative and the most own time, then the job's
`time_breakdown_s` (summary.json) with each part's share. `--torch-ops` adds torch.profiler's operator table
(self CPU time; its own overhead inflates tiny operators). Data as in bench_train.py: the development seed
unless `--seed`; `--data DIR` reuses (or creates) a manifest/folds/cache directory, e.g. a workflow run's
results/data. A variant with `reports_from` needs `--reports-from-dir` (a trained model of that variant).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import pstats
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_train import ROOT, make_data

from radgen.config import load_config, variant_config
from radgen.train import train_fold


def shares(breakdown: dict[str, float]) -> list[tuple[str, float, float]]:
    """(part, seconds, share of the sum), largest first."""
    total = sum(breakdown.values()) or 1.0
    return sorted(((k, v, v / total) for k, v in breakdown.items()), key=lambda r: -r[1])


def top_functions(profile: cProfile.Profile, sort: str, top: int) -> str:
    out = io.StringIO()
    pstats.Stats(profile, stream=out).strip_dirs().sort_stats(sort).print_stats(top)
    return out.getvalue()


def torch_ops(top: int) -> Any:
    """A torch.profiler context (CPU activities) whose table is printed at exit."""
    from torch.profiler import ProfilerActivity, profile

    @contextlib.contextmanager
    def ctx():
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            yield
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=top))

    return ctx()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--variant", default="radgen")
    parser.add_argument("--fold", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0, help="synthetic seed (0: the development seed)")
    parser.add_argument("--data", type=Path, default=None, help="data directory to create or reuse")
    parser.add_argument("--config", type=Path, default=ROOT / "config" / "config.yaml")
    parser.add_argument("--reports-from-dir", type=Path, default=None)
    parser.add_argument("--top", type=int, default=25, help="rows per table")
    parser.add_argument("--torch-ops", action="store_true", help="also torch.profiler's operator table")
    parser.add_argument("--stats", type=Path, default=None, help="write the raw cProfile stats here")
    args = parser.parse_args()

    config = load_config(args.config)
    config["data"]["synthetic"]["seed"] = args.seed
    variant = variant_config(config, args.variant)
    variant["training"]["epochs"] = args.epochs
    with tempfile.TemporaryDirectory() as tmp:
        data = make_data(config, args.data or Path(tmp) / "data")
        profiler = cProfile.Profile()
        ops = torch_ops(args.top) if args.torch_ops else contextlib.nullcontext()
        start = time.perf_counter()
        with ops:
            profiler.enable()
            summary = train_fold(
                variant,
                **data,
                fold=args.fold,
                output_dir=Path(tmp) / "model",
                threads=args.threads,
                reports_model_dir=args.reports_from_dir,
                progress=False,
            )
            profiler.disable()
        wall = time.perf_counter() - start
    if args.stats:
        profiler.dump_stats(args.stats)
    print(f"# {args.variant} fold {args.fold}: {summary['epochs_run']} epochs in {wall:.1f} s (profiled)\n")
    print("## cumulative time\n" + top_functions(profiler, "cumulative", args.top))
    print("## own time\n" + top_functions(profiler, "tottime", args.top))
    print("## time_breakdown_s")
    for part, seconds, share in shares(summary["time_breakdown_s"]):
        print(f"{part:<28} {seconds:9.2f} s {share:6.1%}")


if __name__ == "__main__":
    main()
