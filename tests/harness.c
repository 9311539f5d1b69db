/*
 * harness.c: see harness.h. Runs on the test's single thread.
 */
#include "harness.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

const char *harness_db_create(const char *name)
{
    static char conninfo[128];
    char sql[256], full[96];
    /* helpers sharing one PostgreSQL keep their databases apart with a prefix */
    const char *prefix = getenv("CORRIDOR_TEST_DB_PREFIX");
    snprintf(full, sizeof full, "%s%s", prefix ? prefix : "", name);
    name = full;
    PGconn *admin = harness_connect("dbname=postgres");
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", name);
    harness_exec(admin, sql);
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
    harness_exec(admin, sql);
    PQfinish(admin);
    snprintf(conninfo, sizeof conninfo, "dbname=%s", name);
    return conninfo;
}

PGconn *harness_connect(const char *conninfo)
{
    PGconn *db = PQconnectdb(conninfo);
    ck_assert_msg(PQstatus(db) == CONNECTION_OK,
                  "cannot connect to %s (is scripts/test's PostgreSQL running?): %s", conninfo,
                  PQerrorMessage(db));
    return db;
}

void harness_exec(PGconn *db, const char *sql)
{
    PGresult *r = PQexec(db, sql);
    ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK,
                  "%s: %s", sql, PQresultErrorMessage(r));
    PQclear(r);
}

long harness_query_long_params(PGconn *db, const char *sql, int n, const char *const *values)
{
    PGresult *r = PQexecParams(db, sql, n, NULL, values, NULL, NULL, 0);
    ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1, "%s: %s", sql,
                  PQresultErrorMessage(r));
    long v = atol(PQgetvalue(r, 0, 0));
    PQclear(r);
    return v;
}

long harness_query_long(PGconn *db, const char *sql)
{
    PGresult *r = PQexec(db, sql);
    ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1, "%s: %s", sql,
                  PQresultErrorMessage(r));
    long v = atol(PQgetvalue(r, 0, 0));
    PQclear(r);
    return v;
}

int harness_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    ck_assert(fd >= 0);
    ck_assert(bind(fd, (struct sockaddr *)&a, sizeof a) == 0);
    ck_assert(getsockname(fd, (struct sockaddr *)&a, &len) == 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* The admin token of each server started, by HTTP port. */
static struct {
    int port;
    char token[96];
} tokens[16];

const char *harness_token(int port)
{
    for (size_t i = 0; i < sizeof tokens / sizeof tokens[0]; i++)
        if (tokens[i].port == port && tokens[i].token[0])
            return tokens[i].token;
    return NULL;
}

static void token_remember(int port, const char *token)
{
    size_t slot = 0;
    for (size_t i = 0; i < sizeof tokens / sizeof tokens[0]; i++)
        if (tokens[i].port == port || !tokens[i].port) {
            slot = i;
            break;
        }
    tokens[slot].port = port;
    snprintf(tokens[slot].token, sizeof tokens[slot].token, "%s", token);
}

const char *harness_token_create(const char *conninfo, const char *role, const char *scope)
{
    static char token[96];
    const char *build = getenv("CORRIDOR_BUILD");
    char cmd[1024];
    ck_assert_msg(build != NULL, "CORRIDOR_BUILD is not set (run the tests with ctest)");
    snprintf(cmd, sizeof cmd, "%s/corridord token create --role %s %s %s --db '%s' 2>/dev/null",
             build, role, scope ? (strcmp(role, "partner") == 0 ? "--country" : "--unit") : "",
             scope ? scope : "", conninfo);
    FILE *p = popen(cmd, "r");
    ck_assert_msg(p != NULL, "cannot run %s", cmd);
    token[0] = '\0';
    if (!fgets(token, sizeof token, p))
        token[0] = '\0';
    int st = pclose(p);
    token[strcspn(token, "\r\n")] = '\0';
    ck_assert_msg(st == 0 && strncmp(token, "cor_", 4) == 0, "%s failed (status %d)", cmd, st);
    return token;
}

int harness_http(int port, const char *method, const char *path, const char *content_type,
                 const char *body, char *resp, size_t n)
{
    return harness_http_as(port, harness_token(port), method, path, content_type, body, resp, n);
}

int harness_http_as(int port, const char *token, const char *method, const char *path,
                    const char *content_type, const char *body, char *resp, size_t n)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a)) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    size_t blen = body ? strlen(body) : 0;
    char head[2048];
    int hl =
        snprintf(head, sizeof head,
                 "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                 "Content-Length: %zu\r\n%s%s%s%s%s%s\r\n",
                 method, path, blen, content_type ? "Content-Type: " : "",
                 content_type ? content_type : "", content_type ? "\r\n" : "",
                 token ? "Authorization: Bearer " : "", token ? token : "", token ? "\r\n" : "");
    if (write(fd, head, (size_t)hl) != hl || (blen && write(fd, body, blen) != (ssize_t)blen)) {
        close(fd);
        return -1;
    }
    size_t got = 0;
    static char buf[1 << 20];
    for (;;) {
        ssize_t r = read(fd, buf + got, sizeof buf - 1 - got);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    buf[got] = 0;
    int status = -1;
    if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
        return -1;
    const char *b = strstr(buf, "\r\n\r\n");
    snprintf(resp, n, "%s", b ? b + 4 : "");
    return status;
}

static int port_open(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

static int health_ok(int port, int tls)
{
    char resp[512];
    if (tls) {
        char cmd[256];
        snprintf(cmd, sizeof cmd,
                 "curl -sk -o /dev/null -w '%%{http_code}' https://127.0.0.1:%d/api/health", port);
        FILE *p = popen(cmd, "r");
        if (!p)
            return 0;
        int ok = fgets(resp, sizeof resp, p) && strcmp(resp, "200") == 0;
        pclose(p);
        return ok;
    }
    return harness_http(port, "GET", "/api/health", NULL, NULL, resp, sizeof resp) == 200;
}

void harness_server_start(harness_server *s, const char *conninfo, ...)
{
    const char *build = getenv("CORRIDOR_BUILD");
    char exe[512], http[32], osmand[32], jt808[32], ais[32];
    const char *argv[64];
    int argc = 0;
    va_list ap;

    ck_assert_msg(build != NULL, "CORRIDOR_BUILD is not set (run the tests with ctest)");
    memset(s, 0, sizeof *s);
    snprintf(s->db, sizeof s->db, "%s", conninfo);
    s->http_port = harness_free_port();
    s->osmand_port = harness_free_port();
    s->jt808_port = harness_free_port();
    s->ais_port = harness_free_port();
    snprintf(exe, sizeof exe, "%s/corridord", build);
    snprintf(http, sizeof http, "127.0.0.1:%d", s->http_port);
    snprintf(osmand, sizeof osmand, "127.0.0.1:%d", s->osmand_port);
    snprintf(jt808, sizeof jt808, "127.0.0.1:%d", s->jt808_port);
    snprintf(ais, sizeof ais, "127.0.0.1:%d", s->ais_port);
    snprintf(s->log, sizeof s->log, "%s/test-logs/corridord-%d.log", build, (int)getpid());
    char dir[512];
    snprintf(dir, sizeof dir, "%s/test-logs", build);
    mkdir(dir, 0755);

    argv[argc++] = exe;
    argv[argc++] = "--db";
    argv[argc++] = conninfo;
    argv[argc++] = "--http";
    argv[argc++] = http;
    argv[argc++] = "--osmand";
    argv[argc++] = osmand;
    argv[argc++] = "--jt808";
    argv[argc++] = jt808;
    argv[argc++] = "--ais";
    argv[argc++] = ais;
    static char dispatch[64];
    snprintf(dispatch, sizeof dispatch, "tcp://127.0.0.1:%d", harness_free_port());
    argv[argc++] = "--dispatch";
    argv[argc++] = dispatch;
    argv[argc++] = "--events-url";
    static char events[64];
    snprintf(events, sizeof events, "inproc://test-%d", s->http_port);
    argv[argc++] = events;
    va_start(ap, conninfo);
    const char *a;
    int web = 1; /* a process without the web role is ready when OsmAnd accepts */
    while ((a = va_arg(ap, const char *)) && argc < 62) {
        if (argc > 0 && strcmp(argv[argc - 1], "--role") == 0)
            web = strstr(a, "web") || strstr(a, "all");
        if (strcmp(a, "--tls-cert") == 0)
            s->tls = 1;
        argv[argc++] = a;
    }
    va_end(ap);
    argv[argc] = NULL;

    s->pid = fork();
    ck_assert(s->pid >= 0);
    if (s->pid == 0) {
        /* a failed check ends the test process without harness_server_stop: the server
         * must not outlive it (it would hold its ports and database sessions) */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        int fd = open(s->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 2);
            dup2(fd, 1);
        }
        execv(exe, (char *const *)argv);
        _exit(127);
    }
    for (int i = 0; i < 300; i++) { /* 30 s */
        int st;
        if (waitpid(s->pid, &st, WNOHANG) == s->pid)
            ck_abort_msg("corridord exited at start-up (status %d); see %s", st, s->log);
        if (web ? health_ok(s->http_port, s->tls) : port_open(s->osmand_port)) {
            /* every /api route needs a token: an admin one, sent by harness_http */
            snprintf(s->token, sizeof s->token, "%s",
                     harness_token_create(conninfo, "admin", NULL));
            token_remember(s->http_port, s->token);
            return;
        }
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    kill(s->pid, SIGKILL);
    ck_abort_msg("corridord did not answer /api/health within 30 s; see %s", s->log);
}

int harness_server_stop(harness_server *s, int hard)
{
    int st = -1;
    if (s->pid <= 0)
        return -1;
    kill(s->pid, hard ? SIGKILL : SIGTERM);
    waitpid(s->pid, &st, 0);
    s->pid = 0;
    /* a clean stop exits 0: a sanitizer report or a crash in the server fails the test */
    if (!hard)
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
                      "corridord did not stop cleanly (status %d); see %s", st, s->log);
    return st;
}
