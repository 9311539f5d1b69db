/*
 * session.c: officer sign-in (docs/security.md). POST /api/session checks a name and
 * password (Argon2id, libargon2) and opens a session: a 32-byte secret from getrandom()
 * in the corridor_session cookie (HttpOnly, SameSite=Strict, Path=/, Secure under TLS).
 * The database holds only the SHA-256 of the secret and of the session's CSRF token
 * (corridor.sessions, schema/rules/accounts.sql), so neither can be read back from it.
 *
 * The CSRF token is derived from the secret (SHA-256 of "corridor-csrf:" and the secret),
 * so GET /api/session can give it again to a page that reloads, and only a page that can
 * read same-origin answers learns it. A request authenticated by the cookie that changes
 * state must send it as X-CSRF-Token; token-authenticated requests are not concerned.
 *
 * Sessions are not cached: every request asks corridor.session_check, so a disabled
 * account, a reset password or a revoked session is refused from the next request.
 * Failed sign-ins lock the name with a backoff (accounts.sql); a name that is no account
 * costs the same Argon2id verification (against a fixed hash) and gets the same answers.
 *
 * Never logged: passwords, cookies, CSRF tokens. Logs name the account and the session's
 * row id. Runs on the web thread (web_password_* on any thread).
 */
#include "web_int.h"

#include <argon2.h>
#include <errno.h>
#include <json-c/json.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

/* Argon2id cost: OWASP's minimum for Argon2id (19 MiB, 2 passes, 1 lane) */
#define PW_T_COST    2
#define PW_M_COST    19456
#define PW_LANES     1
#define PW_SALT_LEN  16
#define PW_HASH_LEN  32
#define SECRET_BYTES 32

/* What a name that is no account is verified against, so that its answer takes as long
 * as a wrong password's: the hash of a random password nobody knows, same parameters. */
static const char dummy_hash[] = "$argon2id$v=19$m=19456,t=2,p=1$"
                                 "PuahQohzpIgNcw7KY8K0Aw$"
                                 "5G85GB58cfhuWy8Q/405sbGGqMcHUlFrsCrs+CAMbEk";

static int fill_random(unsigned char *p, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = getrandom(p + got, n - got, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        got += (size_t)r;
    }
    return 0;
}

int web_password_hash(const char *password, char *out, size_t n)
{
    size_t pl = strlen(password);
    if (pl < WEB_PASSWORD_MIN || pl > WEB_PASSWORD_MAX)
        return CORE_EINVAL;
    size_t need =
        argon2_encodedlen(PW_T_COST, PW_M_COST, PW_LANES, PW_SALT_LEN, PW_HASH_LEN, Argon2_id);
    if (need > n)
        return CORE_ETOOBIG;
    unsigned char salt[PW_SALT_LEN];
    int rc = fill_random(salt, sizeof salt);
    if (rc)
        return rc;
    rc = argon2id_hash_encoded(PW_T_COST, PW_M_COST, PW_LANES, password, pl, salt, sizeof salt,
                               PW_HASH_LEN, out, n);
    OPENSSL_cleanse(salt, sizeof salt);
    return rc == ARGON2_OK ? 0 : -ENOMEM;
}

int web_password_verify(const char *encoded, const char *password)
{
    if (!encoded || strncmp(encoded, "$argon2id$", 10) != 0)
        return 0;
    size_t pl = strlen(password);
    if (pl > WEB_PASSWORD_MAX)
        return 0;
    return argon2id_verify(encoded, password, pl) == ARGON2_OK;
}

/* ---- statements, prepared on the web thread's connection (db.c) ---- */
static const struct {
    const char *name, *sql;
    int nparams;
} stmts[] = {
    {"web_signin_lookup",
     "SELECT coalesce(user_id, 0), coalesce(password_hash, ''), coalesce(role, ''),"
     " coalesce(disabled, true), retry_after FROM corridor.signin_lookup($1)",
     1},
    {"web_signin_failed", "SELECT corridor.signin_failed($1, $2)", 2},
    {"web_session_open",
     "SELECT corridor.session_open($1::bigint, $2::bytea, $3::bytea, $4, $5, $6::int)", 6},
    {"web_session_check",
     "SELECT session_id, user_id, name, role, csrf_hash, display_name"
     " FROM corridor.session_check($1::bytea, $2::int)",
     2},
    {"web_session_close", "SELECT corridor.session_close($1::bytea)", 1},
    /* accounts (rest_users.c) */
    {"web_users_list", "SELECT corridor.users_json()::text", 0},
    {"web_user_create", "SELECT corridor.user_create($1, $2, $3, $4, $5)::text", 5},
    {"web_user_disable", "SELECT corridor.user_disable($1, $2)::text", 2},
    {"web_user_reset", "SELECT corridor.user_reset($1, $2, $3)::text", 3},
    {"web_user_sessions", "SELECT corridor.user_sessions_json($1, $2::int)::text", 2},
    {"web_session_revoke", "SELECT corridor.session_revoke($1, $2::bigint, $3)::text", 3},
};

int web_session_prepare(PGconn *c, char *err, size_t n)
{
    for (size_t i = 0; i < sizeof stmts / sizeof stmts[0]; i++) {
        PGresult *r = PQprepare(c, stmts[i].name, stmts[i].sql, stmts[i].nparams, NULL);
        int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        if (!ok)
            snprintf(err, n, "prepare %s: %s", stmts[i].name, PQerrorMessage(c));
        PQclear(r);
        if (!ok)
            return CORE_EINVAL;
    }
    return 0;
}

/* ---- hashes ---- */

/* SHA-256 of s as a bytea literal "\x<64 hex>" into hex (67 bytes); raw into md if set. */
static int sha_hex(const char *s, size_t len, char hex[67], unsigned char md[32])
{
    unsigned char h[32];
    unsigned int hl = 0;
    if (!EVP_Digest(s, len, h, &hl, EVP_sha256(), NULL) || hl != 32)
        return CORE_EINVAL;
    hex[0] = '\\';
    hex[1] = 'x';
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 + 2 * i, 3, "%02x", h[i]);
    if (md)
        memcpy(md, h, 32);
    OPENSSL_cleanse(h, sizeof h);
    return 0;
}

/* The CSRF token of a session secret (64 hex) into out (65 bytes). */
static int csrf_of(const char *secret, char out[65])
{
    char in[16 + 2 * SECRET_BYTES + 1];
    int n = snprintf(in, sizeof in, "corridor-csrf:%s", secret);
    unsigned char h[32];
    unsigned int hl = 0;
    int ok = n > 0 && EVP_Digest(in, (size_t)n, h, &hl, EVP_sha256(), NULL) && hl == 32;
    OPENSSL_cleanse(in, sizeof in);
    if (!ok)
        return CORE_EINVAL;
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", h[i]);
    OPENSSL_cleanse(h, sizeof h);
    return 0;
}

/* 1 if s is exactly 64 lower-case hex digits (what a session secret looks like). */
static int secret_shape_ok(const char *s)
{
    size_t n = strlen(s);
    if (n != 2 * SECRET_BYTES)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

/* ---- reading the request ---- */

/* 1 when the request's Origin (if any) is this server (Host): a page of another site
 * cannot ride the cookie into /ws, nor sign a browser in to an account of its choosing. */
static int same_origin(struct lws *wsi)
{
    char origin[256] = "", host[256] = "";
    if (lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN) <= 0)
        return 1;
    if (lws_hdr_copy(wsi, origin, sizeof origin, WSI_TOKEN_ORIGIN) <= 0 ||
        lws_hdr_copy(wsi, host, sizeof host, WSI_TOKEN_HOST) <= 0)
        return 0;
    const char *o = strstr(origin, "://");
    return o && strcmp(o + 3, host) == 0;
}

void web_session_read(struct lws *wsi, web_req *req)
{
    char buf[4096];
    req->cookie[0] = req->csrf[0] = req->agent[0] = req->ip[0] = '\0';
    lws_get_peer_simple(wsi, req->ip, sizeof req->ip);
    req->foreign = !same_origin(wsi);
    int len = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_COOKIE);
    if (len > 0 && len < (int)sizeof buf &&
        lws_hdr_copy(wsi, buf, sizeof buf, WSI_TOKEN_HTTP_COOKIE) == len) {
        char v[sizeof req->cookie];
        if (web_cookie_get(buf, (size_t)len, WEB_COOKIE_NAME, v, sizeof v) > 0 &&
            secret_shape_ok(v))
            memcpy(req->cookie, v, sizeof v);
        OPENSSL_cleanse(v, sizeof v);
        OPENSSL_cleanse(buf, sizeof buf);
    }
    if (lws_hdr_custom_length(wsi, "x-csrf-token:", 13) < (int)sizeof req->csrf &&
        lws_hdr_custom_copy(wsi, req->csrf, sizeof req->csrf, "x-csrf-token:", 13) < 0)
        req->csrf[0] = '\0';
    if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_USER_AGENT) < (int)sizeof buf &&
        lws_hdr_copy(wsi, buf, sizeof buf, WSI_TOKEN_HTTP_USER_AGENT) > 0)
        snprintf(req->agent, sizeof req->agent, "%.256s", buf);
}

static int role_bit(const char *s)
{
    return strcmp(s, "admin") == 0     ? WEB_ROLE_ADMIN
           : strcmp(s, "officer") == 0 ? WEB_ROLE_OFFICER
           : strcmp(s, "arming") == 0  ? WEB_ROLE_ARMING
                                       : 0;
}

/* Looks the session of cookie up: 0 with *who (and the CSRF hash into csrf_md), 401 when
 * there is none (or it ended), 503 when the database cannot answer. */
static int lookup(struct web *w, const char *cookie, web_ident *who, unsigned char csrf_md[32])
{
    char hex[67], idle[16];
    memset(who, 0, sizeof *who);
    if (sha_hex(cookie, strlen(cookie), hex, NULL))
        return 503;
    snprintf(idle, sizeof idle, "%d", w->cfg->session_idle_s);
    const char *vals[2] = {hex, idle};
    PGresult *r = web_db_exec(w->db, "web_session_check", 2, vals);
    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
        if (r)
            core_error("auth", "session check failed: %s", PQresultErrorMessage(r));
        PQclear(r);
        return 503;
    }
    int st = 401;
    if (PQntuples(r) == 1 && PQgetlength(r, 0, 4) == 2 + 64) {
        who->session = atoll(PQgetvalue(r, 0, 0));
        snprintf(who->name, sizeof who->name, "%s", PQgetvalue(r, 0, 2));
        who->role = role_bit(PQgetvalue(r, 0, 3));
        who->user = 1;
        const char *c = PQgetvalue(r, 0, 4) + 2; /* "\x..." */
        for (int i = 0; i < 32; i++) {
            unsigned v = 0;
            sscanf(c + 2 * i, "%2x", &v);
            csrf_md[i] = (unsigned char)v;
        }
        st = who->role ? 0 : 401;
    }
    PQclear(r);
    return st;
}

static int changes_state(int method)
{
    return !(method & (WEB_GET | WEB_HEAD | WEB_OPTIONS));
}

int web_session_auth(struct web *w, web_req *req, int roles, web_resp *resp)
{
    unsigned char csrf_md[32];
    int st = lookup(w, req->cookie, &req->who, csrf_md);
    if (st == 401) {
        web_resp_error(resp, 401, "unauthorized",
                       "the session has ended (signed out, timed out or revoked); sign in again");
        return 401;
    }
    if (st) {
        web_resp_error(resp, 503, "db_unavailable",
                       "the database cannot be reached to check the session; retry shortly");
        return st;
    }
    if (!(req->who.role & (roles | WEB_ROLE_ADMIN))) {
        core_info("auth", "user %s (session %lld) forbidden on %s", req->who.name, req->who.session,
                  req->path);
        memset(&req->who, 0, sizeof req->who);
        web_resp_error(resp, 403, "forbidden", "this account's role may not use this endpoint");
        return 403;
    }
    if (changes_state(req->method)) {
        char hex[67];
        unsigned char md[32];
        int ok = req->csrf[0] && sha_hex(req->csrf, strlen(req->csrf), hex, md) == 0 &&
                 CRYPTO_memcmp(md, csrf_md, 32) == 0;
        if (!ok) {
            core_info("auth", "user %s (session %lld): %s refused, %s CSRF token", req->who.name,
                      req->who.session, req->path, req->csrf[0] ? "a wrong" : "no");
            memset(&req->who, 0, sizeof req->who);
            web_resp_error(resp, 403, "csrf",
                           "a request signed in by cookie that changes state needs the "
                           "session's X-CSRF-Token header");
            return 403;
        }
    }
    return 0;
}

int web_session_ws(struct web *w, struct lws *wsi, web_ident *who)
{
    web_req req;
    memset(&req.who, 0, sizeof req.who);
    web_session_read(wsi, &req);
    if (!req.cookie[0])
        return -1;
    unsigned char csrf_md[32];
    int st = same_origin(wsi) ? lookup(w, req.cookie, who, csrf_md) : 403;
    OPENSSL_cleanse(req.cookie, sizeof req.cookie);
    if (st)
        return st;
    if (!(who->role & WEB_WS_ROLES)) {
        memset(who, 0, sizeof *who);
        return 403;
    }
    return 0;
}

/* ---- the body of a sign-in ---- */

/* Refuses (422, field named) a member of o not in keys. 0 or 422. */
static int only_keys(json_object *o, const char *const *keys, web_resp *resp)
{
    json_object_object_foreach(o, k, v)
    {
        (void)v;
        int known = 0;
        for (const char *const *p = keys; *p; p++)
            known |= strcmp(*p, k) == 0;
        if (!known) {
            web_resp_error(resp, 422, "unknown_field", "the body has an unknown field \"%.64s\"",
                           k);
            return 422;
        }
    }
    return 0;
}

static const char *string_of(json_object *o, const char *key)
{
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

static void locked(web_resp *resp, int retry)
{
    web_resp_error(resp, 429, "locked",
                   "too many failed sign-ins under this name; retry after %d s", retry);
    snprintf(resp->retry_after, sizeof resp->retry_after, "%d", retry);
}

static void cookie_header(struct web *w, web_resp *resp, const char *value, int max_age)
{
    snprintf(resp->set_cookie, sizeof resp->set_cookie,
             WEB_COOKIE_NAME "=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%d%s", value, max_age,
             w->cfg->tls_cert ? "; Secure" : "");
}

/* Opens the session of user uid: 0 with the cookie set and the answer written. */
static void open_session(struct web *w, const web_req *req, web_resp *resp, const char *uid,
                         const char *name, const char *role)
{
    unsigned char raw[SECRET_BYTES];
    char secret[2 * SECRET_BYTES + 1], csrf[65], hash[67], csrf_hash[67], max[16];
    if (fill_random(raw, sizeof raw))
        return web_resp_error(resp, 500, "no_random", "no random numbers for a session");
    for (int i = 0; i < SECRET_BYTES; i++)
        snprintf(secret + 2 * i, 3, "%02x", raw[i]);
    OPENSSL_cleanse(raw, sizeof raw);
    if (csrf_of(secret, csrf) || sha_hex(secret, strlen(secret), hash, NULL) ||
        sha_hex(csrf, strlen(csrf), csrf_hash, NULL)) {
        web_resp_error(resp, 500, "internal", "cannot hash the session");
        goto done;
    }
    snprintf(max, sizeof max, "%d", w->cfg->session_max_s);
    const char *vals[6] = {
        uid, hash, csrf_hash, req->agent[0] ? req->agent : NULL, req->ip[0] ? req->ip : NULL, max};
    PGresult *r = web_db_json(w->db, resp, "web_session_open", 6, vals, "bad_session", "refused");
    if (!r)
        goto done;
    long long sid = atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    cookie_header(w, resp, secret, w->cfg->session_max_s);
    json_object *o = json_object_new_object();
    char actor[160];
    snprintf(actor, sizeof actor, "officer:%s", name);
    json_object_object_add(o, "user", json_object_new_string(name));
    json_object_object_add(o, "role", json_object_new_string(role));
    json_object_object_add(o, "actor", json_object_new_string(actor));
    json_object_object_add(o, "csrf", json_object_new_string(csrf));
    json_object_object_add(o, "idle_timeout_s", json_object_new_int(w->cfg->session_idle_s));
    json_object_object_add(o, "max_age_s", json_object_new_int(w->cfg->session_max_s));
    size_t len;
    const char *text = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &len);
    web_resp_json(resp, 200, text, len);
    json_object_put(o);
    core_info("auth", "user %s signed in (session %lld) from %s", name, sid,
              req->ip[0] ? req->ip : "?");
done:
    OPENSSL_cleanse(secret, sizeof secret);
    OPENSSL_cleanse(csrf, sizeof csrf);
}

/* ---- POST /api/session: {"name", "password"} ---- */
void web_h_session_open(struct web *w, const web_req *req, web_resp *resp)
{
    static const char *const keys[] = {"name", "password", NULL};
    PGresult *r = NULL;
    if (req->foreign) /* another site's page: no sign-in into an account it chose */
        return web_resp_error(resp, 403, "cross_origin",
                              "sign-in is taken only from this server's own pages");
    json_object *o = web_body_object(req, resp);
    if (!o)
        return;
    if (only_keys(o, keys, resp))
        goto done;
    const char *name = string_of(o, "name"), *pw = string_of(o, "password");
    if (!name || !*name || strlen(name) > 200) {
        web_resp_error(resp, 422, "invalid_field", "\"name\" is required: a string of 1 to 200");
        goto done;
    }
    if (!pw || strlen(pw) > WEB_PASSWORD_MAX) {
        web_resp_error(resp, 422, "invalid_field", "\"password\" is required: a string of up to %d",
                       WEB_PASSWORD_MAX);
        goto done;
    }
    const char *v1[1] = {name};
    r = web_db_exec(w->db, "web_signin_lookup", 1, v1);
    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
        if (r)
            core_error("auth", "sign-in lookup failed: %s", PQresultErrorMessage(r));
        web_resp_error(resp, 503, "db_unavailable", "the database cannot be reached; retry");
        goto done;
    }
    int found = PQntuples(r) == 1;
    int retry = found ? atoi(PQgetvalue(r, 0, 4)) : 0;
    if (retry > 0) {
        locked(resp, retry);
        goto done;
    }
    int account = found && atoll(PQgetvalue(r, 0, 0)) > 0;
    /* a name that is no account costs the same verification as a wrong password */
    int ok = web_password_verify(account ? PQgetvalue(r, 0, 1) : dummy_hash, pw);
    ok = ok && account && strcmp(PQgetvalue(r, 0, 3), "f") == 0;
    if (ok) {
        open_session(w, req, resp, PQgetvalue(r, 0, 0), name, PQgetvalue(r, 0, 2));
        goto done;
    }
    PQclear(r);
    const char *v2[2] = {name, req->ip[0] ? req->ip : NULL};
    r = web_db_exec(w->db, "web_signin_failed", 2, v2);
    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        web_resp_error(resp, 503, "db_unavailable", "the database cannot be reached; retry");
        goto done;
    }
    retry = atoi(PQgetvalue(r, 0, 0));
    core_info("auth", "failed sign-in from %s%s", req->ip[0] ? req->ip : "?",
              retry ? " (name now locked)" : "");
    if (retry > 0)
        locked(resp, retry);
    else
        web_resp_error(resp, 401, "signin_failed", "wrong name or password");
done:
    PQclear(r);
    json_object_put(o); /* json-c frees the password's copy with the object */
}

/* ---- GET /api/session: who is signed in, and the CSRF token again ---- */
void web_h_session_get(struct web *w, const web_req *req, web_resp *resp)
{
    char actor[160], csrf[65] = "";
    json_object *o = json_object_new_object();
    if (!o)
        return web_resp_error(resp, 500, "no_memory", "out of memory");
    json_object_object_add(o, "via", json_object_new_string(req->who.user ? "session" : "token"));
    json_object_object_add(o, "user", json_object_new_string(req->who.name));
    const char *a = web_ident_actor(&req->who, actor, sizeof actor);
    const char *colon = strchr(a, ':');
    if (req->who.user) {
        json_object_object_add(o, "role", json_object_new_string(web_ident_role(&req->who)));
        if (csrf_of(req->cookie, csrf) == 0)
            json_object_object_add(o, "csrf", json_object_new_string(csrf));
        json_object_object_add(o, "idle_timeout_s", json_object_new_int(w->cfg->session_idle_s));
    } else {
        json_object_object_add(
            o, "role", json_object_new_string_len(a, colon ? (int)(colon - a) : (int)strlen(a)));
    }
    json_object_object_add(o, "actor", json_object_new_string(a));
    size_t len;
    const char *text = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &len);
    web_resp_json(resp, 200, text, len);
    json_object_put(o);
    OPENSSL_cleanse(csrf, sizeof csrf);
}

/* ---- DELETE /api/session: sign-out (CSRF checked by web_session_auth) ---- */
void web_h_session_close(struct web *w, const web_req *req, web_resp *resp)
{
    if (!req->who.user) {
        web_resp_json(resp, 200, "{\"signed_out\":false}", 19);
        return;
    }
    char hex[67];
    if (sha_hex(req->cookie, strlen(req->cookie), hex, NULL))
        return web_resp_error(resp, 500, "internal", "cannot hash the session");
    const char *vals[1] = {hex};
    PGresult *r = web_db_exec(w->db, "web_session_close", 1, vals);
    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
        PQclear(r);
        return web_resp_error(resp, 503, "db_unavailable", "the database cannot be reached");
    }
    PQclear(r);
    cookie_header(w, resp, "", 0);
    core_info("auth", "user %s signed out (session %lld)", req->who.name, req->who.session);
    web_resp_json(resp, 200, "{\"signed_out\":true}", 18);
}
