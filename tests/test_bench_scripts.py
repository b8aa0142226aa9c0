"""The benchmark helpers that the figures rest on: the naive generation loop is a faithful reference (same greedy
reports as transformers' batched generate), the FLOP count matches a hand count, the record line says when,
where and with what settings; and every benchmark script (and bench/gpu.sh's CPU smoke path) runs end to end on
the demo's tiny model in seconds."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
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


def test_cpu_timing_is_the_median_call(bench_modules):
    """One slow call in three (another job took the core) does not move a CPU figure; a mean would be >= 20 ms."""
    benchlib, _ = bench_modules
    import time

    calls = iter([0.0, 0.0, 0.06, 0.0])  # warm-up, then three timed calls

    def fn():
        time.sleep(next(calls))

    assert benchlib.seconds_per_call(fn, torch.device("cpu"), steps=3, warmup=1) < 0.01


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


@pytest.fixture(scope="module")
def scripts(bench_modules):
    """The benchmark scripts as modules (bench/ is on the path while bench_modules is alive)."""
    import bench_predict
    import bench_step
    import gpu_summary
    import profile_train

    return {
        "step": bench_step,
        "predict": bench_predict,
        "summary": gpu_summary,
        "profile": profile_train,
    }


def test_flop_count_of_a_linear_layer_matches_the_hand_count(scripts):
    """forward 2*B*I*O, backward twice that (input and weight gradients): 3 x 2*B*I*O in all."""
    layer = torch.nn.Linear(16, 8, bias=False)
    x = torch.rand(4, 16, requires_grad=True)
    assert scripts["step"].flops(lambda: layer(x).sum().backward()) == 3 * 2 * 4 * 16 * 8


def test_aten_call_count_matches_the_hand_count(scripts):
    x = torch.ones(3)
    assert scripts["step"].aten_calls(lambda: x.add(1).mul(2).sum()) == 3


def test_bench_step_smoke(scripts):
    r = scripts["step"].main(
        ["--batch", "2", "--steps", "1", "--warmup", "0", "--matmul-size", "64", "--no-record"]
    )
    parts = r["parts_s"]
    assert r["bench"] == "bench_step" and r["model"] == "demo" and r["batch"] == 2
    assert r["parts_sum_s"] == pytest.approx(sum(parts.values()), abs=1e-4)
    assert r["train_images_per_s"] == pytest.approx(2 / r["step_s"], rel=1e-2)
    # the whole model's forward + backward contains each part's (fusion, head and losses come on top)
    assert r["fwd_bwd_gflop"] >= sum(r["parts_gflop"].values()) * 0.99 > 0
    assert 0 < r["mfu"] and r["matmul_gflops"] == max(r["matmul_gflops_before_after"]) > 0
    assert r["step_us_per_op"] == pytest.approx(r["step_s"] / r["step_aten_ops"] * 1e6, rel=1e-2)


def test_bench_generation_smoke(bench_modules):
    _, gen = bench_modules
    r = gen.main(["--images", "2", "--naive-images", "1", "--tokens", "8", "--no-record"])
    assert set(r["images_per_s"]) == {
        "batched_greedy",
        "batched_greedy_generate",
        "naive_greedy",
        "batched_beam3",
        "naive_beam3",
    }
    assert r["greedy_reports_equal"] is True and r["greedy_loop_reports_equal"] is True
    rate = r["images_per_s"]
    assert r["batched_over_naive"]["greedy"] == pytest.approx(
        rate["batched_greedy"] / rate["naive_greedy"], rel=2e-2
    )
    # 8 tokens: start, forced BOS, 5 words, forced EOS (words_only: nothing ends a report early)
    assert r["mean_report_words"] <= 5 and r["mean_report_words"] > 0


def test_bench_predict_smoke(scripts):
    r = scripts["predict"].main(["--images", "2", "--repeats", "1", "--skip-cold", "--no-record"])
    assert r["model"] == "demo" and r["checkpoint_mb"] > 0
    assert r["batched_images_per_s"] == pytest.approx(1e3 / r["batched_ms_per_image"], rel=1e-2)
    assert r["single_image_ms"] > 0 and "cli_one_image_s" not in r


def test_gpu_summary_lines(scripts):
    describe = scripts["summary"].describe
    base = {"processor": "x86_64", "gpu": "NVIDIA H200", "settings": {"dtype": "bf16", "tokens": 64}}
    step = {"bench": "bench_step", "model": "paper", "batch": 8, "train_images_per_s": 1234.5, "mfu": 0.4321,
            "matmul_gflops": 700000.0, "fwd_bwd_over_parts": 0.95, "peak_memory_mb": 2048.0, **base}  # fmt: skip
    line = describe(step)
    assert "NVIDIA H200" in line and "1234.5 images/s" in line and "MFU 43.2%" in line and "2048 MB" in line
    pred = {"bench": "bench_predict", "single_image_ms": 12.34, "batched_images_per_s": 99.0, **base}
    assert "single image 12.3 ms" in describe(pred) and "cold start (CLI, one image) nan s" in describe(pred)
    assert scripts["summary"].summarise(["[build] 1.0 s", json.dumps(pred)]) == [describe(pred)]


def test_profile_shares_are_sorted_and_sum_to_one(scripts):
    rows = scripts["profile"].shares({"a": 1.0, "b": 3.0, "other": 0.0})
    assert [r[0] for r in rows] == ["b", "a", "other"]
    assert [r[2] for r in rows] == [0.75, 0.25, 0.0]


@pytest.mark.slow
def test_gpu_sh_cpu_smoke_path(tmp_path):
    """bench/gpu.sh --device cpu --steps 2: every piece of the GPU run (fresh processes, cold start included)."""
    record = tmp_path / "RESULTS.md"
    record.write_text("# log\n")
    env = {**os.environ, "PYTHON": sys.executable}
    done = subprocess.run(
        ["bash", str(BENCH / "gpu.sh"), "--device", "cpu", "--steps", "2", "--record", str(record)],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [json.loads(x) for x in record.read_text().splitlines()[1:]]
    assert [x["bench"] for x in lines] == ["bench_step", "bench_step", "bench_generation", "bench_predict"]
    assert [x["batch"] for x in lines[:2]] == [8, 4] and lines[0]["settings"]["steps"] == 2
    assert "cli_one_image_s" in lines[3]
    tail = done.stdout.strip().splitlines()[-4:]
    assert [t.split()[0] for t in tail] == [x["bench"] for x in lines]
