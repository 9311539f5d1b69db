/*
 * test_rru_cmd.c: corridor-rru's command lines and requests (rru/rru_cmd.c): every
 * action, quoted and bare notes, the reasons given for lines it refuses, and requests
 * with and without the optional unit.
 */
#include "rru.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

static rru_cmd c;
static char err[160];

START_TEST(actions)
{
    ck_assert_int_eq(rru_cmd_parse("ack 42\n", &c, err, sizeof err), 1);
    ck_assert_str_eq(c.action, "ack");
    ck_assert_int_eq(c.incident, 42);
    ck_assert_str_eq(c.note, "");
    ck_assert_str_eq(c.outcome, "");

    ck_assert_int_eq(rru_cmd_parse("  en_route 7   leaving base now  \r\n", &c, err, sizeof err),
                     1);
    ck_assert_str_eq(c.action, "en_route");
    ck_assert_int_eq(c.incident, 7);
    ck_assert_str_eq(c.note, "leaving base now");

    ck_assert_int_eq(
        rru_cmd_parse("on_scene 8 \"at the \\\"gate\\\" \\\\ east\"", &c, err, sizeof err), 1);
    ck_assert_str_eq(c.note, "at the \"gate\" \\ east");

    ck_assert_int_eq(
        rru_cmd_parse("resolved 42 false_alarm \"seal intact\"\n", &c, err, sizeof err), 1);
    ck_assert_str_eq(c.action, "resolved");
    ck_assert_str_eq(c.outcome, "false_alarm");
    ck_assert_str_eq(c.note, "seal intact");

    ck_assert_int_eq(rru_cmd_parse("resolve 3 confirmed", &c, err, sizeof err), 1);
    ck_assert_str_eq(c.action, "resolved");
    ck_assert_str_eq(c.outcome, "confirmed");

    ck_assert_int_eq(rru_cmd_parse("note 5 driver says the lock jammed", &c, err, sizeof err), 1);
    ck_assert_str_eq(c.note, "driver says the lock jammed");
}
END_TEST

START_TEST(blank_and_comments)
{
    ck_assert_int_eq(rru_cmd_parse("\n", &c, err, sizeof err), 0);
    ck_assert_int_eq(rru_cmd_parse("   ", &c, err, sizeof err), 0);
    ck_assert_int_eq(rru_cmd_parse("# ack 4", &c, err, sizeof err), 0);
}
END_TEST

START_TEST(refusals)
{
    ck_assert_int_eq(rru_cmd_parse("fly 42", &c, err, sizeof err), -1);
    ck_assert_str_eq(err, "unknown action (known: ack, en_route, on_scene, resolved, note)");
    ck_assert_int_eq(rru_cmd_parse("ack", &c, err, sizeof err), -1);
    ck_assert_str_eq(err, "the incident id is missing: ACTION INCIDENT [OUTCOME] [NOTE]");
    ck_assert_int_eq(rru_cmd_parse("ack x1", &c, err, sizeof err), -1);
    ck_assert_str_eq(err, "the incident id must be a positive integer");
    ck_assert_int_eq(rru_cmd_parse("ack 0", &c, err, sizeof err), -1);
    ck_assert_int_eq(rru_cmd_parse("ack -3", &c, err, sizeof err), -1);
    ck_assert_int_eq(rru_cmd_parse("ack 99999999999999999999", &c, err, sizeof err), -1);
    ck_assert_int_eq(rru_cmd_parse("resolved 4", &c, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "resolved needs an outcome"));
    ck_assert_int_eq(rru_cmd_parse("note 4", &c, err, sizeof err), -1);
    ck_assert_str_eq(err, "note needs text: note INCIDENT TEXT");
    ck_assert_int_eq(rru_cmd_parse("note 4 \"unterminated", &c, err, sizeof err), -1);
    ck_assert_str_eq(err, "the note's closing quote is missing");
    ck_assert_int_eq(rru_cmd_parse("note 4 \"a\" b", &c, err, sizeof err), -1);
    ck_assert_str_eq(err, "text after the quoted note");
    ck_assert_int_eq(rru_cmd_parse("ack_and_some_more_words_here 4", &c, err, sizeof err), -1);

    char *line = malloc(RRU_NOTE_MAX + 32);
    strcpy(line, "note 4 ");
    memset(line + 7, 'x', RRU_NOTE_MAX + 1);
    line[7 + RRU_NOTE_MAX + 1] = '\0';
    ck_assert_int_eq(rru_cmd_parse(line, &c, err, sizeof err), -1);
    ck_assert_str_eq(err, "the note is longer than 2000 characters");
    line[7 + RRU_NOTE_MAX] = '\0'; /* exactly 2000: fits */
    ck_assert_int_eq(rru_cmd_parse(line, &c, err, sizeof err), 1);
    ck_assert_uint_eq(strlen(c.note), RRU_NOTE_MAX);
    free(line);
}
END_TEST

START_TEST(requests)
{
    ck_assert_int_eq(rru_cmd_parse("resolved 42 false_alarm \"ok \\\"x\\\"\"", &c, err, sizeof err),
                     1);
    char *r = rru_action_request("U1", "tok", &c);
    ck_assert_str_eq(r, "{\"op\":\"action\",\"unit\":\"U1\",\"token\":\"tok\",\"incident\":42,"
                        "\"action\":\"resolved\",\"note\":\"ok \\\"x\\\"\",\"outcome\":"
                        "\"false_alarm\"}");
    free(r);
    ck_assert_int_eq(rru_cmd_parse("ack 5", &c, err, sizeof err), 1);
    r = rru_action_request("U1", "tok", &c);
    ck_assert_str_eq(r, "{\"op\":\"action\",\"unit\":\"U1\",\"token\":\"tok\",\"incident\":5,"
                        "\"action\":\"ack\"}");
    free(r);
    r = rru_hello_request("U2", "t");
    ck_assert_str_eq(r, "{\"op\":\"hello\",\"unit\":\"U2\",\"token\":\"t\"}");
    free(r);
    long long have[] = {3, 9};
    r = rru_poll_request("U2", "t", have, 2, 20000);
    ck_assert_str_eq(r, "{\"op\":\"poll\",\"unit\":\"U2\",\"token\":\"t\",\"have\":[3,9],"
                        "\"wait_ms\":20000}");
    free(r);
    r = rru_poll_request("U2", "t", NULL, 0, 100);
    ck_assert_str_eq(r, "{\"op\":\"poll\",\"unit\":\"U2\",\"token\":\"t\",\"have\":[],"
                        "\"wait_ms\":100}");
    free(r);
}
END_TEST

/* Without --unit the token alone names the unit: no "unit" key at all. */
START_TEST(requests_without_unit)
{
    char *r = rru_hello_request(NULL, "t");
    ck_assert_str_eq(r, "{\"op\":\"hello\",\"token\":\"t\"}");
    free(r);
    r = rru_poll_request("", "t", NULL, 0, 100);
    ck_assert_str_eq(r, "{\"op\":\"poll\",\"token\":\"t\",\"have\":[],\"wait_ms\":100}");
    free(r);
    ck_assert_int_eq(rru_cmd_parse("ack 5", &c, err, sizeof err), 1);
    r = rru_action_request(NULL, "tok", &c);
    ck_assert_str_eq(r, "{\"op\":\"action\",\"token\":\"tok\",\"incident\":5,\"action\":\"ack\"}");
    free(r);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("rru");
    TCase *tc = tcase_create("commands");
    tcase_add_test(tc, actions);
    tcase_add_test(tc, blank_and_comments);
    tcase_add_test(tc, refusals);
    tcase_add_test(tc, requests);
    tcase_add_test(tc, requests_without_unit);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
