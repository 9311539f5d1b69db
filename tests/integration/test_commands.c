/*
 * test_commands.c: the centre commands its seals (docs/commands.md), against the real
 * corridord over real sockets: a JT/T 808 e-lock built here from the standard's layouts
 * takes the commands, answers or stays silent; the REST API requests, lists, cancels and
 * approves them; the database's queue and its audit trail are read back.
 */
#include "harness.h"
#include "jt808.h"
#include "proto.h"

#include <arpa/inet.h>
#include <check.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define TERMINAL "013912340001"
#define SEAL     "KE-LOCK-7"

static harness_server srv;
static PGconn *db;
static char conninfo[128];
static char officer_a[96], officer_b[96];

/* ---- the device ---- */
typedef struct device {
    int fd;
    uint16_t serial;
    ingest_jt808_splitter sp;
    uint8_t pending[8192];
    size_t have;
} device;

static void dev_send(device *d, uint16_t id, const uint8_t *body, size_t len)
{
    ingest_jt808_head h = {.msg_id = id, .serial = ++d->serial};
    snprintf(h.terminal, sizeof h.terminal, "%s", TERMINAL);
    uint8_t frame[4096];
    int n = ingest_jt808_encode(&h, body, len, frame, sizeof frame);
    ck_assert_int_gt(n, 0);
    ck_assert_int_eq(write(d->fd, frame, (size_t)n), n);
}

/* The next frame from the server within ms: 1 with head and body, 0 on timeout. */
static int dev_recv(device *d, int ms, ingest_jt808_head *h, uint8_t *body, size_t *blen)
{
    for (;;) {
        while (d->have) {
            size_t used, flen, bl;
            const uint8_t *frame, *b;
            int rc = ingest_jt808_split(&d->sp, d->pending, d->have, &used, &frame, &flen);
            memmove(d->pending, d->pending + used, d->have - used);
            d->have -= used;
            if (rc == 1) {
                char why[128];
                ck_assert_msg(ingest_jt808_parse(frame, flen, h, &b, &bl, why, sizeof why) == 0,
                              "server frame: %s", why);
                memcpy(body, b, bl);
                *blen = bl;
                return 1;
            }
            if (rc == 0)
                break;
        }
        struct pollfd p = {d->fd, POLLIN, 0};
        if (poll(&p, 1, ms) != 1)
            return 0;
        ssize_t r = read(d->fd, d->pending + d->have, sizeof d->pending - d->have);
        if (r <= 0)
            return 0;
        d->have += (size_t)r;
    }
}

/* The next frame that is not a 0x8001 (the platform's answers to our own reports). */
static int dev_recv_command(device *d, int ms, ingest_jt808_head *h, uint8_t *body, size_t *blen)
{
    while (dev_recv(d, ms, h, body, blen))
        if (h->msg_id != INGEST_JT808_PLAT_ACK)
            return 1;
    return 0;
}

static void dev_connect(device *d)
{
    memset(d, 0, sizeof *d);
    ingest_jt808_splitter_init(&d->sp);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)srv.jt808_port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    d->fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert(d->fd >= 0);
    ck_assert(connect(d->fd, (struct sockaddr *)&a, sizeof a) == 0);
    uint8_t body[1100];
    ingest_jt808_head h;
    size_t blen;
    char code[65];
    uint16_t rs;
    int result;
    ingest_jt808_register reg = {.province = 11};
    int n = ingest_jt808_body_register(body, sizeof body, 0, &reg);
    dev_send(d, INGEST_JT808_REGISTER, body, (size_t)n);
    ck_assert(dev_recv(d, 5000, &h, body, &blen));
    ck_assert_int_eq(ingest_jt808_parse_register_ack(body, blen, &rs, &result, code, sizeof code),
                     0);
    ck_assert_int_eq(result, INGEST_JT808_REG_OK);
    ingest_jt808_auth auth;
    memset(&auth, 0, sizeof auth);
    snprintf(auth.code, sizeof auth.code, "%s", code);
    n = ingest_jt808_body_auth(body, sizeof body, 0, &auth);
    dev_send(d, INGEST_JT808_AUTH, body, (size_t)n);
    ck_assert(dev_recv(d, 5000, &h, body, &blen));
    uint16_t rid;
    ck_assert_int_eq(ingest_jt808_parse_ack(body, blen, &rs, &rid, &result), 0);
    ck_assert_int_eq(rid, INGEST_JT808_AUTH);
    ck_assert_int_eq(result, INGEST_JT808_OK);
}

static ingest_jt808_location fix(double lat, double lon, int64_t ts_us, int locked)
{
    ingest_jt808_location l;
    ingest_jt808_location_clear(&l);
    l.lat = lat;
    l.lon = lon;
    l.ts_us = ts_us;
    l.speed_kmh = 30;
    l.status = INGEST_JT808_ST_FIX | (locked ? INGEST_JT808_ST_DOOR_LOCKED : 0);
    return l;
}

static void dev_report(device *d, double lat, double lon, int64_t ts_us, int locked)
{
    uint8_t body[256];
    ingest_jt808_location l = fix(lat, lon, ts_us, locked);
    int n = ingest_jt808_body_location(body, sizeof body, 480, &l);
    ck_assert_int_gt(n, 0);
    dev_send(d, INGEST_JT808_LOCATION, body, (size_t)n);
}

/* The terminal's general response 0x0001 to a command frame. */
static void dev_answer(device *d, const ingest_jt808_head *cmd, int result)
{
    uint8_t body[8];
    int n = ingest_jt808_body_ack(body, sizeof body, cmd->serial, cmd->msg_id, result);
    dev_send(d, INGEST_JT808_TERM_ACK, body, (size_t)n);
}

/* ---- the centre ---- */
static int64_t now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

static char resp[65536];

static int api(const char *token, const char *method, const char *path, const char *body)
{
    return harness_http_as(srv.http_port, token, method, path, body ? "application/json" : NULL,
                           body, resp, sizeof resp);
}

static long json_long(const char *key)
{
    json_object *o = json_tokener_parse(resp), *v;
    ck_assert_msg(o && json_object_object_get_ex(o, key, &v), "no %s in %s", key, resp);
    long r = (long)json_object_get_int64(v);
    json_object_put(o);
    return r;
}

static const char *json_str(const char *key)
{
    static char out[512];
    json_object *o = json_tokener_parse(resp), *v;
    ck_assert_msg(o && json_object_object_get_ex(o, key, &v), "no %s in %s", key, resp);
    snprintf(out, sizeof out, "%s", json_object_get_string(v));
    json_object_put(o);
    return out;
}

static long command(const char *token, const char *body)
{
    int st = api(token, "POST", "/api/seals/" SEAL "/commands", body);
    ck_assert_msg(st == 201, "POST command: %d %s", st, resp);
    return json_long("id");
}

static void state_is(long id, const char *want, int wait_ms)
{
    char have[64] = "", idt[24];
    snprintf(idt, sizeof idt, "%ld", id);
    const char *v[1] = {idt};
    for (int waited = 0;; waited += 100) {
        PGresult *r = PQexecParams(db, "SELECT state FROM corridor.commands WHERE id = $1::bigint",
                                   1, NULL, v, NULL, NULL, 0);
        snprintf(have, sizeof have, "%s", PQntuples(r) ? PQgetvalue(r, 0, 0) : "(none)");
        PQclear(r);
        if (strcmp(have, want) == 0 || waited >= wait_ms)
            break;
        usleep(100 * 1000);
    }
    ck_assert_msg(strcmp(have, want) == 0, "command %ld is %s, not %s", id, have, want);
}

static long q(const char *sql)
{
    return harness_query_long(db, sql);
}

/* An officer token with its own name: the four-eyes rule tells accounts apart by name. */
static void named_token(const char *name, char *out, size_t n)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "%s/corridord token create --role officer --name %s --db '%s'",
             getenv("CORRIDOR_BUILD"), name, conninfo);
    FILE *p = popen(cmd, "r");
    ck_assert(p != NULL);
    ck_assert(fgets(out, (int)n, p) != NULL);
    out[strcspn(out, "\r\n")] = 0;
    pclose(p);
}

static void start_server(void)
{
    harness_server_start(&srv, conninfo, "--workers", "1", "--sweep-interval", "1", NULL);
}

static void setup(void)
{
    snprintf(conninfo, sizeof conninfo, "%s", harness_db_create("corridor_test_commands"));
    start_server();
    db = harness_connect(conninfo);
    named_token("jane.wanjiru", officer_a, sizeof officer_a);
    named_token("otieno.k", officer_b, sizeof officer_b);
    harness_exec(db, "INSERT INTO corridor.seals(id, protocol, device_id) VALUES "
                     "('" SEAL "', 'jt808', '" TERMINAL "'), ('OSM-1', 'osmand', 'OSM-1')");
}

static void teardown(void)
{
    PQfinish(db);
    harness_server_stop(&srv, 0);
}

START_TEST(set_interval_acknowledged_then_confirmed)
{
    device d;
    dev_connect(&d);
    long id = command(officer_a, "{\"command\": \"set_interval\", \"params\": {\"seconds\": 5},"
                                 " \"reason\": \"closer watch near the border\"}");
    ck_assert_str_eq(json_str("requested_by"), "officer:jane.wanjiru");
    ingest_jt808_head h;
    uint8_t body[1100];
    size_t blen;
    ck_assert_msg(dev_recv_command(&d, 5000, &h, body, &blen), "no command frame");
    ck_assert_int_eq(h.msg_id, INGEST_JT808_SET_PARAMS);
    ingest_jt808_command c;
    char why[128];
    ck_assert_int_eq(ingest_jt808_command_parse(h.msg_id, body, blen, 0, &c, why, sizeof why), 0);
    ck_assert_int_eq(c.n_params, 1);
    ck_assert_uint_eq(c.param_id[0], INGEST_JT808_P_REPORT);
    ck_assert_uint_eq(c.param_value[0], 5);
    state_is(id, "sent", 2000);
    dev_answer(&d, &h, INGEST_JT808_OK);
    state_is(id, "acknowledged", 3000);
    /* the device now reports every 5 s: the sweeper sees the interval kept */
    int64_t t = now_us();
    dev_report(&d, -1.3, 36.9, t, 1);
    dev_report(&d, -1.3001, 36.9001, t + 5000000, 1);
    state_is(id, "confirmed", 5000);
    /* the trail names who asked, and each step */
    ck_assert_int_eq(q("SELECT count(*) FROM corridor.command_audit WHERE actor = "
                       "'officer:jane.wanjiru' AND action = 'request'"),
                     1);
    char idt[24];
    snprintf(idt, sizeof idt, "%ld", id);
    const char *v[1] = {idt};
    PGresult *r = PQexecParams(db,
                               "SELECT string_agg(to_state, ',' ORDER BY id) FROM "
                               "corridor.command_audit WHERE command_id = $1::bigint",
                               1, NULL, v, NULL, NULL, 0);
    ck_assert_str_eq(PQgetvalue(r, 0, 0), "queued,sent,acknowledged,confirmed");
    PQclear(r);
    /* the trail cannot be edited */
    r = PQexec(db, "UPDATE corridor.command_audit SET actor = 'someone else'");
    ck_assert_int_eq(PQresultStatus(r), PGRES_FATAL_ERROR);
    ck_assert(strstr(PQresultErrorMessage(r), "command audit trail cannot be changed") != NULL);
    PQclear(r);
    /* listed newest first */
    ck_assert_int_eq(api(officer_a, "GET", "/api/seals/" SEAL "/commands", NULL), 200);
    ck_assert(strstr(resp, "\"confirmed\"") != NULL);
    close(d.fd);
}
END_TEST

START_TEST(locate_answered_with_a_stored_position)
{
    device d;
    dev_connect(&d);
    long id = command(officer_a, "{\"command\": \"locate\"}");
    ingest_jt808_head h;
    uint8_t body[1100];
    size_t blen;
    ck_assert(dev_recv_command(&d, 5000, &h, body, &blen));
    ck_assert_int_eq(h.msg_id, INGEST_JT808_LOCATE);
    ck_assert_int_eq(blen, 0);
    state_is(id, "sent", 2000);
    uint8_t ans[256];
    ingest_jt808_location l = fix(-3.99, 39.7, now_us(), 1);
    int n = ingest_jt808_body_answer_location(ans, sizeof ans, 480, h.serial, &l);
    dev_send(&d, INGEST_JT808_LOCATE_ANSWER, ans, (size_t)n);
    state_is(id, "confirmed", 3000);
    /* the answer's position is stored like any fix */
    for (int i = 0; i < 30 && q("SELECT count(*) FROM corridor.positions WHERE seal_id = '" SEAL
                                "' AND abs(lat + 3.99) < 1e-6") == 0;
         i++)
        usleep(100 * 1000);
    ck_assert_int_eq(q("SELECT count(*) FROM corridor.positions WHERE seal_id = '" SEAL
                       "' AND abs(lat + 3.99) < 1e-6"),
                     1);
    close(d.fd);
}
END_TEST

START_TEST(offline_seal_gets_its_commands_after_a_restart)
{
    long a = command(officer_a,
                     "{\"command\": \"text\", \"params\": {\"text\": \"Proceed to Malaba\"}}");
    long b = command(officer_a, "{\"command\": \"reboot\"}");
    state_is(a, "queued", 0);
    ck_assert_int_eq(harness_server_stop(&srv, 0), 0);
    start_server();
    device d;
    dev_connect(&d);
    ingest_jt808_head h;
    uint8_t body[1100];
    size_t blen;
    ingest_jt808_command c;
    char why[128];
    /* in order: the text, then the reset */
    ck_assert(dev_recv_command(&d, 5000, &h, body, &blen));
    ck_assert_int_eq(h.msg_id, INGEST_JT808_TEXT);
    ck_assert_int_eq(ingest_jt808_command_parse(h.msg_id, body, blen, 0, &c, why, sizeof why), 0);
    ck_assert_str_eq(c.text, "Proceed to Malaba");
    dev_answer(&d, &h, INGEST_JT808_OK);
    ck_assert(dev_recv_command(&d, 5000, &h, body, &blen));
    ck_assert_int_eq(h.msg_id, INGEST_JT808_TERM_CONTROL);
    ck_assert_int_eq(ingest_jt808_command_parse(h.msg_id, body, blen, 0, &c, why, sizeof why), 0);
    ck_assert_int_eq(c.control_word, INGEST_JT808_CTL_RESET);
    state_is(a, "acknowledged", 3000);
    state_is(b, "sent", 2000);
    close(d.fd);
}
END_TEST

START_TEST(refused_or_unanswered_ends_failed)
{
    device d;
    dev_connect(&d);
    ingest_jt808_head h;
    uint8_t body[1100];
    size_t blen;
    /* the device says no */
    long id = command(officer_a, "{\"command\": \"set_params\", \"params\": {\"heartbeat_s\": 60,"
                                 " \"sleep_report_s\": 600}}");
    ck_assert(dev_recv_command(&d, 5000, &h, body, &blen));
    ck_assert_int_eq(h.msg_id, INGEST_JT808_SET_PARAMS);
    dev_answer(&d, &h, INGEST_JT808_FAIL);
    state_is(id, "failed", 3000);
    /* a device that never answers: retried, then failed */
    harness_exec(db, "ALTER TABLE corridor.commands ALTER answer_timeout_s SET DEFAULT 1,"
                     " ALTER max_attempts SET DEFAULT 2");
    id = command(officer_a, "{\"command\": \"locate\"}");
    int frames = 0;
    uint16_t first = 0;
    while (dev_recv_command(&d, 4000, &h, body, &blen)) {
        ck_assert_int_eq(h.msg_id, INGEST_JT808_LOCATE);
        if (frames++ == 0)
            first = h.serial;
        else
            ck_assert_int_ne(h.serial, first); /* each attempt is a new frame */
    }
    ck_assert_int_eq(frames, 2);
    state_is(id, "failed", 3000);
    char idt[24];
    snprintf(idt, sizeof idt, "%ld", id);
    const char *v[1] = {idt};
    ck_assert_int_eq(harness_query_long_params(db,
                                               "SELECT count(*) FROM corridor.commands WHERE "
                                               "id = $1::bigint AND detail = 'no answer "
                                               "after 2 attempts' AND attempts = 2",
                                               1, v),
                     1);
    close(d.fd);
}
END_TEST

START_TEST(deadline_passes_expired_never_sent)
{
    time_t t = time(NULL) + 2;
    char body[256], iso[32];
    strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
    snprintf(body, sizeof body, "{\"command\": \"locate\", \"expires_at\": \"%s\"}", iso);
    long id = command(officer_a, body);
    state_is(id, "expired", 5000);
    device d;
    dev_connect(&d);
    ingest_jt808_head h;
    uint8_t b[1100];
    size_t blen;
    ck_assert_msg(!dev_recv_command(&d, 1500, &h, b, &blen), "an expired command was sent");
    close(d.fd);
}
END_TEST

START_TEST(cancel_only_before_sending)
{
    long id = command(officer_a, "{\"command\": \"locate\"}");
    char path[128];
    snprintf(path, sizeof path, "/api/seals/" SEAL "/commands/%ld", id);
    ck_assert_int_eq(api(officer_b, "DELETE", path, NULL), 200);
    ck_assert_str_eq(json_str("state"), "cancelled");
    ck_assert_int_eq(api(officer_b, "DELETE", path, NULL), 409);
    ck_assert_str_eq(json_str("error"), "not_cancellable");
    device d;
    dev_connect(&d);
    ingest_jt808_head h;
    uint8_t b[1100];
    size_t blen;
    ck_assert(!dev_recv_command(&d, 1500, &h, b, &blen));
    close(d.fd);
}
END_TEST

/* A route from Mombasa to Malaba and an armed trip of the seal (SQL API of 004). */
static void wait_latest(double lat)
{
    char lt[32];
    snprintf(lt, sizeof lt, "%.6f", lat);
    const char *v[1] = {lt};
    const char *sql = "SELECT count(*) FROM corridor.latest WHERE seal_id = '" SEAL
                      "' AND abs(lat - $1::float8) < 1e-6";
    for (int i = 0; i < 50 && harness_query_long_params(db, sql, 1, v) == 0; i++)
        usleep(100 * 1000);
    ck_assert_int_eq(harness_query_long_params(db, sql, 1, v), 1);
}

/* The seal reports locked at the port (arming needs it), then the trip is armed. */
static void arm_trip(device *d)
{
    dev_report(d, -4.06, 39.655, now_us() - 60 * 1000000LL, 1);
    wait_latest(-4.06);
    harness_exec(
        db, "INSERT INTO corridor.geofences(name, kind, geom) VALUES "
            "('Port', 'port', ST_Multi(ST_MakeEnvelope(39.63,-4.08,39.68,-4.04,4326))),"
            "('Malaba', 'border_post', ST_Multi(ST_MakeEnvelope(34.26,0.62,34.29,0.65,4326)))");
    harness_exec(
        db, "SELECT corridor.route_create(json_build_object('name', 'M-M', 'corridor_m', 2000,"
            " 'max_transit_minutes', 6000, 'max_speed_kmh', 1000000, 'geometry',"
            " '{\"type\":\"LineString\",\"coordinates\":[[39.655,-4.06],[34.275,0.636]]}'::json,"
            " 'checkpoints', '[]'::json))");
    harness_exec(
        db, "SELECT corridor.trip_arm(json_build_object('seal_id', '" SEAL "',"
            " 'route_id', (SELECT max(id) FROM corridor.routes),"
            " 'origin_id', (SELECT id FROM corridor.geofences WHERE name = 'Port'),"
            " 'destination_id', (SELECT id FROM corridor.geofences WHERE name = 'Malaba'),"
            " 'conveyance', json_build_object('plate', 'KCA 123A', 'container', 'CSQU3054383'),"
            " 'declaration', '2026MSA0001'))");
}

START_TEST(unseal_outside_destination_needs_a_second_officer)
{
    device d;
    dev_connect(&d);
    arm_trip(&d);
    dev_report(&d, -2.0, 37.5, now_us(), 1); /* on the road, far from Malaba */
    wait_latest(-2.0);
    /* a reason is required */
    ck_assert_int_eq(
        api(officer_a, "POST", "/api/seals/" SEAL "/commands", "{\"command\": \"unseal\"}"), 422);
    ck_assert_str_eq(json_str("error"), "reason_required");
    long id = command(officer_a, "{\"command\": \"unseal\", \"reason\": \"inspection at Emali\"}");
    ck_assert_str_eq(json_str("state"), "awaiting_approval");
    /* the incident says who asked */
    ck_assert_int_eq(q("SELECT count(*) FROM corridor.incidents WHERE rule = 'unseal_requested'"
                       " AND severity = 'critical' AND seal_id = '" SEAL "'"
                       " AND details->>'requested_by' = 'officer:jane.wanjiru'"),
                     1);
    ingest_jt808_head h;
    uint8_t b[1100];
    size_t blen;
    ck_assert_msg(!dev_recv_command(&d, 1500, &h, b, &blen), "sent before the approval");
    char path[128];
    snprintf(path, sizeof path, "/api/seals/" SEAL "/commands/%ld/approve", id);
    /* the same account cannot approve its own request, and that is audited */
    ck_assert_int_eq(api(officer_a, "POST", path, NULL), 403);
    ck_assert_str_eq(json_str("error"), "four_eyes");
    ck_assert_int_eq(q("SELECT count(*) FROM corridor.command_audit WHERE action = "
                       "'approval_refused' AND actor = 'officer:jane.wanjiru'"),
                     1);
    state_is(id, "awaiting_approval", 0);
    ck_assert_int_eq(api(officer_b, "POST", path, NULL), 200);
    ck_assert_str_eq(json_str("approved_by"), "officer:otieno.k");
    ck_assert(dev_recv_command(&d, 5000, &h, b, &blen));
    ck_assert_int_eq(h.msg_id, INGEST_JT808_VEHICLE_CONTROL);
    ingest_jt808_command c;
    char why[128];
    ck_assert_int_eq(ingest_jt808_command_parse(h.msg_id, b, blen, 0, &c, why, sizeof why), 0);
    ck_assert_int_eq(c.lock, 0);
    /* answered with 0x0500: the location shows the lock open */
    uint8_t ans[256];
    ingest_jt808_location l = fix(-2.0, 37.5, now_us(), 0);
    int n = ingest_jt808_body_answer_location(ans, sizeof ans, 480, h.serial, &l);
    dev_send(&d, INGEST_JT808_CONTROL_ANSWER, ans, (size_t)n);
    state_is(id, "confirmed", 3000);
    close(d.fd);
}
END_TEST

START_TEST(disarm_at_destination_unseals_and_ends_the_trip)
{
    device d;
    dev_connect(&d);
    arm_trip(&d);
    dev_report(&d, 0.636, 34.275, now_us(), 1); /* inside Malaba */
    wait_latest(0.636);
    char path[128];
    PGresult *r = PQexec(db, "SELECT id FROM corridor.trips");
    snprintf(path, sizeof path, "/api/trips/%s/disarm", PQgetvalue(r, 0, 0));
    PQclear(r);
    ck_assert_int_eq(api(officer_a, "POST", path, NULL), 202);
    ck_assert_str_eq(json_str("disarm"), "awaiting_unseal");
    ck_assert_str_eq(json_str("status"), "armed");
    ingest_jt808_head h;
    uint8_t b[1100];
    size_t blen;
    ck_assert(dev_recv_command(&d, 5000, &h, b, &blen));
    ck_assert_int_eq(h.msg_id, INGEST_JT808_VEHICLE_CONTROL);
    uint8_t ans[256];
    ingest_jt808_location l = fix(0.636, 34.275, now_us(), 0);
    int n = ingest_jt808_body_answer_location(ans, sizeof ans, 480, h.serial, &l);
    dev_send(&d, INGEST_JT808_CONTROL_ANSWER, ans, (size_t)n);
    for (int i = 0;
         i < 30 && q("SELECT count(*) FROM corridor.trips WHERE status = 'disarmed'") == 0; i++)
        usleep(100 * 1000);
    ck_assert_int_eq(q("SELECT count(*) FROM corridor.trips WHERE status = 'disarmed'"), 1);
    /* the opening was the unseal's effect, not a seal_opened */
    usleep(500 * 1000);
    ck_assert_int_eq(q("SELECT count(*) FROM corridor.incidents"), 0);
    ck_assert_int_eq(q("SELECT count(*) FROM corridor.events WHERE kind = 'trip_disarmed'"), 1);
    close(d.fd);
}
END_TEST

START_TEST(precise_refusals)
{
    /* OsmAnd cannot take commands */
    ck_assert_int_eq(
        api(officer_a, "POST", "/api/seals/OSM-1/commands", "{\"command\": \"locate\"}"), 409);
    ck_assert_str_eq(json_str("error"), "not_commandable");
    ck_assert_int_eq(
        api(officer_a, "POST", "/api/seals/" SEAL "/commands", "{\"command\": \"fly\"}"), 422);
    ck_assert_str_eq(json_str("error"), "unknown_command");
    ck_assert_int_eq(api(officer_a, "POST", "/api/seals/" SEAL "/commands",
                         "{\"command\": \"set_interval\", \"params\": {\"seconds\": 0}}"),
                     422);
    ck_assert_str_eq(json_str("field"), "params.seconds");
    ck_assert_int_eq(api(officer_a, "POST", "/api/seals/" SEAL "/commands",
                         "{\"command\": \"set_interval\", \"params\": {\"minutes\": 3}}"),
                     422);
    ck_assert_str_eq(json_str("field"), "params.minutes");
    ck_assert_int_eq(api(officer_a, "POST", "/api/seals/" SEAL "/commands",
                         "{\"command\": \"locate\", \"expires_at\": \"yesterday\"}"),
                     422);
    ck_assert_str_eq(json_str("error"), "bad_expires_at");
    ck_assert_int_eq(api(officer_a, "POST", "/api/seals/" SEAL "/commands", "{\"command\": 5}"),
                     422);
    ck_assert_int_eq(api(officer_a, "POST", "/api/seals/" SEAL "/commands", "[1]"), 400);
    ck_assert_int_eq(
        api(officer_a, "POST", "/api/seals/" SEAL "/commands", "{\"command\": \"locate\","), 400);
    ck_assert_int_eq(api(officer_a, "POST", "/api/seals/" SEAL "/commands",
                         "{\"command\": \"locate\", \"colour\": \"red\"}"),
                     422);
    ck_assert_int_eq(
        api(officer_a, "POST", "/api/seals/NOPE/commands", "{\"command\": \"locate\"}"), 404);
    ck_assert_int_eq(api(officer_a, "GET", "/api/seals/NOPE/commands", NULL), 404);
    ck_assert_int_eq(api(officer_a, "DELETE", "/api/seals/" SEAL "/commands/99999", NULL), 404);
    ck_assert_int_eq(api(officer_a, "DELETE", "/api/seals/" SEAL "/commands/x1", NULL), 404);
    ck_assert_int_eq(api(NULL, "POST", "/api/seals/" SEAL "/commands", "{\"command\": \"locate\"}"),
                     401);
    ck_assert_int_eq(q("SELECT count(*) FROM corridor.commands"), 0);
}
END_TEST

/* The modules (proto.c) and the database (corridor.protocol_commands) say the same. */
START_TEST(protocols_say_what_the_database_says)
{
    int n_c = 0;
    for (int i = 0; i < ingest_n_protocols; i++) {
        const ingest_protocol *p = ingest_protocols[i];
        for (const char *const *c = p->commands; c && *c; c++, n_c++) {
            const char *v[2] = {p->name, *c};
            ck_assert_msg(
                harness_query_long_params(db,
                                          "SELECT count(*) FROM corridor.protocol_commands"
                                          " WHERE protocol = $1 AND command = $2",
                                          2, v) == 1,
                "%s takes %s, the database does not say so", p->name, *c);
        }
    }
    ck_assert_int_gt(n_c, 0);
    ck_assert_int_eq(q("SELECT count(*) FROM corridor.protocol_commands"), n_c);
    ck_assert(!ingest_protocol_takes(ingest_protocol_find("osmand"), "locate"));
    ck_assert(ingest_protocol_takes(ingest_protocol_find("jt808"), "unseal"));
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("commands");
    TCase *tc = tcase_create("commands");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, set_interval_acknowledged_then_confirmed);
    tcase_add_test(tc, locate_answered_with_a_stored_position);
    tcase_add_test(tc, offline_seal_gets_its_commands_after_a_restart);
    tcase_add_test(tc, refused_or_unanswered_ends_failed);
    tcase_add_test(tc, deadline_passes_expired_never_sent);
    tcase_add_test(tc, cancel_only_before_sending);
    tcase_add_test(tc, unseal_outside_destination_needs_a_second_officer);
    tcase_add_test(tc, disarm_at_destination_unseals_and_ends_the_trip);
    tcase_add_test(tc, precise_refusals);
    tcase_add_test(tc, protocols_say_what_the_database_says);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *r = srunner_create(suite());
    srunner_set_fork_status(r, CK_NOFORK);
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? 1 : 0;
}
