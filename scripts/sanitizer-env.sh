#!/usr/bin/env bash
# Runs a command with the sanitizer options of the sanitizer build (`make
# test-sanitize`, `make fuzz-short`; docs/hostile-input.md), e.g.
#   scripts/sanitizer-env.sh ctest --test-dir build-asan -R cluster
#   scripts/sanitizer-env.sh build-asan/bin/agora-master --port 5050
# Child processes (the daemons tests start, their tasks) inherit them.
set -euo pipefail

# ASan: every report is fatal (its default). Leaks: see
# docs/hostile-input.md. AGORA_ASAN_OPTIONS replaces these for one run.
export ASAN_OPTIONS="${AGORA_ASAN_OPTIONS:-detect_leaks=1:check_initialization_order=1:strict_init_order=1:strict_string_checks=1}"
# UBSan: every check is compiled unrecoverable (the one exception is
# compiled out: tests/sanitizers/ubsan.ignorelist); these make the same
# true of a binary built with recoverable checks, and print the stack.
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
# A 32 MiB stack for every process and thread (glibc sizes thread stacks
# from this limit): ASan frames are several times larger than release
# ones (the policy checker's recursion, bounded at 1,024 levels, takes
# about 5 KiB a level under ASan against 1.2 KiB in release), so this keeps
# the release build's margin under the usual 8 MiB.
if [ "$(ulimit -s)" != unlimited ] && [ "$(ulimit -s)" -lt 32768 ]; then
  ulimit -s 32768 2>/dev/null || true
fi
# With AGORA_SANITIZER_LOG_DIR, every process writes its reports to
# files there (`asan.<pid>`, `ubsan.<pid>`) instead of stderr: a daemon a
# test started and stopped without looking at its exit status cannot hide
# one (scripts/test-sanitize.sh fails the run on any such file).
if [ -n "${AGORA_SANITIZER_LOG_DIR:-}" ]; then
  mkdir -p "$AGORA_SANITIZER_LOG_DIR"
  ASAN_OPTIONS="$ASAN_OPTIONS:log_path=$AGORA_SANITIZER_LOG_DIR/asan"
  UBSAN_OPTIONS="$UBSAN_OPTIONS:log_path=$AGORA_SANITIZER_LOG_DIR/ubsan"
fi
# Function names and lines in reports.
if [ -z "${ASAN_SYMBOLIZER_PATH:-}" ] && command -v llvm-symbolizer >/dev/null; then
  export ASAN_SYMBOLIZER_PATH="$(command -v llvm-symbolizer)"
fi
exec "$@"
