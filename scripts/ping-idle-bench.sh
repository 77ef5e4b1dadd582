#!/usr/bin/env bash
# The master's CPU with N idle simulated agents: a standalone agora-master
# and `agora fleet --agents N` on free ports; once every agent is active,
# the master's user+system CPU over SECONDS (default 45: three ping sweeps
# at the default 15 s --agent-ping-timeout). No frameworks, so the figure
# is the agents' upkeep: pings, pongs and the allocation cycles.
#
#   scripts/ping-idle-bench.sh N [SECONDS] [BIN_DIR]
set -euo pipefail
n=${1:?usage: scripts/ping-idle-bench.sh N [SECONDS] [BIN_DIR]}
seconds=${2:-45}
bin=${3:-build/bin}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
http=$(free_port)
actor=$(free_port)
work=$(mktemp -d)
"$bin/agora-master" --port="$http" --actor-port="$actor" --ip=127.0.0.1 >"$work/master.log" 2>&1 &
master=$!
fleet=
cleanup() {
  [ -n "$fleet" ] && kill "$fleet" 2>/dev/null && wait "$fleet" 2>/dev/null
  kill "$master" 2>/dev/null && wait "$master" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
active() {
  python3 - "$http" <<'PY'
import sys, urllib.request
try:
    body = urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/metrics", timeout=5).read().decode()
except OSError:
    print(0); sys.exit()
for line in body.splitlines():
    if line.startswith('agora_master_agents{state="active"}'):
        print(int(float(line.rsplit(" ", 1)[1]))); break
else:
    print(0)
PY
}
up() { python3 -c "import sys, urllib.request; urllib.request.urlopen('http://127.0.0.1:$http/health', timeout=2)" 2>/dev/null; }
for _ in $(seq 300); do up && break; sleep 0.1; done
"$bin/agora" fleet --master="127.0.0.1:$actor" --agents="$n" --racks=$(( (n + 39) / 40 )) --quiet >"$work/fleet.log" 2>&1 &
fleet=$!
deadline=$((SECONDS + 300))
until [ "$(active)" -ge "$n" ]; do
  [ $SECONDS -lt $deadline ] || { echo "ping-idle-bench: $n agents did not all register" >&2; exit 1; }
  sleep 0.5
done
ticks() { awk '{print $14 + $15}' "/proc/$master/stat"; }
hz=$(getconf CLK_TCK)
before=$(ticks)
sleep "$seconds"
after=$(ticks)
echo "ping-idle-bench: $n idle agents, master CPU $(python3 -c "print(f'{($after - $before) / $hz:.2f}')") s in $seconds s; $(active) active at the end"
