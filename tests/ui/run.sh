#!/usr/bin/env bash
# CTest `ui.browser`: the web UI in headless chromium.
# Usage: run.sh <agora_ui_test binary> <tests/ui dir> <work dir in the build tree>
# Installs tests/ui/package-lock.json's packages into <work dir> with
# `npm ci` (again only when the lock file changed), then runs the GoogleTest,
# which starts a cluster and runs ui_test.js. Screenshots land in
# <work dir>/artifacts. Exits 77 (CTest: skipped) without node, npm or chromium.
set -euo pipefail
test_binary=$1
src=$2
work=$3

chromium=${AGORA_CHROMIUM:-/usr/bin/chromium}
for tool in node npm; do
  if ! command -v "$tool" > /dev/null; then
    echo "ui.browser: SKIPPED: '$tool' is not installed (Debian packages nodejs and npm)"
    exit 77
  fi
done
if [ ! -x "$chromium" ]; then
  echo "ui.browser: SKIPPED: $chromium is missing (Debian package chromium, installed by scripts/install-deps.sh)"
  exit 77
fi

mkdir -p "$work"
if ! cmp -s "$src/package-lock.json" "$work/package-lock.json" || [ ! -d "$work/node_modules" ]; then
  cp "$src/package.json" "$src/package-lock.json" "$work/"
  # puppeteer-core downloads no browser; chromium comes from Debian.
  (cd "$work" && npm ci --no-audit --no-fund --loglevel=error)
fi
rm -rf "$work/artifacts"
mkdir -p "$work/artifacts"
export AGORA_UI_TEST_DIR=$src
export AGORA_UI_NODE_MODULES=$work/node_modules
export AGORA_UI_ARTIFACTS=$work/artifacts
export AGORA_CHROMIUM=$chromium
exec "$test_binary"
