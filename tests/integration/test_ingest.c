/*
 * test_ingest.c: OsmAnd ingest end to end against a real PostGIS and the real corridord:
 * exactly one enter and one exit per crossing, out-of-order and late observations,
 * duplicates stored once, bad input refused with its reason and nothing stored, and the
 * acknowledgement sent only after the commit.
 */
#include "harness.h"

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static harness_server srv;
static PGconn *db;
static long t0;

static void setup(void)
{
    const char *conninfo = harness_db_create("corridor_test_ingest");
    /* one worker and a long batch window: pings written together share one batch */
    harness_server_start(&srv, conninfo, "--workers", "1", "--batch-ms", "300", NULL);
    db = harness_connect(conninfo);
    harness_exec(db, "INSERT INTO corridor.seals(id, protocol, device_id) VALUES "
                     "('S1','osmand','S1'), ('S2','osmand','S2'), ('S3','osmand','S3'), "
                     "('S4','osmand','S4')");
    /* a restricted square 0.1 degrees wide around (38.6 E, 3.0 S), and a port */
    harness_exec(db,
                 "INSERT INTO corridor.geofences(name, kind, geom) VALUES "
                 "('Zone', 'restricted', ST_Multi(ST_MakeEnvelope(38.55,-3.05,38.65,-2.95,4326))),"
                 "('Port', 'port', ST_Multi(ST_MakeEnvelope(39.6,-4.1,39.7,-4.0,4326)))");
    t0 = (long)time(NULL) - 600;
}

static void teardown(void)
{
    PQfinish(db);
    harness_server_stop(&srv, 0);
}

/* One ping; returns the HTTP status, the body in resp. */
static int ping(const char *id, long t, double lat, double lon, char *resp)
{
    char path[256];
    snprintf(path, sizeof path, "/?id=%s&lat=%.5f&lon=%.5f&timestamp=%ld&speed=30", id, lat, lon,
             t);
    return harness_http(srv.osmand_port, "GET", path, NULL, NULL, resp, 512);
}

#define IN_LAT  -3.0
#define OUT_LAT -3.2
#define LON     38.6

static long count(const char *sql)
{
    return harness_query_long(db, sql);
}

START_TEST(one_enter_one_exit_per_crossing)
{
    char resp[512];
    double lats[] = {OUT_LAT, OUT_LAT, IN_LAT, IN_LAT, IN_LAT, OUT_LAT, OUT_LAT, IN_LAT, OUT_LAT};
    for (int i = 0; i < 9; i++)
        ck_assert_int_eq(ping("S1", t0 + i * 10, lats[i], LON, resp), 200);
    ck_assert_int_eq(count("SELECT count(*) FROM corridor.positions WHERE seal_id='S1'"), 9);
    /* two crossings: enter at +20, exit at +50, enter at +70, exit at +80 */
    PGresult *r = PQexec(db, "SELECT kind, extract(epoch FROM ts)::bigint FROM corridor.events "
                             "WHERE seal_id='S1' ORDER BY ts");
    ck_assert_int_eq(PQntuples(r), 4);
    const char *kinds[] = {"fence_enter", "fence_exit", "fence_enter", "fence_exit"};
    long at[] = {20, 50, 70, 80};
    for (int i = 0; i < 4; i++) {
        ck_assert_str_eq(PQgetvalue(r, i, 0), kinds[i]);
        ck_assert_int_eq(atol(PQgetvalue(r, i, 1)), t0 + at[i]);
    }
    PQclear(r);
    /* one open incident per seal and rule; the second entry attached to it */
    ck_assert_int_eq(count("SELECT count(*) FROM corridor.incidents WHERE seal_id='S1' AND "
                           "rule='restricted_zone_entry' AND severity='critical'"),
                     1);
    ck_assert_int_eq(count("SELECT event_count FROM corridor.incidents WHERE seal_id='S1'"), 2);
    ck_assert_int_eq(count("SELECT count(*) FROM corridor.fence_state WHERE seal_id='S1'"), 0);
    ck_assert_int_eq(count("SELECT extract(epoch FROM ts)::bigint FROM corridor.latest "
                           "WHERE seal_id='S1'"),
                     t0 + 80);
}
END_TEST

/* Several pings written at once on separate connections land in one batch in any order:
 * the evaluation sorts them by device time. */
START_TEST(out_of_order_within_a_batch)
{
    int fds[5];
    double lats[] = {IN_LAT, OUT_LAT, IN_LAT, OUT_LAT, IN_LAT};
    long ts[] = {30, 0, 10, 20, 40}; /* in time order: out, in, out, in, in */
    for (int i = 0; i < 5; i++) {
        struct sockaddr_in a = {.sin_family = AF_INET,
                                .sin_port = htons((uint16_t)srv.osmand_port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        ck_assert(connect(fds[i], (struct sockaddr *)&a, sizeof a) == 0);
    }
    for (int i = 0; i < 5; i++) {
        char req[300];
        int n = snprintf(req, sizeof req,
                         "GET /?id=S2&lat=%.3f&lon=%.3f&timestamp=%ld HTTP/1.1\r\nHost: x\r\n"
                         "Connection: close\r\n\r\n",
                         lats[i], LON, t0 + ts[i]);
        ck_assert_int_eq(write(fds[i], req, (size_t)n), n);
    }
    for (int i = 0; i < 5; i++) {
        char buf[512] = "";
        ssize_t got = read(fds[i], buf, sizeof buf - 1);
        ck_assert(got > 0);
        ck_assert_msg(strncmp(buf, "HTTP/1.1 200", 12) == 0, "answer %s", buf);
        close(fds[i]);
    }
    PGresult *r = PQexec(db, "SELECT kind, extract(epoch FROM ts)::bigint FROM "
                             "corridor.events WHERE seal_id='S2' ORDER BY ts");
    ck_assert_int_eq(PQntuples(r), 3);
    ck_assert_str_eq(PQgetvalue(r, 0, 0), "fence_enter");
    ck_assert_int_eq(atol(PQgetvalue(r, 0, 1)), t0 + 10);
    ck_assert_str_eq(PQgetvalue(r, 1, 0), "fence_exit");
    ck_assert_int_eq(atol(PQgetvalue(r, 1, 1)), t0 + 20);
    ck_assert_str_eq(PQgetvalue(r, 2, 0), "fence_enter");
    ck_assert_int_eq(atol(PQgetvalue(r, 2, 1)), t0 + 30);
    PQclear(r);
    ck_assert_int_eq(count("SELECT count(*) FROM corridor.fence_state WHERE seal_id='S2'"), 1);
}
END_TEST

START_TEST(late_observation_stored_without_transition)
{
    char resp[512];
    ck_assert_int_eq(ping("S3", t0 + 100, OUT_LAT, LON, resp), 200);
    ck_assert_int_eq(ping("S3", t0 + 200, OUT_LAT, LON, resp), 200);
    /* arrives after t0+200 but was taken at t0+150 inside the zone: stored, marked late,
     * and it neither enters the zone nor opens an incident */
    ck_assert_int_eq(ping("S3", t0 + 150, IN_LAT, LON, resp), 200);
    ck_assert_int_eq(count("SELECT count(*) FROM corridor.positions WHERE seal_id='S3'"), 3);
    ck_assert_int_eq(count("SELECT count(*) FROM corridor.positions WHERE seal_id='S3' AND late"),
                     1);
    ck_assert_int_eq(count("SELECT count(*) FROM corridor.events WHERE seal_id='S3'"), 0);
    ck_assert_int_eq(count("SELECT count(*) FROM corridor.incidents WHERE seal_id='S3'"), 0);
    ck_assert_int_eq(count("SELECT extract(epoch FROM ts)::bigint FROM corridor.latest "
                           "WHERE seal_id='S3'"),
                     t0 + 200);
}
END_TEST

START_TEST(duplicate_stored_once)
{
    char resp[512];
    ck_assert_int_eq(ping("S4", t0 + 5, IN_LAT, LON, resp), 200);
    ck_assert_int_eq(ping("S4", t0 + 5, IN_LAT, LON, resp), 200); /* a device re-send */
    ck_assert_int_eq(count("SELECT count(*) FROM corridor.positions WHERE seal_id='S4'"), 1);
    ck_assert_int_eq(count("SELECT count(*) FROM corridor.events WHERE seal_id='S4'"), 1);
    ck_assert_int_eq(count("SELECT event_count FROM corridor.incidents WHERE seal_id='S4'"), 1);
}
END_TEST

START_TEST(bad_input_refused_with_reason)
{
    char resp[512], path[256];
    struct {
        const char *query;
        int status;
        const char *reason;
    } cases[] = {
        {"/?id=NOPE&lat=-3&lon=38", 400, "unknown seal id \"NOPE\"\n"},
        {"/?id=S1&lat=-93&lon=38", 400, "latitude -93 outside -90..90\n"},
        {"/?id=S1&lat=-3&lon=181", 400, "longitude 181 outside -180..180\n"},
        {"/?lat=-3&lon=38", 400, "missing device id (id=...)\n"},
        {"/?id=S1&lat=-3&lon=38&timestamp=soon", 400, "unparsable timestamp \"soon\"\n"},
        {"/?id=S1&lat=-3&lon=38&timestamp=4102444800", 400,
         "timestamp more than 3600 s in the future\n"},
        {"/?id=S1'%3BDROP--&lat=-3&lon=38", 400, "unknown seal id \"S1';DROP--\"\n"},
    };
    long before = count("SELECT count(*) FROM corridor.positions");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(path, sizeof path, "%s", cases[i].query);
        int st = harness_http(srv.osmand_port, "GET", path, NULL, NULL, resp, sizeof resp);
        ck_assert_msg(st == cases[i].status, "%s: status %d", cases[i].query, st);
        ck_assert_msg(strcmp(resp, cases[i].reason) == 0, "%s: \"%s\"", cases[i].query, resp);
    }
    ck_assert_int_eq(harness_http(srv.osmand_port, "POST", "/", "application/json",
                                  "{\"location\":", resp, sizeof resp),
                     400);
    ck_assert_str_eq(resp, "malformed JSON: unexpected end of data\n");
    ck_assert_int_eq(
        harness_http(srv.osmand_port, "DELETE", "/?id=S1", NULL, NULL, resp, sizeof resp), 405);
    /* a body over --osmand-body-max (16 KiB by default) */
    static char big[17000];
    memset(big, 'a', sizeof big - 1);
    memcpy(big, "id=S1&lat=-3&lon=38&x=", 22);
    ck_assert_int_eq(harness_http(srv.osmand_port, "POST", "/", "application/x-www-form-urlencoded",
                                  big, resp, sizeof resp),
                     413);
    ck_assert_int_eq(count("SELECT count(*) FROM corridor.positions"), before);
    ck_assert_int_eq(count("SELECT count(*) FROM corridor.seals"), 4);
    /* and the server still serves */
    ck_assert_int_eq(ping("S1", t0 + 500, OUT_LAT, LON, resp), 200);
}
END_TEST

/* Hold the database back: with corridor.latest locked by another transaction the batch
 * cannot commit, and the device must hear nothing until it does. */
START_TEST(acknowledged_only_after_commit)
{
    PGconn *blocker = harness_connect(srv.db);
    harness_exec(blocker, "BEGIN");
    harness_exec(blocker, "LOCK TABLE corridor.latest IN ACCESS EXCLUSIVE MODE");

    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)srv.osmand_port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert(connect(fd, (struct sockaddr *)&a, sizeof a) == 0);
    char req[256];
    int n = snprintf(req, sizeof req,
                     "GET /?id=S1&lat=-3.3&lon=38.6&timestamp=%ld HTTP/1.1\r\nHost: x\r\n\r\n",
                     t0 + 1000);
    ck_assert_int_eq(write(fd, req, (size_t)n), n);
    struct pollfd p = {fd, POLLIN, 0};
    ck_assert_int_eq(poll(&p, 1, 1500), 0); /* no answer while the commit cannot happen */
    ck_assert_int_eq(count("SELECT count(*) FROM corridor.positions WHERE seal_id='S1' AND "
                           "lat = -3.3"),
                     0);
    harness_exec(blocker, "COMMIT");
    ck_assert_int_eq(poll(&p, 1, 10000), 1);
    char buf[512] = "";
    ck_assert(read(fd, buf, sizeof buf - 1) > 0);
    ck_assert_msg(strncmp(buf, "HTTP/1.1 200", 12) == 0, "answer %s", buf);
    ck_assert_int_eq(count("SELECT count(*) FROM corridor.positions WHERE seal_id='S1' AND "
                           "lat = -3.3"),
                     1);
    close(fd);
    PQfinish(blocker);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ingest");
    TCase *tc = tcase_create("osmand");
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, one_enter_one_exit_per_crossing);
    tcase_add_test(tc, out_of_order_within_a_batch);
    tcase_add_test(tc, late_observation_stored_without_transition);
    tcase_add_test(tc, duplicate_stored_once);
    tcase_add_test(tc, bad_input_refused_with_reason);
    tcase_add_test(tc, acknowledged_only_after_commit);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
