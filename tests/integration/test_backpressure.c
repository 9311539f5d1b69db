/*
 * test_backpressure.c: storage slower than ingest. With the database held back and both
 * of the worker's batches full, OsmAnd devices are not refused: their pings wait (their
 * connections are not read meanwhile) and every one is stored and answered 200 once the
 * database moves again. Nothing grows without bound: the batches hold batch-max each.
 */
#include "harness.h"

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define DEVICES 12

START_TEST(devices_wait_instead_of_503)
{
    harness_server srv;
    const char *db = harness_db_create("corridor_test_backpressure");
    /* two observations per batch: 4 fill the batch in flight and the open one */
    harness_server_start(&srv, db, "--workers", "1", "--batch-max", "2", NULL);
    PGconn *c = harness_connect(db);
    harness_exec(c, "INSERT INTO corridor.seals(id, protocol, device_id) SELECT 'B' || i, "
                    "'osmand', 'B' || i FROM generate_series(1, 12) i");
    PGconn *blocker = harness_connect(db);
    harness_exec(blocker, "BEGIN");
    harness_exec(blocker, "LOCK TABLE corridor.latest IN ACCESS EXCLUSIVE MODE");

    int fds[DEVICES];
    long t = (long)time(NULL) - 60;
    for (int i = 0; i < DEVICES; i++) {
        struct sockaddr_in a = {.sin_family = AF_INET,
                                .sin_port = htons((uint16_t)srv.osmand_port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        ck_assert(connect(fds[i], (struct sockaddr *)&a, sizeof a) == 0);
        char req[256];
        int n = snprintf(req, sizeof req,
                         "GET /?id=B%d&lat=-1.2&lon=36.8&timestamp=%ld HTTP/1.1\r\nHost: x\r\n"
                         "Connection: close\r\n\r\n",
                         i + 1, t);
        ck_assert_int_eq(write(fds[i], req, (size_t)n), n);
    }
    /* nobody is answered while nothing can be stored: no 503 either */
    for (int i = 0; i < DEVICES; i++) {
        struct pollfd p = {fds[i], POLLIN, 0};
        ck_assert_msg(poll(&p, 1, i == 0 ? 1500 : 10) == 0, "device %d was answered", i + 1);
    }
    harness_exec(blocker, "COMMIT");
    for (int i = 0; i < DEVICES; i++) {
        char buf[512] = "";
        struct pollfd p = {fds[i], POLLIN, 0};
        ck_assert_msg(poll(&p, 1, 15000) == 1, "device %d never answered", i + 1);
        ck_assert(read(fds[i], buf, sizeof buf - 1) > 0);
        ck_assert_msg(strncmp(buf, "HTTP/1.1 200", 12) == 0, "device %d: %s", i + 1, buf);
        close(fds[i]);
    }
    ck_assert_int_eq(harness_query_long(c, "SELECT count(*) FROM corridor.positions"), DEVICES);
    PQfinish(blocker);
    PQfinish(c);
    harness_server_stop(&srv, 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("backpressure");
    TCase *tc = tcase_create("osmand");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, devices_wait_instead_of_503);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
