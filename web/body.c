/*
 * body.c: the hostile-input policy of docs/security.md applied before any handler runs:
 * the query string and a request body must be valid UTF-8 (400 invalid_utf8), and a JSON
 * body may hold only the top-level fields its route knows (422 unknown_field, with the
 * field named), so a misspelt or smuggled field is refused instead of silently dropped.
 * Each handler still validates the values of the fields it knows.
 *
 * Pure apart from json-c: no lws or libpq state. Runs on the web thread.
 */
#include "web_int.h"

#include <json-c/json.h>
#include <string.h>

/* The top-level fields of each route's JSON body (docs/api.md). */
static const char *const seal_keys[] = {"id", "protocol", "device_id", "timezone", NULL};
static const char *const fence_keys[] = {"type", "id", "properties", "geometry", "bbox", NULL};
static const char *const action_keys[] = {"action", "rru_id", "note", "outcome", "version", NULL};
static const char *const rru_keys[] = {"id", "name", "base", "status", "tracker", "position", NULL};
static const char *const route_keys[] = {"name",
                                         "geometry",
                                         "corridor_m",
                                         "checkpoints",
                                         "max_transit_minutes",
                                         "reporting_limit_minutes",
                                         "stop_minutes",
                                         "stop_radius_m",
                                         "stop_speed_kmh",
                                         "stop_allowed_kinds",
                                         "deviation_grace_s",
                                         "deviation_grace_obs",
                                         "max_speed_kmh",
                                         "low_battery_pct",
                                         "exit_border_post_id",
                                         "border_post_radius_m",
                                         NULL};
static const char *const trip_keys[] = {
    "seal_id",    "route_id",    "origin_id",           "destination_id",
    "conveyance", "declaration", "exit_border_post_id", "port",
    NULL};
/* "actor" is known and ignored: the caller's token is the actor */
static const char *const watch_keys[] = {"mmsi", "imo",           "declaration", "reason",
                                         "port", "port_fence_id", "actor",       NULL};

static const char *const command_keys[] = {"command", "params", "reason", "expires_at", NULL};

static const struct {
    const char *pattern;
    const char *const *keys;
} bodies[] = {
    {"/api/seals", seal_keys},      {"/api/seals/{id}/commands", command_keys},
    {"/api/geofences", fence_keys}, {"/api/incidents/{id}/actions", action_keys},
    {"/api/rrus", rru_keys},        {"/api/routes", route_keys},
    {"/api/trips", trip_keys},      {"/api/watchlist", watch_keys},
};

int web_utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    while (p < end) {
        unsigned c = *p;
        size_t len;
        unsigned min;
        if (c < 0x80) {
            p++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            len = 2, min = 0x80, c &= 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            len = 3, min = 0x800, c &= 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            len = 4, min = 0x10000, c &= 0x07;
        } else {
            return 0;
        }
        if ((size_t)(end - p) < len)
            return 0;
        for (size_t i = 1; i < len; i++) {
            if ((p[i] & 0xc0) != 0x80)
                return 0;
            c = (c << 6) | (p[i] & 0x3f);
        }
        /* overlong forms, surrogates and code points past U+10FFFF */
        if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
            return 0;
        p += len;
    }
    return 1;
}

/* 1 if c is a GeoJSON coordinates value every position of which is 2 or 3 finite
 * numbers and every array of which is non-empty. GEOS 3.11's GeoJSON reader (geofence
 * validation) reads past the end of an empty position ("coordinates": [[[], ...]]) and
 * crashes the process, so no such shape may reach it. */
static int coords_ok(json_object *c, int depth)
{
    if (!json_object_is_type(c, json_type_array) || depth > 8)
        return 0;
    size_t n = json_object_array_length(c);
    if (n == 0)
        return 0;
    json_object *first = json_object_array_get_idx(c, 0);
    if (json_object_is_type(first, json_type_double) || json_object_is_type(first, json_type_int)) {
        if (n < 2 || n > 3)
            return 0;
        for (size_t i = 0; i < n; i++) {
            json_object *v = json_object_array_get_idx(c, i);
            if (!json_object_is_type(v, json_type_double) && !json_object_is_type(v, json_type_int))
                return 0;
            double d = json_object_get_double(v);
            if (d != d || d > 1e300 || d < -1e300)
                return 0;
        }
        return 1;
    }
    for (size_t i = 0; i < n; i++)
        if (!coords_ok(json_object_array_get_idx(c, i), depth + 1))
            return 0;
    return 1;
}

/* 1 if every "coordinates" in geometry g (and in a collection's "geometries") is sound. */
static int geometry_ok(json_object *g, int depth)
{
    json_object *v;
    if (!json_object_is_type(g, json_type_object) || depth > 8)
        return 1; /* not a geometry: the handler says what is wrong */
    if (json_object_object_get_ex(g, "coordinates", &v) && !coords_ok(v, 0))
        return 0;
    if (json_object_object_get_ex(g, "geometries", &v)) {
        if (!json_object_is_type(v, json_type_array))
            return 0;
        for (size_t i = 0; i < json_object_array_length(v); i++)
            if (!geometry_ok(json_object_array_get_idx(v, i), depth + 1))
                return 0;
    }
    return 1;
}

int web_body_check(const web_route *route, const web_req *req, web_resp *resp)
{
    /* the query as received: "k=v\0k=v\0\0" */
    size_t qlen = 0;
    while (req->query[qlen] || req->query[qlen + 1])
        qlen++;
    if (!web_utf8_valid(req->query, qlen) || !web_utf8_valid(req->path, strlen(req->path))) {
        web_resp_error(resp, 400, "invalid_utf8", "the path or query is not valid UTF-8");
        return 400;
    }
    if (!(route->flags & WEB_ROUTE_BODY) || req->body.len == 0)
        return 0;
    if (!web_utf8_valid(req->body.data, req->body.len)) {
        web_resp_error(resp, 400, "invalid_utf8", "the request body is not valid UTF-8");
        return 400;
    }
    const char *const *keys = NULL;
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++)
        if (strcmp(bodies[i].pattern, route->pattern) == 0)
            keys = bodies[i].keys;
    if (!keys)
        return 0;
    /* a parse only to see the field names; the handler parses again and says what is
     * wrong with a body that does not parse */
    json_tokener *tok = json_tokener_new_ex(32);
    if (!tok)
        return 0;
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT); /* as the handlers parse it */
    json_object *o = json_tokener_parse_ex(tok, req->body.data, (int)req->body.len);
    int ok = json_tokener_get_error(tok) == json_tokener_success;
    json_tokener_free(tok);
    int st = 0;
    if (ok && o && json_object_is_type(o, json_type_object)) {
        json_object_object_foreach(o, k, v)
        {
            (void)v;
            int known = 0;
            for (size_t i = 0; keys[i] && !known; i++)
                known = strcmp(keys[i], k) == 0;
            if (!known) {
                web_resp_error(resp, 422, "unknown_field",
                               "\"%.64s\" is not a field of this request (docs/api.md)", k);
                st = 422;
                break;
            }
        }
        json_object *g;
        if (!st && keys == fence_keys && json_object_object_get_ex(o, "geometry", &g) &&
            !geometry_ok(g, 0)) {
            web_resp_error(resp, 422, "invalid_geometry",
                           "every position must be 2 or 3 finite numbers and no coordinate "
                           "array may be empty");
            st = 422;
        }
    }
    json_object_put(o);
    return st;
}
