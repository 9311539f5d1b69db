/*
 * scenario.c: `corridor-sim scenario`: a handful of e-seals on trucks driven along the
 * Northern Corridor in accelerated real time over OsmAnd, for the live map and the
 * end-to-end tests.
 *
 * Seal 0, KE-SEAL-DEVIATOR, starts on the highway before Tsavo, leaves the road through the
 * restricted zone (restricted_zone_entry) and comes back. The others (KE-SEAL-0001, ...)
 * start spread evenly along the road, alternately westbound (Mombasa -> Kigali) and
 * eastbound, and turn around at the ends, so the scenario can run for days.
 *
 * Owns one event_base, one keep-alive OsmAnd connection per seal (as each real device has
 * its own) and one REST connection for registration. Runs on the main thread only.
 */
#include "sim.h"

#include <event2/event.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TRUCK_KMH      60.0
#define INFLIGHT_LIMIT 4 /* a seal whose pings go unanswered stops piling more */

struct scenario;

struct seal {
    char id[32];
    struct scenario *sc;
    sim_path *path; /* not owned: one of the scenario's paths */
    double d;       /* metres from the path's start */
    int dir;        /* +1 towards Kigali, -1 towards Mombasa */
    double speed_ms, batt;
    int64_t last_us, last_ts;
    unsigned n_ping;
    int failing; /* the last request failed: log only the first of a burst */
    int started; /* the staggered first ping happened; the steady rhythm is set */
    sim_http *conn;
    struct event *tick;
};

struct scenario {
    const sim_opts *o;
    struct event_base *base;
    sim_path *road, *deviation;
    struct seal *seals;
    int n;
    int64_t start_us;
    unsigned long long sent, acked, refused, errors, skipped;
};

static void status_line(struct scenario *sc, const char *what)
{
    printf("scenario: %s t=%.0fs seals=%d sent=%llu acked=%llu refused=%llu errors=%llu "
           "skipped=%llu\n",
           what, (double)(core_mono_us() - sc->start_us) / 1e6, sc->n, sc->sent, sc->acked,
           sc->refused, sc->errors, sc->skipped);
    fflush(stdout);
}

static void on_answer(void *arg, int status, const char *body, size_t len, int64_t latency_us)
{
    struct seal *s = arg;
    struct scenario *sc = s->sc;
    if (status == 200) {
        sc->acked++;
        if (s->failing)
            core_info("sim", "%s: answered again", s->id);
        s->failing = 0;
    } else if (status >= 400) {
        sc->refused++;
        core_warn("sim", "%s: HTTP %d %.*s", s->id, status, (int)(len > 300 ? 300 : len), body);
    } else {
        sc->errors++;
        if (!s->failing)
            core_warn("sim", "%s: no answer from %s (%s)", s->id, sc->o->osmand,
                      status < 0 ? core_strerror(status) : "unexpected status");
        s->failing = 1;
    }
}

/* Moves the seal by the time since its last ping, bouncing at the ends of its path. */
static void advance(struct seal *s, int64_t now_us)
{
    double dt = (double)(now_us - s->last_us) / 1e6;
    s->last_us = now_us;
    double len = sim_path_length(s->path);
    s->d += s->dir * s->speed_ms * s->sc->o->speedup * dt;
    for (int k = 0; k < 4 && (s->d < 0 || s->d > len); k++) {
        if (s->d > len) {
            s->d = 2 * len - s->d;
            s->dir = -1;
        } else {
            s->d = -s->d;
            s->dir = 1;
        }
    }
    if (s->d < 0 || s->d > len) /* a speedup that crosses the corridor twice per ping */
        s->d = fmod(fabs(s->d), len);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    struct seal *s = arg;
    struct scenario *sc = s->sc;
    if (!s->started) {
        double iv = sc->o->interval_s;
        struct timeval tv = {(time_t)iv, (suseconds_t)((iv - floor(iv)) * 1e6)};
        event_add(s->tick, &tv); /* re-adding a persistent event sets its period */
        s->started = 1;
    }
    advance(s, core_mono_us());
    if (sim_http_inflight(s->conn) >= INFLIGHT_LIMIT) {
        sc->skipped++;
        return;
    }
    sim_point p;
    double brg;
    sim_path_at(s->path, s->d, s->dir, &p, &brg);
    int64_t ts = core_now_us() / 1000000;
    if (ts <= s->last_ts)
        ts = s->last_ts + 1; /* timer jitter: never two pings in one second */
    s->last_ts = ts;
    s->n_ping++;
    if (s->batt > 15)
        s->batt -= 0.02;
    sim_ping ping = {
        .id = s->id,
        .lat = p.lat,
        .lon = p.lon,
        .timestamp = ts,
        .speed_kn = s->speed_ms * 3.6 / 1.852,
        .bearing = brg,
        .altitude = p.alt,
        .accuracy = 4 + (s->n_ping % 7),
        .batt = s->batt,
        .lock = "locked",
    };
    char target[512];
    if (sim_osmand_target(&ping, target, sizeof target) < 0) {
        sc->errors++;
        return;
    }
    if (sim_http_request(s->conn, "GET", target, "", NULL, 0, on_answer, s) < 0) {
        sc->errors++;
        return;
    }
    sc->sent++;
}

static void on_status(evutil_socket_t fd, short what, void *arg)
{
    status_line(arg, "status");
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    struct scenario *sc = arg;
    core_info("sim", "signal %d: stopping", (int)sig);
    event_base_loopexit(sc->base, NULL);
}

/* Registration waits up to 30 s for the server: the run script starts us right after it. */
static int register_all(struct scenario *sc)
{
    char err[256];
    int ret = 1;
    char **ids = calloc((size_t)sc->n, sizeof *ids);
    sim_http *h = sim_http_new(sc->base, sc->o->http, 1 << 20, 30, err, sizeof err);
    if (!ids || !h) {
        core_error("sim", "--http: %s", h ? "out of memory" : err);
        goto fail;
    }
    for (int i = 0; i < sc->n; i++)
        ids[i] = sc->seals[i].id;
    for (int attempt = 0;; attempt++) {
        int rc = sim_register_seals(h, sc->o, ids, sc->n);
        if (rc == 0)
            break;
        if (rc == CORE_EINVAL || attempt == 30)
            goto fail;
        struct timeval one = {1, 0};
        event_base_loopexit(sc->base, &one);
        event_base_dispatch(sc->base);
    }
    ret = 0;
fail:
    sim_http_free(h);
    free(ids);
    return ret;
}

int sim_scenario(const sim_opts *o)
{
    struct scenario sc = {.o = o};
    struct event *status_ev = NULL, *sigint = NULL, *sigterm = NULL;
    sim_point dev[SIM_CORRIDOR_MAX];
    char err[256];
    int ret = 1, n_road;

    signal(SIGPIPE, SIG_IGN);
    const sim_point *road = sim_corridor_road(&n_road);
    int n_dev = sim_corridor_deviation(dev, SIM_CORRIDOR_MAX);
    sc.base = event_base_new();
    sc.road = sim_path_new(road, n_road);
    sc.deviation = n_dev > 0 ? sim_path_new(dev, n_dev) : NULL;
    sc.seals = calloc((size_t)o->seals, sizeof *sc.seals);
    if (!sc.base || !sc.road || !sc.deviation || !sc.seals)
        goto fail;
    sc.n = o->seals;
    const sim_zone *z = sim_corridor_restricted();
    for (int i = 0; i < sc.n; i++) {
        struct seal *s = &sc.seals[i];
        s->sc = &sc;
        if (i == 0) {
            /* 25 km before the detour leaves the road: a minute or so at the default
             * speed-up, so the incident shows early in a demo and a test. */
            snprintf(s->id, sizeof s->id, "KE-SEAL-DEVIATOR");
            s->path = sc.deviation;
            s->d = sim_path_offset_of(sc.deviation, z->lat, z->lon) - 40000;
            s->dir = 1;
            s->speed_ms = TRUCK_KMH / 3.6;
        } else {
            snprintf(s->id, sizeof s->id, "KE-SEAL-%04d", i);
            s->path = sc.road;
            s->d = sim_path_length(sc.road) * (i - 0.5) / (sc.n - 1);
            s->dir = i % 2 ? 1 : -1;
            s->speed_ms = (TRUCK_KMH + ((i * 7) % 5 - 2) * 5) / 3.6; /* 50..70 km/h */
        }
        s->batt = 100 - (i * 7) % 40;
        s->conn = sim_http_new(sc.base, o->osmand, 64 << 10, 30, err, sizeof err);
        if (!s->conn) {
            fprintf(stderr, "corridor-sim: --osmand: %s\n", err);
            ret = 2;
            goto fail;
        }
    }
    if (register_all(&sc))
        goto fail;

    sc.start_us = core_mono_us();
    for (int i = 0; i < sc.n; i++) {
        struct seal *s = &sc.seals[i];
        s->last_us = sc.start_us;
        s->tick = event_new(sc.base, -1, EV_PERSIST, on_tick, s);
        if (!s->tick)
            goto fail;
        /* Spread the seals' pings over the interval, so the map moves smoothly and the
         * server sees a steady trickle rather than bursts. */
        double first = o->interval_s * i / sc.n + 0.001;
        struct timeval tv = {(time_t)first, (suseconds_t)((first - floor(first)) * 1e6)};
        event_add(s->tick, &tv);
    }
    status_ev = event_new(sc.base, -1, EV_PERSIST, on_status, &sc);
    sigint = evsignal_new(sc.base, SIGINT, on_signal, &sc);
    sigterm = evsignal_new(sc.base, SIGTERM, on_signal, &sc);
    if (!status_ev || !sigint || !sigterm)
        goto fail;
    struct timeval ten = {10, 0};
    event_add(status_ev, &ten);
    event_add(sigint, NULL);
    event_add(sigterm, NULL);
    if (o->duration_s > 0) {
        struct timeval d = {(time_t)o->duration_s,
                            (suseconds_t)((o->duration_s - floor(o->duration_s)) * 1e6)};
        event_base_loopexit(sc.base, &d);
    }
    printf("scenario: %d seals over OsmAnd to %s, speed-up %gx, a ping every %g s each%s\n", sc.n,
           o->osmand, o->speedup, o->interval_s, o->duration_s > 0 ? "" : "; Ctrl-C stops");
    fflush(stdout);
    event_base_dispatch(sc.base);
    /* Give the last answers a moment: they were sent, they should be counted. */
    int64_t until = core_mono_us() + 2000000;
    for (;;) {
        int waiting = 0;
        for (int i = 0; i < sc.n; i++)
            waiting += sim_http_inflight(sc.seals[i].conn);
        if (!waiting || core_mono_us() > until)
            break;
        for (int i = 0; i < sc.n; i++)
            if (sc.seals[i].tick)
                event_del(sc.seals[i].tick);
        event_del(status_ev);
        struct timeval tick = {0, 100000};
        event_base_loopexit(sc.base, &tick);
        event_base_dispatch(sc.base);
    }
    status_line(&sc, "final");
    /* Transient errors (a server restart) are normal in a long run; refusals are not. */
    ret = sc.refused || !sc.acked ? 1 : 0;
fail:
    if (sigterm)
        event_free(sigterm);
    if (sigint)
        event_free(sigint);
    if (status_ev)
        event_free(status_ev);
    for (int i = 0; sc.seals && i < sc.n; i++) {
        if (sc.seals[i].tick)
            event_free(sc.seals[i].tick);
        sim_http_free(sc.seals[i].conn);
    }
    free(sc.seals);
    sim_path_free(sc.deviation);
    sim_path_free(sc.road);
    if (sc.base)
        event_base_free(sc.base);
    return ret;
}
