/*
 * web.c: starting and stopping the gateway: the lws context (created and destroyed on
 * main(), serviced only by the web thread), the web thread and its wake-up, and the nng
 * PULL socket that receives events.
 *
 * Threads: main() runs web_start/web_stop; the web thread runs lws_service and every
 * callback; nng's own thread runs recv_cb, which only pushes the message into w->events
 * and wakes the web thread with lws_cancel_service(); the wake-up arrives
 * in loop_callback, which has ws.c drain the queue.
 *
 * Owns the context, the thread, the nng socket and aio, the events queue, the seal
 * table and the database connection.
 *
 * ONE FIX, FROM THE WORKER TO THE MAP (the steps before: ingest/worker.c's header)
 *   6. recv_cb() receives the worker's nng message on nng's thread, pushes it into
 *      w->events and wakes the web thread (lws_cancel_service).
 *   7. On the web thread, loop_callback() below takes LWS_CALLBACK_EVENT_WAIT_CANCELLED and
 *      drains w->events (web_ws_drain, ws.c): each JSON object goes to web_ws_event, which
 *      updates the seal table (the snapshot a new client gets) and queues the message for
 *      every client whose view holds it (on_position: bounding box and filters;
 *      on_incident: everyone).
 *   8. on_writeable() (ws.c) writes each client's queue when lws says the socket can take
 *      it; the map (web/static/map.js) moves the marker.
 */
#include "web_int.h"

#include <nng/nng.h>
#include <nng/protocol/pipeline0/pull.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#ifndef CORRIDOR_STATIC_DIR
#define CORRIDOR_STATIC_DIR "web/static"
#endif
#ifndef CORRIDOR_VENDOR_DIR
#define CORRIDOR_VENDOR_DIR "node_modules"
#endif

struct web_priv {
    nng_socket pull;
    int pull_open;
    nng_aio *aio;
    pthread_t thread;
    int thread_started;
    char host[256];
};

static void on_lws_log(int level, const char *line)
{
    char msg[512];
    snprintf(msg, sizeof msg, "%s", line);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    core_log(level & LLL_ERR ? CORE_LOG_ERROR : CORE_LOG_WARN, "lws", "%s", msg);
}

/* nng's thread: hand the message over and re-arm. Never blocks. */
static void recv_cb(void *arg)
{
    struct web *w = arg;
    struct web_priv *p = w->priv;
    if (nng_aio_result(p->aio) != 0)
        return; /* closed (shutdown) or stopped */
    nng_msg *m = nng_aio_get_msg(p->aio);
    if (core_queue_push(w->events, m) != 0) {
        nng_msg_free(m);
        atomic_fetch_add_explicit(&w->ctr.events_dropped, 1, memory_order_relaxed);
    }
    lws_cancel_service(w->ctx);
    nng_recv_aio(p->pull, p->aio);
}

static void *web_thread(void *arg)
{
    struct web *w = arg;
    while (!atomic_load(&w->stopping))
        if (lws_service(w->ctx, 0) < 0)
            break;
    return NULL;
}

/* The first protocol's callback: the loop's wake-up is this file's, the rest is http.c's.
 * lws_cancel_service() (recv_cb above, or a drain that stopped at its bound) lands here as
 * LWS_CALLBACK_EVENT_WAIT_CANCELLED on the web thread, which then fans the queued events
 * out (ws.c). */
static int loop_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                         size_t len)
{
    if (reason == LWS_CALLBACK_EVENT_WAIT_CANCELLED) {
        web_ws_drain(lws_context_user(lws_get_context(wsi)));
        return 0;
    }
    return web_http_callback(wsi, reason, user, in, len);
}

static const struct lws_protocols protocols[] = {
    {"http", loop_callback, 0, 0, 0, NULL, 0},
    {"corridor.v1", web_ws_callback, 0, WEB_WS_IN_MAX, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

web *web_start(const core_config *cfg, const web_hooks *hooks, char *err, size_t n)
{
    struct web *w = calloc(1, sizeof *w);
    struct web_priv *p = calloc(1, sizeof *p);
    struct lws_protocols *protos = NULL;
    int port = 0;
    if (!w || !p) {
        snprintf(err, n, "out of memory");
        goto fail;
    }
    w->priv = p;
    w->cfg = cfg;
    if (hooks)
        w->hooks = *hooks;
    w->ws_queue_max = cfg->ws_queue_max > 0 ? (size_t)cfg->ws_queue_max : 10000;
    snprintf(w->static_dir, sizeof w->static_dir, "%s",
             cfg->static_dir ? cfg->static_dir : CORRIDOR_STATIC_DIR);
    snprintf(w->vendor_dir, sizeof w->vendor_dir, "%s",
             cfg->vendor_dir ? cfg->vendor_dir : CORRIDOR_VENDOR_DIR);
    if (core_split_hostport(cfg->http ? cfg->http : "", p->host, sizeof p->host, &port) != 0) {
        snprintf(err, n, "--http: expected ADDR:PORT, got \"%s\"", cfg->http ? cfg->http : "");
        goto fail;
    }
    w->events = core_queue_new(WEB_EVENTQ_CAP);
    w->seals = web_sealtab_new(WEB_SEALS_MAX);
    w->db = web_db_new(cfg->db);
    if (!w->events || !w->seals || !w->db) {
        snprintf(err, n, "out of memory");
        goto fail;
    }
    char dberr[512];
    int rc = web_db_check(w->db, dberr, sizeof dberr);
    if (rc == CORE_EINVAL) {
        snprintf(err, n, "web gateway: %s", dberr);
        goto fail;
    }
    if (rc)
        core_warn("web", "%s (the gateway starts and keeps retrying)", dberr);

    /* lws keeps a pointer to the protocol table; per-session sizes are known at run time */
    protos = malloc(sizeof protocols);
    if (!protos) {
        snprintf(err, n, "out of memory");
        goto fail;
    }
    memcpy(protos, protocols, sizeof protocols);
    protos[0].per_session_data_size = web_http_pss_size();
    protos[1].per_session_data_size = web_ws_pss_size();

    lws_set_log_level(LLL_ERR | LLL_WARN, on_lws_log);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = port;
    info.iface = (p->host[0] && strcmp(p->host, "0.0.0.0") != 0 && strcmp(p->host, "*") != 0)
                     ? p->host
                     : NULL;
    info.protocols = protos;
    info.user = w;
    info.max_http_header_data = (unsigned short)(cfg->header_max > 0 ? cfg->header_max : 8192);
    info.options = LWS_SERVER_OPTION_DISABLE_IPV6 * (info.iface && !strchr(p->host, ':'));
    info.options |= LWS_SERVER_OPTION_VALIDATE_UTF8;
    /* HTTPS and WSS on the same port (docs/security.md); lws loads both files now, so a
     * bad file fails the start-up below */
    if ((cfg->tls_cert && *cfg->tls_cert) != (cfg->tls_key && *cfg->tls_key)) {
        snprintf(err, n, "--tls-cert and --tls-key go together");
        goto fail;
    }
    if (cfg->tls_cert && *cfg->tls_cert) {
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
        info.ssl_cert_filepath = cfg->tls_cert;
        info.ssl_private_key_filepath = cfg->tls_key;
    }
    w->ctx = lws_create_context(&info);
    if (!w->ctx) {
        snprintf(err, n, "--http %s: cannot listen (address in use or not local?%s)", cfg->http,
                 cfg->tls_cert ? ", or --tls-cert/--tls-key unreadable" : "");
        goto fail;
    }

    const char *url = cfg->events_url ? cfg->events_url : "inproc://corridor-events";
    if ((rc = nng_pull0_open(&p->pull)) != 0) {
        snprintf(err, n, "events socket: %s", nng_strerror(rc));
        goto fail;
    }
    p->pull_open = 1;
    nng_socket_set_size(p->pull, NNG_OPT_RECVMAXSZ, WEB_EVENT_MAX);
    if ((rc = nng_listen(p->pull, url, NULL, 0)) != 0) {
        snprintf(err, n, "--events-url %s: %s", url, nng_strerror(rc));
        goto fail;
    }
    if ((rc = nng_aio_alloc(&p->aio, recv_cb, w)) != 0) {
        snprintf(err, n, "events socket: %s", nng_strerror(rc));
        goto fail;
    }
    nng_recv_aio(p->pull, p->aio);

    if (pthread_create(&p->thread, NULL, web_thread, w) != 0) {
        snprintf(err, n, "cannot start the web thread");
        goto fail;
    }
    p->thread_started = 1;
    w->protos_owned = protos;
    core_info("web", "listening on http://%s (static %s, events %s)", cfg->http, w->static_dir,
              url);
    return w;
fail:
    if (w)
        w->protos_owned = protos;
    web_stop(w);
    return NULL;
}

void web_stop(web *w)
{
    if (!w)
        return;
    struct web_priv *p = w->priv;
    if (p && p->aio)
        nng_aio_stop(p->aio); /* no callback runs after this */
    if (p && p->pull_open)
        nng_close(p->pull);
    if (p && p->thread_started) {
        atomic_store(&w->stopping, 1);
        lws_cancel_service(w->ctx);
        pthread_join(p->thread, NULL);
    }
    if (w->ctx)
        lws_context_destroy(w->ctx); /* closes every connection, runs their CLOSED */
    if (p && p->aio)
        nng_aio_free(p->aio);
    if (w->events) {
        nng_msg *m;
        while ((m = core_queue_pop(w->events)))
            nng_msg_free(m);
        core_queue_free(w->events);
    }
    web_sealtab_free(w->seals);
    web_auth_free(w->auth);
    web_conns_free(w->conns);
    web_db_free(w->db);
    free(w->protos_owned);
    free(p);
    free(w);
}
