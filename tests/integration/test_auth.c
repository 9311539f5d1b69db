/*
 * test_auth.c: access control against the real corridord (docs/security.md): every route
 * of web_routes with every role's token, no token, a bad token and a revoked token,
 * expecting exactly what the route table allows (admin always); /ws the same way; the
 * rate per token (429 with Retry-After); tokens never in the log; and the partner API:
 * a trip through KE into UG and a KE-only trip, seen by UG, KE, RW partners and an admin,
 * each query audited.
 */
#include "harness.h"
#include "web_int.h"

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static harness_server srv;
static const char *conninfo;
static PGconn *db;

static const struct {
    const char *name;
    int bit;
} roles[] = {
    {"admin", WEB_ROLE_ADMIN}, {"officer", WEB_ROLE_OFFICER}, {"arming", WEB_ROLE_ARMING},
    {"rru", WEB_ROLE_RRU},     {"partner", WEB_ROLE_PARTNER},
};
#define N_ROLES (sizeof roles / sizeof roles[0])
static char tokens[N_ROLES][96];

static void setup(void)
{
    static char ci[128];
    snprintf(ci, sizeof ci, "%s", harness_db_create("auth_test"));
    conninfo = ci;
    harness_server_start(&srv, conninfo, NULL);
    db = harness_connect(conninfo);
    harness_exec(db, "INSERT INTO corridor.rrus (id, name, base) VALUES "
                     "('U1', 'Unit one', 'SRID=4326;POINT(36.8 -1.3)')");
    for (size_t i = 0; i < N_ROLES; i++)
        snprintf(tokens[i], sizeof tokens[i], "%s",
                 harness_token_create(conninfo, roles[i].name,
                                      strcmp(roles[i].name, "rru") == 0       ? "U1"
                                      : strcmp(roles[i].name, "partner") == 0 ? "UG"
                                                                              : NULL));
}

static void teardown(void)
{
    if (srv.pid > 0)
        harness_server_stop(&srv, 0);
    PQfinish(db);
}

/* A concrete path for a route pattern. */
static void concrete(const char *pattern, char *out, size_t n)
{
    size_t o = 0;
    if (strcmp(pattern, "/*") == 0) {
        snprintf(out, n, "/index.html");
        return;
    }
    for (const char *p = pattern; *p && o + 16 < n; p++) {
        if (*p == '{') {
            const char *e = strchr(p, '}');
            int mmsi = strncmp(p, "{mmsi}", 6) == 0;
            o += (size_t)snprintf(out + o, n - o, "%s", mmsi ? "636012345" : "1");
            p = e;
        } else if (*p == '*') {
            o += (size_t)snprintf(out + o, n - o, "nothing");
        } else {
            out[o++] = *p;
        }
    }
    out[o] = '\0';
}

static const char *method_of(int mask)
{
    if (mask == WEB_ANY || (mask & WEB_GET))
        return "GET";
    if (mask & WEB_POST)
        return "POST";
    if (mask & WEB_DELETE)
        return "DELETE";
    return "PUT";
}

/* 1 if the answer is the gateway's own refusal (not a handler's answer). */
static int refused_by_auth(int status, const char *body)
{
    return status == 401 || (status == 403 && strstr(body, "role may not use"));
}

START_TEST(route_role_matrix)
{
    static char resp[1 << 20];
    char path[256];
    int checked = 0;
    /* a revoked token: made, revoked with the command, refused from its first use */
    char revoked[96];
    snprintf(revoked, sizeof revoked, "%s", harness_token_create(conninfo, "officer", NULL));
    long rid = harness_query_long(db, "SELECT max(id) FROM corridor.tokens");
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s/corridord token revoke %ld --db '%s' 2>/dev/null",
             getenv("CORRIDOR_BUILD"), rid, conninfo);
    ck_assert_int_eq(system(cmd), 0);
    ck_assert_int_ne(system(cmd), 0); /* already revoked */

    for (size_t i = 0; i < web_n_routes; i++) {
        const web_route *r = &web_routes[i];
        const char *m = method_of(r->methods);
        const char *body = strcmp(m, "POST") == 0 ? "{}" : NULL;
        concrete(r->pattern, path, sizeof path);
        int open = (r->roles & WEB_ROLE_ANYONE) || (r->roles & WEB_ROLE_LOOPBACK);
        /* no token, a malformed one, an unknown one, a revoked one */
        const char *nobody[] = {NULL, "x y", "cor_0000000000000000000000000000000000000000",
                                revoked};
        for (size_t k = 0; k < sizeof nobody / sizeof nobody[0]; k++) {
            int st = harness_http_as(srv.http_port, nobody[k], m, path,
                                     body ? "application/json" : NULL, body, resp, sizeof resp);
            if (open)
                ck_assert_msg(!refused_by_auth(st, resp), "%s %s without a token: %d %s", m, path,
                              st, resp);
            else
                ck_assert_msg(st == 401 && strstr(resp, "\"error\":\"unauthorized\""),
                              "%s %s with token #%zu: %d %s", m, path, k, st, resp);
            checked++;
        }
        for (size_t k = 0; k < N_ROLES; k++) {
            int st = harness_http_as(srv.http_port, tokens[k], m, path,
                                     body ? "application/json" : NULL, body, resp, sizeof resp);
            int allowed = open || roles[k].bit == WEB_ROLE_ADMIN || (r->roles & roles[k].bit);
            if (allowed)
                ck_assert_msg(!refused_by_auth(st, resp) && st > 0, "%s %s as %s: %d %s", m, path,
                              roles[k].name, st, resp);
            else
                ck_assert_msg(st == 403 && strstr(resp, "\"error\":\"forbidden\""),
                              "%s %s as %s: expected 403, got %d %s", m, path, roles[k].name, st,
                              resp);
            checked++;
        }
    }
    ck_assert_int_ge(checked, (int)web_n_routes * 9);
    /* the table's contract in a few concrete lines (docs/security.md) */
    ck_assert_int_eq(harness_http_as(srv.http_port, tokens[2], "GET", "/api/incidents", NULL, NULL,
                                     resp, sizeof resp),
                     403);
    ck_assert_int_eq(harness_http_as(srv.http_port, tokens[2], "GET", "/api/seals", NULL, NULL,
                                     resp, sizeof resp),
                     200);
    ck_assert_int_eq(harness_http_as(srv.http_port, tokens[4], "GET", "/api/trips", NULL, NULL,
                                     resp, sizeof resp),
                     403);
    ck_assert_int_eq(
        harness_http_as(srv.http_port, NULL, "GET", "/api/health", NULL, NULL, resp, sizeof resp),
        200);
    /* the last use is recorded, never the token */
    ck_assert_int_ge(harness_query_long(db, "SELECT count(*) FROM corridor.tokens"
                                            " WHERE last_used_at IS NOT NULL"),
                     (long)N_ROLES);
    ck_assert_int_eq(harness_query_long(db, "SELECT count(*) FROM corridor.tokens"
                                            " WHERE length(hash) <> 32"),
                     0);
}
END_TEST

/* The raw answer (head and body) of req sent on a new connection. */
static int raw(int port, const char *req, char *out, size_t n)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert(fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0);
    ck_assert(write(fd, req, strlen(req)) == (ssize_t)strlen(req));
    size_t got = 0;
    struct timeval tv = {2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    for (;;) {
        ssize_t r = read(fd, out + got, n - 1 - got);
        if (r <= 0)
            break;
        got += (size_t)r;
        /* a websocket stays open: its head is enough */
        if (strstr(out, " 101 ") && strstr(out, "\r\n\r\n"))
            break;
    }
    close(fd);
    out[got] = '\0';
    int status = -1;
    sscanf(out, "HTTP/1.%*d %d", &status);
    return status;
}

static int ws_status(const char *query, const char *auth)
{
    char req[1024], out[8192];
    snprintf(req, sizeof req,
             "GET /ws%s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
             "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
             "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: corridor.v1\r\n%s%s%s\r\n",
             query, auth ? "Authorization: Bearer " : "", auth ? auth : "", auth ? "\r\n" : "");
    return raw(srv.http_port, req, out, sizeof out);
}

START_TEST(websocket_roles)
{
    char q[160];
    ck_assert_int_eq(ws_status("", NULL), 401);
    ck_assert_int_eq(ws_status("?token=cor_nothing", NULL), 401);
    for (size_t k = 0; k < N_ROLES; k++) {
        snprintf(q, sizeof q, "?token=%s", tokens[k]);
        int want = (WEB_WS_ROLES | WEB_ROLE_ADMIN) & roles[k].bit ? 101 : 403;
        ck_assert_msg(ws_status(q, NULL) == want, "/ws as %s", roles[k].name);
        ck_assert_msg(ws_status("", tokens[k]) == want, "/ws as %s (header)", roles[k].name);
    }
}
END_TEST

START_TEST(rate_per_token_and_no_token_in_logs)
{
    harness_server_stop(&srv, 0);
    harness_server_start(&srv, conninfo, "--rate-per-token", "2", "--rate-burst", "5", NULL);
    char req[1024], out[8192];
    snprintf(req, sizeof req,
             "GET /api/seals HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
             "Authorization: Bearer %s\r\n\r\n",
             tokens[1]);
    int last = 0, n = 0;
    for (; n < 20 && (last = raw(srv.http_port, req, out, sizeof out)) == 200; n++)
        ;
    ck_assert_int_eq(last, 429);
    ck_assert_int_ge(n, 5);
    ck_assert_msg(strstr(out, "retry-after: 1\r\n") || strstr(out, "Retry-After: 1\r\n"),
                  "no Retry-After: %s", out);
    ck_assert_ptr_nonnull(strstr(out, "\"error\":\"rate_limited\""));
    /* another token is not slowed by the first */
    char resp[4096];
    ck_assert_int_eq(harness_http_as(srv.http_port, tokens[2], "GET", "/api/seals", NULL, NULL,
                                     resp, sizeof resp),
                     200);
    sleep(1);
    ck_assert_int_eq(raw(srv.http_port, req, out, sizeof out), 200);

    /* a forbidden call is logged by token id and name, never by the token */
    ck_assert_int_eq(harness_http_as(srv.http_port, tokens[4], "GET", "/api/seals", NULL, NULL,
                                     resp, sizeof resp),
                     403);
    harness_server_stop(&srv, 0);
    FILE *f = fopen(srv.log, "r");
    ck_assert_ptr_nonnull(f);
    static char log[1 << 22];
    size_t len = fread(log, 1, sizeof log - 1, f);
    fclose(f);
    log[len] = '\0';
    for (size_t k = 0; k < N_ROLES; k++)
        ck_assert_msg(strstr(log, tokens[k] + 4) == NULL, "token of %s in the log", roles[k].name);
    ck_assert_ptr_nonnull(strstr(log, "(partner-UG, partner) forbidden on /api/seals"));
}
END_TEST

/* The first non-loopback IPv4 address of this machine into buf, or 0 when it has none. */
static int outside_address(char *buf, size_t n)
{
    FILE *p = popen("hostname -I 2>/dev/null", "r");
    char line[256] = "";
    if (!p)
        return 0;
    if (!fgets(line, sizeof line, p))
        line[0] = '\0';
    pclose(p);
    for (char *t = strtok(line, " \n"); t; t = strtok(NULL, " \n"))
        if (strchr(t, '.') && strncmp(t, "127.", 4) != 0) {
            snprintf(buf, n, "%s", t);
            return 1;
        }
    return 0;
}

/* One GET to addr:port with token (or none); returns the status. */
static int get_at(const char *addr, int port, const char *token, const char *path)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, addr, &a.sin_addr);
    ck_assert(fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0);
    char req[512], out[4096];
    int n = snprintf(
        req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n%s%s%s\r\n", path,
        token ? "Authorization: Bearer " : "", token ? token : "", token ? "\r\n" : "");
    ck_assert(write(fd, req, (size_t)n) == n);
    ssize_t got = read(fd, out, sizeof out - 1);
    close(fd);
    out[got > 0 ? got : 0] = '\0';
    int status = -1;
    sscanf(out, "HTTP/1.%*d %d", &status);
    return status;
}

START_TEST(metrics_off_loopback_needs_admin)
{
    char addr[64], http[96];
    if (!outside_address(addr, sizeof addr))
        return; /* no interface but loopback: nothing to test here */
    harness_server_stop(&srv, 0);
    int port = harness_free_port();
    snprintf(http, sizeof http, "%s:%d", addr, port);
    /* the harness waits on 127.0.0.1, which this server does not serve: start it alone */
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "%s/corridord --db '%s' --http %s --osmand '' --jt808 '' --ais '' --dispatch "
             "tcp://127.0.0.1:%d --events-url inproc://metrics-%d > %s/test-logs/metrics-%d.log "
             "2>&1 & echo $!",
             getenv("CORRIDOR_BUILD"), conninfo, http, harness_free_port(), port,
             getenv("CORRIDOR_BUILD"), port);
    FILE *p = popen(cmd, "r");
    int pid = 0;
    ck_assert(p && fscanf(p, "%d", &pid) == 1);
    pclose(p);
    int up = 0;
    for (int i = 0; i < 100 && !up; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        inet_pton(AF_INET, addr, &a.sin_addr);
        up = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
        close(fd);
        if (!up)
            usleep(100 * 1000);
    }
    ck_assert_msg(up, "corridord on %s did not start", http);
    int none = get_at(addr, port, NULL, "/metrics"),
        officer = get_at(addr, port, tokens[1], "/metrics"),
        admin = get_at(addr, port, tokens[0], "/metrics");
    kill(pid, SIGTERM);
    usleep(500 * 1000);
    ck_assert_int_eq(none, 401);
    ck_assert_int_eq(officer, 403);
    ck_assert_int_eq(admin, 200);
}
END_TEST

/* ---- the partner API ---- */

static void seed_trips(void)
{
    harness_exec(db, "SELECT corridor.route_create('{\"name\":\"Nairobi-Kampala\",\"geometry\":"
                     "{\"type\":\"LineString\",\"coordinates\":[[36.82,-1.29],[35.27,0.51],"
                     "[34.11,0.61],[32.58,0.32]]},\"corridor_m\":5000,"
                     "\"max_transit_minutes\":5000}')");
    harness_exec(db, "SELECT corridor.route_create('{\"name\":\"Mombasa-Nairobi\",\"geometry\":"
                     "{\"type\":\"LineString\",\"coordinates\":[[39.66,-4.04],[36.82,-1.29]]},"
                     "\"corridor_m\":5000,\"max_transit_minutes\":5000}')");
    harness_exec(db, "INSERT INTO corridor.trips (id, seal_id, route_id, origin_id, destination_id,"
                     " plate, container, declaration, armed_at, deadline, origin_country) VALUES"
                     " ('00000000-0000-0000-0000-00000000000a', 'SA',"
                     "  (SELECT id FROM corridor.routes WHERE name = 'Nairobi-Kampala'), 0, 0,"
                     "  'KCA 123A', 'MSCU1234565', 'KE-2026-0001', '2026-11-20T06:00Z',"
                     "  '2026-11-23T06:00Z', 'KE'),"
                     " ('00000000-0000-0000-0000-00000000000b', 'SB',"
                     "  (SELECT id FROM corridor.routes WHERE name = 'Mombasa-Nairobi'), 0, 0,"
                     "  'KCB 456B', 'TGHU7654328', 'KE-2026-0002', '2026-11-20T06:00Z',"
                     "  '2026-11-23T06:00Z', 'KE')");
    harness_exec(db, "INSERT INTO corridor.trip_legs (trip_id, seal_id, country, entered_at,"
                     " entry_lat, entry_lon, exited_at) VALUES"
                     " ('00000000-0000-0000-0000-00000000000a', 'SA', 'KE', '2026-11-20T06:00Z',"
                     "  -1.29, 36.82, '2026-11-20T14:00Z'),"
                     " ('00000000-0000-0000-0000-00000000000a', 'SA', 'UG', '2026-11-20T14:00Z',"
                     "  0.61, 34.08, NULL),"
                     " ('00000000-0000-0000-0000-00000000000b', 'SB', 'KE', '2026-11-20T06:00Z',"
                     "  -4.04, 39.66, NULL)");
    harness_exec(db, "INSERT INTO corridor.positions (seal_id, ts, lat, lon) VALUES"
                     " ('SA', '2026-11-20T06:00Z', -1.29, 36.82),"
                     " ('SA', '2026-11-20T10:00Z', 0.51, 35.27),"
                     " ('SA', '2026-11-20T13:50Z', 0.62, 34.20),"
                     " ('SA', '2026-11-20T14:10Z', 0.60, 34.00),"
                     " ('SA', '2026-11-20T18:00Z', 0.32, 32.58),"
                     " ('SB', '2026-11-20T06:00Z', -4.04, 39.66),"
                     " ('SB', '2026-11-20T12:00Z', -1.29, 36.82)");
}

static int partner_get(const char *token, const char *query, char *resp, size_t n)
{
    char path[256];
    snprintf(path, sizeof path, "/api/partner/trips%s", query);
    return harness_http_as(srv.http_port, token, "GET", path, NULL, NULL, resp, n);
}

START_TEST(partner_sees_only_its_crossings)
{
    static char resp[1 << 18];
    seed_trips();
    char ke[96], rw[96];
    snprintf(ke, sizeof ke, "%s", harness_token_create(conninfo, "partner", "KE"));
    snprintf(rw, sizeof rw, "%s", harness_token_create(conninfo, "partner", "RW"));
    const char *ug = tokens[4];
    long ug_id = harness_query_long(db, "SELECT id FROM corridor.tokens WHERE country = 'UG'");

    /* UG: the trip that entered Uganda, with its crossing and the track near Uganda */
    ck_assert_int_eq(partner_get(ug, "?since=2026-11-19&until=2026-11-26", resp, sizeof resp), 200);
    ck_assert_msg(strstr(resp, "\"total\" : 1") && strstr(resp, "00000000000a") &&
                      !strstr(resp, "00000000000b"),
                  "%s", resp);
    ck_assert_ptr_nonnull(strstr(resp, "\"plate\" : \"KCA 123A\""));
    ck_assert_ptr_nonnull(strstr(resp, "\"declaration\" : \"KE-2026-0001\""));
    ck_assert_ptr_nonnull(strstr(resp, "\"name\" : \"Nairobi-Kampala\""));
    ck_assert_ptr_nonnull(strstr(resp, "\"from\" : \"KE\", \"to\" : \"UG\""));
    ck_assert_ptr_nonnull(strstr(resp, "\"at\" : \"2026-11-20T14:00:00.000Z\""));
    ck_assert_ptr_nonnull(strstr(resp, "\"coordinates\" : [34.08, 0.61]"));
    ck_assert_ptr_nonnull(strstr(resp, "\"status\" : \"armed\""));
    /* the track is clipped: Kampala and the Malaba approach, not Nairobi or Eldoret */
    ck_assert_ptr_nonnull(strstr(resp, "\"track\" : {\"type\":\"LineString\""));
    ck_assert_ptr_nonnull(strstr(resp, "[32.58,0.32]"));
    ck_assert_ptr_null(strstr(resp, "36.82"));
    ck_assert_ptr_null(strstr(resp, "35.27"));

    /* KE: the same trip left Kenya; the Kenya-only trip is nobody's business */
    ck_assert_int_eq(partner_get(ke, "?since=2026-11-19", resp, sizeof resp), 200);
    ck_assert_msg(strstr(resp, "00000000000a") && !strstr(resp, "00000000000b"), "%s", resp);
    /* RW: nothing crossed into Rwanda */
    ck_assert_int_eq(partner_get(rw, "?since=2026-11-19", resp, sizeof resp), 200);
    ck_assert_msg(strstr(resp, "\"total\" : 0") && strstr(resp, "\"trips\" : []"), "%s", resp);
    /* outside the time window: nothing */
    ck_assert_int_eq(partner_get(ug, "?since=2026-11-01&until=2026-11-10", resp, sizeof resp), 200);
    ck_assert_ptr_nonnull(strstr(resp, "\"total\" : 0"));
    /* pages */
    ck_assert_int_eq(partner_get(ug, "?since=2026-11-19&page=2", resp, sizeof resp), 200);
    ck_assert_msg(strstr(resp, "\"total\" : 1") && strstr(resp, "\"trips\" : []"), "%s", resp);
    /* a partner cannot ask for another country; an admin must name one */
    ck_assert_int_eq(partner_get(ug, "?country=KE", resp, sizeof resp), 403);
    ck_assert_int_eq(partner_get(tokens[0], "", resp, sizeof resp), 400);
    ck_assert_int_eq(partner_get(tokens[0], "?country=UG&since=2026-11-19", resp, sizeof resp),
                     200);
    ck_assert_ptr_nonnull(strstr(resp, "00000000000a"));
    /* refused queries */
    ck_assert_int_eq(partner_get(ug, "?since=yesterday", resp, sizeof resp), 400);
    ck_assert_int_eq(partner_get(ug, "?page=0", resp, sizeof resp), 400);
    ck_assert_int_eq(partner_get(ug, "?since=2026-11-20&until=2026-11-01", resp, sizeof resp), 422);
    /* an officer is not a partner */
    ck_assert_int_eq(partner_get(tokens[1], "", resp, sizeof resp), 403);

    /* every partner query is audited with its token, country, row count and answer: six
     * answered, five refused (the officer's never reached the partner API) */
    ck_assert_int_eq(harness_query_long(db, "SELECT count(*) FROM corridor.partner_audit"), 11);
    ck_assert_int_eq(harness_query_long(db, "SELECT count(*) FROM corridor.partner_audit"
                                            " WHERE status <> 200 AND rows = 0"),
                     5);
    ck_assert_int_eq(harness_query_long(db, "SELECT count(*) FROM corridor.partner_audit"
                                            " WHERE status = 403 AND query = "
                                            "'/api/partner/trips?country=KE' AND country = 'UG'"),
                     1);
    char sql[256];
    snprintf(
        sql, sizeof sql,
        "SELECT count(*) FROM corridor.partner_audit WHERE token_id = %ld AND country = 'UG'"
        " AND rows = 1 AND query LIKE '/api/partner/trips?since=2026-11-19&until=2026-11-26%%'",
        ug_id);
    ck_assert_int_eq(harness_query_long(db, sql), 1);
    ck_assert_int_eq(harness_query_long(db, "SELECT count(*) FROM corridor.partner_audit"
                                            " WHERE country = 'RW' AND rows = 0"),
                     1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("auth");
    TCase *tc = tcase_create("auth");
    tcase_set_timeout(tc, 180);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, route_role_matrix);
    tcase_add_test(tc, websocket_roles);
    tcase_add_test(tc, rate_per_token_and_no_token_in_logs);
    tcase_add_test(tc, partner_sees_only_its_crossings);
    tcase_add_test(tc, metrics_off_loopback_needs_admin);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
