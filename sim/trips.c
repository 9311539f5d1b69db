/*
 * trips.c: `corridor-sim trips`: trips under customs control, end to end, through the
 * interfaces an arming team and the seals use. It loads the demo geofences (demo-data),
 * creates the mission routes it needs (POST /api/routes; an existing route of the same
 * name is reused), registers one seal per trip, has each seal report locked at its
 * origin, arms the trips (POST /api/trips), then drives them over OsmAnd: one clean trip
 * Mombasa -> Malaba disarmed at Malaba, and one trip per rule of docs/rules.md so every
 * rule fires at least once. At the end it reads every trip back (GET /api/trips/{id}) and
 * prints, per trip, what it demonstrates and whether the server raised it.
 *
 * Time is real, distance is compressed: the time rules compare device times with the
 * server's clock (the sweep, arming and disarming use it), so every ping carries the real
 * clock in Unix milliseconds, and trucks cover the corridor far faster than a truck could.
 * The routes of this mode therefore raise max_speed_kmh, except the impossible-movement
 * route, which keeps the default 200 km/h and whose truck drives at a real 60 km/h before
 * it jumps. Time thresholds are shortened on dedicated routes (one minute) so the run takes
 * about two minutes.
 *
 * Runs on the main thread: a small round-robin scheduler over blocking calls on one
 * libevent loop, one keep-alive OsmAnd connection per seal (as each device has its own)
 * and one REST connection.
 */
#include "sim.h"

#include <event2/event.h>
#include <json-c/json.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define FAST_KMH 1e6 /* max_speed_kmh of the compressed-distance routes */
#define OPS_MAX  16
#define PTS_MAX  96

/* road indices (sim/corridor.c) */
enum {
    R_PORT = 0,
    R_MARIAKANI = 5,
    R_SAMBURU = 6,
    R_KIBOKO = 19,
    R_SULTAN_HAMUD = 21,
    R_NAIROBI_ICD = 26,
    R_BUNGOMA = 45,
    R_MALABA = 47,
    R_BUSITEMA = 49,
    R_BUGIRI = 50,
    R_KAMPALA = 56,
};

/* ---- routes ---- */
enum { RT_MAIN, RT_WEST, RT_TIGHT, RT_STOP, RT_SILENT, RT_JUMP, RT_N };

static const struct route_def {
    const char *name;
    int from, to;               /* road indices */
    const char *checkpoints[3]; /* geofence names, in order */
    int leg_minutes[3];
    int max_transit_minutes;
    const char *exit_post; /* declared exit border post, or NULL */
    const char *extra;     /* more JSON members (thresholds) */
} routes[RT_N] = {
    [RT_MAIN] = {"Northern Corridor: Mombasa port - Malaba (A109/A104)",
                 R_PORT,
                 R_MALABA,
                 {"Emali", "Nairobi ICD (Embakasi)", "Webuye"},
                 {720, 720, 1440},
                 4320,
                 "Malaba border post",
                 "\"max_speed_kmh\": 1000000"},
    [RT_WEST] = {"Northern Corridor: Nairobi ICD - Kampala via Malaba",
                 R_NAIROBI_ICD,
                 R_KAMPALA,
                 {"Webuye"},
                 {1440},
                 4320,
                 "Malaba border post",
                 "\"max_speed_kmh\": 1000000"},
    [RT_TIGHT] = {"Mombasa port - Nairobi ICD (demo: 1-minute leg and transit limits)",
                  R_PORT,
                  R_NAIROBI_ICD,
                  {"Emali"},
                  {1},
                  1,
                  NULL,
                  "\"max_speed_kmh\": 1000000"},
    [RT_STOP] = {"Mombasa port - Nairobi ICD (demo: stops over 1 minute)",
                 R_PORT,
                 R_NAIROBI_ICD,
                 {"Emali"},
                 {720},
                 2880,
                 NULL,
                 "\"max_speed_kmh\": 1000000, \"stop_minutes\": 1"},
    [RT_SILENT] = {"Mombasa port - Nairobi ICD (demo: report every minute)",
                   R_PORT,
                   R_NAIROBI_ICD,
                   {"Emali"},
                   {720},
                   2880,
                   NULL,
                   "\"max_speed_kmh\": 1000000, \"reporting_limit_minutes\": 1"},
    [RT_JUMP] = {"Mombasa port - Nairobi ICD (200 km/h plausibility limit)",
                 R_PORT,
                 R_NAIROBI_ICD,
                 {"Emali"},
                 {720},
                 2880,
                 NULL,
                 NULL},
};

/* ---- trip scripts ---- */
enum op_kind { OP_DRIVE, OP_HOLD, OP_SILENT, OP_SET, OP_JUMP, OP_DISARM, OP_END };

typedef struct op {
    enum op_kind kind;
    double to_m;      /* DRIVE: path offset to reach; JUMP: metres to skip */
    double step_m;    /* DRIVE: metres per ping */
    double secs;      /* HOLD, SILENT */
    double kmh;       /* reported speed */
    int interval_ms;  /* between pings */
    const char *lock; /* SET: lock state, or NULL to keep */
    const char *alarm;
    double batt; /* SET: > 0 to change */
    int expect;  /* DISARM: expected HTTP status */
} op;

typedef struct trip {
    const char *tag;          /* TS-<tag>-<run> */
    const char *demonstrates; /* printed */
    const char *expect[3];    /* incident rules that must open; empty: none (clean trip) */
    int route;
    const char *origin, *destination;
    char seal[64];
    char id[40]; /* trip UUID once armed */
    sim_path *path;
    sim_http *conn;
    op ops[OPS_MAX];
    int n_ops, cur;
    double d;          /* metres along the path */
    int64_t due_us;    /* next action */
    int64_t op_end_us; /* HOLD: when it ends */
    int op_started;
    int64_t last_ms; /* last device time sent */
    const char *lock, *alarm;
    double batt;
    unsigned n_ping, jitter;
    int failed; /* something was refused or went unanswered */
    int done;
} trip;

typedef struct run {
    const sim_opts *o;
    struct event_base *base;
    sim_http *rest;
    char hdr[512];
    json_object *fences; /* GET /api/geofences */
    long long route_id[RT_N];
    trip *trips;
    int n;
    unsigned long long sent, acked, refused;
} run;

/* ISO 6346: owner code + category + 6 digits, then the check digit computed here. */
static void container_number(const char *owner4, unsigned serial, char out[12])
{
    snprintf(out, 12, "%.4s%06u", owner4, serial % 1000000);
    long sum = 0;
    for (int i = 0; i < 10; i++) {
        char c = out[i];
        int v;
        if (c >= '0' && c <= '9') {
            v = c - '0';
        } else {
            v = 10 + (c - 'A'); /* A=10 .. skipping multiples of 11 */
            v += v >= 11 ? 1 : 0;
            v += v >= 22 ? 1 : 0;
            v += v >= 33 ? 1 : 0;
        }
        sum += (long)v << i;
    }
    out[10] = (char)('0' + (sum % 11) % 10);
    out[11] = 0;
}

static long long fence_id(run *r, const char *name)
{
    json_object *features;
    if (!json_object_object_get_ex(r->fences, "features", &features))
        return -1;
    for (size_t i = 0; i < json_object_array_length(features); i++) {
        json_object *f = json_object_array_get_idx(features, i), *props, *n, *id;
        if (json_object_object_get_ex(f, "properties", &props) &&
            json_object_object_get_ex(props, "name", &n) &&
            strcmp(json_object_get_string(n), name) == 0 &&
            json_object_object_get_ex(props, "id", &id))
            return json_object_get_int64(id);
    }
    return -1;
}

/* A blocking REST call; returns the status, *out the parsed body (caller puts). */
static int rest(run *r, const char *method, const char *target, const char *body, json_object **out)
{
    char *text = NULL;
    int st = sim_http_call(r->rest, method, target, r->hdr, body, &text);
    if (out)
        *out = text ? json_tokener_parse(text) : NULL;
    if (st < 0)
        core_error("sim", "%s %s: no answer (%s)", method, target, core_strerror(st));
    else if (st >= 400 && !out)
        core_error("sim", "%s %s: HTTP %d %s", method, target, st, text ? text : "");
    free(text);
    return st;
}

static const char *jstr(json_object *o, const char *key)
{
    json_object *v;
    return o && json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : "";
}

/* Creates the routes this mode needs, reusing those of the same name. */
static int make_routes(run *r)
{
    json_object *list = NULL;
    int n_road;
    const sim_point *road = sim_corridor_road(&n_road);
    if (rest(r, "GET", "/api/routes", NULL, &list) != 200 || !list) {
        core_error("sim", "GET /api/routes failed");
        json_object_put(list);
        return -1;
    }
    for (int k = 0; k < RT_N; k++) {
        const struct route_def *d = &routes[k];
        r->route_id[k] = -1;
        for (size_t i = 0; i < json_object_array_length(list); i++) {
            json_object *e = json_object_array_get_idx(list, i), *id;
            if (strcmp(jstr(e, "name"), d->name) == 0 && json_object_object_get_ex(e, "id", &id))
                r->route_id[k] = json_object_get_int64(id);
        }
        if (r->route_id[k] > 0) {
            printf("trips: route %lld \"%s\" already there\n", r->route_id[k], d->name);
            continue;
        }
        char body[16384];
        size_t o = 0;
        o +=
            (size_t)snprintf(body + o, sizeof body - o,
                             "{\"name\": \"%s\", \"corridor_m\": 1000, \"max_transit_minutes\": %d,"
                             " \"geometry\": {\"type\": \"LineString\", \"coordinates\": [",
                             d->name, d->max_transit_minutes);
        for (int i = d->from; i <= d->to; i++)
            o += (size_t)snprintf(body + o, sizeof body - o, "%s[%.4f, %.4f]",
                                  i > d->from ? ", " : "", road[i].lon, road[i].lat);
        o += (size_t)snprintf(body + o, sizeof body - o, "]}, \"checkpoints\": [");
        for (int c = 0; c < 3 && d->checkpoints[c]; c++) {
            long long f = fence_id(r, d->checkpoints[c]);
            if (f < 0) {
                core_error("sim", "no geofence \"%s\" (run demo-data)", d->checkpoints[c]);
                goto fail;
            }
            o += (size_t)snprintf(body + o, sizeof body - o,
                                  "%s{\"geofence_id\": %lld, \"max_leg_minutes\": %d}",
                                  c ? ", " : "", f, d->leg_minutes[c]);
        }
        o += (size_t)snprintf(body + o, sizeof body - o, "]");
        if (d->exit_post)
            o += (size_t)snprintf(body + o, sizeof body - o, ", \"exit_border_post_id\": %lld",
                                  fence_id(r, d->exit_post));
        if (d->extra)
            o += (size_t)snprintf(body + o, sizeof body - o, ", %s", d->extra);
        snprintf(body + o, sizeof body - o, "}");
        json_object *made = NULL;
        int st = rest(r, "POST", "/api/routes", body, &made);
        if (st != 201) {
            core_error("sim", "POST /api/routes \"%s\": HTTP %d %s", d->name, st,
                       made ? json_object_to_json_string(made) : "");
            json_object_put(made);
            goto fail;
        }
        json_object *id;
        json_object_object_get_ex(made, "id", &id);
        r->route_id[k] = json_object_get_int64(id);
        printf("trips: route %lld \"%s\" created\n", r->route_id[k], d->name);
        json_object_put(made);
    }
    json_object_put(list);
    return 0;
fail:
    json_object_put(list);
    return -1;
}

/* ---- building the trips ---- */
static void add(trip *t, op o)
{
    if (t->n_ops < OPS_MAX - 1)
        t->ops[t->n_ops++] = o;
}

static op drive(double to_m, double step_m, int interval_ms)
{
    return (op){
        .kind = OP_DRIVE, .to_m = to_m, .step_m = step_m, .kmh = 70, .interval_ms = interval_ms};
}

static op hold(double secs, double kmh)
{
    return (op){.kind = OP_HOLD, .secs = secs, .kmh = kmh, .interval_ms = 2000};
}

/* The offset along p of its vertex nearest to road point i. */
static double at(const sim_path *p, int i)
{
    int n;
    const sim_point *road = sim_corridor_road(&n);
    return sim_path_offset_of(p, road[i].lat, road[i].lon);
}

/* A path of road[from..to] with extra points inserted after road index `after` (and road
 * indices in (after, resume) skipped). */
static sim_path *road_path(int from, int to, int after, const sim_point *extra, int n_extra,
                           int resume)
{
    int n_road, n = 0;
    const sim_point *road = sim_corridor_road(&n_road);
    sim_point pts[PTS_MAX];
    for (int i = from; i <= to && n < PTS_MAX; i++) {
        if (after >= 0 && i > after && i < resume)
            continue;
        pts[n++] = road[i];
        if (i == after)
            for (int k = 0; k < n_extra && n < PTS_MAX; k++)
                pts[n++] = extra[k];
    }
    return sim_path_new(pts, n);
}

static int build_trips(run *r, unsigned tag)
{
    static const sim_point off_road[] = {{-3.7700, 39.3900, 250}};      /* 5 km north of the A109 */
    static const sim_point emali_bypass[] = {{-2.1100, 37.4550, 1050}}; /* 3 km south of Emali */
    static const sim_point busia[] = {{0.4608, 34.0922, 1200}};         /* Busia border post */
    const double FAST = 1000; /* metres per ping on compressed drives */
    r->n = 12;
    r->trips = calloc((size_t)r->n, sizeof *r->trips);
    if (!r->trips)
        return -1;
    trip *t = r->trips;
    for (int i = 0; i < r->n; i++) {
        t[i].origin = "Mombasa port (Kilindini)";
        t[i].destination = "Malaba border post";
        t[i].route = RT_MAIN;
        t[i].batt = 90;
        t[i].lock = "locked";
    }
    /* 0: clean */
    t[0].tag = "CLEAN";
    t[0].demonstrates = "a clean trip: armed at Mombasa port, Emali, Nairobi ICD and Webuye "
                        "passed in order, disarmed inside Malaba border post";
    t[0].path = road_path(R_PORT, R_MALABA, -1, NULL, 0, 0);
    if (t[0].path) {
        add(&t[0], drive(sim_path_length(t[0].path), FAST, 0));
        add(&t[0], hold(2, 0));
        add(&t[0], (op){.kind = OP_DISARM, .expect = 200});
    }
    /* 1: route deviation */
    t[1].tag = "DEVIATION";
    t[1].demonstrates = "route_deviation: leaves the A109 after Mariakani for a point 5 km off "
                        "the road (corridor 1000 m), stays 75 s, comes back (route_return)";
    t[1].expect[0] = "route_deviation";
    t[1].path = road_path(R_PORT, R_NAIROBI_ICD, R_MARIAKANI, off_road, 1, R_SAMBURU);
    if (t[1].path) {
        double off = sim_path_offset_of(t[1].path, off_road[0].lat, off_road[0].lon);
        add(&t[1], drive(off, FAST / 4, 0));
        add(&t[1], hold(75, 20));
        add(&t[1], drive(at(t[1].path, R_SAMBURU) + 10000, FAST / 4, 200));
    }
    /* 2: checkpoint skipped */
    t[2].tag = "SKIP";
    t[2].demonstrates = "checkpoint_skipped: takes a back road 3 km south of the Emali "
                        "checkpoint, then enters Nairobi ICD (checkpoint 2)";
    t[2].expect[0] = "checkpoint_skipped";
    t[2].path = road_path(R_PORT, R_NAIROBI_ICD, R_KIBOKO, emali_bypass, 1, R_SULTAN_HAMUD);
    if (t[2].path)
        add(&t[2], drive(sim_path_length(t[2].path), FAST, 0));
    /* 3: leg and transit overdue */
    t[3].tag = "OVERDUE";
    t[3].demonstrates = "leg_overdue and transit_overdue: a route with 1-minute limits, the truck "
                        "still in the port after 75 s (raised by the sweep)";
    t[3].expect[0] = "leg_overdue";
    t[3].expect[1] = "transit_overdue";
    t[3].route = RT_TIGHT;
    t[3].destination = "Nairobi ICD (Embakasi)";
    t[3].path = road_path(R_PORT, R_NAIROBI_ICD, -1, NULL, 0, 0);
    if (t[3].path)
        add(&t[3], hold(75, 10));
    /* 4: unauthorised stop */
    t[4].tag = "STOP";
    t[4].demonstrates = "unauthorised_stop: stops 25 km out of Mombasa, outside any parking, "
                        "for 75 s on a route whose stop limit is 1 minute";
    t[4].expect[0] = "unauthorised_stop";
    t[4].route = RT_STOP;
    t[4].destination = "Nairobi ICD (Embakasi)";
    t[4].path = road_path(R_PORT, R_NAIROBI_ICD, -1, NULL, 0, 0);
    if (t[4].path) {
        add(&t[4], drive(25000, FAST / 2, 0));
        add(&t[4], hold(75, 0));
    }
    /* 5: signal loss */
    t[5].tag = "SILENT";
    t[5].demonstrates = "signal_loss: goes silent for 80 s on a route that must report every "
                        "minute, then reports again (signal_restored)";
    t[5].expect[0] = "signal_loss";
    t[5].route = RT_SILENT;
    t[5].destination = "Nairobi ICD (Embakasi)";
    t[5].path = road_path(R_PORT, R_NAIROBI_ICD, -1, NULL, 0, 0);
    if (t[5].path) {
        add(&t[5], drive(15000, FAST / 2, 0));
        add(&t[5], (op){.kind = OP_SILENT, .secs = 80});
        add(&t[5], drive(17000, FAST / 2, 2000));
    }
    /* 6-8: the seal itself */
    t[6].tag = "OPENED";
    t[6].demonstrates = "seal_opened: the seal reports lock=open 20 km out of Mombasa";
    t[6].expect[0] = "seal_opened";
    t[7].tag = "TAMPER";
    t[7].demonstrates = "seal_tampered: the seal reports alarm=tampering 20 km out of Mombasa";
    t[7].expect[0] = "seal_tampered";
    t[8].tag = "BATTERY";
    t[8].demonstrates = "low_battery: the seal's battery drops to 10 % (threshold 20 %)";
    t[8].expect[0] = "low_battery";
    for (int i = 6; i <= 8; i++) {
        t[i].path = road_path(R_PORT, R_MALABA, -1, NULL, 0, 0);
        if (!t[i].path)
            continue;
        add(&t[i], drive(20000, FAST / 2, 0));
        add(&t[i], (op){.kind = OP_SET,
                        .lock = i == 6 ? "open" : NULL,
                        .alarm = i == 7 ? "tampering" : NULL,
                        .batt = i == 8 ? 10 : 0});
        add(&t[i], drive(22000, FAST / 2, 500));
    }
    /* 9: impossible movement */
    t[9].tag = "JUMP";
    t[9].demonstrates = "impossible_movement: drives at a real 60 km/h, then its next fix is "
                        "60 km further 2 s later (route limit 200 km/h)";
    t[9].expect[0] = "impossible_movement";
    t[9].route = RT_JUMP;
    t[9].destination = "Nairobi ICD (Embakasi)";
    t[9].path = road_path(R_PORT, R_NAIROBI_ICD, -1, NULL, 0, 0);
    if (t[9].path) {
        op slow = drive(5 * 33.3, 33.3, 2000); /* 60 km/h: 33 m every 2 s */
        slow.kmh = 60;
        add(&t[9], slow);
        add(&t[9], (op){.kind = OP_JUMP, .to_m = 60000});
        slow.to_m = 60000 + 8 * 33.3;
        add(&t[9], slow);
    }
    /* 10: undeclared border exit */
    t[10].tag = "BUSIA";
    t[10].demonstrates = "undeclared_border_exit: declared exit Malaba, leaves Kenya at Busia "
                         "(armed at Nairobi ICD for Kampala)";
    t[10].expect[0] = "undeclared_border_exit";
    t[10].route = RT_WEST;
    t[10].origin = "Nairobi ICD (Embakasi)";
    t[10].destination = "Kampala";
    t[10].path = road_path(R_NAIROBI_ICD, R_BUGIRI, R_BUNGOMA, busia, 1, R_BUSITEMA);
    if (t[10].path)
        add(&t[10], drive(at(t[10].path, R_BUSITEMA) + 5000, FAST, 0));
    /* 11: disarm outside destination */
    t[11].tag = "DISARM";
    t[11].demonstrates = "disarm_outside_destination: a disarm attempted 20 km out of Mombasa "
                         "is refused (409) and raises an incident";
    t[11].expect[0] = "disarm_outside_destination";
    t[11].path = road_path(R_PORT, R_MALABA, -1, NULL, 0, 0);
    if (t[11].path) {
        add(&t[11], drive(20000, FAST / 2, 0));
        add(&t[11], (op){.kind = OP_DISARM, .expect = 409});
    }

    char err[256];
    for (int i = 0; i < r->n; i++) {
        if (!t[i].path)
            return -1;
        add(&t[i], (op){.kind = OP_END});
        snprintf(t[i].seal, sizeof t[i].seal, "TS-%s-%u", t[i].tag, tag);
        t[i].conn = sim_http_new(r->base, r->o->osmand, 64 << 10, 30, err, sizeof err);
        if (!t[i].conn) {
            core_error("sim", "--osmand: %s", err);
            return -1;
        }
    }
    return 0;
}

/* ---- driving ---- */
static int ping(run *r, trip *t, double kmh)
{
    sim_point p;
    double brg;
    sim_path_at(t->path, t->d, 1, &p, &brg);
    if (kmh < 5) { /* parked: a few metres of GPS jitter */
        static const double jit[4][2] = {{0, 0}, {8e-5, 0}, {0, 8e-5}, {-5e-5, -5e-5}};
        p.lat += jit[t->jitter % 4][0];
        p.lon += jit[t->jitter % 4][1];
        t->jitter++;
    }
    int64_t ms = core_now_us() / 1000;
    if (ms <= t->last_ms)
        ms = t->last_ms + 1;
    t->last_ms = ms;
    sim_ping pg = {.id = t->seal,
                   .lat = p.lat,
                   .lon = p.lon,
                   .timestamp = ms,
                   .speed_kn = kmh / 1.852,
                   .bearing = brg,
                   .altitude = p.alt,
                   .accuracy = 5,
                   .batt = t->batt,
                   .lock = t->lock};
    char target[1024];
    int len = sim_osmand_target(&pg, target, sizeof target);
    if (len < 0)
        return -1;
    if (t->alarm)
        snprintf(target + len, sizeof target - (size_t)len, "&alarm=%s", t->alarm);
    char *body = NULL;
    r->sent++;
    t->n_ping++;
    int st = sim_http_call(t->conn, "GET", target, "", NULL, &body);
    if (st == 200) {
        r->acked++;
    } else {
        r->refused++;
        t->failed = 1;
        core_warn("sim", "%s: ping answered %d %s", t->seal, st, body ? body : "");
    }
    free(body);
    return st == 200 ? 0 : -1;
}

static void disarm(run *r, trip *t, int expect)
{
    char target[128];
    json_object *ans = NULL;
    snprintf(target, sizeof target, "/api/trips/%s/disarm", t->id);
    int st = rest(r, "POST", target, "", &ans);
    if (st == 200)
        printf("trips: %s disarmed at %s (%s)\n", t->seal, jstr(ans, "disarmed_at"),
               jstr(ans, "destination"));
    else
        printf("trips: %s disarm refused (%d): %s\n", t->seal, st, jstr(ans, "detail"));
    if (st != expect)
        t->failed = 1;
    json_object_put(ans);
}

/* Runs the trip's current step; sets its next due time. */
static void step(run *r, trip *t, int64_t now)
{
    op *o = &t->ops[t->cur];
    switch (o->kind) {
    case OP_DRIVE:
        t->d = fmin(t->d + o->step_m, o->to_m);
        ping(r, t, o->kmh);
        if (t->d >= o->to_m)
            t->cur++;
        t->due_us = now + o->interval_ms * 1000LL;
        break;
    case OP_HOLD:
        if (!t->op_started) {
            t->op_started = 1;
            t->op_end_us = now + (int64_t)(o->secs * 1e6);
        }
        ping(r, t, o->kmh);
        if (now >= t->op_end_us) {
            t->cur++;
            t->op_started = 0;
        }
        t->due_us = now + o->interval_ms * 1000LL;
        break;
    case OP_SILENT:
        t->cur++;
        t->due_us = now + (int64_t)(o->secs * 1e6);
        break;
    case OP_SET:
        if (o->lock)
            t->lock = o->lock;
        if (o->alarm)
            t->alarm = o->alarm;
        if (o->batt > 0)
            t->batt = o->batt;
        t->cur++;
        break;
    case OP_JUMP:
        t->d += o->to_m;
        t->cur++;
        t->due_us = now + 2000000;
        break;
    case OP_DISARM:
        disarm(r, t, o->expect);
        t->cur++;
        break;
    case OP_END:
        t->done = 1;
        break;
    }
}

/* Sleeps on the loop (keeps connections serviced). */
static void nap(run *r, int64_t us)
{
    struct timeval tv = {(time_t)(us / 1000000), (suseconds_t)(us % 1000000)};
    event_base_loopexit(r->base, &tv);
    event_base_dispatch(r->base);
}

static int arm(run *r, trip *t, unsigned tag, int k)
{
    /* the seal reports, locked, from its origin: arming requires it */
    int n_road;
    const sim_point *road = sim_corridor_road(&n_road);
    const sim_point *o = &road[routes[t->route].from];
    t->d = sim_path_offset_of(t->path, o->lat, o->lon);
    if (ping(r, t, 0) != 0)
        return -1;
    char container[12], body[1024];
    static const char *const owners[] = {"MSKU", "MSCU", "CMAU", "HLXU", "TGHU", "OOLU"};
    container_number(owners[k % 6], 100000 + tag % 800000 + (unsigned)k * 7919, container);
    snprintf(body, sizeof body,
             "{\"seal_id\": \"%s\", \"route_id\": %lld, \"origin_id\": %lld, "
             "\"destination_id\": %lld, \"conveyance\": {\"plate\": \"KC%c %03u%c\", "
             "\"container\": \"%s\"}, \"declaration\": \"2026KEMSA%07u\"}",
             t->seal, r->route_id[t->route], fence_id(r, t->origin), fence_id(r, t->destination),
             'A' + k % 26, (tag + (unsigned)k * 37) % 1000, 'A' + (k * 7) % 26, container,
             (tag * 13 + (unsigned)k) % 10000000);
    json_object *ans = NULL;
    int st = rest(r, "POST", "/api/trips", body, &ans);
    if (st != 201) {
        core_error("sim", "arming %s: HTTP %d %s", t->seal, st,
                   ans ? json_object_to_json_string(ans) : "");
        json_object_put(ans);
        return -1;
    }
    snprintf(t->id, sizeof t->id, "%s", jstr(ans, "id"));
    printf("trips: armed %s trip %s, %s -> %s, deadline %s\n", t->seal, t->id, t->origin,
           t->destination, jstr(ans, "deadline"));
    json_object_put(ans);
    return 0;
}

/* 1 if the trip's incidents hold rule. */
static int has_rule(json_object *trip_json, const char *rule)
{
    json_object *inc;
    if (!json_object_object_get_ex(trip_json, "incidents", &inc))
        return 0;
    for (size_t i = 0; i < json_object_array_length(inc); i++)
        if (strcmp(jstr(json_object_array_get_idx(inc, i), "rule"), rule) == 0)
            return 1;
    return 0;
}

/* Reads every trip back, waiting up to 30 s for the sweep; prints the verdicts. */
static int verify(run *r)
{
    int bad = 0;
    int64_t until = core_mono_us() + 30000000;
    for (int i = 0; i < r->n; i++) {
        trip *t = &r->trips[i];
        char target[128];
        snprintf(target, sizeof target, "/api/trips/%s", t->id);
        json_object *j = NULL;
        int ok = 0;
        for (;;) {
            json_object_put(j);
            j = NULL;
            if (rest(r, "GET", target, NULL, &j) != 200)
                break;
            ok = !t->failed;
            for (int k = 0; k < 3 && t->expect[k]; k++)
                ok &= has_rule(j, t->expect[k]);
            if (!t->expect[0]) {
                json_object *inc;
                ok &= strcmp(jstr(j, "status"), "disarmed") == 0 &&
                      json_object_object_get_ex(j, "incidents", &inc) &&
                      json_object_array_length(inc) == 0;
            }
            if (ok || core_mono_us() > until)
                break;
            nap(r, 1000000);
        }
        json_object *ev = NULL, *inc = NULL;
        char kinds[512] = "";
        if (j && json_object_object_get_ex(j, "events", &ev))
            for (size_t k = 0; k < json_object_array_length(ev); k++) {
                const char *kind = jstr(json_object_array_get_idx(ev, k), "kind");
                if (!strstr(kinds, kind) && strlen(kinds) + strlen(kind) + 2 < sizeof kinds)
                    snprintf(kinds + strlen(kinds), sizeof kinds - strlen(kinds), "%s%s",
                             kinds[0] ? " " : "", kind);
            }
        int n_inc = j && json_object_object_get_ex(j, "incidents", &inc)
                        ? (int)json_object_array_length(inc)
                        : -1;
        printf("trips: %-4s %-22s %s\n      trip %s: status %s, %d incident%s, events: %s\n",
               ok ? "ok" : "FAIL", t->seal, t->demonstrates, t->id, jstr(j, "status"), n_inc,
               n_inc == 1 ? "" : "s", kinds);
        bad |= !ok;
        json_object_put(j);
    }
    return bad;
}

int sim_trips(const sim_opts *o)
{
    run r = {.o = o};
    int ret = 1;
    char err[256];
    unsigned tag = (unsigned)(time(NULL) % 1000000);

    signal(SIGPIPE, SIG_IGN);
    printf("trips: loading the demo geofences\n");
    fflush(stdout);
    if (sim_demo_data(o) != 0)
        return 1;
    r.base = event_base_new();
    if (!r.base)
        return 1;
    sim_rest_headers(o, r.hdr, sizeof r.hdr);
    snprintf(r.hdr + strlen(r.hdr), sizeof r.hdr - strlen(r.hdr),
             "Content-Type: application/json\r\n");
    r.rest = sim_http_new(r.base, o->http, 16u << 20, 30, err, sizeof err);
    if (!r.rest) {
        fprintf(stderr, "corridor-sim: --http: %s\n", err);
        goto fail;
    }
    if (rest(&r, "GET", "/api/geofences", NULL, &r.fences) != 200 || !r.fences)
        goto fail;
    if (make_routes(&r) != 0 || build_trips(&r, tag) != 0)
        goto fail;
    if (r.n <= 0)
        goto fail;
    char **ids = calloc((size_t)r.n, sizeof *ids);
    if (!ids)
        goto fail;
    for (int i = 0; i < r.n; i++)
        ids[i] = r.trips[i].seal;
    int rc = sim_register_seals(r.rest, o, ids, r.n);
    free(ids);
    if (rc != 0)
        goto fail;
    for (int i = 0; i < r.n; i++)
        if (arm(&r, &r.trips[i], tag, i) != 0)
            goto fail;
    fflush(stdout);

    int64_t start = core_mono_us(), deadline = start + 600000000LL;
    for (int i = 0; i < r.n; i++)
        r.trips[i].due_us = start;
    for (;;) {
        int64_t now = core_mono_us(), next = INT64_MAX;
        int left = 0;
        for (int i = 0; i < r.n; i++) {
            trip *t = &r.trips[i];
            if (t->done)
                continue;
            left++;
            if (t->due_us <= now) {
                step(&r, t, now);
                now = core_mono_us();
            }
            if (!t->done && t->due_us < next)
                next = t->due_us;
        }
        if (!left || now > deadline)
            break;
        if (next > now)
            nap(&r, next - now > 100000 ? 100000 : next - now);
    }
    printf("trips: driving done after %.0f s: %llu pings sent, %llu acked, %llu refused; "
           "reading the trips back\n",
           (double)(core_mono_us() - start) / 1e6, r.sent, r.acked, r.refused);
    fflush(stdout);
    int bad = verify(&r);
    printf("trips: %s\n", bad ? "some trips did not show what they should (FAIL lines above)"
                              : "every trip showed what it demonstrates");
    ret = bad ? 1 : 0;
fail:
    for (int i = 0; r.trips && i < r.n; i++) {
        sim_http_free(r.trips[i].conn);
        sim_path_free(r.trips[i].path);
    }
    free(r.trips);
    json_object_put(r.fences);
    sim_http_free(r.rest);
    event_base_free(r.base);
    fflush(stdout);
    return ret;
}
