/*
 * commands.c: the command queue on one ingest worker (docs/commands.md): which seal is
 * reachable through which of the worker's connections, and the delivery of the commands
 * that corridor.commands holds for them.
 *
 * DESIGN
 * A command is committed (state queued) before anything is sent; this file only moves it
 * on. When a seal authenticates, its module calls ingest_seal_online() and the queue asks
 * the database for the seal's queued commands (corridor.command_due), hands each to the
 * module's send function, and records the frame's serial (corridor.command_sent). A
 * command queued later reaches the worker through LISTEN corridor_commands on the
 * worker's control connection (the payload is the seal id; every worker hears it, the one
 * holding the seal sends). Every 5 s the queue also asks which seals have queued
 * commands, for a notification lost while the control connection was being re-made. The
 * device's answer comes back through ingest_command_answer() (corridor.command_answer).
 * Retries, expiry and the confirmation of effects seen in later fixes are the sweeper's
 * (corridor.command_sweep), which queues a retry again and so notifies.
 *
 * Every database call here is a short statement on the blocking control connection, made
 * only when a seal connects, a command moves or the 5 s poll runs: nothing on the path of
 * an ordinary fix. Each state change is published to the web gateway as it happens.
 *
 * Owns: the seal registry (a chained hash, one entry per online seal) and two timers.
 * Runs on the worker's thread only.
 */
#include "proto.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#define MOD "commands"

#define CMDQ_BUCKETS 16384
#define CMDQ_POLL_S  5

typedef struct seal_entry {
    struct seal_entry *next;
    const ingest_protocol *p;
    void *conn;
    char seal_id[GEO_ID_MAX + 1];
} seal_entry;

struct ingest_cmdq {
    ingest_worker *w;
    seal_entry *bucket[CMDQ_BUCKETS];
    struct event *listen_ev, *notify_timer, *poll_timer;
    PGconn *listening; /* the control connection LISTEN was issued on */
    int listen_fd;
};

static unsigned hash(const char *s)
{
    unsigned h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h % CMDQ_BUCKETS;
}

static seal_entry *find(ingest_cmdq *q, const char *seal_id)
{
    for (seal_entry *e = q->bucket[hash(seal_id)]; e; e = e->next)
        if (strcmp(e->seal_id, seal_id) == 0)
            return e;
    return NULL;
}

static void drain_notifies(ingest_cmdq *q);

static void on_listen(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    drain_notifies(arg);
}

/* LISTEN on the control connection, again whenever it was re-made. 0 when listening. */
static int ensure_listen(ingest_cmdq *q)
{
    PGconn *db = ingest_worker_ctl(q->w);
    if (!db)
        return CORE_EDB;
    if (db == q->listening && PQsocket(db) == q->listen_fd)
        return 0;
    PGresult *r = PQexec(db, "LISTEN corridor_commands");
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (!ok) {
        core_warn(MOD, "worker %d: LISTEN corridor_commands: %s", ingest_worker_id(q->w),
                  PQerrorMessage(db));
        return CORE_EDB;
    }
    if (q->listen_ev)
        event_free(q->listen_ev);
    q->listening = db;
    q->listen_fd = PQsocket(db);
    q->listen_ev =
        event_new(ingest_worker_base(q->w), q->listen_fd, EV_READ | EV_PERSIST, on_listen, q);
    return q->listen_ev ? 0 : CORE_EDB;
}

void ingest_commands_ctl_closing(ingest_cmdq *q)
{
    if (!q)
        return;
    if (q->listen_ev)
        event_free(q->listen_ev);
    q->listen_ev = NULL;
    q->listening = NULL;
    q->listen_fd = -1;
}

/* Publishes one command's JSON (as the database wrote it) to the web gateway. */
static void publish(ingest_cmdq *q, PGresult *r)
{
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 && !PQgetisnull(r, 0, 0))
        ingest_worker_publish(q->w, PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0));
}

/* Fails command id with why (the module could not express it for this device). */
static void refuse(ingest_cmdq *q, PGconn *db, long long id, const char *why)
{
    char idt[24];
    snprintf(idt, sizeof idt, "%lld", id);
    const char *v[2] = {idt, why};
    PGresult *r = PQexecParams(db, "SELECT corridor.command_refused($1::bigint, $2)::text", 2, NULL,
                               v, NULL, NULL, 0);
    publish(q, r);
    PQclear(r);
}

/* Sends the queued commands of seal e, oldest first. */
static void deliver(ingest_cmdq *q, seal_entry *e)
{
    PGconn *db = ingest_worker_ctl(q->w);
    if (!db || !e->p->send)
        return;
    const char *v[1] = {e->seal_id};
    PGresult *due = PQexecParams(db,
                                 "SELECT id, command, params, attempt FROM "
                                 "corridor.command_due($1)",
                                 1, NULL, v, NULL, NULL, 0);
    if (PQresultStatus(due) != PGRES_TUPLES_OK) {
        core_warn(MOD, "seal %s: command_due: %s", e->seal_id, PQerrorMessage(db));
        PQclear(due);
        return;
    }
    for (int i = 0; i < PQntuples(due); i++) {
        ingest_cmd c = {.id = atoll(PQgetvalue(due, i, 0)), .attempt = atoi(PQgetvalue(due, i, 3))};
        snprintf(c.name, sizeof c.name, "%s", PQgetvalue(due, i, 1));
        snprintf(c.params, sizeof c.params, "%s", PQgetvalue(due, i, 2));
        int serial = 0, msg_id = 0;
        char why[160] = "";
        int rc = e->p->send(e->conn, &c, &serial, &msg_id, why, sizeof why);
        if (rc == CORE_EINVAL) {
            core_info(MOD, "seal %s: command %lld (%s) refused: %s", e->seal_id, c.id, c.name, why);
            refuse(q, db, c.id, why);
            continue;
        }
        if (rc) /* the connection is going: the command stays queued for the next one */
            break;
        char idt[24], st[12], mt[12];
        snprintf(idt, sizeof idt, "%lld", c.id);
        snprintf(st, sizeof st, "%d", serial);
        snprintf(mt, sizeof mt, "%d", msg_id);
        const char *sv[3] = {idt, st, mt};
        PGresult *r = PQexecParams(db,
                                   "SELECT corridor.command_sent($1::bigint, $2::int, $3::int)"
                                   "::text",
                                   3, NULL, sv, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK)
            core_warn(MOD, "seal %s: command_sent: %s", e->seal_id, PQerrorMessage(db));
        publish(q, r);
        PQclear(r);
        core_debug(MOD, "seal %s: command %lld (%s) sent, serial %d", e->seal_id, c.id, c.name,
                   serial);
    }
    PQclear(due);
}

static void deliver_to(ingest_cmdq *q, const char *seal_id)
{
    seal_entry *e = find(q, seal_id);
    if (e)
        deliver(q, e);
}

/* Takes the notifications the control connection has read (on its own socket's wake-up,
 * or buffered while a look-up ran on it) and delivers to the seals this worker holds. */
static void drain_notifies(ingest_cmdq *q)
{
    PGconn *db = q->listening;
    if (!db || db != ingest_worker_ctl(q->w))
        return;
    PQconsumeInput(db);
    PGnotify *n;
    while ((n = PQnotifies(db)) != NULL) {
        deliver_to(q, n->extra);
        PQfreemem(n);
    }
}

static void on_notify_timer(evutil_socket_t fd, short what, void *arg)
{
    ingest_cmdq *q = arg;
    (void)fd, (void)what;
    if (ensure_listen(q) == 0) {
        if (!event_pending(q->listen_ev, EV_READ, NULL))
            event_add(q->listen_ev, NULL);
        drain_notifies(q);
    }
}

/* The safety net: seals with queued commands that no notification brought here. */
static void on_poll(evutil_socket_t fd, short what, void *arg)
{
    ingest_cmdq *q = arg;
    (void)fd, (void)what;
    PGconn *db = ingest_worker_ctl(q->w);
    if (!db)
        return;
    PGresult *r =
        PQexec(db, "SELECT DISTINCT seal_id FROM corridor.commands WHERE state = 'queued'");
    if (PQresultStatus(r) == PGRES_TUPLES_OK)
        for (int i = 0; i < PQntuples(r); i++)
            deliver_to(q, PQgetvalue(r, i, 0));
    PQclear(r);
}

ingest_cmdq *ingest_commands_new(ingest_worker *w)
{
    ingest_cmdq *q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    q->w = w;
    q->listen_fd = -1;
    struct timeval one = {1, 0}, poll = {CMDQ_POLL_S, 0};
    q->notify_timer = event_new(ingest_worker_base(w), -1, EV_PERSIST, on_notify_timer, q);
    q->poll_timer = event_new(ingest_worker_base(w), -1, EV_PERSIST, on_poll, q);
    if (!q->notify_timer || !q->poll_timer) {
        ingest_commands_free(q);
        return NULL;
    }
    event_add(q->notify_timer, &one);
    event_add(q->poll_timer, &poll);
    return q;
}

void ingest_commands_free(ingest_cmdq *q)
{
    if (!q)
        return;
    for (int i = 0; i < CMDQ_BUCKETS; i++)
        while (q->bucket[i]) {
            seal_entry *e = q->bucket[i];
            q->bucket[i] = e->next;
            free(e);
        }
    ingest_commands_ctl_closing(q);
    if (q->notify_timer)
        event_free(q->notify_timer);
    if (q->poll_timer)
        event_free(q->poll_timer);
    free(q);
}

void ingest_seal_online(ingest_worker *w, const ingest_protocol *p, const char *seal_id, void *conn)
{
    ingest_cmdq *q = ingest_worker_cmdq(w);
    if (!q || !p->send)
        return;
    seal_entry *e = find(q, seal_id);
    if (!e) {
        if (!(e = calloc(1, sizeof *e)))
            return;
        snprintf(e->seal_id, sizeof e->seal_id, "%s", seal_id);
        unsigned h = hash(seal_id);
        e->next = q->bucket[h];
        q->bucket[h] = e;
    }
    e->p = p;
    e->conn = conn;
    deliver(q, e);
}

void ingest_seal_offline(ingest_worker *w, const char *seal_id, void *conn)
{
    ingest_cmdq *q = ingest_worker_cmdq(w);
    if (!q || !*seal_id)
        return;
    for (seal_entry **pp = &q->bucket[hash(seal_id)]; *pp; pp = &(*pp)->next) {
        seal_entry *e = *pp;
        if (strcmp(e->seal_id, seal_id) == 0) {
            if (e->conn == conn) {
                *pp = e->next;
                free(e);
            }
            return;
        }
    }
}

int ingest_command_answer(ingest_worker *w, const char *seal_id, int serial, int msg_id, int result,
                          const char *lock, int position)
{
    ingest_cmdq *q = ingest_worker_cmdq(w);
    PGconn *db = ingest_worker_ctl(w);
    if (!q || !db)
        return 0;
    char st[12], mt[12], rt[12];
    snprintf(st, sizeof st, "%d", serial);
    snprintf(mt, sizeof mt, "%d", msg_id);
    snprintf(rt, sizeof rt, "%d", result);
    const char *v[6] = {seal_id, st, msg_id ? mt : NULL, rt, lock, position ? "t" : "f"};
    PGresult *r = PQexecParams(db,
                               "SELECT corridor.command_answer($1, $2::int, $3::int, $4::int,"
                               " $5, $6::boolean)::text",
                               6, NULL, v, NULL, NULL, 0);
    int matched =
        PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 && !PQgetisnull(r, 0, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        core_warn(MOD, "seal %s: command_answer: %s", seal_id, PQerrorMessage(db));
    publish(q, r);
    PQclear(r);
    return matched;
}
