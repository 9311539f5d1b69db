/*
 * db.c: the web thread's own PostgreSQL connection and every statement the gateway runs
 * (the alerts module prepares its own on the same connection).
 *
 * Queries are synchronous: REST handlers run on the web thread and every statement here
 * is an indexed read or a single-row write. When the connection drops, the next call
 * reconnects (at most once a second, with a 3 s connect timeout) so a dead database
 * costs callers a quick 503, not a stall.
 *
 * Owns one PGconn. Runs on the web thread (and web_db_check on main() at start-up).
 */
#include "web_int.h"
#include <json-c/json.h>
#include <ctype.h>
#include "alerts.h"

#include <stdlib.h>
#include <string.h>

/* Every statement of the gateway, prepared once per connection. */
static const struct {
    const char *name, *sql;
    int nparams;
} stmts[] = {
    {"web_ping", "SELECT 1", 0},
    {"web_incident_states",
     "SELECT status, count(*) FROM corridor.incidents GROUP BY status ORDER BY status", 0},
    {"web_seals",
     "SELECT coalesce(json_agg(json_build_object('id', id, 'protocol', protocol,"
     "  'device_id', device_id, 'timezone', timezone,"
     "  'created_at', to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'))"
     "  ORDER BY id), '[]')::text FROM corridor.seals",
     0},
    {"web_seal_add",
     "INSERT INTO corridor.seals (id, protocol, device_id, timezone) VALUES ($1, $2, $3, $4)"
     " RETURNING json_build_object('id', id, 'protocol', protocol, 'device_id', device_id,"
     "  'timezone', timezone,"
     "  'created_at', to_char(created_at AT TIME ZONE 'UTC', "
     "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'))::text",
     4},
    {"web_geofences",
     "SELECT json_build_object('type', 'FeatureCollection', 'features', coalesce(json_agg("
     "  json_build_object('type', 'Feature', 'id', id, 'geometry', ST_AsGeoJSON(geom, 7)::json,"
     "   'properties', json_build_object('id', id, 'name', name, 'kind', kind, 'country', country))"
     "  ORDER BY id), '[]'))::text"
     " FROM corridor.geofences WHERE deleted_at IS NULL",
     0},
    {"web_geofence_add",
     "WITH g AS (SELECT ST_Multi(ST_SetSRID(ST_GeomFromGeoJSON($3), 4326)) AS geom)"
     " INSERT INTO corridor.geofences (name, kind, country, geom)"
     " SELECT $1, $2, (SELECT c.iso2 FROM corridor.countries c"
     "                  WHERE ST_Intersects(c.geom, ST_PointOnSurface(g.geom)) LIMIT 1), g.geom"
     " FROM g"
     " RETURNING json_build_object('type', 'Feature', 'id', id,"
     "  'geometry', ST_AsGeoJSON(geom, 7)::json,"
     "  'properties', json_build_object('id', id, 'name', name, 'kind', kind, 'country', country),"
     "  'name', name, 'kind', kind, 'country', country)::text, id",
     3},
    {"web_geofence_del",
     "UPDATE corridor.geofences SET deleted_at = now() WHERE id = $1::bigint"
     " AND deleted_at IS NULL RETURNING id",
     1},
    {"web_countries",
     "SELECT json_build_object('type', 'FeatureCollection', 'features', coalesce(json_agg("
     "  json_build_object('type', 'Feature', 'id', iso2, 'geometry', ST_AsGeoJSON(geom, 4)::json,"
     "   'properties', json_build_object('iso2', iso2, 'name', name))"
     "  ORDER BY iso2), '[]'))::text FROM corridor.countries",
     0},
    /* trips (rest_trips.c): each a function of schema/rules/trips.sql returning JSON */
    {"web_route_create", "SELECT corridor.route_create($1::json)::text", 1},
    {"web_route_list", "SELECT corridor.route_list()::text", 0},
    {"web_trip_arm", "SELECT corridor.trip_arm($1::json)::text", 1},
    {"web_trip_disarm", "SELECT corridor.trip_disarm($1::uuid, now(), $2)::text", 2},
    /* device commands (rest_commands.c): functions of schema/rules/commands.sql */
    {"web_command_create", "SELECT corridor.command_create($1, $2::json, $3)::text", 3},
    {"web_command_list", "SELECT corridor.command_list($1)::text", 1},
    {"web_command_cancel", "SELECT corridor.command_cancel($1, $2::bigint, $3)::text", 3},
    {"web_command_approve", "SELECT corridor.command_approve($1, $2::bigint, $3)::text", 3},
    {"web_trip_get", "SELECT corridor.trip_get($1::uuid)::text", 1},
    {"web_trip_list", "SELECT corridor.trip_list()::text", 0},
    /* exports (rest_export.c): functions of schema/rules/exports.sql */
    {"web_export_name", "SELECT corridor.trip_export_name($1::uuid, $2)", 2},
    {"web_track_export", "SELECT corridor.trip_track_export($1::uuid, $2)", 2},
    {"web_trip_map", "SELECT corridor.trip_map($1::uuid)::text", 1},
    {"web_trip_verification",
     "SELECT coalesce(corridor.trip_verification_or_null($1::uuid), 'null')::text", 1},
    {"web_trip_report", "SELECT corridor.trip_report($1::uuid)::text", 1},
    /* journey replay (rest_replay.c): functions of schema/rules/replay.sql */
    {"web_replay_trip", "SELECT corridor.replay_trip($1::uuid)::text", 1},
    {"web_replay_seal", "SELECT corridor.replay_seal($1, $2, $3)::text", 3},
    /* vessels (rest_vessels.c, ws.c): functions of schema/rules/vessels.sql returning JSON */
    {"web_vessel_list", "SELECT corridor.vessel_list($1::float8[], $2::timestamptz)::text", 2},
    {"web_vessel_get",
     "SELECT corridor.vessel_get($1::bigint,"
     " coalesce($2::timestamptz, now() - interval '24 hours'))::text",
     2},
    {"web_vessels_recent", "SELECT corridor.vessel_list(NULL, now() - interval '1 hour')::text", 0},
    {"web_watch_add", "SELECT corridor.watchlist_add($1::jsonb)::text", 1},
    {"web_watch_remove", "SELECT corridor.watchlist_remove($1::bigint, $2::text)::text", 2},
    {"web_watch_list", "SELECT corridor.watchlist_list($1::boolean)::text", 1},
    /* access control (auth.c) and the partner API (rest_partner.c) */
    {"web_token_check",
     "SELECT id, name, role, coalesce(country, ''), coalesce(unit_id, '')"
     " FROM corridor.token_check($1::bytea)",
     1},
    {"web_partner_trips",
     "SELECT corridor.partner_trips($1, $2::timestamptz, $3::timestamptz, $4::int,"
     " $5::bigint, $6)::text",
     6},
    {"web_partner_refused",
     "INSERT INTO corridor.partner_audit (token_id, country, query, rows, status)"
     " VALUES ($1::bigint, $2, $3, 0, $4::int)",
     4},
    /* trip evidence (rest_evidence.c): functions of schema/rules/evidence.sql */
    {"web_trip_evidence", "SELECT corridor.trip_evidence($1::uuid)::text", 1},
    {"web_partner_trip_evidence",
     "SELECT corridor.partner_trip_evidence($1, $2::uuid, $3::bigint, $4)::text", 4},
    {"web_latest",
     "SELECT coalesce(json_agg(corridor.position_json(seal_id, ts, lat, lon, speed_kmh,"
     "  bearing, battery, lock, alarm)::json ORDER BY seal_id), '[]')::text"
     " FROM corridor.latest",
     0},
};

struct web_db {
    char *conninfo;
    PGconn *conn;
    int64_t next_try_us;
};

web_db *web_db_new(const char *conninfo)
{
    web_db *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->conninfo = strdup(conninfo ? conninfo : "");
    if (!d->conninfo) {
        free(d);
        return NULL;
    }
    return d;
}

void web_db_free(web_db *d)
{
    if (!d)
        return;
    if (d->conn)
        PQfinish(d->conn);
    free(d->conninfo);
    free(d);
}

/* 0; CORE_EDB when the server cannot be reached; CORE_EINVAL when it was reached but a
 * statement does not prepare (schema mismatch: fatal at start-up). */
static int connect_db(web_db *d, char *err, size_t n)
{
    int rc = CORE_EDB;
    /* the shared options first (core.h), the conninfo's own values over them */
    const char *keys[] = {CORE_DB_OPTION_KEYS, "dbname", "connect_timeout", "application_name",
                          NULL};
    const char *vals[] = {CORE_DB_OPTION_VALS, d->conninfo, "3", "corridor-web", NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (!c || PQstatus(c) != CONNECTION_OK) {
        snprintf(err, n, "database: %s", c ? PQerrorMessage(c) : "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < sizeof stmts / sizeof stmts[0]; i++) {
        PGresult *r = PQprepare(c, stmts[i].name, stmts[i].sql, stmts[i].nparams, NULL);
        int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        if (!ok)
            snprintf(err, n, "prepare %s: %s", stmts[i].name, PQerrorMessage(c));
        PQclear(r);
        if (!ok) {
            rc = CORE_EINVAL;
            goto fail;
        }
    }
    if (web_session_prepare(c, err, n) != 0) {
        rc = CORE_EINVAL;
        goto fail;
    }
    if (alert_prepare(c, err, n) != 0) {
        rc = CORE_EINVAL;
        goto fail;
    }
    d->conn = c;
    return 0;
fail:
    if (c)
        PQfinish(c);
    return rc;
}

PGconn *web_db_conn(web_db *d)
{
    if (d->conn && PQstatus(d->conn) == CONNECTION_OK)
        return d->conn;
    if (d->conn) {
        PQfinish(d->conn);
        d->conn = NULL;
    }
    int64_t now = core_mono_us();
    if (now < d->next_try_us)
        return NULL;
    char err[512];
    if (connect_db(d, err, sizeof err) != 0) {
        d->next_try_us = now + 1000000;
        core_warn("web", "%s", err);
        return NULL;
    }
    core_info("web", "database connection up");
    return d->conn;
}

PGresult *web_db_exec(web_db *d, const char *name, int n, const char *const *values)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        PGconn *c = web_db_conn(d);
        if (!c)
            return NULL;
        PGresult *r = PQexecPrepared(c, name, n, values, NULL, NULL, 0);
        if (PQstatus(c) == CONNECTION_OK)
            return r;
        PQclear(r);
        core_warn("web", "database connection lost; reconnecting");
        PQfinish(d->conn);
        d->conn = NULL;
        d->next_try_us = 0;
    }
    return NULL;
}

int web_db_up(web_db *d)
{
    PGresult *r = web_db_exec(d, "web_ping", 0, NULL);
    int ok = r && PQresultStatus(r) == PGRES_TUPLES_OK;
    PQclear(r);
    return ok;
}

int web_db_check(web_db *d, char *err, size_t n)
{
    if (d->conn)
        return 0;
    int rc = connect_db(d, err, n);
    if (rc)
        d->next_try_us = core_mono_us() + 1000000;
    return rc;
}

/* ---- answers of the SQL API functions (corridor.trip_*, vessel_*, watchlist_*) ---- */

/* A failed statement as the API answers it: CTnnn -> nnn with {"error","detail","field"}
 * ("code: sentence" split at ": "); a value the database cannot read (class 22) -> 422
 * bad_code with bad_detail and the server's words; anything else 503. */
static void db_answer_error(web_resp *resp, PGresult *r, const char *bad_code,
                            const char *bad_detail)
{
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
    const char *col = PQresultErrorField(r, PG_DIAG_COLUMN_NAME);
    if (state && msg && strncmp(state, "22", 2) == 0) {
        web_resp_error(resp, 422, bad_code, "%s (%s)", bad_detail, msg);
        return;
    }
    if (!state || strncmp(state, "CT", 2) != 0 || !isdigit((unsigned char)state[2]) || !msg) {
        core_error("web", "query failed: %s", PQresultErrorMessage(r));
        web_resp_error(resp, 503, "db_error", "the database could not do this now; retry shortly");
        return;
    }
    int status = atoi(state + 2);
    if (status < 400 || status > 499)
        status = 422;
    const char *sep = strstr(msg, ": ");
    char code[64];
    size_t cl = sep ? (size_t)(sep - msg) : 0;
    if (!sep || cl == 0 || cl >= sizeof code) {
        snprintf(code, sizeof code, "refused");
        sep = NULL;
    } else {
        memcpy(code, msg, cl);
        code[cl] = 0;
    }
    json_object *o = json_object_new_object();
    if (!o) {
        web_resp_error(resp, 500, "no_memory", "out of memory");
        return;
    }
    json_object_object_add(o, "error", json_object_new_string(code));
    json_object_object_add(o, "detail", json_object_new_string(sep ? sep + 2 : msg));
    if (col && col[0])
        json_object_object_add(o, "field", json_object_new_string(col));
    size_t len;
    const char *text = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &len);
    web_resp_json(resp, status, text, len);
    json_object_put(o);
}

PGresult *web_db_json(web_db *d, web_resp *resp, const char *stmt, int n, const char *const *vals,
                      const char *bad_code, const char *bad_detail)
{
    PGresult *r = web_db_exec(d, stmt, n, vals);
    if (!r) {
        web_resp_error(resp, 503, "db_unavailable",
                       "the database cannot be reached; retry shortly");
        return NULL;
    }
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 && PQnfields(r) == 1 &&
        !PQgetisnull(r, 0, 0))
        return r;
    if (PQresultStatus(r) == PGRES_FATAL_ERROR)
        db_answer_error(resp, r, bad_code, bad_detail);
    else
        web_resp_error(resp, 500, "db_error", "the database answered something unexpected");
    PQclear(r);
    return NULL;
}

void web_db_relay(web_resp *resp, int status, PGresult *r)
{
    if (!r)
        return;
    web_resp_json(resp, status, PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0));
    PQclear(r);
}
