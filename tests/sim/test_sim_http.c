/*
 * test_sim_http.c: the simulator's HTTP/1.1 client: the response parser on real byte
 * streams (split anywhere, pipelined, chunked, delimited by the close, over its limits) and
 * the keep-alive connection against a real loopback server that answers pipelined requests
 * in order, plus a refused connection.
 */
#include "sim.h"

#include <check.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *body_str(sim_http_resp *r)
{
    static char buf[4096];
    size_t n = evbuffer_copyout(r->body, buf, sizeof buf - 1);
    buf[n] = 0;
    return buf;
}

/* Feeds text one byte at a time; returns the final parse result. */
static int feed_bytes(sim_http_resp *r, struct evbuffer *in, const char *text, size_t max)
{
    int rc = 0;
    for (size_t i = 0; text[i]; i++) {
        evbuffer_add(in, text + i, 1);
        rc = sim_http_parse(r, in, max, 0);
        if (rc != 0)
            return rc;
    }
    return rc;
}

START_TEST(parse_split_and_pipelined)
{
    sim_http_resp r;
    ck_assert_int_eq(sim_http_resp_init(&r), 0);
    struct evbuffer *in = evbuffer_new();
    ck_assert_int_eq(feed_bytes(&r, in,
                                "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
                                "Content-Type: text/plain\r\n\r\nhello",
                                1024),
                     1);
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_eq(r.close, 0);
    ck_assert_str_eq(body_str(&r), "hello");
    sim_http_resp_reset(&r);
    /* Two answers in one read: the first completes, the second stays in the buffer. */
    evbuffer_add_printf(in, "HTTP/1.1 400 Bad Request\r\nContent-Length: 12\r\n\r\nbad latitude"
                            "HTTP/1.1 200 OK\r\ncontent-length: 0\r\nConnection: close\r\n\r\n");
    ck_assert_int_eq(sim_http_parse(&r, in, 1024, 0), 1);
    ck_assert_int_eq(r.status, 400);
    ck_assert_str_eq(body_str(&r), "bad latitude");
    sim_http_resp_reset(&r);
    ck_assert_int_eq(sim_http_parse(&r, in, 1024, 0), 1);
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_eq(r.close, 1);
    ck_assert_str_eq(body_str(&r), "");
    ck_assert_int_eq(evbuffer_get_length(in), 0);
    sim_http_resp_reset(&r);
    /* 100 Continue first, then the answer; chunked, split byte by byte. */
    ck_assert_int_eq(feed_bytes(&r, in,
                                "HTTP/1.1 100 Continue\r\n\r\n"
                                "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
                                "4\r\n{\"id\r\nA;ext=1\r\n\":14}     \r\n0\r\nX-T: 1\r\n\r\n",
                                1024),
                     1);
    ck_assert_int_eq(r.status, 201);
    ck_assert_str_eq(body_str(&r), "{\"id\":14}     ");
    sim_http_resp_reset(&r);
    /* 204 has no body even without a length. */
    evbuffer_add_printf(in, "HTTP/1.1 204 No Content\r\n\r\n");
    ck_assert_int_eq(sim_http_parse(&r, in, 1024, 0), 1);
    ck_assert_int_eq(r.status, 204);
    sim_http_resp_reset(&r);
    /* HTTP/1.0 without a length: the body ends with the connection. */
    evbuffer_add_printf(in, "HTTP/1.0 503 Service Unavailable\r\n\r\ndb down");
    ck_assert_int_eq(sim_http_parse(&r, in, 1024, 0), 0);
    ck_assert_int_eq(sim_http_parse(&r, in, 1024, 1), 1);
    ck_assert_int_eq(r.status, 503);
    ck_assert_int_eq(r.close, 1);
    ck_assert_str_eq(body_str(&r), "db down");
    evbuffer_free(in);
    sim_http_resp_release(&r);
}
END_TEST

static int parse_once(const char *text, size_t max, int eof)
{
    sim_http_resp r;
    sim_http_resp_init(&r);
    struct evbuffer *in = evbuffer_new();
    evbuffer_add(in, text, strlen(text));
    int rc = sim_http_parse(&r, in, max, eof);
    evbuffer_free(in);
    sim_http_resp_release(&r);
    return rc;
}

START_TEST(parse_refusals)
{
    ck_assert_int_eq(parse_once("SSH-2.0-OpenSSH\r\n", 100, 0), CORE_EINVAL);
    ck_assert_int_eq(parse_once("HTTP/2.0 200 OK\r\n", 100, 0), CORE_EINVAL);
    ck_assert_int_eq(parse_once("HTTP/1.1 999 What\r\n", 100, 0), CORE_EINVAL);
    ck_assert_int_eq(parse_once("HTTP/1.1 200 OK\r\nno colon here\r\n", 100, 0), CORE_EINVAL);
    ck_assert_int_eq(parse_once("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", 100, 0),
                     CORE_EINVAL);
    ck_assert_int_eq(
        parse_once("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 100, 0),
        CORE_EINVAL);
    ck_assert_int_eq(parse_once("HTTP/1.1 200 OK\r\nContent-Length: 101\r\n\r\n", 100, 0),
                     CORE_ETOOBIG);
    ck_assert_int_eq(parse_once("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", 100, 0), 0);
    ck_assert_int_eq(parse_once("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab", 100, 1),
                     CORE_EINVAL); /* cut short by the close */
    ck_assert_int_eq(
        parse_once("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 100, 0),
        CORE_EINVAL);
    ck_assert_int_eq(parse_once("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                "40\r\n",
                                32, 0),
                     CORE_ETOOBIG);
    ck_assert_int_eq(parse_once("HTTP/1.1 200 OK\r\n\r\n0123456789", 5, 0), CORE_ETOOBIG);
    /* A header line over the limit, with and without its end in sight. */
    char *big = malloc(SIM_HTTP_LINE_MAX + 64);
    strcpy(big, "HTTP/1.1 200 OK\r\nX-Big: ");
    memset(big + strlen(big), 'a', SIM_HTTP_LINE_MAX);
    big[24 + SIM_HTTP_LINE_MAX] = 0;
    ck_assert_int_eq(parse_once(big, 100, 0), CORE_ETOOBIG);
    strcat(big, "\r\n");
    ck_assert_int_eq(parse_once(big, 100, 0), CORE_ETOOBIG);
    free(big);
    /* Too many headers. */
    char many[4096] = "HTTP/1.1 200 OK\r\n";
    for (int i = 0; i <= SIM_HTTP_HEADERS_MAX; i++)
        strcat(many, "X: y\r\n");
    ck_assert_int_eq(parse_once(many, 100, 0), CORE_ETOOBIG);
}
END_TEST

/* ---- a real loopback server: answers every request in order, body "r<N>" ---- */

struct srv {
    int served;
    int chunked_every; /* every k-th answer chunked */
};

static void srv_close_written(struct bufferevent *bev, void *arg);
static void srv_event(struct bufferevent *bev, short what, void *arg);

static void srv_read(struct bufferevent *bev, void *arg)
{
    struct srv *s = arg;
    struct evbuffer *in = bufferevent_get_input(bev), *out = bufferevent_get_output(bev);
    for (;;) {
        struct evbuffer_ptr p = evbuffer_search(in, "\r\n\r\n", 4, NULL);
        if (p.pos < 0)
            return;
        char line[256] = "";
        evbuffer_copyout(in, line, sizeof line - 1);
        char *eol = strstr(line, "\r\n");
        if (eol)
            *eol = 0; /* only this request's line, not the next pipelined one */
        evbuffer_drain(in, (size_t)p.pos + 4);
        int n = s->served++;
        if (strstr(line, "GET /close ")) {
            evbuffer_add_printf(out, "HTTP/1.1 200 OK\r\nConnection: close\r\n"
                                     "Content-Length: 3\r\n\r\nbye");
            bufferevent_disable(bev, EV_READ);
            bufferevent_setcb(bev, NULL, srv_close_written, srv_event, arg);
            return;
        }
        char body[32];
        snprintf(body, sizeof body, "r%d", n);
        if (s->chunked_every && n % s->chunked_every == 0)
            evbuffer_add_printf(out,
                                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                "%zx\r\n%s\r\n0\r\n\r\n",
                                strlen(body), body);
        else if (strstr(line, "/bad"))
            evbuffer_add_printf(out, "HTTP/1.1 400 Bad Request\r\nContent-Length: %zu\r\n\r\n%s",
                                strlen(body), body);
        else
            evbuffer_add_printf(out, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n%s",
                                strlen(body), body);
    }
}

static void srv_event(struct bufferevent *bev, short what, void *arg)
{
    bufferevent_free(bev);
}

static void srv_close_written(struct bufferevent *bev, void *arg)
{
    bufferevent_free(bev); /* the answer is out: now close, as it said */
}

static void srv_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int len,
                       void *arg)
{
    struct bufferevent *bev =
        bufferevent_socket_new(evconnlistener_get_base(l), fd, BEV_OPT_CLOSE_ON_FREE);
    bufferevent_setcb(bev, srv_read, NULL, srv_event, arg);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
}

struct got {
    int n;
    int status[64];
    char body[64][16];
};

static void on_done(void *arg, int status, const char *body, size_t len, int64_t latency_us)
{
    struct got *g = arg;
    ck_assert_int_lt(g->n, 64);
    ck_assert_int_ge(latency_us, 0);
    g->status[g->n] = status;
    snprintf(g->body[g->n], sizeof g->body[0], "%.*s", (int)len, body);
    g->n++;
}

static struct evconnlistener *listen_local(struct event_base *base, struct srv *s, int *port)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
    struct evconnlistener *l =
        evconnlistener_new_bind(base, srv_accept, s, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 16,
                                (struct sockaddr *)&sin, sizeof sin);
    ck_assert_ptr_nonnull(l);
    socklen_t sl = sizeof sin;
    getsockname(evconnlistener_get_fd(l), (struct sockaddr *)&sin, &sl);
    *port = ntohs(sin.sin_port);
    return l;
}

/* Lets the server side see the client's close and free its connection. */
static void settle(struct event_base *base)
{
    for (int i = 0; i < 4; i++) {
        struct timeval tv = {0, 5000};
        event_base_loopexit(base, &tv);
        event_base_dispatch(base);
    }
}

static void run_until(struct event_base *base, struct got *g, int n)
{
    for (int i = 0; i < 2000 && g->n < n; i++) {
        struct timeval tv = {0, 5000};
        event_base_loopexit(base, &tv);
        event_base_dispatch(base);
    }
}

START_TEST(pipelined_in_order)
{
    struct event_base *base = event_base_new();
    struct srv s = {0, 3};
    int port;
    struct evconnlistener *l = listen_local(base, &s, &port);
    char hp[64], err[200];
    snprintf(hp, sizeof hp, "127.0.0.1:%d", port);
    sim_http *h = sim_http_new(base, hp, 1024, 5, err, sizeof err);
    ck_assert_msg(h != NULL, "%s", err);
    struct got g = {0};
    for (int i = 0; i < 20; i++)
        ck_assert_int_eq(
            sim_http_request(h, "GET", i == 7 ? "/bad" : "/?id=x", "", NULL, 0, on_done, &g), 0);
    ck_assert_int_eq(g.n, 0); /* never called from inside the request call */
    ck_assert_int_eq(sim_http_inflight(h), 20);
    run_until(base, &g, 20);
    ck_assert_int_eq(g.n, 20);
    for (int i = 0; i < 20; i++) {
        char want[16];
        snprintf(want, sizeof want, "r%d", i);
        ck_assert_str_eq(g.body[i], want);
        ck_assert_int_eq(g.status[i], (i == 7 ? 400 : 200));
    }
    ck_assert_int_eq(sim_http_inflight(h), 0);
    /* A blocking call on the same keep-alive connection, with a JSON body. */
    char *body = NULL;
    ck_assert_int_eq(sim_http_call(h, "POST", "/api/seals", "", "{\"id\":\"S\"}", &body), 200);
    ck_assert_str_eq(body, "r20");
    free(body);
    ck_assert_int_eq(s.served, 21);
    sim_http_free(h);
    settle(base);
    evconnlistener_free(l);
    event_base_free(base);
}
END_TEST

START_TEST(refused_and_closed)
{
    struct event_base *base = event_base_new();
    struct srv s = {0, 0};
    int port;
    struct evconnlistener *l = listen_local(base, &s, &port);
    char hp[64], err[200];
    snprintf(hp, sizeof hp, "127.0.0.1:%d", port);
    evconnlistener_free(l); /* nobody listens on that port any more */
    sim_http *h = sim_http_new(base, hp, 1024, 5, err, sizeof err);
    ck_assert_ptr_nonnull(h);
    struct got g = {0};
    ck_assert_int_eq(sim_http_request(h, "GET", "/", "", NULL, 0, on_done, &g), 0);
    ck_assert_int_eq(sim_http_request(h, "GET", "/", "", NULL, 0, on_done, &g), 0);
    ck_assert_int_eq(g.n, 0);
    run_until(base, &g, 2);
    ck_assert_int_eq(g.n, 2);
    ck_assert_int_lt(g.status[0], 0);
    ck_assert_int_lt(g.status[1], 0);
    sim_http_free(h);
    ck_assert_ptr_null(sim_http_new(base, "127.0.0.1", 1024, 5, err, sizeof err));
    ck_assert_str_eq(err, "\"127.0.0.1\" is not ADDR:PORT");
    event_base_free(base);
}
END_TEST

START_TEST(server_closes)
{
    struct event_base *base = event_base_new();
    struct srv s = {0, 0};
    int port;
    struct evconnlistener *l = listen_local(base, &s, &port);
    char hp[64], err[200];
    snprintf(hp, sizeof hp, "127.0.0.1:%d", port);
    sim_http *h = sim_http_new(base, hp, 1024, 5, err, sizeof err);
    struct got g = {0};
    /* "Connection: close" answers its request; the one pipelined behind it is lost. */
    sim_http_request(h, "GET", "/close", "", NULL, 0, on_done, &g);
    sim_http_request(h, "GET", "/", "", NULL, 0, on_done, &g);
    run_until(base, &g, 2);
    ck_assert_int_eq(g.n, 2);
    ck_assert_int_eq(g.status[0], 200);
    ck_assert_str_eq(g.body[0], "bye");
    ck_assert_int_eq(g.status[1], CORE_ECLOSED);
    /* The next request dials again. */
    sim_http_request(h, "GET", "/", "", NULL, 0, on_done, &g);
    run_until(base, &g, 3);
    ck_assert_int_eq(g.status[2], 200);
    ck_assert_str_eq(g.body[2], "r1"); /* the lost request was never served */
    sim_http_free(h);
    settle(base);
    evconnlistener_free(l);
    event_base_free(base);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sim_http");
    TCase *tc = tcase_create("http");
    tcase_add_test(tc, parse_split_and_pipelined);
    tcase_add_test(tc, parse_refusals);
    tcase_add_test(tc, pipelined_in_order);
    tcase_add_test(tc, refused_and_closed);
    tcase_add_test(tc, server_closes);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
