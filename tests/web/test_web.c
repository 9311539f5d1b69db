/*
 * test_web.c: the web gateway's pure parts: path matching and the route table, bounded
 * buffers and JSON error bodies, the per-client out queue (coalescing and limits), the
 * seal table, static path mapping and content types.
 */
#include "web_int.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

static void h_dummy(struct web *w, const web_req *req, web_resp *resp)
{
    (void)w, (void)req, (void)resp;
}

/* ---- path matching ---- */
START_TEST(path_literal_and_captures)
{
    web_params p;
    ck_assert_int_eq(web_path_match("/api/health", "/api/health", &p), 1);
    ck_assert_int_eq(web_path_match("/api/health", "/api/health/", &p), 0);
    ck_assert_int_eq(web_path_match("/api/health", "/api/healt", &p), 0);
    ck_assert_int_eq(web_path_match("/api/geofences/{id}", "/api/geofences/42", &p), 1);
    ck_assert_int_eq(p.n, 1);
    ck_assert_str_eq(web_param(&p, "id"), "42");
    ck_assert_ptr_null(web_param(&p, "name"));
    ck_assert_int_eq(web_path_match("/api/geofences/{id}", "/api/geofences/", &p), 0);
    ck_assert_int_eq(web_path_match("/api/geofences/{id}", "/api/geofences/4/x", &p), 0);
    ck_assert_int_eq(web_path_match("/api/trips/{id}/disarm", "/api/trips/ab-c/disarm", &p), 1);
    ck_assert_str_eq(web_param(&p, "id"), "ab-c");
    ck_assert_int_eq(web_path_match("/api/*", "/api/", &p), 1);
    ck_assert_int_eq(web_path_match("/api/*", "/api/a/b/c", &p), 1);
    ck_assert_int_eq(web_path_match("/api/*", "/apix", &p), 0);
    ck_assert_int_eq(web_path_match("/*", "/", &p), 1);
    /* a capture longer than its buffer does not match */
    char longp[300] = "/api/geofences/";
    memset(longp + 15, '9', 200);
    ck_assert_int_eq(web_path_match("/api/geofences/{id}", longp, &p), 0);
}
END_TEST

static const web_route table[] = {
    {WEB_GET, "/api/health", h_dummy, WEB_ROLE_ANYONE, 0},
    {WEB_GET, "/api/geofences", h_dummy, WEB_ROLE_OFFICER, 0},
    {WEB_POST, "/api/geofences", h_dummy, WEB_ROLE_OFFICER, WEB_ROUTE_BODY},
    {WEB_DELETE, "/api/geofences/{id}", h_dummy, WEB_ROLE_OFFICER, 0},
    {WEB_ANY, "/api/*", h_dummy, WEB_ROLE_ANYONE, WEB_ROUTE_FALLBACK},
    {WEB_GET, "/*", h_dummy, WEB_ROLE_ANYONE, 0},
};
#define N_TABLE (sizeof table / sizeof table[0])

START_TEST(route_table)
{
    web_params p;
    int allowed = 0;
    ck_assert_int_eq(web_route_find(table, N_TABLE, WEB_GET, "/api/health", &p, &allowed), 0);
    ck_assert_int_eq(web_route_find(table, N_TABLE, WEB_GET, "/api/geofences", &p, &allowed), 1);
    ck_assert_int_eq(web_route_find(table, N_TABLE, WEB_POST, "/api/geofences", &p, &allowed), 2);
    ck_assert_int_eq(web_route_find(table, N_TABLE, WEB_DELETE, "/api/geofences/7", &p, &allowed),
                     3);
    ck_assert_str_eq(web_param(&p, "id"), "7");
    /* known path, wrong method: 405 with what is allowed, not the fallback */
    ck_assert_int_eq(web_route_find(table, N_TABLE, WEB_DELETE, "/api/geofences", &p, &allowed),
                     -405);
    ck_assert_int_eq(allowed, WEB_GET | WEB_POST);
    char list[64];
    web_method_list(allowed, list, sizeof list);
    ck_assert_str_eq(list, "GET, POST");
    ck_assert_int_eq(web_route_find(table, N_TABLE, WEB_POST, "/api/health", &p, &allowed), -405);
    /* unknown API path: the fallback (404 handler), never the static files */
    ck_assert_int_eq(web_route_find(table, N_TABLE, WEB_GET, "/api/nope", &p, &allowed), 4);
    ck_assert_int_eq(web_route_find(table, N_TABLE, WEB_POST, "/api/nope", &p, &allowed), 4);
    /* pages */
    ck_assert_int_eq(web_route_find(table, N_TABLE, WEB_GET, "/map.js", &p, &allowed), 5);
    ck_assert_int_eq(web_route_find(table, N_TABLE, WEB_POST, "/map.js", &p, &allowed), -405);
    ck_assert_int_eq(allowed, WEB_GET);
}
END_TEST

START_TEST(real_routes_state_roles)
{
    /* every route of the gateway names who may call it and has a handler */
    for (size_t i = 0; i < web_n_routes; i++) {
        ck_assert_ptr_nonnull(web_routes[i].handler);
        ck_assert_int_ne(web_routes[i].roles, 0);
        ck_assert_int_ne(web_routes[i].methods, 0);
    }
    web_params p;
    int allowed = 0;
    int i = web_route_find(web_routes, web_n_routes, WEB_POST, "/api/seals", &p, &allowed);
    ck_assert_int_ge(i, 0);
    ck_assert(web_routes[i].flags & WEB_ROUTE_BODY);
    ck_assert_int_eq(web_route_find(web_routes, web_n_routes, WEB_PUT, "/api/seals", &p, &allowed),
                     -405);
    i = web_route_find(web_routes, web_n_routes, WEB_GET, "/metrics", &p, &allowed);
    ck_assert_int_ge(i, 0);
    ck_assert(web_routes[i].roles & WEB_ROLE_LOOPBACK);
    ck_assert(!(web_routes[i].roles & WEB_ROLE_OFFICER));
}
END_TEST

START_TEST(methods)
{
    ck_assert_int_eq(web_method_parse("GET"), WEB_GET);
    ck_assert_int_eq(web_method_parse("DELETE"), WEB_DELETE);
    ck_assert_int_eq(web_method_parse("get"), 0);
    ck_assert_int_eq(web_method_parse("BREW"), 0);
}
END_TEST

START_TEST(query_args)
{
    web_req req;
    memset(&req, 0, sizeof req);
    memcpy(req.query, "status=open\0limit=5\0x=\0\0", 24);
    ck_assert_str_eq(web_query(&req, "status"), "open");
    ck_assert_str_eq(web_query(&req, "limit"), "5");
    ck_assert_str_eq(web_query(&req, "x"), "");
    ck_assert_ptr_null(web_query(&req, "stat"));
    ck_assert_ptr_null(web_query(&req, "y"));
}
END_TEST

/* ---- buffers and error bodies ---- */
START_TEST(buf_hard_limit)
{
    web_buf b;
    web_buf_init(&b, 10);
    ck_assert_int_eq(web_buf_add(&b, "12345", 5), 0);
    ck_assert_int_eq(web_buf_add(&b, "67890", 5), 0);
    ck_assert_str_eq(b.data, "1234567890");
    ck_assert_int_eq(web_buf_add(&b, "x", 1), CORE_ETOOBIG);
    ck_assert_uint_eq(b.len, 10);
    ck_assert_str_eq(b.data, "1234567890");
    b.len = 0;
    ck_assert_int_eq(web_buf_printf(&b, "%d-%s", 42, "ab"), 0);
    ck_assert_str_eq(b.data, "42-ab");
    ck_assert_int_eq(web_buf_printf(&b, "%s", "too long!"), CORE_ETOOBIG);
    ck_assert_str_eq(b.data, "42-ab");
    web_buf_free(&b);
}
END_TEST

START_TEST(error_bodies)
{
    web_buf b;
    web_buf_init(&b, 4096);
    ck_assert_int_eq(web_error_body(&b, "not_found", "no such path: /api/x"), 0);
    ck_assert_str_eq(b.data, "{\"error\":\"not_found\",\"detail\":\"no such path: /api/x\"}");
    ck_assert_int_eq(web_error_body(&b, "invalid_field", "say \"hi\"\n\\ <b>"), 0);
    ck_assert_str_eq(b.data,
                     "{\"error\":\"invalid_field\",\"detail\":\"say \\\"hi\\\"\\n\\\\ <b>\"}");
    web_buf_free(&b);

    web_resp resp;
    memset(&resp, 0, sizeof resp);
    web_buf_init(&resp.body, 4096);
    web_resp_error(&resp, 413, "body_too_large", "larger than %d bytes", WEB_BODY_MAX);
    ck_assert_int_eq(resp.status, 413);
    ck_assert_str_eq(resp.ctype, "application/json");
    ck_assert_str_eq(resp.body.data,
                     "{\"error\":\"body_too_large\",\"detail\":\"larger than 1048576 bytes\"}");
    web_buf_free(&resp.body);
}
END_TEST

/* ---- the out queue ---- */
static web_msg *msg(const char *s)
{
    return web_msg_new(s, strlen(s));
}

START_TEST(outq_positions_coalesce)
{
    web_outq q;
    web_outq_init(&q, 100);
    ck_assert_int_eq(web_outq_mark(&q, 3), 1);
    ck_assert_int_eq(web_outq_mark(&q, 7), 1);
    ck_assert_int_eq(web_outq_mark(&q, 3), 0); /* coalesced: still queued once */
    ck_assert_int_eq(web_outq_mark(&q, 1000), 1);
    ck_assert_uint_eq(web_outq_slots(&q), 3);
    uint32_t s;
    ck_assert_int_eq(web_outq_pop_slot(&q, &s), 0);
    ck_assert_uint_eq(s, 3);
    ck_assert_int_eq(web_outq_mark(&q, 3), 1); /* sent, so it queues again, at the back */
    ck_assert_int_eq(web_outq_pop_slot(&q, &s), 0);
    ck_assert_uint_eq(s, 7);
    ck_assert_int_eq(web_outq_pop_slot(&q, &s), 0);
    ck_assert_uint_eq(s, 1000);
    ck_assert_int_eq(web_outq_pop_slot(&q, &s), 0);
    ck_assert_uint_eq(s, 3);
    ck_assert_int_eq(web_outq_pop_slot(&q, &s), CORE_EAGAIN);
    /* many seals, many updates each: the queue holds each seal once, in first-seen order */
    for (int round = 0; round < 5; round++)
        for (uint32_t i = 0; i < 500; i++)
            web_outq_mark(&q, i);
    ck_assert_uint_eq(web_outq_slots(&q), 500);
    for (uint32_t i = 0; i < 500; i++) {
        ck_assert_int_eq(web_outq_pop_slot(&q, &s), 0);
        ck_assert_uint_eq(s, i);
    }
    web_outq_clear(&q);
}
END_TEST

START_TEST(outq_incidents_never_drop)
{
    web_outq q;
    web_outq_init(&q, 40);
    web_msg *m[40];
    char text[32];
    for (int i = 0; i < 40; i++) {
        snprintf(text, sizeof text, "{\"id\":%d}", i);
        m[i] = msg(text);
        ck_assert_int_eq(web_outq_push(&q, m[i]), 0);
        ck_assert_int_eq(m[i]->refs, 2);
    }
    web_msg *extra = msg("{\"id\":40}");
    ck_assert_int_eq(web_outq_push(&q, extra), CORE_EFULL); /* the caller disconnects */
    ck_assert_int_eq(extra->refs, 1);
    /* in order, none lost, across the ring's growth */
    for (int i = 0; i < 40; i++) {
        web_msg *got = web_outq_pop_msg(&q);
        ck_assert_ptr_eq(got, m[i]);
        snprintf(text, sizeof text, "{\"id\":%d}", i);
        ck_assert_str_eq((char *)WEB_MSG_DATA(got), text);
        web_msg_unref(got);
        ck_assert_int_eq(m[i]->refs, 1);
        web_msg_unref(m[i]);
    }
    ck_assert_ptr_null(web_outq_pop_msg(&q));
    /* interleaved pushes and pops wrap the ring without reordering */
    int next_in = 0, next_out = 0;
    for (int round = 0; round < 200; round++) {
        for (int k = 0; k < 3; k++) {
            snprintf(text, sizeof text, "%d", next_in++);
            web_msg *x = msg(text);
            ck_assert_int_eq(web_outq_push(&q, x), 0);
            web_msg_unref(x);
        }
        for (int k = 0; k < 2; k++) {
            web_msg *x = web_outq_pop_msg(&q);
            snprintf(text, sizeof text, "%d", next_out++);
            ck_assert_str_eq((char *)WEB_MSG_DATA(x), text);
            web_msg_unref(x);
        }
        if (web_outq_reliable(&q) > 30)
            while (web_outq_reliable(&q)) {
                web_msg *x = web_outq_pop_msg(&q);
                snprintf(text, sizeof text, "%d", next_out++);
                ck_assert_str_eq((char *)WEB_MSG_DATA(x), text);
                web_msg_unref(x);
            }
    }
    web_outq_clear(&q); /* releases what is left */
    web_msg_unref(extra);
}
END_TEST

/* ---- the seal table ---- */
START_TEST(sealtab_latest_wins)
{
    web_sealtab *t = web_sealtab_new(1000);
    web_msg *a = msg("a"), *b = msg("b"), *c = msg("c");
    uint32_t s1, s2, s3;
    ck_assert_int_eq(web_sealtab_put(t, "SEAL-1", "2026-11-26T20:00:01.000Z", a, &s1), 1);
    ck_assert_int_eq(web_sealtab_put(t, "SEAL-2", "2026-11-26T20:00:01.000Z", b, &s2), 1);
    ck_assert_uint_ne(s1, s2);
    /* older than held: not recorded */
    ck_assert_int_eq(web_sealtab_put(t, "SEAL-1", "2026-11-26T20:00:00.999Z", c, &s3), 0);
    ck_assert_ptr_eq(web_sealtab_msg(t, s1), a);
    ck_assert_int_eq(web_sealtab_put(t, "SEAL-1", "2026-11-26T20:00:02.000Z", c, &s3), 1);
    ck_assert_uint_eq(s3, s1);
    ck_assert_ptr_eq(web_sealtab_msg(t, s1), c);
    ck_assert_int_eq(a->refs, 1); /* the table let go of the old one */
    ck_assert_int_eq(c->refs, 2);
    ck_assert_int_eq(web_sealtab_put(t, "", "x", a, &s3), CORE_EINVAL);
    ck_assert_uint_eq(web_sealtab_count(t), 2);
    ck_assert_ptr_null(web_sealtab_msg(t, 99));
    web_msg_unref(a);
    web_msg_unref(b);
    web_msg_unref(c);
    web_sealtab_free(t);
}
END_TEST

START_TEST(sealtab_many_and_limit)
{
    web_sealtab *t = web_sealtab_new(5000);
    web_msg *m = msg("p");
    char id[32];
    uint32_t slot;
    for (int i = 0; i < 5000; i++) {
        snprintf(id, sizeof id, "S-%d", i);
        ck_assert_int_eq(web_sealtab_put(t, id, "t", m, &slot), 1);
        ck_assert_uint_eq(slot, (uint32_t)i);
    }
    ck_assert_int_eq(web_sealtab_put(t, "one-too-many", "t", m, &slot), CORE_EFULL);
    for (int i = 0; i < 5000; i += 97) { /* found again after rehashing */
        snprintf(id, sizeof id, "S-%d", i);
        ck_assert_int_eq(web_sealtab_put(t, id, "u", m, &slot), 1);
        ck_assert_uint_eq(slot, (uint32_t)i);
    }
    ck_assert_uint_eq(web_sealtab_count(t), 5000);
    web_sealtab_free(t);
    ck_assert_int_eq(m->refs, 1);
    web_msg_unref(m);
}
END_TEST

/* ---- static files ---- */
START_TEST(static_paths)
{
    char out[256];
    ck_assert_int_eq(web_static_path("/srv", "/", out, sizeof out), 0);
    ck_assert_str_eq(out, "/srv/index.html");
    ck_assert_int_eq(web_static_path("/srv", "/map.js", out, sizeof out), 0);
    ck_assert_str_eq(out, "/srv/map.js");
    ck_assert_int_eq(web_static_path("/srv", "/leaflet/dist/", out, sizeof out), 0);
    ck_assert_str_eq(out, "/srv/leaflet/dist/index.html");
    ck_assert_int_eq(web_static_path("/srv", "/a/..b/c.js", out, sizeof out), 0);
    const char *bad[] = {"/../etc/passwd", "/a/../../b", "/a/./b",  "/..",      "/a//b",
                         "//etc",          "/a\\..\\b",  "/a/\x01", "relative", "/a/.."};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(web_static_path("/srv", bad[i], out, sizeof out) == CORE_EINVAL,
                      "accepted %s", bad[i]);
    char small[12];
    ck_assert_int_eq(web_static_path("/srv", "/long-name.js", small, sizeof small), CORE_ETOOBIG);
}
END_TEST

START_TEST(mime_types)
{
    ck_assert_str_eq(web_mime("/x/index.html"), "text/html; charset=utf-8");
    ck_assert_str_eq(web_mime("leaflet.js"), "text/javascript; charset=utf-8");
    ck_assert_str_eq(web_mime("a/countries-50m.json"), "application/json");
    ck_assert_str_eq(web_mime("a/marker.png"), "image/png");
    ck_assert_str_eq(web_mime("a.b/README"), "application/octet-stream");
    ck_assert_str_eq(web_mime("noext"), "application/octet-stream");
}
END_TEST

static Suite *web_suite(void)
{
    Suite *s = suite_create("web");
    TCase *tc = tcase_create("pure");
    tcase_add_test(tc, path_literal_and_captures);
    tcase_add_test(tc, route_table);
    tcase_add_test(tc, real_routes_state_roles);
    tcase_add_test(tc, methods);
    tcase_add_test(tc, query_args);
    tcase_add_test(tc, buf_hard_limit);
    tcase_add_test(tc, error_bodies);
    tcase_add_test(tc, outq_positions_coalesce);
    tcase_add_test(tc, outq_incidents_never_drop);
    tcase_add_test(tc, sealtab_latest_wins);
    tcase_add_test(tc, sealtab_many_and_limit);
    tcase_add_test(tc, static_paths);
    tcase_add_test(tc, mime_types);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(web_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
