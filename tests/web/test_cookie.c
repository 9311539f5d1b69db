/*
 * test_cookie.c: web_cookie_get (web/cookie.c), the Cookie header parser: pairs and
 * spaces, quotes, the first occurrence, names that only share a prefix, values that do
 * not fit, characters a cookie value may not hold, and a header that is not
 * NUL-terminated.
 */
#include "web_int.h"

#include <check.h>
#include <string.h>

static int get(const char *h, const char *name, char *out, size_t n)
{
    return web_cookie_get(h, strlen(h), name, out, n);
}

START_TEST(pairs)
{
    char v[80];
    ck_assert_int_eq(get("corridor_session=abc", "corridor_session", v, sizeof v), 3);
    ck_assert_str_eq(v, "abc");
    ck_assert_int_eq(
        get("theme=dark; corridor_session=x1;lang=sw", "corridor_session", v, sizeof v), 2);
    ck_assert_str_eq(v, "x1");
    ck_assert_int_eq(get(" \tlang = sw ; a=1", "lang", v, sizeof v), 2);
    ck_assert_str_eq(v, "sw");
    ck_assert_int_eq(get("a=\"quoted\"", "a", v, sizeof v), 6);
    ck_assert_str_eq(v, "quoted");
    ck_assert_int_eq(get("a=", "a", v, sizeof v), 0);
    ck_assert_str_eq(v, "");
    ck_assert_int_eq(get("a=first; a=second", "a", v, sizeof v), 5);
    ck_assert_str_eq(v, "first");
}
END_TEST

START_TEST(absent_and_refused)
{
    char v[8];
    ck_assert_int_eq(get("", "a", v, sizeof v), -1);
    ck_assert_int_eq(
        get("corridor_session_old=1; xcorridor_session=2", "corridor_session", v, sizeof v), -1);
    ck_assert_int_eq(get("flag; a", "a", v, sizeof v), -1);
    ck_assert_int_eq(get("a=12345678", "a", v, sizeof v), CORE_ETOOBIG);
    ck_assert_int_eq(get("a=1234567", "a", v, sizeof v), 7);
    ck_assert_int_eq(get("a=x y", "a", v, sizeof v), CORE_EINVAL);
    ck_assert_int_eq(get("a=x\\y", "a", v, sizeof v), CORE_EINVAL);
    ck_assert_int_eq(get("a=x,y", "a", v, sizeof v), CORE_EINVAL);
    /* only len bytes are read */
    const char h[] = {'a', '=', '1', '2', ';', 'b', '=', '3'};
    ck_assert_int_eq(web_cookie_get(h, 4, "a", v, sizeof v), 2);
    ck_assert_int_eq(web_cookie_get(h, 5, "b", v, sizeof v), -1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cookie");
    TCase *tc = tcase_create("cookie");
    tcase_add_test(tc, pairs);
    tcase_add_test(tc, absent_and_refused);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
