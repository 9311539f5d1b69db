/*
 * test_evidence.c: tamper-evident journeys end to end (docs/evidence.md). The real
 * corridord, with a signing key made by `corridord key create`, stores a trip's JT/T 808
 * fixes (live 0x0200 and late 0x0704 ones) sent over a real socket; its evidence
 * (GET /api/trips/{id}/evidence) verifies with corridor-verify and the centre's public key.
 * Then, as a database administrator would, the test UPDATEs one position, DELETEs another
 * and INSERTs a forged one directly in PostgreSQL: corridor-verify on a re-fetched file and
 * `corridord verify --trip` both name each change by seq. A file whose signature was
 * altered fails. The partner endpoint answers only partner tokens of a country the trip
 * crosses, and audits.
 */
#include "harness.h"
#include "jt808.h"

#include <arpa/inet.h>
#include <check.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TERMINAL "013977700001"

static harness_server srv;
static PGconn *db;
static uint16_t serial;
static char conninfo[128], keyfile[320], pubfile[320], dir[128];
static const char *build;
static char resp[4 << 20];

static void setup(void)
{
    build = getenv("CORRIDOR_BUILD");
    ck_assert_msg(build != NULL, "CORRIDOR_BUILD names the build folder");
    snprintf(conninfo, sizeof conninfo, "%s", harness_db_create("corridor_test_evidence"));
    snprintf(dir, sizeof dir, "/tmp/corridor-evidence-%d", (int)getpid());
    mkdir(dir, 0700);
    snprintf(keyfile, sizeof keyfile, "%s/centre.pem", dir);
    snprintf(pubfile, sizeof pubfile, "%s/centre.pub", dir);
    unlink(keyfile);
    char cmd[1024];
    /* the public key is the PEM block corridord key create prints */
    snprintf(cmd, sizeof cmd,
             "%s/corridord key create --out %s | sed -n '1,/END PUBLIC KEY/p' > %s", build, keyfile,
             pubfile);
    ck_assert_int_eq(system(cmd), 0);
    struct stat st;
    ck_assert_int_eq(stat(keyfile, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0600);
    harness_server_start(&srv, conninfo, "--workers", "1", "--signing-key", keyfile,
                         "--sign-interval", "1", NULL);
    db = harness_connect(conninfo);
    harness_exec(db, "INSERT INTO corridor.seals(id, protocol, device_id, timezone) VALUES "
                     "('EV-1', 'jt808', '" TERMINAL "', '+03:00')");
}

static void teardown(void)
{
    PQfinish(db);
    harness_server_stop(&srv, 0);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* ---- JT/T 808 over a socket (as test_jt808_live.c) ---- */

static int dial(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)srv.jt808_port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert(fd >= 0);
    ck_assert(connect(fd, (struct sockaddr *)&a, sizeof a) == 0);
    return fd;
}

static void send_msg(int fd, uint16_t id, const uint8_t *body, size_t len)
{
    ingest_jt808_head h = {.msg_id = id, .serial = ++serial};
    snprintf(h.terminal, sizeof h.terminal, "%s", TERMINAL);
    uint8_t frame[4096];
    int n = ingest_jt808_encode(&h, body, len, frame, sizeof frame);
    ck_assert_int_gt(n, 0);
    ck_assert_int_eq(write(fd, frame, (size_t)n), n);
}

static int recv_msg(int fd, int ms, ingest_jt808_head *h, uint8_t *body, size_t *blen)
{
    static ingest_jt808_splitter sp;
    static uint8_t pending[4096];
    static size_t have;
    static int init;
    if (!init) {
        ingest_jt808_splitter_init(&sp);
        init = 1;
    }
    for (;;) {
        while (have) {
            size_t used, flen, bl;
            const uint8_t *frame, *b;
            int rc = ingest_jt808_split(&sp, pending, have, &used, &frame, &flen);
            memmove(pending, pending + used, have - used);
            have -= used;
            if (rc == 1) {
                char reason[128];
                ck_assert_msg(ingest_jt808_parse(frame, flen, h, &b, &bl, reason, sizeof reason) ==
                                  0,
                              "server frame: %s", reason);
                memcpy(body, b, bl);
                *blen = bl;
                return 1;
            }
        }
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, ms) != 1)
            return 0;
        ssize_t r = read(fd, pending + have, sizeof pending - have);
        if (r <= 0)
            return 0;
        have += (size_t)r;
    }
}

static void expect_ok(int fd, uint16_t reply_id)
{
    ingest_jt808_head h;
    uint8_t body[1100];
    size_t blen;
    uint16_t rs, rid;
    int result;
    ck_assert(recv_msg(fd, 5000, &h, body, &blen));
    ck_assert_int_eq(h.msg_id, INGEST_JT808_PLAT_ACK);
    ck_assert_int_eq(ingest_jt808_parse_ack(body, blen, &rs, &rid, &result), 0);
    ck_assert_int_eq(rid, reply_id);
    ck_assert_int_eq(result, INGEST_JT808_OK);
}

static void login(int fd)
{
    uint8_t body[1100];
    ingest_jt808_head h;
    size_t blen;
    char code[65];
    uint16_t rs;
    int result;
    ingest_jt808_register reg = {.province = 11};
    int n = ingest_jt808_body_register(body, sizeof body, 0, &reg);
    send_msg(fd, INGEST_JT808_REGISTER, body, (size_t)n);
    ck_assert(recv_msg(fd, 5000, &h, body, &blen));
    ck_assert_int_eq(ingest_jt808_parse_register_ack(body, blen, &rs, &result, code, sizeof code),
                     0);
    ck_assert_int_eq(result, INGEST_JT808_REG_OK);
    ingest_jt808_auth auth;
    memset(&auth, 0, sizeof auth);
    snprintf(auth.code, sizeof auth.code, "%s", code);
    n = ingest_jt808_body_auth(body, sizeof body, 0, &auth);
    send_msg(fd, INGEST_JT808_AUTH, body, (size_t)n);
    expect_ok(fd, INGEST_JT808_AUTH);
}

static void fix_at(ingest_jt808_location *l, double lon, int64_t t)
{
    ingest_jt808_location_clear(l);
    l->lat = -1.0;
    l->lon = lon;
    l->ts_us = t * 1000000;
    l->speed_kmh = 60;
    l->course = 90;
    l->battery = 80;
    l->status = INGEST_JT808_ST_FIX | INGEST_JT808_ST_DOOR_LOCKED;
}

static void send_fix(int fd, double lon, int64_t t)
{
    ingest_jt808_location l;
    uint8_t body[1100];
    fix_at(&l, lon, t);
    int n = ingest_jt808_body_location(body, sizeof body, 180, &l);
    ck_assert_int_gt(n, 0);
    send_msg(fd, INGEST_JT808_LOCATION, body, (size_t)n);
    expect_ok(fd, INGEST_JT808_LOCATION);
}

/* ---- helpers ---- */

static long q(const char *sql)
{
    return harness_query_long(db, sql);
}

/* Runs cmd; its stdout into out; returns its exit status. */
static int run(const char *cmd, char *out, size_t n)
{
    FILE *p = popen(cmd, "r");
    ck_assert(p != NULL);
    size_t got = fread(out, 1, n - 1, p);
    out[got] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Fetches the trip's evidence into file; returns the HTTP status. */
static int fetch(const char *trip, const char *file)
{
    char path[128];
    snprintf(path, sizeof path, "/api/trips/%s/evidence", trip);
    int st = harness_http(srv.http_port, "GET", path, NULL, NULL, resp, sizeof resp);
    if (st == 200) {
        FILE *f = fopen(file, "w");
        ck_assert(f != NULL);
        fputs(resp, f);
        fclose(f);
    }
    return st;
}

static int verify_file(const char *file, char *out, size_t n)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s/corridor-verify %s --key %s", build, file, pubfile);
    return run(cmd, out, n);
}

/* Arms EV-1 on a route from the origin office at 36 E, 1 S; returns the trip id (static). */
static const char *arm(void)
{
    long origin =
        q("INSERT INTO corridor.geofences(name, kind, geom) VALUES ('Origin office',"
          " 'customs_office', ST_Multi(ST_MakeEnvelope(35.99, -1.01, 36.01, -0.99, 4326)))"
          " RETURNING id");
    long dest = q("INSERT INTO corridor.geofences(name, kind, geom) VALUES ('Dest ICD', 'port',"
                  " ST_Multi(ST_MakeEnvelope(36.99, -1.01, 37.01, -0.99, 4326))) RETURNING id");
    long route = q("SELECT (corridor.route_create(json_build_object('name', 'East',"
                   " 'corridor_m', 1000, 'max_transit_minutes', 600, 'geometry',"
                   " json_build_object('type', 'LineString', 'coordinates',"
                   " json_build_array(json_build_array(36, -1), json_build_array(37, -1))),"
                   " 'checkpoints', json_build_array()))->>'id')::bigint");
    char body[512];
    snprintf(body, sizeof body,
             "{\"seal_id\":\"EV-1\",\"route_id\":%ld,\"origin_id\":%ld,\"destination_id\":%ld,"
             "\"conveyance\":{\"plate\":\"KBX 123A\",\"container\":\"CSQU3054383\"},"
             "\"declaration\":\"2026MSA1234567\"}",
             route, origin, dest);
    int st = harness_http(srv.http_port, "POST", "/api/trips", "application/json", body, resp,
                          sizeof resp);
    ck_assert_msg(st == 201, "arming: %d %s", st, resp);
    static char id[40];
    json_object *o = json_tokener_parse(resp), *v;
    ck_assert(o && json_object_object_get_ex(o, "id", &v));
    snprintf(id, sizeof id, "%s", json_object_get_string(v));
    json_object_put(o);
    return id;
}

/* Waits until the seal's chain head is signed. */
static void wait_signed(void)
{
    for (int i = 0; i < 100; i++) {
        if (q("SELECT count(*) FROM corridor.chain_heads h JOIN corridor.chain_signatures s"
              " USING (seal_id, seq) WHERE h.seal_id = 'EV-1'") > 0)
            return;
        usleep(100000);
    }
    ck_abort_msg("the signer did not sign the head");
}

START_TEST(chain_verify_and_tamper)
{
    int fd = dial();
    login(fd);
    int64_t t0 = (int64_t)time(NULL) - 600;
    send_fix(fd, 36.0, t0); /* locked at the origin: arming needs it */
    const char *trip = arm();
    /* live fixes, then a blind-area batch (0x0704) of late fixes between them */
    for (int i = 1; i <= 6; i++)
        send_fix(fd, 36.0 + i * 0.001, t0 + i * 10);
    ingest_jt808_location late[3];
    for (int i = 0; i < 3; i++)
        fix_at(&late[i], 36.0015 + i * 0.001, t0 + 15 + i * 10);
    uint8_t body[1100];
    int n = ingest_jt808_body_batch(body, sizeof body, 180, 1, late, 3);
    send_msg(fd, INGEST_JT808_BATCH, body, (size_t)n);
    expect_ok(fd, INGEST_JT808_BATCH);
    close(fd);

    /* every fix chained, in the order stored: the late ones after the live ones */
    ck_assert_int_eq(q("SELECT count(*) FROM corridor.positions WHERE seal_id = 'EV-1'"), 10);
    ck_assert_int_eq(q("SELECT count(*) FROM corridor.positions WHERE seal_id = 'EV-1'"
                       " AND chain_seq IS NULL"),
                     0);
    ck_assert_int_eq(q("SELECT max(chain_seq) FROM corridor.positions WHERE seal_id = 'EV-1'"), 10);
    ck_assert_int_eq(q("SELECT min(chain_seq) FROM corridor.positions WHERE seal_id = 'EV-1'"
                       " AND late"),
                     8);
    wait_signed();

    char file[320], out[8192], cmd[1024];
    snprintf(file, sizeof file, "%s/trip.json", dir);
    ck_assert_int_eq(fetch(trip, file), 200);
    json_object *o = json_tokener_parse(resp), *v, *p;
    ck_assert(o && json_object_object_get_ex(o, "positions", &p));
    ck_assert_int_eq((int)json_object_array_length(p), 9); /* seq 2..10: after arming */
    ck_assert(json_object_object_get_ex(o, "verification", &v));
    ck_assert_str_eq(json_object_get_string(json_object_object_get(v, "status")), "verified");
    json_object_put(o);
    int rc = verify_file(file, out, sizeof out);
    ck_assert_msg(rc == 0, "corridor-verify: %d\n%s", rc, out);
    ck_assert(strstr(out, "result: VERIFIED"));
    ck_assert_msg(!strstr(out, "signature seq"), "%s", out);

    /* the same file with its signature altered fails */
    char *sig = strstr(resp, "\"signature\"");
    ck_assert(sig != NULL);
    sig = strchr(sig + 12, '"') + 1;
    *sig = *sig == '0' ? '1' : '0';
    char bad[320];
    snprintf(bad, sizeof bad, "%s/forged-signature.json", dir);
    FILE *f = fopen(bad, "w");
    fputs(resp, f);
    fclose(f);
    ck_assert_int_eq(verify_file(bad, out, sizeof out), 1);
    ck_assert_msg(strstr(out, "signature seq "), "%s", out);

    /* a database administrator doctors the journey */
    harness_exec(db, "UPDATE corridor.positions SET lat = -1.02 WHERE seal_id = 'EV-1'"
                     " AND chain_seq = 4");
    harness_exec(db, "DELETE FROM corridor.positions WHERE seal_id = 'EV-1' AND chain_seq = 6");
    harness_exec(db, "INSERT INTO corridor.positions (seal_id, ts, lat, lon)"
                     " SELECT 'EV-1', armed_at + interval '1 millisecond', -1.0, 36.0"
                     " FROM corridor.trips");
    ck_assert_int_eq(fetch(trip, file), 200);
    rc = verify_file(file, out, sizeof out);
    ck_assert_msg(rc == 1, "corridor-verify on a doctored trip: %d\n%s", rc, out);
    ck_assert_msg(strstr(out, "changed   seq 4 at "), "%s", out);
    ck_assert_msg(strstr(out, "removed   seq 6"), "%s", out);
    ck_assert_msg(strstr(out, "inserted  seq "), "%s", out);
    ck_assert(strstr(out, "result: TAMPERED"));
    /* and against the database */
    snprintf(cmd, sizeof cmd, "%s/corridord verify --trip %s --db '%s' --key %s", build, trip,
             conninfo, pubfile);
    rc = run(cmd, out, sizeof out);
    ck_assert_msg(rc == 1, "corridord verify: %d\n%s", rc, out);
    ck_assert_msg(strstr(out, "changed   seq 4 at "), "%s", out);
    ck_assert_msg(strstr(out, "removed   seq 6"), "%s", out);
    ck_assert_msg(strstr(out, "inserted  seq "), "%s", out);
    /* the database's own record names the same three */
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM jsonb_array_elements(corridor.trip_verification('%s')"
             " -> 'problems') p WHERE (p->>'seq', p->>'kind') IN (('4', 'changed'),"
             " ('6', 'removed')) OR p->>'kind' = 'inserted'",
             trip);
    ck_assert_int_eq(q(sql), 3);
}
END_TEST

START_TEST(partner_evidence_roles)
{
    int fd = dial();
    login(fd);
    int64_t t0 = (int64_t)time(NULL) - 600;
    send_fix(fd, 36.0, t0);
    const char *trip = arm();
    for (int i = 1; i <= 3; i++)
        send_fix(fd, 36.0 + i * 0.001, t0 + i * 10);
    close(fd);
    /* the trip crossed from Kenya into Uganda (its legs, as the border rule writes them) */
    char sql[512];
    snprintf(sql, sizeof sql,
             "INSERT INTO corridor.trip_legs (trip_id, seal_id, country, entered_at, exited_at)"
             " VALUES ('%s', 'EV-1', 'KE', now() - interval '1 hour', now() - interval '30 min'),"
             " ('%s', 'EV-1', 'UG', now() - interval '30 min', NULL)",
             trip, trip);
    harness_exec(db, sql);
    char path[128], ug[128], tz[128], officer[128];
    snprintf(ug, sizeof ug, "%s", harness_token_create(conninfo, "partner", "UG"));
    snprintf(tz, sizeof tz, "%s", harness_token_create(conninfo, "partner", "TZ"));
    snprintf(officer, sizeof officer, "%s", harness_token_create(conninfo, "officer", NULL));
    snprintf(path, sizeof path, "/api/partner/trips/%s/evidence", trip);
    long audited = q("SELECT count(*) FROM corridor.partner_audit");

    ck_assert_int_eq(
        harness_http_as(srv.http_port, officer, "GET", path, NULL, NULL, resp, sizeof resp), 403);
    ck_assert_int_eq(
        harness_http_as(srv.http_port, NULL, "GET", path, NULL, NULL, resp, sizeof resp), 401);
    /* a partner whose country the trip does not cross does not see it */
    ck_assert_int_eq(harness_http_as(srv.http_port, tz, "GET", path, NULL, NULL, resp, sizeof resp),
                     404);
    /* nor may a partner read the officers' endpoint */
    char opath[128];
    snprintf(opath, sizeof opath, "/api/trips/%s/evidence", trip);
    ck_assert_int_eq(
        harness_http_as(srv.http_port, ug, "GET", opath, NULL, NULL, resp, sizeof resp), 403);
    ck_assert_int_eq(
        harness_http_as(srv.http_port, officer, "GET", opath, NULL, NULL, resp, sizeof resp), 200);
    /* Uganda sees it, and it verifies offline */
    ck_assert_int_eq(harness_http_as(srv.http_port, ug, "GET", path, NULL, NULL, resp, sizeof resp),
                     200);
    char file[320], out[8192];
    snprintf(file, sizeof file, "%s/partner.json", dir);
    FILE *f = fopen(file, "w");
    fputs(resp, f);
    fclose(f);
    int rc = verify_file(file, out, sizeof out);
    ck_assert_msg(rc == 0, "corridor-verify: %d\n%s", rc, out);
    ck_assert_int_eq(q("SELECT count(*) FROM corridor.partner_audit"), audited + 2);
    ck_assert_int_eq(q("SELECT count(*) FROM corridor.partner_audit WHERE country = 'UG'"
                       " AND rows = 1"),
                     1);
    /* a malformed id: 404, audited */
    ck_assert_int_eq(harness_http_as(srv.http_port, ug, "GET", "/api/partner/trips/x/evidence",
                                     NULL, NULL, resp, sizeof resp),
                     404);
    ck_assert_int_eq(q("SELECT count(*) FROM corridor.partner_audit"), audited + 3);
}
END_TEST

START_TEST(usage_errors)
{
    char out[4096], cmd[512];
    snprintf(cmd, sizeof cmd, "%s/corridor-verify 2>&1", build);
    ck_assert_int_eq(run(cmd, out, sizeof out), 2);
    snprintf(cmd, sizeof cmd, "%s/corridor-verify --help", build);
    ck_assert_int_eq(run(cmd, out, sizeof out), 0);
    ck_assert(strstr(out, "usage: corridor-verify"));
    snprintf(cmd, sizeof cmd, "echo '{\"format\":\"x\"}' | %s/corridor-verify - 2>&1", build);
    ck_assert_int_eq(run(cmd, out, sizeof out), 2);
    ck_assert(strstr(out, "not an evidence file"));
    snprintf(cmd, sizeof cmd, "%s/corridord key create 2>&1", build);
    ck_assert_int_eq(run(cmd, out, sizeof out), 2);
    /* an existing key file is never overwritten */
    snprintf(cmd, sizeof cmd, "%s/corridord key create --out %s 2>&1", build, keyfile);
    ck_assert_int_eq(run(cmd, out, sizeof out), 1);
    snprintf(cmd, sizeof cmd, "%s/corridord verify --trip %s --db '%s' 2>&1", build,
             "00000000-0000-0000-0000-000000000000", conninfo);
    ck_assert_int_eq(run(cmd, out, sizeof out), 2);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("evidence");
    TCase *tc = tcase_create("evidence");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, chain_verify_and_tamper);
    tcase_add_test(tc, partner_evidence_roles);
    tcase_add_test(tc, usage_errors);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
