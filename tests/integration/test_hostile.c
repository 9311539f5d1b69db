/*
 * test_hostile.c: hostile input against the real corridord (docs/security.md, "Hostile
 * input"). Malformed JSON, wrong types, huge numbers, NaN and infinite coordinates,
 * GeoJSON with too many vertices or too deep nesting, bodies over the limit, invalid
 * UTF-8, SQL metacharacters in string fields, path traversal on the static files and
 * unknown fields: each gets its precise 4xx and nothing is stored. Meanwhile a second
 * client (a child process with its own token) keeps asking for /api/seals and must get
 * 200 every time, during and after. Also: connections per address.
 */
#include "harness.h"

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static harness_server srv;
static PGconn *db;
static char resp[1 << 16];

static const char *const tables[] = {
    "SELECT count(*) FROM corridor.seals",    "SELECT count(*) FROM corridor.geofences",
    "SELECT count(*) FROM corridor.routes",   "SELECT count(*) FROM corridor.trips",
    "SELECT count(*) FROM corridor.rrus",     "SELECT count(*) FROM corridor.watchlist",
    "SELECT count(*) FROM corridor.incidents"};
#define N_TABLES (sizeof tables / sizeof tables[0])

static void counts(long *out)
{
    for (size_t i = 0; i < N_TABLES; i++)
        out[i] = harness_query_long(db, tables[i]);
}

static int post(const char *path, const char *body)
{
    return harness_http(srv.http_port, "POST", path, "application/json", body, resp, sizeof resp);
}

/* Asserts that POST path body answers status with error code. */
#define REFUSED(path, body, status, code)                                                          \
    do {                                                                                           \
        int st_ = post(path, body);                                                                \
        ck_assert_msg(st_ == (status) && strstr(resp, "\"error\":\"" code "\""),                   \
                      "POST %s: expected %d %s, got %d %.300s", path, status, code, st_, resp);    \
    } while (0)

/* ---- the other client: GET /api/seals every 20 ms, one byte per answer on a pipe ---- */
static pid_t other;
static int other_fd;

static void other_start(const char *token)
{
    int p[2];
    ck_assert(pipe(p) == 0);
    other = fork();
    ck_assert(other >= 0);
    if (other == 0) {
        close(p[0]);
        static char buf[1 << 16];
        for (;;) {
            int st = harness_http_as(srv.http_port, token, "GET", "/api/seals", NULL, NULL, buf,
                                     sizeof buf);
            char c = st == 200 ? 'o' : 'x';
            if (write(p[1], &c, 1) != 1)
                _exit(0);
            struct timespec ts = {0, 20 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    close(p[1]);
    other_fd = p[0];
}

/* Stops the other client; returns its answers (ok, failed). */
static void other_stop(int *ok, int *bad)
{
    kill(other, SIGKILL);
    waitpid(other, NULL, 0);
    char buf[4096];
    ssize_t n;
    *ok = *bad = 0;
    while ((n = read(other_fd, buf, sizeof buf)) > 0)
        for (ssize_t i = 0; i < n; i++)
            (buf[i] == 'o' ? ok : bad)[0]++;
    close(other_fd);
}

static void setup(void)
{
    static char ci[128];
    snprintf(ci, sizeof ci, "%s", harness_db_create("hostile_test"));
    harness_server_start(&srv, ci, "--conn-per-ip", "64", NULL);
    db = harness_connect(ci);
}

static void teardown(void)
{
    if (srv.pid > 0)
        harness_server_stop(&srv, 0);
    PQfinish(db);
}

/* POSTs body's length as Content-Length but sends only its first 64 KiB, then reads the
 * answer (the server must answer from the header). Returns the status. */
static int declared_post(const char *path, const char *body)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)srv.http_port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert(fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0);
    char head[512];
    int hl = snprintf(head, sizeof head,
                      "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      "Authorization: Bearer %s\r\nContent-Length: %zu\r\n\r\n",
                      path, srv.token, strlen(body));
    ck_assert(write(fd, head, (size_t)hl) == hl);
    ck_assert(write(fd, body, 65536) == 65536);
    size_t got = 0;
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ssize_t r;
    while (got < sizeof resp - 1 && (r = read(fd, resp + got, sizeof resp - 1 - got)) > 0)
        got += (size_t)r;
    resp[got] = '\0';
    close(fd);
    int status = -1;
    sscanf(resp, "HTTP/1.%*d %d", &status);
    return status;
}

/* A Feature body whose ring has n vertices (malloc'd): the corners of a one-degree
 * square over and over, six bytes a vertex, so 120,000 fit in the body limit. */
static char *many_vertices(long n)
{
    static const char *const corner[] = {"[36,-1],", "[37,-1],", "[37,0],", "[36,0],"};
    size_t cap = (size_t)n * 10 + 256, o = 0;
    char *b = malloc(cap);
    ck_assert_ptr_nonnull(b);
    o += (size_t)snprintf(b, cap,
                          "{\"type\":\"Feature\",\"properties\":{\"name\":\"Big\",\"kind\":"
                          "\"restricted\"},\"geometry\":{\"type\":\"Polygon\",\"coordinates\":[[");
    for (long i = 0; i < n - 1; i++)
        o += (size_t)snprintf(b + o, cap - o, "%s", corner[i % 4]);
    snprintf(b + o, cap - o, "[36,-1]]]}}");
    return b;
}

START_TEST(every_hostile_request_is_refused_and_others_are_served)
{
    long before[N_TABLES], after[N_TABLES];
    signal(SIGPIPE, SIG_IGN); /* a refused upload may close before it is all sent */
    char other_token[96];
    snprintf(other_token, sizeof other_token, "%s", harness_token_create(srv.db, "officer", NULL));
    harness_exec(db, "INSERT INTO corridor.rrus (id, name, base) VALUES "
                     "('U1', 'Unit', 'SRID=4326;POINT(36.8 -1.3)')");
    counts(before);
    other_start(other_token);

    /* malformed JSON */
    REFUSED("/api/seals", "{\"id\":", 400, "malformed_json");
    REFUSED("/api/seals", "{\"id\":\"S\"} trailing", 400, "malformed_json");
    REFUSED("/api/geofences", "{\"type\" \"Feature\"}", 400, "malformed_json");
    REFUSED("/api/rrus", "", 400, "empty_body");
    REFUSED("/api/routes", "[1,2,3]", 400, "malformed_json");
    REFUSED("/api/incidents/1/actions", "\"ack\"", 400, "malformed_json");

    /* wrong types */
    REFUSED("/api/seals", "{\"id\":5}", 422, "invalid_field");
    REFUSED("/api/seals", "{\"id\":\"S\",\"protocol\":[\"osmand\"]}", 422, "invalid_field");
    REFUSED("/api/geofences", "{\"type\":\"Feature\",\"properties\":[1],\"geometry\":{}}", 422,
            "invalid_feature");
    REFUSED("/api/rrus",
            "{\"id\":\"U9\",\"name\":7,\"base\":{\"type\":\"Point\",\"coordinates\":[36,-1]}}", 422,
            "invalid_field");
    REFUSED("/api/watchlist", "{\"mmsi\":\"abc\",\"declaration\":\"d\",\"reason\":\"r\"}", 422,
            "invalid_mmsi");
    REFUSED("/api/trips",
            "{\"seal_id\":\"S1\",\"route_id\":\"x\",\"origin_id\":1,\"destination_id\":2,"
            "\"conveyance\":{\"plate\":\"p\",\"container\":\"c\"},\"declaration\":\"d\"}",
            422, "route_id_required");
    REFUSED("/api/incidents/1/actions", "{\"action\":1}", 422, "invalid_field");

    /* huge numbers */
    REFUSED("/api/watchlist",
            "{\"mmsi\":99999999999999999999999,\"declaration\":\"d\",\"reason\":\"r\"}", 422,
            "invalid_mmsi");
    REFUSED("/api/routes",
            "{\"name\":\"r\",\"geometry\":{\"type\":\"LineString\",\"coordinates\":[[36,-1],"
            "[37,-1]]},\"corridor_m\":1e300,\"max_transit_minutes\":10}",
            422, "corridor_m_invalid");
    REFUSED("/api/incidents/1/actions", "{\"action\":\"ack\",\"version\":1e30}", 422,
            "invalid_field");
    REFUSED("/api/rrus",
            "{\"id\":\"U9\",\"name\":\"n\",\"base\":{\"type\":\"Point\",\"coordinates\":[1e308,"
            "-1]}}",
            422, "invalid_geometry");

    /* NaN and infinite coordinates (json-c reads NaN and Infinity even when strict) */
    REFUSED("/api/geofences",
            "{\"type\":\"Feature\",\"properties\":{\"name\":\"Z\",\"kind\":\"restricted\"},"
            "\"geometry\":{\"type\":\"Polygon\",\"coordinates\":[[[NaN,0],[1,Infinity],[1,1],"
            "[NaN,0]]]}}",
            422, "invalid_geometry");
    REFUSED("/api/geofences",
            "{\"type\":\"Feature\",\"properties\":{\"name\":\"Z\",\"kind\":\"restricted\"},"
            "\"geometry\":{\"type\":\"Polygon\",\"coordinates\":[[[1e400,0],[1,0],[1,1],"
            "[1e400,0]]]}}",
            422, "invalid_geometry");
    REFUSED("/api/rrus",
            "{\"id\":\"U9\",\"name\":\"n\",\"base\":{\"type\":\"Point\",\"coordinates\":"
            "[-Infinity,0]}}", /* json-c reads it; PostgreSQL refuses the JSON */
            422, "invalid");

    /* an empty position: GEOS's reader would crash the server on it */
    REFUSED("/api/geofences",
            "{\"type\":\"Feature\",\"properties\":{\"name\":\"Z\",\"kind\":\"port\"},"
            "\"geometry\":{\"type\":\"Polygon\",\"coordinates\":[[[35.9,-0.1],[36.25,-0.1],"
            "[],[35.9,-0.1]]]}}",
            422, "invalid_geometry");
    REFUSED("/api/geofences",
            "{\"type\":\"Feature\",\"properties\":{\"name\":\"Z\",\"kind\":\"port\"},"
            "\"geometry\":{\"type\":\"GeometryCollection\",\"geometries\":[{\"type\":"
            "\"Point\",\"coordinates\":[]}]}}",
            422, "invalid_geometry");
    REFUSED("/api/geofences",
            "{\"type\":\"Feature\",\"properties\":{\"name\":\"Z\",\"kind\":\"port\"},"
            "\"geometry\":{\"type\":\"Polygon\",\"coordinates\":[[[1,\"a\"],[1,null]]]}}",
            422, "invalid_geometry");

    /* GeoJSON: too many vertices inside the body limit; millions past it; too deep */
    char *big = many_vertices(120000);
    REFUSED("/api/geofences", big, 422, "invalid_geometry");
    ck_assert_msg(strstr(resp, "vertices, more than the limit"), "%s", resp);
    free(big);
    /* three million vertices (about 24 MB): refused from its Content-Length, unread */
    big = many_vertices(3000000);
    ck_assert_int_eq(declared_post("/api/geofences", big), 413);
    ck_assert_ptr_nonnull(strstr(resp, "\"error\":\"body_too_large\""));
    free(big);
    size_t deep_n = 200000;
    char *deep = malloc(deep_n + 64);
    ck_assert_ptr_nonnull(deep);
    strcpy(deep, "{\"type\":\"Feature\",\"geometry\":");
    memset(deep + strlen(deep), '[', deep_n);
    deep[30 + deep_n] = '\0';
    REFUSED("/api/geofences", deep, 400, "malformed_json");
    ck_assert_ptr_nonnull(strstr(resp, "nesting too deep"));
    free(deep);

    /* invalid UTF-8: bodies, overlong forms, surrogates, the query */
    REFUSED("/api/seals", "{\"id\":\"\xff\xfe\"}", 400, "invalid_utf8");
    REFUSED("/api/rrus",
            "{\"id\":\"U9\",\"name\":\"\xc0\xaf\",\"base\":{\"type\":\"Point\",\"coordinates\":"
            "[36,-1]}}",
            400, "invalid_utf8");
    REFUSED("/api/watchlist", "{\"mmsi\":1,\"declaration\":\"\xed\xa0\x80\",\"reason\":\"r\"}", 400,
            "invalid_utf8");
    ck_assert_int_eq(harness_http(srv.http_port, "GET", "/api/incidents?status=%ff", NULL, NULL,
                                  resp, sizeof resp),
                     400);
    ck_assert_ptr_nonnull(strstr(resp, "\"error\":\"invalid_utf8\""));

    /* SQL metacharacters where an identifier is expected: refused as identifiers */
    static const char *const sqli[] = {
        "x'; DROP TABLE corridor.seals; --",      "1 OR 1=1", "\\\\x00",
        "S\\\"); DELETE FROM corridor.trips; --", "$1",       "%s%s%n"};
    for (size_t i = 0; i < sizeof sqli / sizeof sqli[0]; i++) {
        char body[512];
        snprintf(body, sizeof body, "{\"id\":\"%s\"}", sqli[i]);
        REFUSED("/api/seals", body, 422, "invalid_field");
        snprintf(body, sizeof body,
                 "{\"seal_id\":\"%s\",\"route_id\":1,\"origin_id\":1,\"destination_id\":2,"
                 "\"conveyance\":{\"plate\":\"p\",\"container\":\"MSCU1234565\"},"
                 "\"declaration\":\"d\"}",
                 sqli[i]);
        int st = post("/api/trips", body);
        ck_assert_msg(st == 404 || st == 422, "trip with seal %s: %d %s", sqli[i], st, resp);
    }
    ck_assert_int_eq(harness_http(srv.http_port, "DELETE", "/api/geofences/1%20OR%201=1", NULL,
                                  NULL, resp, sizeof resp),
                     404);
    ck_assert_int_eq(harness_http(srv.http_port, "GET", "/api/incidents/1;DROP%20TABLE%20x", NULL,
                                  NULL, resp, sizeof resp),
                     404);
    ck_assert_int_eq(harness_http(srv.http_port, "GET", "/api/rrus/suggest?incident=1'--", NULL,
                                  NULL, resp, sizeof resp),
                     404);

    /* unknown fields */
    REFUSED("/api/seals", "{\"id\":\"S-UNK\",\"bogus\":1}", 422, "unknown_field");
    ck_assert_ptr_nonnull(strstr(resp, "\\\"bogus\\\""));
    REFUSED("/api/rrus",
            "{\"id\":\"U9\",\"name\":\"n\",\"base\":{\"type\":\"Point\",\"coordinates\":[36,-1]},"
            "\"admin\":true}",
            422, "unknown_field");
    REFUSED("/api/incidents/1/actions", "{\"action\":\"ack\",\"actor\":\"mallory\"}", 422,
            "unknown_field");
    REFUSED("/api/routes", "{\"name\":\"r\",\"owner\":\"x\"}", 422, "unknown_field");

    /* path traversal on the static files: never anything outside the pages */
    static const char *const paths[] = {
        "/../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/..%2f..%2fetc%2fpasswd",
        "/vendor/../../../etc/passwd",
        "/vendor/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/.git/config",
        "/vendor/leaflet/../../CMakeLists.txt",
        "/index.html%00.js",
        "/..\\..\\etc\\passwd",
        "//etc/passwd",
    };
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        int st =
            harness_http_as(srv.http_port, NULL, "GET", paths[i], NULL, NULL, resp, sizeof resp);
        ck_assert_msg(st != 200 && !strstr(resp, "root:") && !strstr(resp, "cmake_minimum"),
                      "GET %s: %d %.200s", paths[i], st, resp);
        ck_assert_msg(st == -1 || (st >= 400 && st < 500), "GET %s: %d", paths[i], st);
    }

    /* nothing was stored */
    counts(after);
    for (size_t i = 0; i < N_TABLES; i++)
        ck_assert_msg(before[i] == after[i], "%s: %ld before, %ld after", tables[i], before[i],
                      after[i]);

    /* SQL metacharacters in free text are text: stored as given, nothing else happens */
    const char *name = "O'Brien\\\"; DROP TABLE corridor.geofences; --";
    char body[512];
    snprintf(body, sizeof body,
             "{\"type\":\"Feature\",\"properties\":{\"name\":\"%s\",\"kind\":\"parking\"},"
             "\"geometry\":{\"type\":\"Polygon\",\"coordinates\":[[[36,-1],[36.1,-1],[36.1,"
             "-0.9],[36,-1]]]}}",
             name);
    ck_assert_int_eq(post("/api/geofences", body), 201);
    ck_assert_int_eq(harness_query_long(db, "SELECT count(*) FROM corridor.geofences WHERE name = "
                                            "'O''Brien\"; DROP TABLE corridor.geofences; --'"),
                     1);

    /* and the other client was served all along, and still is */
    sleep(1);
    int ok, bad;
    other_stop(&ok, &bad);
    ck_assert_msg(bad == 0 && ok >= 10, "the other client: %d answered 200, %d not", ok, bad);
    ck_assert_int_eq(harness_http_as(srv.http_port, other_token, "GET", "/api/seals", NULL, NULL,
                                     resp, sizeof resp),
                     200);
}
END_TEST

/* Open connections from one address beyond --conn-per-ip are closed unanswered. */
START_TEST(connections_per_address)
{
    char ci[128];
    snprintf(ci, sizeof ci, "%s", srv.db);
    harness_server_stop(&srv, 0);
    harness_server_start(&srv, ci, "--conn-per-ip", "4", NULL);
    int fds[6];
    for (int i = 0; i < 6; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET,
                                .sin_port = htons((uint16_t)srv.http_port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        ck_assert(connect(fds[i], (struct sockaddr *)&a, sizeof a) == 0);
    }
    usleep(300 * 1000);
    int answered = 0;
    for (int i = 0; i < 6; i++) {
        const char *req = "GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n";
        char buf[64] = "";
        struct timeval tv = {2, 0};
        setsockopt(fds[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        if (write(fds[i], req, strlen(req)) > 0 && read(fds[i], buf, sizeof buf - 1) > 0 &&
            strncmp(buf, "HTTP/1.1 200", 12) == 0)
            answered++;
    }
    ck_assert_int_eq(answered, 4);
    for (int i = 0; i < 6; i++)
        close(fds[i]);
    usleep(300 * 1000);
    /* closed connections free their places */
    for (int i = 0; i < 8; i++)
        ck_assert_int_eq(
            harness_http(srv.http_port, "GET", "/api/health", NULL, NULL, resp, sizeof resp), 200);
    ck_assert_int_eq(harness_http(srv.http_port, "GET", "/metrics", NULL, NULL, resp, sizeof resp),
                     200);
    ck_assert_ptr_nonnull(strstr(resp, "corridor_web_connections_refused_total 2"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("hostile");
    TCase *tc = tcase_create("hostile");
    tcase_set_timeout(tc, 180);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, every_hostile_request_is_refused_and_others_are_served);
    tcase_add_test(tc, connections_per_address);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
