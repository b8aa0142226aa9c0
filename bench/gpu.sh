#!/usr/bin/env bash
# GPU figures of the paper-size RadGen (random weights, bf16 autocast, synthetic 224 px data), in under 8 minutes
# on a bare machine with one CUDA GPU and this repository:
#   bench/gpu.sh                      # the GPU run (paper size, bf16, 300 steps)
#   bench/gpu.sh --device cpu --steps 2   # smoke path on a CPU (demo size, float32, tiny counts; seconds)
# Options: --device cuda|cpu, --steps N, --dtype bf16|fp16|float32, --paper-size | --demo-size, --record FILE,
# --no-record. Environment variables of the same names in capitals (and those below) override the defaults.
# 1. Python: $PYTHON if set, else .venv/bin/python, else a python3 that already has torch, timm and transformers
#    (the repository is put on PYTHONPATH), else `make .venv/.installed`: the Python part of `make setup` (TeX,
#    its other part, is not needed here and would take minutes to install).
# 2. bench_step.py: the training step at the paper's batch (8) for STEPS steps and at a throughput batch
#    (BIG_BATCH) for STEPS/5 steps: training images/s, MFU against a matmul roofline in the same dtype, peak memory.
# 3. bench_generation.py: batched greedy and beam-3 generation of TOKENS-token reports for GEN_IMAGES images (the
#    naive loop on NAIVE_IMAGES of them): inference images/s with generation.
# 4. bench_predict.py: cold start and single-image latency / batched images/s of `radgen predict`
#    (PREDICT_IMAGES images).
# Each appends its JSON line (date, machine, GPU name, settings, figures) to RECORD (bench/RESULTS.md); the last
# lines printed summarise the figures.
set -euo pipefail
cd "$(dirname "$0")/.."

while [ $# -gt 0 ]; do
    case "$1" in
        --device) DEVICE=$2; shift 2 ;;
        --steps) STEPS=$2; shift 2 ;;
        --dtype) DTYPE=$2; shift 2 ;;
        --paper-size) SIZE=--paper-size; shift ;;
        --demo-size) SIZE=; shift ;;
        --record) RECORD=$2; shift 2 ;;
        --no-record) NO_RECORD=1; shift ;;
        -h | --help) sed -n '2,20p' "$0"; exit 0 ;;
        *) echo "bench/gpu.sh: unknown option $1 (--help)" >&2; exit 2 ;;
    esac
done

DEVICE=${DEVICE:-cuda}
if [ "$DEVICE" = cuda ]; then
    DTYPE=${DTYPE:-bf16} SIZE=${SIZE---paper-size} STEPS=${STEPS:-300} BIG_BATCH=${BIG_BATCH:-64}
    GEN_IMAGES=${GEN_IMAGES:-256} NAIVE_IMAGES=${NAIVE_IMAGES:-8} TOKENS=${TOKENS:-64}
    PREDICT_IMAGES=${PREDICT_IMAGES:-64} REPEATS=${REPEATS:-20} WARMUP=${WARMUP:-10} MATMUL_SIZE=${MATMUL_SIZE:-8192}
else  # the smoke path: every piece of the GPU run, at sizes a CPU does in seconds
    DTYPE=${DTYPE:-float32} SIZE=${SIZE-} STEPS=${STEPS:-2} BIG_BATCH=${BIG_BATCH:-4}
    GEN_IMAGES=${GEN_IMAGES:-2} NAIVE_IMAGES=${NAIVE_IMAGES:-1} TOKENS=${TOKENS:-8}
    PREDICT_IMAGES=${PREDICT_IMAGES:-2} REPEATS=${REPEATS:-1} WARMUP=${WARMUP:-1} MATMUL_SIZE=${MATMUL_SIZE:-256}
fi
RECORD=${RECORD:-bench/RESULTS.md}
LOG=$(mktemp -t radgen-gpu-bench.XXXXXX)
trap 'rm -f "$LOG"' EXIT

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
[ -n "${NO_RECORD:-}" ] && common+=(--no-record)
# shellcheck disable=SC2086 # SIZE is one flag or empty
{
    "$PYTHON" bench/bench_step.py $SIZE "${common[@]}" --batch 8 --steps "$STEPS" --warmup "$WARMUP" \
        --matmul-size "$MATMUL_SIZE"
    "$PYTHON" bench/bench_step.py $SIZE "${common[@]}" --batch "$BIG_BATCH" --steps $((STEPS / 5 + 1)) \
        --warmup "$WARMUP" --matmul-size "$MATMUL_SIZE"
    "$PYTHON" bench/bench_generation.py $SIZE "${common[@]}" --images "$GEN_IMAGES" \
        --naive-images "$NAIVE_IMAGES" --tokens "$TOKENS" --beams 3
    "$PYTHON" bench/bench_predict.py $SIZE "${common[@]}" --images "$PREDICT_IMAGES" --repeats "$REPEATS"
} | tee "$LOG"

"$PYTHON" bench/gpu_summary.py "$LOG"
