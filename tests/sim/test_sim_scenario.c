/*
 * test_sim_scenario.c: corridor-sim against the real corridord and a real PostGIS:
 * demo-data creates the fences once (and nothing the second time), the scenario's seals
 * are stored and only the deviator opens a restricted_zone_entry incident with exactly one
 * enter and one exit, and the load generator's acked pings are all in the database.
 */
#include "harness.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

static harness_server srv;
static PGconn *db;
static char out_path[256];

static void setup(void)
{
    const char *conninfo = harness_db_create("corridor_test_sim");
    harness_server_start(&srv, conninfo, NULL);
    db = harness_connect(conninfo);
    snprintf(out_path, sizeof out_path, "%s/test_sim_scenario.out",
             getenv("CORRIDOR_BUILD") ? getenv("CORRIDOR_BUILD") : ".");
}

static void teardown(void)
{
    PQfinish(db);
    harness_server_stop(&srv, 0);
}

/* Runs corridor-sim with args; stdout and stderr go to out_path. Returns its exit status. */
static int sim(const char *args)
{
    char cmd[1024];
    /* the REST calls carry the server's admin token ($CORRIDOR_TOKEN) */
    const char *token = harness_token(srv.http_port);
    snprintf(cmd, sizeof cmd, "CORRIDOR_TOKEN=%s %s/corridor-sim %s > %s 2>&1", token ? token : "",
             getenv("CORRIDOR_BUILD") ? getenv("CORRIDOR_BUILD") : ".", args, out_path);
    int st = system(cmd);
    ck_assert_msg(st != -1 && WIFEXITED(st), "corridor-sim did not exit normally: %s", cmd);
    return WEXITSTATUS(st);
}

/* The first line of the output that contains needle, or "" (static). */
static const char *output_line(const char *needle)
{
    static char line[2048];
    FILE *f = fopen(out_path, "r");
    ck_assert_ptr_nonnull(f);
    while (fgets(line, sizeof line, f))
        if (strstr(line, needle)) {
            fclose(f);
            return line;
        }
    fclose(f);
    return "";
}

static long q(const char *sql)
{
    return harness_query_long(db, sql);
}

START_TEST(demo_data_idempotent)
{
    char args[256];
    snprintf(args, sizeof args, "demo-data --http 127.0.0.1:%d", srv.http_port);
    ck_assert_int_eq(sim(args), 0);
    ck_assert_str_eq(output_line("geofences created"),
                     "demo-data: 14 geofences created, 0 already there\n");
    ck_assert_int_eq(q("SELECT count(*) FROM corridor.geofences"), 14);
    ck_assert_int_eq(q("SELECT count(*) FROM corridor.geofences WHERE kind = 'restricted'"), 1);
    ck_assert_int_eq(q("SELECT count(*) FROM corridor.geofences WHERE kind = 'border_post'"), 3);
    /* Every fence a valid polygon a few km across at its place. */
    ck_assert_int_eq(q("SELECT count(*) FROM corridor.geofences WHERE ST_IsValid(geom) AND "
                       "ST_Area(geom::geography) BETWEEN 3e6 AND 2.1e8"),
                     14);
    ck_assert_int_eq(q("SELECT count(*) FROM corridor.geofences WHERE name = 'Kigali' AND "
                       "ST_Contains(geom, ST_SetSRID(ST_MakePoint(30.0619, -1.9441), 4326))"),
                     1);
    ck_assert_int_eq(sim(args), 0);
    ck_assert_str_eq(output_line("geofences created"),
                     "demo-data: 0 geofences created, 14 already there\n");
    ck_assert_int_eq(q("SELECT count(*) FROM corridor.geofences"), 14);
}
END_TEST

START_TEST(scenario_deviator_incident)
{
    char args[256];
    snprintf(args, sizeof args, "demo-data --http 127.0.0.1:%d", srv.http_port);
    ck_assert_int_eq(sim(args), 0);
    /* 200x: 3.3 km per one-second ping, the zone about 12 s away. */
    snprintf(args, sizeof args,
             "scenario --http 127.0.0.1:%d --osmand 127.0.0.1:%d --seals 3 --speedup 200 "
             "--interval 1 --duration 25",
             srv.http_port, srv.osmand_port);
    ck_assert_int_eq(sim(args), 0);
    ck_assert_ptr_nonnull(strstr(output_line("scenario: final"), "refused=0 errors=0"));
    ck_assert_int_eq(q("SELECT count(*) FROM corridor.seals WHERE id IN ('KE-SEAL-DEVIATOR', "
                       "'KE-SEAL-0001', 'KE-SEAL-0002')"),
                     3);
    ck_assert_int_ge(q("SELECT min(n) FROM (SELECT count(*) n FROM corridor.positions "
                       "GROUP BY seal_id) c"),
                     20);
    ck_assert_int_eq(q("SELECT count(DISTINCT seal_id) FROM corridor.positions"), 3);
    ck_assert_int_eq(q("SELECT count(*) FROM corridor.incidents WHERE rule = "
                       "'restricted_zone_entry' AND seal_id = 'KE-SEAL-DEVIATOR' AND "
                       "severity = 'critical'"),
                     1);
    ck_assert_int_eq(q("SELECT count(*) FROM corridor.incidents WHERE rule = "
                       "'restricted_zone_entry'"),
                     1);
    ck_assert_int_eq(q("SELECT count(*) FROM corridor.events e JOIN corridor.geofences g ON "
                       "g.id = e.fence_id WHERE g.kind = 'restricted' AND e.kind = 'fence_enter'"),
                     1);
    ck_assert_int_eq(q("SELECT count(*) FROM corridor.events e JOIN corridor.geofences g ON "
                       "g.id = e.fence_id WHERE g.kind = 'restricted' AND e.kind = 'fence_exit'"),
                     1);
    /* Registering again is fine (409 counts as registered). */
    snprintf(args, sizeof args,
             "scenario --http 127.0.0.1:%d --osmand 127.0.0.1:%d --seals 3 --duration 1.5",
             srv.http_port, srv.osmand_port);
    ck_assert_int_eq(sim(args), 0);
    ck_assert_ptr_nonnull(strstr(output_line("seals registered"), "0 new, 3 already known"));
}
END_TEST

START_TEST(load_all_stored)
{
    char args[256];
    snprintf(args, sizeof args,
             "load --osmand 127.0.0.1:%d --seals 20 --rate 200 --duration 2 --connections 5 "
             "--register-http 127.0.0.1:%d",
             srv.osmand_port, srv.http_port);
    ck_assert_int_eq(sim(args), 0);
    const char *json = output_line("\"acked\"");
    ck_assert_ptr_nonnull(strstr(json, "\"sent\":400,\"acked\":400,\"refused\":0,\"errors\":0,"
                                       "\"dropped\":0,"));
    ck_assert_int_eq(q("SELECT count(*) FROM corridor.positions WHERE seal_id LIKE 'LD-SEAL-%'"),
                     400);
    /* Unregistered seals are refused, counted, and not stored. */
    snprintf(args, sizeof args,
             "load --osmand 127.0.0.1:%d --seals 30 --rate 30 --duration 1 --connections 2",
             srv.osmand_port);
    ck_assert_int_eq(sim(args), 0);
    json = output_line("\"acked\"");
    ck_assert_ptr_nonnull(strstr(json, "\"sent\":30,\"acked\":20,\"refused\":10,\"errors\":0"));
}
END_TEST

START_TEST(bad_arguments)
{
    ck_assert_int_eq(sim("scenario --seals 0"), 2);
    ck_assert_str_eq(output_line("corridor-sim"),
                     "corridor-sim: --seals \"0\" is not a whole number in 1..100; see "
                     "corridor-sim --help\n");
    ck_assert_int_eq(sim("load --seals 5 --duration 1"), 2);
    ck_assert_int_eq(sim("demo-data --osmand 127.0.0.1:1"), 2);
    ck_assert_int_eq(sim("demo-data --data /nonexistent.csv"), 2);
    ck_assert_int_eq(sim("--help"), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sim_scenario");
    TCase *tc = tcase_create("against corridord");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, demo_data_idempotent);
    tcase_add_test(tc, scenario_deviator_incident);
    tcase_add_test(tc, load_all_stored);
    tcase_add_test(tc, bad_arguments);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
