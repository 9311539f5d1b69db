/*
 * ais_conn.c: AIS NMEA on an ingest worker: the TCP listener and its connections, the UDP
 * socket, the feed clients (--ais-feed, worker 0 only), vessel storage and the vessel
 * sweep.
 *
 * DESIGN
 * Input. Every TCP connection is a bufferevent with a hard read watermark (AIS_INPUT_HIGH)
 * and its own decoder (ingest/ais.h: lines over 512 bytes, bad checksums, orphans ... are
 * counted and dropped by the decoder, which carries on with the next line). Each UDP
 * datagram is split into lines, decoded by the socket's decoder. Worker 0 dials every
 * --ais-feed HOST:PORT (libevent DNS, non-blocking) and re-dials after a close, an error
 * or AIS_FEED_IDLE_S of silence, waiting 1, 2, 4 ... 60 s; the wait resets once a
 * connection delivered a good sentence. Counters are kept per source ("tcp" listener,
 * "udp", each feed) as relaxed atomics, so the web thread may read them while the worker
 * writes (ais_conn.h).
 *
 * Storage. AIS needs no acknowledgement, so messages of vessels (types 1, 2, 3, 5, 18,
 * 19, 24, 27; base stations and aids to navigation are not vessels) are batched on this
 * handler and each batch is ONE call of corridor.ingest_vessels (schema/rules/vessels.sql,
 * arrays per column), sent on the handler's own connection through dbpipe.c, the same
 * asynchronous pipeline as the worker's batches: the loop keeps reading feeds while a
 * batch is in the database, and the worker's own batch connection is not held up by a
 * national feed. A batch goes after AIS_BATCH_MS or at AIS_BATCH_FLUSH rows; one
 * is in flight at a time and the open one fills meanwhile up to AIS_BATCH_MAX rows; beyond
 * that, and while the database is down, rows are counted and dropped. The connection is
 * re-made with backoff 1 .. 60 s. The rows the function returns ({"type":"vessel"} and
 * {"type":"incident"} messages) go to the web gateway through the handler's own nng push
 * socket, dialled to cfg->events_url. The time rules (corridor.vessel_sweep: AIS gaps,
 * destinations of new watch entries) are not run here: the server's sweeper calls
 * corridor.sweep_all(now), which runs every corridor.*_sweep function.
 *
 * Owns: the listening sockets given to ingest_ais_start, every connection, the decoders,
 * the database connection, the DNS base and the push socket. Runs on the worker thread
 * only, except the counter readers of ais_conn.h.
 */
#include "ais.h"
#include "ais_conn.h"
#include "dbpipe.h"
#include "ingest_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/listener.h>
#include <nng/nng.h>
#include <nng/protocol/pipeline0/push.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MOD "ais"

#define AIS_INPUT_HIGH    (64 * 1024) /* bytes read ahead of the decoder per connection */
#define AIS_CONNS_MAX     256         /* TCP connections per worker; more are refused */
#define AIS_IDLE_S        900         /* a listener connection silent this long is closed */
#define AIS_FEED_IDLE_S   120         /* a feed silent this long is re-dialled */
#define AIS_BACKOFF_MAX_S 60
#define AIS_UDP_BURST     64   /* datagrams read per wake-up */
#define AIS_DGRAM_MAX     2048 /* a longer datagram is truncated by the kernel */
#define AIS_BATCH_MS      200
#define AIS_BATCH_FLUSH   500
#define AIS_BATCH_MAX     2000
#define AIS_NCOLS         16
#define AIS_PARAMS_MAX    (2 * 1024 * 1024) /* text of one batch's 16 array literals */

/* ---- counters, one set per source ---- */

struct ais_counts {
    atomic_ullong lines, sentences, messages, ignored, unsupported, bad[INGEST_AIS_NBAD];
    atomic_ullong connects;   /* connections accepted or made */
    atomic_llong last_msg_us; /* wall clock of the last message, 0: none */
    atomic_int connected;     /* open connections now */
};

enum { SRC_TCP, SRC_UDP };

struct ais_src {
    char name[300];
    char label[320];  /* name escaped as a Prometheus label value */
    const char *kind; /* "listen_tcp", "listen_udp", "client" */
    struct ais_counts c;
};

typedef struct ais_state ais_state;

/* What a decoder's message callback needs: the handler and the source counting it. */
struct msg_ctx {
    ais_state *st;
    struct ais_counts *c;
};

struct ais_conn {
    ais_state *st;
    struct bufferevent *bev;
    ingest_ais *dec;
    ingest_ais_stats prev;
    struct ais_conn *next, *prevc;
};

struct ais_client {
    ais_state *st;
    char host[256];
    int port, backoff_s, good;
    struct bufferevent *bev;
    ingest_ais *dec;
    ingest_ais_stats prev;
    struct event *retry;
    struct ais_src src;
};

/* One row of corridor.ingest_vessels. Absent values: has_pos 0, sog/cog < 0,
 * heading/status -1, imo/shiptype 0, has_static 0 (type 5: destination, ETA, draught). */
struct vrow {
    int64_t mmsi;
    double ts, lat, lon;
    float sog, cog, draught;
    int type, has_pos, heading, status, imo, shiptype, has_static;
    char name[21], callsign[8], dest[21], eta[16];
};

struct ais_state {
    ingest_worker *w;
    struct event_base *base;
    const core_config *cfg;
    int id;
    /* input */
    struct evconnlistener *lis;
    struct ais_conn *conns;
    int n_conns;
    int tcp_fd, udp_fd; /* tcp_fd: until the listener owns it */
    struct event *udp_ev;
    ingest_ais *udp_dec;
    ingest_ais_stats udp_prev;
    struct ais_src srcs[2];
    struct ais_client *clients;
    int n_clients;
    struct evdns_base *dns;
    /* storage */
    ingest_dbpipe *db; /* the vessel batches' connection (dbpipe.h) */
    struct event *batch_timer;
    int timer_armed, batch_failed;
    struct vrow *open, *sent;
    int n_open, n_sent;
    char *params;
    /* out */
    nng_socket push;
    int push_ok;
    atomic_ullong rows_queued, rows_stored, rows_rejected, dropped_db, dropped_full, batches,
        batch_errors, db_reconnects, published, publish_dropped;
    atomic_int db_up;
};

static void flush(ais_state *st);
static void client_schedule(struct ais_client *c);

/* ---- counters ---- */

/* Sets a source's name and its label value (\\, \" and newlines escaped). */
static void src_name(struct ais_src *src, const char *kind, const char *fmt, const char *arg)
{
    size_t k = 0;
    snprintf(src->name, sizeof src->name, fmt, arg);
    src->kind = kind;
    for (const char *p = src->name; *p && k + 3 < sizeof src->label; p++) {
        if (*p == '\\' || *p == '"' || *p == '\n')
            src->label[k++] = '\\';
        src->label[k++] = *p == '\n' ? 'n' : *p;
    }
    src->label[k] = 0;
}

static void add_stats(struct ais_counts *c, const ingest_ais_stats *now, ingest_ais_stats *prev)
{
#define D(f) atomic_fetch_add_explicit(&c->f, now->f - prev->f, memory_order_relaxed)
    D(lines);
    D(sentences);
    D(messages);
    D(ignored);
    D(unsupported);
    for (int i = 0; i < INGEST_AIS_NBAD; i++)
        D(bad[i]);
#undef D
    *prev = *now;
}

/* Copies a decoder's counters into its source, and the bad ones into the worker's. */
static void sync_stats(ais_state *st, struct ais_counts *c, ingest_ais *dec, ingest_ais_stats *prev)
{
    ingest_ais_stats now;
    unsigned long long bad = 0;
    ingest_ais_get_stats(dec, &now);
    for (int i = 0; i < INGEST_AIS_NBAD; i++)
        bad += now.bad[i] - prev->bad[i];
    if (bad)
        atomic_fetch_add_explicit(&ingest_worker_counters(st->w)->bad_ais, bad,
                                  memory_order_relaxed);
    add_stats(c, &now, prev);
}

/* ---- messages to rows ---- */

static void copy_text(char *dst, size_t n, const char *src)
{
    snprintf(dst, n, "%s", src);
}

static void on_msg(void *arg, const ingest_ais_msg *m)
{
    const struct msg_ctx *ctx = arg;
    ais_state *st = ctx->st;
    struct ais_counts *c = ctx->c;
    atomic_store_explicit(&c->last_msg_us, core_now_us(), memory_order_relaxed);

    switch (m->type) {
    case 1:
    case 2:
    case 3:
    case 5:
    case 18:
    case 19:
    case 24:
    case 27:
        break;
    default:
        return; /* base stations, aids to navigation: not vessels */
    }
    if (m->mmsi <= 0 || m->mmsi > 999999999)
        return;
    if (st->n_open >= AIS_BATCH_MAX) {
        atomic_fetch_add_explicit(&st->dropped_full, 1, memory_order_relaxed);
        return;
    }
    struct vrow *r = &st->open[st->n_open];
    memset(r, 0, sizeof *r);
    r->mmsi = m->mmsi;
    r->ts = (double)core_now_us() / 1e6;
    r->type = m->type;
    r->sog = r->cog = -1;
    r->heading = r->status = -1;
    if (ingest_ais_position(m, &r->lat, &r->lon) == 0)
        r->has_pos = 1;
    if (m->type == 27) {
        if (m->speed != 63)
            r->sog = (float)m->speed;
        if (m->course != 511)
            r->cog = (float)m->course;
        r->status = m->status;
    } else if (m->type == 1 || m->type == 2 || m->type == 3 || m->type == 18 || m->type == 19) {
        if (m->speed != 1023)
            r->sog = (float)m->speed / 10.0f;
        if (m->course < 3600)
            r->cog = (float)m->course / 10.0f;
        if (m->heading < 360)
            r->heading = m->heading;
        if (m->type <= 3)
            r->status = m->status;
    }
    if (m->type == 5 || m->type == 19 || m->type == 24) {
        copy_text(r->name, sizeof r->name, m->shipname);
        copy_text(r->callsign, sizeof r->callsign, m->callsign);
        r->shiptype = m->shiptype;
    }
    if (m->type == 5) {
        r->imo = m->imo > 0 && m->imo <= 9999999 ? m->imo : 0;
        r->has_static = 1;
        copy_text(r->dest, sizeof r->dest, m->destination);
        snprintf(r->eta, sizeof r->eta, "%02u-%02uT%02u:%02uZ", (unsigned)m->month % 100u,
                 (unsigned)m->day % 100u, (unsigned)m->hour % 100u, (unsigned)m->minute % 100u);
        r->draught = (float)m->draught / 10.0f;
    }
    if (!r->has_pos && !r->name[0] && !r->callsign[0] && !r->has_static && !r->shiptype)
        return; /* nothing to store: a position report without a position */
    st->n_open++;
    atomic_fetch_add_explicit(&st->rows_queued, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&ingest_worker_counters(st->w)->obs_ais, 1, memory_order_relaxed);
    if (st->n_open >= AIS_BATCH_FLUSH) {
        if (!ingest_dbpipe_busy(st->db))
            event_active(st->batch_timer, EV_TIMEOUT, 0);
    } else if (!st->timer_armed) {
        struct timeval tv = {0, AIS_BATCH_MS * 1000};
        event_add(st->batch_timer, &tv);
        st->timer_armed = 1;
    }
}

/* Decodes bytes of a stream source. */
static void feed_stream(ais_state *st, struct ais_counts *c, ingest_ais *dec,
                        ingest_ais_stats *prev, struct evbuffer *in)
{
    struct msg_ctx ctx = {st, c};
    int64_t now_ms = core_mono_us() / 1000;
    size_t len;
    while ((len = evbuffer_get_contiguous_space(in)) > 0) {
        const char *p = (const char *)evbuffer_pullup(in, (ev_ssize_t)len);
        ingest_ais_feed(dec, p, len, now_ms, on_msg, &ctx);
        evbuffer_drain(in, len);
    }
    sync_stats(st, c, dec, prev);
}

/* ---- TCP listener connections ---- */

static void conn_free(struct ais_conn *c)
{
    ais_state *st = c->st;
    if (c->prevc)
        c->prevc->next = c->next;
    else
        st->conns = c->next;
    if (c->next)
        c->next->prevc = c->prevc;
    st->n_conns--;
    atomic_fetch_sub_explicit(&st->srcs[SRC_TCP].c.connected, 1, memory_order_relaxed);
    bufferevent_free(c->bev);
    ingest_ais_free(c->dec);
    free(c);
}

static void conn_read(struct bufferevent *bev, void *arg)
{
    struct ais_conn *c = arg;
    feed_stream(c->st, &c->st->srcs[SRC_TCP].c, c->dec, &c->prev, bufferevent_get_input(bev));
}

static void conn_event(struct bufferevent *bev, short what, void *arg)
{
    struct ais_conn *c = arg;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) {
        /* bytes that arrived with the close are decoded first */
        conn_read(bev, c);
        conn_free(c);
    }
}

static void on_accept(struct evconnlistener *lis, evutil_socket_t fd, struct sockaddr *sa,
                      int salen, void *arg)
{
    ais_state *st = arg;
    struct ais_conn *c = NULL;
    if (st->n_conns >= AIS_CONNS_MAX) {
        core_warn(MOD, "worker %d: %d AIS connections open: refusing another", st->id, st->n_conns);
        evutil_closesocket(fd);
        return;
    }
    c = calloc(1, sizeof *c);
    if (!c)
        goto fail;
    c->st = st;
    c->dec = ingest_ais_new(0);
    c->bev = bufferevent_socket_new(st->base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (!c->dec || !c->bev)
        goto fail;
    struct timeval idle = {AIS_IDLE_S, 0};
    bufferevent_setcb(c->bev, conn_read, NULL, conn_event, c);
    bufferevent_setwatermark(c->bev, EV_READ, 0, AIS_INPUT_HIGH);
    bufferevent_set_timeouts(c->bev, &idle, NULL);
    bufferevent_enable(c->bev, EV_READ);
    c->next = st->conns;
    if (st->conns)
        st->conns->prevc = c;
    st->conns = c;
    st->n_conns++;
    atomic_fetch_add_explicit(&st->srcs[SRC_TCP].c.connects, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&st->srcs[SRC_TCP].c.connected, 1, memory_order_relaxed);
    return;
fail:
    core_error(MOD, "worker %d: out of memory for an AIS connection", st->id);
    if (c && c->bev)
        bufferevent_free(c->bev);
    else
        evutil_closesocket(fd);
    if (c)
        ingest_ais_free(c->dec);
    free(c);
}

static void on_listen_error(struct evconnlistener *lis, void *arg)
{
    int err = EVUTIL_SOCKET_ERROR();
    core_warn(MOD, "accept failed: %s", evutil_socket_error_to_string(err));
}

/* ---- UDP ---- */

static void on_udp(evutil_socket_t fd, short what, void *arg)
{
    ais_state *st = arg;
    char buf[AIS_DGRAM_MAX];
    struct msg_ctx ctx = {st, &st->srcs[SRC_UDP].c};
    ingest_ais_msg m;

    for (int k = 0; k < AIS_UDP_BURST; k++) {
        ssize_t got = recv(fd, buf, sizeof buf, MSG_TRUNC | MSG_DONTWAIT);
        if (got < 0)
            break;
        size_t len = (size_t)got > sizeof buf ? sizeof buf : (size_t)got;
        int64_t now_ms = core_mono_us() / 1000;
        size_t start = 0;
        /* one datagram may hold several lines; a truncated tail is decoded as it is (the
         * decoder refuses it) */
        for (size_t i = 0; i <= len; i++) {
            if (i == len || buf[i] == '\n') {
                if (i > start &&
                    ingest_ais_line(st->udp_dec, buf + start, i - start, now_ms, &m) == 1)
                    on_msg(&ctx, &m);
                start = i + 1;
            }
        }
    }
    sync_stats(st, &st->srcs[SRC_UDP].c, st->udp_dec, &st->udp_prev);
}

/* ---- feed clients ---- */

static void client_close(struct ais_client *c)
{
    if (c->bev) {
        bufferevent_free(c->bev);
        c->bev = NULL;
        atomic_store_explicit(&c->src.c.connected, 0, memory_order_relaxed);
    }
}

static void client_read(struct bufferevent *bev, void *arg)
{
    struct ais_client *c = arg;
    unsigned long long before = atomic_load_explicit(&c->src.c.sentences, memory_order_relaxed);
    feed_stream(c->st, &c->src.c, c->dec, &c->prev, bufferevent_get_input(bev));
    if (!c->good && atomic_load_explicit(&c->src.c.sentences, memory_order_relaxed) > before) {
        c->good = 1;
        c->backoff_s = 1; /* a feed that works starts over at the shortest wait */
    }
}

static void client_event(struct bufferevent *bev, short what, void *arg)
{
    struct ais_client *c = arg;
    if (what & BEV_EVENT_CONNECTED) {
        atomic_store_explicit(&c->src.c.connected, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&c->src.c.connects, 1, memory_order_relaxed);
        core_info(MOD, "feed %s connected", c->src.name);
        return;
    }
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) {
        if (what & BEV_EVENT_READING)
            client_read(bev, c);
        core_warn(MOD, "feed %s %s; re-dialling in %d s", c->src.name,
                  what & BEV_EVENT_EOF       ? "closed"
                  : what & BEV_EVENT_TIMEOUT ? "silent too long"
                                             : "failed",
                  c->backoff_s);
        client_close(c);
        client_schedule(c);
    }
}

static void client_dial(evutil_socket_t fd, short what, void *arg)
{
    struct ais_client *c = arg;
    ais_state *st = c->st;
    struct timeval idle = {AIS_FEED_IDLE_S, 0};

    ingest_ais_free(c->dec); /* a half line from the last connection is no use */
    c->dec = ingest_ais_new(0);
    memset(&c->prev, 0, sizeof c->prev);
    c->good = 0;
    c->bev = bufferevent_socket_new(st->base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (!c->dec || !c->bev) {
        core_error(MOD, "feed %s: out of memory", c->src.name);
        client_close(c);
        client_schedule(c);
        return;
    }
    bufferevent_setcb(c->bev, client_read, NULL, client_event, c);
    bufferevent_setwatermark(c->bev, EV_READ, 0, AIS_INPUT_HIGH);
    bufferevent_set_timeouts(c->bev, &idle, NULL);
    bufferevent_enable(c->bev, EV_READ);
    if (bufferevent_socket_connect_hostname(c->bev, st->dns, AF_UNSPEC, c->host, c->port)) {
        core_warn(MOD, "feed %s: cannot dial", c->src.name);
        client_close(c);
        client_schedule(c);
    }
}

static void client_schedule(struct ais_client *c)
{
    struct timeval tv = {c->backoff_s, 0};
    event_add(c->retry, &tv);
    c->backoff_s = c->backoff_s * 2 > AIS_BACKOFF_MAX_S ? AIS_BACKOFF_MAX_S : c->backoff_s * 2;
}

/* ---- storage ---- */

struct pbuf {
    char *p;
    size_t len, cap;
    int over;
};

static void pb_add(struct pbuf *b, const char *s, size_t n)
{
    if (b->over || b->len + n + 1 > b->cap) {
        b->over = 1;
        return;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void pb_fmt(struct pbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void pb_fmt(struct pbuf *b, const char *fmt, ...)
{
    char tmp[64];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0)
        pb_add(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* An element of a text[] literal: always quoted, " and \ escaped. */
static void pb_text(struct pbuf *b, const char *s)
{
    pb_add(b, "\"", 1);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            pb_add(b, "\\", 1);
        pb_add(b, s, 1);
    }
    pb_add(b, "\"", 1);
}

/* Writes the 16 array literals of the sent batch into st->params, NUL-separated. */
static int build_params(ais_state *st, const char *vals[AIS_NCOLS])
{
    struct pbuf b = {st->params, 0, AIS_PARAMS_MAX, 0};
    for (int col = 0; col < AIS_NCOLS; col++) {
        vals[col] = b.p + b.len;
        pb_add(&b, "{", 1);
        for (int i = 0; i < st->n_sent; i++) {
            const struct vrow *r = &st->sent[i];
            if (i)
                pb_add(&b, ",", 1);
            switch (col) {
            case 0:
                pb_fmt(&b, "%lld", (long long)r->mmsi);
                break;
            case 1:
                pb_fmt(&b, "%.6f", r->ts);
                break;
            case 2:
                pb_fmt(&b, "%d", r->type);
                break;
            case 3:
                r->has_pos ? pb_fmt(&b, "%.7f", r->lat) : pb_add(&b, "NULL", 4);
                break;
            case 4:
                r->has_pos ? pb_fmt(&b, "%.7f", r->lon) : pb_add(&b, "NULL", 4);
                break;
            case 5:
                r->sog >= 0 ? pb_fmt(&b, "%.1f", r->sog) : pb_add(&b, "NULL", 4);
                break;
            case 6:
                r->cog >= 0 ? pb_fmt(&b, "%.1f", r->cog) : pb_add(&b, "NULL", 4);
                break;
            case 7:
                r->heading >= 0 ? pb_fmt(&b, "%d", r->heading) : pb_add(&b, "NULL", 4);
                break;
            case 8:
                r->status >= 0 ? pb_fmt(&b, "%d", r->status) : pb_add(&b, "NULL", 4);
                break;
            case 9:
                r->name[0] ? pb_text(&b, r->name) : pb_add(&b, "NULL", 4);
                break;
            case 10:
                r->callsign[0] ? pb_text(&b, r->callsign) : pb_add(&b, "NULL", 4);
                break;
            case 11:
                r->imo ? pb_fmt(&b, "%d", r->imo) : pb_add(&b, "NULL", 4);
                break;
            case 12:
                r->shiptype ? pb_fmt(&b, "%d", r->shiptype) : pb_add(&b, "NULL", 4);
                break;
            case 13:
                r->has_static ? pb_text(&b, r->dest) : pb_add(&b, "NULL", 4);
                break;
            case 14:
                r->has_static ? pb_text(&b, r->eta) : pb_add(&b, "NULL", 4);
                break;
            case 15:
                r->has_static ? pb_fmt(&b, "%.1f", r->draught) : pb_add(&b, "NULL", 4);
                break;
            }
        }
        pb_add(&b, "}", 1);
        pb_add(&b, "", 0);
        if (!b.over)
            b.p[b.len++] = 0;
    }
    return b.over ? CORE_ETOOBIG : 0;
}

static void publish(ais_state *st, const char *json, size_t len)
{
    if (st->push_ok && nng_send(st->push, (void *)json, len, NNG_FLAG_NONBLOCK) == 0)
        atomic_fetch_add_explicit(&st->published, 1, memory_order_relaxed);
    else
        atomic_fetch_add_explicit(&st->publish_dropped, 1, memory_order_relaxed);
}

/* ---- the vessel batches' connection (dbpipe.h calls these on the worker's loop) ---- */

static const char *sql_batch =
    "SELECT kind, idx, body FROM corridor.ingest_vessels($1::bigint[], $2::float8[], "
    "$3::int[], $4::float8[], $5::float8[], $6::real[], $7::real[], $8::int[], $9::int[], "
    "$10::text[], $11::text[], $12::int[], $13::int[], $14::text[], $15::text[], $16::real[])";

static int db_setup(void *arg, PGconn *conn, char *err, size_t n)
{
    ais_state *st = arg;
    PGresult *r = PQprepare(conn, "ais_batch", sql_batch, 0, NULL);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        snprintf(err, n, "preparing ais_batch: %s", PQresultErrorMessage(r));
    PQclear(r);
    if (ok)
        atomic_store_explicit(&st->db_up, 1, memory_order_relaxed);
    return ok ? 0 : CORE_EDB;
}

/* The batch in flight is over: stored, or lost with its rows counted. */
static void batch_over(ais_state *st, int failed)
{
    atomic_fetch_add_explicit(&st->batches, 1, memory_order_relaxed);
    if (failed) {
        atomic_fetch_add_explicit(&st->batch_errors, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&st->dropped_db, (unsigned long long)st->n_sent,
                                  memory_order_relaxed);
    } else {
        atomic_fetch_add_explicit(&st->rows_stored, (unsigned long long)st->n_sent,
                                  memory_order_relaxed);
    }
    st->n_sent = 0;
}

/* The rows in flight are dropped, even when dbpipe.c re-made the connection at once: AIS
 * is not acknowledged, and each vessel's next report carries its state again. */
static void db_lost(void *arg, int in_flight)
{
    ais_state *st = arg;
    atomic_store_explicit(&st->db_up, ingest_dbpipe_conn(st->db) != NULL, memory_order_relaxed);
    if (in_flight) {
        atomic_fetch_add_explicit(&st->batch_errors, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&st->dropped_db, (unsigned long long)st->n_sent,
                                  memory_order_relaxed);
    }
    st->n_sent = 0;
}

static void db_restored(void *arg)
{
    ais_state *st = arg;
    atomic_fetch_add_explicit(&st->db_reconnects, 1, memory_order_relaxed);
    flush(st);
}

static void db_result(void *arg, PGresult *r)
{
    ais_state *st = arg;
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        core_error(MOD, "worker %d: vessel batch failed: %s", st->id, PQresultErrorMessage(r));
        st->batch_failed = 1;
        return;
    }
    for (int i = 0; i < PQntuples(r); i++) {
        const char *kind = PQgetvalue(r, i, 0);
        if (strcmp(kind, "reject") == 0)
            atomic_fetch_add_explicit(&st->rows_rejected, 1, memory_order_relaxed);
        else
            publish(st, PQgetvalue(r, i, 2), (size_t)PQgetlength(r, i, 2));
    }
}

static void db_done(void *arg)
{
    ais_state *st = arg;
    batch_over(st, st->batch_failed);
    st->batch_failed = 0;
    flush(st);
}

static const ingest_dbpipe_ops db_ops = {db_setup, db_result, db_done, db_lost, db_restored};

/* Sends the open batch when nothing is in flight. Without a database
 * the open rows are dropped and counted: AIS needs no acknowledgement, and the next
 * reports carry the same vessels' state. */
static void flush(ais_state *st)
{
    const char *vals[AIS_NCOLS];
    if (ingest_dbpipe_busy(st->db) || st->n_open == 0)
        return;
    if (st->timer_armed) {
        event_del(st->batch_timer);
        st->timer_armed = 0;
    }
    struct vrow *t = st->sent;
    st->sent = st->open;
    st->open = t;
    st->n_sent = st->n_open;
    st->n_open = 0;
    PGconn *conn = ingest_dbpipe_conn(st->db);
    if (!conn) {
        atomic_fetch_add_explicit(&st->dropped_db, (unsigned long long)st->n_sent,
                                  memory_order_relaxed);
        st->n_sent = 0;
        return;
    }
    if (build_params(st, vals)) {
        core_error(MOD, "worker %d: a vessel batch of %d rows is over %d bytes", st->id, st->n_sent,
                   AIS_PARAMS_MAX);
        atomic_fetch_add_explicit(&st->dropped_full, (unsigned long long)st->n_sent,
                                  memory_order_relaxed);
        st->n_sent = 0;
        return;
    }
    st->batch_failed = 0;
    /* on failure the connection is dropped and db_lost has counted the rows */
    ingest_dbpipe_sent(st->db,
                       PQsendQueryPrepared(conn, "ais_batch", AIS_NCOLS, vals, NULL, NULL, 0));
}

static void on_batch_timer(evutil_socket_t fd, short what, void *arg)
{
    ais_state *st = arg;
    st->timer_armed = 0;
    flush(st);
}

/* ---- start and stop ---- */

int ingest_ais_start(ingest_worker *w, int tcp_fd, int udp_fd, void **state, char *err, size_t n)
{
    ais_state *st = calloc(1, sizeof *st);
    int rc;
    if (!st) {
        snprintf(err, n, "out of memory");
        close(tcp_fd);
        close(udp_fd);
        return -ENOMEM;
    }
    st->w = w;
    st->base = ingest_worker_base(w);
    st->cfg = ingest_worker_cfg(w);
    st->id = ingest_worker_id(w);
    st->tcp_fd = tcp_fd;
    st->udp_fd = udp_fd;
    /* the loop must never block on them, whoever opened them */
    evutil_make_socket_nonblocking(tcp_fd);
    evutil_make_socket_nonblocking(udp_fd);
    src_name(&st->srcs[SRC_TCP], "listen_tcp", "tcp %s", st->cfg->ais);
    src_name(&st->srcs[SRC_UDP], "listen_udp", "udp %s", st->cfg->ais);
    *state = st; /* from here ingest_ais_stop releases everything, the sockets included */

    st->open = calloc(AIS_BATCH_MAX, sizeof *st->open);
    st->sent = calloc(AIS_BATCH_MAX, sizeof *st->sent);
    st->params = malloc(AIS_PARAMS_MAX);
    st->udp_dec = ingest_ais_new(0);
    st->batch_timer = evtimer_new(st->base, on_batch_timer, st);
    char name[40];
    snprintf(name, sizeof name, "worker %d vessels", st->id);
    st->db = ingest_dbpipe_new(st->base, st->cfg->db, "corridord-ais", name, AIS_BACKOFF_MAX_S,
                               &db_ops, st);
    st->udp_ev = event_new(st->base, udp_fd, EV_READ | EV_PERSIST, on_udp, st);
    if (!st->open || !st->sent || !st->params || !st->udp_dec || !st->batch_timer || !st->db ||
        !st->udp_ev) {
        snprintf(err, n, "out of memory");
        rc = -ENOMEM;
        goto fail;
    }
    st->lis = evconnlistener_new(st->base, on_accept, st,
                                 LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, tcp_fd);
    if (!st->lis) {
        snprintf(err, n, "cannot listen for AIS connections on %s", st->cfg->ais);
        rc = CORE_EINVAL;
        goto fail;
    }
    st->tcp_fd = -1;
    evconnlistener_set_error_cb(st->lis, on_listen_error);
    event_add(st->udp_ev, NULL);

    /* the worker itself reached the database: a failure here is a blip, retried */
    ingest_dbpipe_connect(st->db, 1);

    if ((rc = nng_push0_open(&st->push)) == 0) {
        st->push_ok = 1;
        nng_socket_set_int(st->push, NNG_OPT_SENDBUF, 1024);
        if ((rc = nng_dial(st->push, st->cfg->events_url, NULL, NNG_FLAG_NONBLOCK)))
            core_warn(MOD, "worker %d: dialling %s: %s", st->id, st->cfg->events_url,
                      nng_strerror(rc));
    } else {
        core_warn(MOD, "worker %d: no push socket: %s", st->id, nng_strerror(rc));
    }

    if (st->id == 0 && st->cfg->n_ais_feeds > 0) {
        st->dns = evdns_base_new(st->base, EVDNS_BASE_INITIALIZE_NAMESERVERS);
        if (!st->dns) /* no resolv.conf: numeric addresses still work */
            st->dns = evdns_base_new(st->base, 0);
        st->clients = calloc((size_t)st->cfg->n_ais_feeds, sizeof *st->clients);
        if (!st->dns || !st->clients) {
            snprintf(err, n, "out of memory");
            rc = -ENOMEM;
            goto fail;
        }
        for (int i = 0; i < st->cfg->n_ais_feeds; i++) {
            struct ais_client *c = &st->clients[i];
            const char *feed = st->cfg->ais_feeds[i];
            if (core_split_hostport(feed, c->host, sizeof c->host, &c->port)) {
                snprintf(err, n, "--ais-feed %s: expected HOST:PORT", feed);
                rc = CORE_EINVAL;
                goto fail;
            }
            c->st = st;
            c->backoff_s = 1;
            src_name(&c->src, "client", "%s", feed);
            c->retry = evtimer_new(st->base, client_dial, c);
            if (!c->retry) {
                snprintf(err, n, "out of memory");
                rc = -ENOMEM;
                goto fail;
            }
            st->n_clients++;
            event_active(c->retry, EV_TIMEOUT, 0);
        }
    }
    return 0;
fail:
    /* the caller calls ingest_ais_stop(*state) on its failure path */
    return rc;
}

void ingest_ais_stop(void *state)
{
    ais_state *st = state;
    const char *vals[AIS_NCOLS];
    if (!st)
        return;
    /* the loop has ended: the last open batch goes synchronously, if it can */
    PGconn *conn = ingest_dbpipe_conn(st->db);
    if (conn && !ingest_dbpipe_busy(st->db) && st->n_open > 0 && PQsetnonblocking(conn, 0) == 0) {
        struct vrow *t = st->sent;
        st->sent = st->open;
        st->open = t;
        st->n_sent = st->n_open;
        st->n_open = 0;
        if (build_params(st, vals) == 0) {
            PGresult *r = PQexecPrepared(conn, "ais_batch", AIS_NCOLS, vals, NULL, NULL, 0);
            if (PQresultStatus(r) == PGRES_TUPLES_OK)
                for (int i = 0; i < PQntuples(r); i++)
                    if (strcmp(PQgetvalue(r, i, 0), "reject") != 0)
                        publish(st, PQgetvalue(r, i, 2), (size_t)PQgetlength(r, i, 2));
            PQclear(r);
        }
    }
    if (st->lis)
        evconnlistener_free(st->lis);
    if (st->tcp_fd >= 0)
        close(st->tcp_fd);
    while (st->conns)
        conn_free(st->conns);
    for (int i = 0; i < st->n_clients; i++) {
        client_close(&st->clients[i]);
        if (st->clients[i].retry)
            event_free(st->clients[i].retry);
        ingest_ais_free(st->clients[i].dec);
    }
    free(st->clients);
    if (st->dns)
        evdns_base_free(st->dns, 0);
    if (st->udp_ev)
        event_free(st->udp_ev);
    if (st->udp_fd >= 0)
        close(st->udp_fd);
    ingest_ais_free(st->udp_dec);
    if (st->batch_timer)
        event_free(st->batch_timer);
    ingest_dbpipe_free(st->db);
    if (st->push_ok)
        nng_close(st->push);
    free(st->open);
    free(st->sent);
    free(st->params);
    free(st);
}

/* ---- counters for other threads ---- */

#define LD(x) atomic_load_explicit(&(x), memory_order_relaxed)

/* Sums the listener sources of every state. */
static void sum_src(void *const *states, int n, int which, struct ais_src *out)
{
    memset(out, 0, sizeof *out);
    for (int i = 0; i < n; i++) {
        const ais_state *st = states[i];
        if (!st)
            continue;
        const struct ais_counts *c = &st->srcs[which].c;
        memcpy(out->name, st->srcs[which].name, sizeof out->name);
        memcpy(out->label, st->srcs[which].label, sizeof out->label);
        out->kind = st->srcs[which].kind;
        atomic_fetch_add(&out->c.lines, LD(c->lines));
        atomic_fetch_add(&out->c.sentences, LD(c->sentences));
        atomic_fetch_add(&out->c.messages, LD(c->messages));
        atomic_fetch_add(&out->c.ignored, LD(c->ignored));
        atomic_fetch_add(&out->c.unsupported, LD(c->unsupported));
        for (int k = 0; k < INGEST_AIS_NBAD; k++)
            atomic_fetch_add(&out->c.bad[k], LD(c->bad[k]));
        atomic_fetch_add(&out->c.connects, LD(c->connects));
        atomic_fetch_add(&out->c.connected, LD(c->connected));
        long long t = LD(c->last_msg_us);
        if (t > LD(out->c.last_msg_us))
            atomic_store(&out->c.last_msg_us, t);
    }
}

/* The sources to report: the two summed listeners, then every feed client. Returns
 * how many pointers were put into out (at most 2 + 8). */
static int collect(void *const *states, int n, struct ais_src sums[2], const struct ais_src **out)
{
    int k = 0, any = 0;
    for (int i = 0; i < n; i++)
        any |= states[i] != NULL;
    if (!any)
        return 0;
    sum_src(states, n, SRC_TCP, &sums[0]);
    sum_src(states, n, SRC_UDP, &sums[1]);
    out[k++] = &sums[0];
    out[k++] = &sums[1];
    for (int i = 0; i < n; i++) {
        const ais_state *st = states[i];
        for (int j = 0; st && j < st->n_clients && k < 10; j++)
            out[k++] = &st->clients[j].src;
    }
    return k;
}

#define OUT(...)                                                                                   \
    do {                                                                                           \
        if (len < cap) {                                                                           \
            int w_ = snprintf(buf + len, cap - len, __VA_ARGS__);                                  \
            len += w_ > 0 ? (size_t)w_ : 0;                                                        \
        }                                                                                          \
    } while (0)

size_t ingest_ais_metrics_n(void *const *states, int n, char *buf, size_t cap)
{
    struct ais_src sums[2];
    const struct ais_src *src[10];
    size_t len = 0;
    int k = collect(states, n, sums, src);
    if (cap)
        buf[0] = 0;
    if (!k)
        return 0;
    static const struct {
        const char *name, *type, *help;
        size_t off;
    } fam[] = {
        {"corridor_ais_lines_total", "counter", "Lines read from an AIS source.",
         offsetof(struct ais_counts, lines)},
        {"corridor_ais_sentences_total", "counter", "AIVDM/AIVDO sentences with a good checksum.",
         offsetof(struct ais_counts, sentences)},
        {"corridor_ais_messages_total", "counter", "AIS messages decoded.",
         offsetof(struct ais_counts, messages)},
        {"corridor_ais_ignored_total", "counter", "Well-formed NMEA that is not AIS.",
         offsetof(struct ais_counts, ignored)},
        {"corridor_ais_unsupported_total", "counter", "AIS message types not decoded.",
         offsetof(struct ais_counts, unsupported)},
        {"corridor_ais_connects_total", "counter", "Connections accepted or made.",
         offsetof(struct ais_counts, connects)},
    };
    for (size_t f = 0; f < sizeof fam / sizeof fam[0]; f++) {
        OUT("# HELP %s %s\n# TYPE %s %s\n", fam[f].name, fam[f].help, fam[f].name, fam[f].type);
        for (int i = 0; i < k; i++) {
            const atomic_ullong *v = (const atomic_ullong *)((const char *)&src[i]->c + fam[f].off);
            OUT("%s{feed=\"%s\"} %llu\n", fam[f].name, src[i]->label,
                (unsigned long long)atomic_load_explicit(v, memory_order_relaxed));
        }
    }
    OUT("# HELP corridor_ais_bad_total AIS input dropped, by reason (docs/ais.md).\n"
        "# TYPE corridor_ais_bad_total counter\n");
    for (int i = 0; i < k; i++)
        for (int r = 0; r < INGEST_AIS_NBAD; r++)
            OUT("corridor_ais_bad_total{feed=\"%s\",reason=\"%s\"} %llu\n", src[i]->label,
                ingest_ais_bad_name(r), LD(src[i]->c.bad[r]));
    OUT("# HELP corridor_ais_connected Open connections of an AIS source.\n"
        "# TYPE corridor_ais_connected gauge\n");
    for (int i = 0; i < k; i++)
        OUT("corridor_ais_connected{feed=\"%s\"} %d\n", src[i]->label, LD(src[i]->c.connected));
    OUT("# HELP corridor_ais_last_message_seconds Unix time of the last message (0: none).\n"
        "# TYPE corridor_ais_last_message_seconds gauge\n");
    for (int i = 0; i < k; i++)
        OUT("corridor_ais_last_message_seconds{feed=\"%s\"} %.3f\n", src[i]->label,
            (double)LD(src[i]->c.last_msg_us) / 1e6);

    unsigned long long v[10] = {0};
    int up = 0;
    for (int i = 0; i < n; i++) {
        const ais_state *st = states[i];
        if (!st)
            continue;
        v[0] += LD(st->rows_queued);
        v[1] += LD(st->rows_stored);
        v[2] += LD(st->rows_rejected);
        v[3] += LD(st->dropped_db);
        v[4] += LD(st->dropped_full);
        v[5] += LD(st->batches);
        v[6] += LD(st->batch_errors);
        v[7] += LD(st->db_reconnects);
        v[8] += LD(st->published);
        v[9] += LD(st->publish_dropped);
        up += LD(st->db_up);
    }
    OUT("# HELP corridor_vessel_rows_total Vessel messages queued for storage, and what became "
        "of them.\n# TYPE corridor_vessel_rows_total counter\n"
        "corridor_vessel_rows_total{outcome=\"queued\"} %llu\n"
        "corridor_vessel_rows_total{outcome=\"stored\"} %llu\n"
        "corridor_vessel_rows_total{outcome=\"rejected\"} %llu\n"
        "corridor_vessel_rows_total{outcome=\"dropped_db_down\"} %llu\n"
        "corridor_vessel_rows_total{outcome=\"dropped_full\"} %llu\n",
        v[0], v[1], v[2], v[3], v[4]);
    OUT("# TYPE corridor_vessel_batches_total counter\ncorridor_vessel_batches_total %llu\n"
        "# TYPE corridor_vessel_batch_errors_total counter\n"
        "corridor_vessel_batch_errors_total %llu\n"
        "# TYPE corridor_vessel_db_reconnects_total counter\n"
        "corridor_vessel_db_reconnects_total %llu\n"
        "# TYPE corridor_vessel_published_total counter\n"
        "corridor_vessel_published_total %llu\n"
        "# TYPE corridor_vessel_publish_dropped_total counter\n"
        "corridor_vessel_publish_dropped_total %llu\n"
        "# HELP corridor_vessel_db_up Workers whose vessel storage connection is up.\n"
        "# TYPE corridor_vessel_db_up gauge\ncorridor_vessel_db_up %d\n",
        v[5], v[6], v[7], v[8], v[9], up);
    if (len >= cap) { /* cut at the last whole line */
        len = cap ? cap - 1 : 0;
        while (len > 0 && buf[len - 1] != '\n')
            len--;
        if (cap)
            buf[len] = 0;
    }
    return len;
}

size_t ingest_ais_metrics(void *state, char *buf, size_t cap)
{
    return ingest_ais_metrics_n(&state, 1, buf, cap);
}

/* A JSON string of a source name (names come from the configuration: escape anyway). */
static void json_str(char *out, size_t n, const char *s)
{
    size_t k = 0;
    if (n < 3)
        return;
    out[k++] = '"';
    for (; *s && k + 8 < n; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') {
            out[k++] = '\\';
            out[k++] = (char)ch;
        } else if (ch < 0x20) {
            k += (size_t)snprintf(out + k, n - k, "\\u%04x", ch);
        } else {
            out[k++] = (char)ch;
        }
    }
    out[k++] = '"';
    out[k] = 0;
}

size_t ingest_ais_feeds_json_n(void *const *states, int n, char *buf, size_t cap)
{
    struct ais_src sums[2];
    const struct ais_src *src[10];
    char one[2048], name[700], last[40];
    size_t len = 0;
    int k = collect(states, n, sums, src), first = 1;

    if (cap < 3)
        return 0;
    buf[len++] = '[';
    for (int i = 0; i < k; i++) {
        const struct ais_counts *c = &src[i]->c;
        long long t = LD(c->last_msg_us);
        size_t o = 0;
        unsigned long long bad_total = 0;
        json_str(name, sizeof name, src[i]->name);
        if (t > 0) {
            last[0] = '"';
            core_iso8601(t, last + 1, sizeof last - 2);
            strcat(last, "\"");
        } else {
            snprintf(last, sizeof last, "null");
        }
        o += (size_t)snprintf(one + o, sizeof one - o,
                              "%s{\"name\":%s,\"kind\":\"%s\",\"connected\":%d,\"connects\":%llu,"
                              "\"lines\":%llu,\"sentences\":%llu,\"messages\":%llu,"
                              "\"ignored\":%llu,\"unsupported\":%llu,\"last_message_at\":%s,"
                              "\"bad\":{",
                              first ? "" : ",", name, src[i]->kind, LD(c->connected),
                              LD(c->connects), LD(c->lines), LD(c->sentences), LD(c->messages),
                              LD(c->ignored), LD(c->unsupported), last);
        for (int r = 0; r < INGEST_AIS_NBAD; r++) {
            bad_total += LD(c->bad[r]);
            o += (size_t)snprintf(one + o, sizeof one - o, "%s\"%s\":%llu", r ? "," : "",
                                  ingest_ais_bad_name(r), LD(c->bad[r]));
        }
        o += (size_t)snprintf(one + o, sizeof one - o, "},\"bad_total\":%llu}", bad_total);
        if (o >= sizeof one || len + o + 2 > cap)
            continue;
        memcpy(buf + len, one, o);
        len += o;
        first = 0;
    }
    buf[len++] = ']';
    buf[len] = 0;
    return len;
}

size_t ingest_ais_feeds_json(void *state, char *buf, size_t cap)
{
    return ingest_ais_feeds_json_n(&state, 1, buf, cap);
}
