/*
 * test_geo_shape.c: shapes users submit for geofences: what is accepted, and the exact
 * reason for what is not (GEOS's own words for invalid geometry).
 */
#include "core.h"
#include "geofence.h"

#include <check.h>
#include <string.h>

static int check(const char *geojson, char *reason)
{
    reason[0] = 0;
    return geo_shape_validate(geojson, strlen(geojson), reason, 256);
}

START_TEST(valid_shapes)
{
    char r[256];
    ck_assert_int_eq(check("{\"type\":\"Polygon\",\"coordinates\":[[[36,-1.5],[36.2,-1.5],"
                           "[36.2,-1.3],[36,-1.5]]]}",
                           r),
                     0);
    ck_assert_int_eq(check("{\"type\":\"MultiPolygon\",\"coordinates\":[[[[0,0],[1,0],[1,1],"
                           "[0,0]]],[[[5,5],[6,5],[6,6],[5,5]]]]}",
                           r),
                     0);
}
END_TEST

struct bad {
    const char *geojson;
    const char *reason;
};

START_TEST(refused_with_reason)
{
    static const struct bad cases[] = {
        {"{\"type\":\"Polygon\",\"coordinates\":[[[0,0],[1,1],[1,0],[0,1],[0,0]]]}",
         "Self-intersection[0.5 0.5]"},
        {"{\"type\":\"Point\",\"coordinates\":[1,2]}",
         "a geofence must be a Polygon or MultiPolygon, not Point"},
        {"{\"type\":\"Polygon\",\"coordinates\":[[[0,0],[200,0],[200,1],[0,0]]]}",
         "coordinates outside WGS 84 bounds (longitude -180..180, latitude -90..90)"},
        /* an empty position crashes GEOS's GeoJSON reader: refused before it */
        {"{\"type\":\"Polygon\",\"coordinates\":[[[0,0],[],[1,1],[0,0]]]}",
         "not a GeoJSON geometry: every position must be 2 or 3 finite numbers and no "
         "coordinate array may be empty"},
        {"{\"type\":\"Polygon\",\"coordinates\":[]}",
         "not a GeoJSON geometry: every position must be 2 or 3 finite numbers and no "
         "coordinate array may be empty"},
        {"{\"type\":\"Polygon\",\"coordinates\":[[[0,\"a\"],[1,0],[1,1],[0,\"a\"]]]}",
         "not a GeoJSON geometry: every position must be 2 or 3 finite numbers and no "
         "coordinate array may be empty"},
        {"{\"type\":\"Polygon\"}", "not a GeoJSON geometry: every position must be 2 or 3 "
                                   "finite numbers and no coordinate array may be empty"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char r[256];
        ck_assert_msg(check(cases[i].geojson, r) != 0, "%s accepted", cases[i].geojson);
        ck_assert_msg(strcmp(r, cases[i].reason) == 0, "%s: \"%s\"", cases[i].geojson, r);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("geo_shape");
    TCase *tc = tcase_create("validate");
    tcase_add_test(tc, valid_shapes);
    tcase_add_test(tc, refused_with_reason);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
