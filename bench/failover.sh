#!/usr/bin/env bash
# bench/failover.sh: a database failover and the loss of a corridord, under JT/T 808 load, all
# on this machine (docs/operations.md, "Replication and failover"). Run by hand, not by
# scripts/test.
#
# Each run:
#   1. creates a fresh pg_auto_failover formation with scripts/ha.sh (monitor, primary,
#      synchronous secondary on loopback) in var/failover/ha, with the schema migrated;
#   2. loads the seals (jt808, terminal 2 + 11 digits), restricted zones over stretches of
#      the road (so incidents open, and are dispatched) and rapid response units;
#   3. starts two corridord instances on the multi-host conninfo (ha.sh env) and
#      corridor-sim load over JT/T 808 with the terminals spread over both (--jt808 A,B: a
#      terminal whose instance dies dials the other), listing every acknowledged ping;
#   4. after --warm seconds SIGKILLs the primary (its pg_autoctl keeper and its postmaster:
#      the machine dies), waits for the monitor to promote the secondary, --after seconds
#      later SIGKILLs corridord A, and stops the load --after seconds after that;
#   5. checks, on the new primary: every acknowledged ping is in corridor.positions, no
#      incident was opened twice (two incidents of one subject and rule), every critical
#      incident has exactly one dispatch (none lost, none duplicated);
#   6. prints the time from the database kill to the first acknowledgement after it, from
#      the corridord kill until each of its terminals was acknowledged by the other
#      instance, the pings refused / lost with a connection (what the devices resend), a
#      table and one JSON line (medians over the runs). Results in var/failover/results.json.
set -euo pipefail
# the formation is reached by its own ports only: a PostgreSQL of the caller's environment
# (scripts/test exports PGHOST, PGPORT, PGUSER of its own) must not steer pg_autoctl or psql
unset PGHOST PGPORT PGUSER PGDATABASE PGDATA PGSERVICE PGPASSWORD PGOPTIONS
usage() {
  cat <<'EOF'
usage: bench/failover.sh [--runs N] [--rate R] [--seals S] [--warm S] [--after S]
  database failover and corridord loss under JT/T 808 load (docs/operations.md): a
  pg_auto_failover formation (scripts/ha.sh), two corridord, corridor-sim load; SIGKILL of
  the primary PostgreSQL, then of one corridord; checks that every acknowledged ping is
  stored, no incident opened twice, no dispatch lost or duplicated
  --runs N       runs, medians reported (default 3)
  --rate R       offered pings/s (default 2000)
  --seals S      terminals (default 200)
  --warm S       seconds of load before the primary is killed (default 15)
  --after S      seconds of load after the new primary is up, before corridord a is
                 killed, and after that before the load stops (default 20)
  -h, --help     this text
environment: BENCH_BUILD (a build dir with corridord and corridor-sim; default build-bench,
  built Release when missing), FAILOVER_PORT (first of 9 ports, default 5457), FAILOVER_OUT
  (where the formation, logs and results go; default var/failover)
EOF
}
RUNS=3 RATE=2000 SEALS=200 WARM=15 AFTER=20
while [ $# -gt 0 ]; do
  case "$1" in
  -h | --help) usage; exit 0 ;;
  --runs) RUNS=${2:?--runs N}; shift 2 ;;
  --rate) RATE=${2:?--rate R}; shift 2 ;;
  --seals) SEALS=${2:?--seals S}; shift 2 ;;
  --warm) WARM=${2:?--warm S}; shift 2 ;;
  --after) AFTER=${2:?--after S}; shift 2 ;;
  *) echo "bench/failover.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
cd "$(dirname "$0")/.."
root=$(pwd)
build=${BENCH_BUILD:-$root/build-bench}
P=${FAILOVER_PORT:-5457}
HTTP_A=$((P + 3)) JT_A=$((P + 4)) HTTP_B=$((P + 5)) JT_B=$((P + 6))
out=${FAILOVER_OUT:-$root/var/failover}
mkdir -p "$out"
log() { printf '%s failover: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
now_ms() { date +%s%3N; }

if [ ! -x "$build/corridord" ] || [ ! -x "$build/corridor-sim" ]; then
  log "building Release in $build"
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build" -j2 --target corridord corridor-sim >"$out/build.log" 2>&1 ||
    { tail -30 "$out/build.log" >&2; exit 1; }
fi
command -v pg_autoctl >/dev/null || { echo "bench/failover.sh: pg_autoctl is not installed (scripts/setup.sh)" >&2; exit 3; }

pids=()
cleanup() {
  for p in "${pids[@]+"${pids[@]}"}"; do kill -TERM "$p" 2>/dev/null || true; done
  scripts/ha.sh stop "$out/ha" >/dev/null 2>&1 || true
}
trap cleanup EXIT

health() { curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$1/api/health" 2>/dev/null || true; }
start_corridord() { # name http jt808 dispatch-port
  "$build/corridord" --db "$CI" --no-migrate --http "127.0.0.1:$2" --jt808 "127.0.0.1:$3" \
    --osmand "" --ais "" --dispatch "tcp://127.0.0.1:$4" --workers 2 --log-level info \
    >"$out/corridord-$1.log" 2>&1 &
  echo $!
}

# the places along the road (sim/corridor.c), every 8th: restricted zones of 10 km radius
zones=$(grep -oE '^\s*\{-?[0-9.]+, -?[0-9.]+, [0-9]+\}' sim/corridor.c | tr -d '{} ' |
  awk -F, 'NR % 8 == 4 {printf "%s(%s,%s)", (n++ ? "," : ""), $1, $2}')

one_run() { # run number; prints one JSON line
  local r=$1 dir=$out/ha
  scripts/ha.sh stop "$dir" >/dev/null 2>&1 || true
  rm -rf "$dir" "$(readlink -f "$dir/ha" 2>/dev/null || echo /nonexistent)"
  rm -rf "/tmp/corridor-ha-$(echo "$dir" | md5sum | cut -c1-12)"
  log "run $r: creating the formation"
  CORRIDORD=$build/corridord scripts/ha.sh start "$dir" "$P" >"$out/ha-$r.log" 2>&1 ||
    { tail -20 "$out/ha-$r.log" >&2; exit 1; }
  CI=$(scripts/ha.sh env "$dir")
  psql "$CI" -X -q -v ON_ERROR_STOP=1 <<SQL
INSERT INTO corridor.seals (id, protocol, device_id)
SELECT format('LD-SEAL-%s', lpad(k::text, 6, '0')), 'jt808', '2' || lpad(k::text, 11, '0')
FROM generate_series(1, $SEALS) k;
INSERT INTO corridor.geofences (name, kind, geom)
SELECT 'FAILOVER zone ' || row_number() OVER (), 'restricted',
       ST_Multi(ST_Buffer(ST_SetSRID(ST_MakePoint(lon, lat), 4326)::geography, 10000)::geometry)
FROM (VALUES $zones) z(lat, lon);
INSERT INTO corridor.rrus (id, name, base)
SELECT 'FO-RRU-' || k, 'unit ' || k,
       ST_SetSRID(ST_MakePoint(29.5 + 10.0 * k / 400, -1.0 - 3.0 * (k % 7) / 7), 4326)::geography
FROM generate_series(1, 400) k;
SQL
  local a b sim
  a=$(start_corridord a $HTTP_A $JT_A $((P + 7)))
  b=$(start_corridord b $HTTP_B $JT_B $((P + 8)))
  pids=("$a" "$b")
  for i in $(seq 60); do
    [ "$(health $HTTP_A)" = 200 ] && [ "$(health $HTTP_B)" = 200 ] && break
    sleep 0.5
  done
  [ "$(health $HTTP_A)" = 200 ] || { log "corridord did not come up"; tail "$out/corridord-a.log" >&2; exit 1; }
  local acked=$out/acked-$r.txt
  log "run $r: load, $RATE pings/s over $SEALS terminals"
  "$build/corridor-sim" load --protocol jt808 --jt808 "127.0.0.1:$JT_A,127.0.0.1:$JT_B" \
    --seals "$SEALS" --rate "$RATE" --duration 3600 --pipeline 8 --acked-out "$acked" \
    >"$out/sim-$r.json" 2>"$out/sim-$r.log" &
  sim=$!
  pids+=("$sim")
  sleep $((WARM + 3)) # terminals register and authenticate first (a couple of seconds)
  local old t_kill t_promoted t_kill2 new
  t_kill=$(now_ms)
  old=$(scripts/ha.sh kill-primary "$dir")
  log "run $r: SIGKILL of the primary ($old)"
  new=$([ "$old" = node1 ] && echo node2 || echo node1)
  for i in $(seq 480); do
    scripts/ha.sh status "$dir" 2>/dev/null | grep -Eq "^ *$new .*\| +(wait_primary|primary) +\| +(wait_primary|primary) *$" && break
    sleep 0.25
  done
  t_promoted=$(now_ms)
  log "run $r: $new promoted after $(((t_promoted - t_kill)))ms"
  sleep "$AFTER"
  t_kill2=$(now_ms)
  kill -KILL "$a"
  log "run $r: SIGKILL of corridord a"
  sleep "$AFTER"
  local health_b
  health_b=$(health $HTTP_B)
  kill -TERM "$sim"
  wait "$sim" || true
  kill -TERM "$b" 2>/dev/null || true
  wait "$b" 2>/dev/null || true
  pids=()
  local simj
  simj=$(grep '"protocol"' "$out/sim-$r.json" | tail -1)
  [ -n "$simj" ] || { log "corridor-sim printed no result"; tail "$out/sim-$r.log" >&2; exit 1; }

  # ---- checks on the new primary ----
  local checks
  checks=$(psql "$CI" -X -q -At -v ON_ERROR_STOP=1 <<SQL
CREATE TEMP TABLE acked (terminal text, ts bigint, at_ms bigint);
\\copy acked FROM '$acked' WITH (FORMAT text, DELIMITER ' ')
SELECT json_build_object(
  'acked_listed', (SELECT count(*) FROM acked),
  'acked_missing', (SELECT count(*) FROM acked a JOIN corridor.seals s ON s.device_id = a.terminal
                    WHERE NOT EXISTS (SELECT 1 FROM corridor.positions p
                                      WHERE p.seal_id = s.id AND p.ts = to_timestamp(a.ts))),
  'positions', (SELECT count(*) FROM corridor.positions WHERE seal_id LIKE 'LD-SEAL-%'),
  'incidents', (SELECT count(*) FROM corridor.incidents),
  'incidents_twice', (SELECT count(*) FROM (SELECT subject, rule FROM corridor.incidents
                      GROUP BY 1, 2 HAVING count(*) > 1) d),
  'critical', (SELECT count(*) FROM corridor.incidents WHERE severity = 'critical'),
  'dispatch_lost', (SELECT count(*) FROM corridor.incidents i WHERE severity = 'critical'
                    AND opened_at < now() - interval '5 s'
                    AND NOT EXISTS (SELECT 1 FROM corridor.dispatches d WHERE d.incident_id = i.id)),
  'dispatch_twice', (SELECT count(*) FROM (SELECT incident_id FROM corridor.dispatches
                     GROUP BY 1 HAVING count(*) > 1) d),
  'resume_ms', (SELECT min(at_ms) - $t_kill FROM (
                  SELECT at_ms, at_ms - lag(at_ms) OVER (ORDER BY at_ms) gap FROM acked
                  WHERE at_ms >= $t_kill - 1000 AND at_ms < $t_kill2) g
                WHERE gap = (SELECT max(gap) FROM (SELECT at_ms - lag(at_ms) OVER (ORDER BY at_ms) gap
                             FROM acked WHERE at_ms >= $t_kill - 1000 AND at_ms < $t_kill2) h)),
  'moved_max_ms', (SELECT max(f) - $t_kill2 FROM (
                  SELECT min(at_ms) f FROM acked
                  WHERE at_ms > $t_kill2 AND (substr(terminal, 2)::int - 1) % 2 = 0
                  GROUP BY terminal) m),
  'moved_median_ms', (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY f) - $t_kill2 FROM (
                  SELECT min(at_ms) f FROM acked
                  WHERE at_ms > $t_kill2 AND (substr(terminal, 2)::int - 1) % 2 = 0
                  GROUP BY terminal) m),
  'moved_terminals', (SELECT count(DISTINCT terminal) FROM acked
                  WHERE at_ms > $t_kill2 AND (substr(terminal, 2)::int - 1) % 2 = 0))
SQL
)
  jq -nc --argjson s "$simj" --argjson c "$checks" --arg old "$old" \
    --argjson promote $((t_promoted - t_kill)) --arg hb "$health_b" \
    '{run: '"$r"', killed: $old, promote_ms: $promote, health_b_after_kill: $hb} + $c +
     {sent: $s.sent, acked: $s.acked, refused: $s.refused, errors: $s.errors,
      dropped: $s.dropped, reconnects: $s.reconnects, acked_per_s: $s.acked_per_s,
      latency_ms_p99: $s.latency_ms_p99}'
}

: >"$out/runs.jsonl"
for r in $(seq "$RUNS"); do
  one_run "$r" | tee -a "$out/runs.jsonl" >&2
done
trap - EXIT
cleanup

med() { jq -s "map(.$1) | sort | if length % 2 == 1 then .[length / 2 | floor] else (.[length / 2 - 1] + .[length / 2]) / 2 end" "$out/runs.jsonl"; }
sum() { jq -s "map(.$1) | add" "$out/runs.jsonl"; }
summary=$(jq -nc --argjson runs "$RUNS" --argjson rate "$RATE" --argjson seals "$SEALS" \
  --argjson promote "$(med promote_ms)" --argjson resume "$(med resume_ms)" \
  --argjson moved "$(med moved_max_ms)" --argjson missing "$(sum acked_missing)" \
  --argjson twice "$(sum incidents_twice)" --argjson lost "$(sum dispatch_lost)" \
  --argjson dtwice "$(sum dispatch_twice)" --argjson refused "$(med refused)" \
  --argjson errors "$(med errors)" --argjson acked "$(med acked)" --argjson incidents "$(med incidents)" \
  --argjson movedn "$(med moved_terminals)" \
  '{bench: "failover", runs: $runs, rate: $rate, seals: $seals,
    db_promote_ms_median: $promote, db_kill_to_first_ack_ms_median: $resume,
    corridord_kill_to_all_moved_ms_median: $moved, moved_terminals_median: $movedn,
    acked_median: $acked,
    refused_median: $refused, lost_with_connection_median: $errors,
    acked_missing_total: $missing, incidents_median: $incidents, incidents_opened_twice_total: $twice,
    dispatch_lost_total: $lost, dispatch_duplicated_total: $dtwice}')
echo "$summary" >"$out/results.json"
printf '\n%-52s %s\n' "failover ($RUNS runs, $RATE pings/s, $SEALS terminals)" "median / total"
printf '%-52s %s\n' \
  "primary SIGKILL -> secondary promoted (ms)" "$(med promote_ms)" \
  "primary SIGKILL -> first acknowledgement after (ms)" "$(med resume_ms)" \
  "corridord SIGKILL -> all its terminals acked (ms)" "$(med moved_max_ms)" \
  "pings acknowledged" "$(med acked)" \
  "pings refused (0x8001 result 1: resent)" "$(med refused)" \
  "pings lost with a connection (resent)" "$(med errors)" \
  "acknowledged pings missing from the database" "$(sum acked_missing) (total)" \
  "incidents (median) / opened twice (total)" "$(med incidents) / $(sum incidents_twice)" \
  "dispatches lost / duplicated (total)" "$(sum dispatch_lost) / $(sum dispatch_twice)"
echo "$summary"
