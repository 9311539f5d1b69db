/*
 * rest_trips.c: the REST handlers of trips under customs control (docs/trips.md): mission
 * routes, arming and disarming, the officer's trip views and the reconciliation report.
 *
 * Every rule and refusal lives in the database (schema/rules/trips.sql, routes.sql): each handler
 * checks that the body is one JSON object, runs one prepared statement (db.c: web_route_*,
 * web_trip_*) on the web thread's connection and relays its JSON. A refusal is an
 * exception with SQLSTATE CTnnn (HTTP status nnn) whose message is "code: sentence" and
 * whose COLUMN names the request field at fault; it becomes
 * {"error": code, "detail": sentence, "field": column}. A disarm outside the destination
 * is not an exception (it must keep the incident it opens): it answers 409 and the
 * incident goes to every websocket client at once through web_ws_event.
 *
 * The CSV report is a flattening of the JSON report, one row per trip, leg, stop,
 * checkpoint, event and incident, RFC 4180 quoting.
 *
 * Owns nothing beyond a call. Runs on the web thread.
 */
#include "web_int.h"

#include <ctype.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

/* Runs stmt with n parameters; on success returns the result (one row, one column) for
 * the caller to PQclear, else NULL with the response set. */
static PGresult *run(struct web *w, web_resp *resp, const char *stmt, int n,
                     const char *const *vals)
{
    return web_db_json(w->db, resp, stmt, n, vals, "invalid_request",
                       "the database cannot read a value");
}

/* Checks that the body is one JSON object (the database reads it as text). 0, or -1 with
 * a 400 set. */
static int body_is_object(const web_req *req, web_resp *resp)
{
    json_object *o = web_body_object(req, resp);
    json_object_put(o);
    return o ? 0 : -1;
}

/* The {id} capture if it is a UUID (8-4-4-4-12 hex digits), else NULL with a 404 set:
 * no trip can have that id. */
const char *web_trip_id(const web_req *req, web_resp *resp)
{
    const char *id = web_param(&req->params, "id");
    int ok = id && strlen(id) == 36;
    for (int i = 0; ok && i < 36; i++)
        ok = (i == 8 || i == 13 || i == 18 || i == 23) ? id[i] == '-'
                                                       : isxdigit((unsigned char)id[i]) != 0;
    if (!ok) {
        web_resp_error(resp, 404, "trip_not_found", "trip %s does not exist (not a UUID)",
                       id ? id : "");
        return NULL;
    }
    return id;
}

/* ---- routes ---- */
void web_h_routes_list(struct web *w, const web_req *req, web_resp *resp)
{
    web_db_relay(resp, 200, run(w, resp, "web_route_list", 0, NULL));
}

void web_h_routes_add(struct web *w, const web_req *req, web_resp *resp)
{
    if (body_is_object(req, resp) != 0)
        return;
    const char *vals[1] = {req->body.data};
    PGresult *r = run(w, resp, "web_route_create", 1, vals);
    if (!r)
        return;
    web_resp_json(resp, 201, PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0));
    json_object *o = json_tokener_parse(PQgetvalue(r, 0, 0)), *id;
    if (o && json_object_object_get_ex(o, "id", &id))
        snprintf(resp->location, sizeof resp->location, "/api/routes/%lld",
                 (long long)json_object_get_int64(id));
    json_object_put(o);
    PQclear(r);
}

/* ---- trips ---- */
void web_h_trips_list(struct web *w, const web_req *req, web_resp *resp)
{
    web_db_relay(resp, 200, run(w, resp, "web_trip_list", 0, NULL));
}

void web_h_trips_arm(struct web *w, const web_req *req, web_resp *resp)
{
    if (body_is_object(req, resp) != 0)
        return;
    const char *vals[1] = {req->body.data};
    PGresult *r = run(w, resp, "web_trip_arm", 1, vals);
    if (!r)
        return;
    web_resp_json(resp, 201, PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0));
    json_object *o = json_tokener_parse(PQgetvalue(r, 0, 0)), *id;
    if (o && json_object_object_get_ex(o, "id", &id))
        snprintf(resp->location, sizeof resp->location, "/api/trips/%s",
                 json_object_get_string(id));
    json_object_put(o);
    PQclear(r);
}

void web_h_trip_disarm(struct web *w, const web_req *req, web_resp *resp)
{
    const char *id = web_trip_id(req, resp);
    if (!id)
        return;
    char actor[160];
    const char *vals[2] = {id, web_ident_actor(&req->who, actor, sizeof actor)};
    PGresult *r = run(w, resp, "web_trip_disarm", 2, vals);
    if (!r)
        return;
    json_object *o = json_tokener_parse(PQgetvalue(r, 0, 0)), *v;
    if (o && json_object_object_get_ex(o, "command", &v) &&
        json_object_is_type(v, json_type_object)) {
        /* a seal that takes commands: the unseal is queued, the trip ends when the seal
         * confirms it is open (docs/commands.md) */
        web_resp_json(resp, 202, PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0));
        size_t len;
        const char *s = json_object_to_json_string_length(v, JSON_C_TO_STRING_PLAIN, &len);
        web_ws_event(w, s, len);
    } else if (!o || !json_object_object_get_ex(o, "refused", &v) || !json_object_get_boolean(v)) {
        web_resp_json(resp, 200, PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0));
    } else {
        /* {"refused", "error", "detail", "distance_m", "incident"}: the same with 409, and
         * the incident to the map like any other. */
        json_object_object_del(o, "refused");
        size_t len;
        const char *s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &len);
        web_resp_json(resp, 409, s, len);
        json_object *inc;
        if (json_object_object_get_ex(o, "incident", &inc) &&
            json_object_is_type(inc, json_type_object)) {
            s = json_object_to_json_string_length(inc, JSON_C_TO_STRING_PLAIN, &len);
            web_ws_event(w, s, len);
        }
    }
    json_object_put(o);
    PQclear(r);
}

void web_h_trip_get(struct web *w, const web_req *req, web_resp *resp)
{
    const char *id = web_trip_id(req, resp);
    if (!id)
        return;
    const char *vals[1] = {id};
    web_db_relay(resp, 200, run(w, resp, "web_trip_get", 1, vals));
}

/* ---- the reconciliation report ---- */

/* Appends one CSV field (RFC 4180: quoted when it holds a comma, quote, CR or LF; quotes
 * doubled). Text that a spreadsheet would run as a formula gets a leading apostrophe. */
static void csv_field(web_buf *b, const char *s, int first)
{
    if (!first)
        web_buf_addstr(b, ",");
    if (!s)
        return;
    int formula = (s[0] == '=' || s[0] == '+' || s[0] == '@' ||
                   (s[0] == '-' && !isdigit((unsigned char)s[1])));
    int quote = strpbrk(s, ",\"\r\n") != NULL || formula;
    if (!quote) {
        web_buf_addstr(b, s);
        return;
    }
    web_buf_addstr(b, "\"");
    if (formula)
        web_buf_addstr(b, "'");
    for (const char *p = s; *p; p++)
        web_buf_add(b, *p == '"' ? "\"\"" : p, *p == '"' ? 2 : 1);
    web_buf_addstr(b, "\"");
}

/* The text of member key of o as a CSV cell wants it: strings as they are, numbers and
 * booleans as JSON writes them, objects as compact JSON, null and absent as empty. */
static const char *cell(json_object *o, const char *key)
{
    json_object *v;
    if (!o || !json_object_object_get_ex(o, key, &v) || !v)
        return NULL;
    if (json_object_is_type(v, json_type_string))
        return json_object_get_string(v);
    return json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
}

#define CSV_COLS 14
static const char *const csv_header[CSV_COLS] = {
    "section", "trip_id", "seal_id", "declaration", "time", "until", "minutes",
    "kind",    "name",    "country", "seq",         "lat",  "lon",   "detail"};

static void csv_row(web_buf *b, const char *const *c)
{
    for (int i = 0; i < CSV_COLS; i++)
        csv_field(b, c[i], i == 0);
    web_buf_addstr(b, "\r\n");
}

static void report_csv(json_object *t, web_buf *b)
{
    const char *tid = cell(t, "id"), *seal = cell(t, "seal_id"), *decl = cell(t, "declaration");
    b->len = 0;
    csv_row(b, csv_header);

    json_object *conv = NULL;
    json_object_object_get_ex(t, "conveyance", &conv);
    char detail[1024];
    snprintf(detail, sizeof detail,
             "origin %s; destination %s; plate %s; container %s; deadline %s",
             cell(t, "origin") ? cell(t, "origin") : "",
             cell(t, "destination") ? cell(t, "destination") : "",
             cell(conv, "plate") ? cell(conv, "plate") : "",
             cell(conv, "container") ? cell(conv, "container") : "",
             cell(t, "deadline") ? cell(t, "deadline") : "");
    const char *trip[CSV_COLS] = {"trip",
                                  tid,
                                  seal,
                                  decl,
                                  cell(t, "armed_at"),
                                  cell(t, "disarmed_at"),
                                  NULL,
                                  cell(t, "status"),
                                  cell(t, "route"),
                                  cell(t, "origin_country"),
                                  NULL,
                                  NULL,
                                  NULL,
                                  detail};
    csv_row(b, trip);

    static const char *const sections[] = {"legs", "stops", "checkpoints", "events", "incidents"};
    for (size_t s = 0; s < sizeof sections / sizeof sections[0]; s++) {
        json_object *arr;
        if (!json_object_object_get_ex(t, sections[s], &arr) ||
            !json_object_is_type(arr, json_type_array))
            continue;
        for (size_t i = 0; i < json_object_array_length(arr); i++) {
            json_object *e = json_object_array_get_idx(arr, i);
            const char *c[CSV_COLS] = {NULL, tid, seal, decl};
            switch (s) {
            case 0: /* leg: a country with its entry time and border post */
                c[0] = "leg", c[4] = cell(e, "entered_at"), c[5] = cell(e, "exited_at");
                c[8] = cell(e, "border_post"), c[9] = cell(e, "country");
                c[11] = cell(e, "lat"), c[12] = cell(e, "lon");
                c[13] = cell(e, "border_post_distance_m");
                break;
            case 1: /* stop */
                c[0] = "stop", c[4] = cell(e, "from"), c[5] = cell(e, "until");
                c[6] = cell(e, "minutes"), c[8] = cell(e, "place");
                c[11] = cell(e, "lat"), c[12] = cell(e, "lon");
                break;
            case 2: /* checkpoint with its passage time */
                c[0] = "checkpoint", c[4] = cell(e, "passed_at"), c[8] = cell(e, "name");
                c[10] = cell(e, "seq"), c[7] = cell(e, "in_order");
                c[13] = cell(e, "max_leg_minutes");
                break;
            case 3: /* event with its evidence */
                c[0] = "event", c[4] = cell(e, "time"), c[7] = cell(e, "kind");
                c[11] = cell(e, "lat"), c[12] = cell(e, "lon"), c[13] = cell(e, "details");
                break;
            default: /* incident */
                c[0] = "incident", c[4] = cell(e, "opened_at"), c[5] = cell(e, "updated_at");
                c[7] = cell(e, "rule"), c[8] = cell(e, "severity"), c[10] = cell(e, "id");
                c[11] = cell(e, "lat"), c[12] = cell(e, "lon"), c[13] = cell(e, "status");
                break;
            }
            csv_row(b, c);
        }
    }
}

void web_h_trip_report(struct web *w, const web_req *req, web_resp *resp)
{
    const char *fmt = web_query(req, "format");
    if (fmt && strcmp(fmt, "json") != 0 && strcmp(fmt, "csv") != 0)
        return web_resp_error(resp, 400, "bad_query", "format must be \"json\" or \"csv\"");
    const char *id = web_trip_id(req, resp);
    if (!id)
        return;
    const char *vals[1] = {id};
    PGresult *r = run(w, resp, "web_trip_report", 1, vals);
    if (!r)
        return;
    if (!fmt || strcmp(fmt, "json") == 0) {
        web_resp_json(resp, 200, PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0));
        PQclear(r);
        return;
    }
    json_object *t = json_tokener_parse(PQgetvalue(r, 0, 0));
    PQclear(r);
    if (!t)
        return web_resp_error(resp, 500, "db_error", "the report is not valid JSON");
    report_csv(t, &resp->body);
    json_object_put(t);
    resp->status = 200;
    resp->ctype = "text/csv; charset=utf-8";
}
