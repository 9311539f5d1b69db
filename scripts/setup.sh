#!/usr/bin/env bash
# setup.sh: what both README commands need first, idempotent: the Debian packages
# (installed with apt-get only when one is missing), the npm packages of the pages and the
# browser tests, and a build of Corridor.
#   scripts/setup.sh [BUILD_DIR] [extra cmake arguments...]
set -euo pipefail
case "${1:-}" in
-h | --help)
  cat <<'EOF'
usage: scripts/setup.sh [BUILD_DIR] [extra cmake arguments...]
  installs the Debian packages that are missing (apt-get, as root), the npm packages of
  the pages and the browser tests, and builds Corridor in BUILD_DIR (default build/);
  idempotent
  -h, --help   this text
EOF
  exit 0 ;;
esac
cd "$(dirname "$0")/.."
build=${1:-build}
shift || true

packages=(build-essential cmake pkg-config git ca-certificates
  libevent-dev libpq-dev libgeos-dev libproj-dev libnng-dev libwebsockets-dev check libjson-c-dev
  postgresql-15 postgresql-client-15 postgresql-15-postgis-3 postgresql-15-pgtap
  postgresql-15-auto-failover pg-auto-failover-cli
  libtap-parser-sourcehandler-pgtap-perl
  nodejs npm chromium fonts-dejavu-core gpsd-clients clang libclang-rt-14-dev clang-format curl
  openssl libssl-dev libcairo2-dev poppler-utils libxml2-utils
  libargon2-dev jq)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# a machine may carry its own Node.js and npm outside Debian's packages: use them
if command -v node >/dev/null && command -v npm >/dev/null; then
  tmp=(); for p in "${missing[@]}"; do [ "$p" = nodejs ] || [ "$p" = npm ] || tmp+=("$p"); done
  missing=("${tmp[@]+"${tmp[@]}"}")
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "==> installing Debian packages: ${missing[*]}"
  [ "$(id -u)" = 0 ] || { echo "setup: run as root to install packages" >&2; exit 1; }
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # Debian starts a system cluster when it installs PostgreSQL; Corridor runs its own
fi

if [ ! -d node_modules/leaflet ] || [ ! -d node_modules/playwright-core ] || \
   [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "==> installing npm packages (leaflet, topojson-client, world-atlas, playwright-core)"
  npm ci --no-audit --no-fund --loglevel=error
fi

echo "==> building Corridor in $build"
mkdir -p "$build"
if ! { cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" &&
       cmake --build "$build" -j"$(nproc)"; } > "$build/build.log" 2>&1; then
  grep -E -B2 -A8 "error|Error" "$build/build.log" | head -60
  echo "setup: the build failed; the whole log is $build/build.log" >&2
  exit 1
fi
