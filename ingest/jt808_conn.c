/*
 * jt808_conn.c: JT/T 808 over TCP on an ingest worker: the listener, its connections,
 * terminal identity, and acknowledgement after commit.
 *
 * DESIGN
 * Each connection is a bufferevent on the worker's loop with a hard input watermark. Its
 * bytes go through the codec's frame splitter (fixed 1.1 KiB buffer) and each frame is
 * answered per docs/jt808.md:
 *   - 0x0100 register: the terminal number is looked up in corridor.seals (protocol
 *     jt808) on the worker's blocking control connection and cached on the connection;
 *     0x8100 result 0 with an auth code derived from the seal row, or 4 "no such terminal
 *     in the database" (counted as bad). With the database down nothing is answered: the
 *     device retries.
 *   - 0x0102 auth: the code must match; 0x8001 result 0 or 1. Only an authenticated
 *     connection may report, and only for its own terminal number.
 *   - 0x0200 and 0x0704: every position goes to ingest_submit(); the 0x8001 goes out from
 *     the done callback of the message's last position, i.e. after its batch committed,
 *     one per message; a CORE_EDB outcome is never acknowledged (the device re-sends).
 *   - other ids: 0x8001 result 3 "unsupported".
 * Backpressure: when ingest_submit() says CORE_EFULL the connection keeps the message
 * where it stopped, stops reading and resumes from ingest_worker_on_space().
 * Policy (docs/jt808.md): idle timeout JT_IDLE_S without a complete frame (this also
 * drops a sender of one byte a minute), frames over INGEST_JT808_FRAME_MAX close the
 * connection, the JT_BAD_MAX-th bad frame closes it, a device that does not read its
 * replies is dropped at JT_OUTPUT_MAX queued bytes or after JT_WRITE_TIMEOUT_S.
 *
 * Lifetime: a connection is referenced by its listener list, by each
 * message awaiting done callbacks, and by a pending space callback. Closing frees the
 * socket at once and the struct when the last reference is gone, never while one of its
 * own callbacks is still on the stack (the busy count).
 *
 * Owns: the listening socket and every connection. Runs on the worker thread only.
 */
#include "jt808.h"
#include "proto.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <json-c/json.h>
#include <math.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define MOD "jt808"

#define JT_IDLE_S          300         /* no complete frame for this long: closed */
#define JT_WRITE_TIMEOUT_S 60          /* replies not taken for this long: closed */
#define JT_INPUT_HIGH      (16 * 1024) /* bytes read ahead of the splitter */
#define JT_OUTPUT_MAX      (64 * 1024) /* replies queued for a device that does not read */
#define JT_BAD_MAX         8           /* bad frames or refused messages before closing */
#define JT_CHUNK           4096        /* bytes handed to the splitter at once */
#define JT_PEND_MAX        512         /* replies gathered before one write */

typedef struct jt_srv jt_srv;
typedef struct jt_conn jt_conn;

/* One device message (0x0200 or 0x0704) waiting for its observations' outcomes. */
typedef struct jt_ack {
    jt_conn *c;
    struct jt_ack *prev, *next;
    uint16_t serial, msg_id;
    int remaining; /* done callbacks to come, plus one while still submitting */
    int stored, rejected, db_failed;
    int silent; /* an answer to a command (0x0201, 0x0500): the platform does not reply */
} jt_ack;

struct jt_srv {
    ingest_worker *w;
    struct evconnlistener *lis;
    jt_conn *conns;
    struct event *flush_ev; /* writes the gathered replies, once per loop iteration */
    jt_conn *dirty;         /* connections with gathered replies (each holds a ref) */
};

struct jt_conn {
    jt_srv *srv;
    ingest_worker *w;
    jt_conn *prev, *next;
    struct bufferevent *bev;
    struct event *idle;
    char peer[64];
    ingest_jt808_splitter sp;
    ingest_jt808_reasm *reasm; /* only while a subpackaged message arrives */
    /* reply header: as the device last spoke */
    int v2019;
    uint8_t pver;
    char reply_terminal[INGEST_JT808_TERMINAL_MAX + 1];
    uint16_t out_serial;
    /* identity: the cached look-up, and whether the device authenticated */
    int looked_up, authed;
    char terminal[INGEST_JT808_TERMINAL_MAX + 1];
    char seal_id[GEO_ID_MAX + 1];
    char code[33];
    int tz_min;
    /* a message held back by CORE_EFULL */
    ingest_jt808_location *held;
    int held_n, held_next;
    jt_ack *held_ack;
    jt_ack *acks;
    int bad, closing, busy, refs, waiting_space;
    /* replies gathered in this loop iteration (a batch commit acknowledges many frames of
     * one device at once): written with one call, not one each */
    uint8_t pend[JT_PEND_MAX];
    int pend_len, in_dirty;
    jt_conn *dirty_next;
};

/* ---- lifetime ---- */

static void conn_free(jt_conn *c)
{
    while (c->acks) {
        jt_ack *a = c->acks;
        c->acks = a->next;
        free(a);
    }
    if (c->srv) {
        if (c->prev)
            c->prev->next = c->next;
        else
            c->srv->conns = c->next;
        if (c->next)
            c->next->prev = c->prev;
    }
    if (c->idle)
        event_free(c->idle);
    if (c->bev)
        bufferevent_free(c->bev);
    free(c->held);
    free(c->reasm);
    free(c);
}

/* Closes the socket now; the struct goes when nothing refers to it any more. */
static void conn_close(jt_conn *c, const char *why)
{
    if (c->closing)
        return;
    core_debug(MOD, "%s: closed: %s", c->peer, why);
    c->closing = 1;
    if (c->authed)
        ingest_seal_offline(c->w, c->seal_id, c);
    if (c->idle) {
        event_free(c->idle);
        c->idle = NULL;
    }
    if (c->bev) {
        bufferevent_free(c->bev);
        c->bev = NULL;
    }
}

static void enter(jt_conn *c)
{
    c->busy++;
}

static void leave(jt_conn *c)
{
    if (--c->busy == 0 && c->closing && c->refs == 0)
        conn_free(c);
}

static void count_bad(jt_conn *c)
{
    if (c->srv)
        atomic_fetch_add_explicit(&ingest_worker_counters(c->w)->bad_jt808, 1,
                                  memory_order_relaxed);
}

/* A bad frame or refused message: counted; the JT_BAD_MAX-th closes the connection. */
static void bad(jt_conn *c, const char *why)
{
    count_bad(c);
    core_debug(MOD, "%s: %s", c->peer, why);
    if (++c->bad >= JT_BAD_MAX)
        conn_close(c, "too many bad frames");
}

/* ---- replies ---- */

/* Writes the gathered replies. Nothing queued in the bufferevent: straight to the socket
 * (going through the bufferevent arms and disarms its write event, two epoll_ctl calls,
 * once a tenth of the server's time under load); what the socket does not take is queued
 * there as before. */
static void flush_pend(jt_conn *c)
{
    if (!c->pend_len || c->closing || !c->bev)
        return;
    ssize_t k = 0;
    if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) {
        k = send(bufferevent_getfd(c->bev), c->pend, (size_t)c->pend_len,
                 MSG_DONTWAIT | MSG_NOSIGNAL);
        if (k < 0)
            k = 0; /* would block, or an error the bufferevent will report */
    }
    if (k < c->pend_len)
        bufferevent_write(c->bev, c->pend + k, (size_t)(c->pend_len - k));
    c->pend_len = 0;
}

static void on_flush(evutil_socket_t fd, short what, void *arg)
{
    jt_srv *s = arg;
    (void)fd, (void)what;
    while (s->dirty) {
        jt_conn *c = s->dirty;
        s->dirty = c->dirty_next;
        enter(c);
        c->in_dirty = 0;
        c->refs--;
        flush_pend(c);
        leave(c);
    }
}

static void send_msg(jt_conn *c, uint16_t msg_id, const uint8_t *body, size_t len)
{
    uint8_t frame[2 * (21 + 512 + 1) + 2]; /* a command body is at most 512 bytes */
    if (c->closing || !c->bev)
        return;
    struct evbuffer *out = bufferevent_get_output(c->bev);
    if (evbuffer_get_length(out) + (size_t)c->pend_len > JT_OUTPUT_MAX) {
        conn_close(c, "device does not read its replies");
        return;
    }
    ingest_jt808_head h = {
        .msg_id = msg_id, .serial = c->out_serial++, .v2019 = c->v2019, .proto_version = c->pver};
    memcpy(h.terminal, c->reply_terminal, sizeof h.terminal);
    int n = ingest_jt808_encode(&h, body, len, frame, sizeof frame);
    if (n <= 0)
        return;
    if (c->pend_len + n > JT_PEND_MAX)
        flush_pend(c);
    if (n > JT_PEND_MAX || !c->srv || !c->srv->flush_ev) {
        bufferevent_write(c->bev, frame, (size_t)n);
        return;
    }
    memcpy(c->pend + c->pend_len, frame, (size_t)n);
    c->pend_len += n;
    if (!c->in_dirty) {
        c->in_dirty = 1;
        c->refs++;
        c->dirty_next = c->srv->dirty;
        if (!c->srv->dirty)
            event_active(c->srv->flush_ev, EV_TIMEOUT, 0);
        c->srv->dirty = c;
    }
}

static void send_ack(jt_conn *c, uint16_t serial, uint16_t msg_id, int result)
{
    uint8_t b[5];
    int n = ingest_jt808_body_ack(b, sizeof b, serial, msg_id, result);
    send_msg(c, INGEST_JT808_PLAT_ACK, b, (size_t)n);
}

/* 0x4401: the answer to a JT705A-style message, in its own header (one-byte serial). */
static void send_jt705_ack(jt_conn *c, uint16_t serial, uint16_t msg_id, int result)
{
    uint8_t b[3], frame[2 * (11 + 3 + 1) + 2];
    if (c->closing || !c->bev)
        return;
    ingest_jt808_head h = {
        .msg_id = INGEST_JT808_JT705_ACK, .serial = serial & 0xff, .short_serial = 1};
    memcpy(h.terminal, c->reply_terminal, sizeof h.terminal);
    int k = ingest_jt808_body_jt705_ack(b, sizeof b, msg_id, result);
    int n = ingest_jt808_encode(&h, b, (size_t)k, frame, sizeof frame);
    if (n > 0)
        bufferevent_write(c->bev, frame, (size_t)n);
}

static int is_jt705(uint16_t msg_id)
{
    return msg_id == INGEST_JT808_JT705_LOCATION || msg_id == INGEST_JT808_JT705_BLIND;
}

/* ---- acknowledgement after commit ---- */

static void ack_release(jt_ack *a)
{
    jt_conn *c = a->c;
    if (--a->remaining > 0)
        return;
    /* A report the database could not take (gone, or failing over) is answered result 1,
     * never 0: the terminal re-sends it at once, where silence would leave it waiting for
     * an answer that cannot come, and stall it (it keeps a window of reports in flight). */
    if (!a->silent) {
        int result = a->db_failed                ? INGEST_JT808_FAIL
                     : a->stored || !a->rejected ? INGEST_JT808_OK
                                                 : INGEST_JT808_BAD_MESSAGE;
        (is_jt705(a->msg_id) ? send_jt705_ack : send_ack)(c, a->serial, a->msg_id, result);
    }
    if (a->prev)
        a->prev->next = a->next;
    else
        c->acks = a->next;
    if (a->next)
        a->next->prev = a->prev;
    free(a);
    c->refs--;
}

static void on_done(void *arg, int status, const char *reason)
{
    jt_ack *a = arg;
    jt_conn *c = a->c;
    enter(c);
    if (status == CORE_EDB) {
        a->db_failed = 1;
    } else if (status) {
        a->rejected++;
        count_bad(c);
        core_info(MOD, "%s: terminal %s: position refused: %s", c->peer, c->terminal,
                  reason ? reason : "refused");
    } else {
        a->stored++;
    }
    ack_release(a);
    leave(c);
}

static jt_ack *ack_new(jt_conn *c, uint16_t serial, uint16_t msg_id)
{
    jt_ack *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->c = c;
    a->serial = serial;
    a->msg_id = msg_id;
    a->remaining = 1; /* held until every position is submitted */
    a->next = c->acks;
    if (c->acks)
        c->acks->prev = a;
    c->acks = a;
    c->refs++;
    return a;
}

/* ---- positions ---- */

static void to_obs(const jt_conn *c, const ingest_jt808_location *l, geo_obs *o)
{
    geo_obs_clear(o);
    snprintf(o->seal_id, sizeof o->seal_id, "%s", c->seal_id);
    o->ts_us = l->ts_us;
    o->lat = l->lat;
    o->lon = l->lon;
    o->speed_kmh = (float)l->speed_kmh;
    o->bearing = (float)l->course;
    o->altitude = (float)l->altitude;
    if (!isnan(l->battery)) {
        o->battery = (float)l->battery;
    } else {
        /* no battery item: the weakest lock of a multi-lock conveyance (item 0xD5) */
        for (int i = 0; i < l->elock.n_locks; i++)
            if (l->elock.locks[i].battery <= 100 &&
                (isnan(o->battery) || l->elock.locks[i].battery < o->battery))
                o->battery = (float)l->elock.locks[i].battery;
    }
    int open = ingest_jt808_location_open(l);
    if (open >= 0) /* a JT705A-style location says nothing about the lock */
        snprintf(o->lock, sizeof o->lock, "%s", open ? "open" : "locked");
    snprintf(o->alarm, sizeof o->alarm, "%s", ingest_jt808_location_alarm(l));
}

static void process_input(jt_conn *c);

static void on_space(void *arg)
{
    jt_conn *c = arg;
    enter(c);
    c->waiting_space = 0;
    c->refs--;
    if (!c->closing)
        process_input(c);
    leave(c);
}

/* Submits the held positions from held_next on. Returns 0 when all went, CORE_EFULL
 * when the worker is full (the connection then waits for space, not reading). */
static int submit_held(jt_conn *c)
{
    jt_ack *a = c->held_ack;
    while (c->held_next < c->held_n) {
        geo_obs o;
        to_obs(c, &c->held[c->held_next], &o);
        a->remaining++;
        int rc = ingest_submit(c->w, INGEST_JT808, &o, on_done, a);
        if (rc == CORE_EFULL) {
            a->remaining--;
            if (!c->waiting_space) {
                c->waiting_space = 1;
                c->refs++;
                ingest_worker_on_space(c->w, on_space, c);
            }
            if (c->bev)
                bufferevent_disable(c->bev, EV_READ);
            return CORE_EFULL;
        }
        if (rc) { /* never acknowledged: answered result 1, the device re-sends */
            a->remaining--;
            a->db_failed = 1;
        }
        c->held_next++;
    }
    free(c->held);
    c->held = NULL;
    c->held_n = c->held_next = 0;
    c->held_ack = NULL;
    ack_release(a);
    return 0;
}

static int cmp_time(const void *x, const void *y)
{
    const ingest_jt808_location *a = x, *b = y;
    return (a->ts_us > b->ts_us) - (a->ts_us < b->ts_us);
}

/* Takes the n positions of one message (already decoded into locs, owned from now on). */
static void report(jt_conn *c, const ingest_jt808_head *h, ingest_jt808_location *locs, int n,
                   int silent)
{
    jt_ack *a = ack_new(c, h->serial, h->msg_id);
    if (!a) {
        free(locs);
        return; /* out of memory: unacknowledged, the device re-sends */
    }
    a->silent = silent;
    int64_t limit = core_now_us() + (int64_t)ingest_worker_cfg(c->w)->max_future_s * 1000000;
    int keep = 0;
    for (int i = 0; i < n; i++) {
        const ingest_jt808_location *l = &locs[i];
        if (l->ts_us > limit) {
            a->rejected++;
            bad(c, "position time in the future (time zone?)");
            continue;
        }
        /* no fix and no coordinates: nothing that could be stored */
        if (!(l->status & INGEST_JT808_ST_FIX) && l->lat == 0 && l->lon == 0)
            continue;
        locs[keep++] = *l;
    }
    /* blind-area backfill may come newest first: submitted in time order */
    qsort(locs, (size_t)keep, sizeof *locs, cmp_time);
    c->held = locs;
    c->held_n = keep;
    c->held_next = 0;
    c->held_ack = a;
    submit_held(c);
}

/* ---- identity ---- */

/* Looks the terminal up (cached per connection). 0, CORE_ENOTFOUND or CORE_EDB. */
static int lookup(jt_conn *c, const char *terminal)
{
    if (c->looked_up && strcmp(c->terminal, terminal) == 0)
        return 0;
    PGconn *db = ingest_worker_ctl(c->w);
    if (!db)
        return CORE_EDB;
    /* the number as sent, without its leading zeros, and as 12 digits (a 2019 device
     * whose seal was registered with its 2013 number) */
    const char *stripped = terminal;
    while (*stripped == '0' && stripped[1])
        stripped++;
    char twelve[INGEST_JT808_TERMINAL_MAX + 1];
    size_t sl = strlen(stripped), pad = sl < 12 ? 12 - sl : 0;
    if (sl > INGEST_JT808_TERMINAL_MAX)
        sl = INGEST_JT808_TERMINAL_MAX - pad; /* cannot happen: the parser bounds it */
    memset(twelve, '0', pad);
    memcpy(twelve + pad, stripped, sl);
    twelve[pad + sl] = 0;
    const char *params[3] = {terminal, stripped, twelve};
    PGresult *r =
        PQexecParams(db,
                     "SELECT id, timezone, left(md5(device_id || ':' || id || ':' || "
                     "(extract(epoch FROM created_at) * 1000000)::bigint::text), 16) "
                     "FROM corridor.seals WHERE protocol = 'jt808' AND device_id IN ($1, $2, $3) "
                     "ORDER BY device_id = $1 DESC LIMIT 1",
                     3, NULL, params, NULL, NULL, 0);
    int rc = CORE_EDB;
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        core_warn(MOD, "terminal look-up failed: %s", PQerrorMessage(db));
        goto out;
    }
    if (PQntuples(r) == 0) {
        rc = CORE_ENOTFOUND;
        goto out;
    }
    snprintf(c->terminal, sizeof c->terminal, "%s", terminal);
    snprintf(c->seal_id, sizeof c->seal_id, "%s", PQgetvalue(r, 0, 0));
    snprintf(c->code, sizeof c->code, "%s", PQgetvalue(r, 0, 2));
    if (ingest_jt808_parse_tz(PQgetvalue(r, 0, 1), &c->tz_min)) {
        core_warn(MOD, "seal %s: time zone \"%s\" not understood, using +08:00", c->seal_id,
                  PQgetvalue(r, 0, 1));
        c->tz_min = INGEST_JT808_TZ_DEFAULT_MIN;
    }
    c->looked_up = 1;
    rc = 0;
out:
    PQclear(r);
    return rc;
}

static void on_register(jt_conn *c, const ingest_jt808_head *h, const uint8_t *b, size_t n)
{
    ingest_jt808_register reg;
    char why[128];
    uint8_t body[3 + 64];
    if (ingest_jt808_parse_register(b, n, h->v2019, &reg, why, sizeof why)) {
        bad(c, why);
        send_ack(c, h->serial, h->msg_id, INGEST_JT808_BAD_MESSAGE);
        return;
    }
    int rc = lookup(c, h->terminal);
    if (rc == CORE_EDB)
        return; /* no answer: the device retries when the database is back */
    if (rc == CORE_ENOTFOUND) {
        core_info(MOD, "%s: terminal %s is not a registered jt808 seal", c->peer, h->terminal);
        count_bad(c);
        int k = ingest_jt808_body_register_ack(body, sizeof body, h->serial,
                                               INGEST_JT808_REG_NO_TERMINAL, NULL);
        send_msg(c, INGEST_JT808_REGISTER_ACK, body, (size_t)k);
        return;
    }
    int k =
        ingest_jt808_body_register_ack(body, sizeof body, h->serial, INGEST_JT808_REG_OK, c->code);
    send_msg(c, INGEST_JT808_REGISTER_ACK, body, (size_t)k);
}

static void on_auth(jt_conn *c, const ingest_jt808_head *h, const uint8_t *b, size_t n)
{
    ingest_jt808_auth au;
    char why[128];
    if (ingest_jt808_parse_auth(b, n, h->v2019, &au, why, sizeof why)) {
        bad(c, why);
        send_ack(c, h->serial, h->msg_id, INGEST_JT808_BAD_MESSAGE);
        return;
    }
    int rc = lookup(c, h->terminal);
    if (rc == CORE_EDB)
        return;
    if (rc == 0 && strcmp(au.code, c->code) == 0) {
        c->authed = 1;
        send_ack(c, h->serial, h->msg_id, INGEST_JT808_OK);
        ingest_seal_online(c->w, &ingest_jt808_protocol, c->seal_id, c); /* its queue */
        return;
    }
    if (c->authed)
        ingest_seal_offline(c->w, c->seal_id, c);
    c->authed = 0;
    bad(c, rc ? "auth from an unknown terminal" : "wrong auth code");
    send_ack(c, h->serial, h->msg_id, INGEST_JT808_FAIL);
}

/* Malformed items were dropped but their positions stand: each is counted as refused
 * input (bad_jt808) without counting towards closing the connection. */
static void dropped_items(jt_conn *c, const ingest_jt808_location *l, int n, const char *why)
{
    for (int i = 0; i < n; i++)
        for (int k = 0; k < l[i].items_dropped; k++)
            count_bad(c);
    for (int i = 0; i < n; i++)
        if (l[i].items_dropped) {
            core_info(MOD, "%s: malformed additional item dropped, position kept (%s)", c->peer,
                      *why ? why : "item layout");
            break;
        }
}

static void on_location(jt_conn *c, const ingest_jt808_head *h, const uint8_t *b, size_t n)
{
    char why[160] = "";
    int cnt = 1, type = 0;
    ingest_jt808_location *locs =
        malloc((h->msg_id == INGEST_JT808_BATCH ? INGEST_JT808_BATCH_MAX : 1) * sizeof *locs);
    if (!locs)
        return;
    int rc = h->msg_id == INGEST_JT808_BATCH
                 ? ingest_jt808_parse_batch(b, n, c->tz_min, locs, INGEST_JT808_BATCH_MAX, &cnt,
                                            &type, why, sizeof why)
                 : ingest_jt808_parse_location(b, n, c->tz_min, locs, NULL, NULL, why, sizeof why);
    if (rc) {
        free(locs);
        bad(c, why);
        send_ack(c, h->serial, h->msg_id, INGEST_JT808_BAD_MESSAGE);
        return;
    }
    dropped_items(c, locs, cnt, why);
    report(c, h, locs, cnt, 0);
}

/* 0x5501 / 0x5502: a JT705A-style location; answered (0x4401, after commit) only when
 * its header asks for it. */
static void on_jt705(jt_conn *c, const ingest_jt808_head *h, const uint8_t *b, size_t n)
{
    char why[160] = "";
    ingest_jt808_location *l = malloc(sizeof *l);
    if (!l)
        return;
    if (ingest_jt808_parse_jt705(b, n, l, NULL, why, sizeof why)) {
        free(l);
        bad(c, why);
        if (h->ack_wanted)
            send_jt705_ack(c, h->serial, h->msg_id, INGEST_JT808_BAD_MESSAGE);
        return;
    }
    report(c, h, l, 1, !h->ack_wanted);
}

/* ---- commands (proto.h): downlink frames and the device's answers ---- */

static int is_command_id(int id)
{
    return id == INGEST_JT808_SET_PARAMS || id == INGEST_JT808_TERM_CONTROL ||
           id == INGEST_JT808_LOCATE || id == INGEST_JT808_ALARM_CONFIRM ||
           id == INGEST_JT808_TEXT || id == INGEST_JT808_VEHICLE_CONTROL;
}

/* 0x0001: the terminal's general response to a command frame. */
static void on_term_ack(jt_conn *c, const uint8_t *b, size_t n)
{
    uint16_t serial, id;
    int result;
    if (ingest_jt808_parse_ack(b, n, &serial, &id, &result)) {
        bad(c, "malformed general response");
        return;
    }
    if (is_command_id(id))
        ingest_command_answer(c->w, c->seal_id, serial, id, result, NULL, 0);
}

/* 0x0201 (to 0x8201) and 0x0500 (to 0x8500): the answered serial and a location, whose
 * lock bit is the result of a seal or unseal. The answer is matched first, so that a
 * confirmed unseal has ended its trip before this fix is evaluated; then the fix is stored
 * like any other (without a 0x8001: an answer is not answered). */
static void on_answer_location(jt_conn *c, const ingest_jt808_head *h, const uint8_t *b, size_t n)
{
    char why[160] = "";
    uint16_t serial;
    ingest_jt808_location *l = malloc(sizeof *l);
    if (!l)
        return;
    if (ingest_jt808_parse_answer_location(b, n, c->tz_min, &serial, l, why, sizeof why)) {
        free(l);
        bad(c, why);
        return;
    }
    dropped_items(c, l, 1, why);
    int open = ingest_jt808_location_open(l);
    int asked = h->msg_id == INGEST_JT808_LOCATE_ANSWER ? INGEST_JT808_LOCATE
                                                        : INGEST_JT808_VEHICLE_CONTROL;
    ingest_command_answer(c->w, c->seal_id, serial, asked, INGEST_JT808_OK,
                          asked == INGEST_JT808_VEHICLE_CONTROL ? (open ? "open" : "locked") : NULL,
                          1);
    report(c, h, l, 1, 1);
}

/* The whole number member key of o in 1..max into *v; 0 when absent, -1 when bad. */
static int param_u32(json_object *o, const char *key, uint32_t max, uint32_t *v)
{
    json_object *x;
    if (!o || !json_object_object_get_ex(o, key, &x))
        return 0;
    int64_t k = json_object_get_int64(x);
    if (!json_object_is_type(x, json_type_int) || k < 0 || (uint64_t)k > max)
        return -1;
    *v = (uint32_t)k;
    return 1;
}

/* The frame of command cmd (its params as corridor.command_create checked them). */
static int command_frame(const ingest_cmd *cmd, ingest_jt808_command *jc, char *err, size_t n)
{
    static const struct {
        const char *key;
        uint32_t id;
    } params[] = {{"seconds", INGEST_JT808_P_REPORT},
                  {"report_s", INGEST_JT808_P_REPORT},
                  {"sleep_report_s", INGEST_JT808_P_SLEEP_REPORT},
                  {"emergency_report_s", INGEST_JT808_P_EMERGENCY_REPORT},
                  {"heartbeat_s", INGEST_JT808_P_HEARTBEAT}};
    /* the alarm bits JT/T 808-2013 lets the platform confirm (table 24, note) */
    const uint32_t confirmable =
        1u << 0 | 1u << 3 | 1u << 20 | 1u << 21 | 1u << 22 | 1u << 27 | 1u << 28;
    int rc = 0;
    json_object *p = json_tokener_parse(cmd->params);
    memset(jc, 0, sizeof *jc);
    if (strcmp(cmd->name, "set_interval") == 0 || strcmp(cmd->name, "set_params") == 0) {
        jc->msg_id = INGEST_JT808_SET_PARAMS;
        for (size_t i = 0; i < sizeof params / sizeof params[0] && jc->n_params < 4; i++) {
            uint32_t v;
            int k = param_u32(p, params[i].key, 86400, &v);
            if (k < 0 || (k == 1 && v == 0)) {
                snprintf(err, n, "%s must be 1..86400 seconds", params[i].key);
                rc = CORE_EINVAL;
            } else if (k == 1) {
                jc->param_id[jc->n_params] = params[i].id;
                jc->param_value[jc->n_params++] = v;
            }
        }
        if (!rc && jc->n_params == 0) {
            snprintf(err, n, "no parameter to set");
            rc = CORE_EINVAL;
        }
    } else if (strcmp(cmd->name, "locate") == 0) {
        jc->msg_id = INGEST_JT808_LOCATE;
    } else if (strcmp(cmd->name, "seal") == 0 || strcmp(cmd->name, "unseal") == 0) {
        jc->msg_id = INGEST_JT808_VEHICLE_CONTROL;
        jc->lock = cmd->name[0] == 's';
    } else if (strcmp(cmd->name, "reboot") == 0) {
        jc->msg_id = INGEST_JT808_TERM_CONTROL;
        jc->control_word = INGEST_JT808_CTL_RESET;
    } else if (strcmp(cmd->name, "text") == 0) {
        json_object *t;
        jc->msg_id = INGEST_JT808_TEXT;
        jc->text_flag = 0x04; /* bit 2: show on the terminal's display */
        if (!p || !json_object_object_get_ex(p, "text", &t) ||
            snprintf(jc->text, sizeof jc->text, "%s", json_object_get_string(t)) >=
                (int)sizeof jc->text) {
            snprintf(err, n, "text missing or longer than %zu bytes", sizeof jc->text - 1);
            rc = CORE_EINVAL;
        }
    } else if (strcmp(cmd->name, "alarm_ack") == 0) {
        uint32_t serial = 0, mask = confirmable;
        jc->msg_id = INGEST_JT808_ALARM_CONFIRM;
        if (param_u32(p, "serial", 65535, &serial) < 0 ||
            param_u32(p, "alarm_mask", UINT32_MAX, &mask) < 0) {
            snprintf(err, n, "bad alarm serial or mask");
            rc = CORE_EINVAL;
        }
        jc->alarm_serial = (uint16_t)serial;
        jc->alarm_mask = mask & confirmable;
    } else {
        snprintf(err, n, "JT/T 808 has no form of the command \"%s\"", cmd->name);
        rc = CORE_EINVAL;
    }
    json_object_put(p);
    return rc;
}

int ingest_jt808_send(void *conn, const ingest_cmd *cmd, int *serial, int *msg_id, char *err,
                      size_t n)
{
    jt_conn *c = conn;
    ingest_jt808_command jc;
    uint8_t body[512];
    if (c->closing || !c->bev)
        return CORE_ECLOSED;
    if (command_frame(cmd, &jc, err, n))
        return CORE_EINVAL;
    int len = ingest_jt808_command_body(&jc, c->v2019, body, sizeof body);
    if (len < 0) {
        snprintf(err, n, "the command does not fit a frame");
        return CORE_EINVAL;
    }
    *serial = c->out_serial;
    *msg_id = jc.msg_id;
    send_msg(c, jc.msg_id, body, (size_t)len);
    return c->closing ? CORE_ECLOSED : 0;
}

/* Numbers compare without their leading zeros (a 2019 header pads to 20 digits). */
static int same_terminal(const char *a, const char *b)
{
    while (*a == '0')
        a++;
    while (*b == '0')
        b++;
    return strcmp(a, b) == 0;
}

static void dispatch(jt_conn *c, const ingest_jt808_head *h, const uint8_t *b, size_t n)
{
    switch (h->msg_id) {
    case INGEST_JT808_REGISTER:
        on_register(c, h, b, n);
        return;
    case INGEST_JT808_AUTH:
        on_auth(c, h, b, n);
        return;
    case INGEST_JT808_HEARTBEAT:
        send_ack(c, h->serial, h->msg_id, INGEST_JT808_OK);
        return;
    case INGEST_JT808_TERM_ACK:
        if (c->authed)
            on_term_ack(c, b, n);
        return; /* an answer is never answered */
    case INGEST_JT808_LOCATE_ANSWER:
    case INGEST_JT808_CONTROL_ANSWER:
        if (!c->authed || !same_terminal(h->terminal, c->terminal)) {
            bad(c, "answer before authentication");
            return;
        }
        on_answer_location(c, h, b, n);
        return;
    case INGEST_JT808_LOGOUT:
        if (c->authed)
            ingest_seal_offline(c->w, c->seal_id, c);
        c->authed = 0;
        send_ack(c, h->serial, h->msg_id, INGEST_JT808_OK);
        return;
    case INGEST_JT808_LOCATION:
    case INGEST_JT808_BATCH:
        if (!c->authed || !same_terminal(h->terminal, c->terminal)) {
            bad(c, "position before authentication");
            send_ack(c, h->serial, h->msg_id, INGEST_JT808_FAIL);
            return;
        }
        on_location(c, h, b, n);
        return;
    case INGEST_JT808_JT705_LOCATION:
    case INGEST_JT808_JT705_BLIND:
        if (!c->authed || !same_terminal(h->terminal, c->terminal)) {
            bad(c, "position before authentication");
            if (h->ack_wanted)
                send_jt705_ack(c, h->serial, h->msg_id, INGEST_JT808_FAIL);
            return;
        }
        on_jt705(c, h, b, n);
        return;
    case INGEST_JT808_JT705_ACK:
        return; /* a platform's answer: never answered */
    default:
        send_ack(c, h->serial, h->msg_id, INGEST_JT808_UNSUPPORTED);
        return;
    }
}

static void on_frame(jt_conn *c, const uint8_t *frame, size_t len)
{
    ingest_jt808_head h;
    const uint8_t *body;
    size_t blen;
    char why[128];
    if (ingest_jt808_parse(frame, len, &h, &body, &blen, why, sizeof why)) {
        bad(c, why); /* never acknowledged */
        return;
    }
    struct timeval idle = {JT_IDLE_S, 0};
    event_add(c->idle, &idle);
    if (!h.short_serial) { /* a JT705A-style header says nothing of the edition */
        c->v2019 = h.v2019;
        c->pver = h.proto_version;
    }
    memcpy(c->reply_terminal, h.terminal, sizeof c->reply_terminal);
    if (h.encryption) {
        bad(c, "encrypted body");
        if (!h.short_serial)
            send_ack(c, h.serial, h.msg_id, INGEST_JT808_UNSUPPORTED);
        else if (h.ack_wanted)
            send_jt705_ack(c, h.serial, h.msg_id, INGEST_JT808_UNSUPPORTED);
        return;
    }
    if (!h.subpackage) {
        dispatch(c, &h, body, blen);
        return;
    }
    if (!c->reasm && !(c->reasm = malloc(sizeof *c->reasm)))
        return;
    if (h.pkg_seq == 1)
        ingest_jt808_reasm_init(c->reasm);
    int rc = ingest_jt808_reasm_add(c->reasm, &h, body, blen);
    if (rc < 0) {
        bad(c, rc == CORE_ETOOBIG ? "subpackaged message too large" : "packet out of order");
        send_ack(c, h.serial, h.msg_id, INGEST_JT808_BAD_MESSAGE);
    } else if (rc == 0) {
        send_ack(c, h.serial, h.msg_id, INGEST_JT808_OK); /* packet received */
    } else {
        h.subpackage = 0;
        dispatch(c, &h, c->reasm->buf, c->reasm->len);
    }
}

/* Splits and handles what is buffered, until it is used up, the connection closes or a
 * message waits for space in the worker. */
static void process_input(jt_conn *c)
{
    if (c->held && submit_held(c) == CORE_EFULL)
        return;
    if (c->bev)
        bufferevent_enable(c->bev, EV_READ);
    while (!c->closing && !c->held) {
        struct evbuffer *in = bufferevent_get_input(c->bev);
        size_t avail = evbuffer_get_length(in);
        if (avail == 0)
            break;
        size_t take = avail < JT_CHUNK ? avail : JT_CHUNK, used = 0, flen = 0;
        const uint8_t *p = evbuffer_pullup(in, (ssize_t)take), *frame = NULL;
        if (!p)
            break;
        int rc = ingest_jt808_split(&c->sp, p, take, &used, &frame, &flen);
        if (rc == 1)
            on_frame(c, frame, flen); /* frame lives in the splitter, not in the buffer */
        if (c->bev)
            evbuffer_drain(bufferevent_get_input(c->bev), used);
        if (rc == CORE_ETOOBIG) {
            count_bad(c);
            conn_close(c, "frame over the size limit");
        } else if (rc == CORE_EINVAL) {
            bad(c, "bad escape sequence");
        }
    }
}

/* ---- events ---- */

static void on_read(struct bufferevent *bev, void *arg)
{
    jt_conn *c = arg;
    enter(c);
    if (!c->held && !c->waiting_space)
        process_input(c);
    leave(c);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    jt_conn *c = arg;
    enter(c);
    conn_close(c, what & BEV_EVENT_EOF       ? "peer closed"
                  : what & BEV_EVENT_TIMEOUT ? "write timeout"
                                             : "socket error");
    leave(c);
}

static void on_idle(evutil_socket_t fd, short what, void *arg)
{
    jt_conn *c = arg;
    enter(c);
    if (ingest_jt808_split_partial(&c->sp))
        count_bad(c); /* a frame that never ended: a slow or broken sender */
    conn_close(c, "idle timeout");
    leave(c);
}

static void on_accept(struct evconnlistener *lis, evutil_socket_t fd, struct sockaddr *sa,
                      int salen, void *arg)
{
    jt_srv *s = arg;
    struct event_base *base = ingest_worker_base(s->w);
    jt_conn *c = calloc(1, sizeof *c);
    if (!c) {
        evutil_closesocket(fd);
        return;
    }
    c->srv = s;
    c->w = s->w;
    c->tz_min = INGEST_JT808_TZ_DEFAULT_MIN;
    ingest_jt808_splitter_init(&c->sp);
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (sa->sa_family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        port = ntohs(in->sin_port);
    } else if (sa->sa_family == AF_INET6) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        port = ntohs(in6->sin6_port);
    }
    snprintf(c->peer, sizeof c->peer, "%s:%d", host, port);
    c->bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
    c->idle = evtimer_new(base, on_idle, c);
    if (!c->bev || !c->idle) {
        if (!c->bev)
            evutil_closesocket(fd);
        conn_free(c);
        return;
    }
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    struct timeval wt = {JT_WRITE_TIMEOUT_S, 0}, idle = {JT_IDLE_S, 0};
    bufferevent_setcb(c->bev, on_read, NULL, on_event, c);
    bufferevent_setwatermark(c->bev, EV_READ, 0, JT_INPUT_HIGH);
    bufferevent_set_timeouts(c->bev, NULL, &wt);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    event_add(c->idle, &idle);
}

static void on_listen_error(struct evconnlistener *lis, void *arg)
{
    int err = EVUTIL_SOCKET_ERROR();
    core_warn(MOD, "accept failed: %s", evutil_socket_error_to_string(err));
}

int ingest_jt808_start(ingest_worker *w, int fd, void **state, char *err, size_t n)
{
    jt_srv *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, n, "out of memory");
        goto fail;
    }
    s->w = w;
    s->lis = evconnlistener_new(ingest_worker_base(w), on_accept, s,
                                LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, fd);
    if (!s->lis) {
        snprintf(err, n, "cannot listen for JT/T 808 connections");
        goto fail;
    }
    evconnlistener_set_error_cb(s->lis, on_listen_error);
    if (!(s->flush_ev = event_new(ingest_worker_base(w), -1, 0, on_flush, s))) {
        snprintf(err, n, "out of memory");
        evconnlistener_free(s->lis);
        s->lis = NULL;
        free(s);
        return CORE_EINVAL;
    }
    *state = s;
    return 0;
fail:
    if (!s || !s->lis)
        evutil_closesocket(fd);
    free(s);
    return CORE_EINVAL;
}

/* Called after the worker's loop ended, when every batch has been answered: frees the
 * listener and every connection with whatever it still holds. */
void ingest_jt808_stop(void *state)
{
    jt_srv *s = state;
    if (!s)
        return;
    if (s->lis)
        evconnlistener_free(s->lis);
    /* the last batch's acknowledgements, if the loop ended before they were written */
    for (jt_conn *c = s->dirty; c; c = c->dirty_next)
        flush_pend(c);
    s->dirty = NULL;
    if (s->flush_ev)
        event_free(s->flush_ev);
    while (s->conns)
        conn_free(s->conns);
    free(s);
}
