/*
 * rest_json_fuzz.c: libFuzzer target for the JSON request bodies of the REST API: the
 * first byte picks one of the routes that take a body (web_routes with WEB_ROUTE_BODY:
 * seals, geofences, routes, trips, incident actions, units, watchlist), the rest is the
 * body, checked by web_body_check and handed to the route's real handler, as http.c does. The
 * handlers parse and validate everything (json-c with a depth limit, GeoJSON through GEOS) before
 * they need the database; the database here is an unreachable one, so a body that passes validation
 * ends in a 503. Any other 5xx, or an answer without a status, aborts. Single-threaded.
 */
#include "web_int.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static struct web *make_web(void)
{
    static core_config cfg;
    static struct web w;
    static int done;
    if (!done) {
        core_config_defaults(&cfg);
        core_log_set_level(CORE_LOG_ERROR);
        w.cfg = &cfg;
        /* no server answers here: every query is "database down" */
        w.db = web_db_new("host=/nonexistent-corridor-fuzz port=1 connect_timeout=1");
        w.seals = web_sealtab_new(16);
        w.ws_queue_max = 16;
        done = 1;
    }
    return &w;
}

/* The routes that take a body, in table order. */
static int body_routes(int *idx, int max)
{
    int n = 0;
    for (size_t i = 0; i < web_n_routes && n < max; i++)
        if (web_routes[i].flags & WEB_ROUTE_BODY)
            idx[n++] = (int)i;
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    struct web *w = make_web();
    int idx[32], n = body_routes(idx, 32);
    if (n == 0)
        return 0;
    const web_route *r = &web_routes[idx[data[0] % n]];

    web_req req;
    web_resp resp;
    memset(&req, 0, sizeof req);
    memset(&resp, 0, sizeof resp);
    req.method = WEB_POST;
    req.who.role = WEB_ROLE_ADMIN;
    snprintf(req.who.name, sizeof req.who.name, "fuzz");
    /* a concrete path for the pattern: every capture is "1" */
    char path[256];
    size_t o = 0;
    for (const char *p = r->pattern; *p && o + 4 < sizeof path; p++) {
        if (*p == '{') {
            path[o++] = '1';
            p = strchr(p, '}');
        } else {
            path[o++] = *p;
        }
    }
    path[o] = '\0';
    snprintf(req.path, sizeof req.path, "%s", path);
    if (!web_path_match(r->pattern, path, &req.params))
        abort();
    web_buf_init(&req.body, WEB_BODY_MAX);
    web_buf_init(&resp.body, 64 * 1024 * 1024);
    if (size > 1 && web_buf_add(&req.body, data + 1, size - 1) != 0)
        goto done;
    /* as http.c runs it: the hostile-input checks, then the handler */
    if (web_body_check(r, &req, &resp) == 0)
        r->handler(w, &req, &resp);
    if (resp.status < 200 || resp.status > 599 || (resp.status >= 500 && resp.status != 503))
        abort();
done:
    web_buf_free(&req.body);
    web_buf_free(&resp.body);
    return 0;
}
