/*
 * test_osmand.c: the OsmAnd parser: every field, every encoding (query, form, Traccar
 * Client JSON), and every refusal with its exact reason.
 */
#include "ingest_int.h"

#include <check.h>
#include <math.h>
#include <string.h>

#define NOW_US (1795000000LL * 1000000) /* 2026-11-18 */

static int parse(const char *text, int json, geo_obs *o, char *reason)
{
    return ingest_osmand_parse(text, strlen(text), json, NOW_US, 3600, o, reason, 200);
}

START_TEST(query_all_fields)
{
    geo_obs o;
    char reason[200] = "";
    ck_assert_int_eq(parse("id=KE-SEAL-1&lat=-4.06&lon=39.655&timestamp=1794999990&speed=10"
                           "&bearing=271.5&altitude=12&accuracy=5&batt=87&lock=locked",
                           0, &o, reason),
                     0);
    ck_assert_str_eq(o.seal_id, "KE-SEAL-1");
    ck_assert_double_eq_tol(o.lat, -4.06, 1e-9);
    ck_assert_double_eq_tol(o.lon, 39.655, 1e-9);
    ck_assert_int_eq(o.ts_us, 1794999990LL * 1000000);
    ck_assert_float_eq_tol(o.speed_kmh, 18.52f, 1e-3);
    ck_assert_float_eq_tol(o.bearing, 271.5f, 1e-6);
    ck_assert_float_eq_tol(o.altitude, 12.0f, 1e-6);
    ck_assert_float_eq_tol(o.accuracy, 5.0f, 1e-6);
    ck_assert_float_eq_tol(o.battery, 87.0f, 1e-6);
    ck_assert_str_eq(o.lock, "locked");
    ck_assert_str_eq(o.alarm, "");
}
END_TEST

START_TEST(time_encodings)
{
    geo_obs o;
    char reason[200];
    ck_assert_int_eq(parse("id=a&lat=1&lon=2&timestamp=1794999990123", 0, &o, reason), 0);
    ck_assert_int_eq(o.ts_us, 1794999990123000LL);
    ck_assert_int_eq(parse("id=a&lat=1&lon=2&timestamp=2026-11-18T11:06:30Z", 0, &o, reason), 0);
    ck_assert_int_eq(o.ts_us, 1795000000LL * 1000000 - 10LL * 1000000 + 0);
    ck_assert_int_eq(
        parse("id=a&lat=1&lon=2&timestamp=2026-11-18T14%3A06%3A30.5%2B03%3A00", 0, &o, reason), 0);
    ck_assert_int_eq(o.ts_us, 1794999990LL * 1000000 + 500000);
    /* no timestamp: the server's clock */
    ck_assert_int_eq(parse("id=a&lat=1&lon=2", 0, &o, reason), 0);
    ck_assert_int_eq(o.ts_us, NOW_US);
}
END_TEST

START_TEST(location_and_percent_encoding)
{
    geo_obs o;
    char reason[200];
    ck_assert_int_eq(
        parse("deviceid=seal%20one&location=-1.5%2C30.25&alarm=tampering", 0, &o, reason),
        CORE_EINVAL); /* a space is not allowed in an id */
    ck_assert_str_eq(reason, "device id has a character that is not printable ASCII");
    ck_assert_int_eq(parse("deviceid=seal-1&location=-1.5%2C30.25&alarm=tampering", 0, &o, reason),
                     0);
    ck_assert_str_eq(o.seal_id, "seal-1");
    ck_assert_double_eq_tol(o.lat, -1.5, 1e-9);
    ck_assert_double_eq_tol(o.lon, 30.25, 1e-9);
    ck_assert_str_eq(o.alarm, "tampering");
}
END_TEST

struct bad {
    const char *text;
    const char *reason;
};

START_TEST(refusals)
{
    static const struct bad cases[] = {
        {"lat=1&lon=2", "missing device id (id=...)"},
        {"id=a&lon=2", "missing lat"},
        {"id=a&lat=1", "missing lon"},
        {"id=a&lat=91&lon=2", "latitude 91 outside -90..90"},
        {"id=a&lat=-90.5&lon=2", "latitude -90.5 outside -90..90"},
        {"id=a&lat=1&lon=180.01", "longitude 180.01 outside -180..180"},
        {"id=a&lat=nan&lon=2", "lat is not a number"},
        {"id=a&lat=inf&lon=2", "lat is not a number"},
        {"id=a&lat=1e999&lon=2", "lat is not a number"},
        {"id=a&lat=1x&lon=2", "lat is not a number"},
        {"id=a&lat=1&lon=2&timestamp=yesterday", "unparsable timestamp \"yesterday\""},
        {"id=a&lat=1&lon=2&timestamp=1795003601", "timestamp more than 3600 s in the future"},
        {"id=a&lat=1&lon=2&timestamp=100", "timestamp before 2000-01-01"},
        {"id=a&lat=1&lon=2&batt=101", "batt 101 outside 0..100"},
        {"id=a&lat=1&lon=2&lock=ajar", "lock must be locked or open"},
        {"id=a&lat=1&lon=2&alarm=DROP%20TABLE",
         "alarm must be a lower-case word such as tampering"},
        {"id=a&lat=%zz&lon=2", "malformed parameter \"lat=%zz\""},
        {"id=a&lat=%0&lon=2", "malformed parameter \"lat=%0\""},
        {"id=a%00b&lat=1&lon=2", "malformed parameter \"id=a%00b\""},
        {"id=a&lat", "malformed parameter \"lat\""},
        {"id=0123456789012345678901234567890123456789012345678901234567890123456789&lat=1&lon=2",
         "device id longer than 64 characters"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        geo_obs o;
        char reason[200] = "";
        int rc = parse(cases[i].text, 0, &o, reason);
        ck_assert_msg(rc == CORE_EINVAL, "%s: accepted", cases[i].text);
        ck_assert_msg(strcmp(reason, cases[i].reason) == 0, "%s: reason \"%s\", expected \"%s\"",
                      cases[i].text, reason, cases[i].reason);
    }
}
END_TEST

START_TEST(json_traccar_client)
{
    geo_obs o;
    char reason[200] = "";
    const char *body = "{\"location\":{\"timestamp\":\"2026-11-18T11:06:30.000Z\","
                       "\"coords\":{\"latitude\":0.636,\"longitude\":34.275,\"accuracy\":4.5,"
                       "\"speed\":10,\"heading\":90,\"altitude\":1200},\"is_moving\":true,"
                       "\"battery\":{\"level\":0.42,\"is_charging\":false},"
                       "\"extras\":{\"lock\":\"open\"}},\"device_id\":\"UG-SEAL-9\"}";
    ck_assert_int_eq(parse(body, 1, &o, reason), 0);
    ck_assert_str_eq(o.seal_id, "UG-SEAL-9");
    ck_assert_double_eq_tol(o.lat, 0.636, 1e-9);
    ck_assert_double_eq_tol(o.lon, 34.275, 1e-9);
    ck_assert_int_eq(o.ts_us, 1794999990LL * 1000000);
    ck_assert_float_eq_tol(o.speed_kmh, 36.0f, 1e-4);
    ck_assert_float_eq_tol(o.bearing, 90.0f, 1e-6);
    ck_assert_float_eq_tol(o.battery, 42.0f, 1e-4);
    ck_assert_str_eq(o.lock, "open");
}
END_TEST

START_TEST(json_refusals)
{
    static const struct bad cases[] = {
        {"{\"device_id\":\"a\",\"location\":{\"coords\":{\"latitude\":1,",
         "malformed JSON: unexpected end of data"},
        {"[1,2]", "the JSON body must be an object"},
        {"{\"device_id\":\"a\"}", "missing location object"},
        {"{\"device_id\":\"a\",\"location\":{}}", "missing location.coords object"},
        {"{\"device_id\":7,\"location\":{}}", "device_id must be a string"},
        {"{\"device_id\":\"a\",\"location\":{\"coords\":{\"latitude\":\"1\",\"longitude\":2}}}",
         "location.coords.latitude is not a number"},
        {"{\"device_id\":\"a\",\"location\":{\"coords\":{\"latitude\":1e400,\"longitude\":2}}}",
         "location.coords.latitude is not a number"},
        {"{\"device_id\":\"a\",\"location\":{\"coords\":{\"latitude\":100,\"longitude\":2}}}",
         "latitude 100 outside -90..90"},
        {"{\"device_id\":\"a\",\"location\":{\"coords\":{\"latitude\":1,\"longitude\":2}}} x",
         "malformed JSON: trailing data"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        geo_obs o;
        char reason[200] = "";
        int rc = parse(cases[i].text, 1, &o, reason);
        ck_assert_msg(rc == CORE_EINVAL, "%s: accepted", cases[i].text);
        ck_assert_msg(strcmp(reason, cases[i].reason) == 0, "%s: reason \"%s\", expected \"%s\"",
                      cases[i].text, reason, cases[i].reason);
    }
}
END_TEST

START_TEST(oversized)
{
    static char big[1024 * 1024 + 2]; /* past the parser's own ceiling */
    memset(big, 'a', sizeof big - 1);
    geo_obs o;
    char reason[200];
    ck_assert_int_eq(ingest_osmand_parse(big, strlen(big), 0, NOW_US, 3600, &o, reason, 200),
                     CORE_ETOOBIG);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("osmand");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, query_all_fields);
    tcase_add_test(tc, time_encodings);
    tcase_add_test(tc, location_and_percent_encoding);
    tcase_add_test(tc, refusals);
    tcase_add_test(tc, json_traccar_client);
    tcase_add_test(tc, json_refusals);
    tcase_add_test(tc, oversized);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
