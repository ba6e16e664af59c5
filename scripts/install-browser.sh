#!/usr/bin/env bash
# What tests/browser.rs drives: Debian's chromium with a font that has Chinese
# characters, and playwright-core (no browser download) from the npm registry, pinned
# by tests/browser/package-lock.json.
set -euo pipefail
cd "$(dirname "$0")/.."
packages=(chromium fonts-wqy-microhei)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    sudo=()
    [[ $(id -u) -eq 0 ]] || sudo=(sudo)
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}" ||
        { "${sudo[@]}" apt-get update && "${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}"; }
fi
npm ci --prefix tests/browser --no-audit --no-fund
