#!/usr/bin/env bash
# pg.sh: a private PostgreSQL 15 + PostGIS cluster for Corridor, listening on a unix socket
# only (no TCP, not a system service).
#   scripts/pg.sh start DIR [PORT]   create (first time) and start the cluster in DIR
#   scripts/pg.sh stop DIR           stop it
#   scripts/pg.sh env DIR [PORT]     print PGHOST/PGPORT exports for that cluster
# The cluster runs as the postgres user (PostgreSQL refuses root). If that user cannot
# reach DIR (a checkout under /root, say), the data lives in /tmp/corridor-pg-<hash> and
# DIR/pgdata links to it.
set -euo pipefail
case "${1:-}" in
-h | --help)
  cat <<'EOF'
usage: scripts/pg.sh start|stop|env DIR [PORT]
  a private PostgreSQL 15 + PostGIS cluster, on a unix socket only
  start DIR [PORT]   create (first time) and start the cluster in DIR (port default 5432)
  stop DIR           stop it
  env DIR [PORT]     print PGHOST/PGPORT exports for that cluster
  -h, --help         this text
EOF
  exit 0 ;;
esac
cmd=${1:?usage: pg.sh start|stop|env DIR [PORT]}
dir=$(mkdir -p "${2:?usage: pg.sh start|stop|env DIR [PORT]}" && cd "$2" && pwd)
port=${3:-5432}
bin=/usr/lib/postgresql/15/bin
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

data_dir() {
  if [ -L "$dir/pgdata" ] || [ -d "$dir/pgdata" ]; then readlink -f "$dir/pgdata"; return; fi
  if [ "$(id -u)" = 0 ] && ! runuser -u postgres -- test -x "$dir" 2>/dev/null; then
    local alt="/tmp/corridor-pg-$(echo "$dir" | md5sum | cut -c1-12)"
    mkdir -p "$alt"; ln -sfn "$alt" "$dir/pgdata"; echo "$alt"; return
  fi
  mkdir -p "$dir/pgdata"; echo "$dir/pgdata"
}

case "$cmd" in
start)
  data=$(data_dir)
  sock="$data/socket"
  if [ ! -f "$data/db/PG_VERSION" ]; then
    echo "pg.sh: creating a PostgreSQL cluster in $data"
    mkdir -p "$data/db" "$sock"
    [ "$(id -u)" = 0 ] && chown -R postgres:postgres "$data"
    as_pg "$bin/initdb" -D "$data/db" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
    cat >> "$data/db/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$sock'
port = $port
max_connections = 200
max_locks_per_transaction = 256
shared_buffers = 512MB
work_mem = 16MB
maintenance_work_mem = 256MB
max_wal_size = 4GB
checkpoint_timeout = 15min
wal_compression = on
fsync = on
synchronous_commit = on
logging_collector = off
jit = off
CONF
  fi
  if as_pg "$bin/pg_ctl" -D "$data/db" status >/dev/null 2>&1; then
    echo "pg.sh: already running ($sock)"
  else
    as_pg "$bin/pg_ctl" -D "$data/db" -l "$data/postgres.log" -w -t 60 start >/dev/null
    echo "pg.sh: PostgreSQL running on unix socket $sock port $port"
  fi
  ;;
stop)
  data=$(data_dir)
  if [ -f "$data/db/PG_VERSION" ] && as_pg "$bin/pg_ctl" -D "$data/db" status >/dev/null 2>&1; then
    as_pg "$bin/pg_ctl" -D "$data/db" -m fast -w stop >/dev/null && echo "pg.sh: stopped"
  fi
  ;;
env)
  data=$(data_dir)
  echo "export PGHOST='$data/socket' PGPORT=$port PGUSER=postgres"
  ;;
*) echo "pg.sh: unknown command $cmd" >&2; exit 2 ;;
esac
