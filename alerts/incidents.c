/*
 * incidents.c: incidents, units and the response report for the API and the map
 * snapshot. The JSON shapes (corridor.incident_json, rru_json, ...) and every rule of the
 * lifecycle are built in the database (schema/rules/incidents.sql, dispatch.sql), so the REST
 * answers, the snapshot, the live messages and the RRU dispatches are the same objects; this file
 * runs the statements and maps the database's CTnnn errors to HTTP answers.
 *
 * Owns nothing; runs on the caller's thread with the caller's connection.
 */
#include "alerts.h"

#include <ctype.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

/* The module's statements, prepared once per connection. */
static const struct {
    const char *name, *sql;
    int nparams;
} stmts[] = {
    {"alert_list",
     "SELECT coalesce(json_agg(corridor.incident_json(n)::json"
     "                         ORDER BY n.opened_at DESC, n.id DESC), '[]')::text"
     "  FROM (SELECT * FROM corridor.incidents i"
     "         WHERE $1::boolean IS FALSE OR i.status <> 'resolved'"
     "         ORDER BY i.opened_at DESC, i.id DESC LIMIT $2::int) n",
     2},
    {"alert_get", "SELECT corridor.incident_get($1::bigint)::text", 1},
    {"alert_action",
     "SELECT corridor.incident_action($1::bigint,"
     " CASE WHEN $5::text IS NULL THEN $2::json"
     "      ELSE ($2::jsonb || jsonb_build_object('as_unit', $5::text))::json END,"
     " $3::text, $4::int)::text",
     5},
    {"alert_rrus", "SELECT corridor.rru_list()::text", 0},
    {"alert_rru_upsert",
     "SELECT (x->>'created')::boolean, (x->'unit')::text FROM corridor.rru_upsert($1::json) x", 1},
    {"alert_suggest", "SELECT corridor.rru_suggest($1::bigint)::text", 1},
    {"alert_report", "SELECT corridor.response_report($1::timestamptz, $2::timestamptz)::text", 2},
    /* the dispatch stage's (dispatch.c) */
    {"alert_tick", "SELECT t FROM corridor.dispatch_tick(now(), $1::int) t", 1},
    {"alert_take",
     "SELECT corridor.dispatch_take($1, $2::bigint[])::text,"
     "       corridor.dispatch_gone($1, $2::bigint[])::text",
     2},
    {"alert_unit", "SELECT corridor.rru_json(r)::text FROM corridor.rrus r WHERE r.id = $1", 1},
};

int alert_filter_parse(const char *s, enum alert_filter *out)
{
    if (!s || strcmp(s, "all") == 0)
        *out = ALERT_ALL;
    else if (strcmp(s, "open") == 0)
        *out = ALERT_OPEN;
    else
        return CORE_EINVAL;
    return 0;
}

int alert_prepare(PGconn *conn, char *err, size_t n)
{
    for (size_t i = 0; i < sizeof stmts / sizeof stmts[0]; i++) {
        PGresult *r = PQprepare(conn, stmts[i].name, stmts[i].sql, stmts[i].nparams, NULL);
        int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        if (!ok)
            snprintf(err, n, "prepare %s: %s", stmts[i].name, PQerrorMessage(conn));
        PQclear(r);
        if (!ok)
            return CORE_EDB;
    }
    return 0;
}

int alert_incidents_json(PGconn *conn, enum alert_filter filter, int limit, char **json,
                         size_t *len)
{
    char lim[16];
    if (limit < 1 || limit > ALERT_LIST_MAX)
        limit = ALERT_LIST_DEFAULT;
    snprintf(lim, sizeof lim, "%d", limit);
    const char *vals[2] = {filter == ALERT_OPEN ? "true" : "false", lim};
    PGresult *r = PQexecPrepared(conn, "alert_list", 2, vals, NULL, NULL, 0);
    int rc = CORE_EDB;
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
        goto fail;
    *len = (size_t)PQgetlength(r, 0, 0);
    *json = malloc(*len + 1);
    if (!*json)
        goto fail;
    memcpy(*json, PQgetvalue(r, 0, 0), *len + 1);
    rc = 0;
fail:
    PQclear(r);
    return rc;
}

void alert_answer_clear(alert_answer *a)
{
    free(a->body);
    a->body = NULL;
    a->len = 0;
    a->status = 0;
}

int alert_id_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n < 1 || n > 18 || s[0] == '0')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return 0;
    return 1;
}

int alert_sqlstate_status(const char *st)
{
    if (!st || strlen(st) != 5)
        return 0;
    if (st[0] == 'C' && st[1] == 'T' && isdigit((unsigned char)st[2]) &&
        isdigit((unsigned char)st[3]) && isdigit((unsigned char)st[4])) {
        int code = atoi(st + 2);
        return code >= 400 && code <= 599 ? code : 0;
    }
    if (strncmp(st, "22", 2) == 0 || strncmp(st, "23", 2) == 0)
        return 422;
    return 0;
}

char *alert_error_body(const char *message, const char *detail, size_t *len)
{
    char code[64] = "invalid";
    const char *sentence = message ? message : "";
    const char *colon = message ? strstr(message, ": ") : NULL;
    if (colon && colon > message && (size_t)(colon - message) < sizeof code) {
        int ok = 1;
        for (const char *p = message; p < colon; p++)
            ok &= islower((unsigned char)*p) || *p == '_';
        if (ok) {
            memcpy(code, message, (size_t)(colon - message));
            code[colon - message] = '\0';
            sentence = colon + 2;
        }
    }
    json_object *o = json_object_new_object(), *inc = NULL;
    if (!o)
        return NULL;
    json_object_object_add(o, "error", json_object_new_string(code));
    /* PostgreSQL ends no primary message with a newline, but be safe */
    size_t sl = strlen(sentence);
    while (sl && (sentence[sl - 1] == '\n' || sentence[sl - 1] == ' '))
        sl--;
    json_object_object_add(o, "detail", json_object_new_string_len(sentence, (int)sl));
    if (detail && *detail == '{') {
        inc = json_tokener_parse(detail);
        if (inc && json_object_is_type(inc, json_type_object))
            json_object_object_add(o, "incident", inc);
        else
            json_object_put(inc);
    }
    size_t n;
    const char *t = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &n);
    char *out = malloc(n + 1);
    if (out) {
        memcpy(out, t, n + 1);
        *len = n;
    }
    json_object_put(o);
    return out;
}

/* Copies column col of row 0 into out with status. */
static int answer_value(PGresult *r, int col, int status, alert_answer *out)
{
    size_t n = (size_t)PQgetlength(r, 0, col);
    out->body = malloc(n + 1);
    if (!out->body)
        return CORE_EDB;
    memcpy(out->body, PQgetvalue(r, 0, col), n + 1);
    out->len = n;
    out->status = status;
    return 0;
}

/* Runs statement stmt; a one-row answer becomes status with column col, a CTnnn (or data)
 * error an error body. CORE_EDB otherwise. */
static int run(PGconn *conn, const char *stmt, int n, const char *const *vals, int col, int status,
               alert_answer *out, PGresult **keep)
{
    memset(out, 0, sizeof *out);
    PGresult *r = PQexecPrepared(conn, stmt, n, vals, NULL, NULL, 0);
    int rc = CORE_EDB;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
        rc = answer_value(r, col, status, out);
    } else if (PQresultStatus(r) == PGRES_FATAL_ERROR) {
        int http = alert_sqlstate_status(PQresultErrorField(r, PG_DIAG_SQLSTATE));
        if (http) {
            out->status = http;
            out->body = alert_error_body(PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY),
                                         PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL), &out->len);
            rc = out->body ? 0 : CORE_EDB;
        } else {
            core_error("alerts", "%s: %s", stmt, PQresultErrorMessage(r));
        }
    }
    if (keep && rc == 0 && PQresultStatus(r) == PGRES_TUPLES_OK)
        *keep = r;
    else
        PQclear(r);
    return rc;
}

/* A 404 answer without asking the database (an id that cannot exist). */
static int not_found(const char *what, const char *id, alert_answer *out)
{
    char msg[160];
    snprintf(msg, sizeof msg, "not_found: no %s with id \"%.40s\"", what, id ? id : "");
    memset(out, 0, sizeof *out);
    out->status = 404;
    out->body = alert_error_body(msg, NULL, &out->len);
    return out->body ? 0 : CORE_EDB;
}

int alert_incident_get(PGconn *conn, const char *id, alert_answer *out)
{
    if (!alert_id_valid(id))
        return not_found("incident", id, out);
    const char *vals[1] = {id};
    return run(conn, "alert_get", 1, vals, 0, 200, out, NULL);
}

int alert_incident_action(PGconn *conn, const char *id, const char *action_json, const char *actor,
                          const char *version, const char *unit, alert_answer *out)
{
    if (!alert_id_valid(id))
        return not_found("incident", id, out);
    const char *vals[5] = {id, action_json, actor, version, unit};
    return run(conn, "alert_action", 5, vals, 0, 200, out, NULL);
}

int alert_rru_list(PGconn *conn, alert_answer *out)
{
    return run(conn, "alert_rrus", 0, NULL, 0, 200, out, NULL);
}

int alert_rru_upsert(PGconn *conn, const char *unit_json, alert_answer *out)
{
    const char *vals[1] = {unit_json};
    PGresult *r = NULL;
    int rc = run(conn, "alert_rru_upsert", 1, vals, 1, 200, out, &r);
    if (rc == 0 && r) {
        if (strcmp(PQgetvalue(r, 0, 0), "t") == 0)
            out->status = 201;
        PQclear(r);
    }
    return rc;
}

int alert_rru_suggest(PGconn *conn, const char *incident_id, alert_answer *out)
{
    if (!alert_id_valid(incident_id))
        return not_found("incident", incident_id, out);
    const char *vals[1] = {incident_id};
    return run(conn, "alert_suggest", 1, vals, 0, 200, out, NULL);
}

int alert_response_report(PGconn *conn, const char *since, const char *until, alert_answer *out)
{
    const char *vals[2] = {since, until};
    return run(conn, "alert_report", 2, vals, 0, 200, out, NULL);
}
