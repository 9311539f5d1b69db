/*
 * ais_feed.c: `corridor-sim ais`: a real AIS NMEA feed (AIVDM sentences encoded with the
 * ingest module's ingest_ais_encode) of ten ships approaching Mombasa from the open sea,
 * sent to corridord's AIS listener over TCP (reconnecting) or UDP.
 *
 * Every ship sends a class A position report (type 1) every 10 s and a static and voyage
 * report (type 5: name, call sign, IMO with its check digit, type, destination, ETA,
 * draught) every 6 minutes, of simulated time: --speedup N runs the sea N times faster than
 * real time, and the devices' own times (the UTC second of each report, the ETA) follow
 * the simulated clock, which starts at the real time of the start. The server stamps what
 * it receives with its own clock (docs/vessels.md), so its time rules see real seconds.
 *
 * The ships (printed at start with what each one demonstrates):
 *   - seven ordinary arrivals from the north-east, east and south-east, each to its own
 *     berth in the outer anchorage (berths 1.5 km or more apart: no false rendezvous);
 *   - ARABIAN STAR goes dark (stops transmitting for good) after 5 minutes: ais_gap;
 *   - SEA NYMPH and OCEAN PRIDE meet about 40 km offshore after 30 minutes, drift together
 *     150 m apart at 0.3 knots for 24 hours (a ship-to-ship transfer), then part:
 *     rendezvous;
 *   - SWAHILI TRADER declares DAR ES SALAAM and sails past Mombasa towards it:
 *     destination_mismatch when it is watched under a Mombasa declaration.
 *
 * Owns one event_base, one TCP bufferevent (or one UDP socket) and the ship table. Runs on
 * the main thread only.
 */
#include "sim.h"
#include "ais.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#define POS_EVERY_S    10.0              /* simulated seconds between position reports */
#define STATIC_EVERY_S 360.0             /* simulated seconds between static and voyage reports */
#define DARK_AFTER_S   300.0             /* ARABIAN STAR's last report */
#define MEET_AT_S      1800.0            /* the two meeting ships reach the meeting point */
#define STS_S          86400.0           /* how long they drift together */
#define OUT_MAX        (1024 * 1024)     /* TCP bytes waiting for the server: drop beyond */
#define KN             (1852.0 / 3600.0) /* metres per second in a knot */
#define LEGS_MAX       5
#define SHIPS_MAX      16
#define ANCHOR                                                                                     \
    {                                                                                              \
        LEG_ANCHOR, 0, 0, 0, 0, 0                                                                  \
    }

enum leg_kind { LEG_MOVE, LEG_DRIFT, LEG_ANCHOR };

typedef struct leg {
    enum leg_kind kind;
    double lat, lon;   /* MOVE: where to */
    double speed_kn;   /* MOVE (0: computed to arrive at MEET_AT_S), DRIFT */
    double brg, dur_s; /* DRIFT */
} leg;

typedef struct ship {
    int32_t mmsi;
    const char *name, *callsign;
    int32_t imo6; /* the first six digits; the seventh is the check digit */
    int shiptype;
    const char *dest;
    double draught_m;
    double lat, lon; /* start */
    leg legs[LEGS_MAX];
    int n_legs;
    double dark_after_s; /* 0: never */
    const char *shows;
} ship;

/* Where and how a ship is at simulated time t. */
typedef struct fix {
    double lat, lon, sog_kn, cog, eta_s; /* eta_s: seconds to the end of its last move */
    int status;                          /* 0 under way, 1 at anchor */
} fix;

typedef struct ais_sim {
    struct event_base *base;
    struct bufferevent *bev;
    int udp; /* socket, -1 for TCP */
    struct sockaddr_in addr;
    int connected, backoff_s;
    struct event *tick, *retry;
    ship *ships;
    int n;
    double next_pos_s[SHIPS_MAX], next_static_s[SHIPS_MAX]; /* simulated time of the next */
    double speedup;
    int64_t start_us, epoch_s; /* monotonic start; Unix time the simulated clock starts at */
    int seq;                   /* multipart sequential id 0..9 */
    unsigned long long sent, dropped, lines;
} ais_sim;

/* IMO number: six digits weighted 7..2, the sum's last digit appended. */
static int32_t imo_number(int32_t six)
{
    int32_t sum = 0, d = six;
    for (int w = 2; w <= 7; w++, d /= 10)
        sum += (d % 10) * w;
    return six * 10 + sum % 10;
}

/* The anchorage berths and the meeting point (docs/simulator.md). */
#define MEET_LAT -4.2500
#define MEET_LON 40.0500

/* One ship per block reads better than one field per line. */
/* clang-format off */
static const ship ship_table[] = {
    {636019825, "MSC AMBITION", "D5QK7", 935174, 70, "MOMBASA", 12.5, -3.62, 40.62,
     {{LEG_MOVE, -4.02, 39.86, 13, 0, 0}, {LEG_MOVE, -4.080, 39.770, 8, 0, 0}, ANCHOR},
     3, 0, "an ordinary arrival from the north-east to the outer anchorage"},
    {477123400, "KOTA MAKMUR", "VRFT3", 921045, 71, "MOMBASA", 11.0, -4.05, 40.95,
     {{LEG_MOVE, -4.095, 39.785, 12, 0, 0}, ANCHOR},
     2, 0, "an ordinary arrival from the east"},
    {563045210, "MAERSK KAMPALA", "9V2213", 974582, 70, "KEMBA", 13.2, -4.65, 40.70,
     {{LEG_MOVE, -4.20, 39.88, 14, 0, 0}, {LEG_MOVE, -4.075, 39.750, 8, 0, 0}, ANCHOR},
     3, 0, "an ordinary arrival from the south-east (destination as UN/LOCODE KEMBA)"},
    {538007711, "ARABIAN STAR", "V7ZK4", 929311, 80, "MOMBASA", 10.8, -3.80, 40.80,
     {{LEG_MOVE, -4.105, 39.760, 12, 0, 0}, ANCHOR},
     2, DARK_AFTER_S, "goes dark after 5 minutes and never transmits again: ais_gap"},
    {357812000, "SEA NYMPH", "3EBX9", 941205, 80, "MOMBASA", 11.4, MEET_LAT - 0.03, MEET_LON + 0.095,
     {{LEG_MOVE, MEET_LAT, MEET_LON, 0, 0, 0}, {LEG_DRIFT, 0, 0, 0.3, 200, STS_S},
      {LEG_MOVE, -4.090, 39.745, 11, 0, 0}, ANCHOR},
     4, 0, "meets OCEAN PRIDE 40 km offshore after 30 minutes, drifts alongside for 24 h: "
           "rendezvous"},
    {249330000, "OCEAN PRIDE", "9HA4512", 918803, 80, "MOMBASA", 9.6, MEET_LAT + 0.07,
     MEET_LON + 0.07,
     {{LEG_MOVE, MEET_LAT + 0.00095, MEET_LON + 0.00095, 0, 0, 0},
      {LEG_DRIFT, 0, 0, 0.3, 200, STS_S}, {LEG_MOVE, -3.60, 41.20, 12, 0, 0}, ANCHOR},
     4, 0, "meets SEA NYMPH 150 m away, drifts with it for 24 h, then heads back out to sea: "
           "rendezvous"},
    {636020114, "SWAHILI TRADER", "A8WQ2", 950212, 70, "DAR ES SALAAM", 9.8, -3.70, 40.40,
     {{LEG_MOVE, -4.25, 39.90, 12, 0, 0}, {LEG_MOVE, -5.30, 39.60, 12, 0, 0},
      {LEG_MOVE, -6.80, 39.33, 12, 0, 0}, ANCHOR},
     4, 0, "declares DAR ES SALAAM and sails past Mombasa: destination_mismatch when watched "
           "under a Mombasa declaration"},
    {229876000, "PEMBA PEARL", "9HZX3", 962117, 60, "MOMBASA", 5.2, -4.45, 39.95,
     {{LEG_MOVE, -4.110, 39.780, 15, 0, 0}, ANCHOR},
     2, 0, "a passenger ship from the south"},
    {677013500, "KILWA", "5IM340", 0, 30, "MOMBASA", 3.1, -4.30, 40.20,
     {{LEG_MOVE, -4.070, 39.785, 7, 0, 0}, ANCHOR},
     2, 0, "a fishing vessel without an IMO number"},
    {370145000, "GULF BREEZE", "3FQW8", 937748, 89, "MOMBASA", 11.9, -3.30, 40.90,
     {{LEG_MOVE, -3.95, 39.90, 12, 0, 0}, {LEG_MOVE, -4.060, 39.800, 8, 0, 0}, ANCHOR},
     3, 0, "a tanker from the north (Lamu side)"},
};
/* clang-format on */

/* Meeting ships sail at the speed that brings them to their first point at MEET_AT_S. */
static void fill_speeds(ship *s)
{
    double lat = s->lat, lon = s->lon;
    for (int i = 0; i < s->n_legs; i++) {
        leg *l = &s->legs[i];
        if (l->kind == LEG_MOVE) {
            if (l->speed_kn <= 0)
                l->speed_kn = sim_geo_distance(lat, lon, l->lat, l->lon) / MEET_AT_S / KN;
            lat = l->lat;
            lon = l->lon;
        } else if (l->kind == LEG_DRIFT) {
            sim_geo_destination(lat, lon, l->brg, l->speed_kn * KN * l->dur_s, &lat, &lon);
        }
    }
}

static void ship_at(const ship *s, double t, fix *f)
{
    double lat = s->lat, lon = s->lon, cog = 0, left = 0;
    int moving = 0;
    memset(f, 0, sizeof *f);
    for (int i = 0; i < s->n_legs; i++) {
        const leg *l = &s->legs[i];
        if (l->kind == LEG_ANCHOR)
            break;
        double brg = l->kind == LEG_MOVE ? sim_geo_bearing(lat, lon, l->lat, l->lon) : l->brg;
        double v = l->speed_kn * KN;
        double dur =
            l->kind == LEG_MOVE ? sim_geo_distance(lat, lon, l->lat, l->lon) / v : l->dur_s;
        if (moving) { /* time to the end of the moves after the current one (ETA) */
            left += dur;
        } else if (t < dur) {
            sim_geo_destination(lat, lon, brg, v * t, &f->lat, &f->lon);
            f->sog_kn = l->speed_kn;
            /* a drifting ship swings slowly about its course */
            f->cog = l->kind == LEG_DRIFT ? fmod(brg + 15 * sin(t / 600.0) + 360, 360) : brg;
            moving = 1;
            left = dur - t;
        } else {
            t -= dur;
            cog = brg;
            if (l->kind == LEG_MOVE) {
                lat = l->lat;
                lon = l->lon;
            } else {
                sim_geo_destination(lat, lon, brg, v * dur, &lat, &lon);
            }
        }
    }
    if (!moving) {
        f->lat = lat;
        f->lon = lon;
        f->cog = cog;
        f->status = 1; /* at anchor */
    }
    f->eta_s = left;
}

/* ---- output ---- */

static void send_text(ais_sim *a, const char *text, int len)
{
    if (a->udp >= 0) {
        if (sendto(a->udp, text, (size_t)len, 0, (struct sockaddr *)&a->addr, sizeof a->addr) ==
            len)
            a->sent++;
        else
            a->dropped++;
        return;
    }
    if (!a->connected || !a->bev || evbuffer_get_length(bufferevent_get_output(a->bev)) > OUT_MAX) {
        a->dropped++;
        return;
    }
    bufferevent_write(a->bev, text, (size_t)len);
    a->sent++;
}

static void emit(ais_sim *a, ship *s, const ingest_ais_msg *m)
{
    char out[512];
    int n = ingest_ais_encode(m, "AIVDM", 'A', a->seq, out, sizeof out);
    a->seq = (a->seq + 1) % 10;
    if (n <= 0) {
        core_error("sim", "cannot encode type %d of %d: %d", m->type, s->mmsi, n);
        return;
    }
    for (int i = 0; i < n; i++)
        a->lines += out[i] == '\n';
    send_text(a, out, n);
}

static void report_position(ais_sim *a, ship *s, double t)
{
    fix f;
    ship_at(s, t, &f);
    ingest_ais_msg m;
    memset(&m, 0, sizeof m);
    m.type = 1;
    m.mmsi = s->mmsi;
    m.status = f.status;
    m.turn = 0;
    m.speed = (int32_t)lround(f.sog_kn * 10);
    m.accuracy = 1;
    m.lon = (int32_t)lround(f.lon * 600000.0);
    m.lat = (int32_t)lround(f.lat * 600000.0);
    m.course = (int32_t)lround(f.cog * 10) % 3600;
    m.heading = (int32_t)lround(f.cog) % 360;
    m.second = (int32_t)((a->epoch_s + (int64_t)t) % 60); /* the device's own UTC second */
    emit(a, s, &m);
}

static void report_static(ais_sim *a, ship *s, double t)
{
    fix f;
    ship_at(s, t, &f);
    time_t eta = (time_t)(a->epoch_s + (int64_t)(t + f.eta_s));
    struct tm tm;
    gmtime_r(&eta, &tm);
    ingest_ais_msg m;
    memset(&m, 0, sizeof m);
    m.type = 5;
    m.mmsi = s->mmsi;
    m.imo = s->imo6 ? imo_number(s->imo6) : 0;
    snprintf(m.callsign, sizeof m.callsign, "%s", s->callsign);
    snprintf(m.shipname, sizeof m.shipname, "%s", s->name);
    snprintf(m.destination, sizeof m.destination, "%s", s->dest);
    m.shiptype = s->shiptype;
    m.to_bow = 150;
    m.to_stern = 40;
    m.to_port = 15;
    m.to_starboard = 17;
    m.epfd = 1;
    m.month = tm.tm_mon + 1;
    m.day = tm.tm_mday;
    m.hour = tm.tm_hour;
    m.minute = tm.tm_min;
    m.draught = (int32_t)lround(s->draught_m * 10);
    emit(a, s, &m);
}

/* Sends every report due up to the simulated time now. */
static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    ais_sim *a = arg;
    double t = (double)(core_mono_us() - a->start_us) / 1e6 * a->speedup;
    for (int i = 0; i < a->n; i++) {
        ship *s = &a->ships[i];
        double *np = &a->next_pos_s[i], *ns = &a->next_static_s[i];
        /* the static report first: a new vessel gets its name with its first position */
        while (*ns <= t || *np <= t) {
            int is_static = *ns <= *np;
            double at = is_static ? *ns : *np;
            if (s->dark_after_s > 0 && at >= s->dark_after_s) {
                *np = *ns = INFINITY;
                core_info("sim", "%s (MMSI %d) goes dark", s->name, s->mmsi);
                break;
            }
            if (is_static) {
                report_static(a, s, at);
                *ns += STATIC_EVERY_S;
            } else {
                report_position(a, s, at);
                *np += POS_EVERY_S;
            }
        }
    }
}

/* ---- the TCP connection ---- */

static void connect_tcp(ais_sim *a);

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
    connect_tcp(arg);
}

static void on_bev_event(struct bufferevent *bev, short what, void *arg)
{
    ais_sim *a = arg;
    if (what & BEV_EVENT_CONNECTED) {
        core_info("sim", "connected to the AIS listener");
        a->connected = 1;
        a->backoff_s = 1;
        return;
    }
    if (what & (BEV_EVENT_ERROR | BEV_EVENT_EOF)) {
        core_warn("sim", "AIS connection %s (%s); retrying in %d s",
                  a->connected ? "lost" : "refused",
                  evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()), a->backoff_s);
        a->connected = 0;
        bufferevent_free(a->bev);
        a->bev = NULL;
        struct timeval tv = {a->backoff_s, 0};
        event_add(a->retry, &tv);
        a->backoff_s = a->backoff_s * 2 > 30 ? 30 : a->backoff_s * 2;
    }
}

static void on_bev_read(struct bufferevent *bev, void *arg)
{
    /* the listener sends nothing; discard whatever comes */
    evbuffer_drain(bufferevent_get_input(bev), evbuffer_get_length(bufferevent_get_input(bev)));
}

static void connect_tcp(ais_sim *a)
{
    a->bev = bufferevent_socket_new(a->base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (!a->bev) {
        core_error("sim", "out of memory");
        event_base_loopbreak(a->base);
        return;
    }
    bufferevent_setcb(a->bev, on_bev_read, NULL, on_bev_event, a);
    bufferevent_enable(a->bev, EV_READ);
    if (bufferevent_socket_connect(a->bev, (struct sockaddr *)&a->addr, sizeof a->addr) != 0)
        on_bev_event(a->bev, BEV_EVENT_ERROR, a);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    ais_sim *a = arg;
    core_info("sim", "signal %d: stopping", (int)sig);
    event_base_loopexit(a->base, NULL);
}

static int usage_ais(FILE *out)
{
    fprintf(out, "usage: corridor-sim ais [--ais ADDR:PORT] [--udp] [--speedup N] [--duration S]\n"
                 "\n"
                 "A real AIS NMEA feed (AIVDM, types 1 and 5) of ten ships approaching Mombasa:\n"
                 "one goes dark after 5 minutes, two meet 40 km offshore and drift together for\n"
                 "24 hours, one declares DAR ES SALAAM. Position reports every 10 s and static\n"
                 "reports every 6 min of simulated time.\n"
                 "\n"
                 "  --ais ADDR:PORT    corridord's AIS listener [127.0.0.1:10110]\n"
                 "  --udp              send datagrams instead of a TCP stream\n"
                 "  --speedup N        simulated seconds per real second, 0.01..100000 [10]\n"
                 "  --duration S       stop after S real seconds [until SIGINT or SIGTERM]\n"
                 "  --log-level LEVEL  debug, info, warn, error [info]\n");
    return 0;
}

static int bad_ais(const char *what, const char *val)
{
    fprintf(stderr, "corridor-sim: %s \"%s\"; see corridor-sim ais --help\n", what, val);
    return 2;
}

int sim_ais_main(int argc, char **argv)
{
    const char *target = "127.0.0.1:10110";
    double speedup = 10, duration = 0;
    int udp = 0, rc = 1;
    for (int i = 2; i < argc; i++) {
        const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *end;
        if (!strcmp(f, "--help") || !strcmp(f, "-h"))
            return usage_ais(stdout);
        if (!strcmp(f, "--udp")) {
            udp = 1;
            continue;
        }
        if (strcmp(f, "--ais") && strcmp(f, "--speedup") && strcmp(f, "--duration") &&
            strcmp(f, "--log-level"))
            return bad_ais("unknown flag", f);
        if (!v)
            return bad_ais("a value is missing after", f);
        i++;
        if (!strcmp(f, "--ais")) {
            target = v;
        } else if (!strcmp(f, "--log-level")) {
            enum core_log_level lv;
            if (core_log_parse_level(v, &lv))
                return bad_ais("--log-level is not debug, info, warn or error:", v);
            core_log_set_level(lv);
        } else {
            errno = 0;
            double x = strtod(v, &end);
            if (end == v || *end || errno || !isfinite(x))
                return bad_ais(f[2] == 's' ? "--speedup is not a number:"
                                           : "--duration is not a number of seconds:",
                               v);
            if (f[2] == 's') {
                if (x < 0.01 || x > 100000)
                    return bad_ais("--speedup is not in 0.01..100000:", v);
                speedup = x;
            } else {
                if (x <= 0 || x > 365 * 86400.0)
                    return bad_ais("--duration is not a positive number of seconds:", v);
                duration = x;
            }
        }
    }
    char host[128];
    int port;
    ais_sim a;
    memset(&a, 0, sizeof a);
    a.udp = -1;
    a.addr.sin_family = AF_INET;
    if (core_split_hostport(target, host, sizeof host, &port) != 0 || port <= 0 || port > 65535 ||
        inet_pton(AF_INET, host, &a.addr.sin_addr) != 1)
        return bad_ais("--ais is not a numeric IPv4 ADDR:PORT:", target);
    a.addr.sin_port = htons((uint16_t)port);

    struct event *sigint = NULL, *sigterm = NULL;
    a.n = (int)(sizeof ship_table / sizeof ship_table[0]);
    _Static_assert(sizeof ship_table / sizeof ship_table[0] <= SHIPS_MAX, "SHIPS_MAX");
    a.ships = malloc(sizeof ship_table);
    a.base = event_base_new();
    if (!a.ships || !a.base)
        goto fail;
    memcpy(a.ships, ship_table, sizeof ship_table);
    a.speedup = speedup;
    a.backoff_s = 1;
    signal(SIGPIPE, SIG_IGN);
    if (udp) {
        a.udp = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (a.udp < 0) {
            core_error("sim", "udp socket: %s", strerror(errno));
            goto fail;
        }
    }
    a.tick = event_new(a.base, -1, EV_PERSIST, on_tick, &a);
    a.retry = evtimer_new(a.base, on_retry, &a);
    sigint = evsignal_new(a.base, SIGINT, on_signal, &a);
    sigterm = evsignal_new(a.base, SIGTERM, on_signal, &a);
    if (!a.tick || !a.retry || !sigint || !sigterm)
        goto fail;
    event_add(sigint, NULL);
    event_add(sigterm, NULL);

    printf("ais: %d ships approaching Mombasa (%.2f E, %.2f S) -> %s %s, speedup %g\n", a.n, 39.7,
           4.07, udp ? "udp" : "tcp", target, speedup);
    for (int i = 0; i < a.n; i++) {
        ship *s = &a.ships[i];
        fill_speeds(s);
        /* spread the ships' report phases over the 10 s, as real transponders are */
        a.next_pos_s[i] = POS_EVERY_S * i / a.n;
        a.next_static_s[i] = 0;
        char imo[12] = "-";
        if (s->imo6)
            snprintf(imo, sizeof imo, "%d", imo_number(s->imo6));
        printf("  MMSI %9d  IMO %-7s  %-15s  %s\n", s->mmsi, imo, s->name, s->shows);
    }
    fflush(stdout);
    a.start_us = core_mono_us();
    a.epoch_s = core_now_us() / 1000000;
    if (!udp)
        connect_tcp(&a);
    /* a tick per report period of the fastest ship, between 10 ms and 1 s of real time */
    double period = POS_EVERY_S / speedup / 2;
    period = period < 0.01 ? 0.01 : period > 1 ? 1 : period;
    struct timeval tv = {(time_t)period, (suseconds_t)((period - floor(period)) * 1e6)};
    event_add(a.tick, &tv);
    if (duration > 0) {
        struct timeval d = {(time_t)duration, (suseconds_t)((duration - floor(duration)) * 1e6)};
        event_base_loopexit(a.base, &d);
    }
    event_base_dispatch(a.base);
    if (a.bev) /* flush what is queued (bounded by OUT_MAX) before closing */
        for (int i = 0; i < 50 && evbuffer_get_length(bufferevent_get_output(a.bev)); i++)
            event_base_loop(a.base, EVLOOP_ONCE | EVLOOP_NONBLOCK), usleep(20000);
    printf("ais: done after %.1f s: %llu messages (%llu lines) sent, %llu dropped\n",
           (double)(core_mono_us() - a.start_us) / 1e6, a.sent, a.lines, a.dropped);
    rc = a.sent > 0 ? 0 : 1;
    if (!a.sent)
        fprintf(stderr, "corridor-sim: nothing was delivered to %s\n", target);
fail:
    if (a.bev)
        bufferevent_free(a.bev);
    if (a.udp >= 0)
        close(a.udp);
    if (sigint)
        event_free(sigint);
    if (sigterm)
        event_free(sigterm);
    if (a.tick)
        event_free(a.tick);
    if (a.retry)
        event_free(a.retry);
    if (a.base)
        event_base_free(a.base);
    free(a.ships);
    return rc;
}
