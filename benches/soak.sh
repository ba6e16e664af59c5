#!/usr/bin/env bash
# Soak test of `concord serve` (not in CI): 64 clients of mixed reads, writes, deletes,
# overlap queries and embeddings for 10 minutes, kill -9 at random moments (45 s apart
# on average) and restarts, then every acknowledged write must be present and every
# acknowledged delete absent, before and after a clean restart; no unexpected 5xx.
# Prints a JSON summary (figures in benches/RESULTS.md). Extra arguments go to
# benches/soak.py (--minutes, --clients, --kill-every, --seed).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked --bin concord
exec python3 benches/soak.py --exe target/release/concord "$@"
