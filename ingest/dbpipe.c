/*
 * dbpipe.c: one asynchronous libpq connection on an event loop (dbpipe.h).
 */
#include "dbpipe.h"
#include "core.h"

#include <stdlib.h>
#include <string.h>

#define MOD "ingest"

struct ingest_dbpipe {
    struct event_base *base;
    char *conninfo, *app, *name;
    ingest_dbpipe_ops ops;
    void *arg;
    PGconn *conn;
    struct event *rd, *wr, *retry;
    int backoff_s, max_backoff_s;
    int in_flight;
    int was_lost; /* restored runs after a loss, not after the first connect */
};

static void on_read(evutil_socket_t fd, short what, void *arg);
static void on_write(evutil_socket_t fd, short what, void *arg);

static void schedule_retry(ingest_dbpipe *p)
{
    struct timeval tv = {p->backoff_s, 0};
    event_add(p->retry, &tv);
    p->backoff_s = p->backoff_s * 2 > p->max_backoff_s ? p->max_backoff_s : p->backoff_s * 2;
}

static void drop(ingest_dbpipe *p)
{
    if (p->rd)
        event_free(p->rd);
    if (p->wr)
        event_free(p->wr);
    p->rd = p->wr = NULL;
    PQfinish(p->conn);
    p->conn = NULL;
}

/* The connection failed. One new connection is tried at once, before the stage hears of
 * the loss: a connection cut alone (a proxy, pg_terminate_backend) or a failover to another
 * host of a multi-host conninfo is then back before lost runs, and the stage may retry the
 * query in flight on it (ingest_dbpipe_conn() is non-NULL in lost). Otherwise the timer
 * tries again with backoff and restored runs when it succeeds. */
static void lose(ingest_dbpipe *p)
{
    int in_flight = p->in_flight;
    core_warn(MOD, "%s: database connection lost: %s", p->name,
              p->conn ? PQerrorMessage(p->conn) : "not connected");
    drop(p);
    p->in_flight = 0;
    if (ingest_dbpipe_connect(p, 1) == 0)
        core_info(MOD, "%s: database connection restored at once", p->name);
    p->ops.lost(p->arg, in_flight);
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
    ingest_dbpipe *p = arg;
    if (ingest_dbpipe_connect(p, 1) == 0 && p->was_lost) {
        p->was_lost = 0;
        core_info(MOD, "%s: database connection restored", p->name);
        if (p->ops.restored)
            p->ops.restored(p->arg);
    }
}

ingest_dbpipe *ingest_dbpipe_new(struct event_base *base, const char *conninfo, const char *app,
                                 const char *name, int max_backoff_s, const ingest_dbpipe_ops *ops,
                                 void *arg)
{
    ingest_dbpipe *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->base = base;
    p->conninfo = strdup(conninfo ? conninfo : "");
    p->app = strdup(app);
    p->name = strdup(name);
    p->ops = *ops;
    p->arg = arg;
    p->backoff_s = 1;
    p->max_backoff_s = max_backoff_s < 1 ? 1 : max_backoff_s;
    p->retry = evtimer_new(base, on_retry, p);
    if (!p->conninfo || !p->app || !p->name || !p->retry) {
        ingest_dbpipe_free(p);
        return NULL;
    }
    return p;
}

int ingest_dbpipe_connect(ingest_dbpipe *p, int retry)
{
    char err[512] = "";
    /* conninfo may be a whole conninfo string or URI (expand_dbname): its values override
     * the options before it (core.h), the application name after it overrides its own */
    const char *keys[] = {CORE_DB_OPTION_KEYS, "dbname", "application_name", NULL};
    const char *vals[] = {CORE_DB_OPTION_VALS, p->conninfo, p->app, NULL};

    if (p->conn)
        return 0;
    p->conn = PQconnectdbParams(keys, vals, 1);
    if (PQstatus(p->conn) != CONNECTION_OK) {
        snprintf(err, sizeof err, "%s", PQerrorMessage(p->conn));
        goto fail;
    }
    if (p->ops.setup && p->ops.setup(p->arg, p->conn, err, sizeof err))
        goto fail;
    if (PQsetnonblocking(p->conn, 1)) {
        snprintf(err, sizeof err, "%s", PQerrorMessage(p->conn));
        goto fail;
    }
    p->rd = event_new(p->base, PQsocket(p->conn), EV_READ | EV_PERSIST, on_read, p);
    p->wr = event_new(p->base, PQsocket(p->conn), EV_WRITE, on_write, p);
    if (!p->rd || !p->wr || event_add(p->rd, NULL)) {
        snprintf(err, sizeof err, "out of memory");
        goto fail;
    }
    p->backoff_s = 1;
    return 0;
fail:
    core_warn(MOD, "%s: cannot use the database: %s", p->name, err);
    drop(p);
    if (retry) {
        p->was_lost = 1;
        schedule_retry(p);
    }
    return CORE_EDB;
}

PGconn *ingest_dbpipe_conn(const ingest_dbpipe *p)
{
    return p->conn;
}

int ingest_dbpipe_busy(const ingest_dbpipe *p)
{
    return p->in_flight;
}

/* Writes what libpq holds; waits for writability when the socket is full. */
static int flush_out(ingest_dbpipe *p)
{
    int rc = PQflush(p->conn);
    if (rc < 0) {
        lose(p);
        return CORE_EDB;
    }
    if (rc > 0)
        event_add(p->wr, NULL);
    return 0;
}

static void on_write(evutil_socket_t fd, short what, void *arg)
{
    flush_out(arg);
}

int ingest_dbpipe_sent(ingest_dbpipe *p, int sent)
{
    p->in_flight = 1;
    if (!sent) {
        lose(p);
        return CORE_EDB;
    }
    return flush_out(p);
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
    ingest_dbpipe *p = arg;
    if (!PQconsumeInput(p->conn)) {
        lose(p);
        return;
    }
    while (!PQisBusy(p->conn)) {
        PGresult *r = PQgetResult(p->conn);
        if (!r)
            break;
        if (p->in_flight)
            p->ops.result(p->arg, r);
        PQclear(r);
    }
    if (PQstatus(p->conn) != CONNECTION_OK) {
        lose(p); /* also while idle: the server went away */
        return;
    }
    if (PQisBusy(p->conn) || !p->in_flight)
        return; /* more to come, or a notice */
    p->in_flight = 0;
    p->ops.done(p->arg);
}

void ingest_dbpipe_free(ingest_dbpipe *p)
{
    if (!p)
        return;
    drop(p);
    if (p->retry)
        event_free(p->retry);
    free(p->conninfo);
    free(p->app);
    free(p->name);
    free(p);
}
