/*
 * dispatch.c: the dispatch stage. Sends incidents to rapid response units and takes
 * their reports, over nng, and runs the dispatch clock.
 *
 * DESIGN (docs/incidents.md, "Dispatch protocol"): corridor-rru clients are nng REQ
 * sockets; this stage is a REP socket on cfg->dispatch with DISPATCH_CTX contexts, each a
 * small state machine (receive, hold, send). Every request is one JSON object with its
 * token, which names the unit (an rru token is tied to its unit; "unit" in the request is
 * then only a check, and needed only with an admin token); the answer is one JSON object.
 * A client long-polls for its dispatches: {"op":"poll","have":[ids...]} is answered at
 * once with the unit's pending dispatches it does not hold yet (and the ids it holds that
 * are no longer pending), or held up to "wait_ms" until there are some. Because the client
 * says what it holds, delivery needs no server-side session: a new client process, a
 * reconnect or a restarted server all get every pending dispatch again, and a dispatch is
 * redelivered until it is acknowledged (then it is no longer pending). Dispatches are rows
 * of corridor.dispatches, committed before any client can see them.
 *
 * Every DISPATCH_TICK_MS the stage runs corridor.dispatch_tick(now, timeout): automatic
 * dispatch of open critical and high incidents to the nearest available unit, and
 * escalation of dispatches not acknowledged within cfg->dispatch_ack_timeout_s, on the
 * leader only (leader.c: with several instances, one runs the clock; every instance serves
 * the units' requests, which need no server-side state). The
 * incidents it changes, and those RRU actions change, go to the web gateway's events
 * socket (PUSH to cfg->events_url) so every officer's screen shows them.
 *
 * Threads: the stage's own thread does all the work (database, replies, the clock). nng's
 * threads run on_aio only, which queues the finished context and wakes the stage thread.
 * Owns: the thread, one PGconn, the REP and PUSH sockets, the contexts and their aios.
 */
#include "alerts.h"

#include <errno.h>
#include <json-c/json.h>
#include <nng/nng.h>
#include <nng/protocol/pipeline0/push.h>
#include <nng/protocol/reqrep0/rep.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MOD "dispatch"

#define DISPATCH_CTX           128         /* requests served at once (held polls included) */
#define DISPATCH_MSG_MAX       (16 * 1024) /* one client request: larger ones are dropped by nng */
#define DISPATCH_HAVE_MAX      64          /* dispatch ids a poll may say it holds */
#define DISPATCH_HOLD_MAX_MS   25000       /* longest a poll is held */
#define DISPATCH_TICK_MS       1000        /* the dispatch clock */
#define DISPATCH_HOLD_CHECK_MS 250         /* how often held polls look for new dispatches */
#define DISPATCH_RELISTEN_S    5           /* retry of a listener that could not bind */
#define DISPATCH_UNIT_MAX      64          /* characters of a unit id */

enum ctx_state { C_IDLE, C_RECV, C_HOLD, C_SEND };

struct dctx {
    alert_dispatch *d;
    nng_ctx ctx;
    nng_aio *aio;
    enum ctx_state state;
    char unit[DISPATCH_UNIT_MAX + 1];      /* a held poll: its unit, */
    char have[24 * DISPATCH_HAVE_MAX + 3]; /* the ids it holds as a SQL array, */
    int64_t until_us;                      /* and when it is answered empty */
};

struct alert_dispatch {
    const core_config *cfg;
    nng_socket rep, push;
    int rep_open, push_open, listening;
    struct dctx ctxs[DISPATCH_CTX];
    core_queue *done; /* struct dctx* whose aio finished */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int stopping;
    pthread_t thread;
    int started;
    PGconn *db;
    int64_t next_connect_us, next_listen_us;
    alert_leader *leader; /* the clock runs only on the leader */
};

/* ---- nng's threads ---- */

static void on_aio(void *arg)
{
    struct dctx *c = arg;
    alert_dispatch *d = c->d;
    /* each context has one aio in flight at most: the queue (2x) never fills */
    core_queue_push(d->done, c);
    pthread_mutex_lock(&d->lock);
    pthread_cond_signal(&d->cond);
    pthread_mutex_unlock(&d->lock);
}

/* ---- the stage thread ---- */

/* The token check of authenticate(), prepared on each new connection. 1 or 0. */
static int prepare_token(PGconn *db)
{
    PGresult *r = PQprepare(db, "dispatch_token",
                            "SELECT id, name, role, coalesce(country, ''), coalesce(unit_id, '')"
                            " FROM corridor.token_check($1::bytea)",
                            1, NULL);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    return ok;
}

static PGconn *db_conn(alert_dispatch *d)
{
    if (d->db && PQstatus(d->db) == CONNECTION_OK)
        return d->db;
    int64_t now = core_mono_us();
    if (now < d->next_connect_us)
        return NULL;
    d->next_connect_us = now + 1000000;
    PQfinish(d->db);
    /* the shared options first (core.h), the conninfo's own values over them */
    const char *keys[] = {CORE_DB_OPTION_KEYS, "dbname", "connect_timeout", "application_name",
                          NULL};
    const char *vals[] = {CORE_DB_OPTION_VALS, d->cfg->db ? d->cfg->db : "", "3",
                          "corridor-dispatch", NULL};
    d->db = PQconnectdbParams(keys, vals, 1);
    char err[512];
    if (PQstatus(d->db) != CONNECTION_OK) {
        core_warn(MOD, "cannot connect to the database: %s", PQerrorMessage(d->db));
    } else if (alert_prepare(d->db, err, sizeof err) != 0) {
        core_error(MOD, "%s", err);
    } else if (!prepare_token(d->db)) {
        core_error(MOD, "cannot prepare the token check: %s", PQerrorMessage(d->db));
    } else {
        return d->db;
    }
    PQfinish(d->db);
    d->db = NULL;
    return NULL;
}

/* Tells the web gateway (and so every officer's screen) about a changed incident. */
static void publish(alert_dispatch *d, const char *json, size_t len)
{
    if (d->push_open)
        nng_send(d->push, (void *)json, len, NNG_FLAG_NONBLOCK);
}

static void start_recv(struct dctx *c)
{
    c->state = C_RECV;
    nng_ctx_recv(c->ctx, c->aio);
}

/* Sends text as c's answer; the context receives again once it is sent. */
static void reply(struct dctx *c, const char *text, size_t len)
{
    nng_msg *m = NULL;
    if (nng_msg_alloc(&m, 0) != 0 || nng_msg_append(m, text, len) != 0) {
        nng_msg_free(m);
        start_recv(c);
        return;
    }
    nng_aio_set_msg(c->aio, m);
    c->state = C_SEND;
    nng_ctx_send(c->ctx, c->aio);
}

static void reply_error(struct dctx *c, int status, const char *code, const char *detail)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "type", json_object_new_string("error"));
    json_object_object_add(o, "ok", json_object_new_boolean(0));
    json_object_object_add(o, "status", json_object_new_int(status));
    json_object_object_add(o, "error", json_object_new_string(code));
    json_object_object_add(o, "detail", json_object_new_string(detail));
    size_t n;
    const char *t = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &n);
    reply(c, t, n);
    json_object_put(o);
}

/*
 * THE token check: the one place a client's identity is verified. The token's SHA-256 is
 * looked up in corridor.tokens (schema/rules/tokens.sql: only hashes are stored). An rru
 * token carries its unit (`corridord token create --role rru --unit ID`): that is the
 * client's unit, and a "unit" the request names as well must be the same one (a client's
 * check that it holds the token it means to). An admin token has no unit: its request
 * must name one. The token must not be revoked and the unit must exist. Logs name the
 * token by id, never by its text. Returns 0 with the unit's id in unit_out (the caller's
 * DISPATCH_UNIT_MAX + 1 bytes) and its JSON in *unit_json (malloc'd) when want_json; 401/503
 * otherwise, with a reason in why (why_n bytes).
 */
static int authenticate(alert_dispatch *d, const char *unit, const char *token,
                        char unit_out[DISPATCH_UNIT_MAX + 1], char **unit_json, char *why,
                        size_t why_n)
{
    if (!token || !*token || strlen(token) > 128) {
        snprintf(why, why_n, "a token is required");
        return 401;
    }
    if (unit && strlen(unit) > DISPATCH_UNIT_MAX) {
        snprintf(why, why_n, "a unit id has at most %d characters", DISPATCH_UNIT_MAX);
        return 401;
    }
    PGconn *db = db_conn(d);
    if (!db) {
        snprintf(why, why_n, "the database cannot be reached; retry shortly");
        return 503;
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    char hex[2 + 64 + 1] = "\\x";
    if (!EVP_Digest(token, strlen(token), md, &mdlen, EVP_sha256(), NULL) || mdlen != 32) {
        snprintf(why, why_n, "cannot hash the token");
        return 503;
    }
    for (unsigned i = 0; i < 32; i++)
        snprintf(hex + 2 + 2 * i, 3, "%02x", md[i]);
    const char *tv[1] = {hex};
    PGresult *r = PQexecPrepared(db, "dispatch_token", 1, tv, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        core_warn(MOD, "token check failed: %s", PQresultErrorMessage(r));
        PQclear(r);
        snprintf(why, why_n, "the database refused the query");
        return 503;
    }
    int rc = 401;
    if (PQntuples(r) != 1) {
        snprintf(why, why_n, "unknown unit or invalid token");
    } else if (strcmp(PQgetvalue(r, 0, 2), "rru") == 0) {
        const char *own = PQgetvalue(r, 0, 4);
        if (unit && strcmp(own, unit) != 0) {
            /* the caller holds this token: telling it the token's own unit leaks nothing */
            core_info(MOD, "token %s (%s) of unit %s refused for unit %s", PQgetvalue(r, 0, 0),
                      PQgetvalue(r, 0, 1), own, unit);
            snprintf(why, why_n, "this token is unit %s's, not %s's", own, unit);
        } else if (strlen(own) > DISPATCH_UNIT_MAX) {
            snprintf(why, why_n, "unknown unit or invalid token");
        } else {
            snprintf(unit_out, DISPATCH_UNIT_MAX + 1, "%s", own);
            rc = 0;
        }
    } else if (strcmp(PQgetvalue(r, 0, 2), "admin") == 0) {
        if (unit) {
            snprintf(unit_out, DISPATCH_UNIT_MAX + 1, "%s", unit);
            rc = 0;
        } else {
            snprintf(why, why_n, "an admin token belongs to no unit: name one with \"unit\"");
        }
    } else {
        core_info(MOD, "token %s (%s) of role %s refused", PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1),
                  PQgetvalue(r, 0, 2));
        snprintf(why, why_n, "unknown unit or invalid token");
    }
    PQclear(r);
    if (rc)
        return rc;
    const char *vals[1] = {unit_out};
    r = PQexecPrepared(db, "alert_unit", 1, vals, NULL, NULL, 0);
    rc = 401;
    snprintf(why, why_n, "unknown unit or invalid token");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        snprintf(why, why_n, "the database refused the query");
        rc = 503;
    } else if (PQntuples(r) == 1) {
        rc = 0;
        if (unit_json)
            *unit_json = strdup(PQgetvalue(r, 0, 0));
    }
    PQclear(r);
    return rc;
}

/* The unit's pending dispatches not in have (a SQL array literal), and the held ids no
 * longer pending. 0 with both JSON texts (malloc'd), or CORE_EDB. */
static int take(alert_dispatch *d, const char *unit, const char *have, char **got, char **gone)
{
    PGconn *db = db_conn(d);
    if (!db)
        return CORE_EDB;
    const char *vals[2] = {unit, have};
    PGresult *r = PQexecPrepared(db, "alert_take", 2, vals, NULL, NULL, 0);
    int rc = CORE_EDB;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
        *got = strdup(PQgetvalue(r, 0, 0));
        *gone = strdup(PQgetvalue(r, 0, 1));
        rc = *got && *gone ? 0 : CORE_EDB;
        if (rc) {
            free(*got);
            free(*gone);
        }
    } else {
        core_warn(MOD, "taking dispatches of %s: %s", unit, PQresultErrorMessage(r));
    }
    PQclear(r);
    return rc;
}

static void reply_dispatches(struct dctx *c, const char *got, const char *gone)
{
    size_t n = strlen(got) + strlen(gone) + 64;
    char *t = malloc(n);
    if (!t) {
        start_recv(c);
        return;
    }
    int len = snprintf(t, n, "{\"type\":\"dispatches\",\"ok\":true,\"dispatches\":%s,\"gone\":%s}",
                       got, gone);
    reply(c, t, (size_t)len);
    free(t);
}

/* 1 when a poll's answer has something in it. */
static int nonempty(const char *got, const char *gone)
{
    return strcmp(got, "[]") != 0 || strcmp(gone, "[]") != 0;
}

static void on_poll(alert_dispatch *d, struct dctx *c, json_object *o, const char *unit)
{
    json_object *h, *w;
    char have[sizeof c->have];
    size_t off = 0;
    have[off++] = '{';
    if (json_object_object_get_ex(o, "have", &h) && h) {
        if (!json_object_is_type(h, json_type_array) ||
            json_object_array_length(h) > DISPATCH_HAVE_MAX)
            return reply_error(c, 400, "bad_request", "\"have\" is an array of at most 64 ids");
        for (size_t i = 0; i < json_object_array_length(h); i++) {
            json_object *e = json_object_array_get_idx(h, i);
            if (!json_object_is_type(e, json_type_int) || json_object_get_int64(e) < 1)
                return reply_error(c, 400, "bad_request", "\"have\" holds dispatch ids");
            off += (size_t)snprintf(have + off, sizeof have - off, "%s%lld", i ? "," : "",
                                    (long long)json_object_get_int64(e));
        }
    }
    have[off++] = '}';
    have[off] = '\0';
    int64_t wait_ms = 20000;
    if (json_object_object_get_ex(o, "wait_ms", &w) && json_object_is_type(w, json_type_int))
        wait_ms = json_object_get_int64(w);
    if (wait_ms < 0)
        wait_ms = 0;
    if (wait_ms > DISPATCH_HOLD_MAX_MS)
        wait_ms = DISPATCH_HOLD_MAX_MS;

    char *got = NULL, *gone = NULL;
    if (take(d, unit, have, &got, &gone) != 0)
        return reply_error(c, 503, "db_unavailable", "the database cannot be reached");
    /* one held poll per unit: a newer poll answers the older one (its client gave up) */
    int held = 0;
    for (int i = 0; i < DISPATCH_CTX; i++) {
        struct dctx *x = &d->ctxs[i];
        if (x->state == C_HOLD && strcmp(x->unit, unit) == 0)
            reply_dispatches(x, "[]", "[]");
        held += x->state == C_HOLD;
    }
    if (nonempty(got, gone) || wait_ms == 0 || held >= DISPATCH_CTX / 2) {
        reply_dispatches(c, got, gone);
    } else {
        c->state = C_HOLD;
        snprintf(c->unit, sizeof c->unit, "%s", unit);
        memcpy(c->have, have, off + 1);
        c->until_us = core_mono_us() + wait_ms * 1000;
    }
    free(got);
    free(gone);
}

static void on_action(alert_dispatch *d, struct dctx *c, json_object *o, const char *unit)
{
    json_object *inc, *v;
    char id[24];
    if (!json_object_object_get_ex(o, "incident", &inc) ||
        !(json_object_is_type(inc, json_type_int) || json_object_is_type(inc, json_type_string)))
        return reply_error(c, 400, "bad_request", "an action needs \"incident\" (its id)");
    snprintf(id, sizeof id, "%s", json_object_get_string(inc));
    json_object *a = json_object_new_object();
    static const char *const keys[] = {"action", "note", "outcome"};
    for (size_t i = 0; i < 3; i++)
        if (json_object_object_get_ex(o, keys[i], &v) && json_object_is_type(v, json_type_string))
            json_object_object_add(a, keys[i], json_object_get(v));
    char actor[80];
    snprintf(actor, sizeof actor, "rru:%s", unit);
    const char *action = json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN);
    alert_answer ans = {0};
    PGconn *db = db_conn(d);
    int rc = db ? alert_incident_action(db, id, action, actor, NULL, unit, &ans) : CORE_EDB;
    json_object_put(a);
    if (rc != 0)
        return reply_error(c, 503, "db_unavailable", "the database cannot take the action now");
    if (ans.status == 200)
        publish(d, ans.body, ans.len);
    size_t n = ans.len + 96;
    char *t = malloc(n);
    if (t) {
        int len = snprintf(t, n,
                           "{\"type\":\"result\",\"ok\":%s,\"status\":%d,\"incident_id\":%s,"
                           "\"answer\":%s}",
                           ans.status == 200 ? "true" : "false", ans.status, id, ans.body);
        reply(c, t, (size_t)len);
        free(t);
    } else {
        start_recv(c);
    }
    alert_answer_clear(&ans);
}

/* One request: parse, authenticate, serve. */
static void on_request(alert_dispatch *d, struct dctx *c, nng_msg *m)
{
    json_tokener *tok = json_tokener_new_ex(16);
    json_object *o = tok ? json_tokener_parse_ex(tok, nng_msg_body(m), (int)nng_msg_len(m)) : NULL;
    json_object *v;
    if (tok)
        json_tokener_free(tok);
    nng_msg_free(m);
    const char *op = NULL, *unit = NULL, *token = NULL;
    if (o && json_object_is_type(o, json_type_object)) {
        if (json_object_object_get_ex(o, "op", &v) && json_object_is_type(v, json_type_string))
            op = json_object_get_string(v);
        if (json_object_object_get_ex(o, "unit", &v) && json_object_is_type(v, json_type_string))
            unit = json_object_get_string(v);
        if (json_object_object_get_ex(o, "token", &v) && json_object_is_type(v, json_type_string))
            token = json_object_get_string(v);
    }
    if (unit && !*unit)
        unit = NULL; /* "unit" is optional: the token says which */
    if (!op) {
        reply_error(c, 400, "bad_request",
                    "a request is a JSON object with \"op\": hello, poll "
                    "or action");
        goto done;
    }
    char why[160], own[DISPATCH_UNIT_MAX + 1];
    char *unit_json = NULL;
    int st = authenticate(d, unit, token, own, strcmp(op, "hello") == 0 ? &unit_json : NULL, why,
                          sizeof why);
    if (st) {
        reply_error(c, st, st == 401 ? "unauthorized" : "db_unavailable", why);
        goto done;
    }
    if (strcmp(op, "hello") == 0) {
        size_t n = strlen(unit_json) + 64;
        char *t = malloc(n);
        if (t) {
            int len = snprintf(t, n, "{\"type\":\"connected\",\"ok\":true,\"unit\":%s}", unit_json);
            reply(c, t, (size_t)len);
            free(t);
        } else {
            start_recv(c);
        }
        free(unit_json);
    } else if (strcmp(op, "poll") == 0) {
        on_poll(d, c, o, own);
    } else if (strcmp(op, "action") == 0) {
        on_action(d, c, o, own);
    } else {
        reply_error(c, 400, "bad_request", "unknown \"op\" (known: hello, poll, action)");
    }
done:
    json_object_put(o);
}

static void on_done(alert_dispatch *d, struct dctx *c)
{
    int rv = nng_aio_result(c->aio);
    if (c->state == C_SEND) {
        if (rv != 0)
            nng_msg_free(nng_aio_get_msg(c->aio)); /* the client went away */
        if (rv != NNG_ECLOSED && rv != NNG_ECANCELED)
            start_recv(c);
        else
            c->state = C_IDLE;
    } else if (c->state == C_RECV) {
        if (rv == NNG_ECLOSED || rv == NNG_ECANCELED) {
            c->state = C_IDLE;
        } else if (rv != 0) {
            start_recv(c);
        } else {
            on_request(d, c, nng_aio_get_msg(c->aio));
        }
    }
}

/* Answers held polls that have dispatches now, or whose time is up. */
static void check_holds(alert_dispatch *d)
{
    int64_t now = core_mono_us();
    for (int i = 0; i < DISPATCH_CTX; i++) {
        struct dctx *c = &d->ctxs[i];
        if (c->state != C_HOLD)
            continue;
        char *got = NULL, *gone = NULL;
        if (take(d, c->unit, c->have, &got, &gone) == 0) {
            if (nonempty(got, gone) || now >= c->until_us)
                reply_dispatches(c, got, gone);
            free(got);
            free(gone);
        } else if (now >= c->until_us) {
            reply_error(c, 503, "db_unavailable", "the database cannot be reached");
        }
    }
}

/* The dispatch clock: automatic dispatch and escalation. */
static void tick(alert_dispatch *d)
{
    if (!alert_leader_held(d->leader))
        return; /* another instance runs the clock */
    PGconn *db = db_conn(d);
    if (!db)
        return;
    char timeout[16];
    snprintf(timeout, sizeof timeout, "%d",
             d->cfg->dispatch_ack_timeout_s > 0 ? d->cfg->dispatch_ack_timeout_s : 300);
    const char *vals[1] = {timeout};
    PGresult *r = PQexecPrepared(db, "alert_tick", 1, vals, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        core_warn(MOD, "dispatch tick: %s", PQresultErrorMessage(r));
    } else {
        for (int i = 0; i < PQntuples(r); i++)
            publish(d, PQgetvalue(r, i, 0), (size_t)PQgetlength(r, i, 0));
        if (PQntuples(r))
            core_info(MOD, "dispatch tick: %d incident%s changed", PQntuples(r),
                      PQntuples(r) == 1 ? "" : "s");
    }
    PQclear(r);
}

/* Listens on cfg->dispatch; retried while the address is taken. */
static void try_listen(alert_dispatch *d)
{
    int64_t now = core_mono_us();
    if (d->listening || now < d->next_listen_us)
        return;
    int rv = nng_listen(d->rep, d->cfg->dispatch, NULL, 0);
    if (rv == 0) {
        d->listening = 1;
        core_info(MOD, "listening for rapid response units on %s", d->cfg->dispatch);
        return;
    }
    if (d->next_listen_us == 0 || rv != NNG_EADDRINUSE)
        core_error(MOD, "--dispatch %s: %s (retrying every %d s)", d->cfg->dispatch,
                   nng_strerror(rv), DISPATCH_RELISTEN_S);
    d->next_listen_us = now + DISPATCH_RELISTEN_S * 1000000LL;
}

static void *dispatch_main(void *arg)
{
    alert_dispatch *d = arg;
    int64_t next_tick = core_mono_us(), next_check = next_tick;
    for (int i = 0; i < DISPATCH_CTX; i++)
        start_recv(&d->ctxs[i]);
    for (;;) {
        int64_t now = core_mono_us();
        int64_t wake = next_check < next_tick ? next_check : next_tick;
        pthread_mutex_lock(&d->lock);
        if (!d->stopping && core_queue_len(d->done) == 0 && wake > now) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            int64_t ns = until.tv_nsec + (wake - now) * 1000;
            until.tv_sec += ns / 1000000000;
            until.tv_nsec = ns % 1000000000;
            pthread_cond_timedwait(&d->cond, &d->lock, &until);
        }
        int stop = d->stopping;
        pthread_mutex_unlock(&d->lock);
        if (stop)
            break;
        struct dctx *c;
        while ((c = core_queue_pop(d->done)))
            on_done(d, c);
        now = core_mono_us();
        if (now >= next_check) {
            try_listen(d);
            check_holds(d);
            next_check = now + DISPATCH_HOLD_CHECK_MS * 1000;
        }
        if (now >= next_tick) {
            tick(d);
            next_tick = now + DISPATCH_TICK_MS * 1000;
        }
    }
    return NULL;
}

alert_dispatch *alert_dispatch_start(const core_config *cfg, alert_leader *leader, char *err,
                                     size_t n)
{
    alert_dispatch *d = calloc(1, sizeof *d);
    int rv;
    if (!d) {
        snprintf(err, n, "out of memory");
        return NULL;
    }
    d->cfg = cfg;
    d->leader = leader;
    if (!cfg->dispatch) {
        snprintf(err, n, "--dispatch: no URL");
        free(d);
        return NULL;
    }
    pthread_mutex_init(&d->lock, NULL);
    pthread_cond_init(&d->cond, NULL);
    if (!(d->done = core_queue_new(2 * DISPATCH_CTX))) {
        snprintf(err, n, "out of memory");
        goto fail;
    }
    if ((rv = nng_rep0_open(&d->rep)) != 0) {
        snprintf(err, n, "dispatch socket: %s", nng_strerror(rv));
        goto fail;
    }
    d->rep_open = 1;
    nng_socket_set_size(d->rep, NNG_OPT_RECVMAXSZ, DISPATCH_MSG_MAX);
    for (int i = 0; i < DISPATCH_CTX; i++) {
        struct dctx *c = &d->ctxs[i];
        c->d = d;
        if ((rv = nng_ctx_open(&c->ctx, d->rep)) != 0 ||
            (rv = nng_aio_alloc(&c->aio, on_aio, c)) != 0) {
            snprintf(err, n, "dispatch socket: %s", nng_strerror(rv));
            goto fail;
        }
    }
    /* a malformed URL is a configuration error; a taken address is retried; "" disables
     * the endpoint (the dispatch clock still runs) */
    rv = *cfg->dispatch ? nng_listen(d->rep, cfg->dispatch, NULL, 0) : 0;
    if (rv == NNG_EADDRINVAL || rv == NNG_ENOTSUP || rv == NNG_EINVAL) {
        snprintf(err, n, "--dispatch %s: %s", cfg->dispatch, nng_strerror(rv));
        goto fail;
    }
    if (rv == 0) {
        d->listening = 1;
        if (*cfg->dispatch)
            core_info(MOD, "listening for rapid response units on %s", cfg->dispatch);
        else
            core_info(MOD, "no dispatch endpoint (--dispatch \"\"): units cannot connect");
    } else {
        core_error(MOD, "--dispatch %s: %s (retrying every %d s)", cfg->dispatch, nng_strerror(rv),
                   DISPATCH_RELISTEN_S);
        d->next_listen_us = core_mono_us() + DISPATCH_RELISTEN_S * 1000000LL;
    }
    if (nng_push0_open(&d->push) == 0) {
        d->push_open = 1;
        nng_dial(d->push, cfg->events_url ? cfg->events_url : "inproc://corridor-events", NULL,
                 NNG_FLAG_NONBLOCK);
    }
    if (pthread_create(&d->thread, NULL, dispatch_main, d) != 0) {
        snprintf(err, n, "cannot start the dispatch thread");
        goto fail;
    }
    d->started = 1;
    return d;
fail:
    alert_dispatch_stop(d);
    return NULL;
}

void alert_dispatch_stop(alert_dispatch *d)
{
    if (!d)
        return;
    if (d->started) {
        pthread_mutex_lock(&d->lock);
        d->stopping = 1;
        pthread_cond_signal(&d->cond);
        pthread_mutex_unlock(&d->lock);
        pthread_join(d->thread, NULL);
    }
    /* the thread is gone: stop every aio (no callback runs after this), then close */
    for (int i = 0; i < DISPATCH_CTX; i++) {
        struct dctx *c = &d->ctxs[i];
        if (!c->aio)
            continue;
        nng_aio_stop(c->aio);
        int rv = nng_aio_result(c->aio);
        /* a message received but not served yet, or an answer that was not sent */
        if ((c->state == C_RECV && rv == 0) || (c->state == C_SEND && rv != 0))
            nng_msg_free(nng_aio_get_msg(c->aio));
    }
    for (int i = 0; i < DISPATCH_CTX; i++)
        if (d->ctxs[i].aio)
            nng_ctx_close(d->ctxs[i].ctx);
    if (d->rep_open)
        nng_close(d->rep);
    if (d->push_open)
        nng_close(d->push);
    for (int i = 0; i < DISPATCH_CTX; i++)
        nng_aio_free(d->ctxs[i].aio);
    core_queue_free(d->done);
    PQfinish(d->db);
    pthread_cond_destroy(&d->cond);
    pthread_mutex_destroy(&d->lock);
    free(d);
}
