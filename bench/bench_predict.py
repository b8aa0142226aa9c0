"""Benchmark: `radgen predict` cold start (import + load) and per-image latency, single and batched.

    python bench/bench_predict.py [--paper-size] [--checkpoint DIR] [--device cpu|cuda] [--dtype float32|bf16]
                                  [--images N] [--repeats R] [--threads T] [--no-record]
    python bench/bench_predict.py --images 4 --repeats 2 --no-record      # smallest check (seconds)

The checkpoint is RadGen with random weights (radgen.models.build_model + save_pretrained: the demo's model, or
with --paper-size the paper's architecture; special tokens suppressed so that every report runs to the configured
length, benchlib.words_only), unless --checkpoint names a trained model directory; the inputs are
N synthetic chest X-ray PNGs (radgen.data.synthetic). Measures, on the same files:
- cold start in fresh processes: `python -m radgen.cli predict IMAGE --checkpoint DIR` end to end
  (`cli_one_image_s`), and inside a fresh process the import of radgen.inference (`import_s`), load_predictor
  (`load_s`) and the first one-image prediction (`first_predict_s`);
- warm, in this process, Predictor.predict_files (reading the file included): one image at a time (median over
  --repeats calls, `single_image_ms`) and all N in one batch (`batched_ms_per_image`, `batched_images_per_s`).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import benchlib
import torch

COLD = """
import json, sys, time
t0 = time.perf_counter()
import torch
from radgen.inference import load_predictor
t1 = time.perf_counter()
predictor = load_predictor(sys.argv[1], torch.device(sys.argv[2]))
t2 = time.perf_counter()
predictor.predict_files([sys.argv[3]], batch_size=1)
t3 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "load_s": t2 - t1, "first_predict_s": t3 - t2}))
"""


def make_inputs(directory: Path, args: argparse.Namespace) -> tuple[Path, list[str]]:
    """A checkpoint (random weights unless --checkpoint) and N synthetic PNGs."""
    from radgen.data.synthetic import generate_synthetic

    manifest = generate_synthetic(directory / "images", n_images=args.images, image_size=256, seed=args.seed)
    if args.checkpoint is not None:
        return args.checkpoint, list(manifest["path"])
    model = benchlib.build_random_model(
        args.paper_size, list(manifest["report"]) + benchlib.synthetic_reports(64)
    )
    benchlib.words_only(model)  # every report runs to the configured length: the slowest case
    model.save_pretrained(directory / "model")
    return directory / "model", list(manifest["path"])


def run_fresh(cmd: list[str], threads: int | None) -> tuple[float, str]:
    """Wall seconds and stdout of a fresh Python process (this process's environment, optional thread count)."""
    env = dict(os.environ)
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
    return time.perf_counter() - start, done.stdout


def cold_start(checkpoint: Path, image: str, args: argparse.Namespace) -> dict[str, float]:
    cli_s, _ = run_fresh(
        [
            sys.executable,
            "-m",
            "radgen.cli",
            "predict",
            image,
            "--checkpoint",
            str(checkpoint),
            "--device",
            args.device,
        ],
        args.threads,
    )
    _, out = run_fresh([sys.executable, "-c", COLD, str(checkpoint), args.device, image], args.threads)
    return {"cli_one_image_s": cli_s, **json.loads(out.strip().splitlines()[-1])}


def warm(
    checkpoint: Path, paths: list[str], args: argparse.Namespace, device: torch.device
) -> dict[str, float]:
    from radgen.inference import load_predictor

    predictor = load_predictor(checkpoint, device)
    single: list[float] = []
    with torch.no_grad(), benchlib.autocast(device, args.dtype):
        predictor.predict_files(paths[:1], batch_size=1)  # warm-up
        for i in range(args.repeats):
            benchlib.sync(device)
            start = time.perf_counter()
            predictor.predict_files([paths[i % len(paths)]], batch_size=1)
            benchlib.sync(device)
            single.append(time.perf_counter() - start)
        benchlib.sync(device)
        start = time.perf_counter()
        predictor.predict_files(paths, batch_size=len(paths))
        benchlib.sync(device)
        batched = time.perf_counter() - start
    return {
        "single_image_ms": statistics.median(single) * 1e3,
        "batched_ms_per_image": batched / len(paths) * 1e3,
        "batched_images_per_s": len(paths) / batched,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark with `argv` (default: the command line); return the record line."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    benchlib.add_common_options(parser)
    parser.add_argument(
        "--checkpoint", type=Path, default=None, help="a trained model directory to use instead"
    )
    parser.add_argument("--images", type=int, default=16, help="synthetic PNGs (the batch)")
    parser.add_argument("--repeats", type=int, default=5, help="single-image calls (median)")
    parser.add_argument("--skip-cold", action="store_true", help="no fresh processes")
    args = parser.parse_args(argv)
    device = benchlib.setup(args)
    with tempfile.TemporaryDirectory() as tmp:
        with benchlib.stage("inputs"):
            checkpoint, paths = make_inputs(Path(tmp), args)
        figures: dict[str, Any] = {
            "model": "given" if args.checkpoint else ("paper" if args.paper_size else "demo"),
            "checkpoint_mb": round(
                sum(f.stat().st_size for f in checkpoint.rglob("*") if f.is_file()) / 2**20, 1
            ),
        }
        if not args.skip_cold:
            with benchlib.stage("cold start"):
                figures.update(cold_start(checkpoint, paths[0], args))
        with benchlib.stage("warm"):
            figures.update(warm(checkpoint, paths, args, device))
    figures = {k: round(v, 4) if isinstance(v, float) else v for k, v in figures.items()}
    figures["peak_memory_mb"] = round(benchlib.peak_memory_mb(device), 1)
    return benchlib.record("bench_predict", args, device, figures)


if __name__ == "__main__":
    main()
