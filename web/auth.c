/*
 * auth.c: access control of the gateway (docs/security.md). Every /api route and /ws
 * states the roles that may call it (rest.c's table); this file decides, before any
 * handler runs, whether the caller's token carries one of them.
 *
 * A token is looked up by its SHA-256 (corridor.token_check on the web thread's own
 * connection), never by its text, and the database stores only the hash. Verified (and
 * refused) hashes are cached for AUTH_TTL_US so a busy client costs no query per request;
 * a revoked token is therefore refused within that time. Cache hits compare the 32-byte
 * hashes with CRYPTO_memcmp (constant time). Logs name a token by its id and name only.
 *
 * Each cached token also holds its request bucket (cfg->rate_per_token per second, up to
 * cfg->rate_burst at once): a caller over it gets 429 with Retry-After.
 *
 * Owns the cache (struct web_auth, made on first use, freed by web_stop). Runs on the web
 * thread only.
 */
#include "web_int.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#define AUTH_CACHE      512
#define AUTH_TTL_US     (30 * 1000000LL) /* a verified token is trusted this long */
#define AUTH_NEG_TTL_US (5 * 1000000LL)  /* an unknown hash is refused this long */
#define AUTH_TOKEN_MAX  128              /* longer is refused unread */

struct auth_entry {
    unsigned char hash[32];
    int used;
    int64_t until_us; /* the verdict holds until then */
    web_ident who;    /* role 0: refused */
    double bucket;    /* requests left */
    int64_t bucket_us;
};

struct web_auth {
    struct auth_entry e[AUTH_CACHE];
    unsigned next; /* round-robin victim when no entry is free or expired */
};

void web_auth_free(web_auth *a)
{
    if (a)
        OPENSSL_cleanse(a, sizeof *a);
    free(a);
}

static int role_of(const char *s)
{
    if (strcmp(s, "admin") == 0)
        return WEB_ROLE_ADMIN;
    if (strcmp(s, "officer") == 0)
        return WEB_ROLE_OFFICER;
    if (strcmp(s, "arming") == 0)
        return WEB_ROLE_ARMING;
    if (strcmp(s, "rru") == 0)
        return WEB_ROLE_RRU;
    if (strcmp(s, "partner") == 0)
        return WEB_ROLE_PARTNER;
    return 0;
}

static const char *role_name(int role)
{
    switch (role) {
    case WEB_ROLE_ADMIN:
        return "admin";
    case WEB_ROLE_OFFICER:
        return "officer";
    case WEB_ROLE_ARMING:
        return "arming";
    case WEB_ROLE_RRU:
        return "rru";
    case WEB_ROLE_PARTNER:
        return "partner";
    default:
        return "anonymous";
    }
}

const char *web_ident_role(const web_ident *who)
{
    return role_name(who->role);
}

const char *web_ident_actor(const web_ident *who, char *buf, size_t n)
{
    if (who->user) /* a signed-in person: whatever the role, an officer of the centre */
        snprintf(buf, n, "officer:%s", who->name);
    else if (who->role == WEB_ROLE_RRU)
        snprintf(buf, n, "rru:%s", who->unit);
    else if (who->role)
        snprintf(buf, n, "%s:%s", role_name(who->role), who->name);
    else
        snprintf(buf, n, "anonymous");
    return buf;
}

/* 1 if t is 1..AUTH_TOKEN_MAX printable ASCII characters without spaces. */
static int token_shape_ok(const char *t)
{
    size_t n = strlen(t);
    if (n < 1 || n > AUTH_TOKEN_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (t[i] <= ' ' || t[i] > '~')
            return 0;
    return 1;
}

/* Verifies token: 0 with *e its cache entry (e->who.role 0 when refused), or 503 when the
 * database cannot answer and nothing is cached. */
static int verify(struct web *w, const char *token, struct auth_entry **out)
{
    if (!w->auth && !(w->auth = calloc(1, sizeof *w->auth)))
        return 503;
    web_auth *a = w->auth;
    unsigned char h[32];
    unsigned int hl = 0;
    if (!EVP_Digest(token, strlen(token), h, &hl, EVP_sha256(), NULL) || hl != 32)
        return 503;
    int64_t now = core_mono_us();
    struct auth_entry *hit = NULL, *free_e = NULL;
    /* every entry is compared, so the time taken does not depend on where a hit is */
    for (int i = 0; i < AUTH_CACHE; i++) {
        struct auth_entry *e = &a->e[i];
        int eq = e->used && CRYPTO_memcmp(e->hash, h, 32) == 0;
        if (eq)
            hit = e;
        else if (!free_e && (!e->used || e->until_us < now - AUTH_TTL_US))
            free_e = e;
    }
    if (hit && hit->until_us >= now) {
        *out = hit;
        return 0;
    }
    char hex[2 + 64 + 1] = "\\x";
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 + 2 * i, 3, "%02x", h[i]);
    const char *vals[1] = {hex};
    PGresult *r = web_db_exec(w->db, "web_token_check", 1, vals);
    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
        if (r)
            core_error("auth", "token check failed: %s", PQresultErrorMessage(r));
        PQclear(r);
        return 503;
    }
    struct auth_entry *e = hit ? hit : free_e;
    if (!e) {
        e = &a->e[a->next];
        a->next = (a->next + 1) % AUTH_CACHE;
    }
    if (e != hit) {
        memset(e, 0, sizeof *e);
        memcpy(e->hash, h, 32);
        e->used = 1;
        e->bucket = w->cfg->rate_burst > 0 ? w->cfg->rate_burst : 1;
        e->bucket_us = now;
    }
    memset(&e->who, 0, sizeof e->who);
    if (PQntuples(r) == 1) {
        e->who.id = atoll(PQgetvalue(r, 0, 0));
        snprintf(e->who.name, sizeof e->who.name, "%s", PQgetvalue(r, 0, 1));
        e->who.role = role_of(PQgetvalue(r, 0, 2));
        snprintf(e->who.country, sizeof e->who.country, "%s", PQgetvalue(r, 0, 3));
        snprintf(e->who.unit, sizeof e->who.unit, "%s", PQgetvalue(r, 0, 4));
        e->until_us = now + AUTH_TTL_US;
    } else {
        e->until_us = now + AUTH_NEG_TTL_US;
    }
    PQclear(r);
    *out = e;
    return 0;
}

/* Takes one request from e's bucket: 0, or the seconds to wait (>= 1). */
static int take(struct web *w, struct auth_entry *e)
{
    int rate = w->cfg->rate_per_token, burst = w->cfg->rate_burst > 0 ? w->cfg->rate_burst : 1;
    if (rate <= 0)
        return 0;
    int64_t now = core_mono_us();
    e->bucket += (double)(now - e->bucket_us) * rate / 1e6;
    e->bucket_us = now;
    if (e->bucket > burst)
        e->bucket = burst;
    if (e->bucket >= 1) {
        e->bucket -= 1;
        return 0;
    }
    int wait = (int)((1 - e->bucket) / rate) + 1;
    return wait;
}

/* The decision for a presented token (may be NULL): 0 or a status, with *who and, for a
 * 429, *retry set. */
static int decide(struct web *w, const char *token, int roles, const char *what, web_ident *who,
                  int *retry)
{
    memset(who, 0, sizeof *who);
    if (!token || !token_shape_ok(token))
        return 401;
    struct auth_entry *e = NULL;
    int st = verify(w, token, &e);
    if (st)
        return st;
    if (!e->who.role) {
        core_debug("auth", "unknown or revoked token refused for %s", what);
        return 401;
    }
    if (!(e->who.role & (roles | WEB_ROLE_ADMIN))) {
        core_info("auth", "token %lld (%s, %s) forbidden on %s", e->who.id, e->who.name,
                  role_name(e->who.role), what);
        return 403;
    }
    if ((*retry = take(w, e)) != 0) {
        core_debug("auth", "token %lld (%s) over its rate on %s", e->who.id, e->who.name, what);
        return 429;
    }
    *who = e->who;
    return 0;
}

/* The bearer token of the Authorization header into buf, or NULL. */
static const char *bearer(struct lws *wsi, char *buf, size_t n)
{
    int len = lws_hdr_copy(wsi, buf, (int)n, WSI_TOKEN_HTTP_AUTHORIZATION);
    if (len <= 7 || strncasecmp(buf, "Bearer ", 7) != 0)
        return NULL;
    char *t = buf + 7;
    while (*t == ' ')
        t++;
    size_t l = strlen(t);
    while (l && t[l - 1] == ' ')
        t[--l] = '\0';
    return t;
}

static void set_refusal(web_resp *resp, int st, int retry)
{
    if (st == 401)
        web_resp_error(resp, 401, "unauthorized",
                       "a valid token is required: Authorization: Bearer TOKEN");
    else if (st == 403)
        web_resp_error(resp, 403, "forbidden", "this token's role may not use this endpoint");
    else if (st == 429) {
        web_resp_error(resp, 429, "rate_limited",
                       "too many requests for this token; retry after %d s", retry);
        snprintf(resp->retry_after, sizeof resp->retry_after, "%d", retry);
    } else
        web_resp_error(resp, 503, "db_unavailable",
                       "the database cannot be reached to check the token; retry shortly");
}

int web_auth_request(struct web *w, struct lws *wsi, web_req *req, int roles, web_resp *resp)
{
    memset(&req->who, 0, sizeof req->who);
    web_session_read(wsi, req); /* the sign-in routes read the cookie too (session.c) */
    if (roles & WEB_ROLE_ANYONE)
        return 0;
    if ((roles & WEB_ROLE_LOOPBACK) && req->loopback)
        return 0;
    char buf[AUTH_TOKEN_MAX + 64] = "";
    const char *token = bearer(wsi, buf, sizeof buf);
    if (!token && req->cookie[0]) /* a signed-in officer: a token header wins */
        return web_session_auth(w, req, roles, resp);
    int retry = 0;
    int st = decide(w, token, roles, req->path, &req->who, &retry);
    if (st)
        set_refusal(resp, st, retry);
    return st;
}

int web_auth_ws(struct web *w, struct lws *wsi, web_ident *who)
{
    char buf[AUTH_TOKEN_MAX + 64] = "";
    const char *token = bearer(wsi, buf, sizeof buf);
    if (!token) {
        /* lws copies the whole "token=VALUE" argument and points past the '=' */
        token = lws_get_urlarg_by_name(wsi, "token=", buf, (int)sizeof buf);
    }
    int retry = 0;
    if (!token) {
        int st = web_session_ws(w, wsi, who); /* a signed-in officer's page */
        if (st >= 0)
            return st;
    }
    return decide(w, token, WEB_WS_ROLES, "/ws", who, &retry);
}

/* ---- connections per client address (cfg->conn_per_ip) ----
 * Each accepted connection gets a record {wsi, address entry} as its lws opaque user data
 * (which survives the upgrade to a websocket); the address entry counts its connections
 * and is freed with its last one. HTTP/2 streams may inherit the pointer: a record counts
 * only for the wsi it was made for. */
#define CONN_BUCKETS 4096

struct conn_addr {
    char ip[64];
    int count;
    struct conn_addr *next;
};

struct conn_rec {
    struct lws *wsi;
    struct conn_addr *addr;
};

struct web_conns {
    struct conn_addr *b[CONN_BUCKETS];
};

static unsigned ip_hash(const char *s)
{
    unsigned h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h % CONN_BUCKETS;
}

int web_conn_open(struct web *w, struct lws *wsi)
{
    int limit = w->cfg->conn_per_ip;
    if (limit <= 0)
        return 0;
    if (!w->conns && !(w->conns = calloc(1, sizeof *w->conns)))
        return -1;
    char ip[64] = "";
    lws_get_peer_simple(wsi, ip, sizeof ip);
    unsigned h = ip_hash(ip);
    struct conn_addr *a = w->conns->b[h];
    while (a && strcmp(a->ip, ip) != 0)
        a = a->next;
    if (a && a->count >= limit) {
        atomic_fetch_add_explicit(&w->ctr.conn_refused, 1, memory_order_relaxed);
        core_debug("web", "%s: over %d connections, refused", ip, limit);
        return -1;
    }
    struct conn_rec *r = malloc(sizeof *r);
    if (!r)
        return -1;
    if (!a) {
        if (!(a = calloc(1, sizeof *a))) {
            free(r);
            return -1;
        }
        snprintf(a->ip, sizeof a->ip, "%s", ip);
        a->next = w->conns->b[h];
        w->conns->b[h] = a;
    }
    a->count++;
    r->wsi = wsi;
    r->addr = a;
    lws_set_opaque_user_data(wsi, r);
    return 0;
}

void web_conn_close(struct web *w, struct lws *wsi)
{
    struct conn_rec *r = lws_get_opaque_user_data(wsi);
    if (!r || r->wsi != wsi || !w->conns)
        return;
    lws_set_opaque_user_data(wsi, NULL);
    struct conn_addr *a = r->addr;
    free(r);
    if (--a->count > 0)
        return;
    struct conn_addr **p = &w->conns->b[ip_hash(a->ip)];
    while (*p && *p != a)
        p = &(*p)->next;
    if (*p)
        *p = a->next;
    free(a);
}

void web_conns_free(web_conns *c)
{
    if (!c)
        return;
    for (int i = 0; i < CONN_BUCKETS; i++)
        while (c->b[i]) {
            struct conn_addr *a = c->b[i];
            c->b[i] = a->next;
            free(a);
        }
    free(c);
}
