/*
 * test_replay.c: GET /api/trips/{id}/replay and GET /api/seals/{id}/replay against the real
 * corridord and PostGIS (web/rest_replay.c, schema/rules/replay.sql): a trip armed through
 * REST, its fixes sent over the OsmAnd socket, then the replay's columns (one value per
 * stored fix of the trip, in time order, the places and speeds sent), its events and
 * incidents at their places, the corridor and checkpoints; a seal's windows and every
 * refusal of one (400 with the field, 404); the roles that may and may not ask.
 */
#include "harness.h"

#include <check.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static harness_server srv;
static PGconn *db;
static char conninfo[160], dbname[64];
static char resp[1 << 20];
static char trip[40];
static long now0; /* the first fix of the trip's journey */
static long cp_id;

#define N_FIXES 20
static double fix_lon(int k)
{
    return 39.655 - 0.11 * k; /* along the route, towards Emali (37.4667 E) */
}
static double fix_lat(int k)
{
    return -4.06 + 0.099 * k;
}

static int ping(const char *id, long t, double lat, double lon, int speed_kn, const char *lock)
{
    char path[256], r[512];
    snprintf(path, sizeof path, "/?id=%s&lat=%.5f&lon=%.5f&timestamp=%ld&speed=%d&lock=%s", id, lat,
             lon, t, speed_kn, lock);
    return harness_http(srv.osmand_port, "GET", path, NULL, NULL, r, sizeof r);
}

static int api(const char *path)
{
    return harness_http(srv.http_port, "GET", path, NULL, NULL, resp, sizeof resp);
}

static json_object *js(void)
{
    json_object *o = json_tokener_parse(resp);
    ck_assert_msg(o != NULL, "not JSON: %.300s", resp);
    return o;
}

static json_object *member(json_object *o, const char *key)
{
    json_object *v = NULL;
    ck_assert_msg(json_object_object_get_ex(o, key, &v), "no %s in %.300s", key,
                  json_object_to_json_string(o));
    return v;
}

static double num(json_object *o, const char *key)
{
    return json_object_get_double(member(o, key));
}

static const char *str(json_object *o, const char *key)
{
    return json_object_get_string(member(o, key));
}

/* A refusal: the status, the code and (when given) the field it names. */
static void refused(int status, int want, const char *code, const char *field)
{
    ck_assert_msg(status == want, "want %d %s, got %d %s", want, code, status, resp);
    json_object *o = js();
    ck_assert_str_eq(str(o, "error"), code);
    ck_assert_msg(strlen(str(o, "detail")) > 10, "no detail: %s", resp);
    if (field)
        ck_assert_str_eq(str(o, "field"), field);
    json_object_put(o);
}

static void iso(long t, char *buf, size_t n)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void setup(void)
{
    snprintf(dbname, sizeof dbname, "corridor_test_replay_%d", (int)getpid());
    snprintf(conninfo, sizeof conninfo, "%s", harness_db_create(dbname));
    harness_server_start(&srv, conninfo, NULL);
    db = harness_connect(conninfo);
    harness_exec(
        db, "INSERT INTO corridor.geofences(name, kind, geom) VALUES "
            "('Port', 'port', ST_Multi(ST_MakeEnvelope(39.63,-4.08,39.68,-4.04,4326))),"
            "('Emali', 'checkpoint', ST_Multi(ST_MakeEnvelope(37.45,-2.10,37.48,-2.07,4326))),"
            "('Malaba', 'border_post', ST_Multi(ST_MakeEnvelope(34.26,0.62,34.29,0.65,4326)))");
    harness_exec(db, "INSERT INTO corridor.seals(id, protocol, device_id) VALUES "
                     "('R1','osmand','R1'), ('R2','osmand','R2')");
    harness_exec(db, "INSERT INTO corridor.rrus (id, name, base) VALUES "
                     "('U1', 'Unit one', 'SRID=4326;POINT(36.8 -1.3)')");
    cp_id = harness_query_long(db, "SELECT id FROM corridor.geofences WHERE name = 'Emali'");
    long port = harness_query_long(db, "SELECT id FROM corridor.geofences WHERE name = 'Port'");
    long dest = harness_query_long(db, "SELECT id FROM corridor.geofences WHERE name = 'Malaba'");

    char body[1024];
    snprintf(body, sizeof body,
             "{\"name\": \"Mombasa - Malaba\", \"corridor_m\": 5000, \"max_transit_minutes\": 600,"
             " \"geometry\": {\"type\": \"LineString\", \"coordinates\": [[39.655, -4.06],"
             " [37.4667, -2.0833], [34.275, 0.636]]},"
             " \"checkpoints\": [{\"geofence_id\": %ld}], \"max_speed_kmh\": 1000000}",
             cp_id);
    ck_assert_int_eq(harness_http(srv.http_port, "POST", "/api/routes", "application/json", body,
                                  resp, sizeof resp),
                     201);
    json_object *o = js();
    long route = json_object_get_int64(member(o, "id"));
    json_object_put(o);

    long now = (long)time(NULL);
    ck_assert_int_eq(ping("R1", now - 600, fix_lat(0), fix_lon(0), 0, "locked"), 200);
    ck_assert_int_eq(ping("R2", now - 600, -1.0, 36.0, 10, "locked"), 200);
    snprintf(body, sizeof body,
             "{\"seal_id\": \"R1\", \"route_id\": %ld, \"origin_id\": %ld, \"destination_id\": "
             "%ld, \"conveyance\": {\"plate\": \"KCA 123B\", \"container\": \"CSQU3054383\"},"
             " \"declaration\": \"D-REPLAY\"}",
             route, port, dest);
    ck_assert_int_eq(harness_http(srv.http_port, "POST", "/api/trips", "application/json", body,
                                  resp, sizeof resp),
                     201);
    o = js();
    snprintf(trip, sizeof trip, "%s", str(o, "id"));
    json_object_put(o);
    /* the journey after arming, a fix every 30 s: device times up to ten minutes ahead of
     * the server clock, which --max-future (an hour) accepts; the last one reports the seal
     * open. Each is stored before the OsmAnd answer. */
    now0 = (long)time(NULL) + 2;
    for (int k = 0; k < N_FIXES; k++)
        ck_assert_int_eq(ping("R1", now0 + 30 * k, fix_lat(k), fix_lon(k), 20 + k,
                              k == N_FIXES - 1 ? "open" : "locked"),
                         200);
}

static void teardown(void)
{
    PQfinish(db);
    ck_assert_int_eq(harness_server_stop(&srv, 0), 0);
    PGconn *c = harness_connect("dbname=postgres");
    char sql[128];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", dbname);
    harness_exec(c, sql);
    PQfinish(c);
}

START_TEST(trip_replay)
{
    char path[128];
    snprintf(path, sizeof path, "/api/trips/%s/replay", trip);
    ck_assert_int_eq(api(path), 200);
    json_object *o = js();
    json_object *t = member(o, "t"), *lon = member(o, "lon"), *lat = member(o, "lat"),
                *speed = member(o, "speed");
    /* the fixes since arming: the N_FIXES of the journey, not the one before arming */
    long stored = harness_query_long_params(
        db,
        "SELECT count(*) FROM corridor.positions p JOIN corridor.trips t ON t.seal_id = p.seal_id"
        " WHERE t.id = $1::uuid AND p.ts >= t.armed_at",
        1, (const char *const[]){trip});
    ck_assert_int_eq(stored, N_FIXES);
    ck_assert_int_eq(json_object_array_length(t), stored);
    ck_assert_int_eq(json_object_array_length(lon), stored);
    ck_assert_int_eq(json_object_array_length(lat), stored);
    ck_assert_int_eq(json_object_array_length(speed), stored);
    ck_assert_int_eq((long)num(o, "count"), stored);
    ck_assert(!json_object_get_boolean(member(o, "truncated")));
    ck_assert_msg(!json_object_object_get_ex(o, "fuel", NULL), "no fuel data, no fuel column");
    for (size_t i = 1; i < json_object_array_length(t); i++)
        ck_assert(json_object_get_double(json_object_array_get_idx(t, i)) >
                  json_object_get_double(json_object_array_get_idx(t, i - 1)));
    for (int k = 0; k < N_FIXES; k++) {
        ck_assert_int_eq((long)json_object_get_double(json_object_array_get_idx(t, k)),
                         now0 + 30 * k);
        ck_assert_double_eq_tol(json_object_get_double(json_object_array_get_idx(lon, k)),
                                fix_lon(k), 1e-6);
        ck_assert_double_eq_tol(json_object_get_double(json_object_array_get_idx(lat, k)),
                                fix_lat(k), 1e-6);
        /* OsmAnd speeds are knots; the replay's are km/h (stored whole) */
        ck_assert_double_eq_tol(json_object_get_double(json_object_array_get_idx(speed, k)),
                                (20 + k) * 1.852, 0.5);
    }
    ck_assert_str_eq(str(member(o, "trip"), "id"), trip);
    ck_assert_str_eq(str(o, "seal_id"), "R1");

    /* the arming event and the seal opened at the last fix, at its place */
    json_object *ev = member(o, "events"), *inc = member(o, "incidents");
    int armed = 0;
    for (size_t i = 0; i < json_object_array_length(ev); i++)
        armed += strcmp(str(json_object_array_get_idx(ev, i), "kind"), "trip_armed") == 0;
    ck_assert_int_eq(armed, 1);
    long n_inc = harness_query_long_params(
        db, "SELECT count(*) FROM corridor.incidents WHERE trip_id = $1::uuid", 1,
        (const char *const[]){trip});
    ck_assert_int_eq(json_object_array_length(inc), n_inc);
    int opened = 0;
    for (size_t i = 0; i < json_object_array_length(inc); i++) {
        json_object *n = json_object_array_get_idx(inc, i);
        if (strcmp(str(n, "kind"), "seal_opened") != 0)
            continue;
        opened++;
        ck_assert_double_eq_tol(num(n, "lon"), fix_lon(N_FIXES - 1), 1e-5);
        ck_assert_double_eq_tol(num(n, "ts"), now0 + 30 * (N_FIXES - 1), 1);
        ck_assert_str_eq(str(n, "severity"), "critical");
    }
    ck_assert_int_eq(opened, 1);

    /* the corridor and its checkpoint */
    json_object *route = member(o, "route");
    ck_assert_str_eq(str(member(route, "corridor"), "type"), "Polygon");
    ck_assert_str_eq(str(member(route, "line"), "type"), "LineString");
    json_object *cps = member(route, "checkpoints");
    ck_assert_int_eq(json_object_array_length(cps), 1);
    ck_assert_str_eq(str(json_object_array_get_idx(cps, 0), "name"), "Emali");
    ck_assert_str_eq(str(member(route, "origin"), "name"), "Port");
    json_object_put(o);
}
END_TEST

START_TEST(seal_windows)
{
    char path[256], from[32], to[32];
    iso(now0 + 30 * 5, from, sizeof from);
    iso(now0 + 30 * 9, to, sizeof to);
    snprintf(path, sizeof path, "/api/seals/R1/replay?from=%s&to=%s", from, to);
    ck_assert_int_eq(api(path), 200);
    json_object *o = js();
    ck_assert_int_eq(json_object_array_length(member(o, "t")), 5); /* both ends included */
    ck_assert_int_eq((long)json_object_get_double(json_object_array_get_idx(member(o, "t"), 0)),
                     now0 + 150);
    ck_assert_int_eq(json_object_array_length(member(o, "trips")), 1);
    ck_assert_str_eq(str(json_object_array_get_idx(member(o, "trips"), 0), "id"), trip);
    ck_assert_str_eq(str(member(o, "route"), "name"), "Mombasa - Malaba");
    json_object_put(o);

    /* an offset written %2B is a '+' */
    snprintf(path, sizeof path, "/api/seals/R1/replay?from=%.19s%%2B00:00&to=%s", from, to);
    ck_assert_int_eq(api(path), 200);
    o = js();
    ck_assert_int_eq(json_object_array_length(member(o, "t")), 5);
    json_object_put(o);

    /* no window: the day up to the latest fix; a seal with no trip has no route */
    ck_assert_int_eq(api("/api/seals/R2/replay"), 200);
    o = js();
    ck_assert_int_eq(json_object_array_length(member(o, "t")), 1);
    ck_assert(json_object_get_type(member(o, "route")) == json_type_null);
    ck_assert_int_eq(json_object_array_length(member(o, "trips")), 0);
    json_object_put(o);

    /* refusals, each precise */
    refused(api("/api/seals/R1/replay?from=yesterday"), 400, "bad_time", "from");
    refused(api("/api/seals/R1/replay?from=2026-12-01T10:00:00"), 400, "bad_time", "from");
    refused(api("/api/seals/R1/replay?to=2026-13-01T10:00:00Z"), 400, "bad_time", "to");
    refused(api("/api/seals/R1/replay?from=2026-12-01T10:00:00+03:00"), 400, "bad_time", "from");
    ck_assert_msg(strstr(resp, "%2B") != NULL, "no hint about +: %s", resp);
    refused(api("/api/seals/R1/replay?from=2026-12-02T10:00:00Z&to=2026-12-01T10:00:00Z"), 400,
            "bad_window", "to");
    refused(api("/api/seals/R1/replay?from=2026-12-01T00:00:00Z&to=2026-12-08T00:00:01Z"), 400,
            "window_too_long", "to");
    ck_assert_int_eq(api("/api/seals/R1/replay?from=2026-12-01T00:00:00Z&to=2026-12-08T00:00:00Z"),
                     200); /* exactly 7 days */
    refused(api("/api/seals/NOPE/replay"), 404, "seal_not_found", NULL);
    refused(api("/api/trips/not-a-uuid/replay"), 404, "trip_not_found", NULL);
    refused(api("/api/trips/00000000-0000-0000-0000-000000000000/replay"), 404, "trip_not_found",
            NULL);
}
END_TEST

START_TEST(roles)
{
    char path[128], tok[96];
    snprintf(path, sizeof path, "/api/trips/%s/replay", trip);
    static const struct {
        const char *role, *scope;
        int status;
    } who[] = {{"officer", NULL, 200},
               {"admin", NULL, 200},
               {"arming", NULL, 403},
               {"partner", "KE", 403},
               {"rru", "U1", 403}};
    for (size_t i = 0; i < sizeof who / sizeof who[0]; i++) {
        snprintf(tok, sizeof tok, "%s", harness_token_create(conninfo, who[i].role, who[i].scope));
        ck_assert_msg(harness_http_as(srv.http_port, tok, "GET", path, NULL, NULL, resp,
                                      sizeof resp) == who[i].status,
                      "%s: %s", who[i].role, resp);
        ck_assert_int_eq(harness_http_as(srv.http_port, tok, "GET", "/api/seals/R1/replay", NULL,
                                         NULL, resp, sizeof resp),
                         who[i].status);
    }
    ck_assert_int_eq(
        harness_http_as(srv.http_port, NULL, "GET", path, NULL, NULL, resp, sizeof resp), 401);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("replay");
    TCase *tc = tcase_create("replay");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, trip_replay);
    tcase_add_test(tc, seal_windows);
    tcase_add_test(tc, roles);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
