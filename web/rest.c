/*
 * rest.c: the route table and the REST handlers (/api/..., /metrics, the static pages).
 *
 * Handlers are synchronous: they validate input, run one prepared statement on the web
 * thread's connection (db.c) and fill a web_resp; http.c writes it out on WRITEABLE.
 * Each route states the roles that may call it; auth.c enforces them in http.c before
 * the handler runs (docs/security.md).
 *
 * Owns nothing beyond a call. Runs on the web thread.
 */
#include "web_int.h"
#include "alerts.h"
#include "geofence.h"

#include <ctype.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#ifndef CORRIDOR_VERSION
#define CORRIDOR_VERSION "0.1.0"
#endif

#define R_OFFICER (WEB_ROLE_OFFICER | WEB_ROLE_ADMIN)
#define R_ARMING  (WEB_ROLE_ARMING | WEB_ROLE_OFFICER | WEB_ROLE_ADMIN)

static void db_down(web_resp *resp)
{
    web_resp_error(resp, 503, "db_unavailable", "the database cannot be reached; retry shortly");
}

static void db_failed(web_resp *resp, PGresult *r)
{
    core_error("web", "query failed: %s", r ? PQresultErrorMessage(r) : "no result");
    web_resp_error(resp, 500, "db_error", "the database refused the query");
}

/* Runs a parameterless statement returning one JSON text and answers with it. */
static void json_query(struct web *w, web_resp *resp, const char *stmt)
{
    PGresult *r = web_db_exec(w->db, stmt, 0, NULL);
    if (!r)
        return db_down(resp);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
        db_failed(resp, r);
    else
        web_resp_json(resp, 200, PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0));
    PQclear(r);
}

json_object *web_body_object(const web_req *req, web_resp *resp)
{
    if (req->body.len == 0) {
        web_resp_error(resp, 400, "empty_body", "the request needs a JSON body");
        return NULL;
    }
    json_tokener *tok = json_tokener_new_ex(32);
    if (!tok) {
        web_resp_error(resp, 500, "no_memory", "out of memory");
        return NULL;
    }
    /* RFC 8259 only: no single quotes, NaN or Infinity, which json-c accepts by default */
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    json_object *o = json_tokener_parse_ex(tok, req->body.data, (int)req->body.len);
    enum json_tokener_error e = json_tokener_get_error(tok);
    size_t used = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    if (!o || e != json_tokener_success) {
        web_resp_error(resp, 400, "malformed_json", "the body is not valid JSON: %s",
                       e == json_tokener_continue ? "unexpected end" : json_tokener_error_desc(e));
        goto fail;
    }
    for (size_t i = used; i < req->body.len; i++)
        if (!isspace((unsigned char)req->body.data[i])) {
            web_resp_error(resp, 400, "malformed_json",
                           "the body has data after its JSON value (at byte %zu)", i);
            goto fail;
        }
    if (!json_object_is_type(o, json_type_object)) {
        web_resp_error(resp, 400, "malformed_json", "the body must be a JSON object");
        goto fail;
    }
    return o;
fail:
    json_object_put(o);
    return NULL;
}

/* The string member key of o: its value, NULL when absent or null; *bad set when it is
 * present with another type. */
static const char *str_member(json_object *o, const char *key, int *bad)
{
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || !v)
        return NULL;
    if (!json_object_is_type(v, json_type_string)) {
        *bad = 1;
        return NULL;
    }
    return json_object_get_string(v);
}

/* ---- GET /api/health ---- */
static void h_health(struct web *w, const web_req *req, web_resp *resp)
{
    int db = web_db_up(w->db);
    int devices = w->hooks.devices_db_ok ? w->hooks.devices_db_ok(w->hooks.arg) : 1;
    int ok = db && devices;
    resp->status = ok ? 200 : 503;
    resp->ctype = "application/json";
    resp->body.len = 0;
    int leader = w->hooks.leader ? w->hooks.leader(w->hooks.arg) : 0;
    web_buf_printf(&resp->body,
                   "{\"status\":\"%s\",\"db\":\"%s\",\"ingest_db\":\"%s\",\"version\":\"%s\","
                   "\"ws_clients\":%llu,\"leader\":%s}",
                   ok ? "ok" : "degraded", db ? "ok" : "down", devices ? "ok" : "down",
                   CORRIDOR_VERSION, (unsigned long long)atomic_load(&w->ctr.ws_clients),
                   leader ? "true" : "false");
}

/* ---- GET /api/me ----
 * Who the token is, for the pages to offer only the actions its role may take (the server
 * still decides each request). actor is the form audit trails use ("officer:jane"), so a
 * page can tell its own requests from another account's (four eyes). */
static void h_me(struct web *w, const web_req *req, web_resp *resp)
{
    char actor[160];
    const char *a = web_ident_actor(&req->who, actor, sizeof actor);
    const char *colon = strchr(a, ':');
    json_object *o = json_object_new_object();
    if (!o)
        return web_resp_error(resp, 500, "no_memory", "out of memory");
    int role_len = colon ? (int)(colon - a) : (int)strlen(a);
    if (req->who.user) /* a signed-in account acts as officer:NAME whatever its role */
        json_object_object_add(o, "role", json_object_new_string(web_ident_role(&req->who)));
    else
        json_object_object_add(o, "role", json_object_new_string_len(a, role_len));
    json_object_object_add(o, "name", json_object_new_string(req->who.name));
    json_object_object_add(o, "actor", json_object_new_string(a));
    if (req->who.unit[0])
        json_object_object_add(o, "unit", json_object_new_string(req->who.unit));
    if (req->who.country[0])
        json_object_object_add(o, "country", json_object_new_string(req->who.country));
    size_t len;
    const char *text = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &len);
    web_resp_json(resp, 200, text, len);
    json_object_put(o);
}

/* ---- GET /metrics ---- */
static void h_metrics(struct web *w, const web_req *req, web_resp *resp)
{
    resp->status = 200;
    resp->ctype = "text/plain; version=0.0.4; charset=utf-8";
    resp->body.len = 0;
    web_metrics(w, &resp->body);
}

/* ---- seals ---- */
static void h_seals_list(struct web *w, const web_req *req, web_resp *resp)
{
    json_query(w, resp, "web_seals");
}

/* 1 if s is 1..64 characters of [A-Za-z0-9._:-]. */
static int valid_id(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && !strchr("._:-", s[i]))
            return 0;
    return 1;
}

/* 1 if s is +HH:MM or -HH:MM with HH <= 14 and MM < 60. */
static int valid_tz(const char *s)
{
    if (strlen(s) != 6 || (s[0] != '+' && s[0] != '-') || s[3] != ':')
        return 0;
    for (int i = 1; i < 6; i++)
        if (i != 3 && !isdigit((unsigned char)s[i]))
            return 0;
    int hh = (s[1] - '0') * 10 + (s[2] - '0'), mm = (s[4] - '0') * 10 + (s[5] - '0');
    return hh <= 14 && mm < 60;
}

static void h_seals_add(struct web *w, const web_req *req, web_resp *resp)
{
    PGresult *r = NULL;
    json_object *o = web_body_object(req, resp);
    if (!o)
        return;
    int bad = 0;
    const char *id = str_member(o, "id", &bad);
    if (bad || !id) {
        web_resp_error(resp, 422, "invalid_field", "\"id\" is required and must be a string");
        goto done;
    }
    if (!valid_id(id)) {
        web_resp_error(resp, 422, "invalid_field",
                       "\"id\" must be 1 to 64 characters of A-Z, a-z, 0-9, '.', '_', ':', '-'");
        goto done;
    }
    const char *proto = str_member(o, "protocol", &bad);
    if (bad || (proto && strcmp(proto, "osmand") != 0 && strcmp(proto, "jt808") != 0)) {
        web_resp_error(resp, 422, "invalid_field", "\"protocol\" must be \"osmand\" or \"jt808\"");
        goto done;
    }
    if (!proto)
        proto = "osmand";
    const char *dev = str_member(o, "device_id", &bad);
    if (bad) {
        web_resp_error(resp, 422, "invalid_field", "\"device_id\" must be a string");
        goto done;
    }
    if (!dev)
        dev = id;
    if (!valid_id(dev)) {
        web_resp_error(resp, 422, "invalid_field",
                       "\"device_id\" must be 1 to 64 characters of A-Z, a-z, 0-9, '.', '_', "
                       "':', '-'");
        goto done;
    }
    if (strcmp(proto, "jt808") == 0) {
        size_t n = strlen(dev);
        int digits = n <= 20;
        for (size_t i = 0; digits && i < n; i++)
            digits = isdigit((unsigned char)dev[i]) != 0;
        if (!digits) {
            web_resp_error(resp, 422, "invalid_field",
                           "a jt808 seal's \"device_id\" is its terminal number: 1 to 20 digits");
            goto done;
        }
    }
    const char *tz = str_member(o, "timezone", &bad);
    if (bad || (tz && !valid_tz(tz))) {
        web_resp_error(resp, 422, "invalid_field",
                       "\"timezone\" must be an offset like \"+08:00\" (-14:00 to +14:00)");
        goto done;
    }
    if (!tz)
        tz = "+08:00";

    const char *vals[4] = {id, proto, dev, tz};
    r = web_db_exec(w->db, "web_seal_add", 4, vals);
    if (!r) {
        db_down(resp);
        goto done;
    }
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
        web_resp_json(resp, 201, PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0));
        snprintf(resp->location, sizeof resp->location, "/api/seals/%s", id);
        goto done;
    }
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    const char *cons = PQresultErrorField(r, PG_DIAG_CONSTRAINT_NAME);
    if (state && strcmp(state, "23505") == 0) {
        if (cons && strstr(cons, "device_id"))
            web_resp_error(resp, 409, "device_id_exists",
                           "a seal with device_id \"%s\" is already registered", dev);
        else
            web_resp_error(resp, 409, "seal_exists", "a seal with id \"%s\" already exists", id);
    } else if (state && strncmp(state, "23", 2) == 0) {
        web_resp_error(resp, 422, "invalid_field", "the database refused the seal: %s",
                       PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY));
    } else {
        db_failed(resp, r);
    }
done:
    PQclear(r);
    json_object_put(o);
}

/* ---- geofences ---- */
static const char *const fence_kinds[] = {"restricted", "port",           "border_post", "parking",
                                          "checkpoint", "customs_office", "anchorage"};

static void h_geofences_list(struct web *w, const web_req *req, web_resp *resp)
{
    json_query(w, resp, "web_geofences");
}

static void h_geofences_add(struct web *w, const web_req *req, web_resp *resp)
{
    PGresult *r = NULL;
    json_object *o = web_body_object(req, resp), *props, *geom;
    if (!o)
        return;
    int bad = 0;
    const char *type = str_member(o, "type", &bad);
    if (!type || strcmp(type, "Feature") != 0) {
        web_resp_error(resp, 422, "invalid_feature",
                       "the body must be a GeoJSON Feature (\"type\": \"Feature\")");
        goto done;
    }
    if (!json_object_object_get_ex(o, "properties", &props) ||
        !json_object_is_type(props, json_type_object)) {
        web_resp_error(resp, 422, "invalid_feature",
                       "the Feature needs \"properties\" with \"name\" and \"kind\"");
        goto done;
    }
    const char *name = str_member(props, "name", &bad);
    if (bad || !name || strlen(name) < 1 || strlen(name) > 200) {
        web_resp_error(resp, 422, "invalid_field",
                       "properties.name must be a string of 1 to 200 characters");
        goto done;
    }
    const char *kind = str_member(props, "kind", &bad);
    int kind_ok = 0;
    for (size_t i = 0; kind && i < sizeof fence_kinds / sizeof fence_kinds[0]; i++)
        kind_ok |= strcmp(kind, fence_kinds[i]) == 0;
    if (bad || !kind_ok) {
        web_resp_error(resp, 422, "invalid_field",
                       "properties.kind must be one of restricted, port, border_post, parking, "
                       "checkpoint, customs_office, anchorage");
        goto done;
    }
    if (!json_object_object_get_ex(o, "geometry", &geom) ||
        !json_object_is_type(geom, json_type_object)) {
        web_resp_error(resp, 422, "invalid_geometry",
                       "the Feature needs a \"geometry\" object (Polygon or MultiPolygon)");
        goto done;
    }
    size_t glen;
    const char *gtext = json_object_to_json_string_length(geom, JSON_C_TO_STRING_PLAIN, &glen);
    char reason[256];
    if (geo_shape_validate(gtext, glen, reason, sizeof reason) != 0) {
        web_resp_error(resp, 422, "invalid_geometry", "%s", reason);
        goto done;
    }
    const char *vals[3] = {name, kind, gtext};
    r = web_db_exec(w->db, "web_geofence_add", 3, vals);
    if (!r) {
        db_down(resp);
        goto done;
    }
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
        web_resp_json(resp, 201, PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0));
        snprintf(resp->location, sizeof resp->location, "/api/geofences/%s", PQgetvalue(r, 0, 1));
    } else {
        const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        if (state && (strncmp(state, "XX", 2) == 0 || strncmp(state, "22", 2) == 0 ||
                      strncmp(state, "23", 2) == 0))
            web_resp_error(resp, 422, "invalid_geometry", "%s",
                           PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY));
        else
            db_failed(resp, r);
    }
done:
    PQclear(r);
    json_object_put(o);
}

static void h_geofences_del(struct web *w, const web_req *req, web_resp *resp)
{
    const char *id = web_param(&req->params, "id");
    size_t n = strlen(id);
    int digits = n >= 1 && n <= 18;
    for (size_t i = 0; digits && i < n; i++)
        digits = isdigit((unsigned char)id[i]) != 0;
    if (!digits)
        return web_resp_error(resp, 404, "not_found", "no geofence with id \"%s\"", id);
    const char *vals[1] = {id};
    PGresult *r = web_db_exec(w->db, "web_geofence_del", 1, vals);
    if (!r)
        return db_down(resp);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        db_failed(resp, r);
    else if (PQntuples(r) == 0)
        web_resp_error(resp, 404, "not_found", "no geofence with id %s", id);
    else
        resp->status = 204;
    PQclear(r);
}

/* ---- incidents ---- */
static void h_incidents(struct web *w, const web_req *req, web_resp *resp)
{
    enum alert_filter f;
    if (alert_filter_parse(web_query(req, "status"), &f) != 0)
        return web_resp_error(resp, 400, "bad_query", "status must be \"open\" or \"all\"");
    int limit = ALERT_LIST_DEFAULT;
    const char *l = web_query(req, "limit");
    if (l) {
        char *end;
        long v = strtol(l, &end, 10);
        if (!*l || *end || v < 1 || v > ALERT_LIST_MAX)
            return web_resp_error(resp, 400, "bad_query", "limit must be 1 to %d", ALERT_LIST_MAX);
        limit = (int)v;
    }
    PGconn *c = web_db_conn(w->db);
    char *json = NULL;
    size_t len = 0;
    if (!c)
        return db_down(resp);
    if (alert_incidents_json(c, f, limit, &json, &len) != 0) {
        if (PQstatus(c) != CONNECTION_OK)
            return db_down(resp);
        return web_resp_error(resp, 500, "db_error", "the database refused the query");
    }
    web_resp_json(resp, 200, json, len);
    free(json);
}

/* ---- countries ---- */
static void h_countries(struct web *w, const web_req *req, web_resp *resp)
{
    json_query(w, resp, "web_countries");
    resp->cache = "max-age=3600";
}

/* ---- the rest ---- */
static void h_api_not_found(struct web *w, const web_req *req, web_resp *resp)
{
    web_resp_error(resp, 404, "not_found", "no such endpoint: %s", req->path);
}

/* The pages (cfg->static_dir) and the npm packages they use under /vendor/. */
static void h_static(struct web *w, const web_req *req, web_resp *resp)
{
    const char *root = w->static_dir, *path = req->path;
    if (strncmp(path, "/vendor/", 8) == 0) {
        root = w->vendor_dir;
        path += 7;
    }
    if (web_static_path(root, path, resp->file, sizeof resp->file) != 0) {
        resp->file[0] = '\0';
        return web_resp_error(resp, 404, "not_found", "no such file");
    }
    resp->status = 200;
    resp->ctype = web_mime(resp->file);
    resp->cache = root == w->vendor_dir ? "max-age=86400" : "no-cache";
}

const web_route web_routes[] = {
    {WEB_GET, "/api/health", h_health, WEB_ROLE_ANYONE, 0},
    {WEB_GET, "/metrics", h_metrics, WEB_ROLE_LOOPBACK | WEB_ROLE_ADMIN, 0},
    {WEB_GET, "/api/me", h_me, WEB_ROLE_TOKEN, 0}, /* the pages ask what they may offer */
    {WEB_GET, "/api/seals", h_seals_list, R_ARMING, 0},
    {WEB_POST, "/api/seals", h_seals_add, R_ARMING, WEB_ROUTE_BODY},
    /* device commands (rest_commands.c): officers and arming teams; the second officer's
     * approval of an unseal is an officer's */
    {WEB_GET, "/api/seals/{id}/commands", web_h_commands_list, R_ARMING, 0},
    {WEB_POST, "/api/seals/{id}/commands", web_h_commands_add, R_ARMING, WEB_ROUTE_BODY},
    {WEB_DELETE, "/api/seals/{id}/commands/{cid}", web_h_command_cancel, R_ARMING, 0},
    {WEB_POST, "/api/seals/{id}/commands/{cid}/approve", web_h_command_approve, R_OFFICER, 0},
    {WEB_GET, "/api/geofences", h_geofences_list, R_ARMING, 0}, /* the arming page picks origins */
    {WEB_POST, "/api/geofences", h_geofences_add, R_OFFICER, WEB_ROUTE_BODY},
    {WEB_DELETE, "/api/geofences/{id}", h_geofences_del, R_OFFICER, 0},
    {WEB_GET, "/api/incidents", h_incidents, R_OFFICER, 0},
    /* a unit's own page: its incidents and their actions (an rru token acts only on the
     * incidents dispatched to its unit: rest_incidents.c) */
    {WEB_GET, "/api/incidents/{id}", web_h_incident_get, R_OFFICER | WEB_ROLE_RRU, 0},
    {WEB_POST, "/api/incidents/{id}/actions", web_h_incident_action, R_OFFICER | WEB_ROLE_RRU,
     WEB_ROUTE_BODY},
    {WEB_GET, "/api/rrus", web_h_rrus_list, R_OFFICER | WEB_ROLE_RRU, 0},
    {WEB_POST, "/api/rrus", web_h_rrus_add, R_OFFICER, WEB_ROUTE_BODY},
    {WEB_GET, "/api/rrus/suggest", web_h_rrus_suggest, R_OFFICER, 0},
    {WEB_GET, "/api/reports/response", web_h_report_response, R_OFFICER, 0},
    {WEB_GET, "/api/routes", web_h_routes_list, R_ARMING, 0}, /* the arming page */
    {WEB_POST, "/api/routes", web_h_routes_add, R_OFFICER, WEB_ROUTE_BODY},
    {WEB_GET, "/api/trips", web_h_trips_list, R_ARMING, 0}, /* the arming page */
    {WEB_POST, "/api/trips", web_h_trips_arm, R_ARMING, WEB_ROUTE_BODY},
    {WEB_GET, "/api/trips/{id}", web_h_trip_get, R_OFFICER, 0},
    {WEB_POST, "/api/trips/{id}/disarm", web_h_trip_disarm, R_ARMING, 0},
    {WEB_GET, "/api/trips/{id}/report", web_h_trip_report, R_OFFICER, 0},
    /* journey replay (rest_replay.c): the columns of a trip's or a seal's track */
    {WEB_GET, "/api/trips/{id}/replay", web_h_trip_replay, R_OFFICER, 0},
    {WEB_GET, "/api/seals/{id}/replay", web_h_seal_replay, R_OFFICER, 0},
    /* exports of a trip's track and the PDF evidence report (rest_export.c) */
    {WEB_GET, "/api/trips/{id}/track", web_h_trip_track, R_OFFICER, 0},
    /* trip evidence (rest_evidence.c): the chain segment, signed heads and keys */
    {WEB_GET, "/api/trips/{id}/evidence", web_h_trip_evidence, R_OFFICER, 0},
    {WEB_GET, "/api/partner/trips/{id}/evidence", web_h_partner_trip_evidence, WEB_ROLE_PARTNER, 0},
    {WEB_GET, "/api/vessels", web_h_vessels_list, R_OFFICER, 0},
    {WEB_GET, "/api/vessels/{mmsi}", web_h_vessel_get, R_OFFICER, 0},
    {WEB_GET, "/api/watchlist", web_h_watchlist_list, R_OFFICER, 0},
    {WEB_POST, "/api/watchlist", web_h_watchlist_add, R_OFFICER, WEB_ROUTE_BODY},
    {WEB_DELETE, "/api/watchlist/{id}", web_h_watchlist_remove, R_OFFICER, 0},
    {WEB_GET, "/api/feeds", web_h_feeds, R_OFFICER, 0},
    {WEB_GET, "/api/partner/trips", web_h_partner_trips, WEB_ROLE_PARTNER, 0},
    {WEB_GET, "/api/countries", h_countries, WEB_ROLE_TOKEN, 0},
    /* officer sign-in (session.c) and accounts (rest_users.c) */
    {WEB_POST, "/api/session", web_h_session_open, WEB_ROLE_ANYONE, WEB_ROUTE_BODY},
    {WEB_GET, "/api/session", web_h_session_get, WEB_ROLE_TOKEN, 0},
    {WEB_DELETE, "/api/session", web_h_session_close, WEB_ROLE_TOKEN, 0},
    {WEB_GET, "/api/users", web_h_users_list, WEB_ROLE_ADMIN, 0},
    {WEB_POST, "/api/users", web_h_users_add, WEB_ROLE_ADMIN, WEB_ROUTE_BODY},
    {WEB_POST, "/api/users/{name}/disable", web_h_user_disable, WEB_ROLE_ADMIN, 0},
    {WEB_POST, "/api/users/{name}/reset", web_h_user_reset, WEB_ROLE_ADMIN, WEB_ROUTE_BODY},
    {WEB_GET, "/api/users/{name}/sessions", web_h_user_sessions, WEB_ROLE_ADMIN, 0},
    {WEB_DELETE, "/api/users/{name}/sessions/{id}", web_h_user_session_revoke, WEB_ROLE_ADMIN, 0},
    {WEB_ANY, "/api/*", h_api_not_found, WEB_ROLE_TOKEN, WEB_ROUTE_FALLBACK},
    {WEB_GET, "/*", h_static, WEB_ROLE_ANYONE, 0},
};
const size_t web_n_routes = sizeof web_routes / sizeof web_routes[0];
