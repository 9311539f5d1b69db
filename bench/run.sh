#!/usr/bin/env bash
# bench/run.sh: the end-to-end benchmark in one command (docs/performance.md).
#
#   bench/run.sh            full run: 3 x 60 s at full rate, latency at 1k/s and 10k/s,
#                           naive and COPY baselines 3 x 10 s each (about 10 minutes)
#   bench/run.sh --quick    1 x 15 s, latency 15 s each, baselines 1 x 5 s (development)
#
# What it does, all on this machine:
#   1. builds Release in build-bench (corridord, corridor-sim) and the bench tools;
#   2. starts its own PostgreSQL (scripts/pg.sh start var/bench-pg 5440), tunes it with
#      ALTER SYSTEM only, creates a fresh database "bench", migrates it and loads
#      bench/setup.sql: 10,000 geofences, 10,000 armed trips on 200-vertex routes;
#   3. starts corridord on private ports, warms every seal with its first fix (then VACUUM
#      ANALYZE and CHECKPOINT, so that neither autovacuum's passes nor the writing out of
#      what the vacuum dirtied fall into the latency runs), then drives
#      corridor-sim load over 10,000 real JT/T 808 connections (register, auth, 0x0200 with
#      many frames in flight) at an offered rate above capacity, and reports sustained
#      ACKNOWLEDGED pings/s (0x8001 result 0, sent only after commit);
#   4. first measures ping -> incident latency on /ws (bench/latency.mjs) while the
#      simulator offers 1,000 and then 10,000 pings/s in the background, then the
#      throughput runs (above capacity);
#   5. stops corridord and runs the baselines on the same database: bench/naive.c (three
#      round trips per ping) and COPY of the same kind of rows;
#   6. prints a table and one JSON line with the ratios.
# Each throughput run is made twice, with the positions' hash chaining on (production) and
# off (corridor.chain = 'off' for the database, corridord restarted; docs/evidence.md), in
# alternating order: the report gives the cost of chaining as a ratio of the two medians.
# Results also go to var/bench/results.json. The machine is shared: run it on a quiet one.
set -euo pipefail
usage() {
  cat <<'EOF'
usage: bench/run.sh [--quick]
  the end-to-end benchmark (docs/performance.md): builds Release in build-bench, starts its
  own PostgreSQL (var/bench-pg, port 5440) and corridord, drives corridor-sim over JT/T 808
  and prints sustained acknowledged pings/s, ping -> incident latency and the ratios against
  the naive and COPY baselines; results also go to var/bench/results.json
  (no option)  full run: 3 x 60 s at full rate, latency at 1k/s and 10k/s, baselines
               3 x 10 s each (about 10 minutes)
  --quick      1 x 15 s, latency 15 s each, baselines 1 x 5 s (development)
  -h, --help   this text
environment: BENCH_OFFER, BENCH_PIPELINE, BENCH_WORKERS (see the top of the script),
  BENCH_PG_PORT (default 5440) and BENCH_PORT_OFFSET (added to corridord's ports, default 0)
  for two benchmarks on one machine
EOF
}
quick=0
case "${1:-}" in
-h | --help) usage; exit 0 ;;
--quick) quick=1 ;;
"") ;;
*) echo "bench/run.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
esac
[ $# -le 1 ] || { echo "bench/run.sh: one argument at most (see --help)" >&2; exit 2; }
cd "$(dirname "$0")/.."
root=$(pwd)
if [ $quick = 1 ]; then
  RUNS=1 DUR=15 LAT_DUR=15 BASE_RUNS=1 BASE_DUR=5
else
  RUNS=3 DUR=60 LAT_DUR=30 BASE_RUNS=3 BASE_DUR=10
fi
OFFER=${BENCH_OFFER:-60000}     # offered pings/s for the throughput runs (above capacity)
PIPELINE=${BENCH_PIPELINE:-8}  # 0x0200 frames in flight per connection
WORKERS=${BENCH_WORKERS:-2}     # ingest workers = database connections (one per core)
# fixes per database batch: above capacity batches fill up, and a batch has a fixed cost
# (statements, commit, the evaluation of its few loud fixes); 4,000 needs workers x 5,024
# advisory locks, which scripts/pg.sh's max_locks_per_transaction covers
BATCH=${BENCH_BATCH:-4000}
SEALS=10000
PGP=${BENCH_PG_PORT:-5440}
PO=${BENCH_PORT_OFFSET:-0}
build=$root/build-bench
out=$root/var/bench
mkdir -p "$out"
log() { printf '%s bench: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

# ---- 1. build ----
log "building Release in $build"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
for t in corridord corridor-sim; do
  # the tree is shared: a half-written file elsewhere must not stop a benchmark whose
  # binary is already built (it says so)
  cmake --build "$build" -j2 --target $t >"$out/build-$t.log" 2>&1 ||
    { [ -x "$build/$t" ] && log "WARNING: $t did not rebuild (see $out/build-$t.log); using the existing binary"; } ||
    { cat "$out/build-$t.log" >&2; exit 1; }
done
cc -O2 -Wall -Wextra -Werror -I"$root/sim" -I"$root/core" "$root/bench/road.c" \
   "$root/sim/corridor.c" -o "$build/bench-road"
cc -O2 -Wall -Wextra -Werror -I"$(pg_config --includedir)" "$root/bench/naive.c" \
   -o "$build/bench-naive" -lpq -lpthread

# ---- 2. database ----
"$root/scripts/pg.sh" start "$root/var/bench-pg" $PGP >&2
eval "$("$root/scripts/pg.sh" env "$root/var/bench-pg" $PGP)"
export PGDATABASE=bench
psql -d postgres -qAt >/dev/null <<'SQL'
ALTER SYSTEM SET shared_buffers = '2GB';
ALTER SYSTEM SET wal_buffers = '64MB';
ALTER SYSTEM SET max_wal_size = '16GB';
ALTER SYSTEM SET checkpoint_timeout = '30min';
ALTER SYSTEM SET effective_cache_size = '8GB';
ALTER SYSTEM SET work_mem = '32MB';
ALTER SYSTEM SET autovacuum_vacuum_cost_limit = 2000;
-- full-page images compressed with lz4, not pglz (pglz_compress was ~0.7 % of the machine)
ALTER SYSTEM SET wal_compression = 'lz4';
-- shared buffers in 2 MB pages when the kernel has them reserved (below): the buffer
-- look-ups and btree descents that dominate the database's profile miss the TLB less
ALTER SYSTEM SET huge_pages = 'try';
SQL
# 2 GB of shared buffers plus PostgreSQL's other shared memory: 1,150 free pages of 2 MB
# (other clusters on the machine may hold some already). Only root may reserve them;
# without them PostgreSQL uses normal pages (huge_pages = try), and the report says which
# it ran with.
hp_need=1150
"$root/scripts/pg.sh" stop "$root/var/bench-pg" >&2
# free and not promised to another mapping
hp_free=$(awk '/^HugePages_Free/ {f = $2} /^HugePages_Rsvd/ {r = $2} END {print f - r}' /proc/meminfo)
if [ -w /proc/sys/vm/nr_hugepages ] && [ "${hp_free:-0}" -lt $hp_need ]; then
  echo $(( $(cat /proc/sys/vm/nr_hugepages) + hp_need - ${hp_free:-0} )) \
    >/proc/sys/vm/nr_hugepages 2>/dev/null || true
fi
"$root/scripts/pg.sh" start "$root/var/bench-pg" $PGP >&2
# the postmaster's shared buffers: mapped in 2 MB pages or not
pm=$(head -n 1 "$(readlink -f "$root/var/bench-pg/pgdata")/db/postmaster.pid")
BENCH_HUGE_PAGES=$(awk '/^[0-9a-f]+-[0-9a-f]+ / {big = 0} /^Size:/ {big = $2 > 1000000}
                        /^KernelPageSize:/ && big && $2 == 2048 {hp = 1} END {print hp + 0}' \
                   "/proc/$pm/smaps" 2>/dev/null || echo 0)
log "PostgreSQL shared memory in huge pages: $([ $BENCH_HUGE_PAGES = 1 ] && echo yes || echo no)"
# byte order for text (seal ids in every key): no strcoll in the btree descents, which took
# 2-3 % of the machine with the cluster's C.UTF-8 (docs/operations.md)
psql -d postgres -qc "DROP DATABASE IF EXISTS bench" \
  -c "CREATE DATABASE bench TEMPLATE template0 LC_COLLATE 'C' LC_CTYPE 'C.UTF-8'"
log "migrating and loading 10,000 geofences and 10,000 armed trips"
"$build/corridord" migrate --db "dbname=bench" --log-level warn
t0=$(date +%s)
psql -q -v road="$("$build/bench-road")" -v fences=10000 -v trips=$SEALS -v probes=20 \
     -f "$root/bench/setup.sql" >"$out/setup.txt"
log "data loaded in $(( $(date +%s) - t0 )) s"
# an officer's token for the websocket (/ws?token=), when the server has tokens
token=$("$build/corridord" token create --db "dbname=bench" --role officer --name bench \
        2>/dev/null | head -n 1 || true)

# ---- 3. corridord and the load ----
HTTP=127.0.0.1:$((18480 + PO)) JT=127.0.0.1:$((16808 + PO))
srv_pid=
stop_server() {
  if [ -n "$srv_pid" ] && kill -0 "$srv_pid" 2>/dev/null; then
    kill -TERM "$srv_pid"; wait "$srv_pid" 2>/dev/null || true
  fi
  srv_pid=
}
trap stop_server EXIT
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
start_server() {
  "$build/corridord" --db "dbname=bench" --http $HTTP --osmand 127.0.0.1:$((15455 + PO)) --jt808 $JT \
    --ais "" --dispatch tcp://127.0.0.1:$((17470 + PO)) --workers "$WORKERS" --batch-max "$BATCH" \
    --log-level warn >>"$out/corridord.log" 2>&1 &
  srv_pid=$!
  for _ in $(seq 50); do curl -sf "http://$HTTP/api/health" >/dev/null 2>&1 && break; sleep 0.2; done
}
# chaining on (the default) or off for the database's new sessions, then a new corridord
chain_mode() {
  if [ "$1" = off ]; then
    psql -qc "ALTER DATABASE bench SET corridor.chain = 'off'" >&2
  else
    psql -qc "ALTER DATABASE bench RESET corridor.chain" >&2
  fi
  stop_server
  start_server
}
: >"$out/corridord.log"
start_server

# Device time replays from two hours ago, one second per fix per seal, increasing over
# every run (JT/T 808 times have whole seconds: each ping is a distinct observation).
devt=$(( $(date +%s) - 7200 ))
sim() { # rate duration file: appends one JSON line to file (never in a subshell: devt)
  local rate=$1 dur=$2 file=$3
  "$build/corridor-sim" load --protocol jt808 --jt808 $JT --seals $SEALS --rate "$rate" \
    --duration "$dur" --pipeline "$PIPELINE" --device-time $devt --log-level warn >>"$file"
  tail -n 1 "$file" >&2
  devt=$(( devt + (rate * dur + SEALS - 1) / SEALS + 5 ))
}
# Waits until the server has stored everything it received (a run above capacity leaves
# frames in sockets and queues): the observation counter stands still for 3 s.
drain() {
  local last=-1 same=0 n
  for _ in $(seq 600); do
    n=$(curl -s "http://$HTTP/metrics" | awk '/^corridor_observations_total/ {s += $2} END {print s + 0}')
    if [ "$n" = "$last" ]; then same=$((same + 1)); [ $same -ge 6 ] && return 0; else same=0; fi
    last=$n
    sleep 0.5
  done
}
log "warm-up: every seal's first fix (slow: each opens its trip's fence, country, checkpoint state)"
: >"$out/warmup.json"
sim 500 20 "$out/warmup.json"
drain
# the load and the warm-up leave most tables due for autovacuum; its passes, each of which
# makes the workers plan their statements again, would otherwise land in the latency runs.
# The vacuum dirties most of what was loaded: CHECKPOINT writes it out now, not while the
# first latency run waits on its commits (one run stalled ~9 s without it)
log "VACUUM ANALYZE and CHECKPOINT after the warm-up"
psql -qc "VACUUM ANALYZE" -c "CHECKPOINT" >&2

# ---- 4. latency ----
latency() { # background rate: the simulator offers it while the probes measure
  local rate=$1
  : >"$out/latency-load-$rate.json"
  sim "$rate" $(( LAT_DUR + 8 )) "$out/latency-load-$rate.json" &
  local lp=$!
  # the probes start once the simulator's 10,000 terminals have registered and
  # authenticated (about 3 s here, each a look-up in a worker) and its load runs
  sleep 6
  node --experimental-websocket --no-warnings "$root/bench/latency.mjs" --http $HTTP \
    --jt808 $JT --probes 20 --rate 10 --duration "$LAT_DUR" --token "$token" \
    >"$out/latency-$rate.json" 2>"$out/latency-$rate.err" ||
    echo '{"error":"latency client failed, see latency-'"$rate"'.err"}' >"$out/latency-$rate.json"
  cat "$out/latency-$rate.json" >&2
  wait $lp || true
  drain
  devt=$(( devt + (rate * (LAT_DUR + 8) + SEALS - 1) / SEALS + 5 ))
}
log "latency at 1,000 pings/s"
latency 1000
log "latency at 10,000 pings/s"
latency 10000
# throughput after latency: runs above capacity leave autovacuum with millions of dead
# row versions (latest, trip_state) to clean, which would be measured as latency
: >"$out/throughput.jsonl"
: >"$out/throughput-nochain.jsonl"
for i in $(seq $RUNS); do
  # alternating order, so neither mode always runs on the emptier database
  if [ $((i % 2)) = 1 ]; then modes="on off"; else modes="off on"; fi
  for mode in $modes; do
    if [ "$mode" = on ]; then file=throughput.jsonl; else file=throughput-nochain.jsonl; fi
    chain_mode $mode
    log "throughput run $i/$RUNS, chaining $mode: offering $OFFER pings/s for $DUR s over $SEALS JT/T 808 connections"
    sim "$OFFER" "$DUR" "$out/$file"
    drain
    if [ "$mode" = on ]; then curl -s "http://$HTTP/metrics" >"$out/metrics.txt" || true; fi
  done
done
psql -qc "ALTER DATABASE bench RESET corridor.chain" >&2
stop_server

# ---- 5. baselines ----
# on a quiet database: the overload runs left dead row versions that autovacuum would be
# cleaning during the baselines (they would look slower than they are)
log "VACUUM ANALYZE before the baselines"
psql -qc "VACUUM ANALYZE" >&2
: >"$out/naive.jsonl"
: >"$out/copy.jsonl"
# naive first: each COPY run adds a million rows that autovacuum then analyses
for i in $(seq $BASE_RUNS); do
  log "naive PostGIS client run $i/$BASE_RUNS ($BASE_DUR s)"
  "$build/bench-naive" naive "$BASE_DUR" 1 | tee -a "$out/naive.jsonl" >&2
done
for i in $(seq $BASE_RUNS); do
  log "COPY run $i/$BASE_RUNS ($BASE_DUR s)"
  "$build/bench-naive" copy "$BASE_DUR" 1 | tee -a "$out/copy.jsonl" >&2
done

# ---- 6. report ----
BENCH_BATCH_USED=$BATCH BENCH_WORKERS_USED=$WORKERS BENCH_HUGE_PAGES=$BENCH_HUGE_PAGES \
  python3 - "$out" "$quick" <<'PY'
import json, os, statistics, subprocess, sys
out, quick = sys.argv[1], sys.argv[2] == "1"
def lines(name):
    with open(os.path.join(out, name)) as f:
        return [json.loads(l) for l in f if l.strip().startswith("{")]
def med(xs):
    return statistics.median(xs) if xs else 0.0
thr = lines("throughput.jsonl")
acked = med([t["acked_per_s"] for t in thr])
thr_off = lines("throughput-nochain.jsonl")
acked_off = med([t["acked_per_s"] for t in thr_off])
naive = med([n["per_s"] for n in lines("naive.jsonl")])
copy = med([c["per_s"] for c in lines("copy.jsonl")])
lat = {r: (lines(f"latency-{r}.json") or [{}])[0] for r in (1000, 10000)}
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
mem = int(open("/proc/meminfo").readline().split()[1]) // (1024 * 1024)
machine = f"{os.cpu_count()} cores {cpu}, {mem} GiB"
rows = [
    ("end-to-end JT/T 808, acknowledged pings/s", f"{acked:,.0f}", ">= 40,000"),
    ("  the same without hash chaining", f"{acked_off:,.0f}", ""),
    ("  cost of chaining (1 - on / off)",
     f"{100 * (1 - acked / acked_off):.1f}%" if acked_off else "-", "<= 5%"),
    ("naive PostGIS client, pings/s", f"{naive:,.0f}", ""),
    ("COPY of positions, rows/s", f"{copy:,.0f}", ""),
    ("corridord / naive", f"{acked / naive:.1f}x" if naive else "-", ">= 15x"),
    ("corridord / COPY", f"{100 * acked / copy:.1f}%" if copy else "-", ">= 25%"),
]
quiet_share = worker_share = None
try:
    m = {}
    for l in open(os.path.join(out, "metrics.txt")):
        if l.startswith(("corridor_quiet_fixes_total", "corridor_quiet_worker_fixes_total",
                         "corridor_observations_total")):
            k = l.split()[0].split("{")[0]
            m[k] = m.get(k, 0) + float(l.split()[-1])
    if m.get("corridor_observations_total"):
        quiet_share = m.get("corridor_quiet_fixes_total", 0) / m["corridor_observations_total"]
        worker_share = m.get("corridor_quiet_worker_fixes_total", 0) / m["corridor_observations_total"]
except OSError:
    pass
if quiet_share is not None:
    rows.append(("fixes stored without rule work (safe regions)", f"{100 * quiet_share:.1f}%", ""))
    rows.append(("  of all fixes, found quiet by the workers' copy", f"{100 * worker_share:.1f}%", ""))
for r, tgt in ((1000, 100), (10000, 250)):
    l = lat[r]
    rows.append((f"ping -> incident at {r:,}/s, p50 / p99 ms",
                 f"{l.get('p50_ms')} / {l.get('p99_ms')} ({l.get('samples', 0)} samples, {l.get('missed', 0)} missed)",
                 f"p99 <= {tgt}"))
w = max(len(r[0]) for r in rows)
hp = "yes" if os.environ["BENCH_HUGE_PAGES"] == "1" else "no"
print(f"\nCorridor benchmark ({'quick' if quick else 'full'}; {machine}; PostgreSQL in huge pages: {hp})")
print(f"{'measure':<{w}}  {'result':<40}  target")
for r in rows:
    print(f"{r[0]:<{w}}  {r[1]:<40}  {r[2]}")
res = {"machine": machine, "quick": quick, "runs": len(thr),
       "workers": int(os.environ["BENCH_WORKERS_USED"]), "batch_max": int(os.environ["BENCH_BATCH_USED"]),
       "acked_per_s": round(acked, 1), "acked_per_s_runs": [t["acked_per_s"] for t in thr],
       "nochain_acked_per_s": round(acked_off, 1),
       "nochain_acked_per_s_runs": [t["acked_per_s"] for t in thr_off],
       "chain_cost": round(1 - acked / acked_off, 4) if acked_off else None,
       "naive_per_s": round(naive, 1), "copy_per_s": round(copy, 1),
       "vs_naive": round(acked / naive, 2) if naive else None,
       "vs_copy": round(acked / copy, 4) if copy else None,
       "latency_1k_p50_ms": lat[1000].get("p50_ms"), "latency_1k_p99_ms": lat[1000].get("p99_ms"),
       "latency_10k_p50_ms": lat[10000].get("p50_ms"), "latency_10k_p99_ms": lat[10000].get("p99_ms"),
       "quiet_share": round(quiet_share, 4) if quiet_share is not None else None,
       "worker_quiet_share": round(worker_share, 4) if worker_share is not None else None,
       "huge_pages": os.environ["BENCH_HUGE_PAGES"] == "1"}
line = json.dumps(res)
open(os.path.join(out, "results.json"), "w").write(line + "\n")
print(line)
PY
