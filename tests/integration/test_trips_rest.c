/*
 * test_trips_rest.c: trips under customs control through REST against the real corridord
 * and PostGIS (web/rest_trips.c): routes, every class of arming refusal with its field,
 * the trip views, the disarm refusal (409, incident pushed to a websocket client) and the
 * disarm at the destination, the reconciliation report as JSON and CSV; and
 * `corridor-sim trips` against the server, checked with SQL: every trip rule fired and
 * the clean trip is disarmed.
 */
#include "harness.h"

#include <arpa/inet.h>
#include <check.h>
#include <json-c/json.h>
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
static char resp[1 << 20];
static long port_id, icd_id, cp_id, dest_id;
static char dbname[64];

static long q(const char *sql)
{
    return harness_query_long(db, sql);
}

/* One OsmAnd ping moving at 40 knots (see stop()). */
static int speed_kn = 40;
static int ping(const char *id, long t, double lat, double lon, const char *lock)
{
    char path[256], r[512];
    snprintf(path, sizeof path, "/?id=%s&lat=%.5f&lon=%.5f&timestamp=%ld&speed=%d%s%s", id, lat,
             lon, t, speed_kn, lock ? "&lock=" : "", lock ? lock : "");
    return harness_http(srv.osmand_port, "GET", path, NULL, NULL, r, sizeof r);
}

/* An admin API token when the server checks tokens (`corridord token create`), else "". */
static char token[128];

static void make_token(const char *conninfo)
{
    char cmd[1024], out[512] = "";
    token[0] = 0;
    snprintf(cmd, sizeof cmd,
             "%s/corridord token create --role admin --name test_trips_rest --db '%s' 2>/dev/null",
             getenv("CORRIDOR_BUILD"), conninfo);
    FILE *p = popen(cmd, "r");
    if (!p)
        return;
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = 0;
    int rc = pclose(p);
    const char *t = strstr(out, "cor_");
    if (rc != 0 || !t)
        return; /* a server without tokens: nothing to present */
    size_t len = strspn(t, "cor_0123456789abcdef");
    snprintf(token, sizeof token, "%.*s", (int)len, t);
}

/* One request on a new connection, with the token; the answer's body (or, with headers,
 * the whole answer) in resp. Returns the status, -1 when no answer came. */
static int http(const char *method, const char *path, const char *body, int headers)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)srv.http_port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert(fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0);
    size_t blen = body ? strlen(body) : 0;
    char head[1024];
    int n = snprintf(head, sizeof head,
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                     "Content-Length: %zu\r\n%s%s%s%s\r\n",
                     method, path, blen, body ? "Content-Type: application/json\r\n" : "",
                     token[0] ? "Authorization: Bearer " : "", token, token[0] ? "\r\n" : "");
    ck_assert_int_eq(write(fd, head, (size_t)n), n);
    if (blen)
        ck_assert_int_eq(write(fd, body, blen), (ssize_t)blen);
    size_t got = 0;
    ssize_t r;
    while ((r = read(fd, resp + got, sizeof resp - 1 - got)) > 0)
        got += (size_t)r;
    resp[got] = 0;
    close(fd);
    int status = -1;
    if (sscanf(resp, "HTTP/1.%*d %d", &status) != 1)
        return -1;
    const char *b = strstr(resp, "\r\n\r\n");
    if (!headers && b)
        memmove(resp, b + 4, strlen(b + 4) + 1);
    return status;
}

static int api(const char *method, const char *path, const char *body)
{
    return http(method, path, body, 0);
}

/* The response body parsed; the caller puts it. */
static json_object *js(void)
{
    json_object *o = json_tokener_parse(resp);
    ck_assert_msg(o != NULL, "not JSON: %s", resp);
    return o;
}

static const char *str(json_object *o, const char *path);
static double num(json_object *o, const char *path)
{
    const char *s = str(o, path);
    ck_assert_msg(s != NULL, "no %s", path);
    return atof(s);
}

static const char *str(json_object *o, const char *path)
{
    char key[64];
    const char *dot = strchr(path, '.');
    json_object *v;
    if (dot) {
        snprintf(key, sizeof key, "%.*s", (int)(dot - path), path);
        ck_assert_msg(json_object_object_get_ex(o, key, &v), "no %s in %s", key,
                      json_object_to_json_string(o));
        return str(v, dot + 1);
    }
    if (!json_object_object_get_ex(o, path, &v) || !v)
        return NULL;
    return json_object_get_string(v);
}

/* The status and error code (and field, NULL for none) of a refusal. */
static void refused(int status, int want_status, const char *code, const char *field)
{
    ck_assert_msg(status == want_status, "want %d %s, got %d %s", want_status, code, status, resp);
    json_object *o = js();
    ck_assert_str_eq(str(o, "error"), code);
    ck_assert_msg(str(o, "detail") && strlen(str(o, "detail")) > 10, "no detail: %s", resp);
    if (field)
        ck_assert_str_eq(str(o, "field"), field);
    else
        ck_assert_msg(str(o, "field") == NULL, "unexpected field: %s", resp);
    json_object_put(o);
}

static void setup(void)
{
    /* per process: other checkouts' runs of this suite may share the PostgreSQL */
    snprintf(dbname, sizeof dbname, "corridor_test_trips_rest_%d", (int)getpid());
    const char *conninfo = harness_db_create(dbname);
    make_token(conninfo);
    harness_server_start(&srv, conninfo, "--sweep-interval", "2", NULL);
    db = harness_connect(conninfo);
    harness_exec(
        db, "INSERT INTO corridor.geofences(name, kind, geom) VALUES "
            "('Port', 'port', ST_Multi(ST_MakeEnvelope(39.63,-4.08,39.68,-4.04,4326))),"
            "('ICD', 'customs_office', ST_Multi(ST_MakeEnvelope(36.87,-1.35,36.91,-1.31,4326))),"
            "('Emali', 'checkpoint', ST_Multi(ST_MakeEnvelope(37.45,-2.10,37.48,-2.07,4326))),"
            "('Malaba', 'border_post', ST_Multi(ST_MakeEnvelope(34.26,0.62,34.29,0.65,4326)))");
    port_id = q("SELECT id FROM corridor.geofences WHERE name = 'Port'");
    icd_id = q("SELECT id FROM corridor.geofences WHERE name = 'ICD'");
    cp_id = q("SELECT id FROM corridor.geofences WHERE name = 'Emali'");
    dest_id = q("SELECT id FROM corridor.geofences WHERE name = 'Malaba'");
    harness_exec(db, "INSERT INTO corridor.seals(id, protocol, device_id) VALUES "
                     "('S1','osmand','S1'), ('S2','osmand','S2'), ('S3','osmand','S3'), "
                     "('S4','osmand','S4')");
}

static void teardown(void)
{
    PQfinish(db);
    ck_assert_int_eq(harness_server_stop(&srv, 0), 0);
    PGconn *c = harness_connect("dbname=postgres");
    char sql[128];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", dbname);
    harness_exec(c, sql);
    PQfinish(c);
}

static long make_route(void)
{
    char body[1024];
    snprintf(body, sizeof body,
             "{\"name\": \"Mombasa - Malaba\", \"corridor_m\": 2000, \"max_transit_minutes\": 600,"
             " \"geometry\": {\"type\": \"LineString\", \"coordinates\": [[39.655, -4.06],"
             " [37.4667, -2.0833], [36.893, -1.329], [34.275, 0.636]]},"
             " \"checkpoints\": [{\"geofence_id\": %ld, \"max_leg_minutes\": 300}],"
             " \"max_speed_kmh\": 1000000}", /* the tests' trucks are fast */
             cp_id);
    ck_assert_int_eq(api("POST", "/api/routes", body), 201);
    json_object *o = js();
    long id = atol(str(o, "id"));
    ck_assert_str_eq(str(o, "name"), "Mombasa - Malaba");
    json_object *cps;
    ck_assert(json_object_object_get_ex(o, "checkpoints", &cps));
    ck_assert_int_eq(json_object_array_length(cps), 1);
    ck_assert_str_eq(str(json_object_array_get_idx(cps, 0), "name"), "Emali");
    ck_assert_str_eq(str(json_object_array_get_idx(cps, 0), "max_leg_minutes"), "300");
    json_object_put(o);
    return id;
}

static const char *trip_body(const char *seal, long route, long origin, long dest,
                             const char *plate, const char *container, const char *decl)
{
    static char b[1024];
    snprintf(b, sizeof b,
             "{\"seal_id\": \"%s\", \"route_id\": %ld, \"origin_id\": %ld, \"destination_id\": %ld,"
             " \"conveyance\": {\"plate\": \"%s\", \"container\": \"%s\"},"
             " \"declaration\": \"%s\"}",
             seal, route, origin, dest, plate, container, decl);
    return b;
}

START_TEST(routes)
{
    ck_assert_int_eq(api("GET", "/api/routes", NULL), 200);
    ck_assert_str_eq(resp, "[]");
    long id = make_route();
    ck_assert_int_eq(api("GET", "/api/routes", NULL), 200);
    json_object *o = js();
    ck_assert_int_eq(json_object_array_length(o), 1);
    ck_assert_int_eq(atol(str(json_object_array_get_idx(o, 0), "id")), id);
    ck_assert_str_eq(str(json_object_array_get_idx(o, 0), "geometry.type"), "LineString");
    json_object_put(o);

    /* malformed: the gateway answers before the database */
    ck_assert_int_eq(api("POST", "/api/routes", "{\"name\": "), 400);
    ck_assert_int_eq(api("POST", "/api/routes", "[1, 2]"), 400);
    ck_assert_int_eq(api("POST", "/api/routes", NULL), 400);
    /* the database's refusals, with the field at fault */
    refused(api("POST", "/api/routes", "{\"name\": \"x\"}"), 422, "geometry_invalid", "geometry");
    refused(api("POST", "/api/routes",
                "{\"name\": \" \", \"geometry\": {\"type\": \"LineString\", \"coordinates\": "
                "[[39, -4], [38, -3]]}, \"corridor_m\": 500, \"max_transit_minutes\": 60}"),
            422, "name_required", "name");
    refused(api("POST", "/api/routes",
                "{\"name\": \"x\", \"geometry\": {\"type\": \"LineString\", \"coordinates\": "
                "[[39, -4], [38, -3]]}, \"corridor_m\": -5, \"max_transit_minutes\": 60}"),
            422, "corridor_m_invalid", "corridor_m");
    refused(api("POST", "/api/routes",
                "{\"name\": \"x\", \"geometry\": {\"type\": \"LineString\", \"coordinates\": "
                "[[39, -4], [38, -3]]}, \"corridor_m\": 500, \"max_transit_minutes\": 60, "
                "\"checkpoints\": [{\"geofence_id\": 999999}]}"),
            422, "checkpoint_not_found", "checkpoints");
    ck_assert_int_eq(q("SELECT count(*) FROM corridor.routes"), 1);
}
END_TEST

START_TEST(arming_refusals_then_arm)
{
    long now = (long)time(NULL);
    long route = make_route();
    ck_assert_int_eq(ping("S1", now - 5, -4.06, 39.655, "locked"), 200);
    ck_assert_int_eq(ping("S3", now - 5, -4.06, 39.655, "open"), 200);
    ck_assert_int_eq(ping("S4", now - 3600, -4.06, 39.655, "locked"), 200);
    const char *box = "CSQU3054383"; /* the ISO 6346 standard's example */

    ck_assert_int_eq(api("POST", "/api/trips", "not json"), 400);
    refused(api("POST", "/api/trips", "{\"seal_id\": \"S1\"}"), 422, "route_id_required",
            "route_id");
    refused(api("POST", "/api/trips", trip_body("S1", route, port_id, dest_id, "", box, "D1")), 422,
            "plate_required", "plate");
    refused(
        api("POST", "/api/trips", trip_body("S1", route, port_id, dest_id, "KCA 123B", "", "D1")),
        422, "container_required", "container");
    refused(api("POST", "/api/trips",
                trip_body("S1", route, port_id, dest_id, "KCA 123B", "CSQU305438", "D1")),
            422, "container_invalid", "container");
    refused(api("POST", "/api/trips",
                trip_body("S1", route, port_id, dest_id, "KCA 123B", "CSQU3054384", "D1")),
            422, "container_check_digit", "container");
    refused(
        api("POST", "/api/trips", trip_body("S1", route, port_id, dest_id, "KCA 123B", box, "")),
        422, "declaration_required", "declaration");
    refused(api("POST", "/api/trips",
                trip_body("NOPE", route, port_id, dest_id, "KCA 123B", box, "D1")),
            422, "seal_not_registered", "seal_id");
    refused(
        api("POST", "/api/trips", trip_body("S1", 999999, port_id, dest_id, "KCA 123B", box, "D1")),
        422, "route_not_found", "route_id");
    refused(
        api("POST", "/api/trips", trip_body("S1", route, cp_id, dest_id, "KCA 123B", box, "D1")),
        422, "origin_not_release_point", "origin_id");
    refused(
        api("POST", "/api/trips", trip_body("S1", route, port_id, 999999, "KCA 123B", box, "D1")),
        422, "destination_not_found", "destination_id");
    refused(
        api("POST", "/api/trips", trip_body("S1", route, port_id, port_id, "KCA 123B", box, "D1")),
        422, "destination_is_origin", "destination_id");
    refused(
        api("POST", "/api/trips", trip_body("S2", route, port_id, dest_id, "KCA 123B", box, "D1")),
        409, "seal_not_reporting", "seal_id");
    refused(
        api("POST", "/api/trips", trip_body("S4", route, port_id, dest_id, "KCA 123B", box, "D1")),
        409, "seal_not_reporting", "seal_id");
    refused(
        api("POST", "/api/trips", trip_body("S3", route, port_id, dest_id, "KCA 123B", box, "D1")),
        409, "seal_not_locked", "seal_id");
    ck_assert_int_eq(q("SELECT count(*) FROM corridor.trips"), 0);

    ck_assert_int_eq(
        api("POST", "/api/trips",
            trip_body("S1", route, port_id, dest_id, "kca 123b", "csqu 305438-3", "2026KEMSA0001")),
        201);
    json_object *o = js();
    const char *id = str(o, "id");
    ck_assert_int_eq(strlen(id), 36);
    ck_assert_str_eq(str(o, "status"), "armed");
    ck_assert_str_eq(str(o, "conveyance.plate"), "KCA 123B");
    ck_assert_str_eq(str(o, "conveyance.container"), "CSQU3054383");
    ck_assert_str_eq(str(o, "declaration"), "2026KEMSA0001");
    ck_assert_str_eq(str(o, "origin"), "Port");
    ck_assert_str_eq(str(o, "destination"), "Malaba");
    ck_assert(str(o, "deadline") != NULL);
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT extract(epoch FROM deadline - armed_at)::bigint FROM corridor.trips "
             "WHERE id = '%s' AND status = 'armed' AND seal_id = 'S1'",
             id);
    ck_assert_int_eq(q(sql), 600 * 60);
    json_object_put(o);
    refused(
        api("POST", "/api/trips", trip_body("S1", route, port_id, dest_id, "KCA 123B", box, "D2")),
        409, "seal_on_active_trip", "seal_id");
}
END_TEST

/* ---- a minimal websocket client: enough to see what the server pushes ---- */
static int ws_open(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)srv.http_port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert(fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0);
    char req[1024];
    snprintf(req, sizeof req,
             "GET /ws%s%s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
             "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
             "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: corridor.v1\r\n\r\n",
             token[0] ? "?token=" : "", token);
    ck_assert_int_eq(write(fd, req, strlen(req)), (ssize_t)strlen(req));
    /* the 101 answer, byte by byte up to the blank line so no frame is eaten */
    char head[2048];
    size_t n = 0;
    while (n < sizeof head - 1 && read(fd, head + n, 1) == 1) {
        n++;
        if (n >= 4 && memcmp(head + n - 4, "\r\n\r\n", 4) == 0)
            break;
    }
    head[n] = 0;
    ck_assert_msg(strstr(head, " 101 ") != NULL, "no upgrade: %s", head);
    return fd;
}

/* Reads frames for up to ms milliseconds; 1 as soon as one holds needle. */
static int ws_wait_for(int fd, const char *needle, int ms)
{
    static char buf[4 << 20];
    size_t got = 0;
    int64_t until = (int64_t)time(NULL) * 1000 + ms;
    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        int64_t left = until - (int64_t)time(NULL) * 1000;
        if (left <= 0 || poll(&p, 1, (int)left) <= 0)
            return 0;
        ssize_t r = read(fd, buf + got, sizeof buf - 1 - got);
        if (r <= 0)
            return 0;
        got += (size_t)r;
        buf[got] = 0;
        /* payloads are text: searching the raw stream finds a needle inside any frame */
        if (memmem(buf, got, needle, strlen(needle)))
            return 1;
    }
}

static const char *arm_s1(long route, long now)
{
    static char id[40];
    ck_assert_int_eq(ping("S1", now - 20, -4.06, 39.655, "locked"), 200);
    ck_assert_int_eq(
        api("POST", "/api/trips",
            trip_body("S1", route, port_id, dest_id, "KCA 123B", "CSQU3054383", "2026KEMSA0002")),
        201);
    json_object *o = js();
    snprintf(id, sizeof id, "%s", str(o, "id"));
    json_object_put(o);
    return id;
}

START_TEST(views_and_disarm)
{
    long now = (long)time(NULL);
    long route = make_route();
    const char *id = arm_s1(route, now);
    char path[256];
    /* moving along the road: out of the port, through Emali (the track starts at arming,
     * so these device times lie a little ahead of the server's clock) */
    ck_assert_int_eq(ping("S1", now + 10, -3.828, 39.398, "locked"), 200);
    ck_assert_int_eq(ping("S1", now + 20, -2.085, 37.465, "locked"), 200);

    ck_assert_int_eq(api("GET", "/api/trips", NULL), 200);
    json_object *o = js();
    ck_assert_int_eq(json_object_array_length(o), 1);
    json_object *t = json_object_array_get_idx(o, 0);
    ck_assert_str_eq(str(t, "id"), id);
    ck_assert_str_eq(str(t, "latest.seal_id"), "S1");
    ck_assert(num(t, "latest.lat") == -2.085);
    ck_assert_msg(
        strcmp(str(t, "open_incidents"), "0") == 0, "an incident opened: %ld %s",
        q("SELECT count(*) FROM corridor.incidents"),
        PQgetvalue(PQexec(db, "SELECT rule || ' ' || details::text FROM corridor.incidents"), 0,
                   0));
    json_object_put(o);

    snprintf(path, sizeof path, "/api/trips/%s", id);
    ck_assert_int_eq(api("GET", path, NULL), 200);
    o = js();
    ck_assert_str_eq(str(o, "route.geometry.type"), "LineString");
    ck_assert_str_eq(str(o, "route.corridor.type"), "Polygon");
    ck_assert_str_eq(str(o, "track.type"), "LineString");
    json_object *ev, *cps;
    ck_assert(json_object_object_get_ex(o, "events", &ev));
    ck_assert_str_eq(str(json_object_array_get_idx(ev, 0), "kind"), "trip_armed");
    ck_assert(json_object_object_get_ex(o, "checkpoints", &cps));
    ck_assert_msg(str(json_object_array_get_idx(cps, 0), "passed_at") != NULL,
                  "Emali not passed: %s", resp);
    json_object_put(o);

    /* unknown and malformed ids */
    refused(api("GET", "/api/trips/00000000-0000-4000-8000-000000000000", NULL), 404,
            "trip_not_found", NULL);
    refused(api("GET", "/api/trips/nope", NULL), 404, "trip_not_found", NULL);
    refused(api("POST", "/api/trips/00000000-0000-4000-8000-000000000000/disarm", NULL), 404,
            "trip_not_found", NULL);

    /* a disarm on the road: 409, an incident, and the incident on the live map */
    int ws = ws_open();
    ck_assert(ws_wait_for(ws, "\"snapshot\"", 5000));
    snprintf(path, sizeof path, "/api/trips/%s/disarm", id);
    ck_assert_int_eq(api("POST", path, NULL), 409);
    o = js();
    ck_assert_str_eq(str(o, "error"), "disarm_outside_destination");
    ck_assert_msg(strstr(str(o, "detail"), "outside destination \"Malaba\"") != NULL, "%s", resp);
    ck_assert_str_eq(str(o, "incident.rule"), "disarm_outside_destination");
    ck_assert_str_eq(str(o, "incident.severity"), "critical");
    ck_assert_str_eq(str(o, "incident.trip_id"), id);
    ck_assert(str(o, "refused") == NULL);
    json_object_put(o);
    ck_assert_msg(ws_wait_for(ws, "disarm_outside_destination", 5000),
                  "the incident did not reach the websocket");
    close(ws);
    ck_assert_int_eq(q("SELECT count(*) FROM corridor.trips WHERE status = 'armed'"), 1);

    /* at the destination: disarmed; a second disarm is refused */
    ck_assert_int_eq(ping("S1", now + 30, 0.636, 34.275, "locked"), 200);
    ck_assert_int_eq(api("POST", path, NULL), 200);
    o = js();
    ck_assert_str_eq(str(o, "status"), "disarmed");
    ck_assert(str(o, "disarmed_at") != NULL);
    json_object_put(o);
    refused(api("POST", path, NULL), 409, "trip_not_armed", NULL);
    ck_assert_int_eq(api("GET", "/api/trips", NULL), 200);
    ck_assert_str_eq(resp, "[]");
}
END_TEST

/* A GET whose whole answer (headers too) lands in resp. */
static int raw_get(const char *path)
{
    return http("GET", path, NULL, 1);
}

START_TEST(report_json_and_csv)
{
    long now = (long)time(NULL);
    long route = make_route();
    /* a declaration a spreadsheet would run, with a comma and a quote */
    ck_assert_int_eq(ping("S1", now - 60, -4.06, 39.655, "locked"), 200);
    ck_assert_int_eq(api("POST", "/api/trips",
                         trip_body("S1", route, port_id, dest_id, "KCA 123B", "CSQU3054383",
                                   "=SUM(A1), \\\"x\\\"")),
                     201);
    json_object *o = js();
    char id[40], path[256];
    snprintf(id, sizeof id, "%s", str(o, "id"));
    json_object_put(o);
    /* a 10-minute stop on the road, then on (device times after arming, ahead of the clock) */
    speed_kn = 0;
    for (int i = 0; i <= 10; i++)
        ck_assert_int_eq(ping("S1", now + 60 + i * 60, -3.828, 39.398, "locked"), 200);
    speed_kn = 40;
    ck_assert_int_eq(ping("S1", now + 1500, -2.085, 37.465, "locked"), 200);

    snprintf(path, sizeof path, "/api/trips/%s/report", id);
    ck_assert_int_eq(api("GET", path, NULL), 200);
    o = js();
    json_object *stops, *legs, *cps;
    ck_assert(json_object_object_get_ex(o, "stops", &stops));
    ck_assert_int_eq(json_object_array_length(stops), 1);
    ck_assert(num(json_object_array_get_idx(stops, 0), "minutes") == 10.0);
    ck_assert(json_object_object_get_ex(o, "legs", &legs));
    ck_assert_int_eq(json_object_array_length(legs), 1);
    ck_assert_str_eq(str(json_object_array_get_idx(legs, 0), "country"), "KE");
    ck_assert(json_object_object_get_ex(o, "checkpoints", &cps));
    ck_assert(str(json_object_array_get_idx(cps, 0), "passed_at") != NULL);
    json_object_put(o);

    snprintf(path, sizeof path, "/api/trips/%s/report?format=csv", id);
    ck_assert_int_eq(raw_get(path), 200);
    ck_assert_msg(strstr(resp, "\r\ncontent-type: text/csv; charset=utf-8\r\n") ||
                      strstr(resp, "\r\nContent-Type: text/csv; charset=utf-8\r\n"),
                  "%s", resp);
    const char *body = strstr(resp, "\r\n\r\n") + 4;
    const char *header = "section,trip_id,seal_id,declaration,time,until,minutes,kind,name,"
                         "country,seq,lat,lon,detail\r\n";
    ck_assert_msg(strncmp(body, header, strlen(header)) == 0, "%s", body);
    /* quoting: the formula is defused, the comma quoted, quotes doubled */
    char want[256];
    snprintf(want, sizeof want, "trip,%s,S1,\"'=SUM(A1), \"\"x\"\"\",", id);
    ck_assert_msg(strstr(body, want) != NULL, "no %s in %s", want, body);
    ck_assert(strstr(body, "\r\nleg,") != NULL);
    ck_assert(strstr(body, "\r\nstop,") != NULL);
    ck_assert(strstr(body, ",10.0,") != NULL);
    ck_assert(strstr(body, "\r\ncheckpoint,") != NULL);
    ck_assert(strstr(body, "\r\nevent,") != NULL);
    ck_assert(strstr(body, ",trip_armed,") != NULL);
    /* every row has the header's 14 columns outside quotes */
    int rows = 0;
    for (const char *p = body; *p; rows++) {
        int cols = 1, inq = 0;
        for (; *p && !(p[0] == '\r' && p[1] == '\n' && !inq); p++) {
            if (*p == '"')
                inq = !inq;
            else if (*p == ',' && !inq)
                cols++;
        }
        ck_assert_msg(cols == 14, "row %d has %d columns", rows, cols);
        if (*p)
            p += 2;
    }
    ck_assert_int_ge(rows, 6);

    refused(api("GET", "/api/trips/00000000-0000-4000-8000-000000000000/report", NULL), 404,
            "trip_not_found", NULL);
    snprintf(path, sizeof path, "/api/trips/%s/report?format=xml", id);
    refused(api("GET", path, NULL), 400, "bad_query", NULL);
}
END_TEST

START_TEST(simulator_fires_every_rule)
{
    const char *build = getenv("CORRIDOR_BUILD");
    ck_assert_msg(build != NULL, "CORRIDOR_BUILD is not set");
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "%s/corridor-sim trips --http 127.0.0.1:%d --osmand 127.0.0.1:%d %s%s "
             "> %s.sim 2>&1",
             build, srv.http_port, srv.osmand_port, token[0] ? "--token " : "", token, srv.log);
    int rc = system(cmd);
    ck_assert_msg(WIFEXITED(rc) && WEXITSTATUS(rc) == 0, "corridor-sim trips failed: see %s.sim",
                  srv.log);
    static const char *const rules[] = {
        "route_deviation",     "checkpoint_skipped",     "leg_overdue",
        "transit_overdue",     "unauthorised_stop",      "signal_loss",
        "seal_opened",         "seal_tampered",          "low_battery",
        "impossible_movement", "undeclared_border_exit", "disarm_outside_destination"};
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        char sql[256];
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM corridor.incidents n JOIN corridor.trips t ON t.id = "
                 "n.trip_id WHERE n.rule = '%s' AND t.seal_id LIKE 'TS-%%'",
                 rules[i]);
        ck_assert_msg(q(sql) >= 1, "rule %s never fired", rules[i]);
    }
    /* the clean trip: disarmed at Malaba, every checkpoint in order, no incident */
    ck_assert_int_eq(q("SELECT count(*) FROM corridor.trips t JOIN corridor.geofences g"
                       " ON g.id = t.destination_id WHERE t.seal_id LIKE 'TS-CLEAN-%'"
                       " AND t.status = 'disarmed' AND g.name = 'Malaba border post'"),
                     1);
    ck_assert_int_eq(q("SELECT count(*) FROM corridor.incidents n JOIN corridor.trips t"
                       " ON t.id = n.trip_id WHERE t.seal_id LIKE 'TS-CLEAN-%'"),
                     0);
    ck_assert_int_eq(q("SELECT count(*) FROM corridor.checkpoint_passages p JOIN corridor.trips t"
                       " ON t.id = p.trip_id WHERE t.seal_id LIKE 'TS-CLEAN-%' AND p.in_order"),
                     3);
    ck_assert_int_eq(q("SELECT count(*) FROM corridor.events e JOIN corridor.trips t"
                       " ON t.id = e.trip_id WHERE t.seal_id LIKE 'TS-CLEAN-%'"
                       " AND e.kind IN ('destination_arrival', 'trip_disarmed')"),
                     2);
    /* the deviation came back, the silent seal reported again */
    ck_assert_int_ge(q("SELECT count(*) FROM corridor.events WHERE kind = 'route_return'"
                       " AND seal_id LIKE 'TS-DEVIATION-%'"),
                     1);
    ck_assert_int_ge(q("SELECT count(*) FROM corridor.events WHERE kind = 'signal_restored'"
                       " AND seal_id LIKE 'TS-SILENT-%'"),
                     1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("trips_rest");
    TCase *tc = tcase_create("trips_rest");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, routes);
    tcase_add_test(tc, arming_refusals_then_arm);
    tcase_add_test(tc, views_and_disarm);
    tcase_add_test(tc, report_json_and_csv);
    tcase_add_test(tc, simulator_fires_every_rule);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
