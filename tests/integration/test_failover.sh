#!/usr/bin/env bash
# test_failover.sh: a short bench/failover.sh run as a test (docs/operations.md,
# "Replication and failover"): a fresh pg_auto_failover formation (monitor, primary,
# synchronous secondary), two corridord on the multi-host conninfo, 100 JT/T 808 terminals
# at 400 pings/s spread over both; SIGKILL of the primary, promotion, SIGKILL of corridord a.
# Fails unless every acknowledged ping is in the database, no incident was opened twice, no
# dispatch was lost or duplicated, acknowledgements resumed within 30 s of the database
# kill and every terminal of the dead corridord was acknowledged by the other within 10 s.
# Exit 77 (skipped) only when pg_autoctl is not installed. Ports FAILOVER_PORT.. +8
# (default 5457).
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
if ! command -v pg_autoctl >/dev/null; then
  echo "test_failover: SKIPPED: pg_autoctl is not installed (apt-get install postgresql-15-auto-failover pg-auto-failover-cli, as scripts/setup.sh does)"
  exit 77
fi
build=${CORRIDOR_BUILD:?test_failover: CORRIDOR_BUILD names the build directory}
for t in corridord corridor-sim; do
  [ -x "$build/$t" ] || { echo "test_failover: $build/$t is not built" >&2; exit 1; }
done
out=$(mktemp -d /tmp/corridor-failover-test.XXXXXX)
chmod 755 "$out"
trap 'rm -rf "$out" "/tmp/corridor-ha-$(echo "$out/ha" | md5sum | cut -c1-12)"' EXIT
BENCH_BUILD=$build FAILOVER_OUT=$out "$src/bench/failover.sh" --runs 1 --rate 400 --seals 100 \
  --warm 5 --after 8 > "$out/stdout" 2>&1 || { cat "$out/stdout"; exit 1; }
cat "$out/stdout"
r=$out/results.json
fail=0
check() { # what, jq expression that must be true
  if jq -e "$2" "$r" >/dev/null; then echo "ok: $1"; else echo "FAILED: $1 ($(jq -c . "$r"))"; fail=1; fi
}
check "pings were acknowledged" '.acked_median > 1000'
check "every acknowledged ping is in the database" '.acked_missing_total == 0'
check "no incident opened twice" '.incidents_opened_twice_total == 0'
check "incidents were opened" '.incidents_median > 0'
check "no dispatch lost" '.dispatch_lost_total == 0'
check "no dispatch duplicated" '.dispatch_duplicated_total == 0'
check "acknowledgements resumed within 30 s of the primary's SIGKILL" \
  '.db_kill_to_first_ack_ms_median != null and .db_kill_to_first_ack_ms_median > 0 and .db_kill_to_first_ack_ms_median < 30000'
check "every terminal of the dead corridord acknowledged by the other within 10 s" \
  '.corridord_kill_to_all_moved_ms_median != null and .corridord_kill_to_all_moved_ms_median < 10000'
check "half the terminals moved" '.moved_terminals_median == 50'
exit $fail
