"""Shared parts of the bench_*.py comparisons: options, models with random weights, timing, the record line.

Not a benchmark itself. The scripts import it as `benchlib` (they run as `python bench/<script>.py`, which puts
bench/ on the import path).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import datetime as dt
import json
import os
import platform
import resource
import statistics
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "RESULTS.md"
DTYPES = {"float32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


# --------------------------------------------------------------------------- options
def add_common_options(parser: argparse.ArgumentParser) -> None:
    """--paper-size, --device, --dtype, --threads, --record / --no-record."""
    parser.add_argument(
        "--paper-size",
        action="store_true",
        help="config/paper.yaml's architecture (Swin-B, BART-base, BERT-base shapes, 224 px), random weights",
    )
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument(
        "--dtype", default="float32", choices=tuple(DTYPES), help="autocast dtype (float32: no autocast)"
    )
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--record", type=Path, default=RESULTS, help="file the JSON line is appended to")
    parser.add_argument("--no-record", action="store_true", help="print the JSON line only")


def setup(args: argparse.Namespace) -> torch.device:
    """Threads, seed and the device (an error when cuda is asked for and absent)."""
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device available")
    return torch.device(args.device)


def autocast(device: torch.device, dtype: str) -> contextlib.AbstractContextManager:
    """The engine's mixed precision (torch.autocast) for bf16/fp16; nothing for float32."""
    if dtype == "float32":
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=DTYPES[dtype])


# --------------------------------------------------------------------------- timing
def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def seconds_per_call(fn: Callable[[], Any], device: torch.device, steps: int, warmup: int = 1) -> float:
    """Wall seconds of one fn() call after `warmup` untimed ones: on a CPU the median of `steps` calls timed one
    by one (robust to other work on a shared machine), on CUDA the mean over `steps` calls between two
    synchronisations (kernels run asynchronously; a sync per call would add its own stall)."""
    for _ in range(warmup):
        fn()
    sync(device)
    if device.type == "cpu":
        times = []
        for _ in range(max(steps, 1)):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return statistics.median(times)
    start = time.perf_counter()
    for _ in range(steps):
        fn()
    sync(device)
    return (time.perf_counter() - start) / max(steps, 1)


def matmul_roofline(device: torch.device, dtype: str, n: int, steps: int | None = None) -> float:
    """GFLOP/s of an n x n by n x n torch.matmul in `dtype` on `device`: what this process can reach.
    Default steps: 3 on a CPU (a 2048 matmul takes ~0.2 s), 20 on CUDA (an 8192 one takes ~2 ms)."""
    dt_ = DTYPES[dtype]
    a = torch.randn(n, n, device=device, dtype=dt_)
    b = torch.randn(n, n, device=device, dtype=dt_)
    steps = steps or (20 if device.type == "cuda" else 3)
    return 2 * n**3 / seconds_per_call(lambda: torch.matmul(a, b), device, steps, warmup=2) / 1e9


def peak_memory_mb(device: torch.device) -> float:
    """Peak GPU memory allocated by torch (cuda), else the process's peak resident set size."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


# --------------------------------------------------------------------------- models
def synthetic_reports(n: int, seed: int = 0) -> list[str]:
    """Reports of n synthetic studies (no pixels drawn): tokenizer training and realistic text lengths."""
    from radgen.data.synthetic.cases import sample_studies
    from radgen.data.synthetic.reports import write_report

    studies = sample_studies(n, seed, {"normal": 0.1, "pneumonia": 0.6, "tb": 0.3}, 0.3)
    return [write_report(s) for s in studies]


def model_config(paper_size: bool) -> tuple[dict[str, Any], int]:
    """RadGen's model block and training image size from config/paper.yaml or config/config.yaml."""
    from radgen.config import load_config, variant_config

    cfg = load_config(ROOT / "config" / ("paper.yaml" if paper_size else "config.yaml"))
    return copy.deepcopy(variant_config(cfg, "radgen")["model"]), int(cfg["data"]["image_size"])


def _paper_hf_configs(model_cfg: dict[str, Any], report_tok: Any, text_tok: Any) -> dict[str, dict[str, Any]]:
    """BART-base / BERT-base shaped configs with their full vocabularies (the output layer's cost included)."""
    from transformers import AutoConfig, BartConfig

    gen, txt = model_cfg["report_generator"], model_cfg["text_encoder"]
    bart = BartConfig(
        vocab_size=max(len(report_tok), int(gen["vocab_size"])),
        pad_token_id=report_tok.pad_token_id,
        bos_token_id=report_tok.bos_token_id,
        eos_token_id=report_tok.eos_token_id,
        decoder_start_token_id=report_tok.eos_token_id,
        forced_bos_token_id=report_tok.bos_token_id,
        **gen["config_overrides"],
    )
    bert = AutoConfig.for_model(
        "bert",
        vocab_size=max(len(text_tok), int(txt["vocab_size"])),
        pad_token_id=text_tok.pad_token_id,
        **txt["config_overrides"],
    )
    return {"report_generator": bart.to_dict(), "text_encoder": bert.to_dict()}


def build_random_model(paper_size: bool, reports: list[str]) -> Any:
    """RadGen with random weights, no download: the demo's model as the workflow builds it, or the paper's
    architecture (Swin-B with its 3-channel ImageNet input, BART-base and BERT-base shapes and vocabularies)."""
    from radgen.models import build_model, train_report_tokenizer, train_text_tokenizer

    model_cfg, size = model_config(paper_size)
    if not paper_size:
        return build_model(model_cfg, image_size=size, train_reports=reports)
    gen, txt = model_cfg["report_generator"], model_cfg["text_encoder"]
    tokenizers = {
        "report": train_report_tokenizer(reports, int(gen["vocab_size"]), int(gen["max_length"])),
        "text": train_text_tokenizer(reports, int(txt["vocab_size"]), int(txt["max_length"])),
    }
    hf = _paper_hf_configs(model_cfg, tokenizers["report"], tokenizers["text"])
    return build_model(model_cfg, image_size=size, tokenizers=tokenizers, hf_configs=hf)


def words_only(model: Any, full_length: bool = True) -> None:
    """Random weights write any id: bias the output layer against ids the tokenizer cannot write as text and,
    when `full_length`, against special tokens (end of sequence, padding, ...) unless generate forces them, so
    every report runs to its maximum length. Every logit is still computed: the decoding work is unchanged."""
    bart, tokenizer = model.report_generator.bart, model.processor.report_tokenizer
    with torch.no_grad():
        bart.final_logits_bias[..., len(tokenizer) :] = -1e4
        if full_length:
            bart.final_logits_bias[..., tokenizer.all_special_ids] = -1e4


# --------------------------------------------------------------------------- the record
def machine(device: torch.device) -> dict[str, Any]:
    """Where the figures come from."""
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def record(
    bench: str, args: argparse.Namespace, device: torch.device, figures: dict[str, Any]
) -> dict[str, Any]:
    """Print one JSON line (date, machine, settings, figures) and append it to --record unless --no-record."""
    settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    settings.pop("record", None)
    settings.pop("no_record", None)
    line = {
        "bench": bench,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        **machine(device),
        "settings": settings,
        **figures,
    }
    text = json.dumps(line)
    print(text, flush=True)
    if not args.no_record:
        with open(args.record, "a") as fh:
            fh.write(text + "\n")
    return line


@contextlib.contextmanager
def stage(name: str, verbose: bool = True) -> Iterator[None]:
    """Progress on stderr (a paper-size run on a CPU takes minutes)."""
    import sys

    start = time.perf_counter()
    if verbose:
        print(f"[{name}] ...", file=sys.stderr, flush=True)
    yield
    if verbose:
        print(f"[{name}] {time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)
