#!/usr/bin/env bash
# Load test of `concord serve`, loopback only, bounded in time and concurrency.
#
# In one run on one machine:
#   1. offline baseline: `concord bench embed` on the exact text the clients send;
#   2. CONCURRENCY clients for DURATION against POST /v1/embeddings, then POST /search
#      (over a collection of ../shared/corpus), with the server's RSS before and after;
#      and once more against /v1/embeddings, to see memory stay flat;
#   3. a deliberate overload (a queue of 16 texts, 256 clients): only 200s and 429s;
#   4. the served/offline throughput ratio.
# The generator is oha (crates.io), installed into target/tools on first use.
#
#   benches/serve-load.sh            # DURATION=60s CONCURRENCY=64 by default
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-60s}
CONCURRENCY=${CONCURRENCY:-64}
CORPUS=${CORPUS:-../shared/corpus}
BIN=target/release/concord
OHA=target/tools/bin/oha

cargo build --release --locked --bin concord
[ -x "$OHA" ] || cargo install --locked oha --version 1.16.0 --root target/tools
"$BIN" model fetch

WORK=$(mktemp -d)
SERVER_PID=
cleanup() {
    [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

# The clients' text: the corpus paragraph of median length.
python3 - "$CORPUS" "$WORK" <<'EOF'
import json, pathlib, sys
corpus, work = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
lines = sorted((l.strip() for f in sorted(corpus.glob("*.txt"))
                for l in f.read_text().splitlines() if l.strip()), key=len)
text = lines[len(lines) // 2]
(work / "offline").mkdir()
(work / "offline" / "same.txt").write_text((text + "\n") * 512)
(work / "embed.json").write_text(json.dumps({"input": "passage: " + text, "model": "e5"}))
(work / "search.json").write_text(json.dumps({"text": text[: len(text) // 2], "k": 10}))
print(f"client text: {len(text)} characters")
EOF

echo "== offline: concord bench embed on the same text (512 copies)"
"$BIN" bench embed --corpus "$WORK/offline" --repeats 3 | tee "$WORK/offline.md"
# The first engine row is concord's default pass (8-bit projections where the
# processor has them): its median tokens/s.
OFFLINE_TPS=$(awk -F'|' '/^\| concord/ && !seen { split($3, a, "/"); gsub(/ /, "", a[2]); print a[2]; seen = 1 }' "$WORK/offline.md")
[ -n "$OFFLINE_TPS" ] || { echo "no offline tokens/s in:" >&2; cat "$WORK/offline.md" >&2; exit 1; }

echo "== collection: ../shared/corpus"
"$BIN" ingest "$CORPUS" --collection "$WORK/col" >/dev/null

start_server() {
    "$BIN" serve --collection "$WORK/col" --port 0 "$@" 2>"$WORK/serve.log" &
    SERVER_PID=$!
    for _ in $(seq 100); do
        URL=$(grep -o 'http://[0-9.:]*' "$WORK/serve.log" || true)
        [ -n "$URL" ] && return
        sleep 0.2
    done
    echo "server did not start" >&2
    cat "$WORK/serve.log" >&2
    exit 1
}
stop_server() {
    kill -TERM "$SERVER_PID"
    wait "$SERVER_PID" || true
    SERVER_PID=
}
rss_mib() { awk '/VmRSS/ { printf "%.0f", $2 / 1024 }' "/proc/$SERVER_PID/status"; }
hwm_mib() { awk '/VmHWM/ { printf "%.0f", $2 / 1024 }' "/proc/$SERVER_PID/status"; }

load() { # ROUTE BODY DURATION CONCURRENCY OUT
    "$OHA" --no-tui --output-format json -z "$3" -w -c "$4" -m POST \
        -H 'content-type: application/json' -D "$2" "$URL$1" >"$5"
}
summary() { # OUT -> "rps p50_ms p99_ms statuses"
    python3 - "$1" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
s, p = r["summary"], r["latencyPercentiles"]
codes = r.get("statusCodeDistribution", {})
errors = r.get("errorDistribution", {})
print(f'{s["requestsPerSec"]:.1f} {p["p50"] * 1000:.1f} {p["p99"] * 1000:.1f} '
      f'{json.dumps(codes, separators=(",", ":"))} {json.dumps(errors, separators=(",", ":"))}')
EOF
}

start_server
TOKENS=$(curl -s -H 'content-type: application/json' -d @"$WORK/embed.json" "$URL/v1/embeddings" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["usage"]["total_tokens"])')
load /v1/embeddings "$WORK/embed.json" 5s "$CONCURRENCY" "$WORK/warm.json"
RSS0=$(rss_mib)

echo "== $CONCURRENCY clients, $DURATION, POST /v1/embeddings ($TOKENS tokens a request)"
load /v1/embeddings "$WORK/embed.json" "$DURATION" "$CONCURRENCY" "$WORK/embed-out.json"
read -r E_RPS E_P50 E_P99 E_CODES E_ERR < <(summary "$WORK/embed-out.json")
RSS1=$(rss_mib)

echo "== $CONCURRENCY clients, $DURATION, POST /search"
load /search "$WORK/search.json" "$DURATION" "$CONCURRENCY" "$WORK/search-out.json"
read -r S_RPS S_P50 S_P99 S_CODES S_ERR < <(summary "$WORK/search-out.json")
RSS2=$(rss_mib)

echo "== again: $CONCURRENCY clients, $DURATION, POST /v1/embeddings (is memory flat?)"
load /v1/embeddings "$WORK/embed.json" "$DURATION" "$CONCURRENCY" "$WORK/embed2-out.json"
read -r A_RPS A_P50 A_P99 A_CODES A_ERR < <(summary "$WORK/embed2-out.json")
RSS3=$(rss_mib)
HWM=$(hwm_mib)
stop_server

echo "== overload: --max-queue-tokens 64, 256 clients, 15s, POST /v1/embeddings"
start_server --max-queue-tokens 64
load /v1/embeddings "$WORK/embed.json" 15s 256 "$WORK/over-out.json"
read -r O_RPS O_P50 O_P99 O_CODES O_ERR < <(summary "$WORK/over-out.json")
stop_server

SERVED_TPS=$(python3 -c "print(f'{$E_RPS * $TOKENS:.0f}')")
RATIO=$(python3 -c "print(f'{$E_RPS * $TOKENS / $OFFLINE_TPS:.2f}')")
cat <<EOF

| load ($CONCURRENCY clients, $DURATION) | requests/s | p50 ms | p99 ms | statuses | transport errors |
|---|---|---|---|---|---|
| POST /v1/embeddings, 1 text of $TOKENS tokens | $E_RPS | $E_P50 | $E_P99 | $E_CODES | $E_ERR |
| POST /search, k=10 | $S_RPS | $S_P50 | $S_P99 | $S_CODES | $S_ERR |
| POST /v1/embeddings again | $A_RPS | $A_P50 | $A_P99 | $A_CODES | $A_ERR |
| overload: POST /v1/embeddings, 256 clients, --max-queue-tokens 64, 15s | $O_RPS | $O_P50 | $O_P99 | $O_CODES | $O_ERR |

served embedding throughput: $SERVED_TPS tokens/s; offline \`concord bench embed\` on the same text: $OFFLINE_TPS tokens/s; ratio $RATIO
server RSS: ${RSS0} MiB after warm-up, ${RSS1} MiB after /v1/embeddings, ${RSS2} MiB after /search, ${RSS3} MiB after /v1/embeddings again (peak ${HWM} MiB)
EOF
