/*
 * test_sim_places.c: the places CSV reader (the real data file and every refusal with its
 * line number) and which places become demo geofences, of which kind and size.
 */
#include "sim.h"

#include <check.h>
#include <string.h>

START_TEST(real_file)
{
    sim_place p[SIM_PLACES_MAX];
    char err[200] = "";
    int n = sim_places_load(SIM_DATA, p, SIM_PLACES_MAX, err, sizeof err);
    ck_assert_msg(n == 23, "%d places: %s", n, err);
    ck_assert_str_eq(p[0].name, "Mombasa port (Kilindini)");
    ck_assert_str_eq(p[0].kind, "port");
    ck_assert_str_eq(p[0].country, "KE");
    ck_assert_double_eq_tol(p[0].lat, -4.06, 1e-12);
    ck_assert_double_eq_tol(p[0].lon, 39.655, 1e-12);
    ck_assert_str_eq(p[21].name, "Katuna / Gatuna border post");
    ck_assert_str_eq(p[22].name, "Kigali");
    ck_assert_str_eq(p[22].country, "RW");
    int fences = 0, rru = 0;
    for (int i = 0; i < n; i++) {
        const char *kind;
        double r;
        int rc = sim_place_fence(&p[i], &kind, &r);
        if (rc == CORE_ENOTFOUND) {
            ck_assert_str_eq(p[i].kind, "rru");
            rru++;
            continue;
        }
        ck_assert_int_eq(rc, 0);
        ck_assert(r >= 1000 && r <= 3000);
        fences++;
        if (!strcmp(p[i].name, "Mombasa port (Kilindini)"))
            ck_assert_str_eq(kind, "port");
        if (!strcmp(p[i].name, "Nairobi ICD (Embakasi)"))
            ck_assert_str_eq(kind, "customs_office");
        if (!strcmp(p[i].name, "Malaba border post"))
            ck_assert_str_eq(kind, "border_post");
        if (!strcmp(p[i].name, "Kampala") || !strcmp(p[i].name, "Kigali"))
            ck_assert_str_eq(kind, "customs_office");
        if (!strcmp(p[i].name, "Tororo"))
            ck_assert_str_eq(kind, "checkpoint");
        if (!strcmp(p[i].name, "Mombasa outer anchorage"))
            ck_assert_str_eq(kind, "anchorage");
    }
    ck_assert_int_eq(fences, 13);
    ck_assert_int_eq(rru, 10);
}
END_TEST

static int parse(const char *text, sim_place *p, int max, char *err)
{
    return sim_places_parse(text, strlen(text), p, max, err, 200);
}

START_TEST(quoting_and_blanks)
{
    sim_place p[4];
    char err[200] = "";
    ck_assert_int_eq(parse("# c\r\nname,kind,country,lat,lon\r\n"
                           "\"Port, \"\"Old\"\"\",port,KE, -4.5 ,39\r\n\n"
                           "  Voi ,rru,KE,-3.3961,38.5561",
                           p, 4, err),
                     2);
    ck_assert_str_eq(p[0].name, "Port, \"Old\"");
    ck_assert_double_eq(p[0].lat, -4.5);
    ck_assert_str_eq(p[1].name, "Voi");
    ck_assert_double_eq(p[1].lon, 38.5561);
}
END_TEST

START_TEST(refusals)
{
    sim_place p[2];
    char err[200];
    static const struct {
        const char *text, *why;
    } cases[] = {
        {"", "no header line name,kind,country,lat,lon"},
        {"name,kind,lat,lon,country\n", "line 1: header must be name,kind,country,lat,lon"},
        {"name,kind,country,lat,lon\nA,port,KE,95,1\n",
         "line 2: latitude \"95\" is not a number in -90..90"},
        {"name,kind,country,lat,lon\nA,port,KE,1,1x\n",
         "line 2: longitude \"1x\" is not a number in -180..180"},
        {"name,kind,country,lat,lon\n#\nA,harbour,KE,1,1\n", "line 3: unknown kind \"harbour\""},
        {"name,kind,country,lat,lon\nA,port,Kenya,1,1\n",
         "line 2: country \"Kenya\" is not an ISO 3166 alpha-2 code"},
        {"name,kind,country,lat,lon\nA,port,KE,1\n",
         "line 2: expected 5 fields name,kind,country,lat,lon"},
        {"name,kind,country,lat,lon\nA,port,KE,1,1,1\n",
         "line 2: expected 5 fields name,kind,country,lat,lon"},
        {"name,kind,country,lat,lon\n\"A,port,KE,1,1\n",
         "line 2: expected 5 fields name,kind,country,lat,lon"},
        {"name,kind,country,lat,lon\n,port,KE,1,1\n", "line 2: empty name"},
        {"name,kind,country,lat,lon\nA,port,KE,1,1\nB,port,KE,1,1\nC,port,KE,1,1\n",
         "line 4: more than 2 places"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        err[0] = 0;
        ck_assert_int_eq(parse(cases[i].text, p, 2, err), CORE_EINVAL);
        ck_assert_str_eq(err, cases[i].why);
    }
    char big[400];
    snprintf(big, sizeof big, "name,kind,country,lat,lon\n%0150d,port,KE,1,1\n", 0);
    ck_assert_int_eq(parse(big, p, 2, err), CORE_EINVAL);
    ck_assert_str_eq(err, "line 2: a field is longer than 95 bytes");
    ck_assert_int_lt(sim_places_load("/nonexistent/places.csv", p, 2, err, sizeof err), 0);
    ck_assert_str_eq(err, "/nonexistent/places.csv: No such file or directory");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sim_places");
    TCase *tc = tcase_create("places");
    tcase_add_test(tc, real_file);
    tcase_add_test(tc, quoting_and_blanks);
    tcase_add_test(tc, refusals);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
