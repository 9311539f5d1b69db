/*
 * test_trips.c: the trip rules and the trip API of schema/rules/ (trips.sql, routes.sql,
 * ingest.sql, time.sql), called directly through libpq against a real PostGIS: one test per
 * rule with the exact event sequence expected, the negative cases (GPS jitter on the
 * corridor edge, a stop in an authorised parking, a late fix after a closed condition, a
 * second trip on one seal), every arming refusal, ISO 6346 check digits, and the metric
 * corridor at the equator and at 60 degrees north.
 *
 * The database is created and migrated once (schema_migrate, the code `corridord migrate`
 * runs); each test uses its own seals and trips. Device times are explicit: t0 is a whole
 * second one day ago, and every time below is t0 + seconds.
 * Single-threaded test code.
 */
#include "harness.h"
#include "geofence.h"
#include "schema.h"

#include <check.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DB_NAME "trips_test"

static char conninfo[128];
static PGconn *db;
static long t0;
static long route1, route_border, fence_origin, fence_cp1, fence_cp2, fence_dest, fence_park,
    fence_malaba, fence_busia, fence_ug_origin;

static PGresult *exec_params(const char *sql, int n, const char *const *params)
{
    PGresult *r = PQexecParams(db, sql, n, NULL, params, NULL, NULL, 0);
    ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK || PQresultStatus(r) == PGRES_COMMAND_OK,
                  "%.200s: %.1500s", sql, PQresultErrorMessage(r));
    return r;
}

static long query_long(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static long query_long(const char *fmt, ...)
{
    char sql[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    return harness_query_long(db, sql);
}

/* The first value of a one-row query, copied into out. */
static void query_text(char *out, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void query_text(char *out, size_t n, const char *fmt, ...)
{
    char sql[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    PGresult *r = PQexec(db, sql);
    ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1, "%s: %s", sql,
                  PQresultErrorMessage(r));
    snprintf(out, n, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
}

static long quiet_fixes; /* fixes the batches stored without rule work (regions.sql) */

typedef struct fix {
    long t;                       /* seconds after t0 */
    double lat, lon, speed, batt; /* speed < 0: not reported */
    const char *lock, *alarm;
} fix;

/* One micro-batch of fixes of one seal through corridor.ingest_batch; returns the number
 * of 'incident' rows it answered. */
static int batch(const char *seal, const fix *f, int n)
{
    char cols[11][2048];
    for (int c = 0; c < 11; c++)
        strcpy(cols[c], "{");
    for (int i = 0; i < n; i++) {
        char v[11][64];
        snprintf(v[0], 64, "%s", seal);
        snprintf(v[1], 64, "%ld", t0 + f[i].t);
        snprintf(v[2], 64, "%.7f", f[i].lat);
        snprintf(v[3], 64, "%.7f", f[i].lon);
        if (f[i].speed < 0)
            strcpy(v[4], "NULL"); /* the device did not say */
        else
            snprintf(v[4], 64, "%.1f", f[i].speed);
        strcpy(v[5], "0");
        strcpy(v[6], "0");
        strcpy(v[7], "5");
        snprintf(v[8], 64, "%.1f", f[i].batt);
        snprintf(v[9], 64, "%s", f[i].lock ? f[i].lock : "locked");
        snprintf(v[10], 64, "%s", f[i].alarm ? f[i].alarm : "NULL");
        for (int c = 0; c < 11; c++) {
            if (i)
                strcat(cols[c], ",");
            strcat(cols[c], v[c]);
        }
    }
    const char *params[11];
    for (int c = 0; c < 11; c++) {
        strcat(cols[c], "}");
        params[c] = cols[c];
    }
    PGresult *r = exec_params("SELECT kind, idx, body FROM corridor.ingest_batch($1::text[], "
                              "$2::float8[], $3::float8[], $4::float8[], $5::real[], $6::real[], "
                              "$7::real[], $8::real[], $9::real[], $10::text[], $11::text[])",
                              11, params);
    int incidents = 0;
    for (int i = 0; i < PQntuples(r); i++) {
        ck_assert_str_ne(PQgetvalue(r, i, 0), "reject");
        if (strcmp(PQgetvalue(r, i, 0), "quiet") == 0)
            quiet_fixes += atol(PQgetvalue(r, i, 1));
        if (strcmp(PQgetvalue(r, i, 0), "incident") == 0) {
            ck_assert_msg(strstr(PQgetvalue(r, i, 2), "\"type\" : \"incident\""), "%s",
                          PQgetvalue(r, i, 2));
            incidents++;
        }
    }
    PQclear(r);
    return incidents;
}

/* ---- the ingest worker's way (corridor.ingest_hinted): the same batches through
 * geo_batch with the worker's copy of the safe regions ---- */
static geo_quiet *copy;
static geo_batch *wbatch;
static long hinted_fixes; /* quiet fixes the copy found, as the database confirmed */

static void on_reject(void *arg, int idx, const char *reason)
{
    (void)arg;
    ck_abort_msg("fix %d refused: %s", idx, reason);
}

static void on_quiet(void *arg, int n)
{
    (void)arg;
    quiet_fixes += n;
}

static void on_hinted(void *arg, int n)
{
    (void)arg;
    hinted_fixes += n;
}

/* The fix as the device protocols decode it, to the text batch()'s equal. */
static geo_obs obs_of(const char *seal, const fix *f)
{
    geo_obs o;
    geo_obs_clear(&o);
    snprintf(o.seal_id, sizeof o.seal_id, "%s", seal);
    o.ts_us = (int64_t)(t0 + f->t) * 1000000;
    o.lat = f->lat;
    o.lon = f->lon;
    o.speed_kmh = f->speed < 0 ? NAN : (float)f->speed;
    o.bearing = 0;
    o.altitude = 0;
    o.accuracy = 5;
    o.battery = (float)f->batt;
    snprintf(o.lock, sizeof o.lock, "%s", f->lock ? f->lock : "locked");
    snprintf(o.alarm, sizeof o.alarm, "%s", f->alarm ? f->alarm : "");
    return o;
}

/* One micro-batch of fixes of one seal as an ingest worker sends it: the copy (loaded
 * again first when a batch reported a new generation) sorts out the quiet ones. */
static void batch_worker(const char *seal, const fix *f, int n)
{
    char err[512];
    if (!copy) {
        copy = geo_quiet_new();
        wbatch = geo_batch_new(64);
        ck_assert_ptr_nonnull(copy);
        ck_assert_ptr_nonnull(wbatch);
        ck_assert_msg(geo_prepare(db, err, sizeof err) == 0, "%s", err);
    }
    if (geo_quiet_stale(copy))
        ck_assert_msg(geo_quiet_load(copy, db, err, sizeof err) == 0, "%s", err);
    geo_batch_clear(wbatch);
    for (int i = 0; i < n; i++) {
        geo_obs o = obs_of(seal, &f[i]);
        ck_assert_int_ge(geo_batch_add(wbatch, &o), 0);
    }
    ck_assert_int_eq(geo_batch_send(wbatch, db, copy), 0);
    PGresult *r;
    while ((r = PQgetResult(db))) {
        ck_assert_msg(geo_batch_result(r, wbatch,
                                       &(geo_result_ops){on_reject, NULL, on_quiet, on_hinted},
                                       NULL) == 0,
                      "%s", PQresultErrorMessage(r));
        PQclear(r);
    }
}

/* One fix per batch, as devices report. */
static void track(const char *seal, const fix *f, int n)
{
    for (int i = 0; i < n; i++)
        batch(seal, &f[i], 1);
}

static void seal_new(const char *seal)
{
    const char *p[1] = {seal};
    PQclear(exec_params("INSERT INTO corridor.seals(id, protocol, device_id) "
                        "VALUES ($1, 'osmand', $1)",
                        1, p));
}

/* Calls sql with json $1 and time $2 (t0 + at) and expects an error: checks SQLSTATE,
 * the code before ': ' and, when field is given, the COLUMN field. */
static void expect_error(const char *sql, const char *json, long at, const char *sqlstate,
                         const char *code, const char *field)
{
    char ts[32];
    snprintf(ts, sizeof ts, "%ld", t0 + at);
    const char *p[2] = {json, ts};
    PGresult *r = PQexecParams(db, sql, strstr(sql, "$2") ? 2 : 1, NULL, p, NULL, NULL, 0);
    ck_assert_msg(PQresultStatus(r) == PGRES_FATAL_ERROR, "%s with %s succeeded, wanted %s", sql,
                  json, code);
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
    ck_assert_msg(state && strcmp(state, sqlstate) == 0, "%s: SQLSTATE %s, wanted %s (%s)", json,
                  state, sqlstate, msg);
    size_t cl = strlen(code);
    ck_assert_msg(strncmp(msg, code, cl) == 0 && strncmp(msg + cl, ": ", 2) == 0,
                  "%s: message \"%s\", wanted code %s", json, msg, code);
    if (field) {
        const char *col = PQresultErrorField(r, PG_DIAG_COLUMN_NAME);
        ck_assert_msg(col && strcmp(col, field) == 0, "%s: field %s, wanted %s", code, col, field);
    }
    PQclear(r);
}

#define ARM_SQL "SELECT corridor.trip_arm($1::json, to_timestamp($2::float8))"

/* A reporting, locked seal at the origin at t0 + at - 30, armed at t0 + at on route_id
 * from origin to dest. Returns the trip id (static). */
static const char *arm(const char *seal, long route_id, long origin, long dest, long at, double lat,
                       double lon)
{
    static char id[64];
    char json[512], ts[32];
    fix f = {at - 30, lat, lon, 0, 90, "locked", NULL};
    seal_new(seal);
    batch(seal, &f, 1);
    snprintf(json, sizeof json,
             "{\"seal_id\":\"%s\",\"route_id\":%ld,\"origin_id\":%ld,\"destination_id\":%ld,"
             "\"conveyance\":{\"plate\":\"KBX 123A\",\"container\":\"CSQU3054383\"},"
             "\"declaration\":\"2026MSA1234567\"}",
             seal, route_id, origin, dest);
    snprintf(ts, sizeof ts, "%ld", t0 + at);
    const char *p[2] = {json, ts};
    PGresult *r = exec_params("SELECT j->>'id', j->>'status' FROM corridor.trip_arm($1::json, "
                              "to_timestamp($2::float8)) j",
                              2, p);
    ck_assert_str_eq(PQgetvalue(r, 0, 1), "armed");
    snprintf(id, sizeof id, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    return id;
}

/* The trip's events after arming as "kind@seconds,..." in time order. */
static void events_of(const char *trip, char *out, size_t n)
{
    query_text(out, n,
               "SELECT coalesce(string_agg(kind || '@' || (extract(epoch FROM ts) - %ld)::bigint,"
               " ',' ORDER BY ts, kind), '') FROM corridor.events WHERE trip_id = '%s' "
               "AND kind <> 'trip_armed'",
               t0, trip);
}

#define EXPECT_EVENTS(trip, want)                                                                  \
    do {                                                                                           \
        char got_[4096];                                                                           \
        events_of(trip, got_, sizeof got_);                                                        \
        ck_assert_str_eq(got_, want);                                                              \
    } while (0)

/* Runs the sweep at t0 + at; returns how many incidents it answered for this trip whose
 * JSON contains what (NULL: any). */
static long sweep_count(const char *trip, long at, const char *what)
{
    return query_long("SELECT count(*) FROM corridor.sweep(to_timestamp(%ld)) WHERE body LIKE "
                      "'%%%s%%' AND body LIKE '%%%s%%'",
                      t0 + at, trip, what ? what : "");
}

static long open_incidents(const char *trip, const char *rule)
{
    return query_long("SELECT count(*) FROM corridor.incidents WHERE trip_id = '%s' AND rule = "
                      "'%s' AND status = 'open'",
                      trip, rule);
}

/* metres north of latitude -1 expressed in degrees (WGS 84, 110,575 m per degree there) */
#define NORTH(m) (-1.0 + (m) / 110575.0)

static void suite_setup(void)
{
    snprintf(conninfo, sizeof conninfo, "%s", harness_db_create(DB_NAME));
    db = harness_connect(conninfo);
    char err[1024];
    int rc = schema_migrate(db, err, sizeof err);
    ck_assert_msg(rc > 0, "migrate: %s", err);
    t0 = (long)time(NULL) - 86400;
    /* Route 1: 36E to 37E along 1S (about 111 km), checkpoints at 36.3 and 36.6, a parking
     * lot at 36.45, the destination at 37E. */
    fence_origin = query_long("INSERT INTO corridor.geofences(name, kind, geom) VALUES ('Origin "
                              "office', 'customs_office', ST_Multi(ST_MakeEnvelope(35.99,-1.01,"
                              "36.01,-0.99,4326))) RETURNING id");
    fence_cp1 = query_long("INSERT INTO corridor.geofences(name, kind, geom) VALUES ('CP1', "
                           "'checkpoint', ST_Multi(ST_MakeEnvelope(36.29,-1.01,36.31,-0.99,4326)))"
                           " RETURNING id");
    fence_cp2 = query_long("INSERT INTO corridor.geofences(name, kind, geom) VALUES ('CP2', "
                           "'checkpoint', ST_Multi(ST_MakeEnvelope(36.59,-1.01,36.61,-0.99,4326)))"
                           " RETURNING id");
    fence_dest = query_long("INSERT INTO corridor.geofences(name, kind, geom) VALUES ('Dest ICD', "
                            "'port', ST_Multi(ST_MakeEnvelope(36.99,-1.01,37.01,-0.99,4326))) "
                            "RETURNING id");
    fence_park = query_long("INSERT INTO corridor.geofences(name, kind, geom) VALUES ('Truck "
                            "park', 'parking', ST_Multi(ST_MakeEnvelope(36.445,-1.005,36.455,"
                            "-0.995,4326))) RETURNING id");
    fence_malaba = query_long("INSERT INTO corridor.geofences(name, kind, country, geom) VALUES "
                              "('Malaba', 'border_post', 'KE', ST_Multi(ST_MakeEnvelope(34.26,"
                              "0.626,34.29,0.646,4326))) RETURNING id");
    fence_busia = query_long("INSERT INTO corridor.geofences(name, kind, country, geom) VALUES "
                             "('Busia', 'border_post', 'KE', ST_Multi(ST_MakeEnvelope(34.08,0.45,"
                             "34.10,0.47,4326))) RETURNING id");
    fence_ug_origin = query_long("INSERT INTO corridor.geofences(name, kind, geom) VALUES "
                                 "('Eldoret office', 'customs_office', ST_Multi(ST_MakeEnvelope("
                                 "34.49,0.59,34.51,0.61,4326))) RETURNING id");
    char json[1024], out[8192];
    snprintf(json, sizeof json,
             "{\"name\":\"Nairobi east\",\"geometry\":{\"type\":\"LineString\",\"coordinates\":"
             "[[36,-1],[36.5,-1],[37,-1]]},\"corridor_m\":1000,\"max_transit_minutes\":600,"
             "\"checkpoints\":[{\"geofence_id\":%ld,\"max_leg_minutes\":60},"
             "{\"geofence_id\":%ld,\"max_leg_minutes\":120}]}",
             fence_cp1, fence_cp2);
    query_text(out, sizeof out, "SELECT corridor.route_create('%s')->>'id'", json);
    route1 = atol(out);
    snprintf(json, sizeof json,
             "{\"name\":\"Eldoret - Tororo\",\"geometry\":{\"type\":\"LineString\",\"coordinates\":"
             "[[34.5,0.6],[34.1,0.5],[33.9,0.6]]},\"corridor_m\":30000,\"max_transit_minutes\":900,"
             "\"exit_border_post_id\":%ld}",
             fence_malaba);
    query_text(out, sizeof out, "SELECT corridor.route_create('%s')->>'id'", json);
    route_border = atol(out);
    PQfinish(db);
}

static void setup(void)
{
    db = harness_connect(conninfo);
}

static void teardown(void)
{
    geo_quiet_free(copy);
    geo_batch_free(wbatch);
    copy = NULL;
    wbatch = NULL;
    PQfinish(db);
}

START_TEST(iso6346_check_digits)
{
    const char *good[] = {"CSQU3054383", "MSKU1234565", "csqu 305438-3"};
    const char *bad[] = {"CSQU3054384", "CSQU305438", "CSQX3054383",
                         "1SQU3054383", "",           "MSKU1234566"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        ck_assert_msg(query_long("SELECT corridor.iso6346_valid('%s')::int", good[i]) == 1, "%s",
                      good[i]);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        ck_assert_msg(query_long("SELECT corridor.iso6346_valid('%s')::int", bad[i]) == 0, "%s",
                      bad[i]);
}
END_TEST

START_TEST(arming_refusals)
{
    char json[600];
    const char *conv_ok = "\"conveyance\":{\"plate\":\"KBX 1\",\"container\":\"CSQU3054383\"}";
    /* a seal that reports, locked; one whose lock is open; one silent for an hour */
    seal_new("A1");
    seal_new("A2");
    seal_new("A3");
    fix ok = {-30, -1, 36, 0, 90, "locked", NULL}, open = {-30, -1, 36, 0, 90, "open", NULL},
        old = {-3600, -1, 36, 0, 90, "locked", NULL};
    batch("A1", &ok, 1);
    batch("A2", &open, 1);
    batch("A3", &old, 1);
#define BODY(seal, route, origin, dest, conv, decl)                                                \
    snprintf(                                                                                      \
        json, sizeof json,                                                                         \
        "{\"seal_id\":\"%s\",\"route_id\":%ld,\"origin_id\":%ld,\"destination_id\":%ld,%s%s}",     \
        seal, (long)(route), (long)(origin), (long)(dest), conv, decl)
    const char *decl = ",\"declaration\":\"D-1\"";
    BODY("NOPE", route1, fence_origin, fence_dest, conv_ok, decl);
    expect_error(ARM_SQL, json, 0, "CT422", "seal_not_registered", "seal_id");
    BODY("A1", route1, fence_origin, fence_dest, "\"conveyance\":{\"container\":\"CSQU3054383\"}",
         decl);
    expect_error(ARM_SQL, json, 0, "CT422", "plate_required", "plate");
    BODY("A1", route1, fence_origin, fence_dest,
         "\"conveyance\":{\"plate\":\"KBX 1\",\"container\":\"CSQU3054384\"}", decl);
    expect_error(ARM_SQL, json, 0, "CT422", "container_check_digit", "container");
    BODY("A1", route1, fence_origin, fence_dest,
         "\"conveyance\":{\"plate\":\"KBX 1\",\"container\":\"ABC123\"}", decl);
    expect_error(ARM_SQL, json, 0, "CT422", "container_invalid", "container");
    BODY("A1", route1, fence_origin, fence_dest, "\"conveyance\":{\"plate\":\"KBX 1\"}", decl);
    expect_error(ARM_SQL, json, 0, "CT422", "container_required", "container");
    BODY("A1", route1, fence_origin, fence_dest, conv_ok, "");
    expect_error(ARM_SQL, json, 0, "CT422", "declaration_required", "declaration");
    BODY("A1", 999999, fence_origin, fence_dest, conv_ok, decl);
    expect_error(ARM_SQL, json, 0, "CT422", "route_not_found", "route_id");
    BODY("A1", route1, fence_cp1, fence_dest, conv_ok, decl);
    expect_error(ARM_SQL, json, 0, "CT422", "origin_not_release_point", "origin_id");
    BODY("A1", route1, 999999, fence_dest, conv_ok, decl);
    expect_error(ARM_SQL, json, 0, "CT422", "origin_not_found", "origin_id");
    BODY("A1", route1, fence_origin, 999999, conv_ok, decl);
    expect_error(ARM_SQL, json, 0, "CT422", "destination_not_found", "destination_id");
    expect_error(ARM_SQL, "{\"seal_id\":\"A1\"}", 0, "CT422", "route_id_required", "route_id");
    expect_error(ARM_SQL, "[1]", 0, "CT422", "invalid_request", NULL);
    BODY("A2", route1, fence_origin, fence_dest, conv_ok, decl);
    expect_error(ARM_SQL, json, 0, "CT409", "seal_not_locked", "seal_id");
    BODY("A3", route1, fence_origin, fence_dest, conv_ok, decl);
    expect_error(ARM_SQL, json, 0, "CT409", "seal_not_reporting", "seal_id");
    /* nothing was stored by any refusal */
    ck_assert_int_eq(query_long("SELECT count(*) FROM corridor.trips WHERE seal_id LIKE 'A%%'"), 0);
    /* the first arming of A1 succeeds, the second is refused: two trips on one seal */
    BODY("A1", route1, fence_origin, fence_dest, conv_ok, decl);
    char ts[32];
    snprintf(ts, sizeof ts, "%ld", t0);
    const char *p[2] = {json, ts};
    PGresult *r = exec_params("SELECT j->>'status', extract(epoch FROM (j->>'deadline')::"
                              "timestamptz)::bigint, j->>'id' FROM corridor.trip_arm($1::json, "
                              "to_timestamp($2::float8)) j",
                              2, p);
    ck_assert_str_eq(PQgetvalue(r, 0, 0), "armed");
    ck_assert_int_eq(atol(PQgetvalue(r, 0, 1)), t0 + 600 * 60); /* arming + max transit */
    ck_assert_int_eq(strlen(PQgetvalue(r, 0, 2)), 36);
    PQclear(r);
    expect_error(ARM_SQL, json, 10, "CT409", "seal_on_active_trip", "seal_id");
    ck_assert_int_eq(query_long("SELECT count(*) FROM corridor.trips WHERE seal_id = 'A1'"), 1);
}
END_TEST

START_TEST(route_validation)
{
    const char *sql = "SELECT corridor.route_create($1::json)";
    expect_error(sql,
                 "{\"name\":\"x\",\"geometry\":{\"type\":\"Point\",\"coordinates\":[1,2]},"
                 "\"corridor_m\":100,\"max_transit_minutes\":10}",
                 0, "CT422", "geometry_invalid", "geometry");
    expect_error(sql,
                 "{\"name\":\"x\",\"geometry\":{\"type\":\"LineString\",\"coordinates\":[[1,2],"
                 "[1.1,2]]},\"corridor_m\":0,\"max_transit_minutes\":10}",
                 0, "CT422", "corridor_m_invalid", "corridor_m");
    expect_error(sql,
                 "{\"name\":\"x\",\"geometry\":{\"type\":\"LineString\",\"coordinates\":[[1,2],"
                 "[1.1,2]]},\"corridor_m\":100,\"max_transit_minutes\":-5}",
                 0, "CT422", "max_transit_minutes_invalid", "max_transit_minutes");
    expect_error(sql,
                 "{\"name\":\"x\",\"geometry\":{\"type\":\"LineString\",\"coordinates\":[[1,2],"
                 "[1.1,2]]},\"corridor_m\":100,\"max_transit_minutes\":10,\"checkpoints\":"
                 "[{\"geofence_id\":987654}]}",
                 0, "CT422", "checkpoint_not_found", "checkpoints");
    expect_error(sql, "{\"geometry\":null}", 0, "CT422", "name_required", "name");
    ck_assert_int_eq(query_long("SELECT json_array_length(corridor.route_list())"), 2);
}
END_TEST

START_TEST(route_deviation_and_return)
{
    const char *trip = arm("D1", route1, fence_origin, fence_dest, 0, -1, 36.0);
    fix f[] = {
        {60, -1.0, 36.005, 60, 90, NULL, NULL},         /* on the route */
        {120, NORTH(2200), 36.010, 60, 90, NULL, NULL}, /* 2.2 km off: run starts */
        {150, NORTH(2300), 36.015, 60, 90, NULL, NULL}, /* 2 fixes but 30 s: within grace */
        {200, NORTH(2300), 36.020, 60, 90, NULL, NULL}, /* 3 fixes, 80 s: deviation */
        {260, NORTH(2400), 36.025, 60, 90, NULL, NULL}, /* still out: nothing new */
        {330, -1.0, 36.030, 60, 90, NULL, NULL},        /* back: route_return */
    };
    track("D1", f, 6);
    EXPECT_EVENTS(trip, "route_deviation@200,route_return@330");
    ck_assert_int_eq(open_incidents(trip, "route_deviation"), 1);
    /* evidence: distance in metres, since when, how many fixes */
    ck_assert_int_eq(query_long("SELECT round((details->>'distance_m')::numeric)::int / 100 FROM "
                                "corridor.events WHERE trip_id = '%s' AND kind = "
                                "'route_deviation'",
                                trip),
                     23);
    ck_assert_int_eq(query_long("SELECT (details->>'observations_outside')::int FROM "
                                "corridor.events WHERE trip_id = '%s' AND kind = "
                                "'route_deviation'",
                                trip),
                     3);
    ck_assert_int_eq(query_long("SELECT extract(epoch FROM (details->>'outside_since')::"
                                "timestamptz)::bigint - %ld FROM corridor.events WHERE trip_id = "
                                "'%s' AND kind = 'route_deviation'",
                                t0, trip),
                     120);
    ck_assert_int_eq(query_long("SELECT count(*) FROM corridor.incidents WHERE trip_id = '%s' AND "
                                "severity = 'high' AND subject = '%s'",
                                trip, trip),
                     1);
}
END_TEST

START_TEST(jitter_on_the_corridor_edge_is_no_deviation)
{
    const char *trip = arm("J1", route1, fence_origin, fence_dest, 0, -1, 36.0);
    fix f[12];
    for (int i = 0; i < 12; i++) {
        /* alternately 950 m (inside) and 1050 m (outside) north of the 1000 m corridor's axis */
        f[i] = (fix){60 + i * 30, NORTH(i % 2 ? 1050 : 950), 36.0 + i * 0.002, 50, 90, NULL, NULL};
    }
    track("J1", f, 12);
    /* every other fix really is outside */
    ck_assert_int_eq(query_long("SELECT count(*) FROM corridor.positions p, corridor.routes r "
                                "WHERE p.seal_id = 'J1' AND r.id = %ld AND p.ts > to_timestamp(%ld)"
                                " AND p.ts < to_timestamp(%ld) AND NOT ST_DWithin(r.geog, "
                                "ST_MakePoint(p.lon, p.lat)::geography, 1000)",
                                route1, t0 + 30, t0 + 415),
                     6);
    /* and two quick outliers in a row (within 60 s) are still within the grace */
    fix g[] = {{420, NORTH(950), 36.024, 50, 90, NULL, NULL},
               {440, NORTH(1500), 36.025, 50, 90, NULL, NULL},
               {460, NORTH(1500), 36.026, 50, 90, NULL, NULL},
               {500, NORTH(950), 36.027, 50, 90, NULL, NULL}};
    track("J1", g, 4);
    EXPECT_EVENTS(trip, "");
    ck_assert_int_eq(
        query_long("SELECT count(*) FROM corridor.incidents WHERE trip_id = '%s'", trip), 0);
}
END_TEST

START_TEST(late_observation_does_not_reopen)
{
    const char *trip = arm("L1", route1, fence_origin, fence_dest, 0, -1, 36.0);
    fix f[] = {{100, NORTH(3000), 36.05, 60, 90, NULL, NULL},
               {200, NORTH(3000), 36.06, 60, 90, NULL, NULL},
               {300, -1.0, 36.07, 60, 90, NULL, NULL},
               {400, -1.0, 36.08, 60, 90, NULL, NULL}};
    track("L1", f, 4);
    EXPECT_EVENTS(trip, "route_deviation@200,route_return@300");
    /* the officer resolves the incident; then late fixes from inside the closed deviation
     * (and one re-sent) arrive, in one batch and one by one */
    harness_exec(db, "UPDATE corridor.incidents SET status = 'resolved' WHERE rule = "
                     "'route_deviation' AND seal_id = 'L1'");
    fix late[] = {{250, NORTH(3500), 36.065, 60, 5, "open", "tampering"},
                  {350, NORTH(3500), 36.075, 60, 5, NULL, NULL}};
    batch("L1", late, 2);
    track("L1", late, 2);
    EXPECT_EVENTS(trip, "route_deviation@200,route_return@300");
    ck_assert_int_eq(query_long("SELECT count(*) FROM corridor.incidents WHERE trip_id = '%s' AND "
                                "status = 'open'",
                                trip),
                     0);
    ck_assert_int_eq(query_long("SELECT count(*) FROM corridor.positions WHERE seal_id = 'L1' "
                                "AND late"),
                     2);
    ck_assert_int_eq(query_long("SELECT deviating::int FROM corridor.trip_state WHERE seal_id = "
                                "'L1'"),
                     0);
}
END_TEST

START_TEST(checkpoints_in_order_then_arrival)
{
    const char *trip = arm("C1", route1, fence_origin, fence_dest, 0, -1, 36.0);
    fix f[] = {{1200, -1.0, 36.2, 60, 90, NULL, NULL}, {1800, -1.0, 36.3, 60, 90, NULL, NULL},
               {2400, -1.0, 36.4, 60, 90, NULL, NULL}, {3600, -1.0, 36.6, 60, 90, NULL, NULL},
               {4800, -1.0, 36.8, 60, 90, NULL, NULL}, {6000, -1.0, 37.0, 10, 90, NULL, NULL}};
    track("C1", f, 6);
    EXPECT_EVENTS(trip, "checkpoint_passed@1800,checkpoint_passed@3600,destination_arrival@6000");
    ck_assert_int_eq(query_long("SELECT count(*) FROM corridor.checkpoint_passages WHERE trip_id ="
                                " '%s' AND in_order",
                                trip),
                     2);
    ck_assert_int_eq(
        query_long("SELECT count(*) FROM corridor.incidents WHERE trip_id = '%s'", trip), 0);
    /* the report lists both checkpoints with their times */
    ck_assert_int_eq(query_long("SELECT extract(epoch FROM (corridor.trip_report('%s')->"
                                "'checkpoints'->1->>'passed_at')::timestamptz)::bigint - %ld",
                                trip, t0),
                     3600);
    /* disarm inside the destination */
    char out[512];
    query_text(out, sizeof out, "SELECT corridor.trip_disarm('%s', to_timestamp(%ld))->>'status'",
               trip, t0 + 6100);
    ck_assert_str_eq(out, "disarmed");
    ck_assert_int_eq(query_long("SELECT count(*) FROM corridor.trip_state WHERE seal_id = 'C1'"),
                     0);
}
END_TEST

START_TEST(checkpoint_skipped_then_out_of_order)
{
    const char *trip = arm("C2", route1, fence_origin, fence_dest, 0, -1, 36.0);
    /* jumps over CP1 (sparse reporting), reaches CP2, goes back to CP1, then arrives */
    fix f[] = {{1200, -1.0, 36.2, 60, 90, NULL, NULL},
               {3000, -1.0, 36.6, 60, 90, NULL, NULL},
               {4800, -1.0, 36.3, 60, 90, NULL, NULL},
               {9000, -1.0, 37.0, 60, 90, NULL, NULL}};
    track("C2", f, 4);
    EXPECT_EVENTS(trip, "checkpoint_passed@3000,checkpoint_skipped@3000,"
                        "checkpoint_out_of_order@4800,destination_arrival@9000");
    char out[256];
    query_text(out, sizeof out,
               "SELECT details->>'skipped' FROM corridor.events WHERE trip_id = "
               "'%s' AND kind = 'checkpoint_skipped'",
               trip);
    ck_assert_str_eq(out, "[1]");
    ck_assert_int_eq(open_incidents(trip, "checkpoint_skipped"), 1);
    ck_assert_int_eq(query_long("SELECT event_count FROM corridor.incidents WHERE trip_id = '%s' "
                                "AND rule = 'checkpoint_skipped'",
                                trip),
                     2);
    /* a trip that goes straight to the destination skips both */
    const char *trip2 = arm("C3", route1, fence_origin, fence_dest, 0, -1, 36.0);
    fix g[] = {{20000, -1.0, 37.0, 20, 90, NULL, NULL}};
    track("C3", g, 1);
    EXPECT_EVENTS(trip2, "checkpoint_skipped@20000,destination_arrival@20000");
    query_text(out, sizeof out,
               "SELECT details->>'skipped' FROM corridor.events WHERE trip_id = "
               "'%s' AND kind = 'checkpoint_skipped'",
               trip2);
    ck_assert_str_eq(out, "[1, 2]");
}
END_TEST

START_TEST(leg_overdue_at_passage_and_by_sweep)
{
    /* CP1's leg is 60 minutes: passing it after 90 is overdue */
    const char *trip = arm("G1", route1, fence_origin, fence_dest, 0, -1, 36.0);
    fix f[] = {{2700, -1.0, 36.15, 60, 90, NULL, NULL}, {5400, -1.0, 36.3, 60, 90, NULL, NULL}};
    track("G1", f, 2);
    EXPECT_EVENTS(trip, "checkpoint_passed@5400,leg_overdue@5400");
    /* the sweep sees the next leg (120 min to CP2) run out, once */
    fix g[] = {{5400 + 7000, -1.0, 36.45, 60, 90, NULL, NULL}};
    track("G1", g, 1);
    ck_assert_int_eq(sweep_count(trip, 5400 + 7300, "\"leg_overdue\""), 1);
    ck_assert_int_eq(sweep_count(trip, 5400 + 7300, NULL), 0);
    EXPECT_EVENTS(trip, "checkpoint_passed@5400,leg_overdue@5400,leg_overdue@12700");
    ck_assert_int_eq(open_incidents(trip, "leg_overdue"), 1);
}
END_TEST

START_TEST(transit_overdue_and_signal_loss_by_sweep)
{
    const char *trip = arm("T1", route1, fence_origin, fence_dest, 0, -1, 36.0);
    fix f[] = {{600, -1.0, 36.1, 60, 90, NULL, NULL}};
    track("T1", f, 1);
    /* 14 minutes of silence: nothing; 16: signal loss, once */
    ck_assert_int_eq(sweep_count(trip, 600 + 14 * 60, NULL), 0);
    ck_assert_int_eq(sweep_count(trip, 600 + 16 * 60, "signal_loss"), 1);
    ck_assert_int_eq(sweep_count(trip, 600 + 20 * 60, NULL), 0);
    fix g[] = {{600 + 21 * 60, -1.0, 36.2, 60, 90, NULL, NULL},
               {35990, -1.0, 36.25, 60, 90, NULL, NULL}};
    track("T1", g, 2);
    /* deadline is 600 minutes after arming; not at the destination by then */
    ck_assert_int_eq(sweep_count(trip, 36000 - 10, "leg_overdue"), 1); /* CP1: 60 min */
    ck_assert_int_eq(sweep_count(trip, 36000 + 60, "transit_overdue"), 1);
    ck_assert_int_eq(sweep_count(trip, 36000 + 120, NULL), 0);
    EXPECT_EVENTS(trip, "signal_loss@1560,signal_restored@1860,leg_overdue@35990,"
                        "transit_overdue@36060");
    ck_assert_int_eq(open_incidents(trip, "signal_loss"), 1);
    ck_assert_int_eq(open_incidents(trip, "transit_overdue"), 1);
}
END_TEST

START_TEST(unauthorised_stop_and_parking)
{
    const char *trip = arm("P1", route1, fence_origin, fence_dest, 0, -1, 36.0);
    /* stationary (under 5 km/h, within 200 m) from 600 s on, outside any parking */
    fix f[8];
    for (int i = 0; i < 8; i++)
        f[i] = (fix){600 + i * 300, -1.0 + (i % 2) * 0.0005, 36.1, i ? 1 : 2, 90, NULL, NULL};
    track("P1", f, 8);
    /* 30 minutes after the first stationary fix (600 + 1800 = 2400) */
    EXPECT_EVENTS(trip, "unauthorised_stop@2400");
    ck_assert_int_eq(open_incidents(trip, "unauthorised_stop"), 1);
    ck_assert_int_eq(query_long("SELECT round((details->>'minutes')::numeric) FROM corridor.events"
                                " WHERE trip_id = '%s' AND kind = 'unauthorised_stop'",
                                trip),
                     30);
    /* the same stop inside the truck park raises nothing */
    const char *trip2 = arm("P2", route1, fence_origin, fence_dest, 0, -1, 36.0);
    fix g[10];
    for (int i = 0; i < 10; i++)
        g[i] = (fix){2400 + i * 300, -1.0 + (i % 2) * 0.0005, 36.45, 0, 90, NULL, NULL};
    track("P2", g, 10);
    ck_assert_int_eq(sweep_count(trip2, 2400 + 9 * 300 + 60, "unauthorised_stop"), 0);
    /* no stop; only the sweep's note that the 60-minute leg to CP1 ran out */
    EXPECT_EVENTS(trip2, "leg_overdue@5160");
    /* a seal that stops and then reports rarely: the sweep sees the stop */
    const char *trip3 = arm("P3", route1, fence_origin, fence_dest, 0, -1, 36.0);
    fix h[] = {{600, -1.0, 36.12, 0, 90, NULL, NULL}, {720, -1.0, 36.12, 0, 90, NULL, NULL}};
    track("P3", h, 2);
    ck_assert_int_eq(sweep_count(trip3, 600 + 31 * 60, "unauthorised_stop"), 1);
    EXPECT_EVENTS(trip3, "signal_loss@2460,unauthorised_stop@2460");
}
END_TEST

START_TEST(seal_opened_tampered_low_battery)
{
    const char *trip = arm("S1", route1, fence_origin, fence_dest, 0, -1, 36.0);
    fix f[] = {{60, -1.0, 36.01, 50, 50, NULL, NULL},
               {120, -1.0, 36.02, 50, 15, NULL, NULL},          /* low battery */
               {180, -1.0, 36.03, 50, 10, NULL, NULL},          /* still low: nothing new */
               {240, -1.0, 36.04, 50, 10, "open", "tampering"}, /* both at once */
               {300, -1.0, 36.05, 50, 10, "open", NULL}};
    for (int i = 0; i < 5; i++) {
        int n = batch("S1", &f[i], 1);
        if (i == 3)
            ck_assert_int_eq(n, 2); /* the batch answers both incidents at once */
    }
    EXPECT_EVENTS(trip, "low_battery@120,seal_opened@240,seal_tampered@240");
    ck_assert_int_eq(query_long("SELECT count(*) FROM corridor.incidents WHERE trip_id = '%s' AND "
                                "rule IN ('seal_opened', 'seal_tampered') AND severity = "
                                "'critical'",
                                trip),
                     2);
    ck_assert_int_eq(open_incidents(trip, "low_battery"), 1);
}
END_TEST

START_TEST(impossible_movement)
{
    const char *trip = arm("M1", route1, fence_origin, fence_dest, 0, -1, 36.0);
    /* 100 km/h is fine; then 50 km in 60 s (3,000 km/h) is not */
    fix f[] = {{600, -1.0, 36.15, 100, 90, NULL, NULL},
               {660, -1.0, 36.6 - 0.1, 100, 90, NULL, NULL}};
    track("M1", f, 2);
    EXPECT_EVENTS(trip, "impossible_movement@660");
    ck_assert_int_eq(query_long("SELECT (details->>'implied_kmh')::numeric::int / 100 FROM "
                                "corridor.events WHERE trip_id = '%s' AND kind = "
                                "'impossible_movement'",
                                trip),
                     23);
}
END_TEST

START_TEST(border_crossing_and_undeclared_exit)
{
    /* declared exit: Malaba. Trip B1 leaves Kenya at Malaba, B2 at Busia. */
    const char *trip = arm("B1", route_border, fence_ug_origin, fence_busia, 0, 0.6, 34.5);
    fix f[] = {{1800, 0.636, 34.30, 40, 90, NULL, NULL}, {2400, 0.636, 34.20, 40, 90, NULL, NULL}};
    track("B1", f, 2);
    EXPECT_EVENTS(trip, "border_crossing@2400");
    char out[256];
    query_text(out, sizeof out,
               "SELECT string_agg(l.country || '/' || coalesce(g.name, '-'), ',' "
               "ORDER BY entered_at) FROM corridor.trip_legs l LEFT JOIN "
               "corridor.geofences g ON g.id = l.entry_post_id WHERE trip_id = "
               "'%s'",
               trip);
    ck_assert_str_eq(out, "KE/-,UG/Malaba");
    ck_assert_int_eq(query_long("SELECT extract(epoch FROM exited_at)::bigint - %ld FROM "
                                "corridor.trip_legs WHERE trip_id = '%s' AND country = 'KE'",
                                t0, trip),
                     2400);

    const char *trip2 = arm("B2", route_border, fence_ug_origin, fence_busia, 0, 0.6, 34.5);
    fix g[] = {{1800, 0.46, 34.14, 40, 90, NULL, NULL}, {2400, 0.46, 34.05, 40, 90, NULL, NULL}};
    track("B2", g, 2);
    EXPECT_EVENTS(trip2, "border_crossing@2400,undeclared_border_exit@2400");
    query_text(out, sizeof out,
               "SELECT details->>'border_post' FROM corridor.events WHERE trip_id "
               "= '%s' AND kind = 'undeclared_border_exit'",
               trip2);
    ck_assert_str_eq(out, "Busia");
    ck_assert_int_eq(query_long("SELECT count(*) FROM corridor.incidents WHERE trip_id = '%s' AND "
                                "rule = 'undeclared_border_exit' AND severity = 'critical'",
                                trip2),
                     1);
}
END_TEST

START_TEST(disarm_outside_destination_is_refused_with_incident)
{
    const char *trip = arm("X1", route1, fence_origin, fence_dest, 0, -1, 36.0);
    char out[2048];
    query_text(out, sizeof out, "SELECT corridor.trip_disarm('%s', to_timestamp(%ld))", trip,
               t0 + 60);
    ck_assert_msg(strstr(out, "\"refused\" : true") && strstr(out, "disarm_outside_destination") &&
                      strstr(out, "\"type\" : \"incident\""),
                  "%s", out);
    ck_assert_int_eq(open_incidents(trip, "disarm_outside_destination"), 1);
    ck_assert_int_eq(query_long("SELECT count(*) FROM corridor.trips WHERE id = '%s' AND status ="
                                " 'armed'",
                                trip),
                     1);
    fix f[] = {{7200, -1.0, 37.0, 5, 90, NULL, NULL}};
    track("X1", f, 1);
    query_text(out, sizeof out, "SELECT corridor.trip_disarm('%s', to_timestamp(%ld))->>'status'",
               trip, t0 + 7300);
    ck_assert_str_eq(out, "disarmed");
    char id[64];
    snprintf(id, sizeof id, "%s", trip);
    expect_error("SELECT corridor.trip_disarm($1::uuid, to_timestamp($2::float8))", id, 7400,
                 "CT409", "trip_not_armed", NULL);
    expect_error("SELECT corridor.trip_disarm($1::uuid, to_timestamp($2::float8))",
                 "6f1c2a4e-8d1b-4c55-9a0e-000000000000", 0, "CT404", "trip_not_found", NULL);
    expect_error("SELECT corridor.trip_get($1::uuid) WHERE $2::text IS NOT NULL",
                 "6f1c2a4e-8d1b-4c55-9a0e-000000000000", 0, "CT404", "trip_not_found", NULL);
    /* once disarmed, the seal may be armed again */
    EXPECT_EVENTS(trip,
                  "disarm_outside_destination@60,checkpoint_skipped@7200,destination_arrival@7200,"
                  "trip_disarmed@7300");
}
END_TEST

START_TEST(trip_views)
{
    const char *trip = arm("V1", route1, fence_origin, fence_dest, 0, -1, 36.0);
    fix f[] = {{600, -1.0, 36.1, 60, 90, NULL, NULL},
               {1200, -1.0, 36.2, 60, 90, NULL, NULL},
               {1800, -1.0, 36.3, 60, 90, NULL, NULL}};
    track("V1", f, 3);
    ck_assert_int_eq(query_long("SELECT json_array_length(corridor.trip_get('%s')->'track'->"
                                "'coordinates')",
                                trip),
                     3);
    ck_assert_int_eq(
        query_long("SELECT json_array_length(corridor.trip_get('%s')->'checkpoints')", trip), 2);
    ck_assert_int_eq(query_long("SELECT (corridor.trip_get('%s')->'route'->'corridor'->>'type' = "
                                "'Polygon')::int",
                                trip),
                     1);
    ck_assert_int_eq(query_long("SELECT count(*) FROM json_array_elements(corridor.trip_list()) e"
                                " WHERE e->>'id' = '%s' AND e->'latest'->>'lat' IS NOT NULL",
                                trip),
                     1);
    ck_assert_int_eq(
        query_long("SELECT json_array_length(corridor.trip_report('%s')->'legs')", trip), 1);
    fix g[] = {{2400, -1.0, 36.35, 0, 90, NULL, NULL},
               {2700, -1.0, 36.35, 0, 90, NULL, NULL},
               {3000, -1.0, 36.35, 1, 90, NULL, NULL},
               {3300, -1.0, 36.45, 60, 90, NULL, NULL}};
    track("V1", g, 4);
    ck_assert_int_eq(query_long("SELECT (corridor.trip_report('%s')->'stops'->0->>'minutes')::"
                                "numeric",
                                trip),
                     10);
}
END_TEST

/* Compares the bracketed corridor test with the exact spheroidal ST_DWithin on 4,000 points
 * around a route at the given latitude, and checks points just inside and just outside the
 * corridor north of the axis and east of its end (where longitude degrees shrink). */
static void corridor_at_latitude(double lat)
{
    char json[512], out[64];
    snprintf(json, sizeof json,
             "{\"name\":\"lat %.0f\",\"geometry\":{\"type\":\"LineString\",\"coordinates\":"
             "[[10,%.1f],[10.5,%.2f],[11,%.1f]]},\"corridor_m\":1000,\"max_transit_minutes\":60}",
             lat, lat, lat + 0.05, lat);
    query_text(out, sizeof out, "SELECT corridor.route_create('%s')->>'id'", json);
    long id = atol(out);
    ck_assert_int_eq(query_long("SELECT count(*) FROM corridor.routes r, LATERAL (SELECT "
                                "ST_Project(ST_LineInterpolatePoint(r.geom, random())::geography,"
                                " 400 + random() * 1200, random() * 2 * pi())::geometry g "
                                "FROM generate_series(1, 4000)) p WHERE r.id = %ld AND "
                                "corridor.in_corridor(r.geom_s, r.scale, r.inner_deg, r.outer_deg,"
                                " r.geog, r.corridor_m, ST_Y(p.g), ST_X(p.g)) <> "
                                "ST_DWithin(r.geog, p.g::geography, 1000)",
                                id),
                     0);
    double dist[] = {990, 1010};
    double az[] = {180, 90}; /* south of the first vertex; east of the last */
    for (int k = 0; k < 2; k++)
        for (int d = 0; d < 2; d++) {
            long inside = query_long(
                "SELECT corridor.in_corridor(r.geom_s, r.scale, r.inner_deg, r.outer_deg, r.geog, "
                "r.corridor_m, ST_Y(x.p), ST_X(x.p))::int FROM corridor.routes r, LATERAL (SELECT "
                "ST_Project(ST_PointN(r.geom, %d)::geography, %f, radians(%f))::geometry AS p) x "
                "WHERE r.id = %ld",
                k ? 3 : 1, dist[d], az[k], id);
            ck_assert_msg(inside == (d == 0), "lat %.0f azimuth %.0f distance %.0f: inside=%ld",
                          lat, az[k], dist[d], inside);
        }
    /* the band that needs the exact test is thin: under 2% of the corridor */
    ck_assert_int_eq(query_long("SELECT ((outer_deg - inner_deg) / outer_deg < 0.02)::int FROM "
                                "corridor.routes WHERE id = %ld",
                                id),
                     1);
}

START_TEST(metric_corridor_at_the_equator_and_60_north)
{
    corridor_at_latitude(0.0);
    corridor_at_latitude(60.0);
}
END_TEST

/* ---- safe regions (schema/rules/regions.sql) ------------------------------------------
 * A quiet fix is stored without rule work; that must never change what the rules decide.
 * Two seals drive the same long track on the same route, in the same batches: Q with safe
 * regions (the default), F with every fix evaluated in full (SET corridor.safe_regions =
 * off). Their events, incidents, trip state, fence state and stored fixes must be equal,
 * and most of Q's fixes must have been quiet (else this compares nothing). */

#define DRIVE_MAX 2000

/* Route 1 from the origin to the destination in 167 m steps every 10 s, with every kind of
 * trouble on the way: checkpoint 1, 20 minutes in the truck park, a deviation 2.8 km north
 * and back, an unauthorised stop, a tamper alarm, the seal opened and closed, fixes
 * without speed, the battery running down, a jump of 5 km in 10 s, checkpoint 2 skipped
 * on the deviation's side, then the destination. */
static int drive_route1(fix *f)
{
    int n = 0;
    long t = 100;
    double batt = 95;
#define ADD(LAT, LON, SPEED, LOCK, ALARM)                                                          \
    do {                                                                                           \
        ck_assert_int_lt(n, DRIVE_MAX);                                                            \
        f[n++] = (fix){t, (LAT), (LON), (SPEED), batt, (LOCK), (ALARM)};                           \
        t += 10;                                                                                   \
        batt -= 0.1;                                                                               \
    } while (0)
    double lon = 36.0;
    for (; lon < 36.445; lon += 0.0015)
        ADD(-1.0, lon, 60, NULL, NULL);
    for (int i = 0; i < 120; i++) /* parked (authorised): 20 minutes */
        ADD(-1.0, 36.45, i % 7 ? 0 : 2, NULL, NULL);
    for (lon = 36.456; lon < 36.58; lon += 0.0015)
        ADD(-1.0, lon, 60, NULL, NULL);
    double lat = -1.0; /* off the road to the north, around checkpoint 2, and back */
    for (; lat < -0.975; lat += 0.0015, lon += 0.001)
        ADD(lat, lon, 50, NULL, NULL);
    for (int i = 0; i < 30; i++, lon += 0.0015)
        ADD(lat, lon, 50, NULL, NULL);
    for (; lat > -1.0; lat -= 0.0015, lon += 0.001)
        ADD(lat, lon, 50, NULL, NULL);
    for (; lon < 36.75; lon += 0.0015)
        ADD(-1.0, lon, 60, NULL, NULL);
    for (int i = 0; i < 300; i++) /* stopped on the road for 50 minutes */
        ADD(-1.0, 36.75 + (i % 3) * 0.00001, 1, NULL, NULL);
    for (lon = 36.751; lon < 36.9; lon += 0.0015) {
        int k = (int)((lon - 36.751) / 0.0015);
        ADD(-1.0, lon, k % 11 == 5 ? -1 : 60, k >= 40 && k < 44 ? "open" : NULL,
            k == 60 ? "tampering" : NULL);
    }
    lon = 36.95; /* 5.5 km in 10 s */
    for (; lon < 37.0; lon += 0.0015)
        ADD(-1.0, lon, 60, NULL, NULL);
#undef ADD
    return n;
}

/* Route 1 at speed from 36.44E into the truck park (36.445E) and through it, 7 s apart. */
static int drive_into_park(fix *f)
{
    int n = 0;
    long t = 100;
    for (double lon = 36.44; lon < 36.46; lon += 0.0011, t += 7) {
        ck_assert_int_lt(n, DRIVE_MAX);
        f[n++] = (fix){t, -1.0, lon, 60, 90, NULL, NULL};
    }
    return n;
}

/* Route 1 from 36.7E, drifting north 100 m a fix out of the 1,000 m corridor and back: the
 * safe disc is left again and again, first for places inside the corridor, then for places
 * outside it (a deviation, then the return). */
static int drive_off_corridor(fix *f)
{
    int n = 0;
    long t = 100;
    double lat = -1.0, lon = 36.7;
    for (int k = 0; k < 60; k++, t += 10, lon += 0.0011) {
        ck_assert_int_lt(n, DRIVE_MAX);
        f[n++] = (fix){t, lat, lon, 60, 90, NULL, NULL};
        lat += k < 10 ? 0 : k < 30 ? 0.0009 : k < 50 ? -0.0009 : 0;
    }
    return n;
}

/* The border route: Eldoret towards Tororo over the Malaba crossing, in steps of about
 * 0.0015 degrees along the route's line. */
static int drive_border(fix *f)
{
    static const double pts[][2] = {{34.5, 0.6}, {34.1, 0.5}, {33.9, 0.6}};
    int n = 0;
    long t = 100;
    for (int s = 0; s < 2; s++) {
        double dx = pts[s + 1][0] - pts[s][0], dy = pts[s + 1][1] - pts[s][1];
        int steps = (int)(sqrt(dx * dx + dy * dy) / 0.0015);
        for (int k = 0; k < steps; k++, t += 10) {
            ck_assert_int_lt(n, DRIVE_MAX);
            f[n++] = (fix){
                t, pts[s][1] + dy * k / steps, pts[s][0] + dx * k / steps, 55, 80, NULL, NULL};
        }
    }
    return n;
}

enum how { QUIET, FULL, WORKER };

/* Sends the fixes of seal in batches of 1, 2, 3, 5, 1, 8, ... fixes: QUIET as
 * corridor.ingest_batch (safe regions), FULL with every fix evaluated in full (safe
 * regions off on this connection), WORKER as an ingest worker does (its copy of the
 * regions, corridor.ingest_hinted). */
static void drive(const char *seal, const fix *f, int n, enum how how)
{
    static const int sizes[] = {1, 2, 3, 5, 1, 8, 1, 1, 4};
    if (how == FULL)
        harness_exec(db, "SET corridor.safe_regions = off");
    for (int i = 0, k = 0; i < n; k++) {
        int m = sizes[k % (sizeof sizes / sizeof *sizes)];
        if (m > n - i)
            m = n - i;
        if (how == WORKER)
            batch_worker(seal, f + i, m);
        else
            batch(seal, f + i, m);
        i += m;
    }
    if (how == FULL)
        harness_exec(db, "RESET corridor.safe_regions");
}

/* What the rules decided for seal a and seal b differs in this many rows (both ways). */
static long outcome_diff(const char *a, const char *b)
{
    char sql[4096];
    /* events (fence events carry no trip; delay_s is the wall clock's), incidents, trip
     * state without the anchor of the implied speed (last_*: quiet fixes leave it behind),
     * fence state, stored fixes */
    snprintf(sql, sizeof sql,
             "WITH o AS ("
             " SELECT e.seal_id, 'e' || e.kind || e.ts || e.lat || e.lon || "
             "        coalesce(e.fence_id, 0) || (e.details - 'trip_id' - 'delay_s') AS x "
             "        FROM corridor.events e"
             " UNION ALL SELECT n.seal_id, 'i' || n.rule || n.status || n.opened_at || "
             "        n.event_count || n.lat || n.lon FROM corridor.incidents n"
             " UNION ALL SELECT s.seal_id, 's' || s.out_count || s.deviating || "
             "        coalesce(s.out_since::text, '-') || coalesce(s.stop_since::text, '-') || "
             "        s.stop_ok || s.stop_raised || s.next_seq || s.leg_started_at || "
             "        s.leg_overdue_seq || s.skipped::text || coalesce(s.country, '-') || "
             "        s.sealopen || s.tampered || s.lowbatt || s.signal_lost || "
             "        coalesce(s.arrived_at::text, '-') FROM corridor.trip_state s"
             " UNION ALL SELECT f.seal_id, 'f' || f.fence_id || f.entered_at "
             "        FROM corridor.fence_state f"
             " UNION ALL SELECT p.seal_id, 'p' || p.ts || p.lat || p.lon || p.late "
             "        FROM corridor.positions p"
             " UNION ALL SELECT l.seal_id, 'l' || l.ts || l.lat || l.lon FROM corridor.latest l)"
             "SELECT count(*) FROM ((SELECT x FROM o WHERE seal_id = '%s' EXCEPT ALL "
             "                       SELECT x FROM o WHERE seal_id = '%s')"
             "                      UNION ALL (SELECT x FROM o WHERE seal_id = '%s' EXCEPT ALL "
             "                                 SELECT x FROM o WHERE seal_id = '%s')) d",
             a, b, b, a);
    return query_long("%s", sql);
}

/* Drives the same fixes as quiet (safe regions on), through the worker's copy, and as full
 * (off); the rows in which quiet or worker differ from full. */
static long drive_all(const char *quiet, const char *worker, const char *full, const fix *f, int n)
{
    drive(quiet, f, n, QUIET);
    drive(worker, f, n, WORKER);
    drive(full, f, n, FULL);
    return outcome_diff(quiet, full) + outcome_diff(worker, full);
}

static void same_outcome(const char *quiet, const char *worker, const char *full,
                         int (*track_of)(fix *), long route, long origin, long dest, double lat,
                         double lon)
{
    static fix f[DRIVE_MAX];
    int n = track_of(f);
    arm(quiet, route, origin, dest, 0, lat, lon);
    arm(worker, route, origin, dest, 0, lat, lon);
    arm(full, route, origin, dest, 0, lat, lon);
    long before = quiet_fixes;
    drive(quiet, f, n, QUIET);
    long quiet_n = quiet_fixes - before;
    drive(full, f, n, FULL);
    ck_assert_int_eq(quiet_fixes - before, quiet_n); /* none quiet with safe regions off */
    /* stopped and parked fixes are never quiet: a third of the track is */
    ck_assert_msg(quiet_n > n / 3 && quiet_n < n, "%ld of %d fixes quiet", quiet_n, n);
    long diff = outcome_diff(quiet, full);
    ck_assert_msg(diff == 0, "%s and %s differ in %ld rows", quiet, full, diff);
    /* the worker's way: as many quiet, most of them found by the copy, the same outcome */
    before = quiet_fixes;
    long hinted_before = hinted_fixes;
    drive(worker, f, n, WORKER);
    ck_assert_int_eq(quiet_fixes - before, quiet_n);
    ck_assert_msg(hinted_fixes - hinted_before > quiet_n / 2, "%ld of %ld quiet fixes by the copy",
                  hinted_fixes - hinted_before, quiet_n);
    diff = outcome_diff(worker, full);
    ck_assert_msg(diff == 0, "%s and %s differ in %ld rows", worker, full, diff);
    /* and the comparison sees something: events of many kinds */
    ck_assert_int_ge(query_long("SELECT count(DISTINCT kind) FROM corridor.events WHERE "
                                "seal_id = '%s'",
                                quiet),
                     3);
}

START_TEST(safe_regions_change_no_outcome)
{
    same_outcome("SRQ1", "SRW1", "SRF1", drive_route1, route1, fence_origin, fence_dest, -1, 36.0);
    char kinds[1024];
    query_text(kinds, sizeof kinds,
               "SELECT string_agg(DISTINCT kind, ',') FROM corridor.events WHERE seal_id = 'SRQ1'");
    const char *want[] = {"checkpoint_passed",   "checkpoint_skipped", "route_deviation",
                          "route_return",        "unauthorised_stop",  "seal_tampered",
                          "seal_opened",         "low_battery",        "impossible_movement",
                          "destination_arrival", "fence_enter",        "fence_exit"};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        ck_assert_msg(strstr(kinds, want[i]), "no %s in %s", want[i], kinds);
    same_outcome("SRQ2", "SRW2", "SRF2", drive_border, route_border, fence_ug_origin, fence_busia,
                 0.6, 34.5);
    ck_assert_int_ge(query_long("SELECT count(*) FROM corridor.events WHERE seal_id = 'SRQ2' "
                                "AND kind = 'border_crossing'"),
                     1);
}
END_TEST

/* Where regions are small and change often, safe regions still change nothing: into and
 * through a parking at speed, on a trip (stop_ok true in the parking, false after) and on
 * no trip (fence events, fence state); drifting out of the corridor and back (the deviation
 * and the return, out_count, out_since); and a step from 890 m off the road to 1,020 m,
 * past the corridor's inner bound, which counts towards a deviation. */
START_TEST(safe_regions_near_edges_change_no_outcome)
{
    static fix f[DRIVE_MAX];
    int n = drive_into_park(f);
    for (int with_trip = 1; with_trip >= 0; with_trip--) {
        const char *q = with_trip ? "FSQ1" : "FSQ0", *full = with_trip ? "FSF1" : "FSF0",
                   *wk = with_trip ? "FSW1" : "FSW0";
        if (with_trip) {
            arm(q, route1, fence_origin, fence_dest, 0, -1.0, 36.44);
            arm(wk, route1, fence_origin, fence_dest, 0, -1.0, 36.44);
            arm(full, route1, fence_origin, fence_dest, 0, -1.0, 36.44);
        } else {
            seal_new(q);
            seal_new(wk);
            seal_new(full);
        }
        for (int half = 0; half < 2; half++) {
            /* into the parking, then out of it */
            int from = half ? 7 : 0, to = half ? n : 7;
            long before = quiet_fixes;
            long diff = drive_all(q, wk, full, f + from, to - from);
            ck_assert_msg(quiet_fixes - before >= 1, "%s: nothing quiet", q);
            ck_assert_msg(diff == 0, "%s or %s and %s differ in %ld rows", q, wk, full, diff);
            if (with_trip)
                ck_assert_int_eq(query_long("SELECT stop_ok::int FROM corridor.trip_state "
                                            "WHERE seal_id = '%s'",
                                            q),
                                 half ? 0 : 1);
        }
        ck_assert_int_eq(query_long("SELECT count(*) FROM corridor.events WHERE seal_id = '%s' "
                                    "AND fence_id = %ld",
                                    q, fence_park),
                         2);
    }
    n = drive_off_corridor(f);
    arm("FSQ2", route1, fence_origin, fence_dest, 0, -1.0, 36.7);
    arm("FSW2", route1, fence_origin, fence_dest, 0, -1.0, 36.7);
    arm("FSF2", route1, fence_origin, fence_dest, 0, -1.0, 36.7);
    long before = quiet_fixes;
    long diff = drive_all("FSQ2", "FSW2", "FSF2", f, n);
    ck_assert_int_ge(quiet_fixes - before, 3);
    ck_assert_msg(diff == 0, "FSQ2 or FSW2 and FSF2 differ in %ld rows", diff);
    ck_assert_int_eq(query_long("SELECT count(*) FROM corridor.events WHERE seal_id = 'FSQ2' "
                                "AND kind IN ('route_deviation', 'route_return')"),
                     2);
    static const fix edge[] = {{100, -0.992, 36.7, 60, 90, NULL, NULL},
                               {110, -0.9908, 36.7011, 60, 90, NULL, NULL}};
    arm("FSQ3", route1, fence_origin, fence_dest, 0, -0.992, 36.7);
    arm("FSW3", route1, fence_origin, fence_dest, 0, -0.992, 36.7);
    arm("FSF3", route1, fence_origin, fence_dest, 0, -0.992, 36.7);
    diff = drive_all("FSQ3", "FSW3", "FSF3", edge, 2);
    ck_assert_msg(diff == 0, "FSQ3 or FSW3 and FSF3 differ in %ld rows", diff);
    ck_assert_int_eq(query_long("SELECT out_count FROM corridor.trip_state "
                                "WHERE seal_id = 'FSQ3'"),
                     1);
}
END_TEST

/* A seal quiet on its road (one fix a batch, as QUIET or WORKER); a restricted zone is
 * drawn just ahead of it: the next fix inside it is evaluated and raises the incident. The
 * worker's copy: the batch that meets the zone is refused the fast path (its generation is
 * old), and the copy is loaded again and used from the next batch on. */
static void new_zone_ahead(const char *seal, const char *zone, enum how how)
{
    static fix f[40];
    arm(seal, route1, fence_origin, fence_dest, 0, -1, 36.0);
    for (int i = 0; i < 40; i++)
        f[i] = (fix){100 + 10 * i, -1.0, 36.05 + 0.0015 * i, 60, 90, NULL, NULL};
    long before = quiet_fixes, hinted = hinted_fixes;
    for (int i = 0; i < 20; i++)
        drive(seal, &f[i], 1, how);
    ck_assert_int_ge(quiet_fixes - before, 15);
    if (how == WORKER)
        ck_assert_int_ge(hinted_fixes - hinted, 15);
    query_long("INSERT INTO corridor.geofences(name, kind, geom) VALUES ('%s', "
               "'restricted', ST_Multi(ST_Buffer(ST_SetSRID(ST_MakePoint(%.7f, -1.0), 4326), "
               "0.0005))) RETURNING id",
               zone, f[22].lon);
    hinted = hinted_fixes;
    for (int i = 20; i < 40; i++)
        drive(seal, &f[i], 1, how);
    ck_assert_int_eq(query_long("SELECT count(*) FROM corridor.incidents WHERE seal_id = '%s' "
                                "AND rule = 'restricted_zone_entry'",
                                seal),
                     1);
    ck_assert_int_eq(query_long("SELECT count(*) FROM corridor.events WHERE seal_id = '%s' AND "
                                "kind = 'fence_enter' AND ts = to_timestamp(%ld)",
                                seal, t0 + f[22].t),
                     1);
    if (how == WORKER)
        ck_assert_int_ge(hinted_fixes - hinted, 10);
    const char *params[] = {zone};
    PQclear(
        exec_params("UPDATE corridor.geofences SET deleted_at = now() WHERE name = $1", 1, params));
}

START_TEST(safe_region_yields_to_a_new_fence)
{
    new_zone_ahead("SRN", "New zone", QUIET);
}
END_TEST

START_TEST(worker_copy_yields_to_a_new_fence)
{
    new_zone_ahead("SRWN", "New zone W", WORKER);
}
END_TEST

/* Another writer between the worker's batches (a second worker the device reconnected to):
 * a newer fix moves the seal's latest row, a late fix renews its region without moving it.
 * The worker's copy is out of date both times: its next batch is refused the fast path and
 * goes through the database's own test, and the outcome is that of full evaluation. */
START_TEST(worker_copy_out_of_date_changes_no_outcome)
{
    static fix f[21];
    arm("SRWO", route1, fence_origin, fence_dest, 0, -1, 36.0);
    arm("SRFO", route1, fence_origin, fence_dest, 0, -1, 36.0);
    for (int i = 0; i < 20; i++)
        f[i] = (fix){100 + 10 * i, -1.0, 36.05 + 0.0015 * i, 60, 90, NULL, NULL};
    f[20] = (fix){155, -1.0, 36.05 + 0.0015 * 5.5, 60, 90, NULL, NULL}; /* late */
    static const int order[] = {0,  1,  2,  3,   4,  5,  6,  7,  8,  9, -10,
                                11, 12, 13, -20, 14, 15, 16, 17, 18, 19};
    for (size_t k = 0; k < sizeof order / sizeof *order; k++) {
        int i = order[k] < 0 ? -order[k] : order[k];
        drive("SRFO", &f[i], 1, FULL);
        long q = quiet_fixes, h = hinted_fixes;
        if (order[k] < 0) { /* the other writer */
            batch("SRWO", &f[i], 1);
            continue;
        }
        batch_worker("SRWO", &f[i], 1);
        /* the copy finds the fix quiet, the database refuses it the fast path: after the
         * newer fix its newest fix is another, after the late one its region version */
        if (k > 0 && order[k - 1] < 0)
            ck_assert_int_eq(hinted_fixes - h, 0);
        if (i == 11) /* and its own test finds it quiet */
            ck_assert_int_eq(quiet_fixes - q, 1);
    }
    ck_assert_int_ge(hinted_fixes, 12);
    long diff = outcome_diff("SRWO", "SRFO");
    ck_assert_msg(diff == 0, "SRWO and SRFO differ in %ld rows", diff);
    ck_assert_int_eq(query_long("SELECT count(*) FROM corridor.positions WHERE seal_id = 'SRWO' "
                                "AND late"),
                     1);
}
END_TEST

/* The worker's clearance disc (geofence/geo_quiet.c): once the copy has found a fix's fences
 * to be the region's, later fixes within the distance to the nearest fence boundary skip
 * GEOS. A seal (no trip) drives along the middle of a grid cell, 44 m a fix, towards a small
 * zone in the same cell: the disc must end at the zone's boundary, not the cell's edge. */
START_TEST(worker_copy_clearance_ends_at_a_fence)
{
    query_long("INSERT INTO corridor.geofences(name, kind, geom) VALUES ('Cell zone', "
               "'restricted', ST_Multi(ST_Buffer(ST_SetSRID(ST_MakePoint(36.127, -0.995), 4326), "
               "0.0008, 16))) RETURNING id");
    static fix f[30];
    for (int i = 0; i < 30; i++)
        f[i] = (fix){100 + 10 * i, -0.995, 36.1205 + 0.0004 * i, 60, 90, NULL, NULL};
    seal_new("SRWC");
    seal_new("SRFC");
    long before = hinted_fixes;
    for (int i = 0; i < 30; i++) {
        batch_worker("SRWC", &f[i], 1);
        drive("SRFC", &f[i], 1, FULL);
    }
    ck_assert_int_ge(hinted_fixes - before, 10);
    long diff = outcome_diff("SRWC", "SRFC");
    ck_assert_msg(diff == 0, "SRWC and SRFC differ in %ld rows", diff);
    ck_assert_int_eq(query_long("SELECT count(*) FROM corridor.events e JOIN corridor.geofences g "
                                "ON g.id = e.fence_id WHERE e.seal_id = 'SRWC' AND "
                                "g.name = 'Cell zone' AND e.kind IN ('fence_enter', 'fence_exit')"),
                     2);
    harness_exec(db, "UPDATE corridor.geofences SET deleted_at = now() WHERE name = 'Cell zone'");
}
END_TEST

START_TEST(safe_region_keeps_impossible_movement)
{
    /* on the border route the corridor is 30 km wide and safe regions are large: a jump of
     * 1.3 km in 10 s stays inside one, and is still an impossible movement */
    static fix f[40];
    arm("SRJ", route_border, fence_ug_origin, fence_busia, 0, 0.6, 34.5);
    for (int i = 0; i < 40; i++) {
        double k = i < 20 ? i : i + 8;
        f[i] = (fix){100 + 10 * i, 0.6 - 0.00036 * k, 34.5 - 0.00146 * k, 55, 80, NULL, NULL};
    }
    long before = quiet_fixes;
    track("SRJ", f, 40);
    ck_assert_int_ge(quiet_fixes - before, 30);
    ck_assert_int_eq(query_long("SELECT count(*) FROM corridor.events WHERE seal_id = 'SRJ' AND "
                                "kind = 'impossible_movement' AND ts = to_timestamp(%ld)",
                                t0 + f[20].t),
                     1);
}
END_TEST

START_TEST(quiet_position_message_matches_the_database)
{
    /* a quiet fix's position message is written by the ingest worker from its batch
     * (geo_position_json); it must say what corridor.position_json says */
    geo_obs o[3];
    for (int i = 0; i < 3; i++)
        geo_obs_clear(&o[i]);
    snprintf(o[0].seal_id, sizeof o[0].seal_id, "LD-SEAL-000123");
    o[0].ts_us = 1795000000123000LL;
    o[0].lat = 0.5608321;
    o[0].lon = 33.852938;
    o[0].speed_kmh = 60;
    o[0].bearing = 92.5f;
    o[0].battery = 80;
    snprintf(o[0].lock, sizeof o[0].lock, "locked");
    snprintf(o[1].seal_id, sizeof o[1].seal_id, "a \"quoted\" \\ seal");
    o[1].ts_us = 1795000001000000LL;
    o[1].lat = -4.0434771;
    o[1].lon = -0.0000001;
    snprintf(o[1].alarm, sizeof o[1].alarm, "tampering");
    snprintf(o[2].seal_id, sizeof o[2].seal_id, "S3");
    o[2].ts_us = 0;
    o[2].lat = 90;
    o[2].lon = -180;
    o[2].speed_kmh = 0.5f;
    for (int i = 0; i < 3; i++) {
        char json[1024], ts[32], lat[32], lon[32], speed[32], bearing[32], batt[32];
        geo_position_json(&o[i], json, sizeof json);
        snprintf(ts, sizeof ts, "%.6f", o[i].ts_us / 1e6);
        snprintf(lat, sizeof lat, "%.7f", o[i].lat);
        snprintf(lon, sizeof lon, "%.7f", o[i].lon);
        snprintf(speed, sizeof speed, "%.1f", o[i].speed_kmh);
        snprintf(bearing, sizeof bearing, "%.1f", o[i].bearing);
        snprintf(batt, sizeof batt, "%.1f", o[i].battery);
        const char *p[10] = {json,
                             o[i].seal_id,
                             ts,
                             lat,
                             lon,
                             isnan(o[i].speed_kmh) ? NULL : speed,
                             isnan(o[i].bearing) ? NULL : bearing,
                             isnan(o[i].battery) ? NULL : batt,
                             *o[i].lock ? o[i].lock : NULL,
                             *o[i].alarm ? o[i].alarm : NULL};
        PGresult *r = PQexecParams(
            db,
            "SELECT ($1::jsonb = corridor.position_json($2, to_timestamp($3::float8), $4, $5, $6, "
            "$7, $8, $9, $10)::jsonb)::int, corridor.position_json($2, to_timestamp($3::float8), "
            "$4, $5, $6, $7, $8, $9, $10)",
            10, NULL, p, NULL, NULL, 0);
        ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s", PQresultErrorMessage(r));
        ck_assert_msg(strcmp(PQgetvalue(r, 0, 0), "1") == 0, "worker: %s\ndatabase: %s", json,
                      PQgetvalue(r, 0, 1));
        PQclear(r);
    }
}
END_TEST

/* One TCase per rule family (schema/rules/), so one family runs alone:
 * CK_RUN_CASE=regions build-test/tests/test_trips (docs/testing.md). */
static TCase *family(Suite *s, const char *name)
{
    TCase *tc = tcase_create(name);
    tcase_add_unchecked_fixture(tc, suite_setup, NULL);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);
    return tc;
}

static Suite *trips_suite(void)
{
    Suite *s = suite_create("trips");
    TCase *tc = family(s, "trips"); /* trips.sql: arming, disarming, the trip's views */
    tcase_add_test(tc, iso6346_check_digits);
    tcase_add_test(tc, arming_refusals);
    tcase_add_test(tc, disarm_outside_destination_is_refused_with_incident);
    tcase_add_test(tc, trip_views);
    tc = family(s, "routes"); /* routes.sql and the corridor rule of ingest_evaluate */
    tcase_add_test(tc, route_validation);
    tcase_add_test(tc, route_deviation_and_return);
    tcase_add_test(tc, jitter_on_the_corridor_edge_is_no_deviation);
    tcase_add_test(tc, metric_corridor_at_the_equator_and_60_north);
    tc = family(s, "ingest"); /* ingest.sql: the per-fix rules */
    tcase_add_test(tc, late_observation_does_not_reopen);
    tcase_add_test(tc, seal_opened_tampered_low_battery);
    tcase_add_test(tc, impossible_movement);
    tcase_add_test(tc, border_crossing_and_undeclared_exit);
    tcase_add_test(tc, checkpoints_in_order_then_arrival);
    tcase_add_test(tc, checkpoint_skipped_then_out_of_order);
    tc = family(s, "time"); /* time.sql: the sweep */
    tcase_add_test(tc, leg_overdue_at_passage_and_by_sweep);
    tcase_add_test(tc, transit_overdue_and_signal_loss_by_sweep);
    tcase_add_test(tc, unauthorised_stop_and_parking);
    tc = family(s, "regions"); /* regions.sql and the worker's copy of them */
    tcase_add_test(tc, safe_regions_change_no_outcome);
    tcase_add_test(tc, safe_regions_near_edges_change_no_outcome);
    tcase_add_test(tc, safe_region_yields_to_a_new_fence);
    tcase_add_test(tc, safe_region_keeps_impossible_movement);
    tcase_add_test(tc, worker_copy_yields_to_a_new_fence);
    tcase_add_test(tc, worker_copy_out_of_date_changes_no_outcome);
    tcase_add_test(tc, worker_copy_clearance_ends_at_a_fence);
    tcase_add_test(tc, quiet_position_message_matches_the_database);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(trips_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
