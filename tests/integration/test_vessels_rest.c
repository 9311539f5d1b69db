/*
 * test_vessels_rest.c: vessels, the watchlist and the AIS feeds through REST
 * (web/rest_vessels.c) against the real corridord, and corridor-sim's AIS mode
 * (sim/ais_feed.c) feeding it: every endpoint with its answers and errors, then ten
 * simulated ships over the real AIS port with two of them watched first, checked through
 * REST and SQL: stored vessels, the watched one's track, and the ais_gap and rendezvous
 * incidents the sweeper and the ingest path open.
 */
#include "harness.h"

#include <check.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static harness_server srv;
static PGconn *db;
static char resp[1 << 20];

static void setup(void)
{
    const char *conninfo = harness_db_create("vesselsui_rest");
    harness_server_start(&srv, conninfo, "--workers", "1", "--sweep-interval", "1", NULL);
    db = harness_connect(conninfo);
}

static void teardown(void)
{
    PQfinish(db);
    ck_assert_int_eq(harness_server_stop(&srv, 0), 0);
}

/* One request; the body is parsed into *out (the caller puts it) when out is not NULL. */
static int call(const char *method, const char *path, const char *body, json_object **out)
{
    int st = harness_http(srv.http_port, method, path, body ? "application/json" : NULL, body, resp,
                          sizeof resp);
    if (out) {
        *out = json_tokener_parse(resp);
        ck_assert_msg(*out != NULL, "%s %s: not JSON: %s", method, path, resp);
    }
    return st;
}

static const char *str(json_object *o, const char *key)
{
    json_object *v;
    return json_object_object_get_ex(o, key, &v) && v ? json_object_get_string(v) : NULL;
}

static long num(json_object *o, const char *key)
{
    json_object *v;
    ck_assert_msg(json_object_object_get_ex(o, key, &v) && v, "no %s in %s", key,
                  json_object_to_json_string(o));
    return (long)json_object_get_int64(v);
}

/* Asserts an error answer: status, error code and (when given) field. */
static void expect_error(const char *method, const char *path, const char *body, int status,
                         const char *code, const char *field)
{
    json_object *o;
    int st = call(method, path, body, &o);
    ck_assert_msg(st == status, "%s %s: %d, want %d: %s", method, path, st, status, resp);
    ck_assert_msg(str(o, "error") && strcmp(str(o, "error"), code) == 0, "%s %s: error %s, want %s",
                  method, path, resp, code);
    ck_assert_msg(str(o, "detail") && strlen(str(o, "detail")) > 5, "no detail: %s", resp);
    ck_assert_msg(!strstr(str(o, "detail"), code), "detail repeats the code: %s", resp);
    if (field)
        ck_assert_msg(str(o, "field") && strcmp(str(o, "field"), field) == 0,
                      "%s %s: field %s, want %s", method, path, resp, field);
    json_object_put(o);
}

/* Index of the array element whose "mmsi" is mmsi, -1 if none. */
static int find_mmsi(json_object *arr, long mmsi)
{
    ck_assert(json_object_is_type(arr, json_type_array));
    for (size_t i = 0; i < json_object_array_length(arr); i++)
        if (num(json_object_array_get_idx(arr, i), "mmsi") == mmsi)
            return (int)i;
    return -1;
}

/* A vessel heard over the ingest function itself: position, speed and static data. */
static void seed_vessel(void)
{
    harness_exec(db, "SELECT count(*) FROM corridor.ingest_vessels("
                     "ARRAY[636012345, 244123456]::bigint[],"
                     " ARRAY[extract(epoch FROM now()), extract(epoch FROM now())]::float8[],"
                     " ARRAY[1, 1], ARRAY[-4.5, -3.9]::float8[], ARRAY[40.2, 39.9]::float8[],"
                     " ARRAY[12.3, 0.5]::real[], ARRAY[271.5, 10]::real[], ARRAY[271, 10],"
                     " ARRAY[0, 0], ARRAY['EVER GIVEN', NULL], ARRAY['H3RC', NULL],"
                     " ARRAY[9321483, NULL]::int[], ARRAY[70, NULL]::int[],"
                     " ARRAY['MOMBASA', NULL], ARRAY[NULL, NULL]::text[],"
                     " ARRAY[9.5, NULL]::real[])");
}

START_TEST(every_endpoint_and_error)
{
    json_object *o, *a;
    seed_vessel();

    /* ---- GET /api/vessels ---- */
    ck_assert_int_eq(call("GET", "/api/vessels", NULL, &a), 200);
    ck_assert_int_eq((int)json_object_array_length(a), 2);
    int i = find_mmsi(a, 636012345);
    ck_assert_int_ge(i, 0);
    o = json_object_array_get_idx(a, (size_t)i);
    ck_assert_str_eq(str(o, "type"), "vessel");
    ck_assert_str_eq(str(o, "name"), "EVER GIVEN");
    ck_assert_str_eq(str(o, "callsign"), "H3RC");
    ck_assert_int_eq(num(o, "imo"), 9321483);
    ck_assert_str_eq(str(o, "destination"), "MOMBASA");
    ck_assert_str_eq(str(o, "watched"), "false");
    json_object_put(a);

    ck_assert_int_eq(call("GET", "/api/vessels?bbox=40,-5,41,-4", NULL, &a), 200);
    ck_assert_int_eq((int)json_object_array_length(a), 1);
    ck_assert_int_eq(find_mmsi(a, 636012345), 0);
    json_object_put(a);
    ck_assert_int_eq(call("GET", "/api/vessels?bbox=0,0,1,1", NULL, NULL), 200);
    ck_assert_str_eq(resp, "[]");
    ck_assert_int_eq(call("GET", "/api/vessels?since=2000-01-01T00:00:00Z", NULL, &a), 200);
    ck_assert_int_eq((int)json_object_array_length(a), 2);
    json_object_put(a);
    ck_assert_int_eq(call("GET", "/api/vessels?since=2100-01-01T00:00:00Z", NULL, NULL), 200);
    ck_assert_str_eq(resp, "[]");
    expect_error("GET", "/api/vessels?bbox=39,-5,41", NULL, 422, "invalid_bbox", NULL);
    expect_error("GET", "/api/vessels?bbox=a,b,c,d", NULL, 422, "invalid_bbox", NULL);
    expect_error("GET", "/api/vessels?bbox=41,-5,39,-3", NULL, 422, "invalid_bbox", "bbox");
    expect_error("GET", "/api/vessels?bbox=39,-95,41,-3", NULL, 422, "invalid_bbox", "bbox");
    expect_error("GET", "/api/vessels?since=yesterday-ish", NULL, 422, "invalid_since", NULL);
    expect_error("GET", "/api/vessels?since=", NULL, 422, "invalid_since", NULL);

    /* ---- GET /api/vessels/{mmsi} ---- */
    ck_assert_int_eq(call("GET", "/api/vessels/636012345", NULL, &o), 200);
    ck_assert_int_eq(num(o, "mmsi"), 636012345);
    ck_assert_ptr_null(str(o, "track")); /* not watched: no history */
    json_object *w0;
    ck_assert(json_object_object_get_ex(o, "watch", &w0));
    ck_assert_int_eq((int)json_object_array_length(w0), 0);
    json_object_put(o);
    expect_error("GET", "/api/vessels/123456789", NULL, 404, "vessel_not_found", "mmsi");
    expect_error("GET", "/api/vessels/abc", NULL, 404, "vessel_not_found", NULL);
    expect_error("GET", "/api/vessels/0", NULL, 404, "vessel_not_found", NULL);
    expect_error("GET", "/api/vessels/1234567890", NULL, 404, "vessel_not_found", NULL);
    expect_error("GET", "/api/vessels/636012345?since=never", NULL, 422, "invalid_since", NULL);

    /* ---- POST /api/watchlist ---- */
    const char *entry = "{\"mmsi\": 636012345, \"declaration\": \"KE-2026-0042\","
                        " \"reason\": \"risk profile: undervalued electronics\","
                        " \"actor\": \"someone else\"}";
    ck_assert_int_eq(call("POST", "/api/watchlist", entry, &o), 201);
    long id = num(o, "id");
    ck_assert_int_gt(id, 0);
    ck_assert_int_eq(num(o, "mmsi"), 636012345);
    ck_assert_str_eq(str(o, "declaration"), "KE-2026-0042");
    ck_assert_str_eq(str(o, "actor"), "admin:admin"); /* the caller's token, not the body */
    ck_assert_str_eq(str(o, "active"), "true");
    json_object_put(o);
    expect_error("POST", "/api/watchlist", entry, 409, "already_watched", NULL);
    ck_assert_int_eq(call("POST", "/api/watchlist",
                          "{\"imo\": 9321483, \"declaration\": \"KE-2026-0043\", \"reason\": "
                          "\"second declaration\", \"port\": \"Mombasa\"}",
                          &o),
                     201);
    long id_imo = num(o, "id");
    ck_assert_int_eq(num(o, "imo"), 9321483);
    json_object_put(o);
    expect_error("POST", "/api/watchlist", "{\"declaration\": \"D\", \"reason\": \"R\"}", 422,
                 "mmsi_or_imo_required", "mmsi");
    expect_error("POST", "/api/watchlist",
                 "{\"mmsi\": 1234567890, \"declaration\": \"D\", \"reason\": \"R\"}", 422,
                 "invalid_mmsi", "mmsi");
    expect_error("POST", "/api/watchlist",
                 "{\"mmsi\": \"636012345\", \"declaration\": \"D\", \"reason\": \"R\"}", 422,
                 "invalid_mmsi", "mmsi");
    expect_error("POST", "/api/watchlist",
                 "{\"imo\": 9321484, \"declaration\": \"D\", \"reason\": \"R\"}", 422,
                 "invalid_imo", "imo");
    expect_error("POST", "/api/watchlist", "{\"mmsi\": 244123456, \"reason\": \"R\"}", 422,
                 "declaration_required", "declaration");
    expect_error("POST", "/api/watchlist",
                 "{\"mmsi\": 244123456, \"declaration\": \"D\", \"reason\": \"  \"}", 422,
                 "reason_required", "reason");
    expect_error("POST", "/api/watchlist",
                 "{\"mmsi\": 244123456, \"declaration\": \"D\", \"reason\": \"R\", \"port\": 5}",
                 422, "invalid_port", "port");
    expect_error("POST", "/api/watchlist",
                 "{\"mmsi\": 244123456, \"declaration\": \"D\", \"reason\": \"R\","
                 " \"port_fence_id\": 999}",
                 422, "unknown_port_fence", "port_fence_id");
    expect_error("POST", "/api/watchlist", "[1, 2]", 400, "malformed_json", NULL);
    expect_error("POST", "/api/watchlist", "{\"mmsi\": ", 400, "malformed_json", NULL);
    expect_error("POST", "/api/watchlist", "{} x", 400, "malformed_json", NULL);
    expect_error("POST", "/api/watchlist", NULL, 400, "empty_body", NULL);

    /* watched now: flagged in the list and first */
    ck_assert_int_eq(call("GET", "/api/vessels", NULL, &a), 200);
    ck_assert_int_eq(find_mmsi(a, 636012345), 0);
    ck_assert_str_eq(str(json_object_array_get_idx(a, 0), "watched"), "true");
    json_object_put(a);
    ck_assert_int_eq(call("GET", "/api/vessels/636012345", NULL, &o), 200);
    json_object *watch;
    ck_assert(json_object_object_get_ex(o, "watch", &watch));
    ck_assert_int_eq((int)json_object_array_length(watch), 2);
    json_object_put(o);

    /* ---- GET /api/watchlist ---- */
    ck_assert_int_eq(call("GET", "/api/watchlist", NULL, &a), 200);
    ck_assert_int_eq((int)json_object_array_length(a), 2);
    ck_assert_int_eq(num(json_object_array_get_idx(a, 0), "id"), id_imo); /* newest first */
    json_object_put(a);
    expect_error("GET", "/api/watchlist?all=maybe", NULL, 400, "bad_query", NULL);

    /* ---- DELETE /api/watchlist/{id} ---- */
    char path[64];
    snprintf(path, sizeof path, "/api/watchlist/%ld", id);
    ck_assert_int_eq(call("DELETE", path, NULL, &o), 200);
    ck_assert_int_eq(num(o, "id"), id);
    ck_assert_str_eq(str(o, "active"), "false");
    ck_assert_str_eq(str(o, "stopped_by"), "admin:admin");
    ck_assert_ptr_nonnull(str(o, "stopped_at"));
    json_object_put(o);
    expect_error("DELETE", path, NULL, 409, "watch_stopped", NULL);
    expect_error("DELETE", "/api/watchlist/987654", NULL, 404, "watch_not_found", "id");
    expect_error("DELETE", "/api/watchlist/x1", NULL, 404, "watch_not_found", NULL);
    ck_assert_int_eq(call("GET", "/api/watchlist", NULL, &a), 200);
    ck_assert_int_eq((int)json_object_array_length(a), 1);
    json_object_put(a);
    ck_assert_int_eq(call("GET", "/api/watchlist?all=1", NULL, &a), 200);
    ck_assert_int_eq((int)json_object_array_length(a), 2);
    json_object_put(a);
    ck_assert_int_eq(harness_query_long(db, "SELECT count(*) FROM corridor.watchlist WHERE "
                                            "stopped_by = 'admin:admin' AND actor = 'admin:admin'"),
                     1);

    /* ---- wrong methods ---- */
    ck_assert_int_eq(call("PUT", "/api/watchlist", "{}", NULL), 405);
    ck_assert_int_eq(call("DELETE", "/api/vessels/636012345", NULL, NULL), 405);

    /* ---- GET /api/feeds ---- */
    ck_assert_int_eq(call("GET", "/api/feeds", NULL, &a), 200);
    ck_assert(json_object_is_type(a, json_type_array));
    int tcp = 0;
    for (size_t k = 0; k < json_object_array_length(a); k++) {
        json_object *f = json_object_array_get_idx(a, k);
        tcp += str(f, "kind") && strcmp(str(f, "kind"), "listen_tcp") == 0;
    }
    ck_assert_int_eq(tcp, 1);
    json_object_put(a);
}
END_TEST

/* Polls sql until it returns at least want, for up to secs seconds; returns the last value. */
static long wait_for(const char *sql, long want, int secs)
{
    long v = -1;
    for (int i = 0; i < secs * 10; i++) {
        v = harness_query_long(db, sql);
        if (v >= want)
            break;
        usleep(100000);
    }
    return v;
}

static pid_t start_sim(int seconds)
{
    const char *build = getenv("CORRIDOR_BUILD");
    ck_assert(build != NULL);
    char exe[512], ais[64], dur[16], log[600];
    snprintf(exe, sizeof exe, "%s/corridor-sim", build);
    snprintf(ais, sizeof ais, "127.0.0.1:%d", srv.ais_port);
    snprintf(dur, sizeof dur, "%d", seconds);
    snprintf(log, sizeof log, "%s/test-logs/sim-ais-%d.log", build, (int)getpid());
    pid_t pid = fork();
    ck_assert(pid >= 0);
    if (pid == 0) {
        if (!freopen(log, "w", stdout) || dup2(fileno(stdout), 2) < 0)
            _exit(126);
        execl(exe, exe, "ais", "--ais", ais, "--speedup", "600", "--duration", dur, (char *)NULL);
        _exit(127);
    }
    return pid;
}

START_TEST(simulated_feed_stores_vessels_and_opens_incidents)
{
    json_object *o;
    /* the server judges with its own clock and the thresholds are whole minutes: the
     * smallest ones keep the run near a minute (the simulator compresses the sea 600x) */
    harness_exec(db, "UPDATE corridor.vessel_settings SET ais_gap_minutes = 1, "
                     "rendezvous_minutes = 1");
    /* ARABIAN STAR (goes dark) and SEA NYMPH (meets OCEAN PRIDE) watched first */
    ck_assert_int_eq(call("POST", "/api/watchlist",
                          "{\"mmsi\": 538007711, \"declaration\": \"KE-2026-0101\","
                          " \"reason\": \"tanker with a risky declaration\"}",
                          NULL),
                     201);
    ck_assert_int_eq(call("POST", "/api/watchlist",
                          "{\"imo\": 9412050, \"declaration\": \"KE-2026-0102\","
                          " \"reason\": \"fuel declared at half the market price\","
                          " \"port\": \"Mombasa\"}",
                          NULL),
                     201);
    time_t t0 = time(NULL);
    pid_t sim = start_sim(100);

    ck_assert_int_eq(wait_for("SELECT count(*) FROM corridor.vessels", 10, 15), 10);
    ck_assert_int_eq(wait_for("SELECT count(*) FROM corridor.vessels WHERE name IS NOT NULL "
                              "AND destination IS NOT NULL",
                              10, 15),
                     10);
    ck_assert_int_eq(harness_query_long(db, "SELECT imo FROM corridor.vessels "
                                            "WHERE mmsi = 538007711"),
                     9293117);
    ck_assert_int_eq(harness_query_long(db, "SELECT count(*) FROM corridor.vessels "
                                            "WHERE destination = 'DAR ES SALAAM'"),
                     1);
    /* history of watched vessels only (SEA NYMPH is watched by its IMO) */
    ck_assert_int_eq(wait_for("SELECT count(DISTINCT mmsi) FROM corridor.vessel_positions", 2, 10),
                     2);
    ck_assert_int_eq(harness_query_long(db, "SELECT count(*) FROM corridor.vessel_positions "
                                            "WHERE mmsi NOT IN (538007711, 357812000)"),
                     0);

    /* the REST view: ten vessels, the two watched first, SEA NYMPH with its track */
    ck_assert_int_eq(call("GET", "/api/vessels", NULL, &o), 200);
    ck_assert_int_eq((int)json_object_array_length(o), 10);
    ck_assert_str_eq(str(json_object_array_get_idx(o, 0), "watched"), "true");
    ck_assert_str_eq(str(json_object_array_get_idx(o, 1), "watched"), "true");
    ck_assert_str_eq(str(json_object_array_get_idx(o, 2), "watched"), "false");
    json_object_put(o);
    ck_assert_int_eq(call("GET", "/api/vessels/357812000", NULL, &o), 200);
    ck_assert_str_eq(str(o, "name"), "SEA NYMPH");
    json_object *track, *coords, *type;
    ck_assert_msg(json_object_object_get_ex(o, "track", &track) && track, "no track: %s", resp);
    ck_assert(json_object_object_get_ex(track, "type", &type));
    ck_assert_str_eq(json_object_get_string(type), "LineString");
    ck_assert(json_object_object_get_ex(track, "coordinates", &coords));
    ck_assert_int_ge((int)json_object_array_length(coords), 10);
    json_object_put(o);

    /* the meeting: SEA NYMPH and OCEAN PRIDE slow and close offshore */
    ck_assert_int_eq(wait_for("SELECT count(*) FROM corridor.vessel_pairs "
                              "WHERE a = 249330000 AND b = 357812000",
                              1, 20),
                     1);

    /* ARABIAN STAR silent for a minute: ais_gap; SEA NYMPH together with OCEAN PRIDE for
     * a minute: rendezvous. Both near t0 + 62 s. */
    ck_assert_int_eq(wait_for("SELECT count(*) FROM corridor.incidents "
                              "WHERE rule = 'ais_gap' AND mmsi = 538007711",
                              1, 90),
                     1);
    ck_assert_int_eq(wait_for("SELECT count(*) FROM corridor.incidents "
                              "WHERE rule = 'rendezvous' AND mmsi = 357812000",
                              1, 30),
                     1);
    ck_assert_int_ge((long)(time(NULL) - t0), 55); /* not before their minute */
    /* the vessels still transmitting are not gaps; the unwatched partner raises nothing */
    ck_assert_int_eq(harness_query_long(db, "SELECT count(*) FROM corridor.incidents "
                                            "WHERE rule = 'ais_gap' AND mmsi <> 538007711"),
                     0);
    ck_assert_int_eq(harness_query_long(db, "SELECT count(*) FROM corridor.incidents "
                                            "WHERE mmsi = 249330000"),
                     0);
    ck_assert_int_eq(harness_query_long(db, "SELECT count(*) FROM corridor.events "
                                            "WHERE kind = 'rendezvous' AND mmsi = 357812000 "
                                            "AND (details->>'other_mmsi')::bigint = 249330000"),
                     1);

    /* both on the vessel's REST view */
    ck_assert_int_eq(call("GET", "/api/vessels/357812000", NULL, &o), 200);
    json_object *inc;
    ck_assert(json_object_object_get_ex(o, "incidents", &inc));
    ck_assert_int_eq((int)json_object_array_length(inc), 1);
    ck_assert_str_eq(str(json_object_array_get_idx(inc, 0), "rule"), "rendezvous");
    json_object_put(o);

    /* the feed's counters */
    ck_assert_int_eq(call("GET", "/api/feeds", NULL, &o), 200);
    long msgs = 0;
    for (size_t k = 0; k < json_object_array_length(o); k++) {
        json_object *f = json_object_array_get_idx(o, k);
        if (strcmp(str(f, "kind"), "listen_tcp") == 0)
            msgs = num(f, "messages");
    }
    ck_assert_int_gt(msgs, 1000);
    json_object_put(o);

    /* the simulator stops cleanly on SIGTERM */
    int st;
    kill(sim, SIGTERM);
    ck_assert_int_eq(waitpid(sim, &st, 0), sim);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "corridor-sim ais exited %d", st);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("vessels_rest");
    TCase *tc = tcase_create("rest");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, every_endpoint_and_error);
    tcase_add_test(tc, simulated_feed_stores_vessels_and_opens_incidents);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
