/*
 * ais_fuzz.c: libFuzzer target for the AIS decoder (ingest/ais.c). The input is fed as a
 * byte stream (lines, partial lines, multipart fragments, tag blocks) through
 * ingest_ais_feed and every decoded message is written as JSON and re-encoded.
 * Single-threaded; one decoder per input.
 */
#include "ais.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static void on_msg(void *arg, const ingest_ais_msg *m)
{
    char js[INGEST_AIS_JSON_MAX], enc[1024];
    (void)arg;
    ingest_ais_json(m, "stdin", js, sizeof js);
    ingest_ais_encode(m, NULL, 'A', 1, enc, sizeof enc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ingest_ais *d = ingest_ais_new(1000);
    size_t half = size / 2;
    ingest_ais_stats st;

    if (!d)
        return 0;
    /* two reads, so lines split across reads are exercised; time moves on between them */
    ingest_ais_feed(d, (const char *)data, half, 0, on_msg, NULL);
    ingest_ais_feed(d, (const char *)data + half, size - half, 500, on_msg, NULL);
    ingest_ais_expire(d, 5000);
    ingest_ais_get_stats(d, &st);
    ingest_ais_free(d);
    return 0;
}
