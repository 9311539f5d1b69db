/*
 * test_incidents.c: the pure parts of alerts/incidents.c: which ids can exist, how the
 * database's SQLSTATEs become HTTP statuses, and the error bodies built from the
 * database's "code: sentence" messages with the incident's current state.
 */
#include "alerts.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

START_TEST(ids)
{
    ck_assert_int_eq(alert_id_valid("1"), 1);
    ck_assert_int_eq(alert_id_valid("123456789012345678"), 1);
    ck_assert_int_eq(alert_id_valid("1234567890123456789"), 0); /* 19 digits: past bigint */
    ck_assert_int_eq(alert_id_valid("0"), 0);
    ck_assert_int_eq(alert_id_valid("012"), 0);
    ck_assert_int_eq(alert_id_valid("-1"), 0);
    ck_assert_int_eq(alert_id_valid("12a"), 0);
    ck_assert_int_eq(alert_id_valid(""), 0);
    ck_assert_int_eq(alert_id_valid(NULL), 0);
}
END_TEST

START_TEST(sqlstates)
{
    ck_assert_int_eq(alert_sqlstate_status("CT404"), 404);
    ck_assert_int_eq(alert_sqlstate_status("CT409"), 409);
    ck_assert_int_eq(alert_sqlstate_status("CT422"), 422);
    ck_assert_int_eq(alert_sqlstate_status("CT403"), 403);
    ck_assert_int_eq(alert_sqlstate_status("CT200"), 0); /* not an error status */
    ck_assert_int_eq(alert_sqlstate_status("CT4x9"), 0);
    ck_assert_int_eq(alert_sqlstate_status("22P02"), 422); /* invalid text representation */
    ck_assert_int_eq(alert_sqlstate_status("23514"), 422); /* check violation */
    ck_assert_int_eq(alert_sqlstate_status("40P01"), 0);   /* deadlock: ours, not theirs */
    ck_assert_int_eq(alert_sqlstate_status("XX000"), 0);
    ck_assert_int_eq(alert_sqlstate_status(""), 0);
    ck_assert_int_eq(alert_sqlstate_status(NULL), 0);
}
END_TEST

START_TEST(error_bodies)
{
    size_t len = 0;
    char *b = alert_error_body("version_conflict: incident 7 is at version 3, not 2",
                               "{\"type\":\"incident\",\"id\":7,\"version\":3}", &len);
    ck_assert_str_eq(b, "{\"error\":\"version_conflict\",\"detail\":\"incident 7 is at version "
                        "3, not 2\",\"incident\":{\"type\":\"incident\",\"id\":7,\"version\":3}}");
    ck_assert_uint_eq(len, strlen(b));
    free(b);

    /* no state, or a detail that is not a JSON object: no "incident" */
    b = alert_error_body("not_found: no incident with id 9", "", &len);
    ck_assert_str_eq(b, "{\"error\":\"not_found\",\"detail\":\"no incident with id 9\"}");
    free(b);
    b = alert_error_body("not_found: no incident with id 9", "{broken", &len);
    ck_assert_str_eq(b, "{\"error\":\"not_found\",\"detail\":\"no incident with id 9\"}");
    free(b);

    /* a message that is not "code: sentence" keeps its text under a generic code */
    b = alert_error_body("new row violates check constraint \"x\": oops", NULL, &len);
    ck_assert_str_eq(b, "{\"error\":\"invalid\",\"detail\":\"new row violates check constraint "
                        "\\\"x\\\": oops\"}");
    free(b);
    b = alert_error_body(NULL, NULL, &len);
    ck_assert_str_eq(b, "{\"error\":\"invalid\",\"detail\":\"\"}");
    free(b);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("alerts");
    TCase *tc = tcase_create("incidents");
    tcase_add_test(tc, ids);
    tcase_add_test(tc, sqlstates);
    tcase_add_test(tc, error_bodies);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
