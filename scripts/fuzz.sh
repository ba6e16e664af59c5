#!/usr/bin/env bash
# Runs the cargo-fuzz targets in fuzz/ (not in CI): the article reader, the JSONL
# reader and the change-log replay, each for SECONDS (default 600), seeded with the
# project's own sample articles and a hand-written change log. cargo-fuzz needs
# nightly flags; RUSTC_BOOTSTRAP=1 lets the one stable toolchain here accept them.
# Crashes land in fuzz/artifacts/<target>/. Usage: scripts/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(article jsonl changelog)
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1
mkdir -p fuzz/corpus/article fuzz/corpus/jsonl fuzz/corpus/changelog
cp examples/articles/* fuzz/corpus/article/
for f in examples/stories/s0[1-4]*/*.md; do cp "$f" fuzz/corpus/article/; done
python3 - <<'PY'
import json, pathlib
arts = sorted(pathlib.Path("examples/articles").iterdir())
lines = [json.dumps({"id": p.stem, "title": p.stem, "text": p.read_text(encoding="utf-8")}, ensure_ascii=False)
         for p in arts]
pathlib.Path("fuzz/corpus/jsonl/articles.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
# Change records without checksums (read as plain JSON), 4-dimensional vectors.
one = "AACAPwAAAAAAAAAAAAAAAA=="
recs = [
    {"seq": 1, "change": {"upsert": {"id": "a", "title": None, "source": None, "passages": [
        {"index": 0, "start": 0, "end": 3, "text": "abc", "section": None, "paragraph": 0}], "vectors": one}}},
    {"seq": 2, "change": {"remove": {"id": "seed"}}},
    {"seq": 3, "change": {"upsert": {"id": "b", "title": "t", "source": "s", "passages": [
        {"index": 0, "start": 0, "end": 2, "text": "xy", "section": None, "paragraph": 1},
        {"index": 1, "start": 3, "end": 5, "text": "zw", "section": None, "paragraph": 1}], "vectors": one + one}}},
]
pathlib.Path("fuzz/corpus/changelog/log").write_text("".join(json.dumps(r) + "\n" for r in recs))
PY
for t in "${targets[@]}"; do
  echo "== $t: ${seconds}s"
  cargo fuzz run "$t" "fuzz/corpus/$t" -- -max_total_time="$seconds" -rss_limit_mb=4096 2>&1 | tail -n 4
done
