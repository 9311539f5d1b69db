#!/usr/bin/env bash
# upgrade.sh: a database migrated by the layout before schema/rules (main at 1163f40:
# migrations that also defined the code) upgrades to this corridord's schema with no data
# change and ends with the same tables, functions and triggers as a fresh database.
# The old database is tests/schema/v058.sql.gz: a pg_dump of the demo's simulators run for
# 100 s against corridord of 1163f40 (trips, events, incidents, a command, RRUs, tokens).
# Needs the PostgreSQL of scripts/test (PG* in the environment) and CORRIDOR_BUILD.
#   tests/schema/upgrade.sh [--help]
set -euo pipefail
if [ "${1:-}" = --help ] || [ "${1:-}" = -h ]; then
  sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0
fi
here=$(cd "$(dirname "$0")" && pwd)
corridord="${CORRIDOR_BUILD:?CORRIDOR_BUILD names the build folder}/corridord"
old=corridor_upgrade_$$ fresh=corridor_fresh_$$
work=$(mktemp -d)
cleanup() {
  psql -d postgres -qc "DROP DATABASE IF EXISTS $old" -c "DROP DATABASE IF EXISTS $fresh" \
    >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "upgrade: FAIL: $*" >&2; exit 1; }
psql -d postgres -qc "CREATE DATABASE $old" -c "CREATE DATABASE $fresh"
zcat "$here/v058.sql.gz" | psql -q -v ON_ERROR_STOP=1 -d "$old" >/dev/null

# every row of every table, as one digest per table (a partitioned table with its
# partitions); the runner's own records are compared apart. The query is built once, on
# the old database, over its tables and columns: a migration newer than the dump may add
# tables and (NULL or defaulted) columns, which are not data the upgrade changed
rows_query=
rows() {
  [ -n "$rows_query" ] || rows_query=$(psql -d "$1" -Atc "
    SELECT string_agg(format('SELECT %L, count(*), md5(coalesce(string_agg(t::text, %L ORDER BY t::text), %L)) FROM (SELECT %s FROM %s) t',
                             c.oid::regclass, '|', '',
                             (SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum)
                              FROM pg_attribute a
                              WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped),
                             c.oid::regclass), ' UNION ALL ' ORDER BY c.oid::regclass::text)
    FROM pg_class c
    WHERE c.relnamespace = 'corridor'::regnamespace AND c.relkind IN ('r', 'p') AND NOT c.relispartition
      AND c.relname NOT IN ('migrations', 'rule_files')")
  psql -d "$1" -Atc "$rows_query"
}
code() {
  psql -d "$1" -Atc "
    SELECT 'F ' || p.oid::regprocedure::text || E'\n' || pg_get_functiondef(p.oid) FROM pg_proc p
    WHERE p.pronamespace = 'corridor'::regnamespace
    UNION ALL
    SELECT 'T ' || pg_get_triggerdef(t.oid) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
    WHERE c.relnamespace = 'corridor'::regnamespace AND NOT t.tgisinternal ORDER BY 1"
}
# the day partitions are left out: which days exist depends on the day the database was
# made (the old one was dumped days ago); partitions() compares the days each must have
day='corridor.*_20[0-9][0-9][0-1][0-9][0-3][0-9]'
tables() { pg_dump -s -n corridor -T corridor.rule_files -T "$day" -d "$1" |
           grep -v '^\\\(un\)\{0,1\}restrict' | grep -v '^-- Dumped'; }
partitions() {
  psql -d "$1" -Atc "SELECT c.relname FROM pg_class c WHERE c.relnamespace = 'corridor'::regnamespace
                     AND c.relispartition AND c.relname ~ '_20[0-9]{6}$' ORDER BY 1"
}

rows "$old" > "$work/rows.before"
psql -d "$old" -Atc "SELECT name FROM corridor.migrations ORDER BY 1" > "$work/migrations.before"
[ "$(wc -l < "$work/rows.before")" -gt 30 ] || fail "the old database has too few tables"
grep -q '^corridor.positions|[1-9]' "$work/rows.before" || fail "the old database has no positions"

"$corridord" migrate --db "dbname=$old" > "$work/upgrade.log" 2>&1 || { cat "$work/upgrade.log"; fail "migrate"; }
grep -q 'DROP TRIGGER trip_state_stop_end' "$work/upgrade.log" ||
  fail "054's stop-end trigger (folded into ingest_evaluate) was not dropped"
"$corridord" migrate --db "dbname=$fresh" > "$work/fresh.log" 2>&1 || { cat "$work/fresh.log"; fail "fresh migrate"; }

rows "$old" > "$work/rows.after"
# a table that a migration after v058 adds, empty, is no change (one emptied still shows)
empty='|0|d41d8cd98f00b204e9800998ecf8427e$'
diff <(grep -v "$empty" "$work/rows.before") <(grep -v "$empty" "$work/rows.after") ||
  fail "the upgrade changed rows (before <, after >)"
psql -d "$old" -Atc "SELECT name FROM corridor.migrations ORDER BY 1" > "$work/migrations.after"
# only migrations newer than the dump's are applied (the old layout's are recorded as they were)
comm -23 "$work/migrations.before" "$work/migrations.after" | grep -q . &&
  fail "the upgrade lost a recorded migration"
last_before=$(tail -n 1 "$work/migrations.before")
comm -13 "$work/migrations.before" "$work/migrations.after" | while read -r m; do
  [[ "$m" > "$last_before" ]] || fail "the upgrade applied $m, older than the dump's $last_before"
done
[ "$(psql -d "$old" -Atc "SELECT count(*) FROM corridor.migrations WHERE checksum IS NULL")" = 0 ] ||
  fail "the upgrade left migrations without a checksum"

code "$old" > "$work/code.upgraded"; code "$fresh" > "$work/code.fresh"
[ "$(grep -c '^F ' "$work/code.fresh")" -gt 100 ] || fail "the fresh database has too few functions"
diff "$work/code.upgraded" "$work/code.fresh" || fail "functions or triggers differ (upgraded <, fresh >)"
tables "$old" > "$work/tables.upgraded"; tables "$fresh" > "$work/tables.fresh"
diff <(grep -v 'CREATE FUNCTION\|FUNCTION ' "$work/tables.upgraded") \
     <(grep -v 'CREATE FUNCTION\|FUNCTION ' "$work/tables.fresh") > "$work/tables.diff" ||
  { head -40 "$work/tables.diff"; fail "tables differ (upgraded <, fresh >)"; }
partitions "$old" > "$work/parts.upgraded"; partitions "$fresh" > "$work/parts.fresh"
[ -s "$work/parts.fresh" ] || fail "the fresh database has no day partitions"
missing=$(comm -13 "$work/parts.upgraded" "$work/parts.fresh")
[ -z "$missing" ] || fail "the upgraded database lacks day partitions a fresh one has: $missing"

# a second migrate is a no-op for data and code
"$corridord" migrate --db "dbname=$old" > "$work/again.log" 2>&1 || { cat "$work/again.log"; fail "second migrate"; }
rows "$old" > "$work/rows.again"; code "$old" > "$work/code.again"
diff -q "$work/rows.after" "$work/rows.again" >/dev/null || fail "a second migrate changed rows"
diff -q "$work/code.fresh" "$work/code.again" >/dev/null || fail "a second migrate changed code"

# the runner refuses an edited migration, and a database newer than the binary
psql -d "$fresh" -qc "UPDATE corridor.migrations SET checksum = repeat('0', 64) WHERE name = '004_trips.sql'"
if "$corridord" migrate --db "dbname=$fresh" > "$work/edited.log" 2>&1; then fail "an edited migration was accepted"; fi
grep -q 'migration 004_trips.sql was changed after it was applied' "$work/edited.log" ||
  { cat "$work/edited.log"; fail "no precise error for an edited migration"; }
psql -d "$fresh" -qc "UPDATE corridor.migrations m SET checksum = o.checksum FROM corridor.migrations o
                      WHERE m.name = '004_trips.sql' AND o.name = '004_trips.sql'" >/dev/null
psql -d "$old" -Atc "SELECT checksum FROM corridor.migrations WHERE name = '004_trips.sql'" > "$work/sum"
psql -d "$fresh" -qc "UPDATE corridor.migrations SET checksum = '$(cat "$work/sum")' WHERE name = '004_trips.sql'"
psql -d "$fresh" -qc "INSERT INTO corridor.migrations(name, checksum) VALUES ('999_future.sql', 'x')"
if "$corridord" migrate --db "dbname=$fresh" > "$work/newer.log" 2>&1; then fail "a newer database was accepted"; fi
grep -q 'has migration 999_future.sql, which this corridord does not carry' "$work/newer.log" ||
  { cat "$work/newer.log"; fail "no precise error for a newer database"; }
psql -d "$fresh" -qc "DELETE FROM corridor.migrations WHERE name = '999_future.sql'"

# a function changed by hand is seen at start-up and replaced by the rule file's
psql -d "$fresh" -qc "CREATE OR REPLACE FUNCTION corridor.iso(t timestamptz) RETURNS text
                      LANGUAGE sql IMMUTABLE AS \$\$ SELECT 'doctored' \$\$"
"$corridord" --db "dbname=$fresh" --role alerts --dispatch tcp://127.0.0.1:0 --sweep-interval 3600 \
  > "$work/start.log" 2>&1 & pid=$!
for _ in $(seq 100); do grep -q 'corridord ready' "$work/start.log" && break; sleep 0.1; done
kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
grep -q 'the database runs other code than this corridord' "$work/start.log" ||
  { cat "$work/start.log"; fail "start-up did not see the changed function"; }
[ "$(psql -d "$fresh" -Atc "SELECT corridor.iso('2026-01-02T03:04:05Z')")" = 2026-01-02T03:04:05.000Z ] ||
  fail "start-up did not restore the rule file's function"
echo "upgrade: ok ($(wc -l < "$work/rows.before") tables, $(grep -c '^F ' "$work/code.fresh") functions, $(grep -c '^T ' "$work/code.fresh") triggers)"
