"""Benchmark: one RadGen training step against the sum of its parts run alone, and its model FLOPs utilisation.

    python bench/bench_step.py [--paper-size] [--device cpu|cuda] [--dtype float32|bf16|fp16] [--batch B]
                               [--steps N] [--warmup W] [--matmul-size N] [--threads T] [--no-record]
    python bench/bench_step.py --steps 2 --no-record            # smallest check (demo size, seconds)

Random weights, synthetic batch: uniform images at the config's training size (demo 64 px, paper 224 px) and
synthetic reports (their real token lengths) for the text encoder and as the decoder's targets. Compares, in one
process and on the same tensors:
- `step_s`: the engine's step (autocast forward, cross-entropy + 0.3 x report loss, backward, gradient clipping,
  AdamW step); `fwd_bwd_s`: forward + backward only;
- `parts_s`: the image encoder (timm backbone + projections), the report generator (adapter + BART decoder, on
  detached image tokens) and the text encoder (BERT), each forward + backward alone; `fwd_bwd_over_parts` near 1
  means composing them adds nothing;
- FLOPs of one forward + backward (torch.utils.flop_counter.FlopCounterMode: matmuls, convolutions, attention)
  against `matmul_gflops`, the faster of two n x n matmul measurements in the same dtype taken here before and
  after the timings (`matmul_gflops_before_after`: far apart, the machine's load changed during the run and no
  ratio of this record is reliable): `mfu` (step) and each part's share;
- `step_aten_ops`: ATen operator calls in one step (forward, backward, clipping, optimiser) and `step_us_per_op`,
  the step's time per call: for the demo's tiny model the count, not the FLOPs, sets the time.
fp16 runs without a gradient scaler (timing only). `--paper-size` needs several GB of memory; on a CPU a step
takes seconds to tens of seconds.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

import benchlib
import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode


def make_batch(model: Any, batch: int, reports: list[str], device: torch.device) -> dict[str, Any]:
    gen = torch.Generator().manual_seed(0)
    texts = [reports[i % len(reports)] for i in range(batch)]
    return {
        "images": torch.rand(batch, 1, model.image_size, model.image_size, generator=gen).to(device),
        "labels": torch.randint(0, 3, (batch,), generator=gen).to(device),
        "text": model.processor.tokenize_text(texts, device),
        "report_labels": model.processor.tokenize_reports(texts, device),
    }


def step_functions(
    model: Any, b: dict[str, Any], device: torch.device, dtype: str
) -> dict[str, Callable[[], None]]:
    """The full step, forward + backward alone, and each part's forward + backward alone."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-6, weight_decay=0.01)

    def loss_of_model() -> torch.Tensor:
        with benchlib.autocast(device, dtype):
            out = model(images=b["images"], text=b["text"], report_labels=b["report_labels"])
            return (
                F.cross_entropy(out["logits"].float(), b["labels"]) + 0.3 * out["report_loss"].float().mean()
            )

    def step() -> None:
        loss = loss_of_model()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()

    def fwd_bwd() -> None:
        model.zero_grad(set_to_none=True)
        loss_of_model().backward()

    with torch.no_grad(), benchlib.autocast(device, dtype):
        z_img, tokens = model.image_encoder(b["images"])

    def image_encoder() -> None:
        with benchlib.autocast(device, dtype):
            z, t = model.image_encoder(b["images"])
            loss = z.float().mean() + t.float().mean()
        loss.backward()

    def report_generator() -> None:
        with benchlib.autocast(device, dtype):
            loss = model.report_generator(tokens, b["report_labels"], z_img).float().mean()
        loss.backward()

    def text_encoder() -> None:
        with benchlib.autocast(device, dtype):
            loss = model.text_encoder(b["text"]["input_ids"], b["text"]["attention_mask"]).float().mean()
        loss.backward()

    return {
        "step": step,
        "fwd_bwd": fwd_bwd,
        "image_encoder": image_encoder,
        "report_generator": report_generator,
        "text_encoder": text_encoder,
    }


def flops(fn: Callable[[], None]) -> int:
    counter = FlopCounterMode(display=False)
    with counter:
        fn()
    return counter.get_total_flops()


class OpCounter(TorchDispatchMode):
    """Counts the ATen operator calls made under it: a tiny model's step costs per operator, not per FLOP."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        self.calls += 1
        return func(*args, **(kwargs or {}))


def aten_calls(fn: Callable[[], None]) -> int:
    counter = OpCounter()
    with counter:
        fn()
    return counter.calls


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark with `argv` (default: the command line); return the record line."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    benchlib.add_common_options(parser)
    parser.add_argument(
        "--batch", type=int, default=None, help="images per step (default 8 paper size, 16 demo)"
    )
    parser.add_argument("--steps", type=int, default=10, help="timed steps per measurement")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps before each measurement")
    parser.add_argument(
        "--matmul-size", type=int, default=None, help="roofline matmul side (2048 cpu, 8192 cuda)"
    )
    args = parser.parse_args(argv)
    device = benchlib.setup(args)
    batch = args.batch or (8 if args.paper_size else 16)
    with benchlib.stage("build"):
        reports = benchlib.synthetic_reports(64, args.seed)
        model = benchlib.build_random_model(args.paper_size, reports).to(device).train()
        b = make_batch(model, batch, reports, device)
        fns = step_functions(model, b, device, args.dtype)
    parts = ("image_encoder", "report_generator", "text_encoder")
    with benchlib.stage("flops"):
        gflop = {name: flops(fns[name]) / 1e9 for name in ("fwd_bwd", *parts)}
        step_ops = aten_calls(fns["step"])
    n = args.matmul_size or (8192 if device.type == "cuda" else 2048)
    with benchlib.stage("matmul roofline (before)"):
        roofs = [benchlib.matmul_roofline(device, args.dtype, n)]
    seconds: dict[str, float] = {}
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    for name in ("step", "fwd_bwd", *parts):
        with benchlib.stage(name):
            seconds[name] = benchlib.seconds_per_call(fns[name], device, args.steps, args.warmup)
    peak = benchlib.peak_memory_mb(device)
    with benchlib.stage("matmul roofline (after)"):
        roofs.append(benchlib.matmul_roofline(device, args.dtype, n))
    roof = max(roofs)  # the best this process reached: a busy shared machine lowers one of them
    parts_sum = sum(seconds[p] for p in parts)
    figures: dict[str, Any] = {
        "model": "paper" if args.paper_size else "demo",
        "image_size": model.image_size,
        "batch": batch,
        "text_tokens": int(b["text"]["input_ids"].shape[1]),
        "report_tokens": int(b["report_labels"].shape[1]),
        "n_parameters": model.n_parameters(),
        "step_s": round(seconds["step"], 5),
        "train_images_per_s": round(batch / seconds["step"], 2),
        "fwd_bwd_s": round(seconds["fwd_bwd"], 5),
        "parts_s": {p: round(seconds[p], 5) for p in parts},
        "parts_sum_s": round(parts_sum, 5),
        "fwd_bwd_over_parts": round(seconds["fwd_bwd"] / parts_sum, 3),
        "fwd_bwd_gflop": round(gflop["fwd_bwd"], 3),
        "parts_gflop": {p: round(gflop[p], 3) for p in parts},
        "matmul_size": n,
        "matmul_gflops": round(roof, 1),
        "matmul_gflops_before_after": [round(r, 1) for r in roofs],
        "mfu": round(gflop["fwd_bwd"] / seconds["step"] / roof, 4),
        "fwd_bwd_roofline_share": round(gflop["fwd_bwd"] / seconds["fwd_bwd"] / roof, 4),
        "parts_roofline_share": {p: round(gflop[p] / seconds[p] / roof, 4) for p in parts},
        "step_aten_ops": step_ops,
        "step_us_per_op": round(seconds["step"] / step_ops * 1e6, 2),
        "peak_memory_mb": round(peak, 1),
    }
    return benchlib.record("bench_step", args, device, figures)


if __name__ == "__main__":
    main()
