/*
 * pdf_fuzz.c: libFuzzer target for the PDF evidence report (web/pdf.c). The input is one
 * JSON document (UTF-8 checked, as PostgreSQL's text always is): an object with "report",
 * "map" and "verification" members is taken as the three answers of the database, any
 * other document as the report with an empty map. Whatever their shape, the drawing must
 * neither crash nor read out of bounds; cairo may refuse (CORE_EINVAL), nothing else.
 * Single-threaded.
 */
#include "core.h"
#include "pdf.h"

#include <json-c/json.h>
#include <stdint.h>
#include <stdlib.h>

static int discard(void *arg, const unsigned char *data, size_t len)
{
    (void)data;
    *(size_t *)arg += len;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_tokener *tok = json_tokener_new_ex(16);
    if (!tok)
        return 0;
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    json_object *in = json_tokener_parse_ex(tok, (const char *)data, (int)size);
    json_tokener_free(tok);
    if (!in)
        return 0;
    json_object *report = in, *map = NULL, *verif = NULL, *v;
    if (json_object_is_type(in, json_type_object) && json_object_object_get_ex(in, "report", &v)) {
        report = v;
        json_object_object_get_ex(in, "map", &map);
        json_object_object_get_ex(in, "verification", &verif);
    }
    size_t bytes = 0;
    int rc = pdf_evidence_report(report, map, verif, discard, &bytes);
    if (rc != 0 && rc != CORE_EINVAL)
        abort();
    json_object_put(in);
    return 0;
}
