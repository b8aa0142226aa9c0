#!/usr/bin/env bash
# GPU figures of the paper-size RadGen (random weights, bf16 autocast, synthetic 224 px data), in under 8 minutes
# on a machine with one CUDA GPU and this repository:
#   bench/gpu.sh
# 1. Python: $PYTHON if set, else .venv/bin/python, else a python3 that already has torch, timm and transformers
#    (the repository is put on PYTHONPATH), else `make .venv/.installed` (the project's pip install; needs network).
# 2. bench_step.py: the training step at the paper's batch (8) for STEPS steps and at a throughput batch
#    (BIG_BATCH) for STEPS/5 steps: training images/s, MFU against a bf16 matmul roofline, peak memory.
# 3. bench_generation.py: batched greedy and beam-3 generation of 64-token reports for GEN_IMAGES images (the naive
#    loop on NAIVE_IMAGES of them): inference images/s.
# 4. bench_predict.py: cold start and single / batched latency of `radgen predict` (PREDICT_IMAGES images).
# Each appends its JSON line to $RECORD (bench/RESULTS.md); the last lines printed summarise the figures.
# Dry run of the same path on a CPU (seconds): DEVICE=cpu DTYPE=float32 SIZE= STEPS=2 BIG_BATCH=4 \
#   GEN_IMAGES=2 NAIVE_IMAGES=1 TOKENS=8 PREDICT_IMAGES=2 bench/gpu.sh
set -euo pipefail
cd "$(dirname "$0")/.."

DEVICE=${DEVICE:-cuda}
DTYPE=${DTYPE:-bf16}
SIZE=${SIZE---paper-size}
STEPS=${STEPS:-300}
BIG_BATCH=${BIG_BATCH:-64}
GEN_IMAGES=${GEN_IMAGES:-256}
NAIVE_IMAGES=${NAIVE_IMAGES:-8}
TOKENS=${TOKENS:-64}
PREDICT_IMAGES=${PREDICT_IMAGES:-64}
RECORD=${RECORD:-bench/RESULTS.md}
LOG=${LOG:-$(mktemp -t radgen-gpu-bench.XXXXXX)}

if [ -z "${PYTHON:-}" ]; then
    if [ -x .venv/bin/python ]; then
        PYTHON=.venv/bin/python
    elif python3 -c "import torch, timm, transformers, tokenizers, safetensors" 2>/dev/null; then
        PYTHON=python3
    else
        make .venv/.installed
        PYTHON=.venv/bin/python
    fi
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
if [ "$DEVICE" = cuda ]; then
    "$PYTHON" -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'"
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
fi

common=(--device "$DEVICE" --dtype "$DTYPE" --record "$RECORD")
# shellcheck disable=SC2086 # SIZE is one flag or empty
{
    "$PYTHON" bench/bench_step.py $SIZE "${common[@]}" --batch 8 --steps "$STEPS" --warmup 10
    "$PYTHON" bench/bench_step.py $SIZE "${common[@]}" --batch "$BIG_BATCH" --steps $((STEPS / 5 + 1)) --warmup 3
    "$PYTHON" bench/bench_generation.py $SIZE "${common[@]}" --images "$GEN_IMAGES" \
        --naive-images "$NAIVE_IMAGES" --tokens "$TOKENS" --beams 3
    "$PYTHON" bench/bench_predict.py $SIZE "${common[@]}" --images "$PREDICT_IMAGES" --repeats 20
} | tee "$LOG"

"$PYTHON" - "$LOG" <<'EOF'
import json, sys

for line in open(sys.argv[1]):
    if not line.startswith("{"):
        continue
    r = json.loads(line)
    head = f"{r['bench']:<17} {r.get('gpu', r['processor'])} {r['settings']['dtype']}"
    if r["bench"] == "bench_step":
        print(f"{head} batch {r['batch']}: training {r['train_images_per_s']:.1f} images/s, MFU {r['mfu']:.1%} "
              f"(matmul {r['matmul_gflops']:.0f} GFLOP/s), peak {r['peak_memory_mb']:.0f} MB")
    elif r["bench"] == "bench_generation":
        rate = r["images_per_s"]
        print(f"{head}: generation {', '.join(f'{k} {v:.1f}' for k, v in rate.items())} images/s, "
              f"batched/naive {r.get('batched_over_naive')}, peak {r['peak_memory_mb']:.0f} MB")
    elif r["bench"] == "bench_predict":
        print(f"{head}: predict single {r['single_image_ms']:.1f} ms, batched {r['batched_images_per_s']:.1f} "
              f"images/s, cold start (CLI, one image) {r.get('cli_one_image_s', float('nan')):.1f} s")
EOF
