/*
 * worker.c: the ingest workers.
 *
 * DESIGN
 * Each worker is a thread running its own libevent loop. It owns: the listening sockets
 * of every enabled protocol (SO_REUSEPORT, so the kernel spreads connections over the
 * workers), a libpq connection for batches (asynchronous: the loop keeps reading devices
 * while a batch is in the database), a blocking libpq connection for rare control
 * look-ups, and an nng PUSH socket to the web gateway.
 *
 * Observations collect in the open batch. It is sent when it holds cfg->batch_max
 * observations or cfg->batch_ms after its first one, whichever comes first, provided no
 * batch is in flight; at most one batch is in flight, so the open one fills meanwhile
 * (natural batching under load). When the in-flight batch's transaction has committed,
 * every observation's done callback runs (devices are acknowledged only then), its
 * position and incident messages are pushed to the web gateway, and the open batch goes
 * next if it is due (full, or batch_ms old), else when its timer fires. With both
 * batches full, ingest_submit refuses (CORE_EFULL) and the protocol handlers stop
 * reading until ingest_worker_on_space fires: backpressure instead of growth.
 *
 * When the batch connection fails with a batch in flight (the "held batch": sent, its
 * commit not known), dbpipe.c makes one new connection at once. If that works (the
 * connection alone was cut, or libpq found the new primary of a multi-host conninfo), the
 * held batch is sent again on it, once, without the worker's quiet copy, and acknowledged
 * when that commits: a batch that had committed before the loss is then stored once (exact
 * duplicates are kept once, (seal_id, ts) is unique) and acknowledged as stored. Otherwise
 * the held batch and the open one are failed with CORE_EDB: never acknowledged, answered
 * "retry" (JT/T 808 result 1, OsmAnd 503), so that a device re-sends at once instead of
 * waiting for an answer that cannot come. Until the reconnect on the timer (every second)
 * works, new observations are refused the same way.
 *
 * With --worker-regions 1 (the default) the worker keeps a copy of each seal's safe region
 * and of the fence grid (geo_quiet), finds most quiet fixes itself, and the database only
 * confirms the copy (corridor.ingest_hinted, schema/rules/ingest.sql). The grid is loaded
 * on the control connection when the worker connects and again when a batch reports that
 * fences, routes or countries changed (a pause of the worker's loop, about half a second
 * for 150,000 grid pieces); until then the batches go without the copy.
 *
 * ONE FIX, FROM THE SOCKET TO THE WEBSOCKET (the SQL side: schema/rules/ingest.sql's
 * header; the web side: web/web.c's)
 *   1. jt808_conn.c on_location (or osmand.c's request handler) decodes the frame into a
 *      geo_obs and calls ingest_submit() here, with a done callback; ingest_submit adds it
 *      to the open batch (geo_batch_add) or refuses with CORE_EFULL (backpressure).
 *   2. flush() sends the open batch when it is full or its timer (on_batch_timer) fires and
 *      none is in flight: quiet_copy() sorts out the fixes the worker's copy finds quiet,
 *      geo_batch_send() sends one corridor.ingest_hinted call on the batch connection.
 *   3. dbpipe.c reads the answer without blocking the loop; db_result() hands each result
 *      to geo_batch_result(), which walks its rows and calls on_reject, on_publish (a
 *      position or incident message), on_quiet and on_hinted; db_done() ends the batch.
 *   4. finish_sent() runs every fix's done callback once the transaction has committed:
 *      only now does jt808_conn.c send the device its 0x8001 (OsmAnd: its 200).
 *   5. publish_flush() pushes the batch's messages, one nng message, to the web gateway
 *      (ingest_worker_publish for the protocol modules' own messages, such as commands).
 */
#include "proto.h"
#include "dbpipe.h"

#include <errno.h>
#include <event2/thread.h>
#include <math.h>
#include <netdb.h>
#include <nng/nng.h>
#include <nng/protocol/pipeline0/push.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MOD "ingest"

struct pending {
    ingest_done_fn done;
    void *arg;
    int status;
    const char *reason; /* into reasons, valid until the callbacks ran */
};

struct side {
    geo_batch *batch;
    struct pending *p;
    char *reasons; /* rejection texts of this batch, one arena */
    size_t reasons_len;
};

struct space_waiter {
    void (*fn)(void *arg);
    void *arg;
};

struct ingest_worker {
    int id;
    const core_config *cfg;
    pthread_t thread;
    core_owner owner; /* the worker's thread, from worker_main on */
    struct event_base *base;
    struct event *batch_timer, *stop_ev;
    ingest_dbpipe *db;    /* the batches' connection (dbpipe.h) */
    PGconn *ctl;          /* blocking, for rare control look-ups */
    int batch_failed;     /* the batch in flight had an error result */
    int sent_tries;       /* times the batch in flight was sent (a held batch goes twice) */
    geo_quiet *quiet;     /* the copy of the safe regions, NULL with --worker-regions 0 */
    int64_t quiet_try_us; /* when loading the grid may be tried again */
    struct side open, sent;
    int in_flight, timer_armed, stopping;
    int64_t sent_at_us;
    nng_socket push;
    int push_ok;
    char *pub; /* messages of the batch being answered, as one JSON array */
    size_t pub_len;
    int pub_n;
    struct space_waiter *waiters, *wake_buf; /* wake_buf: batch_max entries */
    int n_waiters, cap_waiters;
    ingest_counters c;
    void *state[INGEST_PROTOCOLS_MAX]; /* each protocol module's, as ingest_protocols[] */
    ingest_cmdq *cmdq;
};

struct ingest {
    int n;
    ingest_worker *w;
};

#define REASONS_MAX (64 * 1024)
#define PUB_MAX     (128 * 1024) /* one published array; the gateway takes up to 256 KiB */
static const unsigned batch_le_ms[8] = {5, 10, 20, 50, 100, 250, 1000, 5000};

/* ---- public helpers for the protocol handlers ---- */

struct event_base *ingest_worker_base(ingest_worker *w)
{
    return w->base;
}

PGconn *ingest_worker_ctl(ingest_worker *w)
{
    if (w->ctl && PQstatus(w->ctl) != CONNECTION_OK) {
        ingest_commands_ctl_closing(w->cmdq); /* before its socket closes */
        PQreset(w->ctl);
    }
    return w->ctl && PQstatus(w->ctl) == CONNECTION_OK ? w->ctl : NULL;
}

int ingest_worker_id(ingest_worker *w)
{
    return w->id;
}

const core_config *ingest_worker_cfg(ingest_worker *w)
{
    return w->cfg;
}

ingest_counters *ingest_worker_counters(ingest_worker *w)
{
    return &w->c;
}

ingest_cmdq *ingest_worker_cmdq(ingest_worker *w)
{
    return w->cmdq;
}

void ingest_worker_publish(ingest_worker *w, const char *json, size_t len)
{
    core_owner_check(&w->owner);
    int ok = w->push_ok && nng_send(w->push, (void *)json, len, NNG_FLAG_NONBLOCK) == 0;
    atomic_fetch_add_explicit(ok ? &w->c.published : &w->c.publish_dropped, 1,
                              memory_order_relaxed);
}

int ingest_listen(const char *hostport, int type)
{
    char host[256], portstr[8];
    int port, fd = -1, one = 1, rc;
    struct addrinfo hints = {0}, *ai = NULL;

    if (core_split_hostport(hostport, host, sizeof host, &port))
        return CORE_EINVAL;
    snprintf(portstr, sizeof portstr, "%d", port);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = type;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    if (getaddrinfo(host, portstr, &hints, &ai) != 0)
        return CORE_EINVAL;
    fd = socket(ai->ai_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        goto fail;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) ||
        bind(fd, ai->ai_addr, ai->ai_addrlen))
        goto fail;
    if (type == SOCK_STREAM && listen(fd, 1024))
        goto fail;
    freeaddrinfo(ai);
    return fd;
fail:
    rc = -errno;
    if (fd >= 0)
        close(fd);
    freeaddrinfo(ai);
    return rc;
}

/* ---- batches ---- */

static void flush(ingest_worker *w);

static void finish_sent(ingest_worker *w, int status)
{
    int n = geo_batch_len(w->sent.batch);
    if (status == CORE_EDB)
        atomic_fetch_add_explicit(&w->c.db_refused, (unsigned long long)n, memory_order_relaxed);
    for (int i = 0; i < n; i++) {
        struct pending *p = &w->sent.p[i];
        int st = status ? status : p->status;
        p->done(p->arg, st, st == CORE_EDB ? "database unavailable" : p->reason);
    }
    geo_batch_clear(w->sent.batch);
    w->sent.reasons_len = 0;
    w->in_flight = 0;
    atomic_store_explicit(&w->c.queue_depth, (unsigned)geo_batch_len(w->open.batch),
                          memory_order_relaxed);
}

/* Wakes as many waiting connections as the open batch has room for (each brings at least
 * one observation), oldest first. Called after the open batch was swapped out, so a full
 * batch's worth of devices resumes at once: waking only a few would leave the next batch
 * small and the database paying its fixed cost for a handful of fixes. A woken connection
 * that meets a full batch again registers again, at the end. */
static void wake_waiters(ingest_worker *w)
{
    int n = w->n_waiters, room = w->cfg->batch_max - geo_batch_len(w->open.batch);
    if (n == 0 || room <= 0)
        return;
    if (n > room)
        n = room;
    if (n > w->cfg->batch_max)
        n = w->cfg->batch_max;
    memcpy(w->wake_buf, w->waiters, (size_t)n * sizeof *w->wake_buf);
    memmove(w->waiters, w->waiters + n, (size_t)(w->n_waiters - n) * sizeof *w->waiters);
    w->n_waiters -= n;
    for (int i = 0; i < n; i++)
        w->wake_buf[i].fn(w->wake_buf[i].arg);
}

static void on_reject(void *arg, int idx, const char *reason)
{
    ingest_worker *w = arg;
    if (idx < 0 || idx >= geo_batch_len(w->sent.batch))
        return;
    size_t len = strlen(reason) + 1;
    struct pending *p = &w->sent.p[idx];
    p->status = CORE_EINVAL;
    if (w->sent.reasons_len + len <= REASONS_MAX) {
        p->reason = memcpy(w->sent.reasons + w->sent.reasons_len, reason, len);
        w->sent.reasons_len += len;
    } else {
        p->reason = "refused";
    }
}

/* Sends the gathered messages as one JSON array (the web gateway takes arrays as the same
 * messages in order): one nng message and one wake-up of the gateway a batch, where one
 * each cost about a tenth of the server's time at 25,000 positions a second. */
static void publish_flush(ingest_worker *w)
{
    if (!w->pub_n)
        return;
    w->pub[w->pub_len++] = ']';
    if (w->push_ok && nng_send(w->push, w->pub, w->pub_len, NNG_FLAG_NONBLOCK) == 0)
        atomic_fetch_add_explicit(&w->c.published, (unsigned long long)w->pub_n,
                                  memory_order_relaxed);
    else
        atomic_fetch_add_explicit(&w->c.publish_dropped, (unsigned long long)w->pub_n,
                                  memory_order_relaxed);
    w->pub_len = 0;
    w->pub_n = 0;
}

static void on_publish(void *arg, const char *kind, const char *json, size_t len)
{
    ingest_worker *w = arg;
    (void)kind;
    if (w->pub_len + len + 2 > PUB_MAX)
        publish_flush(w);
    if (!w->pub || len + 2 > PUB_MAX) { /* cannot happen with the messages we make */
        atomic_fetch_add_explicit(&w->c.publish_dropped, 1, memory_order_relaxed);
        return;
    }
    w->pub[w->pub_len++] = w->pub_n++ ? ',' : '[';
    memcpy(w->pub + w->pub_len, json, len);
    w->pub_len += len;
}

static void on_quiet(void *arg, int n)
{
    ingest_worker *w = arg;
    if (n > 0)
        atomic_fetch_add_explicit(&w->c.quiet, (unsigned long long)n, memory_order_relaxed);
}

static void on_hinted(void *arg, int n)
{
    ingest_worker *w = arg;
    if (n > 0)
        atomic_fetch_add_explicit(&w->c.hinted, (unsigned long long)n, memory_order_relaxed);
}

/* The copy to send the next batch with: loaded (again) first if it is stale, at most every
 * 5 s while loading fails. NULL: the batch goes without it. */
static geo_quiet *quiet_copy(ingest_worker *w)
{
    if (!w->quiet)
        return NULL;
    if (!geo_quiet_stale(w->quiet))
        return w->quiet;
    int64_t now = core_mono_us();
    if (now < w->quiet_try_us)
        return NULL;
    char err[512] = "no control connection to the database";
    PGconn *ctl = ingest_worker_ctl(w);
    if (!ctl || geo_quiet_load(w->quiet, ctl, err, sizeof err)) {
        core_warn(MOD, "worker %d: %s; quiet fixes are found by the database alone", w->id, err);
        w->quiet_try_us = now + 5000000;
        return NULL;
    }
    core_info(MOD, "worker %d: fence grid loaded for the worker's quiet test in %lld ms", w->id,
              (long long)((core_mono_us() - now) / 1000));
    return w->quiet;
}

/* ---- the batches' connection (dbpipe.h calls these on the worker's loop) ---- */

static int db_setup(void *arg, PGconn *conn, char *err, size_t n)
{
    ingest_worker *w = arg;
    if (geo_prepare(conn, err, n))
        return CORE_EDB;
    if (!w->ctl || PQstatus(w->ctl) != CONNECTION_OK) {
        ingest_commands_ctl_closing(w->cmdq); /* before its socket closes */
        PQfinish(w->ctl);
        const char *keys[] = {CORE_DB_OPTION_KEYS, "dbname", "application_name", NULL};
        const char *vals[] = {CORE_DB_OPTION_VALS, w->cfg->db ? w->cfg->db : "",
                              "corridord-ingest-ctl", NULL};
        w->ctl = PQconnectdbParams(keys, vals, 1);
    }
    quiet_copy(w); /* the grid now, before devices wait on a first batch */
    atomic_store_explicit(&w->c.db_up, 1, memory_order_relaxed);
    return 0;
}

/* Sends the held batch again on the connection dbpipe.c re-made at once (see the top of
 * the file). Without the quiet copy: the database evaluates every fix, duplicates of a
 * batch that did commit included. */
static void resend_held(ingest_worker *w, PGconn *conn)
{
    int n = geo_batch_len(w->sent.batch);
    for (int i = 0; i < n; i++) {
        w->sent.p[i].status = 0;
        w->sent.p[i].reason = NULL;
    }
    w->sent.reasons_len = 0;
    w->batch_failed = 0;
    w->sent_tries++;
    w->pub_len = 0;
    w->pub_n = 0;
    atomic_fetch_add_explicit(&w->c.batch_retries, 1, memory_order_relaxed);
    core_info(MOD, "worker %d: the batch in flight (%d fixes) is sent again on the new connection",
              w->id, n);
    /* on failure the connection is dropped and db_lost runs again (sent_tries is 2 now) */
    ingest_dbpipe_sent(w->db, geo_batch_send(w->sent.batch, conn, NULL) == 0);
}

static void db_lost(void *arg, int in_flight)
{
    ingest_worker *w = arg;
    PGconn *conn = ingest_dbpipe_conn(w->db); /* re-made at once, or NULL */
    atomic_store_explicit(&w->c.db_up, conn != NULL, memory_order_relaxed);
    if (w->in_flight) {
        atomic_fetch_add_explicit(&w->c.batch_errors, 1, memory_order_relaxed);
        if (conn && w->sent_tries < 2) {
            atomic_fetch_add_explicit(&w->c.db_reconnects, 1, memory_order_relaxed);
            resend_held(w, conn);
            return;
        }
        finish_sent(w, CORE_EDB);
    }
    if (conn)
        atomic_fetch_add_explicit(&w->c.db_reconnects, 1, memory_order_relaxed);
    /* what is open now goes on the new connection, or is failed at once without one:
     * nothing waits for a database that is gone */
    flush(w);
}

static void db_restored(void *arg)
{
    ingest_worker *w = arg;
    atomic_fetch_add_explicit(&w->c.db_reconnects, 1, memory_order_relaxed);
    flush(w);
}

static void db_result(void *arg, PGresult *r)
{
    ingest_worker *w = arg;
    core_owner_check(&w->owner);
    if (geo_batch_result(r, w->sent.batch,
                         &(geo_result_ops){on_reject, on_publish, on_quiet, on_hinted}, w)) {
        core_error(MOD, "worker %d: batch failed: %s", w->id, PQresultErrorMessage(r));
        w->batch_failed = 1;
    }
    publish_flush(w);
}

static void db_done(void *arg)
{
    ingest_worker *w = arg;
    int failed = w->batch_failed;
    w->batch_failed = 0;
    int64_t us = core_mono_us() - w->sent_at_us;
    atomic_fetch_add_explicit(&w->c.batches, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&w->c.batch_us_sum, (unsigned long long)us, memory_order_relaxed);
    for (int i = 0; i < 8; i++)
        if (us <= (int64_t)batch_le_ms[i] * 1000)
            atomic_fetch_add_explicit(&w->c.batch_le[i], 1, memory_order_relaxed);
    if (failed)
        atomic_fetch_add_explicit(&w->c.batch_errors, 1, memory_order_relaxed);
    if (us > 250000) /* over the 10,000/s latency bound: worth a line for the operator */
        core_info(MOD, "worker %d: batch of %d fixes took %lld ms", w->id,
                  geo_batch_len(w->sent.batch), (long long)(us / 1000));
    finish_sent(w, failed ? CORE_EDB : 0);
    /* The open batch goes now if it is due: full, or its first observation waited
     * batch_ms (the timer fired while this one was in flight). Otherwise its timer sends
     * it: sent at once, a batch of a few fixes paid the statement's fixed cost (a few ms)
     * every time, and at 10,000 fixes/s that cost took most of the two cores. */
    if (geo_batch_len(w->open.batch) >= w->cfg->batch_max || !w->timer_armed)
        flush(w);    /* it is empty now, so ... */
    wake_waiters(w); /* ... a whole batch of waiting devices may fill it */
}

static const ingest_dbpipe_ops db_ops = {db_setup, db_result, db_done, db_lost, db_restored};

/* While stopping: once nothing is open or in flight every device has its answer, and the
 * loop may end. */
static void maybe_exit(ingest_worker *w)
{
    if (w->stopping && !w->in_flight && geo_batch_len(w->open.batch) == 0)
        event_base_loopexit(w->base, NULL);
}

/* Sends the open batch if nothing is in flight. Without a database the open
 * observations are failed at once: a device must not wait for an acknowledgement that
 * cannot come. */
static void flush(ingest_worker *w)
{
    core_owner_check(&w->owner);
    if (w->in_flight || geo_batch_len(w->open.batch) == 0) {
        maybe_exit(w);
        return;
    }
    if (w->timer_armed) {
        event_del(w->batch_timer);
        w->timer_armed = 0;
    }
    struct side t = w->sent;
    w->sent = w->open;
    w->open = t;
    w->in_flight = 1;
    w->sent_at_us = core_mono_us();
    atomic_store_explicit(&w->c.queue_depth, (unsigned)geo_batch_len(w->sent.batch),
                          memory_order_relaxed);
    PGconn *conn = ingest_dbpipe_conn(w->db);
    if (!conn) {
        finish_sent(w, CORE_EDB);
        wake_waiters(w);
        maybe_exit(w);
        return;
    }
    w->batch_failed = 0;
    w->sent_tries = 1;
    /* on failure the connection is dropped and db_lost has failed (or re-sent) the batch */
    ingest_dbpipe_sent(w->db, geo_batch_send(w->sent.batch, conn, quiet_copy(w)) == 0);
}

static void on_batch_timer(evutil_socket_t fd, short what, void *arg)
{
    ingest_worker *w = arg;
    w->timer_armed = 0;
    flush(w);
}

int ingest_submit(ingest_worker *w, enum ingest_proto proto, const geo_obs *obs,
                  ingest_done_fn done, void *arg)
{
    core_owner_check(&w->owner);
    if (w->stopping) /* shutting down: what is in flight is flushed, nothing new comes in */
        return CORE_ECLOSED;
    int idx = geo_batch_add(w->open.batch, obs);
    if (idx < 0)
        return CORE_EFULL;
    w->open.p[idx] = (struct pending){done, arg, 0, NULL};
    atomic_ullong *ctr = proto == INGEST_JT808 ? &w->c.obs_jt808
                         : proto == INGEST_AIS ? &w->c.obs_ais
                                               : &w->c.obs_osmand;
    atomic_fetch_add_explicit(ctr, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&w->c.queue_depth, 1, memory_order_relaxed);
    if (geo_batch_len(w->open.batch) >= w->cfg->batch_max) {
        /* due now; sent from the loop so that done never runs inside this call */
        if (!w->in_flight)
            event_active(w->batch_timer, EV_TIMEOUT, 0);
    } else if (!w->timer_armed) {
        struct timeval tv = {0, w->cfg->batch_ms * 1000};
        event_add(w->batch_timer, &tv);
        w->timer_armed = 1;
    }
    return 0;
}

void ingest_worker_on_space(ingest_worker *w, void (*fn)(void *arg), void *arg)
{
    core_owner_check(&w->owner);
    if (w->n_waiters == w->cap_waiters) {
        int cap = w->cap_waiters ? w->cap_waiters * 2 : 64;
        struct space_waiter *nw = realloc(w->waiters, (size_t)cap * sizeof *nw);
        if (!nw) {
            core_error(MOD, "worker %d: out of memory for a space waiter", w->id);
            return;
        }
        w->waiters = nw;
        w->cap_waiters = cap;
    }
    w->waiters[w->n_waiters++] = (struct space_waiter){fn, arg};
}

/* ---- thread ---- */

static void stop_handlers(ingest_worker *w)
{
    ingest_commands_free(w->cmdq); /* before the connections it points to */
    w->cmdq = NULL;
    for (int i = ingest_n_protocols - 1; i >= 0; i--) {
        if (w->state[i])
            ingest_protocols[i]->stop(w->state[i]);
        w->state[i] = NULL;
    }
}

static void on_stop(evutil_socket_t fd, short what, void *arg)
{
    ingest_worker *w = arg;
    w->stopping = 1;
    flush(w);
}

static void *worker_main(void *arg)
{
    ingest_worker *w = arg;
    core_owner_take(&w->owner);
    event_base_dispatch(w->base);
    /* every batch is answered: now the handlers may go, with their connections */
    stop_handlers(w);
    return NULL;
}

static int side_init(struct side *s, int cap)
{
    s->batch = geo_batch_new(cap);
    s->p = calloc((size_t)cap, sizeof *s->p);
    s->reasons = malloc(REASONS_MAX);
    return s->batch && s->p && s->reasons ? 0 : -ENOMEM;
}

static void side_free(struct side *s)
{
    geo_batch_free(s->batch);
    free(s->p);
    free(s->reasons);
}

static void worker_release(ingest_worker *w)
{
    if (w->batch_timer)
        event_free(w->batch_timer);
    if (w->stop_ev)
        event_free(w->stop_ev);
    ingest_dbpipe_free(w->db); /* its events first, then the loop they belong to */
    if (w->base)
        event_base_free(w->base);
    PQfinish(w->ctl);
    geo_quiet_free(w->quiet);
    if (w->push_ok)
        nng_close(w->push);
    side_free(&w->open);
    side_free(&w->sent);
    free(w->waiters);
    free(w->wake_buf);
    free(w->pub);
}

static int worker_init(ingest_worker *w, int id, const core_config *cfg, char *err, size_t n)
{
    int rc;
    w->id = id;
    w->cfg = cfg;
    w->wake_buf = calloc((size_t)cfg->batch_max, sizeof *w->wake_buf);
    w->pub = malloc(PUB_MAX);
    if (cfg->worker_regions && !(w->quiet = geo_quiet_new())) {
        snprintf(err, n, "out of memory");
        return -ENOMEM;
    }
    if (!w->wake_buf || !w->pub || side_init(&w->open, cfg->batch_max) ||
        side_init(&w->sent, cfg->batch_max)) {
        snprintf(err, n, "out of memory");
        return -ENOMEM;
    }
    w->base = event_base_new();
    if (!w->base) {
        snprintf(err, n, "cannot create an event loop");
        return CORE_EINVAL;
    }
    w->batch_timer = evtimer_new(w->base, on_batch_timer, w);
    w->stop_ev = event_new(w->base, -1, 0, on_stop, w);
    char name[32];
    snprintf(name, sizeof name, "worker %d", id);
    /* reconnects every second: devices re-send meanwhile, and wait for the answers */
    w->db = ingest_dbpipe_new(w->base, cfg->db, "corridord-ingest", name, 1, &db_ops, w);
    if (!w->db || !w->batch_timer || !w->stop_ev) {
        snprintf(err, n, "out of memory");
        return -ENOMEM;
    }
    if (ingest_dbpipe_connect(w->db, 0)) {
        snprintf(err, n, "worker %d cannot use the database (see the log)", id);
        return CORE_EDB;
    }
    if ((rc = nng_push0_open(&w->push)) == 0) {
        w->push_ok = 1;
        nng_socket_set_int(w->push, NNG_OPT_SENDBUF, 1024);
        if ((rc = nng_dial(w->push, cfg->events_url, NULL, NNG_FLAG_NONBLOCK)))
            core_warn(MOD, "worker %d: dialling %s: %s", id, cfg->events_url, nng_strerror(rc));
    }
    /* the protocol modules (proto.c), each with its listeners */
    for (int i = 0; i < ingest_n_protocols; i++)
        if ((rc = ingest_protocols[i]->start(w, &w->state[i], err, n)))
            return rc;
    if (!(w->cmdq = ingest_commands_new(w)))
        core_warn(MOD, "worker %d: no command queue (out of memory): commands wait", id);
    return 0;
}

ingest *ingest_start(const core_config *cfg, char *err, size_t n)
{
    ingest *in = calloc(1, sizeof *in);
    if (!in) {
        snprintf(err, n, "out of memory");
        return NULL;
    }
    in->w = calloc((size_t)cfg->workers, sizeof *in->w);
    if (!in->w) {
        free(in);
        snprintf(err, n, "out of memory");
        return NULL;
    }
    evthread_use_pthreads();
    for (int i = 0; i < cfg->workers; i++) {
        in->n = i + 1;
        if (worker_init(&in->w[i], i, cfg, err, n))
            goto fail;
    }
    for (int i = 0; i < in->n; i++)
        if (pthread_create(&in->w[i].thread, NULL, worker_main, &in->w[i])) {
            snprintf(err, n, "cannot start worker thread %d", i);
            in->n = i;
            ingest_stop(in);
            return NULL;
        }
    core_info(MOD, "%d ingest workers started (osmand %s, jt808 %s, ais %s)", cfg->workers,
              cfg->osmand && *cfg->osmand ? cfg->osmand : "off",
              cfg->jt808 && *cfg->jt808 ? cfg->jt808 : "off",
              cfg->ais && *cfg->ais ? cfg->ais : "off");
    return in;
fail:
    for (int i = 0; i < in->n; i++) {
        stop_handlers(&in->w[i]);
        worker_release(&in->w[i]);
    }
    free(in->w);
    free(in);
    return NULL;
}

void ingest_stop(ingest *in)
{
    if (!in)
        return;
    for (int i = 0; i < in->n; i++)
        event_active(in->w[i].stop_ev, EV_READ, 0);
    for (int i = 0; i < in->n; i++) {
        pthread_join(in->w[i].thread, NULL);
        worker_release(&in->w[i]);
    }
    free(in->w);
    free(in);
}

int ingest_db_ok(ingest *in)
{
    for (int i = 0; i < in->n; i++)
        if (!atomic_load_explicit(&in->w[i].c.db_up, memory_order_relaxed))
            return 0;
    return 1;
}

size_t ingest_metrics(ingest *in, char *buf, size_t cap)
{
    size_t len = 0;
    unsigned long long obs[3] = {0}, bad[3] = {0}, batches = 0, errors = 0, reconn = 0, sum = 0,
                       le[8] = {0}, pub = 0, dropped = 0, depth = 0, quiet = 0, hinted = 0,
                       retries = 0, refused = 0;
    for (int i = 0; i < in->n; i++) {
        ingest_counters *c = &in->w[i].c;
        obs[0] += atomic_load(&c->obs_osmand);
        obs[1] += atomic_load(&c->obs_jt808);
        obs[2] += atomic_load(&c->obs_ais);
        bad[0] += atomic_load(&c->bad_osmand);
        bad[1] += atomic_load(&c->bad_jt808);
        bad[2] += atomic_load(&c->bad_ais);
        batches += atomic_load(&c->batches);
        errors += atomic_load(&c->batch_errors);
        reconn += atomic_load(&c->db_reconnects);
        retries += atomic_load(&c->batch_retries);
        refused += atomic_load(&c->db_refused);
        sum += atomic_load(&c->batch_us_sum);
        for (int k = 0; k < 8; k++)
            le[k] += atomic_load(&c->batch_le[k]);
        pub += atomic_load(&c->published);
        dropped += atomic_load(&c->publish_dropped);
        depth += atomic_load(&c->queue_depth);
        quiet += atomic_load(&c->quiet);
        hinted += atomic_load(&c->hinted);
    }
#define OUT(...)                                                                                   \
    do {                                                                                           \
        if (len < cap)                                                                             \
            len += (size_t)snprintf(buf + len, cap - len, __VA_ARGS__);                            \
    } while (0)
    static const char *proto[3] = {"osmand", "jt808", "ais"};
    OUT("# HELP corridor_observations_total Observations submitted for storage, by protocol.\n"
        "# TYPE corridor_observations_total counter\n");
    for (int i = 0; i < 3; i++)
        OUT("corridor_observations_total{protocol=\"%s\"} %llu\n", proto[i], obs[i]);
    OUT("# HELP corridor_quiet_fixes_total Fixes stored without rule work: inside their seal's "
        "safe region, where no rule state can change.\n"
        "# TYPE corridor_quiet_fixes_total counter\ncorridor_quiet_fixes_total %llu\n",
        quiet);
    OUT("# HELP corridor_quiet_worker_fixes_total Of the quiet fixes, those the ingest worker "
        "found quiet from its copy of the seal's region (the database only confirmed it).\n"
        "# TYPE corridor_quiet_worker_fixes_total counter\ncorridor_quiet_worker_fixes_total "
        "%llu\n",
        hinted);
    OUT("# HELP corridor_bad_input_total Device input refused, by protocol.\n"
        "# TYPE corridor_bad_input_total counter\n");
    for (int i = 0; i < 3; i++)
        OUT("corridor_bad_input_total{protocol=\"%s\"} %llu\n", proto[i], bad[i]);
    OUT("# HELP corridor_batch_seconds Time from sending a batch to its commit.\n"
        "# TYPE corridor_batch_seconds histogram\n");
    for (int k = 0; k < 8; k++)
        OUT("corridor_batch_seconds_bucket{le=\"%g\"} %llu\n", batch_le_ms[k] / 1000.0, le[k]);
    OUT("corridor_batch_seconds_bucket{le=\"+Inf\"} %llu\n", batches);
    OUT("corridor_batch_seconds_sum %.6f\ncorridor_batch_seconds_count %llu\n", sum / 1e6, batches);
    OUT("# TYPE corridor_batch_errors_total counter\ncorridor_batch_errors_total %llu\n", errors);
    OUT("# TYPE corridor_db_reconnects_total counter\ncorridor_db_reconnects_total %llu\n", reconn);
    OUT("# HELP corridor_batch_retries_total Batches in flight when their connection failed, "
        "sent again on the connection re-made at once.\n"
        "# TYPE corridor_batch_retries_total counter\ncorridor_batch_retries_total %llu\n",
        retries);
    OUT("# HELP corridor_db_refused_total Observations answered retry (JT/T 808 result 1, OsmAnd "
        "503) because the database could not store them.\n"
        "# TYPE corridor_db_refused_total counter\ncorridor_db_refused_total %llu\n",
        refused);
    OUT("# TYPE corridor_ingest_queue_depth gauge\ncorridor_ingest_queue_depth %llu\n", depth);
    OUT("# TYPE corridor_events_published_total counter\ncorridor_events_published_total %llu\n",
        pub);
    OUT("# TYPE corridor_events_dropped_total counter\ncorridor_events_dropped_total %llu\n",
        dropped);
#undef OUT
    void *states[64];
    for (int p = 0; p < ingest_n_protocols; p++) {
        if (!ingest_protocols[p]->metrics || len >= cap)
            continue;
        int k = 0;
        for (int i = 0; i < in->n && k < 64; i++)
            states[k++] = in->w[i].state[p];
        len += ingest_protocols[p]->metrics(states, k, buf + len, cap - len);
    }
    return len < cap ? len : cap;
}

size_t ingest_feeds_json(ingest *in, char *buf, size_t cap)
{
    void *states[64];
    for (int p = 0; p < ingest_n_protocols; p++) {
        if (!ingest_protocols[p]->feeds_json)
            continue;
        int k = 0;
        for (int i = 0; i < in->n && k < 64; i++)
            states[k++] = in->w[i].state[p];
        return ingest_protocols[p]->feeds_json(states, k, buf, cap);
    }
    return (size_t)snprintf(buf, cap, "[]");
}
