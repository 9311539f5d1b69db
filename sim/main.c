/*
 * main.c: corridor-sim's command line. Picks the mode (demo-data, scenario, load), checks
 * every flag (a bad one is a one-line reason on stderr and exit status 2), and runs the
 * mode on the main thread, which is the only thread.
 */
#include "sim.h"

#include <errno.h>
#include <event2/thread.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef SIM_DEFAULT_DATA
#define SIM_DEFAULT_DATA "data/northern_corridor.csv"
#endif

enum { M_DEMO = 1, M_SCENARIO = 2, M_LOAD = 4, M_TRIPS = 8, M_ELOCKS = 16 };

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: corridor-sim MODE [flags]\n"
        "\n"
        "Drives a running corridord over its real interfaces (REST and device protocols).\n"
        "\n"
        "modes:\n"
        "  demo-data  load the Northern Corridor places and a restricted zone as geofences\n"
        "             through POST /api/geofences (names that exist are skipped)\n"
        "  scenario   register a few seals and drive them along the corridor in accelerated\n"
        "             real time over OsmAnd; one leaves the road through the restricted zone\n"
        "  load       a load generator over OsmAnd HTTP keep-alive connections; prints one\n"
        "             JSON line of results at the end\n"
        "  trips      trips under customs control: routes, arming, a clean trip Mombasa ->\n"
        "             Malaba disarmed at Malaba and one trip per trip rule (docs/trips.md)\n"
        "  elocks     a few JT/T 808 e-locks that stay connected and take the centre's\n"
        "             commands (set_interval, locate, seal, unseal, text; docs/commands.md)\n"
        "  ais        a real AIS NMEA feed of ships approaching Mombasa over TCP or UDP\n"
        "             (see corridor-sim ais --help)\n"
        "\n"
        "flags (mode):\n"
        "  --http ADDR:PORT       REST of corridord (demo-data, scenario) [127.0.0.1:8080]\n"
        "  --osmand ADDR:PORT     OsmAnd listener (scenario, load) [127.0.0.1:5055]\n"
        "  --token TOKEN          REST bearer token [$CORRIDOR_TOKEN]\n"
        "  --data FILE            places CSV (demo-data) [%s]\n"
        "  --seals N              seals to drive (scenario 1..100 [6]; load 1..1000000)\n"
        "  --speedup X            how much faster than real trucks (scenario) [60]\n"
        "  --interval SECONDS     real seconds between a seal's pings, >= 1 (scenario) [2]\n"
        "  --duration SECONDS     stop after this long (scenario: until SIGINT; load: required)\n"
        "  --rate PINGS_PER_S     pings per second over all seals (load, required)\n"
        "  --connections C        keep-alive connections (load) [32]\n"
        "  --pipeline D           requests in flight per connection (load) [1]\n"
        "  --register-http ADDR:PORT  register the load seals there first (load)\n"
        "  --protocol osmand|jt808  device protocol (load) [osmand]; jt808 opens one\n"
        "                         connection per seal (terminal 2 + 11 digits of the number)\n"
        "  --jt808 ADDR:PORT      JT/T 808 listener (load --protocol jt808) [127.0.0.1:6808]\n"
        "                         or a list A,B,...: terminals are spread over them and one\n"
        "                         whose connection dies dials the next (load)\n"
        "  --acked-out FILE       list every acknowledged jt808 ping there, one line\n"
        "                         \"TERMINAL DEVICE_UNIX_S ACK_UNIX_MS\" (load)\n"
        "  --device-time UNIX_S   device time of each seal's first jt808 ping [auto]\n"
        "  --backfill N           each jt808 terminal first replays a blind-area batch (0x0704)\n"
        "                         of N positions (1..30) from the hour before [0]\n"
        "  --commands answer|ignore  whether jt808 terminals answer the centre's commands\n"
        "                         (elocks, load) [answer]\n"
        "  --log-level LEVEL      debug, info, warn, error [info]\n"
        "  --help                 this text\n",
        SIM_DEFAULT_DATA);
}

static int bad(const char *fmt, const char *a, const char *b)
{
    fprintf(stderr, "corridor-sim: ");
    fprintf(stderr, fmt, a, b);
    fprintf(stderr, "; see corridor-sim --help\n");
    return 2;
}

static int num(const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno || !isfinite(v) || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int hostport_ok(const char *s)
{
    char host[128];
    int port;
    return core_split_hostport(s, host, sizeof host, &port) == 0 && port > 0 && host[0];
}

int main(int argc, char **argv)
{
    sim_opts o = {
        .http = "127.0.0.1:8080",
        .osmand = "127.0.0.1:5055",
        .jt808 = "127.0.0.1:6808",
        .data = SIM_DEFAULT_DATA,
        .token = getenv("CORRIDOR_TOKEN"),
        .proto = "osmand",
        .seals = 0,
        .connections = 32,
        .pipeline = 1,
        .speedup = 60,
        .interval_s = 2,
        .duration_s = 0,
        .rate = 0,
    };
    if (argc >= 2 && !strcmp(argv[1], "ais"))
        return sim_ais_main(argc, argv);
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        }
    if (argc < 2)
        return bad("missing mode (demo-data, scenario, trips, ais or load)%s%s", "", "");
    int mode, interval_given = 0;
    if (!strcmp(argv[1], "demo-data"))
        mode = M_DEMO;
    else if (!strcmp(argv[1], "scenario"))
        mode = M_SCENARIO;
    else if (!strcmp(argv[1], "load"))
        mode = M_LOAD;
    else if (!strcmp(argv[1], "trips"))
        mode = M_TRIPS;
    else if (!strcmp(argv[1], "elocks"))
        mode = M_ELOCKS;
    else
        return bad("unknown mode \"%s\" (demo-data, scenario, trips, elocks, ais or load)%s",
                   argv[1], "");

    static const struct {
        const char *name;
        int modes;
    } flags[] = {
        {"http", M_DEMO | M_SCENARIO | M_TRIPS | M_ELOCKS},
        {"osmand", M_SCENARIO | M_LOAD | M_TRIPS},
        {"token", M_DEMO | M_SCENARIO | M_LOAD | M_TRIPS | M_ELOCKS},
        {"data", M_DEMO | M_TRIPS},
        {"seals", M_SCENARIO | M_LOAD | M_ELOCKS},
        {"speedup", M_SCENARIO | M_ELOCKS},
        {"interval", M_SCENARIO | M_ELOCKS},
        {"duration", M_SCENARIO | M_LOAD | M_ELOCKS},
        {"commands", M_LOAD | M_ELOCKS},
        {"rate", M_LOAD},
        {"connections", M_LOAD},
        {"pipeline", M_LOAD},
        {"register-http", M_LOAD},
        {"protocol", M_LOAD},
        {"jt808", M_LOAD | M_ELOCKS},
        {"acked-out", M_LOAD},
        {"device-time", M_LOAD},
        {"backfill", M_LOAD},
        {"log-level", M_DEMO | M_SCENARIO | M_LOAD | M_TRIPS | M_ELOCKS},
    };
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) || !a[2])
            return bad("unexpected argument \"%s\"%s", a, "");
        char name[32];
        const char *val = strchr(a, '=');
        size_t nl = val ? (size_t)(val - a - 2) : strlen(a + 2);
        if (nl >= sizeof name)
            return bad("unknown flag \"%s\"%s", a, "");
        memcpy(name, a + 2, nl);
        name[nl] = 0;
        size_t k;
        for (k = 0; k < sizeof flags / sizeof flags[0]; k++)
            if (!strcmp(flags[k].name, name))
                break;
        if (k == sizeof flags / sizeof flags[0])
            return bad("unknown flag \"--%s\"%s", name, "");
        if (!(flags[k].modes & mode))
            return bad("--%s does not apply to %s", name, argv[1]);
        if (val) {
            val++;
        } else {
            if (i + 1 >= argc)
                return bad("--%s needs a value%s", name, "");
            val = argv[++i];
        }
        double v;
        if (!strcmp(name, "jt808")) {
            char one[128];
            int parts = 0;
            for (const char *q = val; *q; parts++) { /* ADDR:PORT[,ADDR:PORT...], at most 8 */
                size_t m = strcspn(q, ",");
                snprintf(one, sizeof one, "%.*s", (int)m, q);
                if (m >= sizeof one || !hostport_ok(one) || parts == 8)
                    return bad("--%s \"%s\" is not ADDR:PORT[,ADDR:PORT...] (at most 8)", name,
                               val);
                q += m + (q[m] == ',');
            }
            if (!parts)
                return bad("--%s \"%s\" is not ADDR:PORT", name, val);
            o.jt808 = val;
        } else if (!strcmp(name, "acked-out")) {
            o.acked_out = val;
        } else if (!strcmp(name, "commands")) {
            if (strcmp(val, "answer") && strcmp(val, "ignore"))
                return bad("--commands \"%s\" is not answer or ignore%s", val, "");
            o.ignore_commands = !strcmp(val, "ignore");
        } else if (!strcmp(name, "backfill")) {
            char *end;
            long count = strtol(val, &end, 10);
            if (*end || end == val || count < 1 || count > 30)
                return bad("--backfill \"%s\" is not a count of 1 to 30 positions%s", val, "");
            o.backfill = (int)count;
        } else if (!strcmp(name, "device-time")) {
            if (num(val, 1, 4e9, &v))
                return bad("--device-time \"%s\" is not Unix seconds%s", val, "");
            o.device_time = floor(v);
        } else if (!strcmp(name, "http") || !strcmp(name, "osmand") ||
                   !strcmp(name, "register-http")) {
            if (!hostport_ok(val))
                return bad("--%s \"%s\" is not ADDR:PORT", name, val);
            if (name[0] == 'h')
                o.http = val;
            else if (name[0] == 'o')
                o.osmand = val;
            else
                o.register_http = val;
        } else if (!strcmp(name, "token")) {
            o.token = val;
        } else if (!strcmp(name, "data")) {
            o.data = val;
        } else if (!strcmp(name, "seals")) {
            double max = mode == M_LOAD ? 1000000 : 100;
            if (num(val, 1, max, &v) || v != floor(v))
                return bad(mode == M_LOAD ? "--seals \"%s\" is not a whole number in 1..1000000%s"
                                          : "--seals \"%s\" is not a whole number in 1..100%s",
                           val, "");
            o.seals = (int)v;
        } else if (!strcmp(name, "speedup")) {
            if (num(val, 0.01, 100000, &v))
                return bad("--speedup \"%s\" is not a number in 0.01..100000%s", val, "");
            o.speedup = v;
        } else if (!strcmp(name, "interval")) {
            /* Pings carry Unix seconds: two within a second would be the same observation. */
            if (num(val, 1, 3600, &v))
                return bad("--interval \"%s\" is not a number of seconds in 1..3600%s", val, "");
            o.interval_s = v;
            interval_given = 1;
        } else if (!strcmp(name, "duration")) {
            if (num(val, 0.001, 365 * 86400.0, &v) || v <= 0)
                return bad("--duration \"%s\" is not a positive number of seconds%s", val, "");
            o.duration_s = v;
        } else if (!strcmp(name, "rate")) {
            if (num(val, 0.001, 10000000, &v))
                return bad("--rate \"%s\" is not a number of pings/s in 0.001..10000000%s", val,
                           "");
            o.rate = v;
        } else if (!strcmp(name, "connections")) {
            if (num(val, 1, 10000, &v) || v != floor(v))
                return bad("--connections \"%s\" is not a whole number in 1..10000%s", val, "");
            o.connections = (int)v;
        } else if (!strcmp(name, "pipeline")) {
            if (num(val, 1, 1024, &v) || v != floor(v))
                return bad("--pipeline \"%s\" is not a whole number in 1..1024%s", val, "");
            o.pipeline = (int)v;
        } else if (!strcmp(name, "protocol")) {
            if (strcmp(val, "osmand") && strcmp(val, "jt808"))
                return bad("--protocol \"%s\" is not supported (osmand, jt808)%s", val, "");
            o.proto = val;
        } else if (!strcmp(name, "log-level")) {
            enum core_log_level lv;
            if (core_log_parse_level(val, &lv))
                return bad("--log-level \"%s\" is not debug, info, warn or error%s", val, "");
            core_log_set_level(lv);
        }
    }
    if (mode == M_SCENARIO && !o.seals)
        o.seals = 6;
    if (mode == M_LOAD) {
        if (!o.seals)
            return bad("load needs --seals N%s%s", "", "");
        if (!(o.rate > 0))
            return bad("load needs --rate PINGS_PER_S%s%s", "", "");
        if (!(o.duration_s > 0))
            return bad("load needs --duration SECONDS%s%s", "", "");
        if (o.connections > o.seals)
            o.connections = o.seals; /* a seal's pings stay on one connection, in order */
    }
    evthread_use_pthreads();
    switch (mode) {
    case M_DEMO:
        return sim_demo_data(&o);
    case M_SCENARIO:
        return sim_scenario(&o);
    case M_TRIPS:
        return sim_trips(&o);
    case M_ELOCKS:
        if (o.seals > 50)
            return bad("elocks takes --seals 1..50%s%s", "", "");
        if (o.interval_s < 10 && !interval_given)
            o.interval_s = 10;
        return sim_elocks(&o);
    default:
        return sim_load(&o);
    }
}
