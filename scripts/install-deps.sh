#!/usr/bin/env bash
# Installs the Debian packages Agora needs, skipping those already installed.
# Usage: scripts/install-deps.sh   (as root on Debian 12; a no-op when all are present)
set -euo pipefail

packages=(
  cmake ninja-build g++ make pkg-config ccache
  libcaf-dev                # actors, middleman (remote actors)
  libcaf-openssl0.17        # TLS on actor connections (CAF's OpenSSL module)
  libssl-dev openssl        # TLS and HTTPS; `openssl` makes the tests' certificates
  libzookeeper-mt-dev       # ZooKeeper C client
  zookeeper                 # ZooKeeper server for tests and local HA
  antlr4 libantlr4-runtime-dev
  rapidjson-dev
  prometheus-cpp-dev
  libcivetweb-dev           # HTTP server for /state, /metrics and the UI
  libjemalloc-dev           # the daemons' allocator (AGORA_JEMALLOC, docs/BENCHMARKS.md "The allocator")
  zlib1g-dev                # the ZooKeeper registry is stored deflated once it is large
  libssl-dev openssl        # authentication (HMAC-SHA256, nonces); certificates in TLS tests
  prometheus                # promtool (tests check every /metrics exposition) and the server
  libgtest-dev libgmock-dev googletest libbenchmark-dev
  clang libclang-rt-14-dev  # make test-sanitize / fuzz-short: ASan, UBSan, libFuzzer runtimes
  llvm                      # llvm-symbolizer: function names and lines in sanitizer reports
  libjs-bootstrap5 libjs-d3 # the web UI's layout and charts, served by the master under /js/
  chromium                  # ui.browser: the web UI in headless chromium (puppeteer-core from npm)
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

# Node and npm for ui.browser: Debian's packages only when no node or npm is
# on the PATH (a Node from elsewhere, e.g. NodeSource's, ships its own npm
# and conflicts with Debian's `npm` package).
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
# Python 3 for scripts (the scale benchmark and its CTest scale.small, the
# Grafana dashboard generator): Debian's package unless one is on the PATH.
command -v python3 >/dev/null 2>&1 || missing+=(python3)

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages and not root; run as root: apt-get install ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
