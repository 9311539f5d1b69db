/*
 * test_clock.c: core's calendar arithmetic (core/clock.c), the one copy that ISO 8601
 * parsing and the JT/T 808 codec's BCD times share: known dates, leap days and centuries,
 * dates before 1970, and the round trip over four centuries of days.
 */
#include "core.h"

#include <check.h>
#include <stdlib.h>

START_TEST(known_days)
{
    ck_assert_int_eq(core_days_from_civil(1970, 1, 1), 0);
    ck_assert_int_eq(core_days_from_civil(1969, 12, 31), -1);
    ck_assert_int_eq(core_days_from_civil(2000, 2, 29), 11016);
    ck_assert_int_eq(core_days_from_civil(2000, 3, 1), 11017);
    ck_assert_int_eq(core_days_from_civil(2026, 11, 26), 20783);
    ck_assert_int_eq(core_days_from_civil(1900, 3, 1) - core_days_from_civil(1900, 2, 28), 1);
    ck_assert_int_eq(core_days_from_civil(2100, 3, 1) - core_days_from_civil(2100, 2, 28), 1);
    ck_assert_int_eq(core_days_from_civil(1600, 1, 1), -135140);
}
END_TEST

START_TEST(round_trip)
{
    int64_t from = core_days_from_civil(1800, 1, 1), to = core_days_from_civil(2200, 1, 1);
    int py = 1799, pm = 12, pd = 31;
    for (int64_t z = from; z < to; z++) {
        int y, m, d;
        core_civil_from_days(z, &y, &m, &d);
        ck_assert_int_eq(core_days_from_civil(y, m, d), z);
        /* each day follows the one before */
        int next = (y == py && m == pm && d == pd + 1) || (y == py && m == pm + 1 && d == 1) ||
                   (y == py + 1 && m == 1 && d == 1 && pm == 12 && pd == 31);
        ck_assert_msg(next, "%d-%02d-%02d after %d-%02d-%02d", y, m, d, py, pm, pd);
        py = y, pm = m, pd = d;
    }
}
END_TEST

START_TEST(iso8601_uses_it)
{
    int64_t us;
    ck_assert_int_eq(core_parse_iso8601("2026-11-26T20:00:00Z", &us), 0);
    ck_assert(us == (20783LL * 86400 + 20 * 3600) * 1000000);
    ck_assert_int_eq(core_parse_iso8601("1969-12-31T23:59:59+00:00", &us), 0);
    ck_assert(us == -1000000);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("core");
    TCase *tc = tcase_create("clock");
    tcase_add_test(tc, known_days);
    tcase_add_test(tc, round_trip);
    tcase_add_test(tc, iso8601_uses_it);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
