#!/bin/sh
# ais_decode.sh: AIS decoding throughput of corridor-decode ais against gpsd's gpsdecode -j,
# same input file, same run (the target: >= 3x gpsdecode sentences/s, identical output).
# Builds a tiny generator against ingest/ais.c (the encoder), writes ~200,000 sentences
# (a feed-like mix of types 1/2/3, 5 in two parts, 18, 24 A+B, 4, 19, 21, 27), times each
# decoder 3 times (median), prints sentences/s of each and the ratio, and checks that the
# two outputs are byte-identical.
# Usage: bench/ais_decode.sh [BUILD_DIR] [N_MESSAGES]   (BUILD_DIR holds corridor-decode)
set -eu
case "${1:-}" in
-h | --help)
  cat <<'EOF'
usage: bench/ais_decode.sh [BUILD_DIR] [N_MESSAGES]
  AIS decoding throughput of corridor-decode ais against gpsd's gpsdecode -j on the same
  generated input (default 160000 messages): sentences/s of each, the ratio, and whether
  the two outputs are byte-identical. BUILD_DIR holds corridor-decode (default build/).
  -h, --help   this text
EOF
  exit 0 ;;
-*) echo "bench/ais_decode.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
esac
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build}
n=${2:-160000}
dec="$build/corridor-decode"
[ -x "$dec" ] || { echo "no $dec: build corridor-decode first" >&2; exit 1; }
command -v gpsdecode >/dev/null || { echo "gpsdecode missing (apt install gpsd-clients)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cat > "$tmp/gen.c" <<'GEN'
#include "ais.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
static unsigned long long s = 88172645463325252ull;
static unsigned r(unsigned n) { s ^= s << 13; s ^= s >> 7; s ^= s << 17; return (unsigned)(s % n); }
int main(int argc, char **argv)
{
    int n = atoi(argv[1]), i;
    static const int mix[20] = {1,1,1,1,1,1,1,1,3,3,2,18,18,5,5,24,4,19,21,27};
    char out[1024];
    for (i = 0; i < n; i++) {
        ingest_ais_msg m;
        memset(&m, 0, sizeof m);
        m.type = mix[r(20)];
        m.mmsi = 200000000 + (int)r(500000000);
        m.speed = (int)r(300); m.course = (int)r(3600); m.heading = (int)r(360);
        m.lon = (int)r(216000000) - 108000000; m.lat = (int)r(108000000) - 54000000;
        m.turn = (int)r(256) - 128; m.second = (int)r(60); m.radio = (int)r(1 << 19);
        m.status = (int)r(16); m.shiptype = (int)r(100); m.imo = (int)r(9999999);
        m.year = 2026; m.month = 1 + (int)r(12); m.day = 1 + (int)r(28); m.epfd = 1;
        m.draught = (int)r(200); m.to_bow = (int)r(200); m.to_stern = (int)r(100);
        strcpy(m.shipname, r(2) ? "MSC MOMBASA" : "KOTA LAYANG");
        strcpy(m.callsign, "5ZAB1"); strcpy(m.destination, "KEMBA");
        strcpy(m.name, "MOMBASA FAIRWAY BUOY"); strcpy(m.vendorid, "SRT");
        m.part = INGEST_AIS_PART_AB;
        if (m.type == 27) { m.lon /= 1000; m.lat /= 1000; m.speed = 12; m.course = 90; }
        if (ingest_ais_encode(&m, "AIVDM", "AB"[r(2)], i % 10, out, sizeof out) > 0)
            fputs(out, stdout);
    }
    return 0;
}
GEN
cc -O2 -std=c11 -D_GNU_SOURCE -I"$here/ingest" -I"$here/core" "$tmp/gen.c" "$here/ingest/ais.c" -o "$tmp/gen"
"$tmp/gen" "$n" > "$tmp/in.nmea"
lines=$(wc -l < "$tmp/in.nmea")

# median of 3 wall-clock runs, in seconds
median3() {
    for k in 1 2 3; do
        t0=$(date +%s.%N)
        "$@" < "$tmp/in.nmea" > "$tmp/out.$k" 2>/dev/null
        t1=$(date +%s.%N)
        echo "$t1 - $t0" | bc -l
    done | sort -n | sed -n 2p
}
tg=$(median3 gpsdecode -j)
cp "$tmp/out.1" "$tmp/gpsdecode.json"
tc=$(median3 "$dec" ais --quiet)
cp "$tmp/out.1" "$tmp/corridor.json"

rg=$(echo "$lines / $tg" | bc -l)
rc=$(echo "$lines / $tc" | bc -l)
printf 'input: %d sentences\n' "$lines"
printf 'gpsdecode -j         %10.0f sentences/s  (%.3f s)\n' "$rg" "$tg"
printf 'corridor-decode ais  %10.0f sentences/s  (%.3f s)\n' "$rc" "$tc"
printf 'ratio                %10.2fx\n' "$(echo "$rc / $rg" | bc -l)"
if cmp -s "$tmp/gpsdecode.json" "$tmp/corridor.json"; then
    echo "output: identical ($(wc -l < "$tmp/corridor.json") messages)"
else
    echo "output: DIFFERENT"; exit 1
fi
