/*
 * test_sim_geo.c: the simulator's geodesy (distances, bearings, destinations, metric
 * circles, positions along a polyline) and the Northern Corridor road it drives: near
 * the real places, clear of the restricted zone, except for the deviator's detour.
 */
#include "sim.h"

#include <check.h>
#include <math.h>
#include <string.h>

#define DEG_M (SIM_EARTH_R * M_PI / 180.0) /* metres in one degree of a great circle */

START_TEST(distance_and_bearing)
{
    ck_assert_double_eq_tol(sim_geo_distance(0, 0, 0, 1), DEG_M, 1e-6);
    ck_assert_double_eq_tol(sim_geo_distance(0, 0, 1, 0), DEG_M, 1e-6);
    ck_assert_double_eq_tol(sim_geo_distance(-4.06, 39.655, -4.06, 39.655), 0, 1e-9);
    /* Mombasa port to Kigali: about 1,090 km as the crow flies. */
    double d = sim_geo_distance(-4.06, 39.655, -1.9441, 30.0619);
    ck_assert_msg(d > 1085e3 && d < 1095e3, "Mombasa-Kigali %.0f m", d);
    ck_assert_double_eq_tol(sim_geo_bearing(0, 0, 0, 1), 90, 1e-9);
    ck_assert_double_eq_tol(sim_geo_bearing(0, 0, 1, 0), 0, 1e-9);
    ck_assert_double_eq_tol(sim_geo_bearing(0, 0, -1, 0), 180, 1e-9);
    ck_assert_double_eq_tol(sim_geo_bearing(0, 0, 0, -1), 270, 1e-9);
    double b = sim_geo_bearing(-4.06, 39.655, -1.9441, 30.0619);
    ck_assert_msg(b > 270 && b < 285, "bearing to Kigali %.3f", b); /* west, a little north */
}
END_TEST

START_TEST(destination)
{
    double lat, lon;
    sim_geo_destination(0, 0, 90, DEG_M, &lat, &lon);
    ck_assert_double_eq_tol(lat, 0, 1e-9);
    ck_assert_double_eq_tol(lon, 1, 1e-9);
    sim_geo_destination(0, 179.5, 90, DEG_M, &lat, &lon); /* across the antimeridian */
    ck_assert_double_eq_tol(lon, -179.5, 1e-9);
    /* Round trip: go 12.3 km at 37 degrees, then measure. */
    sim_geo_destination(-1.3, 36.9, 37, 12300, &lat, &lon);
    ck_assert_double_eq_tol(sim_geo_distance(-1.3, 36.9, lat, lon), 12300, 1e-6);
    ck_assert_double_eq_tol(sim_geo_bearing(-1.3, 36.9, lat, lon), 37, 1e-9);
}
END_TEST

START_TEST(circle)
{
    sim_point ring[25];
    sim_geo_circle(-4.06, 39.655, 2500, 24, ring);
    ck_assert_double_eq(ring[0].lat, ring[24].lat);
    ck_assert_double_eq(ring[0].lon, ring[24].lon);
    double area2 = 0;
    for (int i = 0; i < 24; i++) {
        ck_assert_double_eq_tol(sim_geo_distance(-4.06, 39.655, ring[i].lat, ring[i].lon), 2500,
                                1e-6);
        area2 += ring[i].lon * ring[i + 1].lat - ring[i + 1].lon * ring[i].lat;
    }
    ck_assert_msg(area2 > 0, "ring is clockwise"); /* RFC 7946: exterior rings CCW */
    /* North first, then west (counter-clockwise): */
    ck_assert(ring[0].lat > -4.06 && fabs(ring[0].lon - 39.655) < 1e-9);
    ck_assert(ring[6].lon < 39.655 && fabs(ring[6].lat + 4.06) < 1e-3);
}
END_TEST

START_TEST(path)
{
    sim_point pts[] = {{0, 0, 0}, {0, 1, 100}, {0, 1, 100}, {0, 2, 300}};
    sim_path *p = sim_path_new(pts, 4);
    ck_assert_ptr_nonnull(p);
    ck_assert_ptr_null(sim_path_new(pts, 1));
    ck_assert_double_eq_tol(sim_path_length(p), 2 * DEG_M, 1e-6);
    sim_point at;
    double brg;
    sim_path_at(p, 1.5 * DEG_M, 1, &at, &brg);
    ck_assert_double_eq_tol(at.lat, 0, 1e-9);
    ck_assert_double_eq_tol(at.lon, 1.5, 1e-9);
    ck_assert_double_eq_tol(at.alt, 200, 1e-6);
    ck_assert_double_eq_tol(brg, 90, 1e-9);
    sim_path_at(p, 1.5 * DEG_M, -1, &at, &brg);
    ck_assert_double_eq_tol(brg, 270, 1e-9);
    sim_path_at(p, 0.25 * DEG_M, 1, &at, &brg);
    ck_assert_double_eq_tol(at.lon, 0.25, 1e-9);
    ck_assert_double_eq_tol(at.alt, 25, 1e-6);
    sim_path_at(p, -5, 1, &at, &brg); /* clamped */
    ck_assert_double_eq_tol(at.lon, 0, 1e-12);
    sim_path_at(p, 1e9, 1, &at, &brg);
    ck_assert_double_eq_tol(at.lon, 2, 1e-9);
    sim_path_at(p, DEG_M, 1, &at, &brg); /* exactly on the doubled vertex */
    ck_assert_double_eq_tol(at.lon, 1, 1e-9);
    ck_assert_double_eq_tol(sim_path_offset_of(p, 0.1, 1.9), 2 * DEG_M, 1e-6);
    sim_path_free(p);
}
END_TEST

/* Smallest distance from (lat, lon) to the path, sampled every 200 m. */
static double min_dist(const sim_path *p, double lat, double lon)
{
    double best = INFINITY;
    for (double d = 0; d <= sim_path_length(p); d += 200) {
        sim_point at;
        sim_path_at(p, d, 1, &at, NULL);
        double x = sim_geo_distance(lat, lon, at.lat, at.lon);
        if (x < best)
            best = x;
    }
    return best;
}

START_TEST(corridor_road)
{
    int n;
    const sim_point *road = sim_corridor_road(&n);
    sim_path *p = sim_path_new(road, n);
    double len = sim_path_length(p);
    /* Mombasa - Kigali is about 1,650 km by road; straight legs cut a little of it. */
    ck_assert_msg(len > 1450e3 && len < 1750e3, "road %.0f km", len / 1000);
    for (int i = 1; i < n; i++) {
        double leg = sim_geo_distance(road[i - 1].lat, road[i - 1].lon, road[i].lat, road[i].lon);
        ck_assert_msg(leg < 60e3, "leg %d is %.0f km: too coarse to stay on the road", i,
                      leg / 1000);
    }
    /* The road passes through the fences of the places a transit truck must cross. */
    sim_place pl[SIM_PLACES_MAX];
    char err[200];
    int np = sim_places_load(SIM_DATA, pl, SIM_PLACES_MAX, err, sizeof err);
    ck_assert_msg(np > 0, "%s", err);
    const char *on_road[] = {"Mombasa port (Kilindini)",
                             "Nairobi ICD (Embakasi)",
                             "Emali",
                             "Webuye",
                             "Malaba border post",
                             "Tororo",
                             "Kampala",
                             "Kabale",
                             "Katuna / Gatuna border post",
                             "Kigali"};
    for (size_t k = 0; k < sizeof on_road / sizeof on_road[0]; k++) {
        int found = 0;
        for (int i = 0; i < np; i++) {
            if (strcmp(pl[i].name, on_road[k]))
                continue;
            const char *kind;
            double r;
            ck_assert_int_eq(sim_place_fence(&pl[i], &kind, &r), 0);
            double d = min_dist(p, pl[i].lat, pl[i].lon);
            ck_assert_msg(d < r * 0.8, "%s: road passes %.0f m away, fence radius %.0f m",
                          on_road[k], d, r);
            found = 1;
        }
        ck_assert_msg(found, "%s not in the data", on_road[k]);
    }
    /* Every rru base lies within 5 km of the road. */
    for (int i = 0; i < np; i++)
        if (!strcmp(pl[i].kind, "rru"))
            ck_assert_msg(min_dist(p, pl[i].lat, pl[i].lon) < 5000, "%s off the road", pl[i].name);
    /* The restricted zone is clear of the road by at least 5 km. */
    const sim_zone *z = sim_corridor_restricted();
    ck_assert_str_eq(z->kind, "restricted");
    double gap = min_dist(p, z->lat, z->lon) - z->radius_m;
    ck_assert_msg(gap > 5000, "restricted zone only %.0f m from the road", gap);
    sim_path_free(p);
}
END_TEST

START_TEST(deviation)
{
    sim_point dev[SIM_CORRIDOR_MAX];
    int n_road;
    const sim_point *road = sim_corridor_road(&n_road);
    ck_assert_int_eq(sim_corridor_deviation(dev, n_road), CORE_ETOOBIG);
    int n = sim_corridor_deviation(dev, SIM_CORRIDOR_MAX);
    ck_assert_int_eq(n, n_road + 3);
    /* Same start and end as the road, and the road's vertices in order around the detour. */
    ck_assert_double_eq(dev[0].lat, road[0].lat);
    ck_assert_double_eq(dev[n - 1].lon, road[n_road - 1].lon);
    const sim_zone *z = sim_corridor_restricted();
    int inside = 0, first_in = -1, last_in = -1;
    sim_path *p = sim_path_new(dev, n);
    for (double d = 0; d <= sim_path_length(p); d += 200) {
        sim_point at;
        sim_path_at(p, d, 1, &at, NULL);
        if (sim_geo_distance(at.lat, at.lon, z->lat, z->lon) < z->radius_m) {
            inside++;
            if (first_in < 0)
                first_in = (int)(d / 1000);
            last_in = (int)(d / 1000);
        }
    }
    /* One crossing of about 2 x radius... less, as it enters and leaves at an angle. */
    ck_assert_msg(inside > 0, "the deviator never enters the zone");
    ck_assert_msg(last_in - first_in < 20 && last_in - first_in > 5, "crossing %d..%d km", first_in,
                  last_in);
    ck_assert_msg(first_in > 150 && last_in < 250, "zone at %d km from Mombasa", first_in);
    sim_path_free(p);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sim_geo");
    TCase *tc = tcase_create("geo");
    tcase_add_test(tc, distance_and_bearing);
    tcase_add_test(tc, destination);
    tcase_add_test(tc, circle);
    tcase_add_test(tc, path);
    tcase_add_test(tc, corridor_road);
    tcase_add_test(tc, deviation);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
