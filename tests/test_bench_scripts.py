"""The benchmark helpers that the figures rest on: the naive generation loop is a faithful reference (same greedy
reports as transformers' batched generate) and the record line says when, where and with what settings."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pytest
import torch

BENCH = Path(__file__).resolve().parent.parent / "bench"


@pytest.fixture(scope="module")
def bench_modules():
    sys.path.insert(0, str(BENCH))
    try:
        import bench_generation
        import benchlib

        yield benchlib, bench_generation
    finally:
        sys.path.remove(str(BENCH))


@pytest.fixture(scope="module")
def demo_model(bench_modules):
    benchlib, _ = bench_modules
    torch.manual_seed(0)
    model = benchlib.build_random_model(False, benchlib.synthetic_reports(32)).eval()
    benchlib.words_only(model)
    return model


def test_naive_greedy_loop_equals_batched_generate(bench_modules, demo_model):
    _, gen = bench_modules
    tokens = 10
    demo_model.processor.report_max_length = tokens
    images = torch.rand(
        3, 1, demo_model.image_size, demo_model.image_size, generator=torch.Generator().manual_seed(1)
    )
    with torch.no_grad():
        batched = demo_model.generate_reports(images, num_beams=1)
        naive = gen.naive_reports(demo_model, images, tokens, beams=1)
        ids = gen.naive_generate(demo_model, images[:1], tokens, beams=3)
    assert naive == batched
    assert all(t.strip() for t in batched), "words_only: every report has words"
    # full length: start, forced BOS, tokens - 3 words, forced EOS (special tokens are never chosen freely)
    assert len(ids) == tokens and ids[-1] == demo_model.report_generator.bart.config.eos_token_id


def test_record_appends_one_json_line(bench_modules, tmp_path):
    benchlib, _ = bench_modules
    out = tmp_path / "RESULTS.md"
    out.write_text("# log\n")
    args = argparse.Namespace(device="cpu", dtype="float32", record=out, no_record=False, steps=2)
    line = benchlib.record("bench_x", args, torch.device("cpu"), {"images_per_s": 1.5})
    written = json.loads(out.read_text().splitlines()[-1])
    assert written == line
    assert written["bench"] == "bench_x" and written["images_per_s"] == 1.5
    assert written["settings"] == {"device": "cpu", "dtype": "float32", "steps": 2}
    assert {"date", "platform", "cpu_count", "torch_threads"} <= set(written)
    args.no_record = True
    benchlib.record("bench_x", args, torch.device("cpu"), {})
    assert len(out.read_text().splitlines()) == 2
