/*
 * load.c: `corridor-sim load`: an open-loop load generator over real device connections.
 *
 * Pings are due at a fixed rate (ping k at start + k / rate); ping k belongs to seal k mod N,
 * and a seal always uses connection (seal mod C), so its pings stay in order as a real
 * device's do. A connection keeps at most --pipeline requests in flight (HTTP/1.1 servers
 * answer pipelined requests in order); pings due while it is full wait in its bounded
 * backlog, and their latency counts from the moment they were due, so a server that falls
 * behind shows it in p99 instead of hiding it (no coordinated omission).
 *
 * The device protocol is a small table (struct load_proto): OsmAnd over HTTP, and JT/T 808
 * over TCP (load_jt808.c) where each connection is one terminal (so --connections is the
 * seal count), registered and authenticated before the clock starts, with up to --pipeline
 * 0x0200 frames in flight and an acknowledged ping being an 0x8001 with result 0. JT/T 808
 * times have whole seconds, so each seal's k-th ping carries device time --device-time + k
 * seconds: every ping is a distinct observation, evaluated, never a duplicate.
 *
 * Owns one event_base, C connections, N seal states and the latency histogram. Runs on the
 * main thread only.
 */
#include "jt808.h"
#include "sim.h"

#include <event2/event.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BACKLOG_MAX 65536   /* pings waiting over all connections before they are dropped */
#define BACKLOG_MIN 256     /* ... and per connection at least */
#define DRAIN_US    5000000 /* how long answers may take after the last ping was due */

struct load;
struct lconn;

struct load_proto {
    const char *name;
    void *(*open)(struct load *L, char *err, size_t n);
    int (*ping)(struct load *L, struct lconn *c, uint32_t seal, int64_t due_us);
    int (*inflight)(void *conn);
    void (*close)(void *conn);
    int (*ready)(void *conn); /* NULL: usable at once; else 1 ready, 0 wait, < 0 failed */
};

struct lconn {
    struct load *L;
    void *conn;
    int addr;         /* JT/T 808: which of the --jt808 listeners it is connected to */
    uint32_t *q_seal; /* the backlog ring */
    int64_t *q_due;
    int q_head, q_len, q_max;
};

struct lseal {
    float d; /* metres along the road */
    int8_t dir;
    int64_t last_ms; /* OsmAnd: last device time sent; JT/T 808: next device time */
};

struct load {
    const sim_opts *o;
    const struct load_proto *proto;
    struct event_base *base;
    sim_path *road;
    struct lconn *conns;
    struct lseal *seals;
    char (*ids)[24];
    int n_conns, n_seals;
    int64_t start_us, gen_end_us, last_answer_us;
    uint64_t issued; /* pings due so far */
    int opened;      /* connections opened so far */
    unsigned long long sent, acked, refused, errors, dropped;
    int generating, stop;
    sim_hist hist;
    char addrs[8][64]; /* JT/T 808 listeners (--jt808 A,B,...) */
    int n_addrs;
    unsigned long long reconnects;
    int64_t next_scan_us;
    FILE *acked_out;
};

/* Called by a protocol for every answer (or failure) of a ping sent on c. */
static void load_answered(struct lconn *c, int status, int64_t latency_us);

/* ---- OsmAnd over HTTP/1.1 keep-alive ---- */

static void *osmand_open(struct load *L, char *err, size_t n)
{
    return sim_http_new(L->base, L->o->osmand, 64 << 10, 30, err, n);
}

static void osmand_done(void *arg, int status, const char *body, size_t len, int64_t latency)
{
    struct lconn *c = arg;
    if (status >= 400 && c->L->refused < 5)
        core_warn("sim", "refused: HTTP %d %.*s", status, (int)(len > 200 ? 200 : len), body);
    load_answered(c, status, latency);
}

static int osmand_ping(struct load *L, struct lconn *c, uint32_t seal, int64_t due_us)
{
    struct lseal *s = &L->seals[seal];
    double len = sim_path_length(L->road);
    s->d += s->dir * 250.0f; /* a ping every 15 s at 60 km/h */
    if (s->d > len || s->d < 0) {
        s->dir = (int8_t)-s->dir;
        s->d += 2 * s->dir * 250.0f;
    }
    sim_point p;
    double brg;
    sim_path_at(L->road, s->d, s->dir, &p, &brg);
    int64_t ms = core_now_us() / 1000;
    if (ms <= s->last_ms)
        ms = s->last_ms + 1; /* (seal, time) is unique: never repeat a time */
    s->last_ms = ms;
    sim_ping ping = {
        .id = L->ids[seal],
        .lat = p.lat,
        .lon = p.lon,
        .timestamp = ms,
        .speed_kn = 60 / 1.852,
        .bearing = brg,
        .altitude = p.alt,
        .accuracy = 5,
        .batt = 80,
        .lock = "locked",
    };
    char target[512];
    if (sim_osmand_target(&ping, target, sizeof target) < 0)
        return CORE_ETOOBIG;
    return sim_http_request_at(c->conn, "GET", target, "", NULL, 0, due_us, osmand_done, c);
}

static int osmand_inflight(void *conn)
{
    return sim_http_inflight(conn);
}

static void osmand_close(void *conn)
{
    sim_http_free(conn);
}

/* ---- JT/T 808 over TCP: one terminal per connection (load_jt808.c) ---- */

static void jt_done(void *arg, int status, int64_t latency)
{
    struct lconn *c = arg;
    if (status >= 400 && c->L->refused < 5)
        core_warn("sim", "refused: 0x8001 result %d", status - 400);
    load_answered(c, status, latency);
}

static sim_jt *jt_dial(struct load *L, int i, char *err, size_t n)
{
    char terminal[16];
    snprintf(terminal, sizeof terminal, "2%011d", i + 1);
    struct lconn *c = &L->conns[i];
    sim_jt *j = sim_jt_new(L->base, L->addrs[c->addr], terminal, jt_done, c, err, n);
    if (j && L->o->backfill > 0)
        sim_jt_set_backfill(j, L->o->backfill);
    if (j)
        sim_jt_set_ignore(j, L->o->ignore_commands);
    return j;
}

/* Terminals are spread over the listeners (as DNS would spread devices over instances). */
static void *jt_open(struct load *L, char *err, size_t n)
{
    int i = L->opened++;
    L->conns[i].addr = i % L->n_addrs;
    return jt_dial(L, i, err, n);
}

/* A terminal whose connection died dials again, the next listener of --jt808 (the same one
 * when there is one), registers and authenticates, as a device does when its server goes;
 * its pings due meanwhile fail (errors: the device would send them again). */
static void jt_redial(struct load *L)
{
    char err[256];
    for (int i = 0; i < L->n_conns; i++) {
        struct lconn *c = &L->conns[i];
        if (!c->conn || sim_jt_ready(c->conn) >= 0)
            continue;
        int was = c->addr;
        c->addr = (c->addr + 1) % L->n_addrs;
        sim_jt *j = jt_dial(L, i, err, sizeof err);
        if (!j) {
            c->addr = was;
            continue;
        }
        sim_jt_free(c->conn);
        c->conn = j;
        L->reconnects++;
    }
}

/* With --device-time a seal is where its device time puts it (one 16.7 m step a device
 * second since LOAD_EPOCH_S, back and forth along the road): runs that continue each
 * other's device times continue each other's tracks, instead of every run starting each
 * seal where the last one started it (a jump of kilometres in seconds: an impossible
 * movement and a first fix to evaluate for every seal, at the start of every run). */
#define LOAD_EPOCH_S 1700000000.0
static void place_at(struct lseal *s, double len, double t)
{
    double period = 2 * len, u = s->d + s->dir * 16.7 * (t - LOAD_EPOCH_S);
    double x = fmod(u, period);
    if (x < 0)
        x += period;
    if (x > len) {
        s->d = (float)(period - x);
        s->dir = (int8_t)-s->dir;
    } else {
        s->d = (float)x;
    }
}

static int jt_ping(struct load *L, struct lconn *c, uint32_t seal, int64_t due_us)
{
    struct lseal *s = &L->seals[seal];
    double len = sim_path_length(L->road);
    s->d += s->dir * 16.7f; /* a fix every second at 60 km/h */
    if (s->d > len || s->d < 0) {
        s->dir = (int8_t)-s->dir;
        s->d += 2 * s->dir * 16.7f;
    }
    sim_point p;
    double brg;
    sim_path_at(L->road, s->d, s->dir, &p, &brg);
    ingest_jt808_location l;
    ingest_jt808_location_clear(&l);
    l.status = INGEST_JT808_ST_FIX | INGEST_JT808_ST_DOOR_LOCKED;
    l.lat = p.lat;
    l.lon = p.lon;
    l.altitude = p.alt;
    l.speed_kmh = 60;
    l.course = (int)brg % 360;
    l.ts_us = s->last_ms * 1000;
    l.battery = 80;
    s->last_ms += 1000;
    return sim_jt_ping(c->conn, &l, due_us);
}

static int jt_inflight(void *conn)
{
    return sim_jt_inflight(conn);
}

static void jt_close(void *conn)
{
    sim_jt_free(conn);
}

static int jt_ready(void *conn)
{
    return sim_jt_ready(conn);
}

static const struct load_proto protos[] = {
    {"osmand", osmand_open, osmand_ping, osmand_inflight, osmand_close, NULL},
    {"jt808", jt_open, jt_ping, jt_inflight, jt_close, jt_ready},
};

/* ---- the scheduler ---- */

static void send_or_queue(struct load *L, struct lconn *c, uint32_t seal, int64_t due)
{
    if (L->proto->inflight(c->conn) < L->o->pipeline && c->q_len == 0) {
        if (L->proto->ping(L, c, seal, due) < 0)
            L->errors++;
        else
            L->sent++;
        return;
    }
    if (c->q_len == c->q_max) {
        L->dropped++;
        return;
    }
    int at = (c->q_head + c->q_len) % c->q_max;
    c->q_seal[at] = seal;
    c->q_due[at] = due;
    c->q_len++;
}

static void pump(struct load *L, struct lconn *c)
{
    while (c->q_len > 0 && L->proto->inflight(c->conn) < L->o->pipeline) {
        uint32_t seal = c->q_seal[c->q_head];
        int64_t due = c->q_due[c->q_head];
        c->q_head = (c->q_head + 1) % c->q_max;
        c->q_len--;
        if (L->proto->ping(L, c, seal, due) < 0)
            L->errors++;
        else
            L->sent++;
    }
}

static void load_answered(struct lconn *c, int status, int64_t latency_us)
{
    struct load *L = c->L;
    L->last_answer_us = core_mono_us();
    if (status == 200) {
        L->acked++;
        sim_hist_add(&L->hist, latency_us);
    } else if (status >= 100) {
        L->refused++;
    } else {
        L->errors++;
    }
    pump(L, c);
}

static int backlog(struct load *L)
{
    int n = 0;
    for (int i = 0; i < L->n_conns; i++)
        n += L->conns[i].q_len;
    return n;
}

static int outstanding(struct load *L)
{
    int n = 0;
    for (int i = 0; i < L->n_conns; i++)
        n += L->proto->inflight(L->conns[i].conn) + L->conns[i].q_len;
    return n;
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    struct load *L = arg;
    int64_t now = core_mono_us();
    if (L->generating) {
        int64_t until = now < L->gen_end_us ? now : L->gen_end_us;
        uint64_t due = (uint64_t)floor(L->o->rate * (double)(until - L->start_us) / 1e6);
        while (L->issued < due) {
            uint64_t k = L->issued++;
            uint32_t seal = (uint32_t)(k % (uint64_t)L->n_seals);
            int64_t at = L->start_us + (int64_t)((double)k * 1e6 / L->o->rate);
            send_or_queue(L, &L->conns[seal % (uint32_t)L->n_conns], seal, at);
        }
        if (now >= L->gen_end_us)
            L->generating = 0;
        if (L->proto->ready && now >= L->next_scan_us) {
            L->next_scan_us = now + 200000;
            jt_redial(L);
        }
    }
    if (L->stop || (!L->generating && (!outstanding(L) || now > L->gen_end_us + DRAIN_US)))
        event_base_loopbreak(L->base);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    struct load *L = arg;
    L->stop = 1;
    L->generating = 0;
}

/* Runs the loop until every connection is ready (JT/T 808: authenticated). 0, or
 * CORE_ECLOSED after a reason on stderr when one failed or 60 s passed. */
static int wait_ready(struct load *L)
{
    int64_t until = core_mono_us() + 60000000;
    for (;;) {
        int ready = 0;
        for (int i = 0; i < L->n_conns; i++) {
            int r = L->proto->ready(L->conns[i].conn);
            if (r < 0) {
                fprintf(stderr,
                        "corridor-sim: connection %d (terminal 2%011d) failed to "
                        "register or authenticate\n",
                        i, i + 1);
                return CORE_ECLOSED;
            }
            ready += r;
        }
        if (ready == L->n_conns)
            return 0;
        if (core_mono_us() > until) {
            fprintf(stderr, "corridor-sim: only %d of %d terminals authenticated in 60 s\n", ready,
                    L->n_conns);
            return CORE_ECLOSED;
        }
        event_base_loop(L->base, EVLOOP_ONCE);
    }
}

int sim_load(const sim_opts *o)
{
    struct load L = {.o = o};
    struct event *tick = NULL, *sigint = NULL, *sigterm = NULL;
    sim_http *reg = NULL;
    char err[256];
    int ret = 1, n_road;

    signal(SIGPIPE, SIG_IGN);
    for (size_t i = 0; i < sizeof protos / sizeof protos[0]; i++)
        if (!strcmp(protos[i].name, o->proto))
            L.proto = &protos[i];
    const sim_point *road = sim_corridor_road(&n_road);
    L.base = event_base_new();
    L.road = sim_path_new(road, n_road);
    L.n_seals = o->seals;
    L.n_conns = o->connections;
    int jt = !strcmp(o->proto, "jt808");
    if (jt)
        L.n_conns = L.n_seals; /* a connection is a terminal */
    L.seals = calloc((size_t)L.n_seals, sizeof *L.seals);
    L.ids = calloc((size_t)L.n_seals, sizeof *L.ids);
    L.conns = calloc((size_t)L.n_conns, sizeof *L.conns);
    if (!L.proto || !L.base || !L.road || !L.seals || !L.ids || !L.conns)
        goto fail;
    for (const char *a = o->jt808; a && *a && L.n_addrs < 8;) {
        size_t k = strcspn(a, ",");
        snprintf(L.addrs[L.n_addrs++], sizeof L.addrs[0], "%.*s", (int)k, a);
        a += k + (a[k] == ',');
    }
    if (jt && o->acked_out) {
        L.acked_out = fopen(o->acked_out, "w");
        if (!L.acked_out) {
            fprintf(stderr, "corridor-sim: --acked-out %s: cannot write it\n", o->acked_out);
            ret = 2;
            goto fail;
        }
        sim_jt_set_acked_log(L.acked_out);
    }
    double len = sim_path_length(L.road);
    for (int i = 0; i < L.n_seals; i++) {
        snprintf(L.ids[i], sizeof L.ids[i], "LD-SEAL-%06d", i + 1);
        L.seals[i].d = (float)(len * ((i * 7919) % L.n_seals) / L.n_seals); /* spread out */
        L.seals[i].dir = i % 2 ? 1 : -1;
        if (jt) {
            /* device seconds: the first ping at --device-time, else early enough that the
             * last one is not in the future */
            double per_seal = ceil(o->rate * o->duration_s / L.n_seals) + 10;
            double t0 =
                o->device_time > 0 ? o->device_time : floor((double)core_now_us() / 1e6) - per_seal;
            L.seals[i].last_ms = (int64_t)t0 * 1000;
            if (o->device_time > 0)
                place_at(&L.seals[i], len, t0);
        }
    }
    int q_max = BACKLOG_MAX / L.n_conns;
    if (q_max < BACKLOG_MIN)
        q_max = BACKLOG_MIN;
    for (int i = 0; i < L.n_conns; i++) {
        struct lconn *c = &L.conns[i];
        c->L = &L;
        c->q_max = q_max;
        c->q_seal = malloc(sizeof *c->q_seal * (size_t)q_max);
        c->q_due = malloc(sizeof *c->q_due * (size_t)q_max);
        c->conn = L.proto->open(&L, err, sizeof err);
        if (!c->q_seal || !c->q_due || !c->conn) {
            fprintf(stderr, "corridor-sim: --%s: %s\n", L.proto->name,
                    c->conn ? "out of memory" : err);
            ret = c->conn ? 1 : 2;
            goto fail;
        }
    }
    if (L.proto->ready && wait_ready(&L)) {
        ret = 2;
        goto fail;
    }
    if (o->register_http) {
        reg = sim_http_new(L.base, o->register_http, 1 << 20, 30, err, sizeof err);
        if (!reg) {
            fprintf(stderr, "corridor-sim: --register-http: %s\n", err);
            ret = 2;
            goto fail;
        }
        char **ids = malloc(sizeof *ids * (size_t)L.n_seals);
        if (!ids)
            goto fail;
        for (int i = 0; i < L.n_seals; i++)
            ids[i] = L.ids[i];
        int rc = sim_register_seals(reg, o, ids, L.n_seals);
        free(ids);
        if (rc < 0)
            goto fail;
    }

    tick = event_new(L.base, -1, EV_PERSIST, on_tick, &L);
    sigint = evsignal_new(L.base, SIGINT, on_signal, &L);
    sigterm = evsignal_new(L.base, SIGTERM, on_signal, &L);
    if (!tick || !sigint || !sigterm)
        goto fail;
    struct timeval ms = {0, 1000};
    event_add(tick, &ms);
    event_add(sigint, NULL);
    event_add(sigterm, NULL);
    L.start_us = core_mono_us();
    L.gen_end_us = L.start_us + (int64_t)(o->duration_s * 1e6);
    L.generating = 1;
    event_base_dispatch(L.base);

    int64_t end = L.last_answer_us > L.gen_end_us ? L.last_answer_us : core_mono_us();
    if (end > L.gen_end_us + DRAIN_US)
        end = L.gen_end_us + DRAIN_US;
    double seconds = (double)(end - L.start_us) / 1e6;
    /* Sent but never answered within the drain time: failed. Never sent: dropped. */
    int waiting = backlog(&L);
    L.errors += (unsigned long long)(outstanding(&L) - waiting);
    L.dropped += (unsigned long long)waiting;
    int backfilled = 0;
    if (o->backfill > 0 && !strcmp(L.proto->name, "jt808"))
        for (int i = 0; i < L.n_conns; i++)
            backfilled += L.conns[i].conn && sim_jt_backfill_acked(L.conns[i].conn);
    if (o->backfill > 0)
        printf("{\"backfill_batches_acked\":%d,\"backfill_positions\":%d}\n", backfilled,
               o->backfill);
    printf("{\"protocol\":\"%s\",\"seals\":%d,\"connections\":%d,\"pipeline\":%d,"
           "\"target_rate\":%.3f,\"sent\":%llu,\"acked\":%llu,\"refused\":%llu,"
           "\"errors\":%llu,\"dropped\":%llu,\"seconds\":%.3f,\"acked_per_s\":%.1f,"
           "\"latency_ms_p50\":%.3f,\"latency_ms_p99\":%.3f,\"reconnects\":%llu}\n",
           L.proto->name, L.n_seals, L.n_conns, o->pipeline, o->rate, L.sent, L.acked, L.refused,
           L.errors, L.dropped, seconds, seconds > 0 ? (double)L.acked / seconds : 0,
           (double)sim_hist_quantile(&L.hist, 0.50) / 1000.0,
           (double)sim_hist_quantile(&L.hist, 0.99) / 1000.0, L.reconnects);
    fflush(stdout);
    ret = L.acked > 0 ? 0 : 1;
fail:
    if (L.acked_out) {
        sim_jt_set_acked_log(NULL);
        fclose(L.acked_out);
    }
    if (sigterm)
        event_free(sigterm);
    if (sigint)
        event_free(sigint);
    if (tick)
        event_free(tick);
    sim_http_free(reg);
    for (int i = 0; L.conns && i < L.n_conns; i++) {
        if (L.conns[i].conn)
            L.proto->close(L.conns[i].conn);
        free(L.conns[i].q_seal);
        free(L.conns[i].q_due);
    }
    free(L.conns);
    free(L.ids);
    free(L.seals);
    sim_path_free(L.road);
    if (L.base)
        event_base_free(L.base);
    return ret;
}
