/*
 * leader.c: which corridord instance runs the singleton stages (the sweeper, the dispatch
 * clock: automatic dispatch and escalation). Every instance with the alerts role starts
 * one; all of them ingest and serve, one of them leads.
 *
 * DESIGN
 * The leader is the instance whose dedicated connection holds a session-level advisory
 * lock (pg_try_advisory_lock(LEADER_KEY1, LEADER_KEY2): the two-int key space, apart from
 * the bigint keys the ingest batches lock seals with). PostgreSQL releases it when that
 * session ends, so a leader that dies (SIGKILL, its machine, its network) gives the lock up
 * as soon as its backend notices the closed or timed-out socket (TCP keepalives, core.h).
 * A follower tries to take the lock every LEADER_TRY_MS; the leader checks its connection
 * every LEADER_CHECK_MS and, when that fails, stops leading at once (before another
 * instance can have taken over, in the common case) and competes again once reconnected.
 * The stages ask alert_leader_held() before each round: it is an atomic read.
 *
 * Owns: the thread and its PGconn. Runs on its own thread; alert_leader_held is
 * thread-safe.
 */
#include "alerts.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MOD "leader"

#define LEADER_KEY1     0x436f7272 /* "Corr" */
#define LEADER_KEY2     1          /* the singleton stages */
#define LEADER_TRY_MS   2000
#define LEADER_CHECK_MS 1000

struct alert_leader {
    const core_config *cfg;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int stopping;
    atomic_int held;
    PGconn *db;
};

static void set_held(alert_leader *l, int held, const char *why)
{
    if (atomic_exchange(&l->held, held) == held)
        return;
    if (held)
        core_info(MOD, "this instance is the leader now: the sweeper and the dispatch clock run "
                       "here");
    else
        core_warn(MOD, "this instance is no longer the leader (%s)", why);
}

static int connect_db(alert_leader *l)
{
    if (l->db && PQstatus(l->db) == CONNECTION_OK)
        return 0;
    PQfinish(l->db);
    const char *keys[] = {CORE_DB_OPTION_KEYS, "dbname", "connect_timeout", "application_name",
                          NULL};
    const char *vals[] = {CORE_DB_OPTION_VALS, l->cfg->db ? l->cfg->db : "", "3", "corridor-leader",
                          NULL};
    l->db = PQconnectdbParams(keys, vals, 1);
    if (PQstatus(l->db) == CONNECTION_OK)
        return 0;
    core_debug(MOD, "cannot connect to the database: %s", PQerrorMessage(l->db));
    PQfinish(l->db);
    l->db = NULL;
    return CORE_EDB;
}

/* One round: take the lock (follower) or check the session still lives (leader). */
static void round_once(alert_leader *l)
{
    if (l->db && PQstatus(l->db) != CONNECTION_OK)
        set_held(l, 0, "its connection failed"); /* the lock went with the session */
    if (connect_db(l)) {
        set_held(l, 0, "no database connection");
        return;
    }
    int held = atomic_load(&l->held);
    PGresult *r = PQexec(l->db, held ? "SELECT true"
                                     : "SELECT pg_try_advisory_lock(" /* session level */
                                       "1131377266, 1)");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        /* the session, and with it the lock, is gone (or going): stop leading now */
        set_held(l, 0, PQerrorMessage(l->db));
        PQclear(r);
        PQfinish(l->db);
        l->db = NULL;
        return;
    }
    if (!held && strcmp(PQgetvalue(r, 0, 0), "t") == 0)
        set_held(l, 1, NULL);
    PQclear(r);
}

static void *leader_main(void *arg)
{
    alert_leader *l = arg;
    pthread_mutex_lock(&l->lock);
    while (!l->stopping) {
        pthread_mutex_unlock(&l->lock);
        round_once(l);
        int ms = atomic_load(&l->held) ? LEADER_CHECK_MS : LEADER_TRY_MS;
        pthread_mutex_lock(&l->lock);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        int64_t ns = until.tv_nsec + (int64_t)ms * 1000000;
        until.tv_sec += ns / 1000000000;
        until.tv_nsec = ns % 1000000000;
        while (!l->stopping && pthread_cond_timedwait(&l->cond, &l->lock, &until) != ETIMEDOUT)
            ;
    }
    pthread_mutex_unlock(&l->lock);
    return NULL;
}

alert_leader *alert_leader_start(const core_config *cfg, char *err, size_t n)
{
    _Static_assert(LEADER_KEY1 == 1131377266 && LEADER_KEY2 == 1, "the key in round_once");
    alert_leader *l = calloc(1, sizeof *l);
    if (!l) {
        snprintf(err, n, "out of memory");
        return NULL;
    }
    l->cfg = cfg;
    pthread_mutex_init(&l->lock, NULL);
    pthread_cond_init(&l->cond, NULL);
    round_once(l); /* an instance alone leads from its start */
    if (pthread_create(&l->thread, NULL, leader_main, l)) {
        snprintf(err, n, "cannot start the leader thread");
        PQfinish(l->db);
        pthread_cond_destroy(&l->cond);
        pthread_mutex_destroy(&l->lock);
        free(l);
        return NULL;
    }
    if (!atomic_load(&l->held))
        core_info(MOD,
                  "another instance leads (or the database is down): this one follows and "
                  "tries again every %d ms",
                  LEADER_TRY_MS);
    return l;
}

int alert_leader_held(alert_leader *l)
{
    return l ? atomic_load(&l->held) : 1;
}

void alert_leader_stop(alert_leader *l)
{
    if (!l)
        return;
    pthread_mutex_lock(&l->lock);
    l->stopping = 1;
    pthread_cond_signal(&l->cond);
    pthread_mutex_unlock(&l->lock);
    pthread_join(l->thread, NULL);
    PQfinish(l->db); /* the lock goes with the session: another instance takes over */
    pthread_cond_destroy(&l->cond);
    pthread_mutex_destroy(&l->lock);
    free(l);
}
