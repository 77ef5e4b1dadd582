#!/usr/bin/env bash
# Runs the libFuzzer targets of the sanitizer build (docs/hostile-input.md).
# Usage: scripts/fuzz.sh [-b BUILD_DIR] [-t SECONDS] [TARGET...]
#   -b  the AGORA_FUZZ=ON build (default build-asan, as `make build-sanitize`)
#   -t  seconds per target (default 25)
#   TARGET  policy json flags http messages checkpoint (default: all)
# Each target starts from its seeds and regression inputs in
# tests/fuzz/corpus/<target>/ (read only) plus what earlier runs found in
# BUILD_DIR/fuzz-corpus/<target>/, where new inputs go. A crash, a
# sanitizer report, a timeout or running out of memory stops the target;
# the input is saved as BUILD_DIR/fuzz-artifacts/<target>/crash-* (or
# timeout-*, oom-*) and the script exits 1 after running the others.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="$root/build-asan"
seconds=25
while getopts "b:t:" opt; do
  case "$opt" in
    b) build="$(cd "$OPTARG" && pwd)" ;;
    t) seconds="$OPTARG" ;;
    *) echo "usage: $0 [-b BUILD_DIR] [-t SECONDS] [TARGET...]" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(policy json flags http messages checkpoint)

failed=()
for t in "${targets[@]}"; do
  bin="$build/bin/agora-fuzz-$t"
  if [ ! -x "$bin" ]; then
    echo "fuzz: $bin is missing (make build-sanitize)" >&2
    exit 2
  fi
  work="$build/fuzz-corpus/$t"
  artifacts="$build/fuzz-artifacts/$t"
  log="$build/fuzz-$t.log"
  mkdir -p "$work" "$artifacts"
  args=(-max_total_time="$seconds" -timeout=30 -rss_limit_mb=4096 -print_final_stats=1
        -artifact_prefix="$artifacts/")
  [ -f "$root/tests/fuzz/$t.dict" ] && args+=(-dict="$root/tests/fuzz/$t.dict")
  start=$(date +%s)
  if "$root/scripts/sanitizer-env.sh" "$bin" "${args[@]}" "$work" "$root/tests/fuzz/corpus/$t" \
      > "$log" 2>&1; then
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 || true)
    echo "fuzz: $t: ok, ${runs:-?} runs in $(($(date +%s) - start)) s, $cov, corpus $(ls "$work" | wc -l) files"
  else
    failed+=("$t")
    echo "fuzz: $t: FAILED after $(($(date +%s) - start)) s; the end of $log:"
    tail -n 60 "$log"
    echo "fuzz: $t: the input is in $artifacts/; once fixed, add it to tests/fuzz/corpus/$t/ as a regression input"
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: ${#failed[@]} failed: ${failed[*]}"
  exit 1
fi
echo "fuzz: ${#targets[@]} targets ran ${seconds} s each without a finding"
