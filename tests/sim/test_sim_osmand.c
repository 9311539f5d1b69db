/*
 * test_sim_osmand.c: the OsmAnd request targets the simulator sends, byte for byte, and
 * the percent-encoding of seal ids.
 */
#include "sim.h"

#include <check.h>
#include <string.h>

START_TEST(target)
{
    sim_ping p = {.id = "KE-SEAL-0001",
                  .lat = -4.06,
                  .lon = 39.655,
                  .timestamp = 1795000000,
                  .speed_kn = 32.397,
                  .bearing = 271.46,
                  .altitude = 12,
                  .accuracy = 5,
                  .batt = 87.5,
                  .lock = "locked"};
    char buf[512];
    int n = sim_osmand_target(&p, buf, sizeof buf);
    ck_assert_str_eq(buf, "/?id=KE-SEAL-0001&lat=-4.060000&lon=39.655000&timestamp=1795000000"
                          "&speed=32.4&bearing=271.5&altitude=12.0&accuracy=5.0&batt=87.5"
                          "&lock=locked");
    ck_assert_int_eq(n, (int)strlen(buf));
    p.lock = NULL;
    p.id = "UG SEAL/7&x";
    p.timestamp = 1795000000123; /* milliseconds, as the load generator sends */
    n = sim_osmand_target(&p, buf, sizeof buf);
    ck_assert_str_eq(buf, "/?id=UG%20SEAL%2F7%26x&lat=-4.060000&lon=39.655000"
                          "&timestamp=1795000000123&speed=32.4&bearing=271.5&altitude=12.0"
                          "&accuracy=5.0&batt=87.5");
    /* Exactly big enough, then one byte short. */
    char small[200];
    ck_assert_int_eq(sim_osmand_target(&p, small, (size_t)n + 1), n);
    ck_assert_int_eq(sim_osmand_target(&p, small, (size_t)n), CORE_ETOOBIG);
    p.lock = "open";
    ck_assert_int_eq(sim_osmand_target(&p, small, (size_t)n + 5), CORE_ETOOBIG);
    ck_assert_int_eq(sim_osmand_target(&p, small, (size_t)n + 11), n + 10);
    ck_assert_str_eq(small + n, "&lock=open");
}
END_TEST

START_TEST(url_encode)
{
    char buf[16];
    ck_assert_int_eq(sim_url_encode("a-Z_0.~", buf, sizeof buf), 7);
    ck_assert_str_eq(buf, "a-Z_0.~");
    ck_assert_int_eq(sim_url_encode("\xc3\xa9 +", buf, sizeof buf), 12);
    ck_assert_str_eq(buf, "%C3%A9%20%2B");
    ck_assert_int_eq(sim_url_encode("", buf, sizeof buf), 0);
    ck_assert_str_eq(buf, "");
    ck_assert_int_eq(sim_url_encode("abc", buf, 3), CORE_ETOOBIG);
    ck_assert_int_eq(sim_url_encode("abc", buf, 4), 3);
    ck_assert_int_eq(sim_url_encode("a/", buf, 4), CORE_ETOOBIG);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sim_osmand");
    TCase *tc = tcase_create("osmand");
    tcase_add_test(tc, target);
    tcase_add_test(tc, url_encode);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
