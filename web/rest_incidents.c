/*
 * rest_incidents.c: the REST handlers of incident handling and rapid response
 * (docs/incidents.md): one incident with its trail, lifecycle actions, units, the nearest
 * available units for an incident, and the response report.
 *
 * The rules live in the database (schema/rules/incidents.sql) behind the alerts module's
 * functions; these handlers check the shape of the request, call one function on the web
 * thread's connection and answer with what it returned. A successful action is also
 * pushed to every websocket client through the gateway's own event path (web_ws_event),
 * so every officer's screen shows the change at once.
 *
 * Owns nothing beyond a call. Runs on the web thread.
 */
#include "web_int.h"
#include "alerts.h"

#include <ctype.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* Who acts, for the audit trail: THE single place the caller's identity is read. The
 * token's identity (auth.c verified it before the handler ran): "officer:jane", or
 * "rru:UNIT" for a unit's token. */
static const char *request_actor(const web_req *req, char *buf, size_t n)
{
    return web_ident_actor(&req->who, buf, n);
}

/* The unit an rru caller is tied to (it may act only on its own incidents), else NULL. */
static const char *request_unit(const web_req *req)
{
    return req->who.role == WEB_ROLE_RRU ? req->who.unit : NULL;
}

/* Answers with what an alerts function returned (rc, a), or 503/500 when the query
 * failed; frees a. */
static void answer(struct web *w, web_resp *resp, PGconn *c, int rc, alert_answer *a)
{
    if (rc != 0) {
        if (!c || PQstatus(c) != CONNECTION_OK)
            web_resp_error(resp, 503, "db_unavailable",
                           "the database cannot be reached; retry shortly");
        else
            web_resp_error(resp, 500, "db_error", "the database refused the query");
    } else {
        web_resp_json(resp, a->status, a->body ? a->body : "{}", a->body ? a->len : 2);
    }
    alert_answer_clear(a);
}

/* The connection, or NULL with a 503 set. */
static PGconn *conn_or_503(struct web *w, web_resp *resp)
{
    PGconn *c = web_db_conn(w->db);
    if (!c)
        web_resp_error(resp, 503, "db_unavailable",
                       "the database cannot be reached; retry shortly");
    return c;
}

/* ---- GET /api/incidents/{id} ---- */
void web_h_incident_get(struct web *w, const web_req *req, web_resp *resp)
{
    PGconn *c = conn_or_503(w, resp);
    if (!c)
        return;
    alert_answer a;
    int rc = alert_incident_get(c, web_param(&req->params, "id"), &a);
    answer(w, resp, c, rc, &a);
}

/* ---- POST /api/incidents/{id}/actions ---- */
void web_h_incident_action(struct web *w, const web_req *req, web_resp *resp)
{
    json_object *o = web_body_object(req, resp), *v, *act = NULL;
    if (!o)
        return;
    static const char *const keys[] = {"action", "rru_id", "note", "outcome"};
    act = json_object_new_object();
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        if (!json_object_object_get_ex(o, keys[i], &v) || !v)
            continue;
        if (!json_object_is_type(v, json_type_string)) {
            web_resp_error(resp, 422, "invalid_field", "\"%s\" must be a string", keys[i]);
            goto done;
        }
        json_object_object_add(act, keys[i], json_object_get(v));
    }
    if (!json_object_object_get_ex(act, "action", NULL)) {
        web_resp_error(resp, 422, "invalid_action",
                       "\"action\" is required: ack, assign, en_route, on_scene, resolve or note");
        goto done;
    }
    char version[16], *ver = NULL;
    if (json_object_object_get_ex(o, "version", &v) && v) {
        int64_t n = json_object_get_int64(v);
        if (!json_object_is_type(v, json_type_int) || n < 1 || n > INT_MAX) {
            web_resp_error(resp, 422, "invalid_field",
                           "\"version\" must be the incident's version (a positive integer)");
            goto done;
        }
        snprintf(version, sizeof version, "%lld", (long long)n);
        ver = version;
    }
    PGconn *c = conn_or_503(w, resp);
    if (!c)
        goto done;
    alert_answer a;
    char actor[192];
    int rc =
        alert_incident_action(c, web_param(&req->params, "id"),
                              json_object_to_json_string_ext(act, JSON_C_TO_STRING_PLAIN),
                              request_actor(req, actor, sizeof actor), ver, request_unit(req), &a);
    /* every officer's screen: the new state through the gateway's own fan-out */
    if (rc == 0 && a.status == 200)
        web_ws_event(w, a.body, a.len);
    answer(w, resp, c, rc, &a);
done:
    json_object_put(act);
    json_object_put(o);
}

/* ---- GET, POST /api/rrus ---- */
void web_h_rrus_list(struct web *w, const web_req *req, web_resp *resp)
{
    PGconn *c = conn_or_503(w, resp);
    if (!c)
        return;
    alert_answer a;
    int rc = alert_rru_list(c, &a);
    answer(w, resp, c, rc, &a);
}

void web_h_rrus_add(struct web *w, const web_req *req, web_resp *resp)
{
    json_object *o = web_body_object(req, resp), *v;
    if (!o)
        return;
    static const char *const strs[] = {"id", "name", "status", "tracker"};
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        if (json_object_object_get_ex(o, strs[i], &v) && v &&
            !json_object_is_type(v, json_type_string)) {
            web_resp_error(resp, 422, "invalid_field", "\"%s\" must be a string", strs[i]);
            goto done;
        }
    PGconn *c = conn_or_503(w, resp);
    if (!c)
        goto done;
    alert_answer a;
    int rc = alert_rru_upsert(c, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN), &a);
    answer(w, resp, c, rc, &a);
done:
    json_object_put(o);
}

/* ---- GET /api/rrus/suggest?incident={id} ---- */
void web_h_rrus_suggest(struct web *w, const web_req *req, web_resp *resp)
{
    const char *id = web_query(req, "incident");
    if (!id)
        return web_resp_error(resp, 400, "bad_query", "incident={id} is required");
    PGconn *c = conn_or_503(w, resp);
    if (!c)
        return;
    alert_answer a;
    int rc = alert_rru_suggest(c, id, &a);
    answer(w, resp, c, rc, &a);
}

/* ---- GET /api/reports/response?since=&until= ---- */
void web_h_report_response(struct web *w, const web_req *req, web_resp *resp)
{
    const char *since = web_query(req, "since"), *until = web_query(req, "until");
    if ((since && !core_valid_time_or_date(since)) || (until && !core_valid_time_or_date(until)))
        return web_resp_error(resp, 400, "bad_query",
                              "since and until are ISO 8601 times or dates (2026-11-26)");
    PGconn *c = conn_or_503(w, resp);
    if (!c)
        return;
    alert_answer a;
    int rc = alert_response_report(c, since, until, &a);
    answer(w, resp, c, rc, &a);
}
