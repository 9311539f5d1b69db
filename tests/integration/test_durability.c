/*
 * test_durability.c: nothing acknowledged is ever lost.
 *   - SIGKILL under load: every ping that got its 200 is in the database; what the
 *     devices re-send after the restart is stored once.
 *   - Database outage under load: the server stays up, stops acknowledging (503),
 *     reports degraded, reconnects by itself and resumes; nothing acknowledged is lost.
 *   - SIGTERM under load: in-flight pings are flushed and answered, the server exits 0.
 * The load is real OsmAnd over many keep-alive connections, one request in flight on
 * each, as devices do.
 */
#include "harness.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CONNS 16
#define SEALS 16

static harness_server srv;
static PGconn *db;
static const char *conninfo;

/* one device connection */
struct dev {
    int fd;
    int seal;
    long seq; /* the ping in flight: its time is base + seq */
    int waiting;
    char in[4096];
    size_t have;
};

/* what the devices were told */
static struct {
    long *acked; /* seal * 1e6 + seq */
    size_t n, cap;
    long refused_503, other, conn_errors;
} tally;

static long base_ms;

static void ack(int seal, long seq)
{
    if (tally.n == tally.cap) {
        tally.cap = tally.cap ? tally.cap * 2 : 4096;
        tally.acked = realloc(tally.acked, tally.cap * sizeof *tally.acked);
        ck_assert(tally.acked != NULL);
    }
    tally.acked[tally.n++] = (long)seal * 1000000 + seq;
}

static int dev_connect(struct dev *d)
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)srv.osmand_port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    d->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (d->fd < 0 || connect(d->fd, (struct sockaddr *)&a, sizeof a)) {
        if (d->fd >= 0)
            close(d->fd);
        d->fd = -1;
        return -1;
    }
    d->have = 0;
    d->waiting = 0;
    return 0;
}

static void dev_send(struct dev *d)
{
    char req[300];
    int n =
        snprintf(req, sizeof req,
                 "GET /?id=DUR-%02d&lat=%.5f&lon=36.8&timestamp=%ld HTTP/1.1\r\nHost: x\r\n\r\n",
                 d->seal, -1.0 - (d->seq % 1000) * 0.0001, base_ms + d->seq);
    if (write(d->fd, req, (size_t)n) != n) {
        close(d->fd);
        d->fd = -1;
        tally.conn_errors++;
        return;
    }
    d->waiting = 1;
}

/* Reads an answer if one is complete; returns its status, 0 if none yet, -1 on close. */
static int dev_read(struct dev *d)
{
    ssize_t r = read(d->fd, d->in + d->have, sizeof d->in - 1 - d->have);
    if (r <= 0)
        return -1;
    d->have += (size_t)r;
    d->in[d->have] = 0;
    char *end = strstr(d->in, "\r\n\r\n");
    if (!end)
        return 0;
    char *cl = strcasestr(d->in, "Content-Length:");
    size_t body = cl ? (size_t)atol(cl + 15) : 0;
    size_t total = (size_t)(end + 4 - d->in) + body;
    if (d->have < total)
        return 0;
    int status = atoi(d->in + 9);
    memmove(d->in, d->in + total, d->have - total);
    d->have -= total;
    return status;
}

/* Drives CONNS devices for ms milliseconds (or until stop() says so), one request in
 * flight per connection; reconnects refused connections every 100 ms. */
static struct dev devs[CONNS];
static long next_seq[SEALS];

static void drive(int ms, int (*stop)(void))
{
    int64_t until = (int64_t)time(NULL) * 1000 + ms;
    for (;;) {
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        if ((int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000 >= until || (stop && stop()))
            break;
        struct pollfd p[CONNS];
        for (int i = 0; i < CONNS; i++) {
            struct dev *d = &devs[i];
            if (d->fd < 0 && dev_connect(d))
                tally.conn_errors++;
            if (d->fd >= 0 && !d->waiting) {
                d->seq = next_seq[d->seal]++;
                dev_send(d);
            }
            p[i].fd = d->fd;
            p[i].events = POLLIN;
        }
        if (poll(p, CONNS, 100) <= 0)
            continue;
        for (int i = 0; i < CONNS; i++) {
            struct dev *d = &devs[i];
            if (d->fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            int st = dev_read(d);
            if (st == 0)
                continue;
            if (st == 200)
                ack(d->seal, d->seq);
            else if (st == 503)
                tally.refused_503++;
            else if (st > 0)
                tally.other++;
            if (st < 0) { /* connection gone: the ping is re-sent later (same seq) */
                close(d->fd);
                d->fd = -1;
                next_seq[d->seal] = d->seq; /* one connection per seal: re-send it */
            }
            d->waiting = 0;
        }
    }
}

static void reset_devs(void)
{
    for (int i = 0; i < CONNS; i++) {
        if (devs[i].fd >= 0)
            close(devs[i].fd);
        devs[i].fd = -1;
        devs[i].waiting = 0;
        devs[i].seal = i % SEALS;
    }
}

static int cmp_long(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

/* Every acknowledged ping is stored, exactly once. */
static void check_acked_stored(void)
{
    ck_assert_msg(tally.n > 100, "only %zu pings acknowledged: the load did not run", tally.n);
    PGresult *r = PQexec(db, "SELECT substr(seal_id, 5)::int * 1000000 + "
                             "(extract(epoch FROM ts) * 1000)::bigint FROM corridor.positions "
                             "WHERE seal_id LIKE 'DUR-%'");
    ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
    size_t rows = (size_t)PQntuples(r);
    long *stored = malloc((rows + 1) * sizeof *stored);
    for (size_t i = 0; i < rows; i++)
        stored[i] = atol(PQgetvalue(r, (int)i, 0)) - base_ms;
    PQclear(r);
    qsort(stored, rows, sizeof *stored, cmp_long);
    for (size_t i = 1; i < rows; i++)
        ck_assert_msg(stored[i] != stored[i - 1], "stored twice: %ld", stored[i]);
    size_t missing = 0;
    for (size_t i = 0; i < tally.n; i++) {
        long key = tally.acked[i];
        if (!bsearch(&key, stored, rows, sizeof *stored, cmp_long))
            missing++;
    }
    free(stored);
    ck_assert_msg(missing == 0, "%zu of %zu acknowledged pings are not in the database", missing,
                  tally.n);
    fprintf(stderr,
            "  %zu acknowledgements, %zu rows, %ld answered 503, %ld connection errors: "
            "every acknowledged ping stored once\n",
            tally.n, rows, tally.refused_503, tally.conn_errors);
}

static void setup(void)
{
    conninfo = harness_db_create("corridor_test_durability");
    harness_server_start(&srv, conninfo, NULL);
    db = harness_connect(conninfo);
    for (int i = 0; i < SEALS; i++) {
        char sql[200];
        snprintf(sql, sizeof sql,
                 "INSERT INTO corridor.seals(id, protocol, device_id) VALUES ('DUR-%02d', "
                 "'osmand', 'DUR-%02d')",
                 i, i);
        harness_exec(db, sql);
    }
    base_ms = ((long)time(NULL) - 3000) * 1000;
    reset_devs();
}

static void teardown(void)
{
    reset_devs();
    PQfinish(db);
    harness_server_stop(&srv, 0);
    free(tally.acked);
    memset(&tally, 0, sizeof tally);
    memset(next_seq, 0, sizeof next_seq);
}

START_TEST(sigkill_under_load)
{
    drive(2000, NULL);
    size_t before = tally.n;
    harness_server_stop(&srv, 1); /* SIGKILL: no flush, no goodbye */
    drive(300, NULL);             /* devices notice, their pings in flight are unanswered */
    harness_server_start(&srv, conninfo, "--no-migrate", NULL);
    reset_devs();
    drive(1500, NULL); /* re-sends of unanswered pings and new ones */
    ck_assert_msg(tally.n > before, "nothing acknowledged after the restart");
    check_acked_stored();
}
END_TEST

static int degraded_seen;

START_TEST(database_outage)
{
    char resp[512], sql[256];
    drive(1000, NULL);
    size_t before = tally.n;
    long refused_before = tally.refused_503;
    /* the outage: nobody may connect, and the server's connections are cut */
    PGconn *admin = harness_connect("dbname=postgres");
    /* the database's name as created (harness_db_create may prefix it) */
    const char *dbname = conninfo + strlen("dbname=");
    snprintf(sql, sizeof sql, "ALTER DATABASE %s ALLOW_CONNECTIONS false", dbname);
    harness_exec(admin, sql);
    snprintf(sql, sizeof sql,
             "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '%s'", dbname);
    harness_exec(admin, sql);
    PQfinish(db);
    db = NULL;
    for (int s = 0; s < 10; s++) {
        size_t at = tally.n;
        drive(1000, NULL);
        if (s >= 2) /* after the in-flight batches failed, nothing more is acknowledged */
            ck_assert_msg(tally.n == at, "acknowledged %zu pings during the outage", tally.n - at);
        int st = harness_http(srv.http_port, "GET", "/api/health", NULL, NULL, resp, sizeof resp);
        if (strstr(resp, "degraded"))
            degraded_seen = 1;
        ck_assert_msg(st == 200 || st == 503, "health answered %d", st);
    }
    ck_assert_msg(degraded_seen, "health never said degraded: %s", resp);
    ck_assert_msg(tally.refused_503 > refused_before, "devices were not told 503");
    /* the database comes back: the server reconnects by itself and resumes */
    snprintf(sql, sizeof sql, "ALTER DATABASE %s ALLOW_CONNECTIONS true", dbname);
    harness_exec(admin, sql);
    PQfinish(admin);
    size_t at = tally.n;
    drive(4000, NULL);
    ck_assert_msg(tally.n > at + 50, "the server did not resume acknowledging");
    ck_assert_int_eq(
        harness_http(srv.http_port, "GET", "/api/health", NULL, NULL, resp, sizeof resp), 200);
    ck_assert_msg(strstr(resp, "\"status\":\"ok\""), "health after the outage: %s", resp);
    ck_assert(tally.n > before);
    db = harness_connect(conninfo);
    check_acked_stored();
}
END_TEST

START_TEST(sigterm_flushes_in_flight)
{
    drive(1500, NULL);
    /* SIGTERM with requests in flight: each is answered (stored) or refused, the server
     * exits 0 (harness_server_stop checks it) */
    kill(srv.pid, SIGTERM);
    drive(1500, NULL);
    int st;
    ck_assert_int_eq(waitpid(srv.pid, &st, 0), srv.pid);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "exit status %d", st);
    srv.pid = 0;
    check_acked_stored();
    harness_server_start(&srv, conninfo, "--no-migrate", NULL); /* for teardown */
}
END_TEST

int main(void)
{
    Suite *s = suite_create("durability");
    TCase *tc = tcase_create("durability");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 180);
    tcase_add_test(tc, sigkill_under_load);
    tcase_add_test(tc, database_outage);
    tcase_add_test(tc, sigterm_flushes_in_flight);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
