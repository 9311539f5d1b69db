/*
 * test_vessels.c: AIS feeds, vessel storage, the watchlist and the vessel rules against a
 * real PostGIS and the real corridord:
 *   - real NMEA (encoded with ingest_ais_encode) over TCP and UDP to the server's AIS port:
 *     latest state per MMSI, static data merged, history for watched vessels only, bad
 *     input counted in /metrics while decoding carries on with the next good sentence;
 *   - a feed: the test listens, corridord dials it with --ais-feed, is served NMEA, is
 *     closed on and dials again;
 *   - the watchlist API and its precise errors;
 *   - each rule (zone entry, AIS gap, rendezvous, destination mismatch) with exact
 *     expectations, calling corridor.ingest_vessels and corridor.vessel_sweep with chosen
 *     times (no server: its own sweeper would judge by the wall clock);
 *   - the handler itself (ais_conn.c included, on a loop of the test's own with a minimal
 *     worker): per-feed counters as /metrics and /api/feeds text, the feed's backoff
 *     (1 s after a working connection, then 2 s), and rows counted and dropped while the
 *     database is unreachable.
 */
#include "../../ingest/ais_conn.c"
#include "harness.h"

#include <event2/thread.h>
#include <pthread.h>

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static harness_server srv;
static PGconn *db;

/* ---- helpers ---- */

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Polls sql until it returns want (10 s); returns the last value. */
static long wait_long(const char *sql, long want)
{
    long v = -1;
    for (int i = 0; i < 100; i++) {
        v = harness_query_long(db, sql);
        if (v == want)
            break;
        sleep_ms(100);
    }
    return v;
}

static char *query_text(const char *sql, char *out, size_t n)
{
    PGresult *r = PQexec(db, sql);
    ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", sql, PQresultErrorMessage(r));
    snprintf(out, n, "%s", PQntuples(r) ? PQgetvalue(r, 0, 0) : "");
    PQclear(r);
    return out;
}

/* Runs sql, which must fail with SQLSTATE state and a message starting with prefix. */
static void expect_error(const char *sql, const char *state, const char *prefix)
{
    PGresult *r = PQexec(db, sql);
    ck_assert_msg(PQresultStatus(r) == PGRES_FATAL_ERROR, "%s succeeded", sql);
    const char *st = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
    ck_assert_msg(st && strcmp(st, state) == 0, "%s: state %s, want %s", sql, st, state);
    ck_assert_msg(msg && strncmp(msg, prefix, strlen(prefix)) == 0, "%s: message %s", sql, msg);
    PQclear(r);
}

static void nmea_pos(int type, int mmsi, double lat, double lon, double sog_kn, double cog,
                     char *out, size_t n)
{
    ingest_ais_msg m;
    memset(&m, 0, sizeof m);
    m.type = type;
    m.mmsi = mmsi;
    m.lat = (int32_t)(lat * 600000.0 + (lat < 0 ? -0.5 : 0.5));
    m.lon = (int32_t)(lon * 600000.0 + (lon < 0 ? -0.5 : 0.5));
    m.speed = (int32_t)(sog_kn * 10 + 0.5);
    m.course = (int32_t)(cog * 10 + 0.5);
    m.heading = (int32_t)cog;
    m.turn = -128;
    m.second = 30;
    m.status = 0;
    ck_assert_int_gt(ingest_ais_encode(&m, "AIVDM", 'A', 0, out, n), 0);
}

static void nmea_static(int mmsi, int imo, const char *name, const char *callsign, const char *dest,
                        int seq, char *out, size_t n)
{
    ingest_ais_msg m;
    memset(&m, 0, sizeof m);
    m.type = 5;
    m.mmsi = mmsi;
    m.imo = imo;
    m.shiptype = 70;
    m.month = 12;
    m.day = 1;
    m.hour = 10;
    m.minute = 30;
    m.draught = 95;
    m.epfd = 1;
    snprintf(m.shipname, sizeof m.shipname, "%s", name);
    snprintf(m.callsign, sizeof m.callsign, "%s", callsign);
    snprintf(m.destination, sizeof m.destination, "%s", dest);
    ck_assert_int_gt(ingest_ais_encode(&m, "AIVDM", 'B', seq, out, n), 0);
}

static int tcp_connect(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

static void send_all(int fd, const char *s, size_t len)
{
    while (len > 0) {
        ssize_t w = send(fd, s, len, MSG_NOSIGNAL);
        ck_assert_int_gt(w, 0);
        s += w;
        len -= (size_t)w;
    }
}

static void udp_send(int port, const char *s)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(sendto(fd, s, strlen(s), 0, (struct sockaddr *)&a, sizeof a),
                     (ssize_t)strlen(s));
    close(fd);
}

/* A counter from /metrics: the value on the line starting with prefix, -1 if missing. */
static long metric(const char *prefix)
{
    static char body[256 * 1024];
    int st = harness_http(srv.http_port, "GET", "/metrics", NULL, NULL, body, sizeof body);
    ck_assert_int_eq(st, 200);
    for (const char *p = body; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (strncmp(p, prefix, strlen(prefix)) == 0 && p[strlen(prefix)] == ' ')
            return atol(p + strlen(prefix) + 1);
    return -1;
}

/* ---- end to end over the AIS port ---- */

static void server_setup(void)
{
    const char *conninfo = harness_db_create("vessels_e2e");
    harness_server_start(&srv, conninfo, "--workers", "1", NULL);
    db = harness_connect(conninfo);
}

static void server_teardown(void)
{
    PQfinish(db);
    harness_server_stop(&srv, 0);
}

START_TEST(tcp_and_udp_store_latest_state_and_history_of_watched_only)
{
    char s[1024], buf[8192], t[256];
    harness_query_long(db, "SELECT (corridor.watchlist_add('{\"mmsi\": 636012345, "
                           "\"declaration\": \"KE-2026-001\", \"reason\": \"risk profile\", "
                           "\"port\": \"Mombasa\"}')->>'id')::bigint");

    int fd = tcp_connect(srv.ais_port);
    buf[0] = 0;
    nmea_pos(1, 636012345, -4.5, 40.2, 12.3, 271.5, s, sizeof s);
    strcat(buf, s);
    nmea_pos(3, 244123456, -3.9, 39.9, 0.5, 10.0, s, sizeof s);
    strcat(buf, s);
    nmea_static(636012345, 9321483, "EVER GIVEN", "H3RC", "MOMBASA", 1, s, sizeof s);
    strcat(buf, s);
    send_all(fd, buf, strlen(buf));
    ck_assert_int_eq(wait_long("SELECT count(*) FROM corridor.vessels", 2), 2);
    ck_assert_int_eq(wait_long("SELECT count(*) FROM corridor.vessels WHERE name IS NOT NULL", 1),
                     1);

    /* bad input, each dropped and counted; the good sentence after them is decoded */
    char bad[1024];
    nmea_pos(1, 636012345, -4.6, 40.3, 11.0, 270.0, s, sizeof s);
    snprintf(bad, sizeof bad, "%s", s);
    char *star = strrchr(bad, '*');
    star[1] = star[1] == '0' ? '1' : '0'; /* wrong checksum */
    send_all(fd, bad, strlen(bad));
    send_all(fd, "hello, this is not NMEA\r\n", 25);
    memset(buf, 'A', 700);
    buf[0] = '!';
    memcpy(buf + 700, "\r\n", 3);
    send_all(fd, buf, 702); /* overlong line */
    nmea_pos(1, 636012345, -4.7, 40.4, 10.0, 269.0, s, sizeof s);
    send_all(fd, s, strlen(s));
    ck_assert_int_eq(
        wait_long("SELECT count(*) FROM corridor.vessels WHERE mmsi = 636012345 AND lat < -4.69",
                  1),
        1);
    close(fd);

    /* the same over UDP: two lines in one datagram, one of them a class B report */
    nmea_pos(18, 338123456, -4.1, 39.8, 3.0, 45.0, s, sizeof s);
    snprintf(buf, sizeof buf, "%s", s);
    nmea_pos(1, 636012345, -4.8, 40.5, 9.0, 268.0, s, sizeof s);
    strcat(buf, s);
    udp_send(srv.ais_port, buf);
    ck_assert_int_eq(wait_long("SELECT count(*) FROM corridor.vessels", 3), 3);
    ck_assert_int_eq(
        wait_long("SELECT count(*) FROM corridor.vessels WHERE mmsi = 636012345 AND lat < -4.79",
                  1),
        1);

    /* latest state, exact */
    query_text("SELECT format('%s|%s|%s|%s|%s|%s|%s|%s|%s', round(lat::numeric, 5), "
               "round(lon::numeric, 5), sog_kn, cog, heading, name, callsign, imo, destination) "
               "FROM corridor.vessels WHERE mmsi = 636012345",
               t, sizeof t);
    ck_assert_str_eq(t, "-4.80000|40.50000|9|268|268|EVER GIVEN|H3RC|9321483|MOMBASA");
    query_text("SELECT format('%s|%s|%s|%s', round(lat::numeric, 5), round(lon::numeric, 5), "
               "sog_kn, cog) FROM corridor.vessels WHERE mmsi = 338123456",
               t, sizeof t);
    ck_assert_str_eq(t, "-4.10000|39.80000|3|45");
    query_text("SELECT to_char(eta AT TIME ZONE 'UTC', 'MM-DD HH24:MI') || '|' || draught_m || "
               "'|' || ship_type FROM corridor.vessels WHERE mmsi = 636012345",
               t, sizeof t);
    ck_assert_str_eq(t, "12-01 10:30|9.5|70");

    /* history: the watched vessel's three positions, nothing of the others */
    ck_assert_int_eq(
        harness_query_long(db,
                           "SELECT count(*) FROM corridor.vessel_positions WHERE mmsi = 636012345"),
        3);
    ck_assert_int_eq(
        harness_query_long(
            db, "SELECT count(*) FROM corridor.vessel_positions WHERE mmsi <> 636012345"),
        0);

    /* the bad lines were counted (checksum, garbage, overlong) */
    ck_assert_int_eq(metric("corridor_bad_input_total{protocol=\"ais\"}"), 3);
    ck_assert_int_ge(metric("corridor_observations_total{protocol=\"ais\"}"), 6);

    /* the list: watched first; a bounding box; heard since */
    query_text("SELECT string_agg(x->>'mmsi' || ':' || (x->>'watched'), ',') FROM "
               "json_array_elements(corridor.vessel_list()) x",
               t, sizeof t);
    ck_assert_str_eq(t, "636012345:true,244123456:false,338123456:false");
    query_text("SELECT string_agg(x->>'mmsi', ',') FROM "
               "json_array_elements(corridor.vessel_list('{39.7,-4.2,39.95,-3.8}')) x",
               t, sizeof t);
    ck_assert_str_eq(t, "244123456,338123456");
    ck_assert_int_eq(harness_query_long(db, "SELECT json_array_length(corridor.vessel_list(NULL, "
                                            "now() + interval '1 minute'))"),
                     0);
    query_text("SELECT json_build_array(x->'track'->'type', json_array_length(x->'track'->"
               "'coordinates'), json_array_length(x->'watch'))::text FROM "
               "corridor.vessel_get(636012345) x",
               t, sizeof t);
    ck_assert_str_eq(t, "[\"LineString\", 3, 1]");

    /* stop watching: no more history */
    harness_exec(db, "SELECT corridor.watchlist_remove(id, 'officer 7') FROM corridor.watchlist");
    fd = tcp_connect(srv.ais_port);
    nmea_pos(1, 636012345, -4.9, 40.6, 9.0, 268.0, s, sizeof s);
    send_all(fd, s, strlen(s));
    close(fd);
    ck_assert_int_eq(
        wait_long("SELECT count(*) FROM corridor.vessels WHERE mmsi = 636012345 AND lat < -4.89",
                  1),
        1);
    ck_assert_int_eq(harness_query_long(db, "SELECT count(*) FROM corridor.vessel_positions"), 3);
}
END_TEST

START_TEST(vessel_storage_reconnects_after_losing_its_connection)
{
    char s[512];
    const char *backend = "SELECT coalesce(max(pid), 0) FROM pg_stat_activity WHERE "
                          "application_name = 'corridord-ais' AND datname = current_database()";
    long pid = harness_query_long(db, backend);
    ck_assert_int_gt(pid, 0);
    char arg[24];
    snprintf(arg, sizeof arg, "%ld", pid);
    const char *vals[1] = {arg};
    ck_assert_int_eq(
        harness_query_long_params(db, "SELECT pg_terminate_backend($1::int)::int", 1, vals), 1);
    /* a new connection within the first backoff step (1 s) */
    long now = 0;
    for (int i = 0; i < 50 && (now == 0 || now == pid); i++) {
        sleep_ms(100);
        now = harness_query_long(db, backend);
    }
    ck_assert_msg(now != 0 && now != pid, "no new vessel storage connection");
    int fd = tcp_connect(srv.ais_port);
    nmea_pos(1, 257000001, 59.0, 10.5, 4.0, 90.0, s, sizeof s);
    send_all(fd, s, strlen(s));
    close(fd);
    ck_assert_int_eq(wait_long("SELECT count(*) FROM corridor.vessels WHERE mmsi = 257000001", 1),
                     1);
}
END_TEST

/* ---- a feed the server dials ---- */

static int listen_on(int *port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    socklen_t al = sizeof a;
    int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(listen(fd, 4), 0);
    getsockname(fd, (struct sockaddr *)&a, &al);
    *port = ntohs(a.sin_port);
    return fd;
}

static int accept_within(int lfd, int ms)
{
    struct pollfd p = {.fd = lfd, .events = POLLIN};
    if (poll(&p, 1, ms) != 1)
        return -1;
    return accept(lfd, NULL, NULL);
}

START_TEST(feed_is_dialled_served_and_redialled)
{
    char s[512], feed[64];
    int port, lfd = listen_on(&port);
    snprintf(feed, sizeof feed, "127.0.0.1:%d", port);
    const char *conninfo = harness_db_create("vessels_feed");
    harness_server_start(&srv, conninfo, "--workers", "2", "--ais-feed", feed, NULL);
    db = harness_connect(conninfo);

    int fd = accept_within(lfd, 5000);
    ck_assert_msg(fd >= 0, "corridord did not dial the feed");
    nmea_pos(1, 477000001, -3.0, 41.0, 8.0, 200.0, s, sizeof s);
    send_all(fd, s, strlen(s));
    ck_assert_int_eq(wait_long("SELECT count(*) FROM corridor.vessels WHERE mmsi = 477000001", 1),
                     1);
    close(fd); /* the feed goes away: corridord dials again after 1 s */

    time_t t0 = time(NULL);
    fd = accept_within(lfd, 5000);
    ck_assert_msg(fd >= 0, "corridord did not re-dial the feed");
    ck_assert_int_le(time(NULL) - t0, 3);
    nmea_pos(1, 477000002, -3.1, 41.1, 8.0, 200.0, s, sizeof s);
    send_all(fd, s, strlen(s));
    ck_assert_int_eq(wait_long("SELECT count(*) FROM corridor.vessels WHERE mmsi = 477000002", 1),
                     1);
    close(fd);
    close(lfd);
    PQfinish(db);
    harness_server_stop(&srv, 0);
}
END_TEST

/* ---- rules and API, straight in SQL with chosen times ---- */

static void sql_setup(void)
{
    const char *conninfo = harness_db_create("vessels_rules");
    char cmd[1024];
    const char *build = getenv("CORRIDOR_BUILD");
    ck_assert(build != NULL);
    snprintf(cmd, sizeof cmd, "%s/corridord migrate --db '%s' >/dev/null 2>&1", build, conninfo);
    ck_assert_int_eq(system(cmd), 0);
    db = harness_connect(conninfo);
    harness_exec(db, "SET client_min_messages = warning");
    /* a port and an anchorage off Mombasa, a restricted box further out */
    harness_exec(
        db,
        "INSERT INTO corridor.geofences(id, name, kind, geom) VALUES "
        "(101, 'Mombasa port', 'port', ST_Multi(ST_MakeEnvelope(39.60,-4.10,39.70,-4.00,4326))),"
        "(102, 'Mombasa anchorage', 'anchorage', "
        "ST_Multi(ST_MakeEnvelope(39.75,-4.15,39.85,-4.05,4326))),"
        "(103, 'Firing range', 'restricted', "
        "ST_Multi(ST_MakeEnvelope(40.00,-4.50,40.10,-4.40,4326)))");
}

static void sql_teardown(void)
{
    PQfinish(db);
}

/* One position report into corridor.ingest_vessels at T0 + minutes; returns the number of
 * incident rows it returned. */
static long pos(long mmsi, double minutes, double lat, double lon, double sog)
{
    char sql[1024];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FILTER (WHERE kind = 'incident') FROM corridor.ingest_vessels("
             "ARRAY[%ld]::bigint[], ARRAY[1900000000 + %f]::float8[], '{1}', ARRAY[%f]::float8[], "
             "ARRAY[%f]::float8[], ARRAY[%f]::real[], '{90}', '{90}', '{0}', '{NULL}', '{NULL}', "
             "'{NULL}', '{NULL}', '{NULL}', '{NULL}', '{NULL}')",
             mmsi, minutes * 60, lat, lon, sog);
    return harness_query_long(db, sql);
}

static long dest(long mmsi, double minutes, int imo, const char *d)
{
    char sql[1024];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FILTER (WHERE kind = 'incident') FROM corridor.ingest_vessels("
             "ARRAY[%ld]::bigint[], ARRAY[1900000000 + %f]::float8[], '{5}', '{NULL}', '{NULL}', "
             "'{NULL}', '{NULL}', '{NULL}', '{NULL}', '{\"SHIP\"}', '{\"CALL\"}', ARRAY[%d], "
             "'{70}', ARRAY['%s'], '{\"12-01T10:00Z\"}', '{9.5}')",
             mmsi, minutes * 60, imo, d);
    return harness_query_long(db, sql);
}

static long sweep(double minutes)
{
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM corridor.vessel_sweep(to_timestamp(1900000000 + %f))",
             minutes * 60);
    return harness_query_long(db, sql);
}

static void watch(const char *json)
{
    const char *vals[1] = {json};
    ck_assert_int_gt(harness_query_long_params(
                         db, "SELECT (corridor.watchlist_add($1::jsonb)->>'id')::bigint", 1, vals),
                     0);
}

static long events(const char *kind, long mmsi)
{
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM corridor.events WHERE kind = '%s' AND mmsi = %ld", kind, mmsi);
    return harness_query_long(db, sql);
}

START_TEST(watchlist_api_and_errors)
{
    char t[512];
    query_text(
        "SELECT corridor.watchlist_add('{\"imo\": 9321483, \"declaration\": \"D-1\", "
        "\"reason\": \"tip-off\", \"port_fence_id\": 101, \"actor\": \"officer 3\"}')::jsonb "
        "- 'id' - 'started_at'",
        t, sizeof t);
    ck_assert_str_eq(t,
                     "{\"imo\": 9321483, \"mmsi\": null, \"port\": null, \"actor\": \"officer 3\", "
                     "\"active\": true, \"reason\": \"tip-off\", \"stopped_at\": null, "
                     "\"stopped_by\": null, \"declaration\": \"D-1\", \"port_fence_id\": 101}");
    expect_error("SELECT corridor.watchlist_add('{\"declaration\": \"D\", \"reason\": \"r\"}')",
                 "CT422", "mmsi_or_imo_required: ");
    expect_error("SELECT corridor.watchlist_add('{\"mmsi\": 1234567890, \"declaration\": \"D\", "
                 "\"reason\": \"r\"}')",
                 "CT422", "invalid_mmsi: ");
    expect_error("SELECT corridor.watchlist_add('{\"mmsi\": \"636012345\", \"declaration\": \"D\", "
                 "\"reason\": \"r\"}')",
                 "CT422", "invalid_mmsi: ");
    expect_error("SELECT corridor.watchlist_add('{\"imo\": 9321484, \"declaration\": \"D\", "
                 "\"reason\": \"r\"}')",
                 "CT422", "invalid_imo: ");
    expect_error("SELECT corridor.watchlist_add('{\"mmsi\": 636012345, \"reason\": \"r\"}')",
                 "CT422", "declaration_required: ");
    expect_error("SELECT corridor.watchlist_add('{\"mmsi\": 636012345, \"declaration\": \"D\", "
                 "\"reason\": \"  \"}')",
                 "CT422", "reason_required: ");
    expect_error("SELECT corridor.watchlist_add('{\"mmsi\": 636012345, \"declaration\": \"D\", "
                 "\"reason\": \"r\", \"port_fence_id\": 103}')",
                 "CT422", "unknown_port_fence: ");
    expect_error("SELECT corridor.watchlist_add('[1]')", "CT422", "invalid_body: ");
    expect_error("SELECT corridor.watchlist_add('{\"imo\": 9321483, \"declaration\": \"D-1\", "
                 "\"reason\": \"again\"}')",
                 "CT409", "already_watched: ");
    /* the newest watch, named by a subquery rather than a number printed into the SQL */
    char out[64];
    ck_assert_str_eq(query_text("SELECT corridor.watchlist_remove((SELECT max(id) FROM "
                                "corridor.watchlist), 'officer 4')->>'stopped_by'",
                                out, sizeof out),
                     "officer 4");
    expect_error("SELECT corridor.watchlist_remove((SELECT max(id) FROM corridor.watchlist))",
                 "CT409", "watch_stopped: ");
    expect_error("SELECT corridor.watchlist_remove(999)", "CT404", "watch_not_found: ");
    ck_assert_str_eq(query_text("SELECT corridor.watchlist_list()::text", out, sizeof out), "[]");
    expect_error("SELECT corridor.vessel_list('{1,2,3}')", "CT422", "invalid_bbox: ");
    expect_error("SELECT corridor.vessel_get(1)", "CT404", "vessel_not_found: ");
}
END_TEST

START_TEST(zone_entry_for_watched_vessels_then_for_all)
{
    watch("{\"mmsi\": 111000001, \"declaration\": \"D\", \"reason\": \"r\"}");
    ck_assert_int_eq(pos(111000001, 0, -4.60, 40.05, 10), 0);  /* outside */
    ck_assert_int_eq(pos(111000001, 5, -4.45, 40.05, 10), 1);  /* into the firing range */
    ck_assert_int_eq(pos(111000001, 6, -4.44, 40.05, 10), 0);  /* still inside */
    ck_assert_int_eq(pos(111000001, 10, -4.30, 40.05, 10), 0); /* out */
    ck_assert_int_eq(events("vessel_zone_entry", 111000001), 1);
    ck_assert_int_eq(events("vessel_zone_exit", 111000001), 1);
    char t[512];
    query_text("SELECT format('%s|%s|%s|%s|%s', rule, severity, subject, fence_id, event_count) "
               "FROM corridor.incidents WHERE mmsi = 111000001",
               t, sizeof t);
    ck_assert_str_eq(t, "vessel_zone_entry|medium|mmsi:111000001|103|1");
    query_text("SELECT details->>'fence' || '|' || (details->>'fence_kind') FROM corridor.events "
               "WHERE kind = 'vessel_zone_entry'",
               t, sizeof t);
    ck_assert_str_eq(t, "Firing range|restricted");
    /* into the port: a second entry on the same open incident */
    ck_assert_int_eq(pos(111000001, 60, -4.05, 39.65, 5), 1);
    ck_assert_int_eq(harness_query_long(db, "SELECT event_count FROM corridor.incidents "
                                            "WHERE mmsi = 111000001"),
                     2);
    /* an unwatched vessel is not evaluated ... */
    ck_assert_int_eq(pos(222000002, 0, -4.45, 40.05, 10), 0);
    ck_assert_int_eq(events("vessel_zone_entry", 222000002), 0);
    /* ... unless the scope is every vessel */
    harness_exec(db, "UPDATE corridor.vessel_settings SET zone_scope = 'all'");
    ck_assert_int_eq(pos(222000002, 1, -4.08, 39.80, 1), 1); /* anchorage */
    ck_assert_int_eq(events("vessel_zone_entry", 222000002), 1);
    /* a late report (older than the latest) is stored but never makes a transition */
    ck_assert_int_eq(pos(222000002, 0.5, -4.45, 40.05, 10), 0);
    ck_assert_int_eq(events("vessel_zone_entry", 222000002), 1);
}
END_TEST

START_TEST(ais_gap_once_per_silence)
{
    watch("{\"mmsi\": 333000003, \"declaration\": \"D\", \"reason\": \"r\"}");
    pos(333000003, 0, -4.9, 41.0, 12);
    pos(444000004, 0, -4.9, 41.5, 12); /* not watched: never a gap */
    ck_assert_int_eq(sweep(29), 0);
    ck_assert_int_eq(sweep(31), 1);
    ck_assert_int_eq(sweep(45), 0); /* once per silence */
    char t[256];
    query_text(
        "SELECT format('%s|%s|%s', details->>'silent_minutes', details->>'threshold_minutes', "
        "to_char(ts AT TIME ZONE 'UTC', 'HH24:MI')) FROM corridor.events "
        "WHERE kind = 'ais_gap'",
        t, sizeof t);
    ck_assert_str_eq(t, "31|30|18:17");
}
END_TEST

START_TEST(rendezvous_of_slow_pair_offshore)
{
    watch("{\"mmsi\": 555000005, \"declaration\": \"D\", \"reason\": \"r\"}");
    /* 555000005 (watched) and 666000006 334 m apart (338 m at the end), 1 knot, offshore */
    for (int m = 0; m <= 28; m += 7) {
        ck_assert_int_eq(pos(555000005, m, -5.000, 41.000, 1), 0);
        ck_assert_int_eq(pos(666000006, m + 0.5, -5.003, 41.000, 0.8), 0);
    }
    ck_assert_int_eq(pos(555000005, 31, -5.000, 41.0005, 1), 1);
    ck_assert_int_eq(events("rendezvous", 555000005), 1);
    ck_assert_int_eq(events("rendezvous", 666000006), 0); /* not watched: no incident of its own */
    char t[256];
    query_text("SELECT format('%s|%s|%s', details->>'other_mmsi', details->>'minutes', "
               "details->>'distance_m') FROM corridor.events WHERE kind = 'rendezvous'",
               t, sizeof t);
    ck_assert_str_eq(t, "666000006|31|338");
    ck_assert_int_eq(pos(555000005, 40, -5.000, 41.0005, 1), 0); /* raised once */

    /* not a rendezvous: too fast, too far, inside the anchorage, neither watched */
    watch("{\"mmsi\": 777000007, \"declaration\": \"D\", \"reason\": \"r\"}");
    for (int m = 0; m <= 35; m += 5) {
        pos(777000007, m, -6.000, 41.000, 3); /* 3 knots */
        pos(777000008, m, -6.001, 41.000, 1);
        pos(777000007, m + 0.1, -6.000, 41.000, 3);
    }
    ck_assert_int_eq(events("rendezvous", 777000007), 0);
    watch("{\"mmsi\": 888000008, \"declaration\": \"D\", \"reason\": \"r\"}");
    for (int m = 0; m <= 35; m += 5) {
        pos(888000008, m, -7.000, 41.000, 1);
        pos(888000009, m, -7.006, 41.000, 1); /* 663 m */
        pos(888000010, m, -4.10, 39.80, 0.1);
        pos(888000011, m, -4.101, 39.80, 0.1);
    }
    ck_assert_int_eq(events("rendezvous", 888000008), 0);
    ck_assert_int_eq(harness_query_long(db, "SELECT count(*) FROM corridor.events "
                                            "WHERE kind = 'rendezvous'"),
                     1);
}
END_TEST

START_TEST(destination_differs_from_declared_port)
{
    watch("{\"mmsi\": 999000001, \"declaration\": \"D-9\", \"reason\": \"r\", \"port\": "
          "\"Mombasa\"}");
    watch("{\"imo\": 9074729, \"declaration\": \"D-10\", \"reason\": \"r\", \"port\": \"KEMBA\"}");
    ck_assert_int_eq(dest(999000001, 0, 0, "DAR ES SALAAM"), 1);
    ck_assert_int_eq(dest(999000001, 6, 0, "DAR ES SALAAM"), 0); /* same: compared once */
    ck_assert_int_eq(dest(999000001, 12, 0, "MOMBASA KENYA"), 0);
    ck_assert_int_eq(dest(999000002, 0, 9074729, "SGSIN>KE MBA"), 0); /* watched by IMO */
    ck_assert_int_eq(dest(999000002, 6, 9074729, "TZDAR"), 1);
    char t[256];
    query_text("SELECT string_agg(details->>'ais_destination', ',' ORDER BY id) FROM "
               "corridor.events WHERE kind = 'destination_mismatch'",
               t, sizeof t);
    ck_assert_str_eq(t, "DAR ES SALAAM,TZDAR");
    /* an entry added after the vessel's last message is compared by the sweep */
    dest(999000003, 0, 0, "JEDDAH");
    ck_assert_int_eq(sweep(1), 0);
    watch("{\"mmsi\": 999000003, \"declaration\": \"D-11\", \"reason\": \"r\", \"port_fence_id\": "
          "101}");
    ck_assert_int_eq(sweep(2), 1);
    ck_assert_int_eq(events("destination_mismatch", 999000003), 1);
}
END_TEST

/* ---- the handler in-process, with the worker it needs ---- */

struct ingest_worker {
    struct event_base *base;
    core_config cfg;
    ingest_counters c;
};

struct event_base *ingest_worker_base(ingest_worker *w)
{
    return w->base;
}
PGconn *ingest_worker_ctl(ingest_worker *w)
{
    return NULL;
}
int ingest_worker_id(ingest_worker *w)
{
    return 0;
}
const core_config *ingest_worker_cfg(ingest_worker *w)
{
    return &w->cfg;
}
ingest_counters *ingest_worker_counters(ingest_worker *w)
{
    return &w->c;
}

static void *loop_main(void *arg)
{
    event_base_loop(arg, EVLOOP_NO_EXIT_ON_EMPTY);
    return NULL;
}

static int bound_socket(int type, int *port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)*port)};
    socklen_t al = sizeof a;
    int one = 1, fd = socket(AF_INET, type, 0);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    if (type == SOCK_STREAM)
        ck_assert_int_eq(listen(fd, 16), 0);
    getsockname(fd, (struct sockaddr *)&a, &al);
    *port = ntohs(a.sin_port);
    return fd;
}

/* Waits (5 s) until the feeds JSON contains want; returns the JSON. */
static const char *feeds_until(void *state, const char *want)
{
    static char buf[8192];
    for (int i = 0; i < 50; i++) {
        ingest_ais_feeds_json(state, buf, sizeof buf);
        if (strstr(buf, want))
            break;
        sleep_ms(100);
    }
    return buf;
}

START_TEST(handler_counts_per_feed_backs_off_and_drops_without_database)
{
    static struct ingest_worker w;
    char ais[64], feed[64], err[256], s[512], buf[16384];
    void *state = NULL;
    pthread_t th;
    int lport = 0, fport = 0;

    evthread_use_pthreads();
    w.base = event_base_new();
    core_config_defaults(&w.cfg);
    w.cfg.db = "host=127.0.0.1 port=1 connect_timeout=2"; /* refused: storage is down */
    int tcp_fd = bound_socket(SOCK_STREAM, &lport);
    int udp_fd = bound_socket(SOCK_DGRAM, &lport);
    snprintf(ais, sizeof ais, "127.0.0.1:%d", lport);
    w.cfg.ais = ais;
    int feed_fd = bound_socket(SOCK_STREAM, &fport);
    snprintf(feed, sizeof feed, "127.0.0.1:%d", fport);
    w.cfg.ais_feeds[0] = feed;
    w.cfg.n_ais_feeds = 1;
    w.cfg.events_url = "inproc://test-vessels-handler";
    ck_assert_int_eq(ingest_ais_start(&w, tcp_fd, udp_fd, &state, err, sizeof err), 0);
    ck_assert_int_eq(pthread_create(&th, NULL, loop_main, w.base), 0);

    /* the feed: two good sentences, a bad checksum, garbage */
    int fd = accept_within(feed_fd, 3000);
    ck_assert_int_ge(fd, 0);
    nmea_pos(1, 636000001, -4.5, 40.2, 12.0, 90.0, s, sizeof s);
    snprintf(buf, sizeof buf, "%s", s);
    nmea_pos(18, 636000002, -4.6, 40.3, 1.0, 90.0, s, sizeof s);
    strcat(buf, s);
    *strrchr(s, '*') = 0;
    strcat(buf, s);
    strcat(buf, "*00\r\nnot a sentence\r\n");
    send_all(fd, buf, strlen(buf));
    const char *j = feeds_until(state, "\"bad_total\":2}]");
    char want[512];
    snprintf(
        want, sizeof want,
        "{\"name\":\"%s\",\"kind\":\"client\",\"connected\":1,\"connects\":1,\"lines\":4,"
        "\"sentences\":2,\"messages\":2,\"ignored\":0,\"unsupported\":0,\"last_message_at\":\"",
        feed);
    ck_assert_msg(strstr(j, want), "%s", j);
    ck_assert_msg(strstr(j, "\"bad\":{\"checksum\":1,\"orphan\":0,\"fill\":0,\"truncated\":0,"
                            "\"length\":0,\"garbage\":1,\"overlong\":0},\"bad_total\":2}]"),
                  "%s", j);
    ck_assert_int_eq(atomic_load(&w.c.bad_ais), 2);

    /* the listener and UDP are counted on their own */
    int c = tcp_connect(lport);
    nmea_pos(1, 636000003, -4.7, 40.4, 5.0, 90.0, s, sizeof s);
    send_all(c, s, strlen(s));
    snprintf(buf, sizeof buf, "%s%s", s, s);
    udp_send(lport, buf);
    snprintf(want, sizeof want,
             "{\"name\":\"udp %s\",\"kind\":\"listen_udp\",\"connected\":0,"
             "\"connects\":0,\"lines\":2,\"sentences\":2,\"messages\":2,",
             ais);
    j = feeds_until(state, want);
    ck_assert_msg(strstr(j, want), "%s", j);
    snprintf(want, sizeof want,
             "{\"name\":\"tcp %s\",\"kind\":\"listen_tcp\",\"connected\":1,"
             "\"connects\":1,\"lines\":1,\"sentences\":1,\"messages\":1,",
             ais);
    ck_assert_msg(strstr(j, want), "%s", j);
    close(c);

    /* storage is down: the 5 vessel messages are counted and dropped */
    for (int i = 0; i < 30 && atomic_load(&((ais_state *)state)->dropped_db) < 5; i++)
        sleep_ms(100);
    ingest_ais_metrics(state, buf, sizeof buf);
    ck_assert_msg(strstr(buf, "corridor_vessel_rows_total{outcome=\"queued\"} 5\n"), "%s", buf);
    ck_assert_msg(strstr(buf, "corridor_vessel_rows_total{outcome=\"dropped_db_down\"} 5\n"), "%s",
                  buf);
    ck_assert_msg(strstr(buf, "corridor_vessel_db_up 0\n"), "%s", buf);
    snprintf(want, sizeof want, "corridor_ais_bad_total{feed=\"%s\",reason=\"checksum\"} 1\n",
             feed);
    ck_assert_msg(strstr(buf, want), "%s", buf);
    snprintf(want, sizeof want, "corridor_ais_sentences_total{feed=\"udp %s\"} 2\n", ais);
    ck_assert_msg(strstr(buf, want), "%s", buf);

    /* the feed closes after good data: re-dialled after 1 s; closes again without any: 2 s */
    close(fd);
    int64_t t0 = core_mono_us();
    fd = accept_within(feed_fd, 3000);
    ck_assert_int_ge(fd, 0);
    int64_t t1 = core_mono_us();
    close(fd);
    fd = accept_within(feed_fd, 4000);
    ck_assert_int_ge(fd, 0);
    int64_t t2 = core_mono_us();
    ck_assert_msg(t1 - t0 >= 900000 && t1 - t0 < 1800000, "first wait %lld us",
                  (long long)(t1 - t0));
    ck_assert_msg(t2 - t1 >= 1900000 && t2 - t1 < 2800000, "second wait %lld us",
                  (long long)(t2 - t1));
    j = feeds_until(state, "\"connects\":3,");
    ck_assert_msg(strstr(j, "\"kind\":\"client\",\"connected\":1,\"connects\":3,"), "%s", j);
    close(fd);

    event_base_loopbreak(w.base);
    pthread_join(th, NULL);
    ingest_ais_stop(state);
    close(feed_fd);
    event_base_free(w.base);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("vessels");
    TCase *e2e = tcase_create("server");
    tcase_add_checked_fixture(e2e, server_setup, server_teardown);
    tcase_set_timeout(e2e, 120);
    tcase_add_test(e2e, tcp_and_udp_store_latest_state_and_history_of_watched_only);
    tcase_add_test(e2e, vessel_storage_reconnects_after_losing_its_connection);
    suite_add_tcase(s, e2e);
    TCase *feed = tcase_create("feed");
    tcase_set_timeout(feed, 120);
    tcase_add_test(feed, feed_is_dialled_served_and_redialled);
    suite_add_tcase(s, feed);
    TCase *handler = tcase_create("handler");
    tcase_set_timeout(handler, 60);
    tcase_add_test(handler, handler_counts_per_feed_backs_off_and_drops_without_database);
    suite_add_tcase(s, handler);
    TCase *rules = tcase_create("rules");
    tcase_add_checked_fixture(rules, sql_setup, sql_teardown);
    tcase_set_timeout(rules, 120);
    tcase_add_test(rules, watchlist_api_and_errors);
    tcase_add_test(rules, zone_entry_for_watched_vessels_then_for_all);
    tcase_add_test(rules, ais_gap_once_per_silence);
    tcase_add_test(rules, rendezvous_of_slow_pair_offshore);
    tcase_add_test(rules, destination_differs_from_declared_port);
    suite_add_tcase(s, rules);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
