#!/usr/bin/env bash
# Retrains the pair judge (crates/concord-overlap/judge/judge.json) from scratch:
# the training stories of examples/stories (never the held-out ones), PAWS-X dev and the
# STS-B train split from ../shared, with a pinned seed, for the model CONCORD_MODEL names
# (the default e5-small when unset). Then shows the held-out score.
set -euo pipefail
cd "$(dirname "$0")/.."
stories=${STORIES:-examples/stories}
venv=target/judge-venv
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet scikit-learn==1.7.2 numpy==2.4.6
fi
cargo build --release --locked --bin concord
./target/release/concord eval judge-features "$stories" --split train \
  --paws ../shared/eval/paws-x-zh/dev.tsv \
  --sts ../shared/train/stsb-multi-mt/train.zh.tsv \
  --sts ../shared/train/stsb-multi-mt/train.en-zh.tsv > target/judge-train.csv
./target/release/concord eval judge-probe > target/judge-probe.json
"$venv/bin/python" scripts/train-judge.py target/judge-train.csv --probe target/judge-probe.json
cargo build --release --locked --bin concord
./target/release/concord eval gold "$stories" --split heldout
