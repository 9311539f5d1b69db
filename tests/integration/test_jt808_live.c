/*
 * test_jt808_live.c: an e-seal speaking JT/T 808 to the real corridord over a real
 * socket: register (refused for an unknown terminal), authenticate, report, a blind-area
 * batch, a bad frame, the proof that 0x8001 goes out only after the commit, and that a
 * batch goes when it is due rather than whenever the one before commits.
 */
#include "harness.h"
#include "jt808.h"

#include <arpa/inet.h>
#include <check.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define TERMINAL "013912345678"

static harness_server srv;
static PGconn *db;
static uint16_t serial;

static void setup(void)
{
    const char *conninfo = harness_db_create("corridor_test_jt808");
    /* batches wait up to 250 ms: batches_go_when_due tells due from sent-at-once */
    harness_server_start(&srv, conninfo, "--workers", "1", "--batch-ms", "250", NULL);
    db = harness_connect(conninfo);
    harness_exec(db, "INSERT INTO corridor.seals(id, protocol, device_id, timezone) VALUES "
                     "('KE-LOCK-1', 'jt808', '" TERMINAL "', '+03:00')");
}

static void teardown(void)
{
    PQfinish(db);
    harness_server_stop(&srv, 0);
}

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

static void send_msg(int fd, const char *terminal, uint16_t id, const uint8_t *body, size_t len)
{
    ingest_jt808_head h = {.msg_id = id, .serial = ++serial};
    snprintf(h.terminal, sizeof h.terminal, "%s", terminal);
    uint8_t frame[4096];
    int n = ingest_jt808_encode(&h, body, len, frame, sizeof frame);
    ck_assert_int_gt(n, 0);
    ck_assert_int_eq(write(fd, frame, (size_t)n), n);
}

/* Waits up to ms for one frame from the server; returns 1 with its head and body copied,
 * 0 on timeout. */
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
            size_t used;
            const uint8_t *frame, *b;
            size_t flen, bl;
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

static int expect_ack(int fd, int ms, uint16_t reply_id)
{
    ingest_jt808_head h;
    uint8_t body[1100];
    size_t blen;
    if (!recv_msg(fd, ms, &h, body, &blen))
        return -1;
    ck_assert_int_eq(h.msg_id, INGEST_JT808_PLAT_ACK);
    uint16_t rs, rid;
    int result;
    ck_assert_int_eq(ingest_jt808_parse_ack(body, blen, &rs, &rid, &result), 0);
    ck_assert_int_eq(rid, reply_id);
    ck_assert_int_eq(rs, serial);
    return result;
}

static long count(const char *sql)
{
    return harness_query_long(db, sql);
}

/* Authenticates terminal on fd with the code its registration got. */
static void authenticate(int fd, const char *terminal, const char *code)
{
    uint8_t body[1100];
    ingest_jt808_auth auth;
    memset(&auth, 0, sizeof auth);
    snprintf(auth.code, sizeof auth.code, "%s", code);
    int n = ingest_jt808_body_auth(body, sizeof body, 0, &auth);
    send_msg(fd, terminal, INGEST_JT808_AUTH, body, (size_t)n);
    ck_assert_int_eq(expect_ack(fd, 5000, INGEST_JT808_AUTH), INGEST_JT808_OK);
}

/* Registers and authenticates terminal on fd. */
static void login(int fd, const char *terminal)
{
    uint8_t body[1100];
    ingest_jt808_head h;
    size_t blen;
    char code[65];
    uint16_t rs;
    int result;
    ingest_jt808_register reg = {.province = 11};
    int n = ingest_jt808_body_register(body, sizeof body, 0, &reg);
    send_msg(fd, terminal, INGEST_JT808_REGISTER, body, (size_t)n);
    ck_assert(recv_msg(fd, 5000, &h, body, &blen));
    ck_assert_int_eq(ingest_jt808_parse_register_ack(body, blen, &rs, &result, code, sizeof code),
                     0);
    ck_assert_int_eq(result, INGEST_JT808_REG_OK);
    authenticate(fd, terminal, code);
}

static size_t location(uint8_t *out, double lat, double lon, int64_t ts_us, uint32_t status,
                       uint32_t alarm)
{
    ingest_jt808_location l;
    ingest_jt808_location_clear(&l);
    l.lat = lat;
    l.lon = lon;
    l.ts_us = ts_us;
    l.speed_kmh = 42.5;
    l.course = 290;
    l.altitude = 12;
    l.status = status | INGEST_JT808_ST_FIX;
    l.alarm = alarm;
    l.battery = 77;
    int n = ingest_jt808_body_location(out, 1100, 180 /* the seal's +03:00 */, &l);
    ck_assert_int_gt(n, 0);
    return (size_t)n;
}

START_TEST(register_auth_report)
{
    int fd = dial();
    ingest_jt808_head h;
    uint8_t body[1100];
    size_t blen;
    char code[65];
    uint16_t rs;
    int result;
    ingest_jt808_register reg = {.province = 11, .city = 1};
    snprintf(reg.maker, sizeof reg.maker, "JOINT");
    snprintf(reg.model, sizeof reg.model, "JT701");
    snprintf(reg.term_id, sizeof reg.term_id, "1234567");
    snprintf(reg.plate, sizeof reg.plate, "KCA123A");

    /* an unknown terminal is refused: 4, no such terminal */
    int n = ingest_jt808_body_register(body, sizeof body, 0, &reg);
    send_msg(fd, "013900000000", INGEST_JT808_REGISTER, body, (size_t)n);
    ck_assert(recv_msg(fd, 5000, &h, body, &blen));
    ck_assert_int_eq(h.msg_id, INGEST_JT808_REGISTER_ACK);
    ck_assert_int_eq(ingest_jt808_parse_register_ack(body, blen, &rs, &result, code, sizeof code),
                     0);
    ck_assert_int_eq(result, INGEST_JT808_REG_NO_TERMINAL);

    /* the registered one gets an auth code */
    n = ingest_jt808_body_register(body, sizeof body, 0, &reg);
    send_msg(fd, TERMINAL, INGEST_JT808_REGISTER, body, (size_t)n);
    ck_assert(recv_msg(fd, 5000, &h, body, &blen));
    ck_assert_int_eq(ingest_jt808_parse_register_ack(body, blen, &rs, &result, code, sizeof code),
                     0);
    ck_assert_int_eq(result, INGEST_JT808_REG_OK);
    ck_assert_int_eq(rs, serial);
    ck_assert(strlen(code) > 0);

    /* a location before authentication is refused */
    int64_t t = ((int64_t)time(NULL) - 300) * 1000000;
    n = (int)location(body, -1.2921, 36.8219, t, INGEST_JT808_ST_DOOR_LOCKED, 0);
    send_msg(fd, TERMINAL, INGEST_JT808_LOCATION, body, (size_t)n);
    ck_assert_int_eq(expect_ack(fd, 5000, INGEST_JT808_LOCATION), INGEST_JT808_FAIL);
    ck_assert_int_eq(count("SELECT count(*) FROM corridor.positions"), 0);

    authenticate(fd, TERMINAL, code);

    n = (int)location(body, -1.2921, 36.8219, t, INGEST_JT808_ST_DOOR_LOCKED, 0);
    send_msg(fd, TERMINAL, INGEST_JT808_LOCATION, body, (size_t)n);
    ck_assert_int_eq(expect_ack(fd, 5000, INGEST_JT808_LOCATION), INGEST_JT808_OK);
    /* acknowledged, so committed: the row is there with the device's values */
    PGresult *r = PQexec(db, "SELECT seal_id, lat, lon, speed_kmh, bearing, battery, lock, "
                             "extract(epoch FROM ts)::bigint FROM corridor.positions");
    ck_assert_int_eq(PQntuples(r), 1);
    ck_assert_str_eq(PQgetvalue(r, 0, 0), "KE-LOCK-1");
    ck_assert_double_eq_tol(atof(PQgetvalue(r, 0, 1)), -1.2921, 1e-6);
    ck_assert_double_eq_tol(atof(PQgetvalue(r, 0, 2)), 36.8219, 1e-6);
    ck_assert_double_eq_tol(atof(PQgetvalue(r, 0, 3)), 42.5, 1e-3);
    ck_assert_double_eq_tol(atof(PQgetvalue(r, 0, 4)), 290, 1e-3);
    ck_assert_double_eq_tol(atof(PQgetvalue(r, 0, 5)), 77, 1e-3);
    ck_assert_str_eq(PQgetvalue(r, 0, 6), "locked");
    ck_assert_int_eq(atol(PQgetvalue(r, 0, 7)), t / 1000000);
    PQclear(r);

    /* a blind-area batch of three: one acknowledgement, three rows, stored late */
    ingest_jt808_location batch[3];
    for (int i = 0; i < 3; i++) {
        ingest_jt808_location_clear(&batch[i]);
        batch[i].lat = -1.30 - i * 0.01;
        batch[i].lon = 36.85;
        batch[i].ts_us = t - (int64_t)(3 - i) * 60 * 1000000;
        batch[i].status = INGEST_JT808_ST_FIX | INGEST_JT808_ST_DOOR_LOCKED;
    }
    n = ingest_jt808_body_batch(body, sizeof body, 180, 1, batch, 3);
    ck_assert_int_gt(n, 0);
    send_msg(fd, TERMINAL, INGEST_JT808_BATCH, body, (size_t)n);
    ck_assert_int_eq(expect_ack(fd, 5000, INGEST_JT808_BATCH), INGEST_JT808_OK);
    ck_assert_int_eq(count("SELECT count(*) FROM corridor.positions WHERE late"), 3);

    /* a frame with a bad checksum is dropped unanswered; the connection carries on */
    uint8_t bad[64];
    ingest_jt808_head hb = {.msg_id = INGEST_JT808_HEARTBEAT, .serial = 999};
    snprintf(hb.terminal, sizeof hb.terminal, TERMINAL);
    int bn = ingest_jt808_encode(&hb, NULL, 0, bad, sizeof bad);
    bad[bn - 2] ^= 0x01; /* the checksum byte (never 0x7d/0x7e after the flip here) */
    ck_assert_int_eq(write(fd, bad, (size_t)bn), bn);
    send_msg(fd, TERMINAL, INGEST_JT808_HEARTBEAT, NULL, 0);
    ck_assert_int_eq(expect_ack(fd, 5000, INGEST_JT808_HEARTBEAT), INGEST_JT808_OK);
    close(fd);
}
END_TEST

START_TEST(ack_only_after_commit)
{
    int fd = dial();
    uint8_t body[1100];
    login(fd, TERMINAL);

    PGconn *blocker = harness_connect(srv.db);
    harness_exec(blocker, "BEGIN");
    harness_exec(blocker, "LOCK TABLE corridor.latest IN ACCESS EXCLUSIVE MODE");
    int n = (int)location(body, -0.5, 35.5, ((int64_t)time(NULL) - 10) * 1000000,
                          INGEST_JT808_ST_DOOR_LOCKED, 0);
    send_msg(fd, TERMINAL, INGEST_JT808_LOCATION, body, (size_t)n);
    ck_assert_int_eq(expect_ack(fd, 1500, INGEST_JT808_LOCATION), -1); /* nothing yet */
    ck_assert_int_eq(count("SELECT count(*) FROM corridor.positions WHERE lat = -0.5"), 0);
    harness_exec(blocker, "COMMIT");
    ck_assert_int_eq(expect_ack(fd, 10000, INGEST_JT808_LOCATION), INGEST_JT808_OK);
    ck_assert_int_eq(count("SELECT count(*) FROM corridor.positions WHERE lat = -0.5"), 1);
    PQfinish(blocker);
    close(fd);
}
END_TEST

/* The database goes away under a connected terminal: its reports are answered result 1
 * (failure, re-send), never left unanswered and never acknowledged 0; once the database is
 * back the worker reconnects by itself and the re-sent report is stored and acknowledged. */
START_TEST(database_outage_answers_failure)
{
    int fd = dial();
    uint8_t body[1100];
    char sql[1024];
    login(fd, TERMINAL);
    const char *dbname = srv.db + strlen("dbname=");
    PGconn *admin = harness_connect("dbname=postgres");
    snprintf(sql, sizeof sql, "ALTER DATABASE %s ALLOW_CONNECTIONS false", dbname);
    harness_exec(admin, sql);
    snprintf(sql, sizeof sql,
             "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '%s'", dbname);
    harness_exec(admin, sql);
    PQfinish(db);
    db = NULL;
    /* a second no other test of the suite uses: (seal_id, ts) is unique, the suite shares a seal */
    int n = (int)location(body, -0.6, 35.6, ((int64_t)time(NULL) - 47) * 1000000,
                          INGEST_JT808_ST_DOOR_LOCKED, 0);
    for (int i = 0; i < 3; i++) {
        send_msg(fd, TERMINAL, INGEST_JT808_LOCATION, body, (size_t)n);
        ck_assert_int_eq(expect_ack(fd, 5000, INGEST_JT808_LOCATION), INGEST_JT808_FAIL);
    }
    snprintf(sql, sizeof sql, "ALTER DATABASE %s ALLOW_CONNECTIONS true", dbname);
    harness_exec(admin, sql);
    PQfinish(admin);
    int result = -1;
    for (int i = 0; i < 40 && result != INGEST_JT808_OK; i++) {
        send_msg(fd, TERMINAL, INGEST_JT808_LOCATION, body, (size_t)n);
        result = expect_ack(fd, 5000, INGEST_JT808_LOCATION);
        ck_assert_msg(result == INGEST_JT808_OK || result == INGEST_JT808_FAIL,
                      "answer %d after the outage", result);
        if (result != INGEST_JT808_OK)
            usleep(250 * 1000);
    }
    ck_assert_int_eq(result, INGEST_JT808_OK);
    db = harness_connect(srv.db);
    ck_assert_int_eq(count("SELECT count(*) FROM corridor.positions WHERE lat = -0.6"), 1);
    close(fd);
}
END_TEST

/* A seal back from a coverage gap replays an hour of fixes (0x0704, blind area) before it
 * reports live: they are evaluated in time order, and the event they raise says it is
 * history ("backfilled" with the delay). */
START_TEST(backfill_events_marked)
{
    harness_exec(db, "INSERT INTO corridor.seals(id, protocol, device_id) VALUES "
                     "('KE-LOCK-2', 'jt808', '013900000002')");
    harness_exec(db, "INSERT INTO corridor.geofences(name, kind, geom) VALUES ('Quarry', "
                     "'restricted', ST_Multi(ST_MakeEnvelope(37.0,-2.05,37.1,-1.95,4326)))");
    int fd = dial();
    uint8_t body[1100];
    login(fd, "013900000002");

    ingest_jt808_location batch[3];
    int64_t hour_ago = ((int64_t)time(NULL) - 3600) * 1000000;
    for (int i = 0; i < 3; i++) {
        ingest_jt808_location_clear(&batch[i]);
        batch[i].lat = i == 2 ? -2.0 : -2.3; /* the third fix is in the quarry */
        batch[i].lon = 37.05;
        batch[i].ts_us = hour_ago + (int64_t)i * 60 * 1000000;
        batch[i].status = INGEST_JT808_ST_FIX | INGEST_JT808_ST_DOOR_LOCKED;
    }
    int n = ingest_jt808_body_batch(body, sizeof body, 180, 1, batch, 3);
    send_msg(fd, "013900000002", INGEST_JT808_BATCH, body, (size_t)n);
    ck_assert_int_eq(expect_ack(fd, 5000, INGEST_JT808_BATCH), INGEST_JT808_OK);
    ck_assert_int_eq(count("SELECT count(*) FROM corridor.events WHERE seal_id = 'KE-LOCK-2' "
                           "AND kind = 'fence_enter' AND (details->>'backfilled')::bool "
                           "AND (details->>'delay_s')::int >= 3400"),
                     1);
    close(fd);
}
END_TEST

static long batches_sent(void)
{
    static char resp[1 << 16];
    ck_assert_int_eq(harness_http(srv.http_port, "GET", "/metrics", NULL, NULL, resp, sizeof resp),
                     200);
    const char *p = strstr(resp, "\ncorridor_batch_seconds_count ");
    ck_assert_ptr_nonnull(p);
    return atol(p + strlen("\ncorridor_batch_seconds_count "));
}

/* Below capacity a batch goes when it is due: full, or --batch-ms (here 250) after its
 * first fix; not at once whenever the batch before it commits, which sent a batch of a
 * few fixes every few ms, each paying the statement's fixed cost (at 10,000 pings/s that
 * took most of the machine). A device reporting every millisecond for 2.5 s without waiting
 * for its acknowledgements fills about ten batches; sent at each commit they were hundreds
 * (every batch found the next few fixes waiting when it committed). */
START_TEST(batches_go_when_due)
{
    harness_exec(db, "INSERT INTO corridor.seals(id, protocol, device_id) VALUES "
                     "('KE-LOCK-3', 'jt808', '013900000003')");
    int fd = dial();
    uint8_t body[1100];
    login(fd, "013900000003");
    long before = batches_sent();
    int64_t t0 = ((int64_t)time(NULL) - 7200) * 1000000;
    enum { N = 2500 };
    for (int i = 0; i < N; i++) { /* a second apart in device time: every one is stored */
        int n = (int)location(body, -0.9 - i * 1e-4, 35.9, t0 + (int64_t)i * 1000000,
                              INGEST_JT808_ST_DOOR_LOCKED, 0);
        send_msg(fd, "013900000003", INGEST_JT808_LOCATION, body, (size_t)n);
        usleep(1000);
    }
    int ok = 0;
    for (int i = 0; i < N; i++) {
        ingest_jt808_head h;
        size_t blen;
        uint16_t rs, rid;
        int result;
        ck_assert(recv_msg(fd, 10000, &h, body, &blen));
        ck_assert_int_eq(ingest_jt808_parse_ack(body, blen, &rs, &rid, &result), 0);
        ok += rid == INGEST_JT808_LOCATION && result == INGEST_JT808_OK;
    }
    ck_assert_int_eq(ok, N);
    ck_assert_int_eq(count("SELECT count(*) FROM corridor.positions WHERE seal_id = 'KE-LOCK-3'"),
                     N);
    long batches = batches_sent() - before;
    ck_assert_msg(batches >= 2 && batches <= 14, "%ld batches for 2.5 s of fixes", batches);
    close(fd);
}
END_TEST

/* The e-lock items reach the observation (lock from the lock records, a cut cable as
 * tampering, the lock's battery), a malformed trailing item does not cost the fix, and a
 * JT705A-style location is answered with 0x4401 only when its header asks. */
START_TEST(elock_items_and_jt705)
{
    int fd = dial();
    uint8_t body[1100];
    login(fd, TERMINAL);
    int64_t now = (int64_t)time(NULL);
    ingest_jt808_location l;
    ingest_jt808_location_clear(&l);
    l.lat = -0.61, l.lon = 35.61, l.ts_us = (now - 20) * 1000000, l.speed_kmh = 10;
    l.status = INGEST_JT808_ST_FIX | INGEST_JT808_ST_DOOR_LOCKED; /* bit 12 says locked */
    l.elock.n_locks = l.elock.locks_total = 1;
    strcpy(l.elock.locks[0].id, "3300112233");
    strcpy(l.elock.locks[0].card, "00a1b2c3d4");
    l.elock.locks[0].battery = 64;
    l.elock.locks[0].locked = 0; /* the lock record says open */
    l.elock.wire_cut = 1, l.elock.motion = 0, l.elock.cover_open = 0, l.elock.wire_cut_count = 1;
    int n = ingest_jt808_body_location(body, sizeof body, 180, &l);
    ck_assert_int_gt(n, 0);
    body[n++] = 0xd3, body[n++] = 0x09; /* an item that overruns the body */
    send_msg(fd, TERMINAL, INGEST_JT808_LOCATION, body, (size_t)n);
    ck_assert_int_eq(expect_ack(fd, 10000, INGEST_JT808_LOCATION), INGEST_JT808_OK);
    ck_assert_int_eq(count("SELECT count(*) FROM corridor.positions WHERE lat = -0.61 AND "
                           "lock = 'open' AND alarm = 'tampering' AND battery = 64"),
                     1);

    /* 0x5501 with bit 15: stored, then 0x4401 with the device's one-byte serial */
    ingest_jt808_location_clear(&l);
    l.lat = -0.62, l.lon = 35.62, l.ts_us = (now - 10) * 1000000, l.speed_kmh = 0;
    l.status = INGEST_JT808_ST_FIX;
    l.battery = 55;
    int k = ingest_jt808_body_jt705(body, sizeof body, &l, NULL);
    ck_assert_int_eq(k, 35);
    uint8_t frame[256];
    ingest_jt808_head h = {
        .msg_id = INGEST_JT808_JT705_LOCATION, .serial = 0x42, .short_serial = 1, .ack_wanted = 1};
    strcpy(h.terminal, TERMINAL);
    n = ingest_jt808_encode(&h, body, 35, frame, sizeof frame);
    ck_assert_int_eq(write(fd, frame, (size_t)n), n);
    ingest_jt808_head r;
    uint8_t rb[1100];
    size_t rl;
    ck_assert(recv_msg(fd, 10000, &r, rb, &rl));
    ck_assert_int_eq(r.msg_id, INGEST_JT808_JT705_ACK);
    ck_assert_int_eq(r.short_serial, 1);
    ck_assert_int_eq(r.serial, 0x42);
    ck_assert_uint_eq(rl, 3);
    ck_assert_int_eq(rb[0] << 8 | rb[1], INGEST_JT808_JT705_LOCATION);
    ck_assert_int_eq(rb[2], INGEST_JT808_OK);
    ck_assert_int_eq(count("SELECT count(*) FROM corridor.positions WHERE lat = -0.62 AND "
                           "lock IS NULL AND battery = 55"),
                     1);

    /* 0x5502 without bit 15: stored, never answered */
    l.lat = -0.63, l.ts_us = (now - 5) * 1000000;
    ingest_jt808_body_jt705(body, sizeof body, &l, NULL);
    h.msg_id = INGEST_JT808_JT705_BLIND, h.serial = 0x43, h.ack_wanted = 0;
    n = ingest_jt808_encode(&h, body, 35, frame, sizeof frame);
    ck_assert_int_eq(write(fd, frame, (size_t)n), n);
    ck_assert_int_eq(recv_msg(fd, 1500, &r, rb, &rl), 0);
    ck_assert_int_eq(count("SELECT count(*) FROM corridor.positions WHERE lat = -0.63"), 1);
    close(fd);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("jt808_live");
    TCase *tc = tcase_create("device");
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, register_auth_report);
    tcase_add_test(tc, ack_only_after_commit);
    tcase_add_test(tc, database_outage_answers_failure);
    tcase_add_test(tc, backfill_events_marked);
    tcase_add_test(tc, batches_go_when_due);
    tcase_add_test(tc, elock_items_and_jt705);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
