/*
 * ws.c: the websocket /ws (subprotocol corridor.v1): snapshot on connect, then live
 * positions and incidents, each client served at its own pace.
 *
 * DESIGN: events arrive as JSON text from the nng callback (web.c) through w->events;
 * web_ws_drain() runs on the web thread when lws_cancel_service() wakes it (web.c's
 * loop_callback calls it). A position
 * updates the seal table (sealtab.c) and marks the seal's slot dirty in every client's
 * out queue (outq.c); an incident is queued whole in every client's reliable FIFO. Each
 * LWS_CALLBACK_SERVER_WRITEABLE writes exactly one frame: the next snapshot fragment,
 * else the next reliable message, else the latest position of the next dirty seal. A
 * client whose reliable FIFO passes cfg->ws_queue_max is closed (counted); it resyncs
 * from the snapshot when it reconnects.
 *
 * Owns the client list and each client's queue and snapshot buffer. Runs on the web
 * thread only.
 */
#include "web_int.h"
#include "alerts.h"

#include <assert.h>
#include <json-c/json.h>
#include <nng/nng.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(WEB_MSG_PRE >= LWS_PRE, "web_msg headroom must cover LWS_PRE");

struct web_client {
    struct lws *wsi;
    web_client *prev, *next;
    web_outq q;
    web_msg *snap; /* snapshot being sent, in fragments */
    size_t snap_off;
    int closing; /* queue overflow: close on the next WRITEABLE */
    int has_bbox;
    double bbox[4]; /* w, s, e, n */
    web_buf in;     /* a client message being reassembled */
    web_ident who;  /* the token's identity, for incident actions over the socket */
};

size_t web_ws_pss_size(void)
{
    return sizeof(struct web_client);
}

/* Vessels share the seal table (and so the clients' slot queues): latest message per
 * MMSI, coalesced for slow clients like positions. Their keys start with a character no
 * seal id may hold (rest.c: valid_id). */
#define VESSEL_KEY    "#"
#define VESSEL_PREFIX "{\"type\":\"vessel\""

/* 1 if m is a vessel message (on_object writes "type" first, as the database does). */
static int is_vessel_msg(const web_msg *m)
{
    return m->len >= sizeof VESSEL_PREFIX - 1 &&
           memcmp(WEB_MSG_DATA(m), VESSEL_PREFIX, sizeof VESSEL_PREFIX - 1) == 0;
}

/* ---- snapshot ---- */

/* Builds the snapshot from the database, or from the positions held in memory (and no
 * incidents) while the database is down. */
static web_msg *build_snapshot(struct web *w)
{
    web_buf b;
    web_msg *m = NULL;
    char *inc = NULL;
    size_t inc_len = 0;
    PGresult *r = NULL, *rv = NULL;
    web_buf_init(&b, (size_t)1 << 30);
    int rc = web_buf_addstr(&b, "{\"type\":\"snapshot\",\"seals\":");
    r = web_db_exec(w->db, "web_latest", 0, NULL);
    PGconn *c = web_db_conn(w->db);
    if (r && PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
        rv = web_db_exec(w->db, "web_vessels_recent", 0, NULL); /* heard in the last hour */
    if (rv && PQresultStatus(rv) == PGRES_TUPLES_OK && PQntuples(rv) == 1 && c &&
        alert_incidents_json(c, ALERT_OPEN, ALERT_LIST_MAX, &inc, &inc_len) == 0) {
        rc = rc ? rc : web_buf_add(&b, PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0));
        rc = rc ? rc : web_buf_addstr(&b, ",\"vessels\":");
        rc = rc ? rc : web_buf_add(&b, PQgetvalue(rv, 0, 0), (size_t)PQgetlength(rv, 0, 0));
        rc = rc ? rc : web_buf_addstr(&b, ",\"incidents\":");
        rc = rc ? rc : web_buf_add(&b, inc, inc_len);
        rc = rc ? rc : web_buf_addstr(&b, "}");
    } else {
        core_warn("web", "snapshot from memory: the database is unavailable");
        /* the table holds seals and (keys VESSEL_KEY...) vessels: two passes */
        uint32_t n = web_sealtab_count(w->seals);
        for (int vessels = 0; vessels < 2 && !rc; vessels++) {
            rc = web_buf_addstr(&b, vessels ? "],\"vessels\":[" : "[");
            for (uint32_t i = 0, k = 0; i < n && !rc; i++) {
                web_msg *p = web_sealtab_msg(w->seals, i);
                if (is_vessel_msg(p) != vessels)
                    continue;
                if (k++)
                    rc = web_buf_addstr(&b, ",");
                rc = rc ? rc : web_buf_add(&b, WEB_MSG_DATA(p), p->len);
            }
        }
        rc = rc ? rc : web_buf_addstr(&b, "],\"incidents\":[],\"partial\":true}");
    }
    if (rc == 0)
        m = web_msg_new(b.data, b.len);
    PQclear(r);
    PQclear(rv);
    free(inc);
    web_buf_free(&b);
    return m;
}

/* ---- sending ---- */

static int send_msg(struct web *w, struct lws *wsi, web_msg *m)
{
    int n = lws_write(wsi, WEB_MSG_DATA(m), m->len, LWS_WRITE_TEXT);
    if (n < (int)m->len)
        return -1;
    atomic_fetch_add_explicit(&w->ctr.ws_sent, 1, memory_order_relaxed);
    return 0;
}

/* Writes one frame; returns -1 to close the connection. */
static int on_writeable(struct web *w, web_client *c)
{
    if (c->closing) {
        static const char why[] = "too slow: reconnect for a snapshot";
        lws_close_reason(c->wsi, LWS_CLOSE_STATUS_POLICY_VIOLATION, (unsigned char *)why,
                         sizeof why - 1);
        return -1;
    }
    if (c->snap) {
        size_t left = c->snap->len - c->snap_off;
        size_t n = left < WEB_WS_FRAG ? left : WEB_WS_FRAG;
        int first = c->snap_off == 0, last = n == left;
        /* the LWS_PRE bytes before a later fragment were sent already: lws may use them */
        int flags = lws_write_ws_flags(LWS_WRITE_TEXT, first, last);
        if (lws_write(c->wsi, WEB_MSG_DATA(c->snap) + c->snap_off, n, flags) < (int)n)
            return -1;
        c->snap_off += n;
        if (last) {
            web_msg_unref(c->snap);
            c->snap = NULL;
            atomic_fetch_add_explicit(&w->ctr.ws_sent, 1, memory_order_relaxed);
        }
    } else {
        web_msg *m = web_outq_pop_msg(&c->q);
        uint32_t slot;
        if (m) {
            int rc = send_msg(w, c->wsi, m);
            web_msg_unref(m);
            if (rc)
                return -1;
        } else if (web_outq_pop_slot(&c->q, &slot) == 0) {
            web_msg *p = web_sealtab_msg(w->seals, slot);
            if (p && send_msg(w, c->wsi, p))
                return -1;
        }
    }
    if (c->snap || web_outq_reliable(&c->q) || web_outq_slots(&c->q))
        lws_callback_on_writable(c->wsi);
    return 0;
}

/* Queues a reliable message for c; past the limit the client is marked for closing. */
static void queue_reliable(struct web *w, web_client *c, web_msg *m)
{
    if (c->closing)
        return;
    if (web_outq_push(&c->q, m) != 0) {
        c->closing = 1;
        atomic_fetch_add_explicit(&w->ctr.ws_dropped, 1, memory_order_relaxed);
        core_warn("web", "websocket client too slow (%zu messages queued): disconnecting",
                  web_outq_reliable(&c->q));
        web_outq_clear(&c->q);
    }
    lws_callback_on_writable(c->wsi);
}

static void reply_error(struct web *w, web_client *c, const char *code, const char *detail)
{
    web_buf b;
    web_buf_init(&b, 4096);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "type", json_object_new_string("error"));
    json_object_object_add(o, "error", json_object_new_string(code));
    json_object_object_add(o, "detail", json_object_new_string(detail));
    if (web_buf_addstr(&b, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN)) == 0) {
        web_msg *m = web_msg_new(b.data, b.len);
        if (m) {
            queue_reliable(w, c, m);
            web_msg_unref(m);
        }
    }
    json_object_put(o);
    web_buf_free(&b);
}

/* ---- client -> server ---- */

/* Queues text for c alone (never dropped, like incidents). */
static void reply_text(struct web *w, web_client *c, const char *text, size_t len)
{
    web_msg *m = web_msg_new(text, len);
    if (m) {
        queue_reliable(w, c, m);
        web_msg_unref(m);
    }
}

/* {"type":"action","incident_id":42,"action":"ack",...,"version":3,"request_id":"x"}: an
 * incident action with the REST action's shape (docs/api.md), through the same route, role
 * check and handler as POST /api/incidents/{id}/actions. The caller gets
 * {"type":"action_result","request_id","status","body"}; every screen gets the incident. */
static void on_action(struct web *w, web_client *c, json_object *o)
{
    json_object *id, *rid = NULL;
    char path[64];
    long long n = 0;
    if (!json_object_object_get_ex(o, "incident_id", &id) ||
        !json_object_is_type(id, json_type_int) || (n = json_object_get_int64(id)) < 1) {
        atomic_fetch_add_explicit(&w->ctr.ws_bad_in, 1, memory_order_relaxed);
        reply_error(w, c, "invalid_action", "\"incident_id\" must be a positive integer");
        return;
    }
    snprintf(path, sizeof path, "/api/incidents/%lld/actions", n);
    web_req *req = calloc(1, sizeof *req);
    web_resp *resp = calloc(1, sizeof *resp);
    json_object *body = json_object_new_object(), *out = json_object_new_object();
    if (!req || !resp || !body || !out)
        goto done;
    int allowed = 0;
    int r = web_route_find(web_routes, web_n_routes, WEB_POST, path, &req->params, &allowed);
    if (r < 0)
        goto done;
    json_object_object_get_ex(o, "request_id", &rid);
    json_object_object_foreach(o, k, v)
    {
        if (strcmp(k, "type") && strcmp(k, "incident_id") && strcmp(k, "request_id"))
            json_object_object_add(body, k, json_object_get(v));
    }
    req->method = WEB_POST;
    snprintf(req->path, sizeof req->path, "%s", path);
    req->who = c->who;
    web_buf_init(&req->body, WEB_WS_IN_MAX);
    web_buf_init(&resp->body, WEB_BODY_MAX);
    web_buf_addstr(&req->body, json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN));
    if (!(c->who.role & (web_routes[r].roles | WEB_ROLE_ADMIN)))
        web_resp_error(resp, 403, "forbidden", "this token's role may not act on incidents");
    else
        web_routes[r].handler(w, req, resp); /* broadcasts the new state itself */
    web_count_status(w, resp->status);
    json_object_object_add(out, "type", json_object_new_string("action_result"));
    if (rid)
        json_object_object_add(out, "request_id", json_object_get(rid));
    json_object_object_add(out, "status", json_object_new_int(resp->status));
    json_object *rb = resp->body.len ? json_tokener_parse(resp->body.data) : NULL;
    json_object_object_add(out, "body", rb);
    const char *text = json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN);
    reply_text(w, c, text, strlen(text));
    web_buf_free(&req->body);
    web_buf_free(&resp->body);
done:
    json_object_put(body);
    json_object_put(out);
    free(req);
    free(resp);
}

static void on_client_message(struct web *w, web_client *c, const char *text, size_t len)
{
    json_tokener *tok = json_tokener_new_ex(16);
    json_object *o = tok ? json_tokener_parse_ex(tok, text, (int)len) : NULL, *t, *bb;
    if (tok)
        json_tokener_free(tok);
    if (!o || !json_object_is_type(o, json_type_object) ||
        !json_object_object_get_ex(o, "type", &t) || !json_object_is_type(t, json_type_string)) {
        atomic_fetch_add_explicit(&w->ctr.ws_bad_in, 1, memory_order_relaxed);
        reply_error(w, c, "malformed_message", "a message is a JSON object with a \"type\"");
        goto done;
    }
    const char *type = json_object_get_string(t);
    if (strcmp(type, "action") == 0) {
        on_action(w, c, o);
        goto done;
    }
    if (strcmp(type, "filter") != 0) {
        char detail[128];
        snprintf(detail, sizeof detail, "unknown message type \"%.64s\" (known: filter, action)",
                 type);
        atomic_fetch_add_explicit(&w->ctr.ws_bad_in, 1, memory_order_relaxed);
        reply_error(w, c, "unknown_type", detail);
        goto done;
    }
    if (!json_object_object_get_ex(o, "bbox", &bb) || !bb) {
        c->has_bbox = 0; /* no bbox: every position */
        goto done;
    }
    double v[4];
    int ok = json_object_is_type(bb, json_type_array) && json_object_array_length(bb) == 4;
    for (int i = 0; ok && i < 4; i++) {
        json_object *e = json_object_array_get_idx(bb, (size_t)i);
        ok = json_object_is_type(e, json_type_double) || json_object_is_type(e, json_type_int);
        v[i] = ok ? json_object_get_double(e) : 0;
    }
    ok = ok && v[0] >= -180 && v[0] <= 180 && v[2] >= -180 && v[2] <= 180 && v[1] >= -90 &&
         v[3] <= 90 && v[1] <= v[3];
    if (!ok) {
        atomic_fetch_add_explicit(&w->ctr.ws_bad_in, 1, memory_order_relaxed);
        reply_error(w, c, "invalid_filter",
                    "bbox must be [west, south, east, north] in degrees, south <= north");
        goto done;
    }
    memcpy(c->bbox, v, sizeof v);
    c->has_bbox = 1;
done:
    json_object_put(o);
}

static int in_bbox(const web_client *c, double lat, double lon)
{
    if (!c->has_bbox)
        return 1;
    if (lat < c->bbox[1] || lat > c->bbox[3])
        return 0;
    if (c->bbox[0] <= c->bbox[2])
        return lon >= c->bbox[0] && lon <= c->bbox[2];
    return lon >= c->bbox[0] || lon <= c->bbox[2]; /* crosses the antimeridian */
}

/* ---- events from the other stages ---- */

static void on_position(struct web *w, json_object *o, const char *text, size_t len)
{
    json_object *id, *t, *lat, *lon;
    if (!json_object_object_get_ex(o, "seal_id", &id) ||
        !json_object_is_type(id, json_type_string) || !json_object_object_get_ex(o, "lat", &lat) ||
        !json_object_object_get_ex(o, "lon", &lon)) {
        atomic_fetch_add_explicit(&w->ctr.events_bad, 1, memory_order_relaxed);
        return;
    }
    const char *time = json_object_object_get_ex(o, "time", &t) ? json_object_get_string(t) : "";
    web_msg *m = web_msg_new(text, len);
    if (!m)
        return;
    uint32_t slot;
    int rc = web_sealtab_put(w->seals, json_object_get_string(id), time, m, &slot);
    double la = json_object_get_double(lat), lo = json_object_get_double(lon);
    web_msg_unref(m);
    if (rc == 0) {
        atomic_fetch_add_explicit(&w->ctr.positions_stale, 1, memory_order_relaxed);
        return;
    }
    if (rc < 0) {
        atomic_fetch_add_explicit(&w->ctr.events_bad, 1, memory_order_relaxed);
        return;
    }
    for (web_client *c = w->clients; c; c = c->next) {
        if (c->closing || !in_bbox(c, la, lo))
            continue;
        int r = web_outq_mark(&c->q, slot);
        if (r == 0)
            atomic_fetch_add_explicit(&w->ctr.ws_coalesced, 1, memory_order_relaxed);
        else if (r == 1)
            lws_callback_on_writable(c->wsi);
    }
}

/* A vessel's new state (corridor.vessel_json): kept as the MMSI's latest, ordered by
 * last_seen (any message, so a static report also replaces it), and marked in the slot
 * queue of every client whose bbox holds it (a vessel without a position: every client). */
static void on_vessel(struct web *w, json_object *o, const char *text, size_t len)
{
    json_object *mmsi, *t, *lat, *lon;
    if (!json_object_object_get_ex(o, "mmsi", &mmsi) || !json_object_is_type(mmsi, json_type_int) ||
        json_object_get_int64(mmsi) < 1 || json_object_get_int64(mmsi) > 999999999) {
        atomic_fetch_add_explicit(&w->ctr.events_bad, 1, memory_order_relaxed);
        return;
    }
    char key[16];
    snprintf(key, sizeof key, VESSEL_KEY "%lld", (long long)json_object_get_int64(mmsi));
    const char *time =
        json_object_object_get_ex(o, "last_seen", &t) ? json_object_get_string(t) : "";
    int has_pos = json_object_object_get_ex(o, "lat", &lat) &&
                  json_object_object_get_ex(o, "lon", &lon) && lat && lon;
    double la = has_pos ? json_object_get_double(lat) : 0,
           lo = has_pos ? json_object_get_double(lon) : 0;
    web_msg *m = web_msg_new(text, len);
    if (!m)
        return;
    uint32_t slot;
    int rc = web_sealtab_put(w->seals, key, time, m, &slot);
    web_msg_unref(m);
    if (rc == 0) {
        atomic_fetch_add_explicit(&w->ctr.positions_stale, 1, memory_order_relaxed);
        return;
    }
    if (rc < 0) {
        atomic_fetch_add_explicit(&w->ctr.events_bad, 1, memory_order_relaxed);
        return;
    }
    for (web_client *c = w->clients; c; c = c->next) {
        if (c->closing || (has_pos && !in_bbox(c, la, lo)))
            continue;
        int r = web_outq_mark(&c->q, slot);
        if (r == 0)
            atomic_fetch_add_explicit(&w->ctr.ws_coalesced, 1, memory_order_relaxed);
        else if (r == 1)
            lws_callback_on_writable(c->wsi);
    }
}

static void on_incident(struct web *w, const char *text, size_t len)
{
    web_msg *m = web_msg_new(text, len);
    if (!m)
        return;
    for (web_client *c = w->clients; c; c = c->next) {
        queue_reliable(w, c, m);
        atomic_fetch_add_explicit(&w->ctr.ws_incidents_queued, 1, memory_order_relaxed);
    }
    web_msg_unref(m);
}

/* The compact form every message is sent in: "type" first, no blanks (the ingest worker
 * writes positions so; the database's json_build_object puts blanks around colons). */
#define COMPACT_PREFIX "{\"type\":\""

/* raw: the object's own text when the caller has it; used as the message when it is
 * already compact, so the gateway does not re-serialise what it was given (at full load
 * that was a third of its time: number formatting and json-c's buffers). */
static void on_object(struct web *w, json_object *o, const char *raw, size_t raw_len)
{
    atomic_fetch_add_explicit(&w->ctr.events_in, 1, memory_order_relaxed);
    json_object *t;
    size_t len;
    const char *type = json_object_object_get_ex(o, "type", &t) ? json_object_get_string(t) : "";
    const char *text;
    if (raw && raw_len > sizeof COMPACT_PREFIX - 1 &&
        memcmp(raw, COMPACT_PREFIX, sizeof COMPACT_PREFIX - 1) == 0) {
        text = raw;
        len = raw_len;
    } else {
        text = json_object_to_json_string_length(
            o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    }
    if (strcmp(type, "position") == 0)
        on_position(w, o, text, len);
    else if (strcmp(type, "incident") == 0 || strcmp(type, "command") == 0)
        on_incident(w, text, len); /* a command's change of state never drops either */
    else if (strcmp(type, "vessel") == 0)
        on_vessel(w, o, text, len);
    else
        atomic_fetch_add_explicit(&w->ctr.events_bad, 1, memory_order_relaxed);
}

static size_t skip_blank(const char *text, size_t len, size_t off)
{
    while (off < len &&
           (text[off] == ' ' || text[off] == '\t' || text[off] == '\r' || text[off] == '\n'))
        off++;
    return off;
}

static void count_bad_event(struct web *w)
{
    atomic_fetch_add_explicit(&w->ctr.events_in, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&w->ctr.events_bad, 1, memory_order_relaxed);
}

/* A parsed element: an object goes on (raw: its text, or NULL), anything else is bad. */
static void on_parsed(struct web *w, json_object *o, const char *raw, size_t raw_len)
{
    if (o && json_object_is_type(o, json_type_object))
        on_object(w, o, raw, raw_len);
    else
        count_bad_event(w);
}

/* One message from the events socket: an object, or an array of them (an ingest worker
 * sends each batch's messages as one array); events_in counts the objects. */
void web_ws_event(struct web *w, const char *text, size_t len)
{
    json_tokener *tok = len > WEB_EVENT_MAX ? NULL : json_tokener_new_ex(64);
    if (!tok) {
        count_bad_event(w);
        return;
    }
    size_t off = skip_blank(text, len, 0);
    if (off < len && text[off] == '[') {
        /* a batch: the same objects in order, each parsed on its own so that its text is
         * at hand (json_tokener_get_parse_end) */
        off++;
        for (;;) {
            off = skip_blank(text, len, off);
            if (off < len && text[off] == ']')
                break;
            json_tokener_reset(tok);
            json_object *e = json_tokener_parse_ex(tok, text + off, (int)(len - off));
            size_t used = json_tokener_get_parse_end(tok);
            on_parsed(w, e, text + off, used);
            json_object_put(e);
            if (!e)
                break; /* no telling where the next one starts */
            off = skip_blank(text, len, off + used);
            if (off < len && text[off] == ',')
                off++;
            else
                break;
        }
    } else {
        json_object *o = json_tokener_parse_ex(tok, text, (int)len);
        on_parsed(w, o, NULL, 0);
        json_object_put(o);
    }
    json_tokener_free(tok);
}

void web_ws_drain(struct web *w)
{
    /* bounded per wake-up so HTTP and writes keep being served under a flood */
    for (int i = 0; i < 4096; i++) {
        nng_msg *m = core_queue_pop(w->events);
        if (!m)
            return;
        web_ws_event(w, nng_msg_body(m), nng_msg_len(m));
        nng_msg_free(m);
    }
    lws_cancel_service(w->ctx);
}

void web_ws_close_all(struct web *w)
{
    for (web_client *c = w->clients; c; c = c->next) {
        c->closing = 1;
        lws_callback_on_writable(c->wsi);
    }
}

/* ---- the lws callback ---- */

static int uri_is_ws(struct lws *wsi)
{
    char uri[16] = "";
    if (lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) < 0)
        return 0;
    return strcmp(uri, "/ws") == 0;
}

int web_ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    web_client *c = user;
    struct web *w = lws_context_user(lws_get_context(wsi));

    switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: {
        if (!uri_is_ws(wsi))
            return 1;
        /* a token of a role that may watch the map (auth.c); refused upgrades get the
         * status as a plain HTTP answer */
        web_ident who;
        int st = web_auth_ws(w, wsi, &who);
        if (st) {
            web_count_status(w, st);
            lws_return_http_status(wsi, (unsigned)st,
                                   st == 401   ? "unauthorized"
                                   : st == 403 ? "forbidden"
                                   : st == 429 ? "rate_limited"
                                               : "db_unavailable");
            return 1;
        }
        return 0;
    }
    case LWS_CALLBACK_ESTABLISHED:
        memset(c, 0, sizeof *c);
        c->wsi = wsi;
        /* the identity the upgrade was allowed with (cached by auth.c), for actions */
        if (web_auth_ws(w, wsi, &c->who))
            memset(&c->who, 0, sizeof c->who);
        web_outq_init(&c->q, w->ws_queue_max);
        web_buf_init(&c->in,
                     w->cfg->ws_message_max > 0 ? (size_t)w->cfg->ws_message_max : WEB_WS_IN_MAX);
        c->next = w->clients;
        if (w->clients)
            w->clients->prev = c;
        w->clients = c;
        atomic_fetch_add_explicit(&w->ctr.ws_clients, 1, memory_order_relaxed);
        c->snap = build_snapshot(w);
        if (!c->snap)
            return -1;
        lws_callback_on_writable(wsi);
        return 0;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return on_writeable(w, c);
    case LWS_CALLBACK_RECEIVE:
        if (web_buf_add(&c->in, in, len) != 0) {
            static const char why[] = "message too big";
            atomic_fetch_add_explicit(&w->ctr.ws_bad_in, 1, memory_order_relaxed);
            lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, (unsigned char *)why,
                             sizeof why - 1);
            return -1;
        }
        if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi)) {
            on_client_message(w, c, c->in.data ? c->in.data : "", c->in.len);
            c->in.len = 0;
        }
        return 0;
    case LWS_CALLBACK_WSI_DESTROY:
        web_conn_close(w, wsi); /* the connection's count (auth.c) */
        return 0;
    case LWS_CALLBACK_CLOSED:
        if (!c->wsi)
            return 0;
        if (c->prev)
            c->prev->next = c->next;
        else if (w->clients == c)
            w->clients = c->next;
        if (c->next)
            c->next->prev = c->prev;
        atomic_fetch_sub_explicit(&w->ctr.ws_clients, 1, memory_order_relaxed);
        web_outq_clear(&c->q);
        web_msg_unref(c->snap);
        web_buf_free(&c->in);
        memset(c, 0, sizeof *c);
        return 0;
    default:
        return 0;
    }
}
