/*
 * test_ws_actions.c: incident actions sent over the websocket (docs/api.md: client -> server
 * "incident actions with the same shape as the REST actions"): the sender gets the
 * result, every other screen gets the incident's new state, a stale version is refused
 * with 409 and a role that may not act with 403.
 */
#include "harness.h"

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static harness_server srv;

static int ws_open(const char *token)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)srv.http_port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert(fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0);
    char req[1024];
    snprintf(req, sizeof req,
             "GET /ws?token=%s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
             "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
             "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: corridor.v1\r\n\r\n",
             token);
    ck_assert_int_eq(write(fd, req, strlen(req)), (ssize_t)strlen(req));
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

/* One masked text frame, as a browser sends it (RFC 6455 5.3). */
static void ws_send(int fd, const char *text)
{
    size_t len = strlen(text);
    unsigned char frame[4096];
    size_t h = 0;
    ck_assert(len < 65536 && len + 8 < sizeof frame);
    frame[h++] = 0x81;
    if (len < 126) {
        frame[h++] = (unsigned char)(0x80 | len);
    } else {
        frame[h++] = 0x80 | 126;
        frame[h++] = (unsigned char)(len >> 8);
        frame[h++] = (unsigned char)len;
    }
    const unsigned char mask[4] = {0x12, 0x34, 0x56, 0x78};
    memcpy(frame + h, mask, 4);
    h += 4;
    for (size_t i = 0; i < len; i++)
        frame[h + i] = (unsigned char)text[i] ^ mask[i % 4];
    ck_assert_int_eq(write(fd, frame, h + len), (ssize_t)(h + len));
}

/* Reads for up to ms; 1 once the stream holds every needle (NULL-terminated list). The
 * buffer starts empty on each call. */
static int ws_wait(int fd, int ms, const char *a, const char *b)
{
    static char buf[1 << 20];
    size_t got = 0;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        if (memmem(buf, got, a, strlen(a)) && (!b || memmem(buf, got, b, strlen(b))))
            return 1;
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long left = ms - ((now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000);
        struct pollfd p = {fd, POLLIN, 0};
        if (left <= 0 || poll(&p, 1, (int)left) <= 0)
            return 0;
        ssize_t r = read(fd, buf + got, sizeof buf - 1 - got);
        if (r <= 0)
            return 0;
        got += (size_t)r;
    }
}

START_TEST(actions_over_the_socket)
{
    const char *db = harness_db_create("corridor_test_ws_actions");
    harness_server_start(&srv, db, NULL);
    PGconn *c = harness_connect(db);
    harness_exec(c, "INSERT INTO corridor.seals(id, protocol, device_id) VALUES "
                    "('W1', 'osmand', 'W1')");
    harness_exec(c, "INSERT INTO corridor.geofences(name, kind, geom) VALUES ('Zone', "
                    "'restricted', ST_Multi(ST_MakeEnvelope(38.55,-3.05,38.65,-2.95,4326)))");
    char resp[4096], path[200];
    snprintf(path, sizeof path, "/?id=W1&lat=-3.0&lon=38.6&timestamp=%ld", (long)time(NULL) - 30);
    ck_assert_int_eq(harness_http(srv.osmand_port, "GET", path, NULL, NULL, resp, sizeof resp),
                     200);
    long id = harness_query_long(c, "SELECT id FROM corridor.incidents WHERE seal_id = 'W1'");
    long version = harness_query_long(c, "SELECT version FROM corridor.incidents WHERE id = "
                                         "(SELECT max(id) FROM corridor.incidents)");

    const char *admin = harness_token(srv.http_port);
    int a = ws_open(admin), b = ws_open(admin);
    char msg[512];
    snprintf(msg, sizeof msg,
             "{\"type\":\"action\",\"incident_id\":%ld,\"action\":\"ack\",\"version\":%ld,"
             "\"request_id\":\"r1\"}",
             id, version);
    ws_send(a, msg);
    ck_assert_msg(
        ws_wait(a, 5000, "\"type\":\"action_result\",\"request_id\":\"r1\",\"status\":200", NULL),
        "the sender got no result");
    /* the snapshot B got holds the incident as open: "acknowledged" comes with the push */
    ck_assert_msg(ws_wait(b, 5000, "\"type\"", "acknowledged"),
                  "the other screen did not see the acknowledgement");
    ck_assert_int_eq(harness_query_long(c, "SELECT count(*) FROM corridor.incidents WHERE "
                                           "status = 'acknowledged'"),
                     1);

    /* the same version again: somebody else already acted */
    snprintf(msg, sizeof msg,
             "{\"type\":\"action\",\"incident_id\":%ld,\"action\":\"note\",\"note\":\"late\","
             "\"version\":%ld,\"request_id\":\"r2\"}",
             id, version);
    ws_send(a, msg);
    ck_assert(ws_wait(a, 5000, "\"request_id\":\"r2\",\"status\":409", NULL));

    /* a malformed action, and a unit acting on an incident that is not its own */
    ws_send(a, "{\"type\":\"action\",\"incident_id\":\"x\",\"action\":\"ack\"}");
    ck_assert(ws_wait(a, 5000, "invalid_action", NULL));
    harness_exec(c, "INSERT INTO corridor.rrus(id, name, base, status) VALUES ('U1', 'Unit', "
                    "'SRID=4326;POINT(36.8 -1.3)', 'off_duty')");
    int d = ws_open(harness_token_create(db, "rru", "U1"));
    snprintf(msg, sizeof msg,
             "{\"type\":\"action\",\"incident_id\":%ld,\"action\":\"note\",\"note\":\"x\","
             "\"request_id\":\"r3\"}",
             id);
    ws_send(d, msg);
    ck_assert(ws_wait(d, 5000, "\"request_id\":\"r3\",\"status\":403", NULL));
    close(a);
    close(b);
    close(d);
    PQfinish(c);
    harness_server_stop(&srv, 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ws_actions");
    TCase *tc = tcase_create("ws");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, actions_over_the_socket);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
