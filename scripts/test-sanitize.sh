#!/usr/bin/env bash
# Runs every test of the sanitizer build (`make test-sanitize`,
# docs/hostile-input.md) under scripts/sanitizer-env.sh, with every
# process's sanitizer reports (tests, the daemons they start, tasks) written
# to BUILD_DIR/sanitizer-logs/. Fails when a test fails or when any process
# left a report there, and prints the reports.
# Usage: scripts/test-sanitize.sh BUILD_DIR [CTEST_ARGS...]
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="$(cd "${1:?usage: $0 BUILD_DIR [CTEST_ARGS...]}" && pwd)"
shift
logs="$build/sanitizer-logs"
rm -rf "$logs"
mkdir -p "$logs"
cd "$build"
AGORA_SANITIZER_LOG_DIR="$logs" "$root/scripts/sanitizer-env.sh" \
  ctest --output-on-failure "$@"
status=$?
reports=("$logs"/*)
if [ -e "${reports[0]}" ]; then
  for f in "${reports[@]}"; do
    echo "===== sanitizer report $f"
    cat "$f"
  done
  echo "test-sanitize: ${#reports[@]} process(es) left sanitizer reports in $logs"
  status=1
else
  echo "test-sanitize: no sanitizer report from any process"
fi
exit $status
