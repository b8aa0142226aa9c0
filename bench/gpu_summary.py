"""The closing summary of bench/gpu.sh: one line per benchmark JSON line of its log.

    python bench/gpu_summary.py LOG

Reads the lines that bench_step.py, bench_generation.py and bench_predict.py printed (other lines are skipped)
and prints the figures issue 14 asks of a GPU: training images/s, MFU and peak memory; batched inference
images/s with generation and its ratio to the naive loop; single-image latency and cold start of `radgen predict`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any


def describe(r: dict[str, Any]) -> str:
    """One human line for one benchmark record."""
    head = f"{r['bench']:<17} {r.get('gpu', r['processor'])} {r['settings']['dtype']} {r.get('model', '')}"
    if r["bench"] == "bench_step":
        return (
            f"{head} batch {r['batch']}: training {r['train_images_per_s']:.1f} images/s, MFU {r['mfu']:.1%} "
            f"(matmul {r['matmul_gflops']:.0f} GFLOP/s), fwd+bwd/parts {r['fwd_bwd_over_parts']}, "
            f"peak {r['peak_memory_mb']:.0f} MB"
        )
    if r["bench"] == "bench_generation":
        rates = ", ".join(f"{k} {v:.1f}" for k, v in r["images_per_s"].items())
        return (
            f"{head}: {r['settings']['tokens']}-token generation {rates} images/s, batched/naive "
            f"{r.get('batched_over_naive')}, peak {r['peak_memory_mb']:.0f} MB"
        )
    if r["bench"] == "bench_predict":
        return (
            f"{head}: predict single image {r['single_image_ms']:.1f} ms, batched "
            f"{r['batched_images_per_s']:.1f} images/s, cold start (CLI, one image) "
            f"{r.get('cli_one_image_s', float('nan')):.1f} s"
        )
    return f"{head}: {json.dumps(r)}"


def summarise(lines: Iterable[str]) -> list[str]:
    """describe() of every JSON record among `lines`, in order."""
    return [describe(json.loads(line)) for line in lines if line.startswith("{")]


def main() -> None:
    for text in summarise(Path(sys.argv[1]).read_text().splitlines()):
        print(text)


if __name__ == "__main__":
    main()
