#!/bin/sh
# Runs promtool for a CTest entry: `promtool.sh <promtool args...>`.
# Exits 77 (the entry's SKIP_RETURN_CODE) with a message when promtool is
# not installed (Debian package `prometheus`, see scripts/install-deps.sh).
promtool=${PROMTOOL:-/usr/bin/promtool}
if [ ! -x "$promtool" ]; then
  echo "SKIP: $promtool is missing (apt-get install prometheus)"
  exit 77
fi
exec "$promtool" "$@"
