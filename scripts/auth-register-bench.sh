#!/usr/bin/env bash
# The cost of agent authentication: N simulated agents (`agora fleet`)
# register with a master, without and with --authenticate-agents (the
# HMAC-SHA256 challenge-response of docs/security.md: two more round trips
# per agent). Prints the fleet's "all agents registered in X s" per run.
# Usage: scripts/auth-register-bench.sh [AGENTS=10000] [RUNS=3] [BIN=build/bin]
set -euo pipefail
n=${1:-10000}
runs=${2:-3}
bin=${3:-build/bin}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
umask 077
secret=$(openssl rand -hex 32)
printf '{"credentials": [{"principal": "agents", "secret": "%s"}]}\n' "$secret" > "$dir/credentials.json"
printf '%s\n' "$secret" > "$dir/agents.secret"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

run() {
  local master_flags=() fleet_flags=()
  if [ "$1" = authenticated ]; then
    master_flags=(--credentials "$dir/credentials.json" --authenticate-agents)
    fleet_flags=(--principal agents --secret-file "$dir/agents.secret")
  fi
  "$bin/agora-master" --port 0 --actor-port "$port" "${master_flags[@]}" > "$dir/master.log" 2>&1 &
  local master=$!
  for _ in $(seq 100); do grep -q "actors on" "$dir/master.log" && break; sleep 0.05; done
  "$bin/agora" fleet --master "127.0.0.1:$port" --agents "$n" --status-interval 1s \
    "${fleet_flags[@]}" > "$dir/fleet.log" 2>&1 &
  local fleet=$!
  for _ in $(seq 1200); do grep -q "all agents registered in" "$dir/fleet.log" && break; sleep 0.1; done
  printf '%-13s %s\n' "$1" "$(grep -o "all agents registered in [0-9.]* s" "$dir/fleet.log" || echo 'did not register within 120 s')"
  kill "$fleet" "$master" 2>/dev/null || true
  wait "$fleet" "$master" 2>/dev/null || true
}

echo "$n agents, $runs runs each"
for _ in $(seq "$runs"); do
  run plain
  run authenticated
done
