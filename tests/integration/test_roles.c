/*
 * test_roles.c: the stages split over processes (--role, docs/scaling.md "Stages and roles"):
 * two ingest processes and one web+alerts process against one database,
 * talking over nng tcp://, show the same incidents as a single process fed the same
 * pings, and the gateway receives the ingest processes' events over TCP.
 */
#include "harness.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void seed(PGconn *db)
{
    harness_exec(db, "INSERT INTO corridor.seals(id, protocol, device_id) SELECT 'R' || i, "
                     "'osmand', 'R' || i FROM generate_series(1, 4) i");
    harness_exec(db, "INSERT INTO corridor.geofences(name, kind, geom) VALUES ('Zone', "
                     "'restricted', ST_Multi(ST_MakeEnvelope(38.55,-3.05,38.65,-2.95,4326)))");
}

/* Seal i drives into the zone at t0 + 10 i and out again. */
static void drive(int port_a, int port_b, long t0)
{
    char path[200], resp[256];
    for (int step = 0; step < 4; step++)
        for (int i = 1; i <= 4; i++) {
            double lat = step == 1 || step == 2 ? -3.0 : -3.2;
            snprintf(path, sizeof path, "/?id=R%d&lat=%.3f&lon=38.6&timestamp=%ld", i, lat,
                     t0 + step * 60 + i * 10);
            int port = i <= 2 ? port_a : port_b;
            ck_assert_int_eq(harness_http(port, "GET", path, NULL, NULL, resp, sizeof resp), 200);
        }
}

/* The incidents as "seal rule opened_at" lines, sorted, from the REST API. */
static void incidents(int http_port, char *out, size_t n)
{
    static char resp[1 << 16];
    ck_assert_int_eq(
        harness_http(http_port, "GET", "/api/incidents", NULL, NULL, resp, sizeof resp), 200);
    out[0] = 0;
    char *lines[64];
    int k = 0;
    for (char *p = resp; (p = strstr(p, "\"seal_id\" : \"")) && k < 64;) {
        p += 13;
        char *rule = strstr(p, "\"rule\"");
        char *opened = strstr(p, "\"opened_at\" : \"");
        char *line = malloc(128);
        snprintf(line, 128, "%.*s %.*s", (int)(strchr(p, '"') - p), p, 24,
                 opened ? opened + 15 : "?");
        (void)rule;
        lines[k++] = line;
    }
    for (int i = 0; i < k; i++)
        for (int j = i + 1; j < k; j++)
            if (strcmp(lines[j], lines[i]) < 0) {
                char *t = lines[i];
                lines[i] = lines[j];
                lines[j] = t;
            }
    for (int i = 0; i < k; i++) {
        strncat(out, lines[i], n - strlen(out) - 2);
        strncat(out, "\n", n - strlen(out) - 1);
        free(lines[i]);
    }
}

static long metric(int http_port, const char *name)
{
    static char resp[1 << 19];
    ck_assert_int_eq(harness_http(http_port, "GET", "/metrics", NULL, NULL, resp, sizeof resp),
                     200);
    char line[128];
    snprintf(line, sizeof line, "\n%s ", name); /* the sample, not its # TYPE line */
    char *p = strstr(resp, line);
    ck_assert_msg(p != NULL, "no %s in /metrics", name);
    return atol(p + strlen(line));
}

START_TEST(split_equals_single)
{
    long t0 = (long)time(NULL) - 900;
    char events[64], want[4096], got[4096];
    harness_server single, gw, in1, in2;

    /* one process, all stages */
    const char *db1 = harness_db_create("corridor_test_roles_single");
    harness_server_start(&single, db1, NULL);
    PGconn *c1 = harness_connect(db1);
    seed(c1);
    drive(single.osmand_port, single.osmand_port, t0);

    /* the same pings through two ingest processes and one web+alerts process */
    const char *db2 = harness_db_create("corridor_test_roles_split");
    snprintf(events, sizeof events, "tcp://127.0.0.1:%d", harness_free_port());
    harness_server_start(&gw, db2, "--role", "web,alerts", "--events-url", events, NULL);
    PGconn *c2 = harness_connect(db2);
    seed(c2);
    harness_server_start(&in1, db2, "--role", "ingest", "--events-url", events, "--no-migrate",
                         NULL);
    harness_server_start(&in2, db2, "--role", "ingest", "--events-url", events, "--no-migrate",
                         NULL);
    drive(in1.osmand_port, in2.osmand_port, t0);

    incidents(single.http_port, want, sizeof want);
    incidents(gw.http_port, got, sizeof got);
    ck_assert_msg(strlen(want) > 0, "the single process opened no incident");
    ck_assert_str_eq(got, want);
    ck_assert_int_eq(harness_query_long(c2, "SELECT count(*) FROM corridor.incidents"), 4);

    /* the gateway heard both ingest processes over TCP: 16 positions and 4 incidents
     * were pushed; allow the last to arrive */
    long heard = 0;
    for (int i = 0; i < 50 && heard < 20; i++) {
        heard = metric(gw.http_port, "corridor_web_events_received_total");
        usleep(100 * 1000);
    }
    ck_assert_msg(heard >= 20, "the gateway received %ld events over tcp", heard);

    harness_server_stop(&in1, 0);
    harness_server_stop(&in2, 0);
    harness_server_stop(&gw, 0);
    harness_server_stop(&single, 0);
    PQfinish(c1);
    PQfinish(c2);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("roles");
    TCase *tc = tcase_create("split");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, split_equals_single);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
