/*
 * web_int.h: what the files of web/ share. No other module includes this file.
 *
 * Everything here runs on the web thread (the one calling lws_service) unless a comment
 * says otherwise. The pure parts (routing, buffers, the per-client out queue, the seal
 * table, error bodies) do not touch libwebsockets or libpq and are unit-tested alone.
 */
#ifndef CORRIDOR_WEB_INT_H
#define CORRIDOR_WEB_INT_H

#include "web.h"

#include <libpq-fe.h>
#include <libwebsockets.h>
#include <stdatomic.h>
#include <stdint.h>

/* ---- hard limits (docs/api.md) ---- */
#define WEB_BODY_MAX    (1024 * 1024) /* request body: 413 above */
#define WEB_PATH_MAX    1024          /* request path: 414 above */
#define WEB_QUERY_MAX   2048          /* query string */
#define WEB_WS_IN_MAX   4096          /* one client -> server websocket message */
#define WEB_WS_FRAG     65536         /* snapshot fragment size */
#define WEB_EVENT_MAX   (256 * 1024)  /* one message from the events socket */
#define WEB_EVENTQ_CAP  65536         /* messages waiting between nng and the web thread */
#define WEB_SEALS_MAX   1000000       /* seals the gateway tracks for coalescing */
#define WEB_PARAMS_MAX  4             /* {captures} in a route pattern */
#define WEB_METRICS_MAX (512 * 1024)  /* /metrics body */

/* ---- growable buffer with a hard maximum ---- */
typedef struct web_buf {
    char *data; /* NUL-terminated while len < cap */
    size_t len, cap, max;
} web_buf;
void web_buf_init(web_buf *b, size_t max);
void web_buf_free(web_buf *b);
/* 0, CORE_ETOOBIG past max, or -ENOMEM. The buffer is unchanged on failure. */
int web_buf_add(web_buf *b, const void *p, size_t n);
int web_buf_addstr(web_buf *b, const char *s);
int web_buf_printf(web_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Writes {"error":code,"detail":detail} (detail JSON-escaped) into b, replacing its
 * contents. 0 or a web_buf error. */
int web_error_body(web_buf *b, const char *code, const char *detail);

/* ---- a message for websocket clients: refcounted, with LWS_PRE headroom ---- */
#define WEB_MSG_PRE 16 /* >= LWS_PRE; checked in ws.c */
typedef struct web_msg {
    int refs;
    size_t len;
    unsigned char buf[]; /* WEB_MSG_PRE bytes of headroom, then len bytes, then NUL */
} web_msg;
#define WEB_MSG_DATA(m) ((m)->buf + WEB_MSG_PRE)
/* A message holding a copy of text, refs = 1. NULL on allocation failure. */
web_msg *web_msg_new(const char *text, size_t len);
web_msg *web_msg_ref(web_msg *m);
void web_msg_unref(web_msg *m);

/* ---- per-client out queue: incidents never drop, positions coalesce per seal ----
 * Reliable messages (incidents, replies) wait in a FIFO bounded by rel_max. Positions are
 * seal slots (web_sealtab): a slot is queued at most once (dirty flag); when it is sent,
 * the seal's latest position goes out, so older ones are coalesced away. */
typedef struct web_outq {
    web_msg **rel;
    size_t rel_head, rel_len, rel_cap, rel_max;
    uint8_t *dirty;
    size_t dirty_cap;
    uint32_t *slots;
    size_t s_head, s_len, s_cap;
} web_outq;
void web_outq_init(web_outq *q, size_t rel_max);
void web_outq_clear(web_outq *q); /* drops every queued message and slot */
/* Queues m (takes a reference). 0, CORE_EFULL at rel_max, or -ENOMEM. */
int web_outq_push(web_outq *q, web_msg *m);
/* Queues a seal slot: 1 newly queued, 0 already queued (coalesced), or -ENOMEM. */
int web_outq_mark(web_outq *q, uint32_t slot);
/* The oldest reliable message (the caller owns the reference), or NULL. */
web_msg *web_outq_pop_msg(web_outq *q);
/* The oldest queued slot: 0, or CORE_EAGAIN when none. */
int web_outq_pop_slot(web_outq *q, uint32_t *slot);
size_t web_outq_reliable(const web_outq *q);
size_t web_outq_slots(const web_outq *q);

/* ---- seal table: seal id -> slot, and the latest position message per slot ---- */
typedef struct web_sealtab web_sealtab;
web_sealtab *web_sealtab_new(uint32_t max);
void web_sealtab_free(web_sealtab *t);
/* Records m (takes a reference) as seal id's latest position if time (ISO 8601 UTC, as
 * corridor.position_json writes it) is not older than the one held. Returns 1 and the
 * slot when it was recorded, 0 when it was older (not recorded), CORE_EFULL at max,
 * CORE_EINVAL for an empty or too long id, -ENOMEM. */
int web_sealtab_put(web_sealtab *t, const char *id, const char *time, web_msg *m, uint32_t *slot);
web_msg *web_sealtab_msg(const web_sealtab *t, uint32_t slot); /* borrowed, may be NULL */
uint32_t web_sealtab_count(const web_sealtab *t);

/* ---- routing ---- */
enum web_method {
    WEB_GET = 1 << 0,
    WEB_POST = 1 << 1,
    WEB_PUT = 1 << 2,
    WEB_PATCH = 1 << 3,
    WEB_DELETE = 1 << 4,
    WEB_HEAD = 1 << 5,
    WEB_OPTIONS = 1 << 6,
    WEB_ANY = 0x7f,
};
/* Method name ("GET") to enum web_method, 0 when unknown. */
int web_method_parse(const char *s);
/* Writes "GET, POST" for a method mask into buf. */
void web_method_list(int mask, char *buf, size_t n);

/* Who may call a route: a mask of roles; admin may call everything. Enforced by auth.c
 * in http.c before the handler runs (docs/security.md has the table). */
enum web_role {
    WEB_ROLE_ANYONE = 1 << 0, /* no token needed */
    WEB_ROLE_OFFICER = 1 << 1,
    WEB_ROLE_ARMING = 1 << 2,
    WEB_ROLE_RRU = 1 << 3,
    WEB_ROLE_PARTNER = 1 << 4,
    WEB_ROLE_ADMIN = 1 << 5,
    WEB_ROLE_LOOPBACK = 1 << 6, /* anyone connecting from loopback (/metrics) */
};
/* Any valid token, whatever its role. */
#define WEB_ROLE_TOKEN                                                                             \
    (WEB_ROLE_OFFICER | WEB_ROLE_ARMING | WEB_ROLE_RRU | WEB_ROLE_PARTNER | WEB_ROLE_ADMIN)
/* Who may open /ws: the map's officers and the RRU page. */
#define WEB_WS_ROLES (WEB_ROLE_OFFICER | WEB_ROLE_RRU | WEB_ROLE_ADMIN)

/* The caller behind a verified token (auth.c). id 0 and role 0: no token. */
typedef struct web_ident {
    long long id; /* corridor.tokens.id: what logs name, never the token */
    int role;     /* one WEB_ROLE_* */
    char name[101];
    char country[3];   /* partner */
    char unit[65];     /* rru */
    int user;          /* 1: a signed-in account (session.c); id is then 0 (no token) */
    long long session; /* corridor.sessions.id of a signed-in account, else 0 */
} web_ident;

typedef struct web_req web_req;
typedef struct web_resp web_resp;
typedef void (*web_handler)(struct web *w, const web_req *req, web_resp *resp);

/* A route: a path pattern of literal segments, {name} captures one segment, a final "*"
 * matches any rest. A FALLBACK route applies only when no earlier route's pattern
 * matched the path (so a known path with a wrong method is 405, not the fallback). */
#define WEB_ROUTE_FALLBACK 1
#define WEB_ROUTE_BODY     2 /* the handler needs the request body */
typedef struct web_route {
    int methods;
    const char *pattern;
    web_handler handler;
    int roles;
    int flags;
} web_route;

typedef struct web_params {
    int n;
    struct {
        const char *name; /* points into the pattern, not NUL-terminated at '}' */
        size_t name_len;
        char value[128];
    } p[WEB_PARAMS_MAX];
} web_params;

/* 1 if path matches pattern (filling params), 0 if not. A segment longer than a param
 * value can hold does not match. */
int web_path_match(const char *pattern, const char *path, web_params *params);
/* Finds the route for method and path. Returns its index; or -404 when no pattern
 * matches; or -405 with the allowed methods in *allowed. */
int web_route_find(const web_route *table, size_t n, int method, const char *path,
                   web_params *params, int *allowed);
/* The value of capture name, or NULL. */
const char *web_param(const web_params *params, const char *name);

/* ---- static files ---- */
/* Maps a request path to a file under root into out. Refuses (CORE_EINVAL) any path with
 * "..", ".", empty segments, backslashes or control characters; "/" and paths ending
 * in "/" get index.html. */
int web_static_path(const char *root, const char *path, char *out, size_t n);
/* Content type for a file name, by extension. */
const char *web_mime(const char *file);

/* ---- requests and responses (http.c) ---- */
struct web_req {
    int method;
    char path[WEB_PATH_MAX + 1];
    char query[WEB_QUERY_MAX + 1]; /* "k=v\0k=v\0\0", already URL-decoded */
    web_params params;
    web_buf body;
    int loopback;  /* peer is 127.0.0.0/8 or ::1 */
    web_ident who; /* the verified caller (auth.c); zero for public routes */
    /* what session.c reads from the headers (web_session_read), for every route */
    char cookie[72]; /* the corridor_session cookie ("" when none or malformed) */
    char csrf[72];   /* the X-CSRF-Token header */
    char agent[257]; /* User-Agent, cut */
    char ip[64];     /* the peer's address */
    int foreign;     /* an Origin header that is not this server (Host) */
};
/* The value of query argument name, or NULL. */
const char *web_query(const web_req *req, const char *name);

struct web_resp {
    int status;
    const char *ctype;
    web_buf body;
    char allow[64];       /* Allow header for 405 */
    char location[128];   /* Location header for 201 */
    char file[4096];      /* set by the static handler: serve this file instead of body */
    const char *cache;    /* Cache-Control value */
    char retry_after[16]; /* Retry-After header for 429 */
    char set_cookie[192]; /* Set-Cookie header (session.c) */
    /* Content-Disposition header of a download (rest_export.c) */
    char disposition[160];
};
/* Sets an error response: status and {"error":code,"detail":detail}. */
void web_resp_error(web_resp *resp, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Sets a JSON response with a copy of text. */
void web_resp_json(web_resp *resp, int status, const char *text, size_t len);

/* Incident, unit and report handlers (rest_incidents.c). */
void web_h_incident_get(struct web *w, const web_req *req, web_resp *resp);
void web_h_incident_action(struct web *w, const web_req *req, web_resp *resp);
void web_h_rrus_list(struct web *w, const web_req *req, web_resp *resp);
void web_h_rrus_add(struct web *w, const web_req *req, web_resp *resp);
void web_h_rrus_suggest(struct web *w, const web_req *req, web_resp *resp);
void web_h_report_response(struct web *w, const web_req *req, web_resp *resp);

/* Route and trip handlers (rest_trips.c). */
void web_h_routes_list(struct web *w, const web_req *req, web_resp *resp);
void web_h_routes_add(struct web *w, const web_req *req, web_resp *resp);
void web_h_trips_list(struct web *w, const web_req *req, web_resp *resp);
void web_h_trips_arm(struct web *w, const web_req *req, web_resp *resp);
void web_h_trip_get(struct web *w, const web_req *req, web_resp *resp);
void web_h_trip_disarm(struct web *w, const web_req *req, web_resp *resp);
void web_h_trip_report(struct web *w, const web_req *req, web_resp *resp);
/* The {id} capture if it is a UUID, else NULL with a 404 trip_not_found set. */
const char *web_trip_id(const web_req *req, web_resp *resp);

/* A trip's track as a file: GeoJSON, GPX, KML, CSV, the PDF evidence report (rest_export.c). */
void web_h_trip_track(struct web *w, const web_req *req, web_resp *resp);

/* Vessel, watchlist and AIS feed handlers (rest_vessels.c). */
void web_h_vessels_list(struct web *w, const web_req *req, web_resp *resp);
void web_h_vessel_get(struct web *w, const web_req *req, web_resp *resp);
void web_h_watchlist_list(struct web *w, const web_req *req, web_resp *resp);
void web_h_watchlist_add(struct web *w, const web_req *req, web_resp *resp);
void web_h_watchlist_remove(struct web *w, const web_req *req, web_resp *resp);
void web_h_feeds(struct web *w, const web_req *req, web_resp *resp);

/* Device command handlers (rest_commands.c). */
void web_h_commands_add(struct web *w, const web_req *req, web_resp *resp);
void web_h_commands_list(struct web *w, const web_req *req, web_resp *resp);
void web_h_command_cancel(struct web *w, const web_req *req, web_resp *resp);
void web_h_command_approve(struct web *w, const web_req *req, web_resp *resp);

/* Journey replay handlers (rest_replay.c). */
void web_h_trip_replay(struct web *w, const web_req *req, web_resp *resp);
void web_h_seal_replay(struct web *w, const web_req *req, web_resp *resp);

/* Partner handlers (rest_partner.c). */
void web_h_partner_trips(struct web *w, const web_req *req, web_resp *resp);
/* rest_evidence.c */
void web_h_trip_evidence(struct web *w, const web_req *req, web_resp *resp);
void web_h_partner_trip_evidence(struct web *w, const web_req *req, web_resp *resp);

/* Sign-in sessions and officer accounts (session.c, rest_users.c). */
void web_h_session_open(struct web *w, const web_req *req, web_resp *resp);
void web_h_session_get(struct web *w, const web_req *req, web_resp *resp);
void web_h_session_close(struct web *w, const web_req *req, web_resp *resp);
void web_h_users_list(struct web *w, const web_req *req, web_resp *resp);
void web_h_users_add(struct web *w, const web_req *req, web_resp *resp);
void web_h_user_disable(struct web *w, const web_req *req, web_resp *resp);
void web_h_user_reset(struct web *w, const web_req *req, web_resp *resp);
void web_h_user_sessions(struct web *w, const web_req *req, web_resp *resp);
void web_h_user_session_revoke(struct web *w, const web_req *req, web_resp *resp);

/* ---- sign-in sessions (session.c) ---- */
#define WEB_COOKIE_NAME "corridor_session"
/* Fills req->cookie, csrf, agent and ip from wsi's headers. Web thread. */
void web_session_read(struct lws *wsi, web_req *req);
/* The session of req->cookie for a route open to roles: 0 with req->who filled (user 1),
 * or the status (401 no such or an ended session, 403 role or CSRF refused, 503) with
 * resp set. A request that changes state (not GET, HEAD, OPTIONS) must carry the
 * session's CSRF token in X-CSRF-Token. Web thread. */
int web_session_auth(struct web *w, web_req *req, int roles, web_resp *resp);
/* The same for a websocket upgrade carrying the cookie: 0 with *who, -1 when wsi has no
 * session cookie (the caller tries a token), else 401/403/503. Web thread. */
int web_session_ws(struct web *w, struct lws *wsi, web_ident *who);
/* Prepares session.c's statements on c (db.c's connect). 0 or CORE_EINVAL with err. */
int web_session_prepare(PGconn *c, char *err, size_t n);

/* The value of cookie name in a Cookie header (RFC 6265: "a=1; b=2", a value may be
 * quoted) into out: its length, -1 when absent, CORE_ETOOBIG when it does not fit in n
 * bytes with its NUL, CORE_EINVAL when it holds a character a cookie value may not. The
 * first occurrence wins. Pure (cookie.c). */
int web_cookie_get(const char *header, size_t len, const char *name, char *out, size_t n);

/* ---- access control (auth.c): tokens, roles, rate per token ---- */
typedef struct web_auth web_auth;
/* May the request call a route open to roles? Reads "Authorization: Bearer" (and, for a
 * websocket upgrade, ?token=). 0 with req->who filled (zero for a public route), or the
 * HTTP status (401, 403, 429, 503) with resp set. Web thread. */
int web_auth_request(struct web *w, struct lws *wsi, web_req *req, int roles, web_resp *resp);
/* The same for a websocket upgrade on wsi (token from ?token= or the header): 0 with
 * *who filled, or 401/403/429/503. Web thread. */
int web_auth_ws(struct web *w, struct lws *wsi, web_ident *who);
/* The role's name ("officer"), static. */
const char *web_ident_role(const web_ident *who);
/* "role:name" ("rru:UNIT" for a unit; "officer:NAME" for a signed-in account, whatever its
 * role) into buf, for audit trails. Returns buf. */
const char *web_ident_actor(const web_ident *who, char *buf, size_t n);
/* Frees the token cache (web_stop). */
void web_auth_free(web_auth *a);
/* Counts a new connection of wsi's peer address: 0, or -1 when the address already has
 * cfg->conn_per_ip connections (the caller closes it). web_conn_close undoes it when the
 * connection goes (any protocol's LWS_CALLBACK_WSI_DESTROY). */
typedef struct web_conns web_conns;
int web_conn_open(struct web *w, struct lws *wsi);
void web_conn_close(struct web *w, struct lws *wsi);
void web_conns_free(web_conns *c);

/* ---- hostile input (body.c) ---- */
/* 1 if s[0..n) is valid UTF-8 (no overlong forms, surrogates or code points past
 * U+10FFFF), else 0. Pure. */
int web_utf8_valid(const char *s, size_t n);
/* Checks what no handler should see: a path, query or body that is not UTF-8 (400
 * invalid_utf8), a JSON body field the route does not know (422 unknown_field). 0, or
 * the status with resp set. */
int web_body_check(const web_route *route, const web_req *req, web_resp *resp);

/* Parses the request body as one JSON object (RFC 8259, strict: no trailing data, no
 * NaN). The caller owns the result; NULL with a 400 set on resp when the body is empty,
 * malformed or not an object (rest.c). */
struct json_object;
struct json_object *web_body_object(const web_req *req, web_resp *resp);

/* The route table (rest.c). */
extern const web_route web_routes[];
extern const size_t web_n_routes;

/* ---- database (db.c): the web thread's own connection ---- */
typedef struct web_db web_db;
web_db *web_db_new(const char *conninfo);
void web_db_free(web_db *d);
/* The connection, reconnecting (at most once a second) when it dropped; NULL while the
 * database is down. Every statement is prepared on it. */
PGconn *web_db_conn(web_db *d);
/* Runs prepared statement name with n text parameters (NULL = SQL NULL). Returns the
 * result (caller PQclears), or NULL when the database is down (the caller answers 503).
 * Retries once on a fresh connection if the old one had dropped. */
PGresult *web_db_exec(web_db *d, const char *name, int n, const char *const *values);
int web_db_up(web_db *d);
/* Runs a statement of the SQL API (one JSON text row): the result for the caller to
 * PQclear, or NULL with resp set: CTnnn -> nnn {"error","detail","field"}, a value the
 * database cannot read -> 422 bad_code ("bad_detail (server's words)"), down -> 503. */
PGresult *web_db_json(web_db *d, web_resp *resp, const char *stmt, int n, const char *const *vals,
                      const char *bad_code, const char *bad_detail);
/* Relays a web_db_json result as the answer: its JSON text with status, then clears r.
 * With r NULL it does nothing (web_db_json has set resp already). */
void web_db_relay(web_resp *resp, int status, PGresult *r);
/* Connects and prepares (start-up). 0; CORE_EDB when the database cannot be reached (the
 * gateway starts anyway and retries); CORE_EINVAL when a statement does not prepare. */
int web_db_check(web_db *d, char *err, size_t n);

/* ---- the gateway ---- */
typedef struct web_counters {
    atomic_ullong http_class[6]; /* [1..5]: 1xx..5xx */
    atomic_ullong http_4xx[100]; /* by code - 400 */
    atomic_ullong ws_clients, ws_sent, ws_coalesced, ws_incidents_queued, ws_dropped;
    atomic_ullong ws_bad_in, events_in, events_bad, events_dropped, positions_stale;
    atomic_ullong conn_refused; /* over cfg->conn_per_ip */
} web_counters;

typedef struct web_client web_client;

struct web {
    const core_config *cfg;
    web_hooks hooks;
    char static_dir[4096], vendor_dir[4096];
    struct lws_context *ctx;
    web_db *db;
    web_counters ctr;
    core_queue *events; /* nng_msg*, from the nng callback to the web thread */
    web_sealtab *seals;
    web_client *clients; /* list of established websocket clients */
    size_t ws_queue_max;
    atomic_int stopping;
    struct lws_protocols *protos_owned; /* lws keeps a pointer to it */
    web_auth *auth;                     /* token cache and rates (auth.c), made on first use */
    web_conns *conns;                   /* connections per address (auth.c), made on first use */
    /* nng and the thread live in web.c */
    void *priv;
};

/* Counts a response status (metrics.c). Any thread. */
void web_count_status(struct web *w, int status);
/* Renders /metrics into b (metrics.c). */
void web_metrics(struct web *w, web_buf *b);

/* lws protocol callbacks (http.c, ws.c). */
int web_http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                      size_t len);
int web_ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len);
size_t web_http_pss_size(void);
size_t web_ws_pss_size(void);
/* Drains the events queue and fans messages out (ws.c); runs on the web thread, called by
 * web.c when lws_cancel_service() wakes the loop. */
void web_ws_drain(struct web *w);
/* Handles one event message text (ws.c); exposed for tests. */
void web_ws_event(struct web *w, const char *text, size_t len);
/* Closes every websocket client (shutdown). */
void web_ws_close_all(struct web *w);

#endif
