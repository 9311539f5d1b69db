/*
 * http.c: the HTTP side of the gateway: one lws protocol callback that parses a request
 * (method, path, query, body up to WEB_BODY_MAX), routes it through the table in rest.c,
 * runs the handler and writes the response on LWS_CALLBACK_HTTP_WRITEABLE (headers in
 * one callback, then the body in 16 KiB pieces). Static files go out through
 * lws_serve_http_file, which streams them itself.
 *
 * Owns each connection's request and response buffers (in the lws per-session data,
 * freed when the transaction ends or the connection closes). Runs on the web thread.
 */
#include "web_int.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define BODY_CHUNK 16384
/* An oversized body up to this size is read and discarded before the 413 goes out, so
 * the client (still sending) sees the answer instead of a reset connection. */
#define DISCARD_MAX (16 * 1024 * 1024)

enum { ST_IDLE, ST_BODY, ST_DISCARD, ST_RESPOND, ST_FILE };

struct http_pss {
    web_req req;
    web_resp resp;
    int route;
    int state;
    int headers_sent;
    int close_after; /* the request body was not read: close after answering */
    size_t sent;
};

size_t web_http_pss_size(void)
{
    return sizeof(struct http_pss);
}

static void pss_reset(struct http_pss *s)
{
    web_buf_free(&s->req.body);
    web_buf_free(&s->resp.body);
    memset(s, 0, sizeof *s);
    web_buf_init(&s->req.body, WEB_BODY_MAX);
    web_buf_init(&s->resp.body, 64 * 1024 * 1024);
}

static int method_of(int lws_method)
{
    switch (lws_method) {
    case LWSHUMETH_GET:
        return WEB_GET;
    case LWSHUMETH_POST:
        return WEB_POST;
    case LWSHUMETH_OPTIONS:
        return WEB_OPTIONS;
    case LWSHUMETH_PUT:
        return WEB_PUT;
    case LWSHUMETH_PATCH:
        return WEB_PATCH;
    case LWSHUMETH_DELETE:
        return WEB_DELETE;
    case LWSHUMETH_HEAD:
        return WEB_HEAD;
    default:
        return 0;
    }
}

/* Copies the URL-decoded query arguments as "k=v\0k=v\0\0". 0, or CORE_ETOOBIG. */
static int read_query(struct lws *wsi, web_req *req)
{
    size_t off = 0;
    for (int i = 0;; i++) {
        char frag[WEB_QUERY_MAX + 1];
        int n = lws_hdr_copy_fragment(wsi, frag, sizeof frag, WSI_TOKEN_HTTP_URI_ARGS, i);
        if (n < 0)
            break;
        if (off + (size_t)n + 2 > sizeof req->query)
            return CORE_ETOOBIG;
        memcpy(req->query + off, frag, (size_t)n + 1);
        off += (size_t)n + 1;
    }
    req->query[off] = '\0';
    return 0;
}

static int is_loopback(struct lws *wsi)
{
    char ip[64] = "";
    lws_get_peer_simple(wsi, ip, sizeof ip);
    return strncmp(ip, "127.", 4) == 0 || strcmp(ip, "::1") == 0 ||
           strncmp(ip, "::ffff:127.", 11) == 0;
}

/* Starts the response: a file is handed to lws; anything else waits for WRITEABLE.
 * Returns what the lws callback must return. */
static int respond(struct web *w, struct lws *wsi, struct http_pss *s)
{
    web_count_status(w, s->resp.status);
    if (s->resp.file[0]) {
        struct stat st;
        if (stat(s->resp.file, &st) != 0 || !S_ISREG(st.st_mode)) {
            s->resp.file[0] = '\0';
            /* recount: this is a 404, not the 200 the handler hoped for */
            atomic_fetch_sub_explicit(&w->ctr.http_class[2], 1, memory_order_relaxed);
            web_resp_error(&s->resp, 404, "not_found", "no such file: %s", s->req.path);
            web_count_status(w, 404);
        } else {
            char hdr[128];
            int n = snprintf(hdr, sizeof hdr,
                             "Cache-Control: %s\r\nX-Content-Type-Options: nosniff\r\n",
                             s->resp.cache ? s->resp.cache : "no-cache");
            s->state = ST_FILE;
            int rc = lws_serve_http_file(wsi, s->resp.file, s->resp.ctype, hdr, n);
            if (rc < 0)
                return -1;
            if (rc > 0 && lws_http_transaction_completed(wsi))
                return -1;
            return 0;
        }
    }
    s->state = ST_RESPOND;
    lws_callback_on_writable(wsi);
    return 0;
}

static int run_route(struct web *w, struct lws *wsi, struct http_pss *s)
{
    /* invalid UTF-8 and unknown body fields never reach a handler (body.c) */
    if (web_body_check(&web_routes[s->route], &s->req, &s->resp) == 0)
        web_routes[s->route].handler(w, &s->req, &s->resp);
    if (!s->resp.status)
        web_resp_error(&s->resp, 500, "internal", "the handler gave no answer");
    return respond(w, wsi, s);
}

static int on_request(struct web *w, struct lws *wsi, struct http_pss *s)
{
    char *uri = NULL;
    int ulen = 0;
    pss_reset(s);
    size_t body_max = w->cfg->body_max > 0 ? (size_t)w->cfg->body_max : WEB_BODY_MAX;
    s->req.body.max = body_max;
    s->req.loopback = is_loopback(wsi);
    int m = lws_http_get_uri_and_method(wsi, &uri, &ulen);
    s->req.method = method_of(m);
    if (!s->req.method || !uri) {
        web_resp_error(&s->resp, 405, "method_not_allowed", "this method is not supported");
        s->close_after = 1;
        return respond(w, wsi, s);
    }
    if (ulen > WEB_PATH_MAX) {
        web_resp_error(&s->resp, 414, "uri_too_long", "the path is longer than %d bytes",
                       WEB_PATH_MAX);
        s->close_after = 1;
        return respond(w, wsi, s);
    }
    memcpy(s->req.path, uri, (size_t)ulen);
    s->req.path[ulen] = '\0';
    if (read_query(wsi, &s->req) != 0) {
        web_resp_error(&s->resp, 414, "uri_too_long", "the query is longer than %d bytes",
                       WEB_QUERY_MAX);
        s->close_after = 1;
        return respond(w, wsi, s);
    }
    int allowed = 0;
    s->route = web_route_find(web_routes, web_n_routes, s->req.method, s->req.path, &s->req.params,
                              &allowed);
    if (s->route == -405) {
        char list[64];
        web_method_list(allowed, list, sizeof list);
        snprintf(s->resp.allow, sizeof s->resp.allow, "%s", list);
        web_resp_error(&s->resp, 405, "method_not_allowed", "%s allows only %s", s->req.path, list);
    } else if (s->route < 0) {
        web_resp_error(&s->resp, 404, "not_found", "no such path: %s", s->req.path);
    }
    /* a body we will not read would be taken for the next request: close after */
    char cl[32] = "";
    long long clen = 0;
    if (lws_hdr_copy(wsi, cl, sizeof cl, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0)
        clen = atoll(cl);
    int chunked = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0;
    if (s->route < 0) {
        s->close_after = clen > 0 || chunked;
        return respond(w, wsi, s);
    }
    /* access control before anything is read or run (auth.c) */
    if (web_auth_request(w, wsi, &s->req, web_routes[s->route].roles, &s->resp) != 0) {
        s->close_after = clen > 0 || chunked;
        return respond(w, wsi, s);
    }
    if ((web_routes[s->route].flags & WEB_ROUTE_BODY) && (clen > 0 || chunked)) {
        if (clen > (long long)body_max) {
            web_resp_error(&s->resp, 413, "body_too_large",
                           "the request body is larger than %zu bytes", body_max);
            s->close_after = 1;
            if (clen <= DISCARD_MAX && !chunked) {
                s->state = ST_DISCARD;
                return 0;
            }
            return respond(w, wsi, s);
        }
        s->state = ST_BODY;
        return 0;
    }
    s->close_after = clen > 0 || chunked;
    return run_route(w, wsi, s);
}

static int write_headers(struct lws *wsi, struct http_pss *s)
{
    unsigned char buf[LWS_PRE + 2048], *start = buf + LWS_PRE, *p = start,
                                       *end = buf + sizeof buf - 1;
    web_resp *r = &s->resp;
    if (lws_add_http_common_headers(wsi, (unsigned)r->status,
                                    r->ctype ? r->ctype : "application/json", r->body.len, &p, end))
        return -1;
    if (lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:",
                                    (const unsigned char *)(r->cache ? r->cache : "no-store"),
                                    (int)strlen(r->cache ? r->cache : "no-store"), &p, end))
        return -1;
    if (lws_add_http_header_by_name(wsi, (const unsigned char *)"x-content-type-options:",
                                    (const unsigned char *)"nosniff", 7, &p, end))
        return -1;
    if (r->allow[0] && lws_add_http_header_by_name(
                           wsi, (const unsigned char *)"allow:", (const unsigned char *)r->allow,
                           (int)strlen(r->allow), &p, end))
        return -1;
    if (r->location[0] && lws_add_http_header_by_name(wsi, (const unsigned char *)"location:",
                                                      (const unsigned char *)r->location,
                                                      (int)strlen(r->location), &p, end))
        return -1;
    if (r->disposition[0] &&
        lws_add_http_header_by_name(wsi, (const unsigned char *)"content-disposition:",
                                    (const unsigned char *)r->disposition,
                                    (int)strlen(r->disposition), &p, end))
        return -1;
    if (r->retry_after[0] && lws_add_http_header_by_name(wsi, (const unsigned char *)"retry-after:",
                                                         (const unsigned char *)r->retry_after,
                                                         (int)strlen(r->retry_after), &p, end))
        return -1;
    if (r->set_cookie[0] && lws_add_http_header_by_name(wsi, (const unsigned char *)"set-cookie:",
                                                        (const unsigned char *)r->set_cookie,
                                                        (int)strlen(r->set_cookie), &p, end))
        return -1;
    if (s->close_after && lws_add_http_header_by_name(wsi, (const unsigned char *)"connection:",
                                                      (const unsigned char *)"close", 5, &p, end))
        return -1;
    if (lws_finalize_write_http_header(wsi, start, &p, end))
        return -1;
    s->headers_sent = 1;
    return 0;
}

/* Ends the transaction; returns what the callback must return. */
static int finish(struct lws *wsi, struct http_pss *s)
{
    int close_after = s->close_after;
    pss_reset(s);
    if (close_after)
        return -1;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int on_writeable(struct lws *wsi, struct http_pss *s)
{
    if (s->state != ST_RESPOND)
        return 0;
    if (!s->headers_sent) {
        if (write_headers(wsi, s))
            return -1;
        if (s->resp.body.len == 0)
            return finish(wsi, s);
        lws_callback_on_writable(wsi);
        return 0;
    }
    unsigned char chunk[LWS_PRE + BODY_CHUNK];
    size_t left = s->resp.body.len - s->sent, n = left < BODY_CHUNK ? left : BODY_CHUNK;
    memcpy(chunk + LWS_PRE, s->resp.body.data + s->sent, n);
    int last = n == left;
    if (lws_write(wsi, chunk + LWS_PRE, n, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) < (int)n)
        return -1;
    s->sent += n;
    if (last)
        return finish(wsi, s);
    lws_callback_on_writable(wsi);
    return 0;
}

int web_http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                      size_t len)
{
    struct http_pss *s = user;
    struct web *w = lws_context_user(lws_get_context(wsi));

    switch (reason) {
    case LWS_CALLBACK_HTTP:
        return on_request(w, wsi, s);
    case LWS_CALLBACK_HTTP_BODY:
        if (s->state != ST_BODY)
            return 0;
        if (web_buf_add(&s->req.body, in, len) != 0) {
            web_resp_error(&s->resp, 413, "body_too_large",
                           "the request body is larger than %zu bytes", s->req.body.max);
            s->close_after = 1;
            return respond(w, wsi, s);
        }
        return 0;
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        if (s->state == ST_DISCARD)
            return respond(w, wsi, s);
        if (s->state != ST_BODY)
            return 0;
        s->state = ST_IDLE;
        return run_route(w, wsi, s);
    case LWS_CALLBACK_HTTP_WRITEABLE:
        return on_writeable(wsi, s);
    case LWS_CALLBACK_HTTP_FILE_COMPLETION:
        pss_reset(s);
        return lws_http_transaction_completed(wsi) ? -1 : 0;
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        /* a websocket upgrade without our subprotocol lands here: refuse it */
        return 1;
    case LWS_CALLBACK_SERVER_NEW_CLIENT_INSTANTIATED:
        /* connections per client address (auth.c) */
        return web_conn_open(w, wsi) ? -1 : 0;
    case LWS_CALLBACK_WSI_DESTROY:
        web_conn_close(w, wsi);
        break;
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
    case LWS_CALLBACK_CLOSED_HTTP:
        if (s) {
            web_buf_free(&s->req.body);
            web_buf_free(&s->resp.body);
        }
        break;
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}
