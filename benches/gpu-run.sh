#!/usr/bin/env bash
# The CUDA checks and benchmarks, run on a GPU host (no Rust, no network needed).
#
# Needs, in this checkout on the GPU host:
#   target/cuda/concord(.xz)           the binary scripts/build-cuda.sh built (xz: 9 MiB)
#   models/multilingual-e5-small/      the model (`concord model import` of e5-small-q4.bin)
#   ../shared/corpus                   the reference articles
# and CUDA 13 libraries (cublas, cublasLt, curand, nvrtc) on LD_LIBRARY_PATH.
#
# 1. `concord eval golden --device cuda`: f16 GPU embeddings vs the golden fixture
#    and vs the CPU, each cosine >= 0.999;
# 2. `concord bench devices --devices cpu,cuda`: the CPU-vs-GPU tables (+ JSON);
# 3. benches/torch_embed.py: transformers fp16 and fp32 on the same GPU, weights, texts.
# Results go to ${OUT:-target/gpu-results}.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-target/cuda/concord}
OUT=${OUT:-target/gpu-results}
CORPUS=${CORPUS:-../shared/corpus}
mkdir -p "$OUT"
[ -x "$BIN" ] || { xz -dk "$BIN.xz" && chmod +x "$BIN"; }

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$OUT/gpu.txt"
"$BIN" --device cuda eval golden --min-cosine 0.999 | tee "$OUT/golden.txt"
"$BIN" bench devices --corpus "$CORPUS" --devices cpu,cuda --json "$OUT/devices.json" |
    tee "$OUT/devices.md"
for dtype in fp16 fp32; do
    for batch in 32 128; do
        python3 benches/torch_embed.py models/multilingual-e5-small "$CORPUS" \
            --device cuda --dtype "$dtype" --batch "$batch" | tee -a "$OUT/torch.jsonl"
    done
done
