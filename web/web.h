/*
 * web.h: the web gateway. One libwebsockets thread serves the static pages, the REST API
 * (/api/...), /metrics and the websocket /ws on cfg->http, with its own libpq connection.
 *
 * Other stages reach it only through messages: it listens with an nng PULL socket on
 * cfg->events_url, where the ingest workers (and later the alerts stage) PUSH JSON text
 * messages, each one object with "type": "position" | "incident" | "vessel". An nng
 * callback queues them and wakes the lws loop with lws_cancel_service(); the loop applies
 * them and fans them out to websocket clients, writing only on
 * LWS_CALLBACK_SERVER_WRITEABLE (positions coalesce per seal, incidents never drop).
 */
#ifndef CORRIDOR_WEB_H
#define CORRIDOR_WEB_H

#include "core.h"

#include <stddef.h>

/* What the server context (server/main.c) lends the gateway: the gateway asks it, never
 * the other stages, and links none of them. arg is the server context. Called on the web
 * thread; the functions must be thread-safe. */
typedef struct web_hooks {
    /* Appends Prometheus text to buf (at most cap bytes); returns bytes written. */
    size_t (*metrics)(void *arg, char *buf, size_t cap);
    /* 1 while the database connections that store device input work (GET /api/health
     * shows it as "ingest_db"). */
    int (*devices_db_ok)(void *arg);
    /* The AIS feeds with their counters as a JSON array into buf (GET /api/feeds);
     * returns bytes written. */
    size_t (*feeds_json)(void *arg, char *buf, size_t cap);
    void *arg;
    /* 1 while this instance leads (runs the sweeper and the dispatch clock, alerts.h), 0
     * when another does or this one has no alerts role; NULL: not reported. */
    int (*leader)(void *arg);
} web_hooks;

typedef struct web web;

/* Binds cfg->http, connects to the database, starts the web thread. NULL with a reason in
 * err on failure. Runs on main(). */
web *web_start(const core_config *cfg, const web_hooks *hooks, char *err, size_t n);
/* Stops the thread, closes every client, frees everything. Runs on main(). */
void web_stop(web *w);

/* ---- officer passwords (session.c): Argon2id, for the gateway and `corridord user` ---- */
#define WEB_PASSWORD_MIN 10  /* characters of a new password */
#define WEB_PASSWORD_MAX 256 /* longer is refused unread */
#define WEB_PWHASH_MAX   192 /* an encoded hash with its NUL */
/* Hashes password (WEB_PASSWORD_MIN..MAX bytes) with Argon2id and a fresh random salt into
 * out as "$argon2id$v=19$m=...". 0, CORE_EINVAL for a bad length, CORE_ETOOBIG when out is
 * too small, or -errno. Thread-safe; takes tens of milliseconds and 19 MiB on purpose. */
int web_password_hash(const char *password, char *out, size_t n);
/* 1 if password matches encoded (an Argon2id encoding), else 0. Thread-safe. The
 * comparison inside libargon2 is constant-time. */
int web_password_verify(const char *encoded, const char *password);

#endif
