/*
 * test_db_outage.c: PostgreSQL itself stops under load and starts again (issue 20).
 *
 * The test runs its own throwaway cluster (scripts/pg.sh in a temporary folder), so that
 * it may stop it without touching the PostgreSQL the other suites share. corridord gets a
 * multi-host conninfo whose first host does not exist ("host=/nonexistent,SOCKET
 * target_session_attrs=read-write"): every connection of the server (ingest batches and
 * control, web, dispatch) must reach the database through libpq's own host list.
 *
 * Load: JOBS JT/T 808 terminals with WINDOW reports in flight each, and OSM_CONNS OsmAnd
 * keep-alive connections with one request in flight each, as devices do. Then:
 *   1. the ingest backends are cut (pg_terminate_backend) while batches are in flight: the
 *      worker re-makes its connection at once and sends the held batch again
 *      (corridor_batch_retries_total grows);
 *   2. PostgreSQL stops (pg_ctl -m fast) for OUTAGE_S seconds and starts again.
 * Asserted: every report is answered (JT/T 808 0x8001 result 0 or 1, OsmAnd 200 or 503 with
 * Retry-After), none waits longer than ANSWER_BOUND_MS; nothing is acknowledged while the
 * database is down; every report acknowledged 0 / 200 is in the database; /api/health says
 * degraded during the outage and ok after; acknowledgements resume within RESUME_BOUND_MS of
 * the restart; each connection of the server is back (pg_stat_activity).
 */
#include "harness.h"
#include "jt808.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define JOBS            200  /* JT/T 808 terminals */
#define WINDOW          16   /* reports in flight per terminal */
#define OSM_CONNS       32   /* OsmAnd connections (one seal each) */
#define OUTAGE_S        6    /* PostgreSQL stopped this long */
#define ANSWER_BOUND_MS 8000 /* no report waits longer for its answer */
#define RESUME_BOUND_MS 10000
#define SEQ_MAX         20000 /* reports per device at most (one a second of device time) */

static char pgdir[256], sock[300], admin_ci[512], server_ci[512];
static int pgport;
static harness_server srv;
static long base_s; /* device time of seq 0 */

static int64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void pg(const char *verb)
{
    char cmd[700];
    snprintf(cmd, sizeof cmd, "%s/scripts/pg.sh %s %s %d >/dev/null", CORRIDOR_SOURCE_DIR, verb,
             pgdir, pgport);
    ck_assert_msg(system(cmd) == 0, "%s failed", cmd);
}

/* ---- what the devices were told ---- */

static struct {
    long *acked; /* device * SEQ_MAX + seq, answered 0 / 200 */
    size_t n, cap;
    long refused, bad, during_outage, late_answers;
    int64_t max_wait_ms;
} tally;

static int outage; /* 1 while PostgreSQL is stopped (acknowledgements are errors) */

static void acked(int dev, int seq)
{
    if (outage)
        tally.during_outage++;
    if (tally.n == tally.cap) {
        tally.cap = tally.cap ? tally.cap * 2 : 8192;
        tally.acked = realloc(tally.acked, tally.cap * sizeof *tally.acked);
        ck_assert(tally.acked != NULL);
    }
    tally.acked[tally.n++] = (long)dev * SEQ_MAX + seq;
}

static void waited(int64_t sent_ms)
{
    int64_t w = now_ms() - sent_ms;
    if (w > tally.max_wait_ms)
        tally.max_wait_ms = w;
}

/* ---- JT/T 808 terminals ---- */

struct slot {
    uint16_t serial;
    int seq; /* -1: free */
    int64_t sent_ms;
};

struct term {
    int fd, state; /* 0 registering, 1 authenticating, 2 reporting */
    char number[16];
    uint16_t serial;
    int next_seq;
    struct slot w[WINDOW];
    int retry[WINDOW * 4], n_retry; /* refused reports, sent again */
    int64_t retry_at_ms;
    ingest_jt808_splitter sp;
    uint8_t in[8192];
    size_t have;
};

static struct term terms[JOBS];

static void jt_send(struct term *t, uint16_t id, const uint8_t *body, size_t len)
{
    ingest_jt808_head h = {.msg_id = id, .serial = ++t->serial};
    snprintf(h.terminal, sizeof h.terminal, "%s", t->number);
    uint8_t frame[2400];
    int n = ingest_jt808_encode(&h, body, len, frame, sizeof frame);
    ck_assert_int_gt(n, 0);
    ck_assert_int_eq(write(t->fd, frame, (size_t)n), n);
}

static void jt_report(struct term *t, struct slot *s, int seq)
{
    uint8_t body[1100];
    ingest_jt808_location l;
    ingest_jt808_location_clear(&l);
    l.lat = -1.0 - (seq % 1000) * 0.0001;
    l.lon = 36.8 + (t - terms) * 0.001;
    l.ts_us = ((int64_t)base_s + seq) * 1000000;
    l.speed_kmh = 40;
    l.status = INGEST_JT808_ST_FIX;
    l.battery = 80;
    int n = ingest_jt808_body_location(body, sizeof body, 0, &l);
    ck_assert_int_gt(n, 0);
    jt_send(t, INGEST_JT808_LOCATION, body, (size_t)n);
    s->serial = t->serial;
    s->seq = seq;
    s->sent_ms = now_ms();
}

static int jt_in_flight(const struct term *t)
{
    int k = 0;
    for (int i = 0; i < WINDOW; i++)
        k += t->w[i].seq >= 0;
    return k;
}

/* Fills the window: refused reports first (after a short pause, as a device re-sends),
 * then new ones while sending is on. */
static void jt_fill(struct term *t, int sending)
{
    for (int i = 0; i < WINDOW; i++) {
        struct slot *s = &t->w[i];
        if (s->seq >= 0)
            continue;
        if (t->n_retry && now_ms() >= t->retry_at_ms)
            jt_report(t, s, t->retry[--t->n_retry]);
        else if (sending && t->next_seq < SEQ_MAX && !t->n_retry)
            jt_report(t, s, t->next_seq++);
    }
}

static void jt_frame(struct term *t, const uint8_t *frame, size_t flen)
{
    ingest_jt808_head h;
    const uint8_t *b;
    size_t bl;
    char why[128];
    ck_assert_msg(ingest_jt808_parse(frame, flen, &h, &b, &bl, why, sizeof why) == 0, "%s", why);
    if (h.msg_id == INGEST_JT808_REGISTER_ACK) {
        uint16_t rs;
        int result;
        char code[65];
        ck_assert_int_eq(ingest_jt808_parse_register_ack(b, bl, &rs, &result, code, sizeof code),
                         0);
        ck_assert_int_eq(result, INGEST_JT808_REG_OK);
        uint8_t body[128];
        ingest_jt808_auth au;
        memset(&au, 0, sizeof au);
        snprintf(au.code, sizeof au.code, "%s", code);
        int n = ingest_jt808_body_auth(body, sizeof body, 0, &au);
        jt_send(t, INGEST_JT808_AUTH, body, (size_t)n);
        t->state = 1;
        return;
    }
    ck_assert_int_eq(h.msg_id, INGEST_JT808_PLAT_ACK);
    uint16_t rs, rid;
    int result;
    ck_assert_int_eq(ingest_jt808_parse_ack(b, bl, &rs, &rid, &result), 0);
    if (rid == INGEST_JT808_AUTH) {
        ck_assert_int_eq(result, INGEST_JT808_OK);
        t->state = 2;
        return;
    }
    ck_assert_int_eq(rid, INGEST_JT808_LOCATION);
    for (int i = 0; i < WINDOW; i++) {
        struct slot *s = &t->w[i];
        if (s->seq < 0 || s->serial != rs)
            continue;
        waited(s->sent_ms);
        if (result == INGEST_JT808_OK) {
            acked((int)(t - terms), s->seq);
        } else if (result == INGEST_JT808_FAIL) {
            tally.refused++;
            t->retry[t->n_retry++] = s->seq;
            t->retry_at_ms = now_ms() + 200;
        } else {
            tally.bad++;
        }
        s->seq = -1;
        return;
    }
    ck_abort_msg("terminal %s: answer to serial %u that is not in flight", t->number, rs);
}

static void jt_read(struct term *t)
{
    ssize_t r = read(t->fd, t->in + t->have, sizeof t->in - t->have);
    ck_assert_msg(r > 0, "terminal %s: the server closed the connection", t->number);
    t->have += (size_t)r;
    size_t off = 0;
    while (off < t->have) {
        size_t used, flen;
        const uint8_t *frame;
        int rc = ingest_jt808_split(&t->sp, t->in + off, t->have - off, &used, &frame, &flen);
        off += used;
        if (rc == 1)
            jt_frame(t, frame, flen);
        else if (used == 0)
            break;
    }
    memmove(t->in, t->in + off, t->have - off);
    t->have -= off;
}

/* ---- OsmAnd devices ---- */

struct osm {
    int fd, seq, waiting;
    int64_t sent_ms, retry_at_ms;
    char in[4096];
    size_t have;
};

static struct osm osms[OSM_CONNS];
static long osm_503_without_retry_after;

static void osm_send(struct osm *o)
{
    int dev = JOBS + (int)(o - osms);
    char req[300];
    int n = snprintf(req, sizeof req,
                     "GET /?id=OUT-OSM-%02d&lat=%.5f&lon=36.9&timestamp=%ld HTTP/1.1\r\n"
                     "Host: x\r\n\r\n",
                     dev - JOBS, -1.0 - (o->seq % 1000) * 0.0001, base_s + o->seq);
    ck_assert_int_eq(write(o->fd, req, (size_t)n), n);
    o->waiting = 1;
    o->sent_ms = now_ms();
}

static void osm_read(struct osm *o)
{
    ssize_t r = read(o->fd, o->in + o->have, sizeof o->in - 1 - o->have);
    ck_assert_msg(r > 0, "OsmAnd connection closed by the server");
    o->have += (size_t)r;
    o->in[o->have] = 0;
    char *end = strstr(o->in, "\r\n\r\n");
    if (!end)
        return;
    char *cl = strcasestr(o->in, "Content-Length:");
    size_t total = (size_t)(end + 4 - o->in) + (cl ? (size_t)atol(cl + 15) : 0);
    if (o->have < total)
        return;
    int st = atoi(o->in + 9);
    waited(o->sent_ms);
    if (st == 200) {
        acked(JOBS + (int)(o - osms), o->seq);
        o->seq++;
    } else if (st == 503) {
        tally.refused++;
        o->retry_at_ms = now_ms() + 200; /* a real device waits Retry-After */
        *end = 0;
        if (!strcasestr(o->in, "\r\nRetry-After:"))
            osm_503_without_retry_after++;
    } else {
        tally.bad++;
    }
    memmove(o->in, o->in + total, o->have - total);
    o->have -= total;
    o->waiting = 0;
}

static int dial(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert(fd >= 0);
    ck_assert(connect(fd, (struct sockaddr *)&a, sizeof a) == 0);
    return fd;
}

/* Runs every device for ms milliseconds; sending: new reports go out (else only the
 * refused ones are sent again, and in-flight ones awaited). Returns early once nothing is
 * in flight when not sending. */
static void drive(int ms, int sending)
{
    static struct pollfd p[JOBS + OSM_CONNS];
    int64_t until = now_ms() + ms;
    while (now_ms() < until) {
        int busy = 0;
        for (int i = 0; i < JOBS; i++) {
            struct term *t = &terms[i];
            if (t->state == 2)
                jt_fill(t, sending);
            busy += jt_in_flight(t) + t->n_retry + (t->state != 2);
            for (int k = 0; k < WINDOW; k++)
                if (t->w[k].seq >= 0 && now_ms() - t->w[k].sent_ms > ANSWER_BOUND_MS)
                    tally.late_answers++;
            p[i] = (struct pollfd){t->fd, POLLIN, 0};
        }
        for (int i = 0; i < OSM_CONNS; i++) {
            struct osm *o = &osms[i];
            if (!o->waiting && sending && now_ms() >= o->retry_at_ms)
                osm_send(o);
            busy += o->waiting;
            if (o->waiting && now_ms() - o->sent_ms > ANSWER_BOUND_MS)
                tally.late_answers++;
            p[JOBS + i] = (struct pollfd){o->fd, POLLIN, 0};
        }
        if (!sending && !busy)
            return;
        if (poll(p, JOBS + OSM_CONNS, 20) <= 0)
            continue;
        for (int i = 0; i < JOBS; i++)
            if (p[i].revents)
                jt_read(&terms[i]);
        for (int i = 0; i < OSM_CONNS; i++)
            if (p[JOBS + i].revents)
                osm_read(&osms[i]);
    }
}

static int health_degraded(void)
{
    char resp[512];
    int st = harness_http(srv.http_port, "GET", "/api/health", NULL, NULL, resp, sizeof resp);
    ck_assert_msg(st == 200 || st == 503, "health answered %d", st);
    return strstr(resp, "\"degraded\"") != NULL;
}

static unsigned long long metric(const char *name)
{
    static char resp[256 * 1024];
    ck_assert_int_eq(harness_http(srv.http_port, "GET", "/metrics", NULL, NULL, resp, sizeof resp),
                     200);
    char key[128];
    snprintf(key, sizeof key, "\n%s ", name); /* the sample line, not its # HELP */
    const char *m = strstr(resp, key);
    ck_assert_msg(m != NULL, "no metric %s", name);
    return strtoull(m + strlen(key), NULL, 10);
}

static int cmp_long(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

/* Every report answered 0 / 200 is in the database. */
static void check_acked_stored(PGconn *db)
{
    PGresult *r = PQexec(db, "SELECT CASE WHEN seal_id LIKE 'OUT-OSM-%' "
                             "THEN 200 + substr(seal_id, 9)::int ELSE substr(seal_id, 5)::int END, "
                             "extract(epoch FROM ts)::bigint FROM corridor.positions "
                             "WHERE seal_id LIKE 'OUT-%'");
    ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
    size_t rows = (size_t)PQntuples(r);
    long *stored = malloc((rows + 1) * sizeof *stored);
    for (size_t i = 0; i < rows; i++)
        stored[i] =
            atol(PQgetvalue(r, (int)i, 0)) * SEQ_MAX + atol(PQgetvalue(r, (int)i, 1)) - base_s;
    PQclear(r);
    qsort(stored, rows, sizeof *stored, cmp_long);
    size_t missing = 0;
    for (size_t i = 0; i < tally.n; i++)
        if (!bsearch(&tally.acked[i], stored, rows, sizeof *stored, cmp_long))
            missing++;
    free(stored);
    ck_assert_msg(missing == 0, "%zu of %zu acknowledged reports are not in the database", missing,
                  tally.n);
}

static void setup(void)
{
    pgport = harness_free_port();
    snprintf(pgdir, sizeof pgdir, "/tmp/corridor-outage-%d", (int)getpid());
    pg("start");
    char cmd[700], line[600];
    snprintf(cmd, sizeof cmd, "%s/scripts/pg.sh env %s %d", CORRIDOR_SOURCE_DIR, pgdir, pgport);
    FILE *f = popen(cmd, "r");
    ck_assert(f && fgets(line, sizeof line, f));
    pclose(f);
    char *a = strstr(line, "PGHOST='"), *b = a ? strchr(a + 8, '\'') : NULL;
    ck_assert_msg(a && b, "pg.sh env said: %s", line);
    snprintf(sock, sizeof sock, "%.*s", (int)(b - a - 8), a + 8);
    snprintf(admin_ci, sizeof admin_ci, "host=%s port=%d user=postgres dbname=postgres", sock,
             pgport);
    PGconn *adm = harness_connect(admin_ci);
    harness_exec(adm, "CREATE DATABASE corridor_outage");
    PQfinish(adm);
    /* the first host does not exist: libpq must go on to the second for every connection */
    snprintf(server_ci, sizeof server_ci,
             "host=/nonexistent-corridor-host,%s port=%d user=postgres dbname=corridor_outage "
             "target_session_attrs=read-write",
             sock, pgport);
}

static void teardown(void)
{
    if (srv.pid > 0)
        harness_server_stop(&srv, 1);
    pg("stop");
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf \"$(readlink -f %s/pgdata)\" %s", pgdir, pgdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", pgdir);
}

START_TEST(postgres_stops_under_load)
{
    harness_server_start(&srv, server_ci, "--workers", "2", NULL);
    PGconn *db = harness_connect(server_ci);
    harness_exec(db, "INSERT INTO corridor.seals(id, protocol, device_id, timezone) "
                     "SELECT 'OUT-' || lpad(i::text, 4, '0'), 'jt808', "
                     "'0188' || lpad(i::text, 8, '0'), '+00:00' FROM generate_series(0, 199) i");
    harness_exec(db, "INSERT INTO corridor.seals(id, protocol, device_id) "
                     "SELECT 'OUT-OSM-' || lpad(i::text, 2, '0'), 'osmand', "
                     "'OUT-OSM-' || lpad(i::text, 2, '0') FROM generate_series(0, 31) i");
    base_s = (long)time(NULL) - 6 * 3600;

    for (int i = 0; i < JOBS; i++) {
        struct term *t = &terms[i];
        memset(t, 0, sizeof *t);
        for (int k = 0; k < WINDOW; k++)
            t->w[k].seq = -1;
        snprintf(t->number, sizeof t->number, "0188%08d", i);
        ingest_jt808_splitter_init(&t->sp);
        t->fd = dial(srv.jt808_port);
        uint8_t body[128];
        ingest_jt808_register reg = {.province = 11};
        int n = ingest_jt808_body_register(body, sizeof body, 0, &reg);
        jt_send(t, INGEST_JT808_REGISTER, body, (size_t)n);
    }
    for (int i = 0; i < OSM_CONNS; i++) {
        memset(&osms[i], 0, sizeof osms[i]);
        osms[i].fd = dial(srv.osmand_port);
    }
    drive(2500, 1);
    for (int i = 0; i < JOBS; i++)
        ck_assert_msg(terms[i].state == 2, "terminal %d did not authenticate", i);
    size_t before = tally.n;
    ck_assert_msg(before > 1000, "only %zu reports acknowledged before the outage", before);

    /* 1. the ingest backends are cut with batches in flight: sent again, not refused */
    PGconn *adm = harness_connect(admin_ci);
    unsigned long long retries0 = metric("corridor_batch_retries_total");
    for (int i = 0; i < 10; i++) {
        harness_exec(adm, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE application_name = 'corridord-ingest'");
        drive(150, 1);
    }
    PQfinish(adm);
    unsigned long long retries = metric("corridor_batch_retries_total") - retries0;
    ck_assert_msg(retries > 0, "no held batch was sent again after its connection was cut");

    /* 2. PostgreSQL stops */
    PQfinish(db);
    drive(500, 1);
    size_t at_stop = tally.n;
    long refused_at_stop = tally.refused;
    pg("stop");
    int64_t stopped = now_ms();
    drive(300, 1); /* the answers of the batches in flight when it stopped */
    outage = 1;
    int degraded = 0;
    while (now_ms() - stopped < OUTAGE_S * 1000) {
        drive(1000, 1);
        degraded |= health_degraded();
    }
    outage = 0;
    ck_assert_msg(degraded, "/api/health never said degraded while PostgreSQL was stopped");
    ck_assert_msg(tally.during_outage == 0, "%ld reports acknowledged while PostgreSQL was down",
                  tally.during_outage);
    ck_assert_msg(tally.refused > refused_at_stop, "nothing was refused during the outage");

    /* 3. PostgreSQL starts again: acknowledgements resume within the bound */
    pg("start");
    int64_t started = now_ms();
    size_t at_start = tally.n;
    while (tally.n == at_start && now_ms() - started < RESUME_BOUND_MS)
        drive(50, 1);
    int64_t resume_ms = now_ms() - started;
    ck_assert_msg(tally.n > at_start, "no acknowledgement within %d ms of the restart",
                  RESUME_BOUND_MS);
    drive(2500, 1);
    drive(ANSWER_BOUND_MS, 0); /* stop sending: every report in flight gets its answer */
    for (int i = 0; i < JOBS; i++)
        ck_assert_msg(jt_in_flight(&terms[i]) == 0 && terms[i].n_retry == 0,
                      "terminal %d still waits for answers", i);
    for (int i = 0; i < OSM_CONNS; i++)
        ck_assert_msg(!osms[i].waiting, "OsmAnd device %d still waits for its answer", i);
    ck_assert_msg(tally.late_answers == 0 && tally.max_wait_ms <= ANSWER_BOUND_MS,
                  "a report waited %lld ms for its answer (bound %d)", (long long)tally.max_wait_ms,
                  ANSWER_BOUND_MS);
    ck_assert_int_eq(tally.bad, 0);
    ck_assert_int_eq(osm_503_without_retry_after, 0);
    ck_assert_msg(!health_degraded(), "/api/health still degraded after the restart");

    /* every connection of the server is back, through the host list */
    db = harness_connect(server_ci);
    long apps = 0;
    for (int i = 0; i < 50 && apps < 4; i++) {
        apps = harness_query_long(db, "SELECT count(DISTINCT application_name) FROM "
                                      "pg_stat_activity WHERE application_name IN "
                                      "('corridord-ingest', 'corridord-ingest-ctl', "
                                      "'corridor-web', 'corridor-dispatch')");
        if (apps < 4)
            drive(100, 0);
    }
    ck_assert_int_eq(apps, 4);
    check_acked_stored(db);
    fprintf(stderr,
            "  %zu reports acknowledged (%zu before the stop), %ld refused (result 1 / 503), "
            "%llu held batches sent again, longest wait %lld ms, first acknowledgement %lld ms "
            "after the restart; every acknowledged report stored\n",
            tally.n, at_stop, tally.refused, retries, (long long)tally.max_wait_ms,
            (long long)resume_ms);
    PQfinish(db);
    for (int i = 0; i < JOBS; i++)
        close(terms[i].fd);
    for (int i = 0; i < OSM_CONNS; i++)
        close(osms[i].fd);
    harness_server_stop(&srv, 0);
    free(tally.acked);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("db_outage");
    TCase *tc = tcase_create("db_outage");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, postgres_stops_under_load);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
