/*
 * elock.c: `corridor-sim elocks`: a few JT/T 808 e-locks on trucks along the Northern
 * Corridor that stay connected and take the centre's commands (docs/commands.md): each
 * registers as a jt808 seal (KE-ELOCK-0001, ... with terminal numbers 013900007001, ...),
 * authenticates, reports a fix every --interval seconds (or the interval a set_interval
 * command gave it), answers locate with its position, locks and unlocks on seal and
 * unseal, and with --ignore-commands takes no notice of any (to watch retries and expiry).
 * A lost connection is dialled again after 5 s, as a device does.
 *
 * Owns one event_base, one JT/T 808 connection per e-lock (load_jt808.c) and one REST
 * connection for registration. Runs on the main thread only.
 */
#include "jt808.h"
#include "sim.h"

#include <event2/event.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ELOCKS_MAX 50
#define ELOCK_KMH  60.0

struct elock {
    char id[32], terminal[16];
    struct elocks *E;
    sim_jt *jt;
    double d; /* metres from the road's start */
    int dir;
    int64_t last_us;
    unsigned acked, refused;
    struct event *tick;
};

struct elocks {
    const sim_opts *o;
    struct event_base *base;
    sim_path *road;
    struct elock e[ELOCKS_MAX];
    int n, ignore;
};

static void on_done(void *arg, int status, int64_t latency_us)
{
    struct elock *e = arg;
    (void)latency_us;
    if (status == 200)
        e->acked++;
    else
        e->refused++;
}

static void dial(struct elock *e)
{
    char err[256];
    sim_jt_free(e->jt);
    e->jt = sim_jt_new(e->E->base, e->E->o->jt808, e->terminal, on_done, e, err, sizeof err);
    if (!e->jt)
        core_warn("sim", "%s: %s", e->id, err);
    else
        sim_jt_set_ignore(e->jt, e->E->ignore);
}

/* One step: move by the time since the last, report, and set the next tick from the
 * interval the centre may have changed. */
static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    struct elock *e = arg;
    struct elocks *E = e->E;
    (void)fd, (void)what;
    int64_t now = core_mono_us();
    double iv = E->o->interval_s;
    int ready = e->jt ? sim_jt_ready(e->jt) : CORE_ECLOSED;
    if (ready < 0) {
        core_info("sim", "%s: connection lost; dialling again", e->id);
        dial(e);
        iv = 5;
    } else if (ready == 1) {
        if (sim_jt_interval(e->jt) > 0)
            iv = sim_jt_interval(e->jt);
        double len = sim_path_length(E->road);
        e->d += e->dir * ELOCK_KMH / 3.6 * E->o->speedup * (double)(now - e->last_us) / 1e6;
        if (e->d > len || e->d < 0) {
            e->dir = -e->dir;
            e->d = e->d > len ? len : 0;
        }
        sim_point p;
        double brg;
        sim_path_at(E->road, e->d, e->dir, &p, &brg);
        ingest_jt808_location l;
        ingest_jt808_location_clear(&l);
        l.status = INGEST_JT808_ST_FIX | (sim_jt_locked(e->jt) ? INGEST_JT808_ST_DOOR_LOCKED : 0);
        l.lat = p.lat;
        l.lon = p.lon;
        l.altitude = p.alt;
        l.speed_kmh = ELOCK_KMH;
        l.course = (int)brg % 360;
        l.ts_us = core_now_us() / 1000000 * 1000000;
        l.battery = 90;
        /* the e-lock items of a real seal (docs/jt808.md): one lock record with its id
         * and RFID card, and the cable / motion / back cover status, all intact */
        ingest_jt808_lock *k = &l.elock.locks[0];
        l.elock.n_locks = l.elock.locks_total = 1;
        snprintf(k->id, sizeof k->id, "%s", e->terminal + strlen(e->terminal) - 10);
        snprintf(k->card, sizeof k->card, "00c0ffee%02x", (unsigned)(e - E->e) & 0xff);
        k->battery = 90;
        k->locked = sim_jt_locked(e->jt);
        l.elock.wire_cut = l.elock.cover_open = 0;
        l.elock.wire_cut_count = 0;
        l.elock.motion = 1;
        sim_jt_ping(e->jt, &l, now);
    } else {
        iv = 1; /* still registering */
    }
    e->last_us = now;
    struct timeval tv = {(time_t)iv, (suseconds_t)((iv - floor(iv)) * 1e6)};
    event_add(e->tick, &tv);
}

static void on_status(evutil_socket_t fd, short what, void *arg)
{
    struct elocks *E = arg;
    (void)fd, (void)what;
    for (int i = 0; i < E->n; i++) {
        struct elock *e = &E->e[i];
        int ready = e->jt ? sim_jt_ready(e->jt) : CORE_ECLOSED;
        printf("elocks: %s %s interval=%ds lock=%s acked=%u refused=%u commands=%u\n", e->id,
               ready == 1 ? "online" : "offline",
               ready == 1 && sim_jt_interval(e->jt) ? sim_jt_interval(e->jt)
                                                    : (int)E->o->interval_s,
               ready == 1 && !sim_jt_locked(e->jt) ? "open" : "locked", e->acked, e->refused,
               e->jt ? sim_jt_commands(e->jt) : 0);
    }
    fflush(stdout);
}

static void on_signal(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    event_base_loopbreak(arg);
}

/* Registers the e-locks as jt808 seals (409: already known). */
static int register_elocks(struct elocks *E)
{
    char err[256], hdr[512], body[256];
    sim_http *h = sim_http_new(E->base, E->o->http, 1 << 16, 10, err, sizeof err);
    if (!h) {
        core_error("sim", "--http: %s", err);
        return CORE_EINVAL;
    }
    sim_rest_headers(E->o, hdr, sizeof hdr);
    int rc = 0;
    for (int i = 0; i < E->n && rc == 0; i++) {
        char *out = NULL;
        snprintf(body, sizeof body,
                 "{\"id\": \"%s\", \"protocol\": \"jt808\", \"device_id\": \"%s\","
                 " \"timezone\": \"+08:00\"}",
                 E->e[i].id, E->e[i].terminal);
        int st = sim_http_call(h, "POST", "/api/seals", hdr, body, &out);
        if (st != 200 && st != 201 && st != 409) {
            core_error("sim", "POST /api/seals %s: HTTP %d %s", E->e[i].id, st, out ? out : "");
            rc = CORE_EINVAL;
        }
        free(out);
    }
    sim_http_free(h);
    return rc;
}

int sim_elocks(const sim_opts *o)
{
    int ignore = o->ignore_commands;
    static struct elocks E;
    int n_road, rc = 1;
    struct event *sig = NULL, *status = NULL;
    memset(&E, 0, sizeof E);
    E.o = o;
    E.ignore = ignore;
    E.n = o->seals > 0 ? (o->seals > ELOCKS_MAX ? ELOCKS_MAX : o->seals) : 2;
    E.base = event_base_new();
    const sim_point *road = sim_corridor_road(&n_road);
    E.road = sim_path_new(road, n_road);
    if (!E.base || !E.road)
        goto out;
    for (int i = 0; i < E.n; i++) {
        struct elock *e = &E.e[i];
        e->E = &E;
        snprintf(e->id, sizeof e->id, "KE-ELOCK-%04d", i + 1);
        snprintf(e->terminal, sizeof e->terminal, "0139%08d", 7001 + i);
        e->dir = i % 2 ? -1 : 1;
        e->d = sim_path_length(E.road) * (0.1 + 0.8 * i / (E.n > 1 ? E.n - 1 : 1));
        e->last_us = core_mono_us();
        e->tick = evtimer_new(E.base, on_tick, e);
    }
    if (register_elocks(&E))
        goto out;
    for (int i = 0; i < E.n; i++) {
        dial(&E.e[i]);
        struct timeval first = {1, i * 100000};
        event_add(E.e[i].tick, &first);
    }
    sig = evsignal_new(E.base, SIGINT, on_signal, E.base);
    event_add(sig, NULL);
    status = event_new(E.base, -1, EV_PERSIST, on_status, &E);
    struct timeval every = {30, 0};
    event_add(status, &every);
    if (o->duration_s > 0) {
        struct timeval d = {(time_t)o->duration_s, 0};
        event_base_loopexit(E.base, &d);
    }
    core_info("sim", "%d e-locks on %s, reporting every %.0f s%s", E.n, o->jt808, o->interval_s,
              ignore ? ", ignoring commands" : "");
    event_base_dispatch(E.base);
    on_status(-1, 0, &E);
    rc = 0;
out:
    for (int i = 0; i < E.n; i++) {
        sim_jt_free(E.e[i].jt);
        if (E.e[i].tick)
            event_free(E.e[i].tick);
    }
    if (sig)
        event_free(sig);
    if (status)
        event_free(status);
    sim_path_free(E.road);
    if (E.base)
        event_base_free(E.base);
    return rc;
}
