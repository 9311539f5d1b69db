/*
 * rest_users.c: the officer accounts of the admin page (admin role only, rest.c's table):
 * list, create, disable, reset a password, list and revoke a user's sessions. Passwords
 * are hashed here with Argon2id (session.c) and never sent to the database or a log; the
 * functions of schema/rules/accounts.sql do the rest and audit each change with the
 * acting admin (web_ident_actor).
 *
 * Owns nothing beyond a call. Runs on the web thread.
 */
#include "web_int.h"

#include <json-c/json.h>
#include <openssl/crypto.h>
#include <string.h>

/* The body's members: only those of keys (422 unknown_field otherwise). NULL with resp
 * set on failure; the caller puts the object. */
static json_object *body_with(const web_req *req, web_resp *resp, const char *const *keys)
{
    json_object *o = web_body_object(req, resp);
    if (!o)
        return NULL;
    json_object_object_foreach(o, k, v)
    {
        (void)v;
        int known = 0;
        for (const char *const *p = keys; *p; p++)
            known |= strcmp(*p, k) == 0;
        if (!known) {
            web_resp_error(resp, 422, "unknown_field", "the body has an unknown field \"%.64s\"",
                           k);
            json_object_put(o);
            return NULL;
        }
    }
    return o;
}

/* The string member key: its value, NULL when absent or null; *bad when another type. */
static const char *member(json_object *o, const char *key, int *bad)
{
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || !v)
        return NULL;
    if (!json_object_is_type(v, json_type_string)) {
        *bad = 1;
        return NULL;
    }
    return json_object_get_string(v);
}

/* Hashes the "password" member into out: 0, or a status with resp set. */
static int hash_password(json_object *o, char *out, size_t n, web_resp *resp)
{
    int bad = 0;
    const char *pw = member(o, "password", &bad);
    if (bad || !pw) {
        web_resp_error(resp, 422, "invalid_field", "\"password\" is required and must be a string");
        return 422;
    }
    size_t pl = strlen(pw);
    if (pl < WEB_PASSWORD_MIN || pl > WEB_PASSWORD_MAX) {
        web_resp_error(resp, 422, "invalid_field", "\"password\": %d to %d characters",
                       WEB_PASSWORD_MIN, WEB_PASSWORD_MAX);
        return 422;
    }
    if (web_password_hash(pw, out, n) != 0) {
        web_resp_error(resp, 500, "internal", "the password could not be hashed");
        return 500;
    }
    return 0;
}

void web_h_users_list(struct web *w, const web_req *req, web_resp *resp)
{
    web_db_relay(resp, 200, web_db_json(w->db, resp, "web_users_list", 0, NULL, "bad", "refused"));
}

/* POST /api/users {"name", "display_name", "role", "password"} */
void web_h_users_add(struct web *w, const web_req *req, web_resp *resp)
{
    static const char *const keys[] = {"name", "display_name", "role", "password", NULL};
    char hash[WEB_PWHASH_MAX], actor[160];
    json_object *o = body_with(req, resp, keys);
    if (!o)
        return;
    int bad = 0;
    const char *name = member(o, "name", &bad), *display = member(o, "display_name", &bad),
               *role = member(o, "role", &bad);
    if (bad || !name || !role) {
        web_resp_error(resp, 422, "invalid_field",
                       "\"name\" and \"role\" are required strings; \"display_name\" a string");
        goto done;
    }
    if (hash_password(o, hash, sizeof hash, resp))
        goto done;
    const char *vals[5] = {name, display ? display : "", role, hash,
                           web_ident_actor(&req->who, actor, sizeof actor)};
    PGresult *r = web_db_json(w->db, resp, "web_user_create", 5, vals, "invalid_field", "refused");
    if (r) {
        snprintf(resp->location, sizeof resp->location, "/api/users/%.100s", name);
        core_info("web", "user %s (%s) created by %s", name, role, actor);
    }
    web_db_relay(resp, 201, r);
done:
    OPENSSL_cleanse(hash, sizeof hash);
    json_object_put(o);
}

void web_h_user_disable(struct web *w, const web_req *req, web_resp *resp)
{
    char actor[160];
    const char *vals[2] = {web_param(&req->params, "name"),
                           web_ident_actor(&req->who, actor, sizeof actor)};
    PGresult *r = web_db_json(w->db, resp, "web_user_disable", 2, vals, "bad", "refused");
    if (r)
        core_info("web", "user %s disabled by %s; its sessions ended", vals[0], actor);
    web_db_relay(resp, 200, r);
}

/* POST /api/users/{name}/reset {"password"} */
void web_h_user_reset(struct web *w, const web_req *req, web_resp *resp)
{
    static const char *const keys[] = {"password", NULL};
    char hash[WEB_PWHASH_MAX], actor[160];
    json_object *o = body_with(req, resp, keys);
    if (!o)
        return;
    if (hash_password(o, hash, sizeof hash, resp) == 0) {
        const char *vals[3] = {web_param(&req->params, "name"), hash,
                               web_ident_actor(&req->who, actor, sizeof actor)};
        PGresult *r = web_db_json(w->db, resp, "web_user_reset", 3, vals, "bad", "refused");
        if (r)
            core_info("web", "password of user %s reset by %s; its sessions ended", vals[0], actor);
        web_db_relay(resp, 200, r);
    }
    OPENSSL_cleanse(hash, sizeof hash);
    json_object_put(o);
}

void web_h_user_sessions(struct web *w, const web_req *req, web_resp *resp)
{
    char idle[16];
    snprintf(idle, sizeof idle, "%d", w->cfg->session_idle_s);
    const char *vals[2] = {web_param(&req->params, "name"), idle};
    web_db_relay(resp, 200,
                 web_db_json(w->db, resp, "web_user_sessions", 2, vals, "bad", "refused"));
}

void web_h_user_session_revoke(struct web *w, const web_req *req, web_resp *resp)
{
    char actor[160];
    const char *id = web_param(&req->params, "id");
    size_t n = strlen(id);
    for (size_t i = 0; i < n; i++)
        if (id[i] < '0' || id[i] > '9' || n > 18)
            return web_resp_error(resp, 404, "not_found", "a session id is a number");
    const char *vals[3] = {web_param(&req->params, "name"), id,
                           web_ident_actor(&req->who, actor, sizeof actor)};
    PGresult *r = web_db_json(w->db, resp, "web_session_revoke", 3, vals, "bad", "refused");
    if (r)
        core_info("web", "session %s of user %s revoked by %s", id, vals[0], actor);
    web_db_relay(resp, 200, r);
}
