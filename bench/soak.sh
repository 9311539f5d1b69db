#!/usr/bin/env bash
# bench/soak.sh: 30 minutes at 5,000 pings/s over JT/T 808 with corridord's resident memory
# sampled from /proc/PID/status every 10 s; says whether it stayed flat. Run by hand (not in
# CI), after bench/run.sh has built the binaries and loaded the "bench" database.
#
#   bench/soak.sh [MINUTES] [RATE]      defaults: 30 5000
#
# Flat means: after the first 5 minutes (caches, connection buffers and the web gateway's
# per-seal table fill up), the largest sample is within 10% (and 16 MiB) of the sample at
# 5 minutes. Samples go to var/bench/soak-rss.tsv (seconds, VmRSS kB, acked so far).
set -euo pipefail
usage() {
  cat <<'EOF'
usage: bench/soak.sh [MINUTES] [RATE]      defaults: 30 5000
  MINUTES of RATE pings/s over JT/T 808 with corridord's resident memory sampled every 10 s;
  says whether it stayed flat (samples in var/bench/soak-rss.tsv). Needs the binaries and
  the "bench" database of bench/run.sh (run that first).
  -h, --help   this text
EOF
}
case "${1:-}" in -h | --help) usage; exit 0 ;; esac
for a in "$@"; do
  case "$a" in
  '' | *[!0-9]*) echo "bench/soak.sh: MINUTES and RATE are whole numbers, not $a (see --help)" >&2; exit 2 ;;
  esac
done
[ $# -le 2 ] || { echo "bench/soak.sh: two arguments at most (see --help)" >&2; exit 2; }
cd "$(dirname "$0")/.."
root=$(pwd)
MIN=${1:-30}
RATE=${2:-5000}
build=$root/build-bench
out=$root/var/bench
mkdir -p "$out"
[ -x "$build/corridord" ] && [ -x "$build/corridor-sim" ] || { echo "soak: run bench/run.sh first" >&2; exit 2; }
"$root/scripts/pg.sh" start "$root/var/bench-pg" 5440 >&2
eval "$("$root/scripts/pg.sh" env "$root/var/bench-pg" 5440)"
psql -d bench -Atc "SELECT 1 FROM corridor.trip_state LIMIT 1" >/dev/null ||
  { echo "soak: no bench database; run bench/run.sh --quick first" >&2; exit 2; }
HTTP=127.0.0.1:18480 JT=127.0.0.1:16808
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
"$build/corridord" --db "dbname=bench" --http $HTTP --osmand 127.0.0.1:15455 --jt808 $JT \
  --ais "" --dispatch tcp://127.0.0.1:17470 --workers 2 --log-level warn \
  >"$out/soak-corridord.log" 2>&1 &
srv=$!
sim=
cleanup() {
  [ -n "$sim" ] && kill -TERM "$sim" 2>/dev/null || true
  kill -TERM "$srv" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap cleanup EXIT
for _ in $(seq 50); do curl -sf "http://$HTTP/api/health" >/dev/null 2>&1 && break; sleep 0.2; done
# device time: from the newest fix stored on, one second per fix per seal
devt=$(psql -d bench -Atc "SELECT coalesce(extract(epoch FROM max(ts))::bigint + 10,
                                   extract(epoch FROM now())::bigint - 7200)
                            FROM corridor.latest")
secs=$(( MIN * 60 ))
"$build/corridor-sim" load --protocol jt808 --jt808 $JT --seals 10000 --rate "$RATE" \
  --duration "$secs" --pipeline 8 --device-time "$devt" --log-level warn >"$out/soak-sim.json" &
sim=$!
printf 'seconds\tvmrss_kb\tobservations\n' >"$out/soak-rss.tsv"
t0=$(date +%s)
while kill -0 "$sim" 2>/dev/null; do
  rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$srv/status")
  obs=$(curl -s "http://$HTTP/metrics" | awk '/^corridor_observations_total/ {s += $2} END {print s + 0}')
  printf '%d\t%s\t%s\n' $(( $(date +%s) - t0 )) "$rss" "$obs" | tee -a "$out/soak-rss.tsv"
  sleep 10
done
wait "$sim" || true
sim=
cat "$out/soak-sim.json"
python3 - "$out/soak-rss.tsv" <<'PY'
import sys
rows = [l.split("\t") for l in open(sys.argv[1]).read().split("\n")[1:] if l.strip()]
rows = [(int(a), int(b)) for a, b, *_ in rows]
if not rows or rows[-1][0] < 300:
    print("shorter than 5 minutes: no verdict (samples in the file)")
    sys.exit(0)
base = next(r for t, r in rows if t >= 300)
peak = max((r for t, r in rows if t >= 300), default=base)
grow = peak - base
flat = grow <= max(0.10 * base, 16 * 1024)
print(f"RSS at 5 min {base / 1024:.1f} MiB, peak after {peak / 1024:.1f} MiB, "
      f"growth {grow / 1024:.1f} MiB: {'FLAT' if flat else 'NOT FLAT'}")
sys.exit(0 if flat else 1)
PY
