#!/usr/bin/env bash
# pgtap.sh: the SQL-level tests of the rule families (schema/rules/tests/FAMILY.sql, pgTAP),
# run with pg_prove against a fresh database migrated by this corridord. Each file runs in
# one transaction that it rolls back, so the files share the database and not their data.
#   tests/schema/pgtap.sh [FAMILY...]   (default: every file; FAMILY is e.g. fences)
#   tests/schema/pgtap.sh --help
# Needs the PostgreSQL of scripts/test (PG* in the environment) and CORRIDOR_BUILD.
set -euo pipefail
if [ "${1:-}" = --help ] || [ "${1:-}" = -h ]; then
  sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0
fi
root=$(cd "$(dirname "$0")/../.." && pwd)
corridord="${CORRIDOR_BUILD:?CORRIDOR_BUILD names the build folder}/corridord"
db=corridor_tap_$$
cleanup() { psql -d postgres -qc "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true; }
trap cleanup EXIT
psql -d postgres -qc "CREATE DATABASE $db"
log=$(mktemp)
"$corridord" migrate --db "dbname=$db" > "$log" 2>&1 || { cat "$log"; rm -f "$log"; exit 1; }
rm -f "$log"
# pgTAP in its own schema, so it is never taken for Corridor's code
psql -d "$db" -qc "SET client_min_messages = warning; CREATE SCHEMA tap; CREATE EXTENSION pgtap SCHEMA tap"
files=()
if [ $# -gt 0 ]; then
  for f in "$@"; do files+=("$root/schema/rules/tests/$f.sql"); done
else
  files=("$root"/schema/rules/tests/*.sql)
fi
# each family's rule file has its tests, and each test file its rule file
for r in "$root"/schema/rules/*.sql; do
  [ -e "$root/schema/rules/tests/$(basename "$r")" ] ||
    { echo "pgtap: schema/rules/$(basename "$r") has no tests (schema/rules/tests/)" >&2; exit 1; }
done
PGOPTIONS="--search_path=tap,public --client_min_messages=warning" \
  pg_prove --dbname "$db" --failures --quiet "${files[@]}"
