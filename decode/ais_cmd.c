/*
 * ais_cmd.c: `corridor-decode ais`: NMEA 0183 lines on stdin, one JSON object per decoded
 * AIS message on stdout, byte for byte what gpsd 3.22's `gpsdecode -j` prints for the
 * messages it decodes. Bad input is counted and skipped; the counts go to stderr at the end.
 * Owns one decoder and its stdio buffers; single-threaded.
 */
#include "decode.h"

#include "ais.h"
#include "core.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out, "usage: corridor-decode ais [--quiet] < nmea\n"
                 "  Reads AIVDM/AIVDO sentences (tag blocks allowed, multipart reassembled) and\n"
                 "  prints one JSON object per AIS message (types 1-27) as gpsd 3.22's\n"
                 "  gpsdecode -j does. Bad lines are counted and skipped; a summary of the\n"
                 "  counts is printed on stderr at the end (--quiet: only if something was bad).\n"
                 "  Exit status 0.\n");
}

int decode_ais_main(int argc, char **argv)
{
    static char obuf[1 << 16];
    char line[INGEST_AIS_LINE_MAX + 2];
    char json[INGEST_AIS_JSON_MAX];
    ingest_ais *d = NULL;
    ingest_ais_msg m;
    ingest_ais_stats st;
    uint64_t bad_total = 0;
    int quiet = 0, i;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--quiet") == 0) {
            quiet = 1;
        } else {
            fprintf(stderr, "corridor-decode ais: unknown option \"%s\"\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    d = ingest_ais_new(0);
    if (!d) {
        fprintf(stderr, "corridor-decode ais: out of memory\n");
        return 1;
    }
    setvbuf(stdout, obuf, _IOFBF, sizeof obuf);
    /* fgets with a buffer one byte over the limit: a longer line is counted once and its
     * rest skipped, never grown into. */
    while (fgets(line, sizeof line, stdin)) {
        size_t n = strlen(line);
        int64_t now = core_mono_us() / 1000;
        if (n == sizeof line - 1 && line[n - 1] != '\n') {
            int c;
            while ((c = getchar()) != EOF && c != '\n')
                ;
            ingest_ais_line(d, line, INGEST_AIS_LINE_MAX + 1, now, &m);
            continue;
        }
        if (ingest_ais_line(d, line, n, now, &m) == 1) {
            int len = ingest_ais_json(&m, "stdin", json, sizeof json);
            if (len > 0)
                fwrite(json, 1, (size_t)len, stdout);
        }
    }
    fflush(stdout);
    ingest_ais_get_stats(d, &st);
    for (i = 0; i < INGEST_AIS_NBAD; i++)
        bad_total += st.bad[i];
    if (!quiet || bad_total) {
        fprintf(stderr,
                "corridor-decode ais: lines=%llu sentences=%llu messages=%llu ignored=%llu "
                "unsupported=%llu",
                (unsigned long long)st.lines, (unsigned long long)st.sentences,
                (unsigned long long)st.messages, (unsigned long long)st.ignored,
                (unsigned long long)st.unsupported);
        for (i = 0; i < INGEST_AIS_NBAD; i++)
            fprintf(stderr, " bad_%s=%llu", ingest_ais_bad_name(i), (unsigned long long)st.bad[i]);
        fprintf(stderr, "\n");
    }
    ingest_ais_free(d);
    return 0;
}
