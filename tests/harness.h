/*
 * harness.h: what integration tests share: a fresh database per test in the PostgreSQL
 * that scripts/test started (found through libpq's PGHOST/PGPORT/PGUSER), the real
 * corridord started on free loopback ports, and a small blocking HTTP client.
 * Single-threaded test code; every failure aborts the test with a message.
 */
#ifndef CORRIDOR_TEST_HARNESS_H
#define CORRIDOR_TEST_HARNESS_H

#include <libpq-fe.h>
#include <stddef.h>
#include <sys/types.h>

/* Drops and creates database `name` (prefixed with $CORRIDOR_TEST_DB_PREFIX when set);
 * returns its conninfo ("dbname=name"), static. */
const char *harness_db_create(const char *name);
PGconn *harness_connect(const char *conninfo);
/* Runs sql (no parameters) and returns the first column of the first row as a long;
 * aborts on error. */
long harness_query_long(PGconn *db, const char *sql);
/* The same with n text parameters ($1..$n). */
long harness_query_long_params(PGconn *db, const char *sql, int n, const char *const *values);
/* Runs sql and aborts unless it succeeds. */
void harness_exec(PGconn *db, const char *sql);

typedef struct harness_server {
    pid_t pid;
    int http_port, osmand_port, jt808_port, ais_port;
    char db[128];
    char log[256];  /* the server's stderr goes here */
    char token[96]; /* an admin API token made right after the start (harness_http sends it) */
    int tls;        /* started with --tls-cert: HTTPS only (harness_http cannot talk to it) */
} harness_server;

/* Starts $CORRIDOR_BUILD/corridord on free ports with --db conninfo, then extra
 * arguments (NULL-terminated), and waits until /api/health answers (over HTTPS, checked
 * with curl, when the arguments hold --tls-cert). */
void harness_server_start(harness_server *s, const char *conninfo, ...);
/* SIGTERM (or SIGKILL when hard), then waits for the process. Returns its exit status. */
int harness_server_stop(harness_server *s, int hard);

/* One HTTP/1.1 request on a new connection (Connection: close). Returns the status code
 * (-1 on connection failure); the body goes into resp (n bytes, NUL-terminated). Sends
 * the admin token of the server started on port (Authorization: Bearer), if any. */
int harness_http(int port, const char *method, const char *path, const char *content_type,
                 const char *body, char *resp, size_t n);
/* The same with token as the bearer token (NULL: none). */
int harness_http_as(int port, const char *token, const char *method, const char *path,
                    const char *content_type, const char *body, char *resp, size_t n);
/* The admin token of the server started on port (for ?token= on /ws), or NULL. */
const char *harness_token(int port);
/* Runs `corridord token create --role role [--country|--unit scope]` on conninfo and
 * returns the new token (static storage, overwritten by the next call). scope is the
 * partner's country or the rru's unit, NULL for other roles. */
const char *harness_token_create(const char *conninfo, const char *role, const char *scope);
/* A free TCP port on 127.0.0.1. */
int harness_free_port(void);

#endif
