/*
 * rest_vessels.c: the REST handlers of vessels, the watchlist and the AIS feeds
 * (docs/vessels.md): GET /api/vessels[?bbox=W,S,E,N][&since=T], GET /api/vessels/{mmsi}
 * [?since=T], GET /api/watchlist[?all=1], POST /api/watchlist, DELETE /api/watchlist/{id},
 * GET /api/feeds.
 *
 * The rules live in the database (schema/rules/vessels.sql): each handler checks the shape
 * of what it was given (numbers in the path, the bbox list, a JSON object body), runs one
 * prepared statement (db.c: web_vessel_*, web_watch_*) on the web thread's connection and
 * relays its JSON. A refusal is an exception with SQLSTATE CTnnn (HTTP status nnn) whose
 * message is "code: sentence" and whose COLUMN names the request field; it becomes
 * {"error": code, "detail": sentence, "field": column}. The feeds come from the server
 * context through web_hooks.feeds_json: the gateway links nothing of ingest.
 *
 * Owns nothing beyond a call. Runs on the web thread.
 */
#include "web_int.h"

#include <ctype.h>
#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define FEEDS_MAX (64 * 1024) /* GET /api/feeds body: 8 feeds and 2 listeners need ~4 KiB */

/* Runs stmt; on success returns the result (one non-NULL JSON text) for the caller to
 * PQclear, else NULL with the response set. */
static PGresult *run(struct web *w, web_resp *resp, const char *stmt, int n,
                     const char *const *vals)
{
    return web_db_json(w->db, resp, stmt, n, vals, "invalid_since",
                       "since must be a time such as 2026-11-26T21:00:00Z");
}

/* 1 if s is 1..max decimal digits with a value of at least 1. */
static int positive_digits(const char *s, size_t max)
{
    size_t n = s ? strlen(s) : 0;
    if (n < 1 || n > max)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return 0;
    return strtoull(s, NULL, 10) >= 1;
}

/* The since= argument: NULL when absent; "" (with a 422 set) when present but empty. The
 * database reads the time itself (web_db_json maps its refusal). */
static const char *since_arg(const web_req *req, web_resp *resp)
{
    const char *s = web_query(req, "since");
    if (s && (!*s || strlen(s) > 64)) {
        web_resp_error(resp, 422, "invalid_since",
                       "since must be a time such as 2026-11-26T21:00:00Z");
        return "";
    }
    return s;
}

/* ---- GET /api/vessels[?bbox=W,S,E,N][&since=T] ---- */
void web_h_vessels_list(struct web *w, const web_req *req, web_resp *resp)
{
    const char *bbox = web_query(req, "bbox");
    char arr[160];
    const char *vals[2] = {NULL, NULL};
    if (bbox) {
        double v[4];
        const char *p = bbox;
        int ok = 1;
        for (int i = 0; ok && i < 4; i++) {
            char *end;
            errno = 0;
            v[i] = strtod(p, &end);
            ok = end != p && errno == 0 && isfinite(v[i]) && *end == (i < 3 ? ',' : '\0');
            p = end + 1;
        }
        if (!ok)
            return web_resp_error(resp, 422, "invalid_bbox",
                                  "bbox must be four numbers min_lon,min_lat,max_lon,max_lat");
        snprintf(arr, sizeof arr, "{%.17g,%.17g,%.17g,%.17g}", v[0], v[1], v[2], v[3]);
        vals[0] = arr; /* ranges and order are checked by corridor.vessel_list */
    }
    vals[1] = since_arg(req, resp);
    if (vals[1] && !*vals[1])
        return;
    web_db_relay(resp, 200, run(w, resp, "web_vessel_list", 2, vals));
}

/* ---- GET /api/vessels/{mmsi}[?since=T] ---- */
void web_h_vessel_get(struct web *w, const web_req *req, web_resp *resp)
{
    const char *mmsi = web_param(&req->params, "mmsi");
    if (!positive_digits(mmsi, 9))
        return web_resp_error(resp, 404, "vessel_not_found",
                              "no vessel with MMSI %s (an MMSI is 1 to 9 digits)",
                              mmsi ? mmsi : "");
    const char *vals[2] = {mmsi, since_arg(req, resp)};
    if (vals[1] && !*vals[1])
        return;
    web_db_relay(resp, 200, run(w, resp, "web_vessel_get", 2, vals));
}

/* ---- GET /api/watchlist[?all=1] ---- */
void web_h_watchlist_list(struct web *w, const web_req *req, web_resp *resp)
{
    const char *all = web_query(req, "all");
    const char *v = "false";
    if (all) {
        if (!strcmp(all, "1") || !strcmp(all, "true"))
            v = "true";
        else if (strcmp(all, "0") && strcmp(all, "false"))
            return web_resp_error(resp, 400, "bad_query", "all must be 1 or 0 (true or false)");
    }
    const char *vals[1] = {v};
    web_db_relay(resp, 200, run(w, resp, "web_watch_list", 1, vals));
}

/* ---- POST /api/watchlist ---- */
void web_h_watchlist_add(struct web *w, const web_req *req, web_resp *resp)
{
    PGresult *r = NULL;
    json_object *o = web_body_object(req, resp);
    if (!o)
        return;
    /* who started the watch is the caller, never what the body claims */
    char actor[192];
    json_object_object_add(o, "actor",
                           json_object_new_string(web_ident_actor(&req->who, actor, sizeof actor)));
    const char *vals[1] = {json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN)};
    r = run(w, resp, "web_watch_add", 1, vals);
    if (!r)
        goto done;
    web_resp_json(resp, 201, PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0));
    json_object *a = json_tokener_parse(PQgetvalue(r, 0, 0)), *id;
    if (a && json_object_object_get_ex(a, "id", &id))
        snprintf(resp->location, sizeof resp->location, "/api/watchlist/%lld",
                 (long long)json_object_get_int64(id));
    json_object_put(a);
done:
    PQclear(r);
    json_object_put(o);
}

/* ---- DELETE /api/watchlist/{id} ---- */
void web_h_watchlist_remove(struct web *w, const web_req *req, web_resp *resp)
{
    const char *id = web_param(&req->params, "id");
    if (!positive_digits(id, 18))
        return web_resp_error(resp, 404, "watch_not_found", "no watch entry %s", id ? id : "");
    char actor[192];
    const char *vals[2] = {id, web_ident_actor(&req->who, actor, sizeof actor)};
    web_db_relay(resp, 200, run(w, resp, "web_watch_remove", 2, vals));
}

/* ---- GET /api/feeds ---- */
void web_h_feeds(struct web *w, const web_req *req, web_resp *resp)
{
    if (!w->hooks.feeds_json)
        return web_resp_json(resp, 200, "[]", 2);
    char *buf = malloc(FEEDS_MAX);
    if (!buf)
        return web_resp_error(resp, 500, "no_memory", "out of memory");
    size_t n = w->hooks.feeds_json(w->hooks.arg, buf, FEEDS_MAX);
    if (n == 0 || n >= FEEDS_MAX)
        web_resp_json(resp, 200, "[]", 2);
    else
        web_resp_json(resp, 200, buf, n);
    free(buf);
}
