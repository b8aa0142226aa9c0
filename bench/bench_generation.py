"""Benchmark: batched report generation against a naive loop (one image at a time, no key/value cache).

    python bench/bench_generation.py [--paper-size] [--device cpu|cuda] [--dtype float32|bf16|fp16]
                                     [--images N] [--naive-images K] [--tokens 64] [--beams 3] [--threads T]
                                     [--skip-naive] [--allow-eos] [--no-record]
    python bench/bench_generation.py --images 2 --tokens 8 --no-record     # smallest check (seconds)

Same randomly initialised weights for both (the demo's model from config/config.yaml, or with --paper-size the
paper's architecture: Swin-B, BART-base-shaped decoder with its 50,265-token vocabulary, no download), same
uniform images. Both include the image encoder and the tokenizer's decoding to text.
- batched: RadGenModel.generate_reports on all N images at once (what training's text mix, validation and
  prediction call: radgen's greedy loop, transformers' generate for beam search);
- batched greedy through transformers' `generate` (radgen's greedy loop switched off): the loop's gain, and
  `greedy_loop_reports_equal`.
- naive: per image, the BART decoder called on the whole prefix at every step (use_cache=False), greedy and a
  plain beam search over `--beams` beams; it follows generate's forced BOS / EOS rules, so its greedy reports
  must equal the batched ones (`greedy_reports_equal`).
Special tokens (end of sequence, padding, ...) are suppressed unless forced (a -1e4 bias on their logits, in
this process only), so that every report is `--tokens` long, of words, and both sides do the same amount of
decoding; `--allow-eos` keeps them. Ids beyond the tokenizer trained here (the paper-size vocabulary is
BART-base's 50,265) are suppressed as well, so every generated token decodes to text; the output layer still
computes every logit. The greedy comparison is exact in float32; under bf16/fp16
batch-dependent rounding may flip a near tie.
Reports images/s of each and the ratios batched / naive.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import benchlib
import torch


def naive_generate(model: Any, image: torch.Tensor, max_length: int, beams: int) -> list[int]:
    """Token ids of one image's report: full-prefix decoder calls, no cache; beams == 1 is greedy."""
    rg = model.report_generator
    bart, cfg = rg.bart, rg.bart.config
    forced_eos = bart.generation_config.forced_eos_token_id
    z_img, tokens = model.image_encoder(image)
    enc = rg.encoder_outputs(tokens, z_img)
    enc.last_hidden_state = enc.last_hidden_state.expand(beams, -1, -1)
    seqs = torch.full((beams, 1), cfg.decoder_start_token_id, device=image.device)
    scores = torch.zeros(beams, device=image.device)
    scores[1:] = -float("inf")  # all beams start identical: expand from the first only
    while seqs.shape[1] < max_length:
        logp = bart(encoder_outputs=enc, decoder_input_ids=seqs, use_cache=False).logits[:, -1].float()
        logp = logp.log_softmax(-1)
        forced = cfg.bos_token_id if seqs.shape[1] == 1 else None
        if seqs.shape[1] == max_length - 1 and forced_eos is not None:
            forced = forced_eos
        if forced is not None:
            logp = torch.full_like(logp, -float("inf")).index_fill_(
                1, torch.tensor([forced], device=logp.device), 0.0
            )
        total = (scores.unsqueeze(1) + logp).view(-1)
        top = total.topk(beams).indices
        vocab = logp.shape[1]
        seqs = torch.cat([seqs[top // vocab], (top % vocab).unsqueeze(1)], dim=1)
        scores = total[top]
        if beams == 1 and int(seqs[0, -1]) == cfg.eos_token_id:
            break
    return seqs[0].tolist()


def naive_reports(model: Any, images: torch.Tensor, max_length: int, beams: int) -> list[str]:
    ids = [naive_generate(model, images[i : i + 1], max_length, beams) for i in range(len(images))]
    return model.processor.decode_reports(ids)


def warm_up(model: Any, images: torch.Tensor, args: argparse.Namespace) -> None:
    """Both paths once on the timed batch shapes, 4 tokens long: first-call costs (lazy initialisation, kernel
    selection per shape) stay out of the timings at a fraction of a timed run's cost."""
    processor = model.processor
    full = processor.report_max_length
    processor.report_max_length = min(4, full)
    try:
        for beams in (1, args.beams):
            model.generate_reports(images, num_beams=beams)
            if not args.skip_naive:
                naive_reports(model, images[:1], processor.report_max_length, beams)
    finally:
        processor.report_max_length = full


def through_generate(model: Any, images: torch.Tensor) -> list[str]:
    """Batched greedy reports with radgen's greedy loop switched off: transformers' `generate` decodes."""
    from radgen.models import report_generator

    loop = report_generator.plain_greedy_config
    report_generator.plain_greedy_config = lambda *_: None
    try:
        return model.generate_reports(images, num_beams=1)
    finally:
        report_generator.plain_greedy_config = loop


def timed(fn: Any, device: torch.device) -> tuple[float, Any]:
    benchlib.sync(device)
    start = time.perf_counter()
    out = fn()
    benchlib.sync(device)
    return time.perf_counter() - start, out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark with `argv` (default: the command line); return the record line."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    benchlib.add_common_options(parser)
    parser.add_argument("--images", type=int, default=16, help="images generated for (one batch)")
    parser.add_argument(
        "--tokens", type=int, default=64, help="report length in tokens (generate's max_length)"
    )
    parser.add_argument("--beams", type=int, default=3)
    parser.add_argument("--allow-eos", action="store_true", help="do not suppress end-of-sequence")
    parser.add_argument("--skip-naive", action="store_true", help="batched generation only")
    parser.add_argument(
        "--naive-images",
        type=int,
        default=None,
        help="run the naive loop on the first K images only (default all)",
    )
    args = parser.parse_args(argv)
    device = benchlib.setup(args)
    with benchlib.stage("build"):
        model = benchlib.build_random_model(args.paper_size, benchlib.synthetic_reports(64, args.seed))
        model = model.to(device).eval()
        model.processor.report_max_length = args.tokens
        bart = model.report_generator.bart
        benchlib.words_only(model, full_length=not args.allow_eos)
        gen = torch.Generator().manual_seed(args.seed)
        images = torch.rand(args.images, 1, model.image_size, model.image_size, generator=gen).to(device)
    n_naive = min(args.naive_images or args.images, args.images)
    seconds: dict[str, float] = {}
    texts: dict[str, list[str]] = {}
    with torch.no_grad(), benchlib.autocast(device, args.dtype):
        warm_up(model, images, args)
        through_generate(model, images)
        with benchlib.stage("batched greedy through generate"):
            seconds["batched_greedy_generate"], texts["batched_greedy_generate"] = timed(
                lambda: through_generate(model, images), device
            )
        for beams, name in ((1, "greedy"), (args.beams, f"beam{args.beams}")):
            with benchlib.stage(f"batched {name}"):
                seconds[f"batched_{name}"], texts[f"batched_{name}"] = timed(
                    lambda b=beams: model.generate_reports(images, num_beams=b), device
                )
            if args.skip_naive:
                continue
            with benchlib.stage(f"naive {name}"):
                seconds[f"naive_{name}"], texts[f"naive_{name}"] = timed(
                    lambda b=beams: naive_reports(model, images[:n_naive], args.tokens, b), device
                )
    n = args.images
    figures: dict[str, Any] = {
        "model": "paper" if args.paper_size else "demo",
        "image_size": model.image_size,
        "vocab_size": int(bart.config.vocab_size),
        "mean_report_words": round(sum(len(t.split()) for t in texts["batched_greedy"]) / n, 1),
        "naive_images": n_naive,
        "images_per_s": {
            k: round((n_naive if k.startswith("naive") else n) / v, 3) for k, v in seconds.items()
        },
        "peak_memory_mb": round(benchlib.peak_memory_mb(device), 1),
    }
    rate = figures["images_per_s"]
    figures["greedy_loop_over_generate"] = round(rate["batched_greedy"] / rate["batched_greedy_generate"], 2)
    figures["greedy_loop_reports_equal"] = texts["batched_greedy"] == texts["batched_greedy_generate"]
    if not args.skip_naive:
        figures["batched_over_naive"] = {
            k: round(rate[f"batched_{k}"] / rate[f"naive_{k}"], 2) for k in ("greedy", f"beam{args.beams}")
        }
        figures["greedy_reports_equal"] = texts["naive_greedy"] == texts["batched_greedy"][:n_naive]
    return benchlib.record("bench_generation", args, device, figures)


if __name__ == "__main__":
    main()
