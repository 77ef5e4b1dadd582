#!/bin/sh
# Runs `agora load` against fresh `agora local` clusters and prints one
# Markdown table row per run (docs/load.md, "Load generator").
#
#   scripts/load-matrix.sh AGENTS TASKS DURATION FRAMEWORKS [RUNS] [-- LOCAL_FLAGS...]
#
# e.g. scripts/load-matrix.sh 3 1000 0s 10 3 -- --allocation-interval=100ms
# Each run starts its own cluster (ports 25050/25055, work dir under
# $TMPDIR) and stops it with SIGINT afterwards. LOAD_FLAGS adds flags to
# `agora load` (e.g. LOAD_FLAGS=--command=true). Columns: agents, tasks,
# duration, frameworks, accepted/s, RUNNING/s, accept->RUNNING p50/p90/p99/max
# (ms), offer->accept p50/p99, offers accepted/received, wall time, CPU
# seconds of the cluster process and of `agora load` during the run,
# finished/not, `/bin/sh -c true` spawns per second (one at a time, before
# the run), load average before the run. Needs curl and jq.
set -eu

BIN=${BIN:-build/bin}
agents=$1 tasks=$2 duration=$3 frameworks=$4 runs=${5:-1}
shift 4
[ $# -gt 0 ] && shift
[ "${1:-}" = "--" ] && shift
http=${HTTP_PORT:-25050}
actors=${ACTOR_PORT:-25055}
work=$(mktemp -d "${TMPDIR:-/tmp}/agora-load-matrix.XXXXXX")
trap 'rm -rf "$work"' EXIT

run=0
while [ "$run" -lt "$runs" ]; do
  "$BIN/agora" local --agents="$agents" --port="$http" --actor-port="$actors" \
    --work-dir="$work/w$run" "$@" >"$work/local.log" 2>&1 &
  local_pid=$!
  # Up once the master lists every agent (bounded: 60 s).
  i=0
  until [ "$(curl -fs "http://127.0.0.1:$http/state" 2>/dev/null | jq '.agents | length' 2>/dev/null)" = "$agents" ]; do
    i=$((i + 1))
    if [ "$i" -gt 600 ]; then echo "cluster did not come up" >&2; kill -INT "$local_pid"; exit 1; fi
    sleep 0.1
  done
  load=$(uptime | sed 's/.*load average: //; s/,.*//')
  # CPU ticks (user + system) of the cluster process: fields 14 and 15.
  ticks() { awk '{print $14 + $15}' "/proc/$local_pid/stat"; }
  if [ -n "${LOAD_FLAGS:-}" ]; then flags=$LOAD_FLAGS; else flags=--task-duration=$duration; fi
  before=$(ticks)
  # shellcheck disable=SC2086
  "$BIN/agora" load --master="127.0.0.1:$actors" --tasks="$tasks" $flags \
    --frameworks="$frameworks" --roles=a,b --json --timeout=10min --progress-interval=0ms \
    --spawn-baseline=300 >"$work/out.json" || true
  cluster_cpu=$(( $(ticks) - before ))
  kill -INT "$local_pid"
  wait "$local_pid" || true
  cluster_cpu=$(echo "$cluster_cpu $(getconf CLK_TCK)" | awk '{printf "%.1f", $1 / $2}')
  jq -r --arg agents "$agents" --arg load "$load" --arg ccpu "$cluster_cpu" '
    "| \($agents) | \(.tasks) | \(.task_duration) | \(.frameworks) | " +
    "\(.accepted_per_second | floor) | \(.running_per_second | floor) | " +
    "\(.accept_to_running_ms.p50 | round) / \(.accept_to_running_ms.p90 | round) / " +
    "\(.accept_to_running_ms.p99 | round) / \(.accept_to_running_ms.max | round) | " +
    "\(.offer_to_accept_ms.p50 * 1000 | round) us / \(.offer_to_accept_ms.p99 * 1000 | round) us | " +
    "\(.offers.accepted) / \(.offers.received) | \(.wall_seconds * 10 | round / 10) s | " +
    "\($ccpu) s / \(.cpu_seconds * 10 | round / 10) s | " +
    "\(.finished) / \(.failed + .lost + .killed + .dropped + .errors) | " +
    "\(.spawn_baseline_per_second | floor) | \($load) |"' "$work/out.json"
  run=$((run + 1))
done
