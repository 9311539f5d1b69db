/*
 * geo_sweep.c: the sweeper, the timer side of rule evaluation. A thread of its own with
 * its own libpq connection calls corridor.sweep_all(now()) every interval (overdue
 * transits, signal loss, AIS gaps, ...: rules that fire on the absence of data) and
 * pushes the messages it returns to the web gateway over nng, like the ingest workers.
 * With several corridord instances on one database only the leader sweeps (the gate,
 * alerts/leader.c); the others skip their rounds until they lead.
 *
 * Owns: the thread, the connection, an nng push socket. Stopped by geo_sweeper_stop.
 */
#include "geofence.h"
#include "core.h"

#include <errno.h>
#include <nng/nng.h>
#include <nng/protocol/pipeline0/push.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MOD "sweep"

struct geo_sweeper {
    const char *conninfo;
    int interval_s;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int stopping;
    nng_socket push;
    int push_ok;
    PGconn *db;
    int (*gate)(void *arg); /* NULL: always sweeps */
    void *gate_arg;
};

static void publish(void *arg, const char *kind, const char *json, size_t len)
{
    geo_sweeper *s = arg;
    (void)kind;
    if (s->push_ok)
        nng_send(s->push, (void *)json, len, NNG_FLAG_NONBLOCK);
}

static void sweep_once(geo_sweeper *s)
{
    if (s->gate && !s->gate(s->gate_arg))
        return; /* another instance leads and sweeps */
    if (!s->db || PQstatus(s->db) != CONNECTION_OK) {
        PQfinish(s->db);
        s->db = PQconnectdb(s->conninfo);
        if (PQstatus(s->db) != CONNECTION_OK) {
            core_warn(MOD, "cannot connect to the database: %s", PQerrorMessage(s->db));
            return;
        }
    }
    PGresult *r = PQexec(s->db, "SELECT kind, idx, body FROM corridor.sweep_all(now())");
    if (geo_batch_result(r, NULL, &(geo_result_ops){NULL, publish, NULL, NULL}, s))
        core_warn(MOD, "sweep failed: %s", PQresultErrorMessage(r));
    PQclear(r);
}

static void *sweeper_main(void *arg)
{
    geo_sweeper *s = arg;
    pthread_mutex_lock(&s->lock);
    while (!s->stopping) {
        pthread_mutex_unlock(&s->lock);
        sweep_once(s);
        pthread_mutex_lock(&s->lock);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += s->interval_s;
        while (!s->stopping && pthread_cond_timedwait(&s->cond, &s->lock, &until) != ETIMEDOUT)
            ;
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

geo_sweeper *geo_sweeper_start(const char *conninfo, const char *events_url, int interval_s,
                               int (*gate)(void *arg), void *gate_arg, char *err, size_t n)
{
    geo_sweeper *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, n, "out of memory");
        return NULL;
    }
    s->conninfo = conninfo ? conninfo : "";
    s->interval_s = interval_s;
    s->gate = gate;
    s->gate_arg = gate_arg;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->cond, NULL);
    if (nng_push0_open(&s->push) == 0) {
        s->push_ok = 1;
        nng_dial(s->push, events_url, NULL, NNG_FLAG_NONBLOCK);
    }
    if (pthread_create(&s->thread, NULL, sweeper_main, s)) {
        snprintf(err, n, "cannot start the sweeper thread");
        if (s->push_ok)
            nng_close(s->push);
        free(s);
        return NULL;
    }
    return s;
}

void geo_sweeper_stop(geo_sweeper *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->lock);
    s->stopping = 1;
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->thread, NULL);
    PQfinish(s->db);
    if (s->push_ok)
        nng_close(s->push);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->lock);
    free(s);
}
