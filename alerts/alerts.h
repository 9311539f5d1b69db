/*
 * alerts.h: incidents. Today: the queries that read them for the REST API and the
 * websocket snapshot. Correlation, the lifecycle (ack, assign, note, resolve), the audit
 * trail and RRU dispatch grow here.
 *
 * Functions take the caller's libpq connection and run on the caller's thread; they keep
 * no state of their own, so they are thread-safe as long as each thread uses its own
 * connection.
 */
#ifndef CORRIDOR_ALERTS_H
#define CORRIDOR_ALERTS_H

#include "core.h"

#include <libpq-fe.h>
#include <stddef.h>

#define ALERT_LIST_MAX 5000    /* most incidents one listing returns */
#define ALERT_LIST_DEFAULT 500 /* when the caller gives no limit */

/* Which incidents a listing holds. */
enum alert_filter {
    ALERT_OPEN, /* not resolved */
    ALERT_ALL,
};

/* Parses a ?status= value ("open", "all"). NULL means ALERT_ALL. 0 or CORE_EINVAL. */
int alert_filter_parse(const char *s, enum alert_filter *out);

/* Prepares this module's statements on conn (once per connection). 0, or CORE_EDB with
 * the server's message in err. */
int alert_prepare(PGconn *conn, char *err, size_t n);

/* The incidents matching filter, newest first (opened_at, then id), at most limit
 * (1..ALERT_LIST_MAX), as a JSON array of corridor.incident_json objects (each with
 * "type":"incident"). On success returns 0 and a malloc'd NUL-terminated string in
 * *json (the caller frees it) of *len bytes; CORE_EDB on a database error (the caller
 * checks PQstatus(conn) to tell a dropped connection). */
int alert_incidents_json(PGconn *conn, enum alert_filter filter, int limit, char **json,
                         size_t *len);

#endif
