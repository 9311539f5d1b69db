/*
 * test_sim_stats.c: the latency histogram: bucket boundaries, resolution and quantiles.
 */
#include "sim.h"

#include <check.h>
#include <string.h>

START_TEST(buckets)
{
    for (int v = 0; v < 64; v++) {
        ck_assert_int_eq(sim_hist_index(v), v);
        ck_assert_int_eq(sim_hist_value(v), v);
    }
    ck_assert_int_eq(sim_hist_index(-5), 0);
    ck_assert_int_eq(sim_hist_index(64), 64);
    ck_assert_int_eq(sim_hist_index(65), 64); /* 64..65 share a bucket of width 2 */
    ck_assert_int_eq(sim_hist_index(66), 65);
    ck_assert_int_eq(sim_hist_index(128), 96); /* next power of two, width 4 */
    ck_assert_int_lt(sim_hist_index(INT64_MAX), SIM_HIST_BUCKETS);
    /* Monotonic, and each value within 3.2 % of its bucket's representative. */
    int last = 0;
    for (int64_t v = 1; v < 100000000; v = v * 21 / 20 + 1) {
        int i = sim_hist_index(v);
        ck_assert_int_ge(i, last);
        last = i;
        int64_t r = sim_hist_value(i);
        ck_assert_msg(r >= v * 0.968 && r <= v * 1.032, "%lld -> %lld", (long long)v, (long long)r);
    }
}
END_TEST

START_TEST(quantiles)
{
    static sim_hist h;
    memset(&h, 0, sizeof h);
    ck_assert_int_eq(sim_hist_quantile(&h, 0.5), 0);
    for (int v = 1; v <= 10000; v++)
        sim_hist_add(&h, v * 100); /* 0.1 ms .. 1 s */
    ck_assert_int_eq(h.count, 10000);
    int64_t p50 = sim_hist_quantile(&h, 0.5), p99 = sim_hist_quantile(&h, 0.99);
    ck_assert_msg(p50 > 500000 * 0.97 && p50 < 500000 * 1.03, "p50 %lld", (long long)p50);
    ck_assert_msg(p99 > 990000 * 0.97 && p99 < 990000 * 1.03, "p99 %lld", (long long)p99);
    ck_assert_int_eq(sim_hist_quantile(&h, 0), sim_hist_value(sim_hist_index(100)));
    memset(&h, 0, sizeof h);
    sim_hist_add(&h, 7);
    sim_hist_add(&h, 7);
    sim_hist_add(&h, 40);
    ck_assert_int_eq(sim_hist_quantile(&h, 0.5), 7);
    ck_assert_int_eq(sim_hist_quantile(&h, 0.67), 40);
    ck_assert_int_eq(sim_hist_quantile(&h, 1), 40);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sim_stats");
    TCase *tc = tcase_create("hist");
    tcase_add_test(tc, buckets);
    tcase_add_test(tc, quantiles);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
