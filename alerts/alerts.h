/*
 * alerts.h: incidents and rapid response. The queries behind the REST API and the
 * websocket snapshot (incidents.c), the lifecycle actions (ack, assign, en_route,
 * on_scene, resolve, note) with their audit trail, the units (RRUs), the response report,
 * and the dispatch stage (dispatch.c): a thread that dispatches incidents to the nearest
 * available unit and serves corridor-rru clients over nng. The rules themselves live in
 * schema/rules/incidents.sql and dispatch.sql; docs/incidents.md describes them for users.
 *
 * The query functions take the caller's libpq connection and run on the caller's thread;
 * they keep no state of their own, so they are thread-safe as long as each thread uses
 * its own connection.
 */
#ifndef CORRIDOR_ALERTS_H
#define CORRIDOR_ALERTS_H

#include "core.h"

#include <libpq-fe.h>
#include <stddef.h>

#define ALERT_LIST_MAX     5000 /* most incidents one listing returns */
#define ALERT_LIST_DEFAULT 500  /* when the caller gives no limit */

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

/* ---- the lifecycle and the units (incidents.c) ----
 * Each returns 0 when the database answered, with the HTTP status and a JSON body in
 * *out (a 2xx, or a 4xx error body {"error", "detail"[, "incident"]}); CORE_EDB when the
 * query failed (the caller checks PQstatus(conn) to tell a dropped connection, 503, from
 * a refused query, 500). The caller frees out with alert_answer_clear. */
typedef struct alert_answer {
    int status;
    char *body; /* malloc'd, NUL-terminated */
    size_t len;
} alert_answer;
void alert_answer_clear(alert_answer *a);

/* GET /api/incidents/{id}: the incident with its events, audit trail and dispatches. */
int alert_incident_get(PGconn *conn, const char *id, alert_answer *out);
/* One lifecycle action. action_json is the action object as the REST body has it
 * ({"action", "rru_id", "note", "outcome"}); version (decimal text) or NULL to skip the
 * optimistic check; unit non-NULL when an RRU acts (the incident must be its own).
 * 200 with the new incident; 404, 409 (version_conflict, invalid_transition, ...: with the
 * current "incident"), 403, 422. */
int alert_incident_action(PGconn *conn, const char *id, const char *action_json, const char *actor,
                          const char *version, const char *unit, alert_answer *out);
/* GET /api/rrus, POST /api/rrus (201 created, 200 updated), GET /api/rrus/suggest. */
int alert_rru_list(PGconn *conn, alert_answer *out);
int alert_rru_upsert(PGconn *conn, const char *unit_json, alert_answer *out);
int alert_rru_suggest(PGconn *conn, const char *incident_id, alert_answer *out);
/* GET /api/reports/response; since and until are ISO 8601 text or NULL. */
int alert_response_report(PGconn *conn, const char *since, const char *until, alert_answer *out);

/* 1 if s is a positive decimal id of 1..18 digits. Pure. */
int alert_id_valid(const char *s);
/* Maps a failed query's SQLSTATE to an HTTP status: CTnnn -> nnn (400..599), 22xxx and
 * 23xxx -> 422, anything else 0 (not the caller's fault). Pure. */
int alert_sqlstate_status(const char *sqlstate);
/* The error body for a CTnnn error: message "code: sentence" becomes
 * {"error":"code","detail":"sentence"}, with "incident": detail when detail holds a JSON
 * object (the current state). Returns a malloc'd string (its length in *len) or NULL. Pure. */
char *alert_error_body(const char *message, const char *detail, size_t *len);

/* ---- the dispatch stage (dispatch.c) ----
 * A thread of its own with its own libpq connection and nng sockets: a REP socket on
 * cfg->dispatch for corridor-rru clients (docs/incidents.md, "Dispatch protocol") and a
 * PUSH socket to cfg->events_url for the websocket. Every second it runs
 * corridor.dispatch_tick (automatic dispatch, escalation after
 * cfg->dispatch_ack_timeout_s). */
typedef struct alert_dispatch alert_dispatch;
typedef struct alert_leader alert_leader;
/* Listens on cfg->dispatch and starts the thread. NULL with a reason in err. Runs on
 * main(); cfg must outlive the stage. The dispatch clock runs only while leader holds the
 * leadership (NULL: always); the units' requests are served by every instance. */
alert_dispatch *alert_dispatch_start(const core_config *cfg, alert_leader *leader, char *err,
                                     size_t n);
/* Stops the thread, closes the sockets and the connection. NULL is a no-op. main(). */
void alert_dispatch_stop(alert_dispatch *d);

/* ---- leadership (leader.c) ----
 * Of several corridord instances on one database, one leads: its dedicated connection holds
 * a session-level advisory lock; the others try every 2 s and take over within seconds of
 * the leader's session ending (docs/operations.md, "Two instances"). A thread of its own. */
/* Starts competing (the first try is made before returning). NULL with a reason in err.
 * main(); cfg must outlive it. */
alert_leader *alert_leader_start(const core_config *cfg, char *err, size_t n);
/* 1 while this instance leads; NULL leads always (one instance alone). Thread-safe. */
int alert_leader_held(alert_leader *l);
/* Stops, and gives the leadership up (its session ends). NULL is a no-op. main(). */
void alert_leader_stop(alert_leader *l);

#endif
