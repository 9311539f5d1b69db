#!/bin/sh
# test_help.sh: every script a user runs answers --help and -h with its usage and does
# nothing else ("every program answers --help"; until issue 22, bench/run.sh
# --help started a full benchmark).
#
#   tests/scripts/test_help.sh SOURCE_DIR
#
# Each script runs from a copy of its folder in a scratch tree, with stubs first on PATH
# for everything that would build, install, start a database or a server, or talk to the
# network; a stub records its name and fails. A script passes when it exits 0 within
# 10 s, prints "usage", calls no stub and leaves the scratch tree as it found it.
set -eu
src=${1:?usage: test_help.sh SOURCE_DIR}
scripts="bench/run.sh bench/soak.sh bench/ais_decode.sh scripts/demo scripts/setup.sh
scripts/pg.sh scripts/test scripts/gen-countries.js scripts/ha.sh bench/failover.sh"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/tree/bench" "$tmp/tree/scripts" "$tmp/stubs"
for s in $scripts; do
  cp "$src/$s" "$tmp/tree/$s"
done
for c in cmake ctest make cc gcc clang psql pg_ctl initdb apt-get dpkg-query npm npx curl \
  gpsdecode runuser git corridord corridor-sim chromium pg_autoctl jq; do
  printf '#!/bin/sh\necho %s "$@" >> "%s/called"\nexit 99\n' "$c" "$tmp" > "$tmp/stubs/$c"
  chmod +x "$tmp/stubs/$c"
done
(cd "$tmp/tree" && find . | sort) > "$tmp/before"

fail=0
for s in $scripts; do
  case "$s" in
  *.js) run="node" ;; # node itself is needed here; the script must not reach for its packages
  *) run="" ;;
  esac
  for opt in --help -h; do
    rm -f "$tmp/called"
    start=$(date +%s)
    st=0
    (cd "$tmp" && PATH="$tmp/stubs:$PATH" timeout 10 $run "$tmp/tree/$s" $opt) \
      > "$tmp/out" 2>&1 < /dev/null || st=$?
    took=$(($(date +%s) - start))
    why=
    [ "$st" = 0 ] || why="exit status $st"
    grep -qi usage "$tmp/out" || why="${why:+$why, }no usage printed"
    [ ! -s "$tmp/called" ] || why="${why:+$why, }ran $(head -3 "$tmp/called" | tr '\n' ';')..."
    [ "$took" -le 5 ] || why="${why:+$why, }took ${took}s"
    (cd "$tmp/tree" && find . | sort) > "$tmp/after"
    cmp -s "$tmp/before" "$tmp/after" || why="${why:+$why, }changed the tree"
    if [ -n "$why" ]; then
      echo "FAIL $s $opt: $why"
      sed 's/^/    /' "$tmp/out" | head -20
      fail=1
      # start the next script from the same tree
      (cd "$tmp/tree" && find . -mindepth 1 | sort) | while read -r f; do
        grep -qxF "$f" "$tmp/before" || rm -rf "$tmp/tree/$f"
      done
    else
      echo "ok   $s $opt"
    fi
  done
done
exit $fail
