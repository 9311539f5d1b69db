/*
 * http.c: a small HTTP/1.1 client for the simulator: one keep-alive connection per sim_http,
 * requests pipelined and answered in order (HTTP/1.1 requires servers to answer in order),
 * an incremental response parser with hard limits (SIM_HTTP_LINE_MAX per line,
 * SIM_HTTP_HEADERS_MAX headers, body_max per body).
 *
 * Owns its bufferevent and the queue of requests waiting for answers. Runs on the thread of
 * the event_base it was made with (corridor-sim has one). A lost connection fails every
 * waiting request; the next request dials again.
 */
#include "sim.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

/* ---- the response parser ---- */

enum {
    R_STATUS,
    R_HEADERS,
    R_BODY,
    R_CHUNK_SIZE,
    R_CHUNK_DATA,
    R_CHUNK_END,
    R_TRAILERS,
    R_UNTIL_EOF,
    R_DONE
};

int sim_http_resp_init(sim_http_resp *r)
{
    memset(r, 0, sizeof *r);
    r->body = evbuffer_new();
    return r->body ? 0 : -ENOMEM;
}

void sim_http_resp_release(sim_http_resp *r)
{
    if (r->body)
        evbuffer_free(r->body);
    r->body = NULL;
}

void sim_http_resp_reset(sim_http_resp *r)
{
    struct evbuffer *b = r->body;
    evbuffer_drain(b, evbuffer_get_length(b));
    memset(r, 0, sizeof *r);
    r->body = b;
}

/* Takes one CRLF (or LF) line out of in into line. 1: got one, 0: need more,
 * CORE_ETOOBIG: longer than the limit. */
static int take_line(struct evbuffer *in, char *line)
{
    size_t eol_len = 0;
    struct evbuffer_ptr p = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_CRLF);
    if (p.pos < 0)
        return evbuffer_get_length(in) >= SIM_HTTP_LINE_MAX ? CORE_ETOOBIG : 0;
    if ((size_t)p.pos >= SIM_HTTP_LINE_MAX)
        return CORE_ETOOBIG;
    evbuffer_remove(in, line, (size_t)p.pos);
    line[p.pos] = 0;
    evbuffer_drain(in, eol_len);
    return 1;
}

static int header(sim_http_resp *r, char *line)
{
    char *colon = strchr(line, ':');
    if (!colon)
        return CORE_EINVAL;
    *colon = 0;
    char *v = colon + 1;
    v += strspn(v, " \t");
    size_t vl = strlen(v);
    while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
        v[--vl] = 0;
    if (!strcasecmp(line, "content-length")) {
        char *end;
        errno = 0;
        long long n = strtoll(v, &end, 10);
        if (end == v || *end || errno || n < 0)
            return CORE_EINVAL;
        if (r->remaining >= 0 && r->remaining != n)
            return CORE_EINVAL; /* two different lengths: a smuggling attempt or a bug */
        r->remaining = n;
    } else if (!strcasecmp(line, "transfer-encoding")) {
        if (strcasestr(v, "chunked"))
            r->chunked = 1;
    } else if (!strcasecmp(line, "connection")) {
        if (strcasestr(v, "close"))
            r->close = 1;
        else if (strcasestr(v, "keep-alive"))
            r->close = 0;
    }
    return 0;
}

static int add_body(sim_http_resp *r, struct evbuffer *in, size_t want, size_t body_max)
{
    size_t have = evbuffer_get_length(in);
    size_t take = have < want ? have : want;
    if (evbuffer_get_length(r->body) + take > body_max)
        return CORE_ETOOBIG;
    evbuffer_remove_buffer(in, r->body, take);
    return (int)take;
}

int sim_http_parse(sim_http_resp *r, struct evbuffer *in, size_t body_max, int eof)
{
    char line[SIM_HTTP_LINE_MAX + 1];
    for (;;) {
        int rc;
        switch (r->state) {
        case R_STATUS: {
            rc = take_line(in, line);
            if (rc <= 0)
                return rc;
            int major, minor, status;
            char sp;
            if (sscanf(line, "HTTP/%d.%d %3d%c", &major, &minor, &status, &sp) < 3 || major != 1 ||
                status < 100 || status > 599)
                return CORE_EINVAL;
            r->status = status;
            r->close = minor == 0; /* HTTP/1.0 closes unless it says keep-alive */
            r->remaining = -1;
            r->state = R_HEADERS;
            break;
        }
        case R_HEADERS:
            rc = take_line(in, line);
            if (rc <= 0)
                return rc;
            if (line[0]) {
                if (++r->n_headers > SIM_HTTP_HEADERS_MAX)
                    return CORE_ETOOBIG;
                rc = header(r, line);
                if (rc < 0)
                    return rc;
                break;
            }
            if (r->status < 200) { /* 100 Continue and friends: the real answer follows */
                sim_http_resp_reset(r);
                break;
            }
            if (r->status == 204 || r->status == 304) {
                r->state = R_DONE;
            } else if (r->chunked) {
                r->state = R_CHUNK_SIZE;
            } else if (r->remaining >= 0) {
                if ((size_t)r->remaining > body_max)
                    return CORE_ETOOBIG;
                r->state = r->remaining ? R_BODY : R_DONE;
            } else {
                r->close = 1;
                r->state = R_UNTIL_EOF;
            }
            break;
        case R_BODY:
            rc = add_body(r, in, (size_t)r->remaining, body_max);
            if (rc < 0)
                return rc;
            r->remaining -= rc;
            if (r->remaining > 0)
                return eof ? CORE_EINVAL : 0;
            r->state = R_DONE;
            break;
        case R_CHUNK_SIZE: {
            rc = take_line(in, line);
            if (rc <= 0)
                return rc == 0 && eof ? CORE_EINVAL : rc;
            char *end;
            errno = 0;
            long long n = strtoll(line, &end, 16);
            if (end == line || errno || n < 0 || (*end && *end != ';' && *end != ' '))
                return CORE_EINVAL;
            if ((size_t)n > body_max)
                return CORE_ETOOBIG;
            r->remaining = n;
            r->state = n ? R_CHUNK_DATA : R_TRAILERS;
            break;
        }
        case R_CHUNK_DATA:
            rc = add_body(r, in, (size_t)r->remaining, body_max);
            if (rc < 0)
                return rc;
            r->remaining -= rc;
            if (r->remaining > 0)
                return eof ? CORE_EINVAL : 0;
            r->state = R_CHUNK_END;
            break;
        case R_CHUNK_END:
            rc = take_line(in, line);
            if (rc <= 0)
                return rc == 0 && eof ? CORE_EINVAL : rc;
            if (line[0])
                return CORE_EINVAL;
            r->state = R_CHUNK_SIZE;
            break;
        case R_TRAILERS:
            rc = take_line(in, line);
            if (rc <= 0)
                return rc == 0 && eof ? CORE_EINVAL : rc;
            if (!line[0])
                r->state = R_DONE;
            else if (++r->n_headers > SIM_HTTP_HEADERS_MAX)
                return CORE_ETOOBIG;
            break;
        case R_UNTIL_EOF:
            rc = add_body(r, in, evbuffer_get_length(in), body_max);
            if (rc < 0)
                return rc;
            if (!eof)
                return 0;
            r->state = R_DONE;
            break;
        case R_DONE:
            return 1;
        }
    }
}

/* ---- the connection ---- */

struct req {
    sim_http_done_fn done;
    void *arg;
    int64_t t0;
    struct req *next;
};

struct sim_http {
    struct event_base *base;
    struct sockaddr_storage addr;
    socklen_t addr_len;
    char host[128]; /* the Host header */
    struct bufferevent *bev;
    struct event *fail_ev; /* fails the queue when a dial fails before any callback */
    struct req *head, *tail;
    int inflight;
    sim_http_resp resp;
    size_t body_max;
    int timeout_s;
};

sim_http *sim_http_new(struct event_base *base, const char *hostport, size_t body_max,
                       int timeout_s, char *err, size_t n)
{
    sim_http *h = NULL;
    struct addrinfo *ai = NULL;
    char host[128], port_s[8];
    int port;
    if (core_split_hostport(hostport, host, sizeof host, &port) || port == 0) {
        snprintf(err, n, "\"%s\" is not ADDR:PORT", hostport);
        goto fail;
    }
    snprintf(port_s, sizeof port_s, "%d", port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    int rc = getaddrinfo(host, port_s, &hints, &ai);
    if (rc) {
        snprintf(err, n, "%s: %s", host, gai_strerror(rc));
        goto fail;
    }
    h = calloc(1, sizeof *h);
    if (!h || sim_http_resp_init(&h->resp)) {
        snprintf(err, n, "out of memory");
        goto fail;
    }
    memcpy(&h->addr, ai->ai_addr, ai->ai_addrlen);
    h->addr_len = ai->ai_addrlen;
    h->base = base;
    h->body_max = body_max;
    h->timeout_s = timeout_s;
    snprintf(h->host, sizeof h->host, "%s", hostport);
    freeaddrinfo(ai);
    return h;
fail:
    if (ai)
        freeaddrinfo(ai);
    sim_http_free(h);
    return NULL;
}

static void drop_conn(sim_http *h)
{
    if (h->bev)
        bufferevent_free(h->bev);
    h->bev = NULL;
    sim_http_resp_reset(&h->resp);
}

/* Closes the connection and fails every waiting request with status. The queue is detached
 * first, so callbacks may send new requests (they dial a fresh connection). */
static void fail_all(sim_http *h, int status)
{
    struct req *q = h->head;
    drop_conn(h);
    h->head = h->tail = NULL;
    h->inflight = 0;
    while (q) {
        struct req *next = q->next;
        q->done(q->arg, status, "", 0, core_mono_us() - q->t0);
        free(q);
        q = next;
    }
}

void sim_http_free(sim_http *h)
{
    if (!h)
        return;
    drop_conn(h);
    while (h->head) {
        struct req *next = h->head->next;
        free(h->head);
        h->head = next;
    }
    if (h->fail_ev)
        event_free(h->fail_ev);
    sim_http_resp_release(&h->resp);
    free(h);
}

static void on_read(struct bufferevent *bev, void *arg)
{
    sim_http *h = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    while (h->bev == bev) {
        int rc = sim_http_parse(&h->resp, in, h->body_max, 0);
        if (rc == 0)
            return;
        if (rc < 0 || !h->head) {
            core_warn("sim", "%s: %s answer, closing", h->host,
                      rc == CORE_ETOOBIG ? "oversized"
                      : rc < 0           ? "unparsable"
                                         : "unrequested");
            fail_all(h, rc < 0 ? rc : CORE_EINVAL);
            return;
        }
        struct req *q = h->head;
        h->head = q->next;
        if (!h->head)
            h->tail = NULL;
        h->inflight--;
        size_t len = evbuffer_get_length(h->resp.body);
        evbuffer_add(h->resp.body, "", 1);
        const char *body = (const char *)evbuffer_pullup(h->resp.body, -1);
        int status = h->resp.status, close_after = h->resp.close;
        /* The body stays valid through the callback: the parser is reset after it. */
        q->done(q->arg, status, body, len, core_mono_us() - q->t0);
        free(q);
        if (h->bev != bev)
            return; /* the callback's own failure path already closed it */
        sim_http_resp_reset(&h->resp);
        if (close_after) {
            fail_all(h, CORE_ECLOSED);
            return;
        }
    }
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    sim_http *h = arg;
    if (what & BEV_EVENT_CONNECTED)
        return;
    if (what & BEV_EVENT_EOF) {
        /* A body delimited by the close completes now. */
        struct evbuffer *in = bufferevent_get_input(bev);
        if (h->head && sim_http_parse(&h->resp, in, h->body_max, 1) == 1) {
            on_read(bev, h); /* delivers it (parse returns 1 again from R_DONE) */
            if (h->bev != bev)
                return;
        }
    }
    int err = EVUTIL_SOCKET_ERROR();
    if (h->head)
        core_debug("sim", "%s: connection %s (%s)", h->host,
                   what & BEV_EVENT_TIMEOUT ? "timed out"
                   : what & BEV_EVENT_EOF   ? "closed"
                                            : "failed",
                   evutil_socket_error_to_string(err));
    fail_all(h, what & BEV_EVENT_TIMEOUT ? -ETIMEDOUT
                : what & BEV_EVENT_EOF   ? CORE_ECLOSED
                : err                    ? -err
                                         : CORE_ECLOSED);
}

static void on_fail_ev(evutil_socket_t fd, short what, void *arg)
{
    fail_all(arg, -ECONNREFUSED);
}

static int dial(sim_http *h)
{
    h->bev = bufferevent_socket_new(h->base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (!h->bev)
        return -ENOMEM;
    bufferevent_setcb(h->bev, on_read, NULL, on_event, h);
    struct timeval tv = {h->timeout_s, 0};
    bufferevent_set_timeouts(h->bev, &tv, &tv);
    if (bufferevent_enable(h->bev, EV_READ | EV_WRITE) ||
        bufferevent_socket_connect(h->bev, (struct sockaddr *)&h->addr, (int)h->addr_len)) {
        /* bufferevent_socket_connect may have freed nothing; we own h->bev still. */
        return CORE_ECLOSED;
    }
    return 0;
}

int sim_http_request_at(sim_http *h, const char *method, const char *target,
                        const char *extra_headers, const char *body, size_t len, int64_t due_us,
                        sim_http_done_fn done, void *arg)
{
    if (h->inflight >= SIM_HTTP_INFLIGHT_MAX)
        return CORE_EFULL;
    struct req *q = calloc(1, sizeof *q);
    if (!q)
        return -ENOMEM;
    q->done = done;
    q->arg = arg;
    q->t0 = due_us;
    if (h->tail)
        h->tail->next = q;
    else
        h->head = q;
    h->tail = q;
    h->inflight++;
    if (!h->bev && dial(h) < 0) {
        /* Fail later, from the loop, never from inside this call. */
        if (!h->fail_ev)
            h->fail_ev = event_new(h->base, -1, 0, on_fail_ev, h);
        if (h->fail_ev)
            event_active(h->fail_ev, 0, 0);
        return 0;
    }
    struct evbuffer *out = bufferevent_get_output(h->bev);
    evbuffer_add_printf(out, "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: corridor-sim\r\n%s", method,
                        target, h->host, extra_headers ? extra_headers : "");
    if (body)
        evbuffer_add_printf(out, "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                            len);
    else
        evbuffer_add(out, "\r\n", 2);
    if (body && len)
        evbuffer_add(out, body, len);
    return 0;
}

int sim_http_request(sim_http *h, const char *method, const char *target, const char *extra_headers,
                     const char *body, size_t len, sim_http_done_fn done, void *arg)
{
    return sim_http_request_at(h, method, target, extra_headers, body, len, core_mono_us(), done,
                               arg);
}

int sim_http_inflight(const sim_http *h)
{
    return h->inflight;
}

struct call {
    int done, status;
    char *body;
};

static void on_call(void *arg, int status, const char *body, size_t len, int64_t latency_us)
{
    struct call *c = arg;
    c->done = 1;
    c->status = status;
    c->body = malloc(len + 1);
    if (c->body) {
        memcpy(c->body, body, len);
        c->body[len] = 0;
    }
}

int sim_http_call(sim_http *h, const char *method, const char *target, const char *extra_headers,
                  const char *body, char **out_body)
{
    struct call c = {0, 0, NULL};
    int rc = sim_http_request(h, method, target, extra_headers, body, body ? strlen(body) : 0,
                              on_call, &c);
    if (rc < 0)
        return rc;
    while (!c.done)
        if (event_base_loop(h->base, EVLOOP_ONCE) != 0)
            break;
    if (!c.done) {
        fail_all(h, CORE_ECLOSED); /* the loop ran dry: nothing can answer any more */
    }
    if (out_body)
        *out_body = c.body;
    else
        free(c.body);
    return c.status;
}
