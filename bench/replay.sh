#!/usr/bin/env bash
# bench/replay.sh: the replay benchmark of issue 18 (docs/replay.md), run by hand.
#
#   bench/replay.sh            10,000,000 background positions, 50 timed requests
#   bench/replay.sh --quick    1,000,000 background positions, 20 requests (development)
#   bench/replay.sh --again    the timings again on the database the last run loaded
#
# What it does, all on this machine:
#   1. builds Release corridord in build-bench (BENCH_BUILD=DIR uses a corridord already
#      built there instead);
#   2. starts its own PostgreSQL (scripts/pg.sh start var/replay-pg 5441, BENCH_PG_PORT to
#      change), creates a fresh database "replay", migrates it and loads bench/replay.sql
#      with generate_series straight into corridor.positions: 1,050 seals x 10 days at one
#      fix every 90 s (10,080,000 rows over 12 daily partitions), plus one three-day trip
#      with a fix every 10 s (25,920), its route (200 vertices, 4 checkpoints), events and
#      incidents;
#   3. starts corridord on private ports (no device listeners) and times, with curl over
#      HTTP and an officer's token, GET /api/trips/{id}/replay and GET /api/seals/{id}/replay
#      for a three-day window of a background seal; first 3 untimed requests, then N timed;
#   4. prints the plan of the fixes' scan (EXPLAIN ANALYZE), a table of p50 / p99 and one
#      JSON line; results also go to var/replay-bench/results.json. Beside the wall times it
#      gives the CPU time of one request (PostgreSQL's processes and corridord, from /proc):
#      on a shared machine the wall time is that plus the waiting for a core.
set -euo pipefail
usage() {
  cat <<'EOF2'
usage: bench/replay.sh [--quick | --again]
  the replay benchmark (docs/replay.md): its own PostgreSQL (var/replay-pg, port 5441) with
  10 million positions and a three-day trip at one fix every 10 s, corridord in Release, and
  p50 / p99 of GET /api/trips/{id}/replay over HTTP (target: under 100 ms)
  (no option)  1,050 seals x 10 days x one fix per 90 s (10,080,000 rows), 50 requests
  --quick      105 seals (1,008,000 rows), 20 requests
  --again      time again on the database of the last run (no load), 50 requests
  -h, --help   this text
environment: BENCH_BUILD (a build folder with corridord), BENCH_PG_PORT (default 5441)
EOF2
}
quick=0 again=0
case "${1:-}" in
-h | --help) usage; exit 0 ;;
--quick) quick=1 ;;
--again) again=1 ;;
"") ;;
*) echo "bench/replay.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
esac
cd "$(dirname "$0")/.."
root=$(pwd)
if [ $quick = 1 ]; then SEALS=105 N=20; else SEALS=1050 N=50; fi
DAYS=10 EVERY=90
PGPORT_BENCH=${BENCH_PG_PORT:-5441}
out=$root/var/replay-bench
mkdir -p "$out"
log() { printf '%s replay-bench: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

# ---- 1. build ----
if [ -n "${BENCH_BUILD:-}" ]; then
  build=$BENCH_BUILD
  [ -x "$build/corridord" ] || { echo "bench/replay.sh: no $build/corridord" >&2; exit 1; }
else
  build=$root/build-bench
  log "building Release corridord in $build"
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build" -j2 --target corridord >"$out/build.log" 2>&1 ||
    { cat "$out/build.log" >&2; exit 1; }
fi

# ---- 2. database ----
"$root/scripts/pg.sh" start "$root/var/replay-pg" "$PGPORT_BENCH" >&2
eval "$("$root/scripts/pg.sh" env "$root/var/replay-pg" "$PGPORT_BENCH")"
export PGDATABASE=replay
if [ $again = 1 ]; then
  [ -s "$out/setup.txt" ] || { echo "bench/replay.sh --again: no earlier run in $out" >&2; exit 1; }
  load_s=$(cat "$out/load_s" 2>/dev/null || echo 0)
  "$build/corridord" migrate --db "dbname=replay" --log-level warn
else
psql -d postgres -qAt >/dev/null <<'SQL'
ALTER SYSTEM SET shared_buffers = '1GB';
ALTER SYSTEM SET max_wal_size = '16GB';
ALTER SYSTEM SET checkpoint_timeout = '30min';
ALTER SYSTEM SET effective_cache_size = '8GB';
ALTER SYSTEM SET maintenance_work_mem = '512MB';
SQL
"$root/scripts/pg.sh" stop "$root/var/replay-pg" >&2
"$root/scripts/pg.sh" start "$root/var/replay-pg" "$PGPORT_BENCH" >&2
psql -d postgres -qc "DROP DATABASE IF EXISTS replay" \
  -c "CREATE DATABASE replay TEMPLATE template0 LC_COLLATE 'C' LC_CTYPE 'C.UTF-8'"
"$build/corridord" migrate --db "dbname=replay" --log-level warn
rows=$(( SEALS * DAYS * 86400 / EVERY ))
log "loading $(printf "%'d" $rows) background positions and a three-day trip"
t0=$(date +%s)
psql -qAt -v seals=$SEALS -v days=$DAYS -v every=$EVERY -f "$root/bench/replay.sql" >"$out/setup.txt"
load_s=$(( $(date +%s) - t0 ))
echo $load_s >"$out/load_s"
psql -qc CHECKPOINT
fi
trip=$(sed -n 's/^trip=//p' "$out/setup.txt")
positions=$(sed -n 's/^positions=//p' "$out/setup.txt")
log "$(printf "%'d" "$positions") positions (loaded in $load_s s); trip $trip"

# the plan of the trip's scan, as replay_json runs it
psql -qAt >"$out/explain.txt" <<SQL
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT count(*), array_agg(date_part('epoch', p.ts)), array_agg(round(p.lon * 1e6) / 1e6),
       array_agg(round(p.lat * 1e6) / 1e6), array_agg(p.speed_kmh)
FROM (SELECT ts, lon, lat, speed_kmh FROM corridor.positions
      WHERE seal_id = 'REPLAY-1'
        AND ts >= (SELECT armed_at FROM corridor.trips WHERE id = '$trip')
        AND ts <= (SELECT disarmed_at FROM corridor.trips WHERE id = '$trip')
      ORDER BY ts LIMIT 250001) p;
SQL
sql_ms=$(psql -qAt -c '\timing on' -c "SELECT length(corridor.replay_trip('$trip')::text)" \
         -c "SELECT length(corridor.replay_trip('$trip')::text)" |
         sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -n 1)

# ---- 3. corridord and the requests ----
HTTP=127.0.0.1:18490
srv_pid=
stop_server() {
  if [ -n "$srv_pid" ] && kill -0 "$srv_pid" 2>/dev/null; then
    kill -TERM "$srv_pid"; wait "$srv_pid" 2>/dev/null || true
  fi
  srv_pid=
}
trap stop_server EXIT
"$build/corridord" --db "dbname=replay" --http $HTTP --osmand "" --jt808 "" --ais "" \
  --dispatch tcp://127.0.0.1:17490 --rate-per-token 0 --log-level warn >"$out/corridord.log" 2>&1 &
srv_pid=$!
for _ in $(seq 50); do curl -sf "http://$HTTP/api/health" >/dev/null 2>&1 && break; sleep 0.2; done
token=$("$build/corridord" token create --db "dbname=replay" --role officer --name replay-bench \
        2>/dev/null | grep -o 'cor_[0-9a-f]*' | head -n 1 || true)
auth=()
[ -n "$token" ] && auth=(-H "Authorization: Bearer $token")
from=$(date -u -d @$(( $(date +%s) - 3 * 86400 - 3600 )) +%Y-%m-%dT%H:%M:%SZ)
to=$(date -u -d @$(( $(date +%s) - 3600 )) +%Y-%m-%dT%H:%M:%SZ)
# CPU seconds x CLK_TCK used so far by this cluster's processes and corridord: the work of
# the requests whatever else the shared machine runs (wall time is not)
pm=$(head -n 1 "$(readlink -f "$root/var/replay-pg/pgdata")/db/postmaster.pid")
cpu_ticks() {
  local t=0 p
  for p in $pm $(pgrep -P "$pm") $srv_pid; do
    t=$(( t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0) ))
  done
  echo $t
}
time_url() { # name url: N timed requests after 3 untimed; one line "name bytes cpu_ms ms ms ..."
  local name=$1 url=$2 code c0
  for _ in 1 2 3; do
    code=$(curl -s -o "$out/$name.json" -w '%{http_code}' "${auth[@]}" "$url")
    [ "$code" = 200 ] || { echo "bench/replay.sh: $url answered $code" >&2; head -c 300 "$out/$name.json" >&2; exit 1; }
  done
  local times=()
  c0=$(cpu_ticks)
  for _ in $(seq $N); do
    times+=("$(curl -s -o /dev/null -w '%{time_total}' -H 'Accept-Encoding: identity' "${auth[@]}" "$url")")
  done
  echo "$name $(stat -c %s "$out/$name.json") $(( ($(cpu_ticks) - c0) * 1000 / $(getconf CLK_TCK) / N )) ${times[*]}"
}
log "timing $N requests each"
{
  time_url trip "http://$HTTP/api/trips/$trip/replay"
  time_url seal "http://$HTTP/api/seals/B00001/replay?from=$from&to=$to"
} >"$out/times.txt"
stop_server

# ---- 4. report ----
LOADAVG="$(cut -d' ' -f1-3 /proc/loadavg)" SQL_MS=$sql_ms POSITIONS=$positions LOAD_S=$load_s QUICK=$quick OUT=$out python3 - <<'PY'
import json, os
out = os.environ["OUT"]
def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, max(0, int(round(p / 100 * len(v) + 0.5)) - 1))]
res = {"positions": int(os.environ["POSITIONS"]), "load_s": int(os.environ["LOAD_S"]),
       "quick": os.environ["QUICK"] == "1", "sql_ms": float(os.environ["SQL_MS"] or 0),
       "loadavg": os.environ["LOADAVG"]}
rows = []
for line in open(os.path.join(out, "times.txt")):
    name, size, cpu, *ts = line.split()
    ms = [float(t) * 1000 for t in ts]
    fixes = len(json.load(open(os.path.join(out, name + ".json")))["t"])
    res[f"{name}_fixes"] = fixes
    res[f"{name}_bytes"] = int(size)
    res[f"{name}_p50_ms"] = round(pct(ms, 50), 1)
    res[f"{name}_p99_ms"] = round(pct(ms, 99), 1)
    res[f"{name}_requests"] = len(ms)
    res[f"{name}_cpu_ms"] = int(cpu)
    rows.append((f"GET /api/{'trips/{id}' if name == 'trip' else 'seals/{id}'}/replay ({fixes:,} fixes, {int(size) / 1e6:.2f} MB)",
                 f"{pct(ms, 50):.1f} / {pct(ms, 99):.1f} ({len(ms)} requests, {cpu} ms CPU each)",
                 "p99 < 100" if name == "trip" else ""))
rows.append(("replay_trip in SQL alone, ms", f"{res['sql_ms']:.1f}", ""))
w = max(len(r[0]) for r in rows)
print(f"\nReplay benchmark ({res['positions']:,} positions, loaded in {res['load_s']} s; "
      f"load average {res['loadavg']}: the machine is shared, run it on a quiet one)")
print(f"{'measure (p50 / p99 ms over HTTP)':<{w}}  {'result':<44}  target")
for r in rows:
    print(f"{r[0]:<{w}}  {r[1]:<44}  {r[2]}")
line = json.dumps(res)
open(os.path.join(out, "results.json"), "w").write(line + "\n")
print(line)
PY
echo "the plan of the trip's scan: $out/explain.txt" >&2
