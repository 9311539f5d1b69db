/*
 * osmand_fuzz.c: libFuzzer target for the OsmAnd request parser (ingest_osmand_parse in
 * ingest/osmand.c): the first byte chooses a query/form string or the Traccar Client JSON
 * body, the rest is the request. An accepted observation must hold finite coordinates
 * inside their ranges and a seal id; anything else aborts. Single-threaded.
 */
#include "ingest_int.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int json = data[0] & 1;
    /* an exact-size copy, so a read past the end is caught */
    char *text = malloc(size);
    if (!text)
        return 0;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    geo_obs obs;
    char reason[256];
    int rc = ingest_osmand_parse(text, size - 1, json, 1764190800000000LL, 3600, &obs, reason,
                                 sizeof reason);
    if (rc == 0 && (!isfinite(obs.lat) || !isfinite(obs.lon) || fabs(obs.lat) > 90 ||
                    fabs(obs.lon) > 180 || !obs.seal_id[0]))
        abort();
    if (rc != 0 && !reason[0])
        abort(); /* every refusal says why */
    free(text);
    return 0;
}
