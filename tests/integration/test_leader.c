/*
 * test_leader.c: two corridord instances on one database (issue 20, part 3). Both serve;
 * one leads (a session advisory lock on its own connection) and only the leader runs the
 * sweeper and the dispatch clock. The leader is killed with SIGKILL: the other becomes
 * leader within 10 s (GET /api/health says "leader":true) and its sweeper runs; the two
 * never sweep at the same time.
 *
 * Which instance swept is seen in the database: a probe function named like a sweep rule
 * (corridor.*_sweep(timestamptz), which corridor.sweep_all calls) records the
 * application_name of the session that runs it, and each instance's --db sets its own.
 */
#include "harness.h"

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TAKEOVER_BOUND_MS 10000

static int64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* 1 leader, 0 follower (the health answer says which) */
static int leads(const harness_server *s)
{
    char resp[512];
    int st = harness_http(s->http_port, "GET", "/api/health", NULL, NULL, resp, sizeof resp);
    ck_assert_msg(st == 200, "health answered %d: %s", st, resp);
    ck_assert_msg(strstr(resp, "\"leader\":"), "health does not say who leads: %s", resp);
    return strstr(resp, "\"leader\":true") != NULL;
}

static long sweeps_by(PGconn *db, const char *app)
{
    const char *v[1] = {app};
    return harness_query_long_params(db, "SELECT count(*) FROM public.sweep_probe WHERE app = $1",
                                     1, v);
}

START_TEST(leader_dies_follower_takes_over)
{
    harness_server a, b;
    char ci_a[256], ci_b[256];
    const char *base = harness_db_create("corridor_test_leader");
    snprintf(ci_a, sizeof ci_a, "%s application_name=corridor-a", base);
    snprintf(ci_b, sizeof ci_b, "%s application_name=corridor-b", base);

    harness_server_start(&a, ci_a, "--sweep-interval", "1", NULL);
    for (int i = 0; i < 50 && !leads(&a); i++)
        usleep(100 * 1000);
    ck_assert_msg(leads(&a), "the first instance does not lead");
    harness_server_start(&b, ci_b, "--sweep-interval", "1", "--no-migrate", NULL);
    /* after both starts: a migration (a start, or "token create") drops corridor functions
     * that no rule file defines */
    PGconn *db = harness_connect(base);
    harness_exec(db, "CREATE TABLE public.sweep_probe (app text, at timestamptz NOT NULL "
                     "DEFAULT clock_timestamp())");
    harness_exec(db, "CREATE FUNCTION corridor.zz_probe_sweep(p_now timestamptz) "
                     "RETURNS TABLE (kind text, idx int, body text) LANGUAGE sql AS $$ "
                     "INSERT INTO public.sweep_probe (app) "
                     "VALUES (current_setting('application_name')); "
                     "SELECT NULL::text, NULL::int, NULL::text WHERE false $$");
    sleep(3);
    ck_assert_msg(leads(&a) && !leads(&b), "two leaders, or none");
    ck_assert_msg(sweeps_by(db, "corridor-a") >= 2, "the leader's sweeper does not run");
    ck_assert_int_eq(sweeps_by(db, "corridor-b"), 0);

    /* the leader dies without a word */
    harness_server_stop(&a, 1);
    int64_t killed = now_ms();
    while (!leads(&b) && now_ms() - killed < TAKEOVER_BOUND_MS)
        usleep(100 * 1000);
    int64_t took = now_ms() - killed;
    ck_assert_msg(leads(&b), "the second instance did not take over within %d ms",
                  TAKEOVER_BOUND_MS);
    while (sweeps_by(db, "corridor-b") == 0 && now_ms() - killed < TAKEOVER_BOUND_MS)
        usleep(100 * 1000);
    int64_t swept = now_ms() - killed;
    ck_assert_msg(sweeps_by(db, "corridor-b") > 0,
                  "the new leader's sweeper did not run within %d ms", TAKEOVER_BOUND_MS);
    /* never two sweepers at once: every sweep of a came before every sweep of b */
    ck_assert_int_eq(harness_query_long(db, "SELECT count(*) FROM public.sweep_probe x, "
                                            "public.sweep_probe y WHERE x.app = 'corridor-a' "
                                            "AND y.app = 'corridor-b' AND x.at > y.at"),
                     0);
    /* no incident is open twice for one subject and rule */
    ck_assert_int_eq(harness_query_long(db, "SELECT count(*) FROM (SELECT subject, rule FROM "
                                            "corridor.incidents WHERE status <> 'resolved' "
                                            "GROUP BY 1, 2 HAVING count(*) > 1) d"),
                     0);
    fprintf(stderr, "  leader killed: the other led after %lld ms and swept after %lld ms\n",
            (long long)took, (long long)swept);
    PQfinish(db);
    harness_server_stop(&b, 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("leader");
    TCase *tc = tcase_create("leader");
    tcase_set_timeout(tc, 90);
    tcase_add_test(tc, leader_dies_follower_takes_over);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
