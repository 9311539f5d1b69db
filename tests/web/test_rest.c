/*
 * test_rest.c: the REST API of the real corridord against PostGIS: every status the
 * gateway promises (201, 204, 400, 404, 405, 409, 413, 422), exact error codes, the
 * stored objects, and the 4xx counters in /metrics.
 */
#include "harness.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static harness_server srv;
static char resp[1 << 20];

static int call(const char *method, const char *path, const char *body)
{
    return harness_http(srv.http_port, method, path, body ? "application/json" : NULL, body, resp,
                        sizeof resp);
}

#define HAS(s) ck_assert_msg(strstr(resp, s) != NULL, "expected %s in %s", s, resp)

START_TEST(seals)
{
    ck_assert_int_eq(call("POST", "/api/seals",
                          "{\"id\":\"R-1\",\"protocol\":\"jt808\",\"device_id\":\"013912345678\"}"),
                     201);
    HAS("\"device_id\" : \"013912345678\"");
    HAS("\"timezone\" : \"+08:00\"");
    ck_assert_int_eq(call("POST", "/api/seals", "{\"id\":\"R-2\"}"), 201);
    HAS("\"protocol\" : \"osmand\"");
    HAS("\"device_id\" : \"R-2\"");
    ck_assert_int_eq(call("POST", "/api/seals", "{\"id\":\"R-1\"}"), 409);
    HAS("\"error\":\"seal_exists\"");
    ck_assert_int_eq(call("POST", "/api/seals",
                          "{\"id\":\"R-3\",\"protocol\":\"jt808\",\"device_id\":\"013912345678\"}"),
                     409);
    HAS("\"error\":\"device_id_exists\"");
    ck_assert_int_eq(call("POST", "/api/seals",
                          "{\"id\":\"R-3\",\"protocol\":\"jt808\",\"device_id\":\"12ab\"}"),
                     422);
    HAS("terminal number");
    ck_assert_int_eq(call("POST", "/api/seals", "{\"id\":\"R 3\"}"), 422);
    ck_assert_int_eq(call("POST", "/api/seals", "{\"id\":\"R-3\",\"timezone\":\"+8\"}"), 422);
    HAS("\"error\":\"invalid_field\"");
    ck_assert_int_eq(call("POST", "/api/seals", "{\"id\":\"R-3\",\"protocol\":\"ais\"}"), 422);
    ck_assert_int_eq(call("POST", "/api/seals", "{\"id\": 5}"), 422);
    ck_assert_int_eq(call("POST", "/api/seals", "{\"id\":"), 400);
    HAS("\"error\":\"malformed_json\"");
    ck_assert_int_eq(call("POST", "/api/seals", "[1]"), 400);
    ck_assert_int_eq(call("POST", "/api/seals", "{} x"), 400);
    ck_assert_int_eq(call("POST", "/api/seals", ""), 400);
    HAS("\"error\":\"empty_body\"");
    ck_assert_int_eq(call("GET", "/api/seals", NULL), 200);
    HAS("\"id\" : \"R-1\"");
    ck_assert_msg(!strstr(resp, "R-3"), "a refused seal was stored: %s", resp);
    ck_assert_int_eq(call("PUT", "/api/seals", "{}"), 405);
    HAS("\"error\":\"method_not_allowed\"");
}
END_TEST

START_TEST(geofences)
{
    const char *ok =
        "{\"type\":\"Feature\",\"properties\":{\"name\":\"Zone\",\"kind\":\"restricted\"},"
        "\"geometry\":{\"type\":\"Polygon\",\"coordinates\":[[[36,-1.5],[36.2,-1.5],"
        "[36.2,-1.3],[36,-1.3],[36,-1.5]]]}}";
    ck_assert_int_eq(call("POST", "/api/geofences", ok), 201);
    HAS("\"type\" : \"Feature\"");
    HAS("\"country\" : \"KE\"");
    HAS("MultiPolygon");
    const char *bow =
        "{\"type\":\"Feature\",\"properties\":{\"name\":\"Bow\",\"kind\":\"port\"},"
        "\"geometry\":{\"type\":\"Polygon\",\"coordinates\":[[[0,0],[1,1],[1,0],[0,1],"
        "[0,0]]]}}";
    ck_assert_int_eq(call("POST", "/api/geofences", bow), 422);
    HAS("{\"error\":\"invalid_geometry\",\"detail\":\"Self-intersection[0.5 0.5]\"}");
    const char *kind = "{\"type\":\"Feature\",\"properties\":{\"name\":\"K\",\"kind\":\"zoo\"},"
                       "\"geometry\":{\"type\":\"Point\",\"coordinates\":[0,0]}}";
    ck_assert_int_eq(call("POST", "/api/geofences", kind), 422);
    HAS("properties.kind");
    const char *point = "{\"type\":\"Feature\",\"properties\":{\"name\":\"P\",\"kind\":\"port\"},"
                        "\"geometry\":{\"type\":\"Point\",\"coordinates\":[0,0]}}";
    ck_assert_int_eq(call("POST", "/api/geofences", point), 422);
    HAS("\"error\":\"invalid_geometry\"");
    ck_assert_int_eq(call("POST", "/api/geofences", "{\"type\":\"FeatureCollection\"}"), 422);
    HAS("\"error\":\"invalid_feature\"");
    ck_assert_int_eq(call("GET", "/api/geofences", NULL), 200);
    HAS("\"name\" : \"Zone\"");
    ck_assert_msg(!strstr(resp, "Bow"), "an invalid geofence was stored");
    long id = harness_query_long(harness_connect(srv.db),
                                 "SELECT id FROM corridor.geofences WHERE name = 'Zone'");
    char path[64];
    snprintf(path, sizeof path, "/api/geofences/%ld", id);
    ck_assert_int_eq(call("DELETE", path, NULL), 204);
    ck_assert_int_eq(call("DELETE", path, NULL), 404);
    HAS("\"error\":\"not_found\"");
    ck_assert_int_eq(call("DELETE", "/api/geofences/x1", NULL), 404);
    ck_assert_int_eq(call("DELETE", "/api/geofences", NULL), 405);
    ck_assert_int_eq(call("GET", "/api/geofences", NULL), 200);
    ck_assert_msg(!strstr(resp, "Zone"), "a deleted geofence is listed: %s", resp);
}
END_TEST

START_TEST(misc)
{
    ck_assert_int_eq(call("GET", "/api/health", NULL), 200);
    HAS("\"status\":\"ok\"");
    HAS("\"ingest_db\":\"ok\"");
    ck_assert_int_eq(call("GET", "/api/nothing", NULL), 404);
    HAS("{\"error\":\"not_found\",\"detail\":\"no such endpoint: /api/nothing\"}");
    ck_assert_int_eq(call("GET", "/api/incidents?status=bogus", NULL), 400);
    HAS("\"error\":\"bad_query\"");
    ck_assert_int_eq(call("GET", "/api/incidents?status=open", NULL), 200);
    ck_assert_str_eq(resp, "[]");
    ck_assert_int_eq(call("GET", "/api/countries", NULL), 200);
    HAS("\"iso2\" : \"KE\"");
    ck_assert_int_eq(call("GET", "/../../../../etc/passwd", NULL), 404);
    ck_assert_msg(!strstr(resp, "root:"), "path traversal served %s", resp);
    ck_assert_int_eq(call("GET", "/", NULL), 200);
    HAS("<title>");
    char *big = malloc(2 << 20);
    memset(big, 'a', 2 << 20);
    big[(2 << 20) - 1] = '\0';
    ck_assert_int_eq(call("POST", "/api/seals", big), 413);
    HAS("\"error\":\"body_too_large\"");
    free(big);
    ck_assert_int_eq(call("GET", "/metrics", NULL), 200);
    HAS("corridor_web_http_client_errors_total{code=\"413\"} 1");
    HAS("corridor_web_http_client_errors_total{code=\"404\"}");
    HAS("corridor_web_ws_clients 0");
}
END_TEST

static void setup(void)
{
    harness_server_start(&srv, harness_db_create("web_rest_test"), NULL);
}

static void teardown(void)
{
    harness_server_stop(&srv, 0);
}

int main(void)
{
    Suite *s = suite_create("rest");
    TCase *tc = tcase_create("rest");
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_add_test(tc, seals);
    tcase_add_test(tc, geofences);
    tcase_add_test(tc, misc);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
