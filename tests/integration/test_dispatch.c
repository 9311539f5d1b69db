/*
 * test_dispatch.c: incident handling and rapid response end to end, against a real
 * PostGIS, the real corridord and real corridor-rru clients over nng: the nearest
 * available unit gets the dispatch, acknowledges it and works the incident to resolved;
 * a dispatch is redelivered to a reconnecting client and after a server restart; an
 * unacknowledged dispatch escalates to the next nearest unit and the control room gets a
 * dispatch_unacknowledged incident; two officers acting on one version: one wins, the
 * other gets 409 with the current state.
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

static harness_server srv;
static PGconn *db;
static const char *conninfo;
static char dispatch_url[64];

/* ---- corridor-rru as a child process: commands on its stdin, JSON lines from stdout ---- */
typedef struct rru_proc {
    pid_t pid;
    int in, out;
    char buf[1 << 16];
    size_t len;
} rru_proc;

#define MAX_PROCS 8
static rru_proc *procs[MAX_PROCS];

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* An rru token tied to unit (it must exist); a made-up one for a unit that does not. */
static const char *unit_token(const char *unit)
{
    static char tok[96];
    PGresult *r = PQexecParams(db, "SELECT 1 FROM corridor.rrus WHERE id = $1", 1, NULL, &unit,
                               NULL, NULL, 0);
    int exists = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
    PQclear(r);
    snprintf(tok, sizeof tok, "%s",
             exists ? harness_token_create(conninfo, "rru", unit) : "cor_no_such_token");
    return tok;
}

static rru_proc *rru_start(const char *unit)
{
    const char *token = unit_token(unit);
    const char *build = getenv("CORRIDOR_BUILD");
    char exe[512];
    int in[2], out[2];
    ck_assert(build != NULL);
    snprintf(exe, sizeof exe, "%s/corridor-rru", build);
    ck_assert(pipe(in) == 0 && pipe(out) == 0);
    rru_proc *p = calloc(1, sizeof *p);
    ck_assert(p != NULL);
    p->pid = fork();
    ck_assert(p->pid >= 0);
    if (p->pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[1]);
        close(out[0]);
        /* as docs/incidents.md has it: the token alone, the server tells the unit from it */
        execl(exe, exe, "--server", dispatch_url, "--token", token, "--wait-ms", "2000",
              (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    p->in = in[1];
    p->out = out[0];
    fcntl(p->out, F_SETFL, O_NONBLOCK);
    for (int i = 0; i < MAX_PROCS; i++)
        if (!procs[i]) {
            procs[i] = p;
            break;
        }
    return p;
}

static void rru_stop(rru_proc *p, int sig)
{
    if (!p)
        return;
    for (int i = 0; i < MAX_PROCS; i++)
        if (procs[i] == p)
            procs[i] = NULL;
    int st;
    kill(p->pid, sig);
    waitpid(p->pid, &st, 0);
    close(p->in);
    close(p->out);
    if (sig == SIGTERM)
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "corridor-rru exit status %d", st);
    free(p);
}

/* The next line from p containing want (within timeout_ms) into line; 1, or 0 on timeout.
 * Lines without want are skipped. */
static int rru_expect(rru_proc *p, const char *want, int timeout_ms, char *line, size_t n)
{
    int64_t until = now_ms() + timeout_ms;
    for (;;) {
        char *nl;
        while ((nl = memchr(p->buf, '\n', p->len))) {
            size_t l = (size_t)(nl - p->buf);
            *nl = '\0';
            int hit = strstr(p->buf, want) != NULL;
            if (hit)
                snprintf(line, n, "%s", p->buf);
            memmove(p->buf, nl + 1, p->len - l - 1);
            p->len -= l + 1;
            if (hit)
                return 1;
        }
        int64_t left = until - now_ms();
        if (left <= 0)
            return 0;
        struct pollfd pf = {p->out, POLLIN, 0};
        if (poll(&pf, 1, (int)left) <= 0)
            continue;
        ssize_t r = read(p->out, p->buf + p->len, sizeof p->buf - 1 - p->len);
        if (r <= 0) {
            if (r < 0 && errno == EAGAIN)
                continue;
            return 0; /* exited */
        }
        p->len += (size_t)r;
    }
}

static void rru_say(rru_proc *p, const char *cmd)
{
    size_t n = strlen(cmd);
    ck_assert(write(p->in, cmd, n) == (ssize_t)n);
}

/* corridor-rru's one-shot mode: one action as unit, then its exit status. It names the
 * unit too (--unit, the optional check that the token is that unit's). */
static int rru_once(const char *unit, const char *action, long incident, const char *outcome)
{
    const char *build = getenv("CORRIDOR_BUILD");
    char exe[512], id[32];
    snprintf(exe, sizeof exe, "%s/corridor-rru", build);
    snprintf(id, sizeof id, "%ld", incident);
    const char *token = unit_token(unit);
    pid_t pid = fork();
    ck_assert(pid >= 0);
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        if (outcome)
            execl(exe, exe, "--server", dispatch_url, "--token", token, "--unit", unit, "--action",
                  action, "--incident", id, "--outcome", outcome, (char *)NULL);
        else
            execl(exe, exe, "--server", dispatch_url, "--token", token, "--unit", unit, "--action",
                  action, "--incident", id, (char *)NULL);
        _exit(127);
    }
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert(WIFEXITED(st));
    return WEXITSTATUS(st);
}

/* Runs a shell command, its output (what it sends to the pipe) into out; its wait status. */
static int run_capture(const char *cmd, char *out, size_t n)
{
    FILE *f = popen(cmd, "r");
    ck_assert(f != NULL);
    size_t len = fread(out, 1, n - 1, f);
    out[len] = '\0';
    return pclose(f);
}

/* ---- the server ---- */

static void server_start(const char *ack_timeout)
{
    harness_server_start(&srv, conninfo, "--dispatch", dispatch_url, "--dispatch-ack-timeout",
                         ack_timeout, "--sweep-interval", "1", "--workers", "1", "--batch-ms", "20",
                         NULL);
}

static void setup(void)
{
    memset(procs, 0, sizeof procs);
    conninfo = harness_db_create("alerts_test_dispatch");
    snprintf(dispatch_url, sizeof dispatch_url, "tcp://127.0.0.1:%d", harness_free_port());
    db = harness_connect(conninfo);
}

static void teardown(void)
{
    for (int i = 0; i < MAX_PROCS; i++)
        if (procs[i])
            rru_stop(procs[i], SIGKILL);
    if (srv.pid > 0)
        harness_server_stop(&srv, 0);
    PQfinish(db);
}

/* Two units: U1 near the restricted zone, U2 60 km further east. Seals S1..S4. */
static void seed(void)
{
    char resp[4096];
    ck_assert_int_eq(harness_http(srv.http_port, "POST", "/api/rrus", "application/json",
                                  "{\"id\":\"U1\",\"name\":\"Near\",\"base\":{\"type\":\"Point\","
                                  "\"coordinates\":[36.80,-1.30]}}",
                                  resp, sizeof resp),
                     201);
    ck_assert_int_eq(harness_http(srv.http_port, "POST", "/api/rrus", "application/json",
                                  "{\"id\":\"U2\",\"name\":\"Far\",\"base\":{\"type\":\"Point\","
                                  "\"coordinates\":[37.35,-1.30]}}",
                                  resp, sizeof resp),
                     201);
    harness_exec(db, "INSERT INTO corridor.seals(id, protocol, device_id) VALUES "
                     "('S1','osmand','S1'), ('S2','osmand','S2'), ('S3','osmand','S3')");
    harness_exec(db, "INSERT INTO corridor.geofences(name, kind, geom) VALUES ('Zone', "
                     "'restricted', ST_Multi(ST_MakeEnvelope(36.85,-1.35,36.95,-1.25,4326)))");
}

/* A seal pings inside the restricted zone: the rule opens a critical incident. Returns
 * its id. */
static long open_incident(const char *seal)
{
    char path[256], resp[512], sql[256];
    snprintf(path, sizeof path, "/?id=%s&lat=-1.30&lon=36.90&timestamp=%ld", seal,
             (long)time(NULL) - 5);
    ck_assert_int_eq(harness_http(srv.osmand_port, "GET", path, NULL, NULL, resp, sizeof resp),
                     200);
    snprintf(sql, sizeof sql,
             "SELECT id FROM corridor.incidents WHERE seal_id = '%s' AND "
             "rule = 'restricted_zone_entry' AND status <> 'resolved'",
             seal);
    return harness_query_long(db, sql);
}

static long q(const char *fmt, long id)
{
    char sql[512];
    snprintf(sql, sizeof sql, fmt, id);
    return harness_query_long(db, sql);
}

static void qtext(const char *fmt, long id, char *out, size_t n)
{
    char sql[512];
    snprintf(sql, sizeof sql, fmt, id);
    PGresult *r = PQexec(db, sql);
    ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1, "%s: %s", sql,
                  PQresultErrorMessage(r));
    snprintf(out, n, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
}

START_TEST(nearest_unit_gets_the_dispatch_and_works_it)
{
    char line[1 << 16], want[64], text[256], resp[1 << 15];
    server_start("3");
    seed();
    rru_proc *u1 = rru_start("U1"), *u2 = rru_start("U2");
    ck_assert(rru_expect(u1, "\"type\":\"connected\"", 10000, line, sizeof line));
    ck_assert(rru_expect(u2, "\"type\":\"connected\"", 10000, line, sizeof line));
    long id = open_incident("S1");

    snprintf(want, sizeof want, "\"incident_id\":%ld", id);
    ck_assert_msg(rru_expect(u1, want, 5000, line, sizeof line), "U1 got no dispatch");
    ck_assert_ptr_nonnull(strstr(line, "\"type\":\"dispatch\""));
    ck_assert_ptr_nonnull(strstr(line, "\"rule\":\"restricted_zone_entry\""));
    ck_assert_ptr_nonnull(strstr(line, "\"severity\":\"critical\""));
    /* stored before it was sent: the row exists and counts the delivery */
    ck_assert_int_eq(q("SELECT count(*) FROM corridor.dispatches WHERE incident_id = %ld "
                       "AND rru_id = 'U1' AND sends >= 1",
                       id),
                     1);

    snprintf(text, sizeof text, "ack %ld\n", id);
    rru_say(u1, text);
    ck_assert(rru_expect(u1, "\"type\":\"result\"", 5000, line, sizeof line));
    ck_assert_msg(strstr(line, "\"ok\":true") && strstr(line, "\"status\":\"acknowledged\""),
                  "ack answered %s", line);
    qtext("SELECT status || '|' || rru_id FROM corridor.incidents WHERE id = %ld", id, text,
          sizeof text);
    ck_assert_str_eq(text, "acknowledged|U1");
    qtext("SELECT status FROM corridor.dispatches WHERE incident_id = %ld", id, text, sizeof text);
    ck_assert_str_eq(text, "acknowledged");
    ck_assert_int_eq(q("SELECT count(*) FROM corridor.incident_audit WHERE incident_id = %ld "
                       "AND action = 'ack' AND actor = 'rru:U1' AND from_status = 'dispatched'",
                       id),
                     1);

    /* past the acknowledgement timeout nothing escalates: U2 never hears of it */
    ck_assert(!rru_expect(u2, "\"type\":\"dispatch\"", 4500, line, sizeof line));
    ck_assert_int_eq(q("SELECT count(*) FROM corridor.dispatches WHERE incident_id = %ld", id), 1);

    snprintf(text, sizeof text, "en_route %ld leaving base\n", id);
    rru_say(u1, text);
    ck_assert(rru_expect(u1, "\"type\":\"result\"", 5000, line, sizeof line));
    ck_assert_ptr_nonnull(strstr(line, "\"status\":\"en_route\""));
    snprintf(text, sizeof text, "on_scene %ld\n", id);
    rru_say(u1, text);
    ck_assert(rru_expect(u1, "\"type\":\"result\"", 5000, line, sizeof line));
    ck_assert_ptr_nonnull(strstr(line, "\"status\":\"on_scene\""));
    /* a unit cannot act on another unit's incident */
    snprintf(text, sizeof text, "note %ld not mine\n", id);
    rru_say(u2, text);
    ck_assert(rru_expect(u2, "\"type\":\"result\"", 5000, line, sizeof line));
    ck_assert_msg(strstr(line, "\"ok\":false") && strstr(line, "\"status\":403") &&
                      strstr(line, "not_assigned"),
                  "%s", line);
    snprintf(text, sizeof text, "resolved %ld false_alarm \"seal intact, \\\"paperwork\\\" ok\"\n",
             id);
    rru_say(u1, text);
    ck_assert(rru_expect(u1, "\"type\":\"result\"", 5000, line, sizeof line));
    ck_assert_msg(strstr(line, "\"status\":\"resolved\"") &&
                      strstr(line, "\"outcome\":\"false_alarm\""),
                  "%s", line);
    qtext("SELECT note FROM corridor.incident_audit WHERE incident_id = %ld AND action = "
          "'resolve'",
          id, text, sizeof text);
    ck_assert_str_eq(text, "seal intact, \"paperwork\" ok");
    qtext("SELECT status FROM corridor.rrus WHERE id = 'U1' AND %ld > 0", id, text, sizeof text);
    ck_assert_str_eq(text, "available");

    /* the whole trail at GET /api/incidents/{id} */
    char path[64];
    snprintf(path, sizeof path, "/api/incidents/%ld", id);
    ck_assert_int_eq(harness_http(srv.http_port, "GET", path, NULL, NULL, resp, sizeof resp), 200);
    const char *actions[] = {"\"action\": \"open\"",     "\"action\": \"dispatch\"",
                             "\"action\": \"ack\"",      "\"action\": \"en_route\"",
                             "\"action\": \"on_scene\"", "\"action\": \"resolve\""};
    const char *at = resp;
    for (int i = 0; i < 6; i++) {
        const char *hit = strstr(at, actions[i]);
        ck_assert_msg(hit != NULL, "audit lacks %s in order: %s", actions[i], resp);
        at = hit;
    }
    ck_assert_int_eq(
        harness_http(srv.http_port, "GET", "/api/reports/response", NULL, NULL, resp, sizeof resp),
        200);
    ck_assert_msg(strstr(resp, "\"rru_id\" : \"U1\"") && strstr(resp, "\"breaches\" : 0"), "%s",
                  resp);
    rru_stop(u1, SIGTERM);
    rru_stop(u2, SIGTERM);
}
END_TEST

START_TEST(redelivered_after_reconnect_and_restart)
{
    char line[1 << 16], want[64], text[256], resp[1 << 15];
    server_start("60");
    seed();
    long id = open_incident("S2");
    /* stored while no unit listens (the dispatch clock ticks every second) */
    int64_t until = now_ms() + 5000;
    while (q("SELECT count(*) FROM corridor.dispatches WHERE incident_id = %ld AND "
             "rru_id = 'U1' AND sends = 0",
             id) != 1 &&
           now_ms() < until)
        usleep(100 * 1000);
    ck_assert_int_eq(q("SELECT count(*) FROM corridor.dispatches WHERE incident_id = %ld AND "
                       "rru_id = 'U1' AND sends = 0",
                       id),
                     1);
    snprintf(want, sizeof want, "\"incident_id\":%ld", id);
    rru_proc *u1 = rru_start("U1");
    ck_assert_msg(rru_expect(u1, want, 8000, line, sizeof line), "no first delivery");
    ck_assert_ptr_nonnull(strstr(line, "\"sends\":1"));
    long dispatch_id = q("SELECT id FROM corridor.dispatches WHERE incident_id = %ld", id);
    char did[48];
    snprintf(did, sizeof did, "\"dispatch_id\":%ld,", dispatch_id);
    ck_assert_ptr_nonnull(strstr(line, did));

    /* the unit's client dies without acknowledging: a new one gets it again */
    rru_stop(u1, SIGKILL);
    u1 = rru_start("U1");
    ck_assert_msg(rru_expect(u1, want, 8000, line, sizeof line), "no redelivery on reconnect");
    ck_assert_ptr_nonnull(strstr(line, did));
    ck_assert_ptr_nonnull(strstr(line, "\"sends\":2"));
    rru_stop(u1, SIGKILL);

    /* U2's client stays up across the restart; the server restarts on the same database */
    rru_proc *u2 = rru_start("U2");
    ck_assert(rru_expect(u2, "\"type\":\"connected\"", 10000, line, sizeof line));
    ck_assert_int_eq(harness_server_stop(&srv, 0), 0);
    server_start("60");
    u1 = rru_start("U1");
    ck_assert_msg(rru_expect(u1, want, 10000, line, sizeof line), "no redelivery after restart");
    ck_assert_ptr_nonnull(strstr(line, did));
    ck_assert_ptr_nonnull(strstr(line, "\"sends\":3"));

    /* an officer reassigns to U2: U2's client (which had to redial) gets it, U1 drops it */
    char path[64], body[128];
    snprintf(path, sizeof path, "/api/incidents/%ld/actions", id);
    snprintf(body, sizeof body,
             "{\"action\":\"assign\",\"rru_id\":\"U2\",\"note\":\"U2 is free\"}");
    ck_assert_int_eq(
        harness_http(srv.http_port, "POST", path, "application/json", body, resp, sizeof resp),
        200);
    ck_assert_msg(rru_expect(u2, want, 10000, line, sizeof line), "U2 got nothing after restart");
    snprintf(text, sizeof text, "{\"type\":\"gone\",\"dispatch_id\":%ld}", dispatch_id);
    ck_assert_msg(rru_expect(u1, text, 5000, line, sizeof line), "U1 kept the dispatch (%s)", text);
    snprintf(text, sizeof text, "ack %ld\n", id);
    rru_say(u2, text);
    ck_assert(rru_expect(u2, "\"type\":\"result\"", 5000, line, sizeof line));
    ck_assert_ptr_nonnull(strstr(line, "\"ok\":true"));
    ck_assert_int_eq(q("SELECT count(*) FROM corridor.dispatches WHERE incident_id = %ld AND "
                       "status = 'pending'",
                       id),
                     0);
    rru_stop(u1, SIGTERM);
    rru_stop(u2, SIGTERM);
}
END_TEST

START_TEST(unacknowledged_dispatch_escalates)
{
    char line[1 << 16], want[64], text[256], resp[1 << 16];
    server_start("3");
    seed();
    rru_proc *u1 = rru_start("U1"), *u2 = rru_start("U2");
    ck_assert(rru_expect(u1, "\"type\":\"connected\"", 10000, line, sizeof line));
    ck_assert(rru_expect(u2, "\"type\":\"connected\"", 10000, line, sizeof line));
    int64_t t0 = now_ms();
    long id = open_incident("S3");
    snprintf(want, sizeof want, "\"incident_id\":%ld", id);
    ck_assert(rru_expect(u1, want, 5000, line, sizeof line));
    /* U1 says nothing: after 3 s the next nearest available unit gets it */
    ck_assert_msg(rru_expect(u2, want, 10000, line, sizeof line), "no escalation to U2");
    int64_t took = now_ms() - t0;
    ck_assert_msg(took >= 2500, "escalated after %lld ms, before the timeout", (long long)took);
    ck_assert(rru_expect(u1, "\"type\":\"gone\"", 5000, line, sizeof line));
    qtext("SELECT status || '|' || rru_id FROM corridor.incidents WHERE id = %ld", id, text,
          sizeof text);
    ck_assert_str_eq(text, "dispatched|U2");
    qtext("SELECT string_agg(rru_id || ':' || status, ',' ORDER BY id) FROM corridor.dispatches "
          "WHERE incident_id = %ld",
          id, text, sizeof text);
    ck_assert_str_eq(text, "U1:escalated,U2:pending");
    ck_assert_int_eq(q("SELECT count(*) FROM corridor.incident_audit WHERE incident_id = %ld AND "
                       "action = 'escalate' AND rru_id = 'U2' AND actor = 'system'",
                       id),
                     1);
    /* the control room is told: a dispatch_unacknowledged incident, on the open list */
    ck_assert_int_eq(q("SELECT count(*) FROM corridor.incidents WHERE rule = "
                       "'dispatch_unacknowledged' AND (details->>'incident_id')::bigint = %ld "
                       "AND details->>'rru_id' = 'U1' AND status = 'open'",
                       id),
                     1);
    ck_assert_int_eq(harness_http(srv.http_port, "GET", "/api/incidents?status=open", NULL, NULL,
                                  resp, sizeof resp),
                     200);
    ck_assert_ptr_nonnull(strstr(resp, "\"rule\" : \"dispatch_unacknowledged\""));
    /* one-shot actions: U1 no longer holds it (refused, exit 1); U2 acknowledges (exit 0) */
    ck_assert_int_eq(rru_once("U1", "ack", id, NULL), 1);
    ck_assert_int_eq(rru_once("U2", "ack", id, NULL), 0);
    ck_assert(rru_expect(u2, "\"type\":\"gone\"", 5000, line, sizeof line));
    ck_assert_int_eq(rru_once("U2", "resolved", id, "confirmed"), 0);
    qtext("SELECT status || '|' || outcome FROM corridor.incidents WHERE id = %ld", id, text,
          sizeof text);
    ck_assert_str_eq(text, "resolved|confirmed");
    rru_stop(u1, SIGTERM);
    rru_stop(u2, SIGTERM);
}
END_TEST

/* Sends one request on a new connection and returns the socket, unread. */
static int http_send(int port, const char *method, const char *path, const char *body)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert(fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0);
    char req[2048];
    int n = snprintf(req, sizeof req,
                     "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: "
                     "application/json\r\nAuthorization: Bearer %s\r\n"
                     "Content-Length: %zu\r\n\r\n%s",
                     method, path, harness_token(port), strlen(body), body);
    ck_assert(write(fd, req, (size_t)n) == n);
    return fd;
}

/* Reads the whole answer; returns the status, the body in out. */
static int http_read(int fd, char *out, size_t n)
{
    static char buf[1 << 16];
    size_t got = 0;
    ssize_t r;
    while ((r = read(fd, buf + got, sizeof buf - 1 - got)) > 0)
        got += (size_t)r;
    close(fd);
    buf[got] = '\0';
    int status = -1;
    sscanf(buf, "HTTP/1.%*d %d", &status);
    const char *b = strstr(buf, "\r\n\r\n");
    snprintf(out, n, "%s", b ? b + 4 : "");
    return status;
}

START_TEST(two_officers_one_version)
{
    char resp[1 << 15], a[1 << 15], b[1 << 15], path[64];
    server_start("60");
    /* no units: nothing is dispatched, the officers work it */
    harness_exec(db, "INSERT INTO corridor.seals(id, protocol, device_id) VALUES "
                     "('S1','osmand','S1')");
    harness_exec(db, "INSERT INTO corridor.geofences(name, kind, geom) VALUES ('Zone', "
                     "'restricted', ST_Multi(ST_MakeEnvelope(36.85,-1.35,36.95,-1.25,4326)))");
    long id = open_incident("S1");
    ck_assert_int_eq(q("SELECT version FROM corridor.incidents WHERE id = %ld", id), 1);
    snprintf(path, sizeof path, "/api/incidents/%ld/actions", id);

    /* both requests are in flight before either answer is read */
    int fa = http_send(srv.http_port, "POST", path, "{\"action\":\"ack\",\"version\":1}");
    int fb = http_send(srv.http_port, "POST", path,
                       "{\"action\":\"note\",\"note\":\"calling the driver\",\"version\":1}");
    int sa = http_read(fa, a, sizeof a), sb = http_read(fb, b, sizeof b);
    ck_assert_msg((sa == 200 && sb == 409) || (sa == 409 && sb == 200), "answers %d and %d", sa,
                  sb);
    const char *lost = sa == 409 ? a : b, *won = sa == 200 ? a : b;
    ck_assert_ptr_nonnull(strstr(won, "\"version\" : 2"));
    ck_assert_msg(strstr(lost, "\"error\":\"version_conflict\"") &&
                      strstr(lost, "\"incident\":{") && strstr(lost, "\"version\":2"),
                  "the loser's answer: %s", lost);
    ck_assert_int_eq(q("SELECT count(*) FROM corridor.incident_audit WHERE incident_id = %ld "
                       "AND action IN ('ack', 'note')",
                       id),
                     1);

    /* the loser retries on the current version */
    const char *retry = sa == 409 ? "{\"action\":\"ack\",\"version\":2}"
                                  : "{\"action\":\"note\",\"note\":\"calling the driver\","
                                    "\"version\":2}";
    ck_assert_int_eq(
        harness_http(srv.http_port, "POST", path, "application/json", retry, resp, sizeof resp),
        200);
    ck_assert_int_eq(q("SELECT version FROM corridor.incidents WHERE id = %ld", id), 3);
    qtext("SELECT status FROM corridor.incidents WHERE id = %ld", id, resp, sizeof resp);
    ck_assert_str_eq(resp, "acknowledged");

    /* refusals, each precise */
    ck_assert_int_eq(harness_http(srv.http_port, "POST", path, "application/json",
                                  "{\"action\":\"ack\"}", resp, sizeof resp),
                     409);
    ck_assert_ptr_nonnull(strstr(resp, "\"error\":\"invalid_transition\""));
    ck_assert_int_eq(harness_http(srv.http_port, "POST", path, "application/json",
                                  "{\"action\":\"resolve\",\"outcome\":\"maybe\"}", resp,
                                  sizeof resp),
                     422);
    ck_assert_int_eq(harness_http(srv.http_port, "POST", path, "application/json",
                                  "{\"action\":\"fly\"}", resp, sizeof resp),
                     422);
    ck_assert_int_eq(harness_http(srv.http_port, "POST", path, "application/json",
                                  "{\"action\":\"assign\",\"rru_id\":\"NOPE\"}", resp, sizeof resp),
                     422);
    ck_assert_int_eq(harness_http(srv.http_port, "POST", "/api/incidents/999999/actions",
                                  "application/json", "{\"action\":\"ack\"}", resp, sizeof resp),
                     404);
    ck_assert_int_eq(
        harness_http(srv.http_port, "GET", "/api/incidents/abc", NULL, NULL, resp, sizeof resp),
        404);
    ck_assert_int_eq(harness_http(srv.http_port, "POST", path, "application/json",
                                  "{\"action\":\"ack\",\"version\":\"2\"}", resp, sizeof resp),
                     422);

    /* the nearest available unit is suggested first */
    ck_assert_int_eq(harness_http(srv.http_port, "POST", "/api/rrus", "application/json",
                                  "{\"id\":\"FAR\",\"base\":{\"type\":\"Point\",\"coordinates\":"
                                  "[38.0,-1.3]}}",
                                  resp, sizeof resp),
                     201);
    ck_assert_int_eq(harness_http(srv.http_port, "POST", "/api/rrus", "application/json",
                                  "{\"id\":\"NEAR\",\"base\":{\"type\":\"Point\",\"coordinates\":"
                                  "[36.9,-1.2]}}",
                                  resp, sizeof resp),
                     201);
    ck_assert_int_eq(harness_http(srv.http_port, "POST", "/api/rrus", "application/json",
                                  "{\"id\":\"OFF\",\"status\":\"off_duty\",\"base\":{\"type\":"
                                  "\"Point\",\"coordinates\":[36.9,-1.3]}}",
                                  resp, sizeof resp),
                     201);
    ck_assert_int_eq(harness_http(srv.http_port, "POST", "/api/rrus", "application/json",
                                  "{\"id\":\"BAD\",\"base\":{\"type\":\"Point\",\"coordinates\":"
                                  "[200,0]}}",
                                  resp, sizeof resp),
                     422);
    char q2[64];
    snprintf(q2, sizeof q2, "/api/rrus/suggest?incident=%ld", id);
    ck_assert_int_eq(harness_http(srv.http_port, "GET", q2, NULL, NULL, resp, sizeof resp), 200);
    char *near = strstr(resp, "\"NEAR\""), *far = strstr(resp, "\"FAR\"");
    ck_assert_msg(near && far && near < far && !strstr(resp, "\"OFF\""), "%s", resp);
    ck_assert_int_eq(harness_http(srv.http_port, "GET", "/api/rrus", NULL, NULL, resp, sizeof resp),
                     200);
    ck_assert_ptr_nonnull(strstr(resp, "\"off_duty\""));
}
END_TEST

START_TEST(unknown_unit_is_refused)
{
    char line[4096];
    server_start("60");
    /* a unit's token is tied to its unit: U2's token does not open U1's queue */
    char resp[4096];
    ck_assert_int_eq(harness_http(srv.http_port, "POST", "/api/rrus", "application/json",
                                  "{\"id\":\"U1\",\"name\":\"Near\",\"base\":{\"type\":"
                                  "\"Point\",\"coordinates\":[36.80,-1.30]}}",
                                  resp, sizeof resp),
                     201);
    ck_assert_int_eq(harness_http(srv.http_port, "POST", "/api/rrus", "application/json",
                                  "{\"id\":\"U2\",\"name\":\"Far\",\"base\":{\"type\":"
                                  "\"Point\",\"coordinates\":[37.40,-1.30]}}",
                                  resp, sizeof resp),
                     201);
    {
        const char *build = getenv("CORRIDOR_BUILD");
        char cmd[1024];
        char u2[96], out[4096];
        snprintf(u2, sizeof u2, "%s", harness_token_create(conninfo, "rru", "U2"));
        snprintf(cmd, sizeof cmd,
                 "%s/corridor-rru --server %s --token %s --unit U1 --action ack --incident 1 "
                 "2>&1 >/dev/null",
                 build, dispatch_url, u2);
        int st = run_capture(cmd, out, sizeof out);
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 1, "U2's token on U1: status %d", st);
        /* --unit is a check, and its refusal says what is wrong */
        ck_assert_msg(strstr(out, "this token is unit U2's, not U1's"), "U2's token on U1: %s",
                      out);
        /* an admin token belongs to no unit: it must name one */
        char adm[96];
        snprintf(adm, sizeof adm, "%s", harness_token_create(conninfo, "admin", NULL));
        snprintf(cmd, sizeof cmd,
                 "%s/corridor-rru --server %s --token %s --action ack --incident 1 2>&1 "
                 ">/dev/null",
                 build, dispatch_url, adm);
        st = run_capture(cmd, out, sizeof out);
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 1, "admin without a unit: status %d", st);
        ck_assert_msg(strstr(out, "admin token belongs to no unit"), "admin: %s", out);
        snprintf(cmd, sizeof cmd,
                 "%s/corridor-rru --server %s --token %s --unit U1 --action note --incident 1 "
                 "--note x 2>&1 >/dev/null",
                 build, dispatch_url, adm);
        st = run_capture(cmd, out, sizeof out);
        /* accepted as U1, then the action is refused: there is no incident 1 */
        ck_assert_msg(!strstr(out, "refused:"), "admin as U1: %s", out);
        snprintf(cmd, sizeof cmd,
                 "%s/corridor-rru --server %s --token %sx --unit U2 --action ack --incident 1 "
                 ">/dev/null 2>&1",
                 build, dispatch_url, u2);
        st = system(cmd);
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 1, "a wrong token: status %d", st);
    }
    rru_proc *p = rru_start("NOBODY");
    ck_assert(rru_expect(p, "\"error\":\"unauthorized\"", 10000, line, sizeof line));
    int st;
    ck_assert_int_eq(waitpid(p->pid, &st, 0), p->pid);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1);
    p->pid = -1;
    for (int i = 0; i < MAX_PROCS; i++)
        if (procs[i] == p)
            procs[i] = NULL;
    close(p->in);
    close(p->out);
    free(p);
}
END_TEST

START_TEST(response_target_and_report)
{
    char resp[1 << 15];
    server_start("60");
    /* opened 61 minutes ago, nobody on scene: the sweeper flags it within a few seconds */
    harness_exec(db, "INSERT INTO corridor.incidents (rule, severity, subject, seal_id, "
                     "opened_at, lat, lon) VALUES ('seal_tampered', 'low', 'LATE', 'LATE', "
                     "now() - interval '61 minutes', NULL, NULL)");
    long id = harness_query_long(db, "SELECT id FROM corridor.incidents WHERE subject = 'LATE'");
    ck_assert_int_eq(q("SELECT count(*) FROM corridor.incidents WHERE id = %ld AND "
                       "severity = 'critical'",
                       id),
                     1); /* severity by rule, whatever the insert said */
    int64_t until = now_ms() + 8000;
    while (q("SELECT count(*) FROM corridor.incidents WHERE id = %ld AND breached_at IS NOT NULL",
             id) == 0 &&
           now_ms() < until)
        usleep(200 * 1000);
    ck_assert_int_eq(q("SELECT count(*) FROM corridor.incidents WHERE id = %ld AND breached_at = "
                       "opened_at + interval '60 minutes'",
                       id),
                     1);
    ck_assert_int_eq(q("SELECT count(*) FROM corridor.incident_audit WHERE incident_id = %ld AND "
                       "action = 'target_breached'",
                       id),
                     1);
    char path[64];
    snprintf(path, sizeof path, "/api/incidents/%ld", id);
    ck_assert_int_eq(harness_http(srv.http_port, "GET", path, NULL, NULL, resp, sizeof resp), 200);
    ck_assert_ptr_nonnull(strstr(resp, "\"breached\": true"));

    /* the report: three incidents of one unit, rule and day with known times */
    harness_exec(db, "INSERT INTO corridor.rrus (id, name, base) VALUES ('R1', 'R1', "
                     "ST_SetSRID(ST_MakePoint(36.8, -1.3), 4326)::geography)");
    harness_exec(db, "INSERT INTO corridor.incidents (rule, severity, subject, status, opened_at, "
                     "rru_id, acknowledged_at, on_scene_at, resolved_at, outcome) SELECT "
                     "'route_deviation', 'high', 'R' || k, 'resolved', t, 'R1', t + ack, "
                     "t + scene, t + scene + interval '10 minutes', 'confirmed' FROM (VALUES "
                     "(1, interval '60 s', interval '30 min'), (2, interval '120 s', interval "
                     "'50 min'), (3, interval '600 s', interval '70 min')) v(k, ack, scene), "
                     "(SELECT timestamptz '2026-03-02 08:00:00+00' AS t) x");
    ck_assert_int_eq(harness_http(srv.http_port, "GET",
                                  "/api/reports/response?since=2026-03-02&until=2026-03-03", NULL,
                                  NULL, resp, sizeof resp),
                     200);
    ck_assert_msg(strstr(resp, "\"rru_id\" : \"R1\", \"rule\" : \"route_deviation\", "
                               "\"day\" : \"2026-03-02\", \"incidents\" : 3, \"targeted\" : 3, "
                               "\"breaches\" : 1") &&
                      strstr(resp, "\"to_acknowledge\" : {\"count\" : 3, \"median_s\" : 120.0, "
                                   "\"p90_s\" : 504.0}") &&
                      strstr(resp, "\"to_scene\" : {\"count\" : 3, \"median_s\" : 3000.0, "
                                   "\"p90_s\" : 3960.0}"),
                  "report: %s", resp);
    ck_assert_int_eq(harness_http(srv.http_port, "GET", "/api/reports/response?since=yesterday",
                                  NULL, NULL, resp, sizeof resp),
                     400);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("dispatch");
    TCase *tc = tcase_create("rru");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, nearest_unit_gets_the_dispatch_and_works_it);
    tcase_add_test(tc, redelivered_after_reconnect_and_restart);
    tcase_add_test(tc, unacknowledged_dispatch_escalates);
    tcase_add_test(tc, two_officers_one_version);
    tcase_add_test(tc, unknown_unit_is_refused);
    tcase_add_test(tc, response_target_and_report);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
