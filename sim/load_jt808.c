/*
 * load_jt808.c: one JT/T 808 terminal connection for `corridor-sim load --protocol jt808`.
 *
 * A connection is one terminal (the server binds a TCP connection to the terminal that
 * authenticated on it): it connects, sends 0x0100 register, answers the 0x8100 with 0x0102
 * auth carrying the code it got, and is ready when the auth's 0x8001 says 0. Then it
 * streams 0x0200 locations with many frames in flight; every 0x8001 for a 0x0200 is
 * matched to its frame by serial (the server answers in order, after commit) and reported
 * through the done callback with the latency from the frame's due time.
 *
 * Commands (docs/commands.md): the terminal answers what the centre sends, as a device
 * does: 0x8103 sets its report interval (sim_jt_interval), 0x8500 locks or unlocks it
 * (sim_jt_locked; its later fixes carry the lock state) and is answered with 0x0500 and a
 * location, 0x8201 with 0x0201 and its last location, the others with 0x0001 result 0.
 * sim_jt_set_ignore makes it take no notice of commands (retries, expiry).
 *
 * Memory is bounded: SIM_JT_INFLIGHT_MAX frames in flight, a fixed frame splitter, and the
 * bufferevent's output (a few frames). Owned by the load generator's single thread.
 *
 * Frames are gathered per connection and written once per loop iteration, straight to the
 * socket when nothing is queued in the bufferevent (as the server does with its replies):
 * a bufferevent write arms and disarms the write event, two epoll_ctl calls a frame, and
 * the generator shares the machine with the server it measures.
 */
#include "jt808.h"
#include "sim.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

enum { JT_CONNECTING, JT_REGISTERING, JT_AUTHING, JT_READY, JT_DEAD };

struct sim_jt {
    struct bufferevent *bev;
    char terminal[INGEST_JT808_TERMINAL_MAX + 1];
    int state;
    uint16_t serial, auth_serial;
    ingest_jt808_splitter sp;
    uint16_t fl_serial[SIM_JT_INFLIGHT_MAX];
    int64_t fl_due[SIM_JT_INFLIGHT_MAX];
    int64_t fl_ts[SIM_JT_INFLIGHT_MAX]; /* device time of each frame, Unix us */
    int fl_head, fl_len;
    sim_jt_done_fn done;
    void *arg;
    int backfill;               /* positions to replay as a blind-area batch once authenticated */
    int ignore;                 /* take no notice of commands */
    int interval_s;             /* report interval the centre set (0x8103 0x0029), 0: none */
    int unlocked;               /* the centre unlocked it (0x8500); its fixes say so */
    unsigned commands;          /* commands answered */
    ingest_jt808_location last; /* the last location sent, for answers */
    int backfill_acked;         /* 1 once the platform acknowledged that batch */
    uint8_t pend[SIM_JT_PEND_MAX]; /* frames gathered this loop iteration */
    int pend_len, in_dirty;
    sim_jt *dirty_next;
};

/* The connections with gathered frames, and the event that writes them (one loop, one
 * thread: the generator's). */
static struct {
    struct event *ev;
    sim_jt *dirty;
    int live;    /* connections; the event goes with the last one */
    FILE *acked; /* sim_jt_set_acked_log: one line per acknowledged 0x0200 */
} G;

void sim_jt_set_acked_log(FILE *f)
{
    G.acked = f;
}

static int flush_pend(sim_jt *j)
{
    if (!j->pend_len)
        return 0;
    ssize_t k = 0;
    if (j->state != JT_CONNECTING && evbuffer_get_length(bufferevent_get_output(j->bev)) == 0) {
        k = send(bufferevent_getfd(j->bev), j->pend, (size_t)j->pend_len,
                 MSG_DONTWAIT | MSG_NOSIGNAL);
        if (k < 0)
            k = 0; /* would block, or an error the bufferevent will report */
    }
    int rc = 0;
    if (k < j->pend_len && bufferevent_write(j->bev, j->pend + k, (size_t)(j->pend_len - k)))
        rc = CORE_ECLOSED;
    j->pend_len = 0;
    return rc;
}

static void on_flush(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what, (void)arg;
    while (G.dirty) {
        sim_jt *j = G.dirty;
        G.dirty = j->dirty_next;
        j->in_dirty = 0;
        flush_pend(j);
    }
}

static int send_frame(sim_jt *j, uint16_t msg_id, const uint8_t *body, size_t len)
{
    uint8_t out[2 * (21 + 1024 + 1) + 2];
    ingest_jt808_head h = {.msg_id = msg_id, .serial = j->serial++};
    snprintf(h.terminal, sizeof h.terminal, "%s", j->terminal);
    int n = ingest_jt808_encode(&h, body, len, out, sizeof out);
    if (n < 0)
        return n;
    if (j->pend_len + n > SIM_JT_PEND_MAX && flush_pend(j))
        return CORE_ECLOSED;
    if (n > SIM_JT_PEND_MAX || !G.ev)
        return bufferevent_write(j->bev, out, (size_t)n) ? CORE_ECLOSED : 0;
    memcpy(j->pend + j->pend_len, out, (size_t)n);
    j->pend_len += n;
    if (!j->in_dirty) {
        j->in_dirty = 1;
        j->dirty_next = G.dirty;
        if (!G.dirty)
            event_active(G.ev, EV_TIMEOUT, 0);
        G.dirty = j;
    }
    return 0;
}

/* The blind-area batch (0x0704, type 1) a terminal replays after a coverage gap: the
 * positions it stored during the hour before it connected, a minute apart, at the port of
 * Mombasa. They are older than its live pings, so the server stores them as late and they
 * raise no false transitions. */
static int send_backfill(sim_jt *j)
{
    ingest_jt808_location l[INGEST_JT808_BATCH_MAX];
    int n = j->backfill < INGEST_JT808_BATCH_MAX ? j->backfill : INGEST_JT808_BATCH_MAX;
    int64_t t0 = (core_now_us() / 1000000 - 3600) * 1000000;
    for (int i = 0; i < n; i++) {
        ingest_jt808_location_clear(&l[i]);
        l[i].status = INGEST_JT808_ST_FIX | INGEST_JT808_ST_DOOR_LOCKED;
        l[i].lat = -4.0600 + i * 0.0005;
        l[i].lon = 39.6550;
        l[i].ts_us = t0 + (int64_t)i * 60 * 1000000;
        l[i].battery = 80;
    }
    uint8_t b[8192];
    int len = ingest_jt808_body_batch(b, sizeof b, INGEST_JT808_TZ_DEFAULT_MIN, 1, l, n);
    if (len < 0 || len > 1023) /* one frame: no subpackaging in the simulator */
        return CORE_ETOOBIG;
    return send_frame(j, INGEST_JT808_BATCH, b, (size_t)len);
}

void sim_jt_set_backfill(sim_jt *j, int positions)
{
    j->backfill = positions;
}

int sim_jt_backfill_acked(const sim_jt *j)
{
    return j->backfill_acked;
}

/* Every frame in flight fails: the connection is gone. */
static void fail_all(sim_jt *j, int status)
{
    j->state = JT_DEAD;
    while (j->fl_len > 0) {
        int64_t due = j->fl_due[j->fl_head];
        j->fl_head = (j->fl_head + 1) % SIM_JT_INFLIGHT_MAX;
        j->fl_len--;
        j->done(j->arg, status, core_mono_us() - due);
    }
}

static void on_ack(sim_jt *j, const uint8_t *b, size_t n)
{
    uint16_t serial, id;
    int result;
    if (ingest_jt808_parse_ack(b, n, &serial, &id, &result))
        return;
    if (id == INGEST_JT808_AUTH && j->state == JT_AUTHING) {
        if (result == INGEST_JT808_OK) {
            j->state = JT_READY;
            if (j->backfill > 0 && send_backfill(j))
                j->state = JT_DEAD;
        } else {
            core_warn("sim", "terminal %s: auth refused (%d)", j->terminal, result);
            j->state = JT_DEAD;
        }
        return;
    }
    if (id == INGEST_JT808_BATCH) {
        j->backfill_acked = result == INGEST_JT808_OK;
        return;
    }
    if (id != INGEST_JT808_LOCATION)
        return;
    /* answers come in order; frames before this serial that got none are lost */
    while (j->fl_len > 0) {
        uint16_t s = j->fl_serial[j->fl_head];
        int64_t due = j->fl_due[j->fl_head], ts = j->fl_ts[j->fl_head];
        j->fl_head = (j->fl_head + 1) % SIM_JT_INFLIGHT_MAX;
        j->fl_len--;
        int64_t lat = core_mono_us() - due;
        if (s == serial) {
            if (G.acked && result == INGEST_JT808_OK)
                fprintf(G.acked, "%s %lld %lld\n", j->terminal, (long long)(ts / 1000000),
                        (long long)(core_now_us() / 1000));
            j->done(j->arg, result == INGEST_JT808_OK ? 200 : 400 + result, lat);
            return;
        }
        j->done(j->arg, CORE_ECLOSED, lat);
    }
}

/* The last location with the lock as it is now, the time now (an answer is a fresh fix). */
static ingest_jt808_location now_location(const sim_jt *j)
{
    ingest_jt808_location l = j->last;
    l.ts_us = core_now_us() / 1000000 * 1000000;
    l.status |= INGEST_JT808_ST_FIX;
    if (j->unlocked)
        l.status &= ~(uint32_t)INGEST_JT808_ST_DOOR_LOCKED;
    else
        l.status |= INGEST_JT808_ST_DOOR_LOCKED;
    for (int i = 0; i < l.elock.n_locks; i++) /* lock records decide when present */
        l.elock.locks[i].locked = !j->unlocked;
    return l;
}

/* A command from the centre: carried out and answered (unless told to ignore them). */
static void on_command(sim_jt *j, const ingest_jt808_head *h, const uint8_t *body, size_t blen)
{
    ingest_jt808_command c;
    char why[128];
    uint8_t b[256];
    int n;
    if (j->ignore || j->state != JT_READY)
        return;
    if (ingest_jt808_command_parse(h->msg_id, body, blen, h->v2019, &c, why, sizeof why)) {
        n = ingest_jt808_body_ack(b, sizeof b, h->serial, h->msg_id, INGEST_JT808_BAD_MESSAGE);
        send_frame(j, INGEST_JT808_TERM_ACK, b, (size_t)n);
        return;
    }
    j->commands++;
    if (h->msg_id == INGEST_JT808_LOCATE || h->msg_id == INGEST_JT808_VEHICLE_CONTROL) {
        if (h->msg_id == INGEST_JT808_VEHICLE_CONTROL)
            j->unlocked = !c.lock;
        ingest_jt808_location l = now_location(j);
        n = ingest_jt808_body_answer_location(b, sizeof b, INGEST_JT808_TZ_DEFAULT_MIN, h->serial,
                                              &l);
        if (n > 0)
            send_frame(j,
                       h->msg_id == INGEST_JT808_LOCATE ? INGEST_JT808_LOCATE_ANSWER
                                                        : INGEST_JT808_CONTROL_ANSWER,
                       b, (size_t)n);
        return;
    }
    for (int i = 0; h->msg_id == INGEST_JT808_SET_PARAMS && i < c.n_params; i++)
        if (c.param_id[i] == INGEST_JT808_P_REPORT)
            j->interval_s = (int)c.param_value[i];
    n = ingest_jt808_body_ack(b, sizeof b, h->serial, h->msg_id, INGEST_JT808_OK);
    send_frame(j, INGEST_JT808_TERM_ACK, b, (size_t)n);
}

static void on_frame(sim_jt *j, const uint8_t *frame, size_t len)
{
    ingest_jt808_head h;
    const uint8_t *body;
    size_t blen;
    char why[128];
    if (ingest_jt808_parse(frame, len, &h, &body, &blen, why, sizeof why))
        return;
    if (h.msg_id == INGEST_JT808_REGISTER_ACK && j->state == JT_REGISTERING) {
        uint16_t rs;
        int result;
        char code[65];
        if (ingest_jt808_parse_register_ack(body, blen, &rs, &result, code, sizeof code) ||
            result != INGEST_JT808_REG_OK) {
            core_warn("sim", "terminal %s: registration refused", j->terminal);
            j->state = JT_DEAD;
            return;
        }
        ingest_jt808_auth au;
        memset(&au, 0, sizeof au);
        snprintf(au.code, sizeof au.code, "%s", code);
        uint8_t b[128];
        int n = ingest_jt808_body_auth(b, sizeof b, 0, &au);
        j->state = JT_AUTHING;
        if (n < 0 || send_frame(j, INGEST_JT808_AUTH, b, (size_t)n))
            j->state = JT_DEAD;
    } else if (h.msg_id == INGEST_JT808_PLAT_ACK) {
        on_ack(j, body, blen);
    } else if (h.msg_id >= 0x8000) {
        on_command(j, &h, body, blen);
    }
}

static void on_read(struct bufferevent *bev, void *arg)
{
    sim_jt *j = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    uint8_t chunk[4096];
    size_t got;
    while ((got = (size_t)evbuffer_remove(in, chunk, sizeof chunk)) > 0) {
        size_t off = 0;
        while (off < got) {
            size_t used;
            const uint8_t *frame;
            size_t flen;
            int rc = ingest_jt808_split(&j->sp, chunk + off, got - off, &used, &frame, &flen);
            off += used;
            if (rc == 1)
                on_frame(j, frame, flen);
            if (used == 0)
                break;
        }
    }
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    sim_jt *j = arg;
    if (what & BEV_EVENT_CONNECTED) {
        int one = 1;
        setsockopt(bufferevent_getfd(bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        ingest_jt808_register reg = {.province = 11, .city = 1};
        snprintf(reg.maker, sizeof reg.maker, "CSIM");
        snprintf(reg.model, sizeof reg.model, "LOAD");
        snprintf(reg.term_id, sizeof reg.term_id, "L%.6s", j->terminal + 6);
        snprintf(reg.plate, sizeof reg.plate, "LOAD");
        uint8_t b[128];
        int n = ingest_jt808_body_register(b, sizeof b, 0, &reg);
        j->state = JT_REGISTERING;
        if (n < 0 || send_frame(j, INGEST_JT808_REGISTER, b, (size_t)n))
            j->state = JT_DEAD;
        return;
    }
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) {
        if (j->state != JT_DEAD && j->state != JT_READY)
            core_warn("sim", "terminal %s: connection lost before authentication", j->terminal);
        fail_all(j, CORE_ECLOSED);
    }
}

sim_jt *sim_jt_new(struct event_base *base, const char *hostport, const char *terminal,
                   sim_jt_done_fn done, void *arg, char *err, size_t n)
{
    char host[128];
    int port;
    struct sockaddr_in sa = {.sin_family = AF_INET};
    if (core_split_hostport(hostport, host, sizeof host, &port) ||
        inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        snprintf(err, n, "\"%s\" is not a numeric IPv4 ADDR:PORT", hostport);
        return NULL;
    }
    sa.sin_port = htons((uint16_t)port);
    sim_jt *j = calloc(1, sizeof *j);
    if (!j) {
        snprintf(err, n, "out of memory");
        return NULL;
    }
    G.live++;
    snprintf(j->terminal, sizeof j->terminal, "%s", terminal);
    j->done = done;
    j->arg = arg;
    j->serial = 1;
    ingest_jt808_location_clear(&j->last);
    ingest_jt808_splitter_init(&j->sp);
    if (!G.ev)
        G.ev = event_new(base, -1, 0, on_flush, NULL); /* NULL: frames go one by one */
    j->bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (!j->bev)
        goto fail;
    bufferevent_setcb(j->bev, on_read, NULL, on_event, j);
    bufferevent_enable(j->bev, EV_READ | EV_WRITE);
    if (bufferevent_socket_connect(j->bev, (struct sockaddr *)&sa, sizeof sa)) {
        snprintf(err, n, "cannot connect to %s", hostport);
        goto fail;
    }
    return j;
fail:
    if (!j->bev)
        snprintf(err, n, "out of memory");
    sim_jt_free(j);
    return NULL;
}

int sim_jt_ready(const sim_jt *j)
{
    return j->state == JT_READY ? 1 : j->state == JT_DEAD ? CORE_ECLOSED : 0;
}

int sim_jt_inflight(const sim_jt *j)
{
    return j->fl_len;
}

int sim_jt_ping(sim_jt *j, const ingest_jt808_location *l, int64_t due_us)
{
    if (j->state != JT_READY)
        return CORE_ECLOSED;
    if (j->fl_len == SIM_JT_INFLIGHT_MAX)
        return CORE_EFULL;
    uint8_t b[256];
    j->last = *l;
    if (j->unlocked)
        j->last.status &= ~(uint32_t)INGEST_JT808_ST_DOOR_LOCKED;
    for (int i = 0; i < j->last.elock.n_locks; i++) /* the lock records say it too */
        j->last.elock.locks[i].locked = !j->unlocked;
    int n = ingest_jt808_body_location(b, sizeof b, INGEST_JT808_TZ_DEFAULT_MIN, &j->last);
    if (n < 0)
        return n;
    uint16_t serial = j->serial;
    int rc = send_frame(j, INGEST_JT808_LOCATION, b, (size_t)n);
    if (rc)
        return rc;
    int at = (j->fl_head + j->fl_len) % SIM_JT_INFLIGHT_MAX;
    j->fl_serial[at] = serial;
    j->fl_due[at] = due_us;
    j->fl_ts[at] = l->ts_us;
    j->fl_len++;
    return 0;
}

void sim_jt_set_ignore(sim_jt *j, int ignore)
{
    j->ignore = ignore;
}

int sim_jt_interval(const sim_jt *j)
{
    return j->interval_s;
}

int sim_jt_locked(const sim_jt *j)
{
    return !j->unlocked;
}

unsigned sim_jt_commands(const sim_jt *j)
{
    return j->commands;
}

void sim_jt_free(sim_jt *j)
{
    if (!j)
        return;
    if (j->in_dirty) { /* unlinked; what it gathered is dropped with the connection */
        sim_jt **p = &G.dirty;
        while (*p != j)
            p = &(*p)->dirty_next;
        *p = j->dirty_next;
    }
    if (j->bev)
        bufferevent_free(j->bev);
    free(j);
    if (--G.live == 0 && G.ev) {
        event_free(G.ev);
        G.ev = NULL;
    }
}
