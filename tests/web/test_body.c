/*
 * test_body.c: the hostile-input checks of web/body.c, alone: UTF-8 validation (overlong
 * forms, surrogates, truncated sequences, code points past U+10FFFF), unknown body fields
 * per route, and geofence positions that must not reach GEOS.
 */
#include "web_int.h"

#include <check.h>
#include <string.h>

START_TEST(utf8)
{
    static const struct {
        const char *s;
        int ok;
    } cases[] = {
        {"", 1},
        {"plain ASCII", 1},
        {"Malaba \xc3\xa9", 1},  /* é */
        {"\xe2\x82\xac", 1},     /* € */
        {"\xf0\x9f\x9a\x9a", 1}, /* a truck, 4 bytes */
        {"\xf4\x8f\xbf\xbf", 1}, /* U+10FFFF */
        {"\xff", 0},             /* never in UTF-8 */
        {"\xc0\xaf", 0},         /* overlong '/' */
        {"\xe0\x80\xaf", 0},     /* overlong, 3 bytes */
        {"\xed\xa0\x80", 0},     /* a surrogate */
        {"\xf4\x90\x80\x80", 0}, /* past U+10FFFF */
        {"\xe2\x82", 0},         /* truncated */
        {"\xc3\x28", 0},         /* a bad continuation */
        {"\x80", 0},             /* a lone continuation */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        ck_assert_msg(web_utf8_valid(cases[i].s, strlen(cases[i].s)) == cases[i].ok, "case %zu", i);
}
END_TEST

static const web_route *route(const char *pattern, int method)
{
    for (size_t i = 0; i < web_n_routes; i++)
        if (strcmp(web_routes[i].pattern, pattern) == 0 && (web_routes[i].methods & method))
            return &web_routes[i];
    ck_abort_msg("no route %s", pattern);
    return NULL;
}

/* web_body_check on pattern with body; returns the status and the error code in code. */
static int check(const char *pattern, const char *body, char *code, size_t n)
{
    web_req req;
    web_resp resp;
    memset(&req, 0, sizeof req);
    memset(&resp, 0, sizeof resp);
    web_buf_init(&req.body, WEB_BODY_MAX);
    web_buf_init(&resp.body, 4096);
    strcpy(req.path, pattern);
    web_buf_add(&req.body, body, strlen(body));
    int st = web_body_check(route(pattern, WEB_POST), &req, &resp);
    const char *e = resp.body.data ? strstr(resp.body.data, "\"error\":\"") : NULL;
    snprintf(code, n, "%s", e ? e + 9 : "");
    char *q = strchr(code, '"');
    if (q)
        *q = '\0';
    web_buf_free(&req.body);
    web_buf_free(&resp.body);
    return st;
}

START_TEST(fields_and_positions)
{
    char code[64];
    ck_assert_int_eq(check("/api/seals", "{\"id\":\"S1\",\"protocol\":\"osmand\"}", code, 64), 0);
    ck_assert_int_eq(check("/api/seals", "{\"id\":\"S1\",\"colour\":\"red\"}", code, 64), 422);
    ck_assert_str_eq(code, "unknown_field");
    ck_assert_int_eq(check("/api/seals", "{\"id\":\"\xc0\xaf\"}", code, 64), 400);
    ck_assert_str_eq(code, "invalid_utf8");
    /* not JSON: the handler says so, not this check */
    ck_assert_int_eq(check("/api/seals", "{\"id\":", code, 64), 0);
    ck_assert_int_eq(check("/api/watchlist",
                           "{\"mmsi\":1,\"declaration\":\"d\",\"reason\":\"r\",\"actor\":\"x\"}",
                           code, 64),
                     0);
    ck_assert_int_eq(
        check("/api/incidents/{id}/actions", "{\"action\":\"ack\",\"as\":\"x\"}", code, 64), 422);
    const char *ok = "{\"type\":\"Feature\",\"properties\":{},\"geometry\":{\"type\":\"Polygon\","
                     "\"coordinates\":[[[36,-1],[37,-1],[37,0,5],[36,-1]]]}}";
    ck_assert_int_eq(check("/api/geofences", ok, code, 64), 0);
    static const char *const bad[] = {
        "[[[36,-1],[],[36,-1]]]",
        "[]",
        "[[]]",
        "[[[36]]]",
        "[[[36,-1,2,3]]]",
        "[[[36,\"x\"]]]",
        "[[[36,null]]]",
        "[[[1e400,0]]]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char body[256];
        snprintf(body, sizeof body,
                 "{\"type\":\"Feature\",\"geometry\":{\"type\":\"Polygon\",\"coordinates\":%s}}",
                 bad[i]);
        ck_assert_msg(check("/api/geofences", body, code, 64) == 422, "%s", bad[i]);
        ck_assert_str_eq(code, "invalid_geometry");
    }
    ck_assert_int_eq(check("/api/geofences",
                           "{\"type\":\"Feature\",\"geometry\":{\"type\":\"GeometryCollection\","
                           "\"geometries\":[{\"type\":\"Point\",\"coordinates\":[]}]}}",
                           code, 64),
                     422);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("body");
    TCase *tc = tcase_create("body");
    tcase_add_test(tc, utf8);
    tcase_add_test(tc, fields_and_positions);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
