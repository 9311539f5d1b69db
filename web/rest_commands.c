/*
 * rest_commands.c: the REST handlers of device commands (docs/commands.md): request,
 * list, cancel and approve. Every rule (who may, four eyes, which protocol takes what, the
 * params) lives in the database (schema/rules/commands.sql): each handler runs one prepared
 * statement (db.c: web_command_*) with the caller as the actor and relays its JSON; a
 * refusal is a CTnnn exception that web_db_json turns into {"error", "detail", "field"}.
 * Each change of state goes to the websocket clients at once (and an unseal outside the
 * destination's incident with it), like every other command change the workers and the
 * sweeper publish.
 *
 * Owns nothing beyond a call. Runs on the web thread.
 */
#include "web_int.h"

#include <ctype.h>
#include <json-c/json.h>
#include <string.h>

/* The {cid} capture if it is a positive decimal id, else NULL with a 404 set. */
static const char *command_id(const web_req *req, web_resp *resp)
{
    const char *id = web_param(&req->params, "cid");
    size_t n = id ? strlen(id) : 0;
    int ok = n > 0 && n < 19;
    for (size_t i = 0; ok && i < n; i++)
        ok = isdigit((unsigned char)id[i]) != 0;
    if (!ok) {
        web_resp_error(resp, 404, "command_not_found", "command %s does not exist", id ? id : "");
        return NULL;
    }
    return id;
}

/* Answers the command JSON of r with status and pushes it (and an incident in it) to the
 * websocket clients. */
static void answer(struct web *w, web_resp *resp, int status, PGresult *r)
{
    const char *text = PQgetvalue(r, 0, 0);
    size_t len = (size_t)PQgetlength(r, 0, 0);
    web_resp_json(resp, status, text, len);
    json_object *o = json_tokener_parse(text), *inc;
    if (!o)
        return;
    if (json_object_object_get_ex(o, "incident", &inc) &&
        json_object_is_type(inc, json_type_object)) {
        size_t il;
        const char *s = json_object_to_json_string_length(inc, JSON_C_TO_STRING_PLAIN, &il);
        web_ws_event(w, s, il);
        json_object_object_del(o, "incident");
    }
    size_t cl;
    const char *s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &cl);
    web_ws_event(w, s, cl);
    json_object_put(o);
}

static PGresult *run(struct web *w, web_resp *resp, const char *stmt, int n,
                     const char *const *vals)
{
    return web_db_json(w->db, resp, stmt, n, vals, "invalid_request",
                       "the database cannot read a value");
}

void web_h_commands_add(struct web *w, const web_req *req, web_resp *resp)
{
    json_object *o = web_body_object(req, resp);
    if (!o)
        return;
    json_object_put(o);
    char actor[160];
    const char *vals[3] = {web_param(&req->params, "id"), req->body.data,
                           web_ident_actor(&req->who, actor, sizeof actor)};
    PGresult *r = run(w, resp, "web_command_create", 3, vals);
    if (!r)
        return;
    answer(w, resp, 201, r);
    json_object *c = json_tokener_parse(PQgetvalue(r, 0, 0)), *id;
    if (c && json_object_object_get_ex(c, "id", &id))
        snprintf(resp->location, sizeof resp->location, "/api/seals/%s/commands/%lld", vals[0],
                 (long long)json_object_get_int64(id));
    json_object_put(c);
    PQclear(r);
}

void web_h_commands_list(struct web *w, const web_req *req, web_resp *resp)
{
    const char *vals[1] = {web_param(&req->params, "id")};
    PGresult *r = run(w, resp, "web_command_list", 1, vals);
    if (!r)
        return;
    web_resp_json(resp, 200, PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0));
    PQclear(r);
}

/* DELETE .../commands/{cid} and POST .../commands/{cid}/approve: stmt with the seal, the
 * command and the caller. */
static void act(struct web *w, const web_req *req, web_resp *resp, const char *stmt)
{
    const char *cid = command_id(req, resp);
    if (!cid)
        return;
    char actor[160];
    const char *vals[3] = {web_param(&req->params, "id"), cid,
                           web_ident_actor(&req->who, actor, sizeof actor)};
    PGresult *r = run(w, resp, stmt, 3, vals);
    if (!r)
        return;
    json_object *o = json_tokener_parse(PQgetvalue(r, 0, 0)), *v, *e, *d;
    if (o && json_object_object_get_ex(o, "refused", &v) && json_object_get_boolean(v) &&
        json_object_object_get_ex(o, "error", &e) && json_object_object_get_ex(o, "detail", &d))
        /* refused, with an audit row that an exception would have rolled back */
        web_resp_error(resp, 403, json_object_get_string(e), "%s", json_object_get_string(d));
    else
        answer(w, resp, 200, r);
    json_object_put(o);
    PQclear(r);
}

void web_h_command_cancel(struct web *w, const web_req *req, web_resp *resp)
{
    act(w, req, resp, "web_command_cancel");
}

void web_h_command_approve(struct web *w, const web_req *req, web_resp *resp)
{
    act(w, req, resp, "web_command_approve");
}
