/*
 * dbpipe.h: one asynchronous libpq connection on a worker's event loop, for a stage that
 * sends one query at a time and reads its results without blocking the loop: the ingest
 * batches (worker.c) and the AIS vessel batches (ais_conn.c).
 *
 * Owns the connection (non-blocking), its read and write events and the reconnect timer
 * (1 s, doubling up to max_backoff_s). The read event stays armed while connected, so a
 * server that goes away is noticed when idle too. Everything runs on the thread of the
 * event loop it was made with; the callbacks run there, from the loop.
 *
 * A stage: makes it with its callbacks, connects (ingest_dbpipe_connect), sends with
 * PQsendQuery* on ingest_dbpipe_conn() followed by ingest_dbpipe_sent(), and gets each
 * result (result), then the end of the query (done), or the loss of the connection
 * (lost: the query in flight, if any, is lost with it). A lost connection is re-made once at
 * once, before lost runs: when that worked, ingest_dbpipe_conn() is the new connection inside
 * lost (the stage may send the lost query again on it); otherwise it is NULL until restored
 * runs, after a reconnect on the timer.
 */
#ifndef CORRIDOR_INGEST_DBPIPE_H
#define CORRIDOR_INGEST_DBPIPE_H

#include <event2/event.h>
#include <libpq-fe.h>
#include <stddef.h>

typedef struct ingest_dbpipe ingest_dbpipe;

typedef struct ingest_dbpipe_ops {
    /* On each new connection, blocking, before it is used: prepare statements. 0, or
     * CORE_EDB with the reason in err (the connection is dropped and retried). */
    int (*setup)(void *arg, PGconn *conn, char *err, size_t n);
    void (*result)(void *arg, PGresult *r); /* one result of the query in flight */
    void (*done)(void *arg);                /* the query in flight has all its results */
    void (*lost)(void *arg, int in_flight); /* the connection failed (reason logged) */
    void (*restored)(void *arg);            /* connected again after a loss */
} ingest_dbpipe_ops;

/* name ("worker 1", "worker 1 vessels") prefixes the log lines; app is the connection's
 * application_name. NULL when out of memory. */
ingest_dbpipe *ingest_dbpipe_new(struct event_base *base, const char *conninfo, const char *app,
                                 const char *name, int max_backoff_s, const ingest_dbpipe_ops *ops,
                                 void *arg);
/* Connects now, blocking. 0, or CORE_EDB (logged) when the database cannot be used; with
 * retry set, it is then tried again on the timer. */
int ingest_dbpipe_connect(ingest_dbpipe *p, int retry);
/* The connection, or NULL while there is none. */
PGconn *ingest_dbpipe_conn(const ingest_dbpipe *p);
/* 1 while a query is in flight. */
int ingest_dbpipe_busy(const ingest_dbpipe *p);
/* After a PQsendQuery* on ingest_dbpipe_conn() (sent: its return value): marks the query
 * in flight and writes what libpq holds without blocking. 0, or CORE_EDB when the
 * connection was lost (lost has run, with in_flight 1). */
int ingest_dbpipe_sent(ingest_dbpipe *p, int sent);
/* Closes the connection and frees everything; no callback runs. NULL is a no-op. */
void ingest_dbpipe_free(ingest_dbpipe *p);

#endif
