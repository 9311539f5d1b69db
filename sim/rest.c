/*
 * rest.c: what the modes share of corridord's REST API: the Authorization header and seal
 * registration (POST /api/seals, where 409 means "already registered" and is fine).
 *
 * Runs on the main thread; blocking calls on the mode's own loop (sim_http_call).
 */
#include "sim.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *sim_rest_headers(const sim_opts *o, char *buf, size_t n)
{
    if (o->token && o->token[0])
        snprintf(buf, n, "Authorization: Bearer %s\r\nAccept: application/json\r\n", o->token);
    else
        snprintf(buf, n, "Accept: application/json\r\n");
    return buf;
}

int sim_register_seals(sim_http *h, const sim_opts *o, char *const *ids, int n)
{
    char hdr[512];
    int created = 0, existed = 0;
    sim_rest_headers(o, hdr, sizeof hdr);
    for (int i = 0; i < n; i++) {
        json_object *j = json_object_new_object();
        if (!j)
            return CORE_EINVAL;
        json_object_object_add(j, "id", json_object_new_string(ids[i]));
        json_object_object_add(j, "protocol", json_object_new_string("osmand"));
        char *body = NULL;
        int st = sim_http_call(h, "POST", "/api/seals", hdr,
                               json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN), &body);
        json_object_put(j);
        if (st == 200 || st == 201) {
            created++;
        } else if (st == 409) {
            existed++;
        } else {
            if (st < 0)
                core_error("sim", "POST /api/seals %s: no answer (%s)", ids[i], core_strerror(st));
            else
                core_error("sim", "POST /api/seals %s: HTTP %d %s", ids[i], st, body ? body : "");
            free(body);
            return st < 0 ? st : CORE_EINVAL;
        }
        free(body);
    }
    core_info("sim", "seals registered: %d new, %d already known", created, existed);
    return 0;
}
