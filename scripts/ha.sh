#!/usr/bin/env bash
# ha.sh: a pg_auto_failover formation on this machine, on loopback (docs/operations.md,
# "Replication and failover"): a monitor, a primary and a synchronous secondary, each a
# PostgreSQL 15 cluster with PostGIS on its own port, the Corridor schema migrated.
#   scripts/ha.sh start DIR [PORT]   create (first time) and start: monitor on PORT (default
#                                    5457), the nodes on PORT+1 and PORT+2
#   scripts/ha.sh stop DIR           stop the three
#   scripts/ha.sh status DIR         the monitor's view (pg_autoctl show state)
#   scripts/ha.sh env DIR            print the multi-host conninfo for corridord --db
#   scripts/ha.sh kill-primary DIR   SIGKILL the primary's keeper and postmaster, as if its
#                                    machine died; prints the node's name
#   scripts/ha.sh start-node DIR N   start node N (1 or 2) again, e.g. after kill-primary:
#                                    it rejoins as a secondary
#   scripts/ha.sh switchover DIR     planned switchover (pg_autoctl perform switchover)
# pg_autoctl (and PostgreSQL) refuse root: as root everything runs as the postgres user,
# and if that user cannot reach DIR the data lives in /tmp/corridor-ha-<hash> (DIR/ha
# links to it), as scripts/pg.sh does.
set -euo pipefail
# the formation is reached by its own ports only: a PostgreSQL of the caller's environment
# (scripts/test exports PGHOST, PGPORT, PGUSER of its own) must not steer pg_autoctl or psql
unset PGHOST PGPORT PGUSER PGDATABASE PGDATA PGSERVICE PGPASSWORD PGOPTIONS
usage() {
  cat <<'EOF'
usage: scripts/ha.sh start|stop|status|env|kill-primary|start-node|switchover DIR [PORT|N]
  a pg_auto_failover formation on loopback: monitor, primary, synchronous secondary
  start DIR [PORT]    create (first time) and start; monitor on PORT (default 5457), the
                      nodes on PORT+1 and PORT+2; creates database corridor with PostGIS
                      and runs corridord migrate on it (CORRIDORD=path, default
                      build/corridord)
  stop DIR            stop the keepers and their PostgreSQL
  status DIR          pg_autoctl show state (which node is primary, which secondary)
  env DIR             print the multi-host conninfo:
                      host=127.0.0.1,127.0.0.1 port=P1,P2 ... target_session_attrs=read-write
  kill-primary DIR    SIGKILL the primary node's pg_autoctl keeper and its postmaster (a
                      dead machine); prints node1 or node2
  start-node DIR N    start node N (1 or 2) again; a former primary rejoins as secondary
  switchover DIR      planned switchover: the secondary becomes primary, the primary its
                      secondary (pg_autoctl perform switchover; a few seconds)
  -h, --help          this text
EOF
}
case "${1:-}" in
-h | --help) usage; exit 0 ;;
"") usage >&2; exit 2 ;;
esac
cmd=$1
[ -n "${2:-}" ] || { echo "ha.sh: DIR missing (see --help)" >&2; exit 2; }
root=$(cd "$(dirname "$0")/.." && pwd)
dir=$(mkdir -p "$2" && cd "$2" && pwd)
bin=/usr/lib/postgresql/15/bin
command -v pg_autoctl >/dev/null ||
  { echo "ha.sh: pg_autoctl is not installed (apt-get install postgresql-15-auto-failover pg-auto-failover-cli, or scripts/setup.sh)" >&2; exit 3; }
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

data_dir() {
  if [ -L "$dir/ha" ] || [ -d "$dir/ha" ]; then readlink -f "$dir/ha"; return; fi
  if [ "$(id -u)" = 0 ] && ! runuser -u postgres -- test -x "$dir" 2>/dev/null; then
    local alt="/tmp/corridor-ha-$(echo "$dir" | md5sum | cut -c1-12)"
    mkdir -p "$alt"; ln -sfn "$alt" "$dir/ha"; echo "$alt"; return
  fi
  mkdir -p "$dir/ha"; echo "$dir/ha"
}
data=$(data_dir)
[ "$(id -u)" = 0 ] && chown postgres:postgres "$data"
# the ports are fixed at creation: remembered in the directory
if [ -f "$data/port" ]; then port=$(cat "$data/port"); else port=${3:-5457}; fi
[ "$cmd" = start ] && [ ! -f "$data/port" ] && echo "$port" > "$data/port"
mport=$port p1=$((port + 1)) p2=$((port + 2))
# pg_autoctl keeps its configuration and state under XDG directories: keep them here
ac() {
  as_pg env PATH="$bin:/usr/local/bin:/usr/bin:/bin" XDG_CONFIG_HOME="$data/xdg/config" XDG_DATA_HOME="$data/xdg/data" \
    XDG_RUNTIME_DIR="$data/xdg/run" pg_autoctl "$@"
}
monitor_uri="postgres://autoctl_node@127.0.0.1:$mport/pg_auto_failover?sslmode=disable"
conninfo="host=127.0.0.1,127.0.0.1 port=$p1,$p2 dbname=corridor user=postgres target_session_attrs=read-write"
log() { printf '%s ha: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

keeper_pid() { # name: the pid of its pg_autoctl supervisor (which pg_autoctl writes)
  local f="$data/xdg/run/pg_autoctl$data/$1/pg_autoctl.pid"
  [ -f "$f" ] && head -1 "$f"
}
running() { # name: is its keeper running?
  local p
  p=$(keeper_pid "$1") && [ -n "$p" ] && kill -0 "$p" 2>/dev/null
}
run_keeper() { # name
  running "$1" && return 0
  # setsid: the keeper and its children are a process group of their own
  as_pg env PATH="$bin:/usr/local/bin:/usr/bin:/bin" XDG_CONFIG_HOME="$data/xdg/config" XDG_DATA_HOME="$data/xdg/data" \
    XDG_RUNTIME_DIR="$data/xdg/run" setsid pg_autoctl run --pgdata "$data/$1" \
    >>"$data/$1.log" 2>&1 < /dev/null &
  local i
  for ((i = 0; i < 40; i++)); do running "$1" && return 0; sleep 0.25; done
  echo "ha.sh: the keeper of $1 did not start (see $data/$1.log)" >&2
  return 1
}
psql_at() { as_pg psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$1" -U postgres "${@:2}"; }
wait_state() { # what (a grep pattern over show state), seconds
  local i
  for ((i = 0; i < $2 * 2; i++)); do
    ac show state --pgdata "$data/monitor" 2>/dev/null | grep -Eq "$1" && return 0
    sleep 0.5
  done
  ac show state --pgdata "$data/monitor" >&2 || true
  echo "ha.sh: timed out waiting for: $1" >&2
  return 1
}
primary_node() { # node1|node2 (the one the monitor says is primary)
  local p
  p=$(ac show state --pgdata "$data/monitor" 2>/dev/null | awk -F'|' '$6 ~ /^ *(wait_)?primary *$/ {print $3}' | tr -d ' ' | head -1)
  case "$p" in
  *:$p1) echo node1 ;;
  *:$p2) echo node2 ;;
  *) return 1 ;;
  esac
}

case "$cmd" in
start)
  mkdir -p "$data/xdg/config" "$data/xdg/data" "$data/xdg/run"
  [ "$(id -u)" = 0 ] && chown -R postgres:postgres "$data"
  chmod 700 "$data/xdg/run"
  if [ ! -f "$data/monitor/PG_VERSION" ]; then
    log "creating the monitor on 127.0.0.1:$mport"
    ac create monitor --pgdata "$data/monitor" --pgport "$mport" --hostname 127.0.0.1 \
      --auth trust --no-ssl >>"$data/monitor.log" 2>&1
    # a dead node is noticed in about 3 s rather than 20 (loopback: no slow network to wait
    # for), and the monitor waits 6 s rather than 30 for a lost primary to have demoted
    # itself, which its keeper does after 4 s without the monitor and its secondary
    # (timeout.network_partition_timeout below): the wait must stay longer than that
    cat >> "$data/monitor/postgresql.conf" <<CONF
pgautofailover.health_check_period = 1000
pgautofailover.health_check_timeout = 1000
pgautofailover.health_check_max_retries = 1
pgautofailover.health_check_retry_delay = 500
pgautofailover.node_considered_unhealthy_timeout = 3000
pgautofailover.primary_demote_timeout = 6000
CONF
  fi
  run_keeper monitor
  for i in $(seq 60); do psql_at "$mport" -d pg_auto_failover -c 'select 1' >/dev/null 2>&1 && break; sleep 0.5; done
  for n in 1 2; do
    p=$((port + n))
    if [ ! -f "$data/node$n/PG_VERSION" ] && [ ! -f "$data/node$n.created" ]; then
      log "creating node$n on 127.0.0.1:$p"
      ac create postgres --pgdata "$data/node$n" --pgport "$p" --hostname 127.0.0.1 \
        --name "node$n" --dbname corridor --monitor "$monitor_uri" --auth trust --no-ssl \
        --replication-quorum true --candidate-priority 50 >>"$data/node$n.log" 2>&1
      ac config set --pgdata "$data/node$n" timeout.network_partition_timeout 4 >/dev/null
      touch "$data/node$n.created"
      if [ $n = 1 ]; then
        cat >> "$data/node1/postgresql.conf" <<CONF
max_connections = 200
max_locks_per_transaction = 256
shared_buffers = 256MB
max_wal_size = 4GB
jit = off
CONF
      fi
    fi
    run_keeper "node$n"
    if [ $n = 1 ]; then wait_state "node1 .*\| +(wait_primary|primary|single) +\| +(wait_primary|primary|single)" 120; fi
  done
  wait_state "secondary +\| +secondary" 180
  wait_state "\| +primary +\| +primary *$" 60
  if [ ! -f "$data/migrated" ]; then
    # Synchronous replication: every secondary has replication-quorum true, so the primary
    # commits only once the secondary has the WAL (synchronous_standby_names = 'ANY 1
    # (...)'). number-sync-standbys stays 0, the only value a formation of two nodes
    # accepts (pg_autoctl refuses 1: it needs number_sync_standbys + 1 quorum secondaries,
    # so that one of them may fail without stopping writes); with a third node, set it to
    # 1: pg_autoctl set formation number-sync-standbys 1
    pn=$(primary_node)
    pp=$([ "$pn" = node1 ] && echo $p1 || echo $p2)
    # trust on loopback for every user and database (pg_autoctl wrote its own lines for
    # replication and the monitor): a private formation for development and the tests
    for n in 1 2; do
      grep -q '^host all all 127.0.0.1/32 trust' "$data/node$n/pg_hba.conf" ||
        printf 'host all all 127.0.0.1/32 trust\n' | as_pg tee -a "$data/node$n/pg_hba.conf" >/dev/null
      as_pg "$bin/pg_ctl" -D "$data/node$n" reload >/dev/null
    done
    psql_at "$pp" -d corridor -c 'CREATE EXTENSION IF NOT EXISTS postgis'
    corridord=${CORRIDORD:-$root/build/corridord}
    log "migrating the schema with $corridord"
    "$corridord" migrate --db "$conninfo" >>"$data/migrate.log" 2>&1 ||
      { tail -20 "$data/migrate.log" >&2; exit 1; }
    touch "$data/migrated"
  fi
  log "formation running; corridord --db \"$conninfo\""
  ;;
stop)
  for n in node2 node1 monitor; do
    [ -f "$data/$n/PG_VERSION" ] || continue
    ac stop --pgdata "$data/$n" >/dev/null 2>&1 || true
  done
  for n in node2 node1 monitor; do
    for i in $(seq 60); do running $n || break; sleep 0.5; done
    if running $n; then kill -TERM "$(keeper_pid $n)" 2>/dev/null || true; fi
  done
  log "stopped"
  ;;
status)
  ac show state --pgdata "$data/monitor"
  ;;
env)
  echo "$conninfo"
  ;;
kill-primary)
  pn=$(primary_node) || { echo "ha.sh: the monitor names no primary" >&2; exit 1; }
  kpid=$(keeper_pid "$pn")
  ppid=$(head -1 "$data/$pn/postmaster.pid")
  # the keeper first (its process group: the supervisor and its services), so that it
  # cannot restart its PostgreSQL: the machine is gone
  kill -KILL -- "-$kpid" 2>/dev/null || kill -KILL "$kpid"
  kill -KILL "$ppid" 2>/dev/null || true
  echo "$pn"
  ;;
start-node)
  n=${3:?ha.sh: start-node DIR N}
  run_keeper "node$n"
  ;;
switchover)
  ac perform switchover --pgdata "$data/monitor" >>"$data/monitor.log" 2>&1 ||
    { echo "ha.sh: switchover failed (see $data/monitor.log)" >&2; exit 1; }
  ac show state --pgdata "$data/monitor"
  ;;
*) echo "ha.sh: unknown command $cmd (see --help)" >&2; exit 2 ;;
esac
