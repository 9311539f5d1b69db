/*
 * rest_replay.c: the replay of a journey on the map (docs/replay.md):
 * GET /api/trips/{id}/replay and GET /api/seals/{id}/replay?from=&to=.
 *
 * The answer is built whole in the database (schema/rules/replay.sql: replay_trip,
 * replay_seal) as compact columnar JSON, {"t": [...], "lon": [...], "lat": [...],
 * "speed": [...], "events", "incidents", "route"}, and relayed as it comes: the gateway
 * parses none of it (a three-day trip at one fix every 10 s is about 1 MB). The window's
 * checks (ISO times with a zone, to after from, at most 7 days) are the database's too; a
 * refusal is CTnnn as for every rule (rest_trips.c). A '+' of a zone offset must come
 * as %2B: a bare one is decoded as a space, which the database refuses with a hint.
 *
 * Owns nothing beyond a call. Runs on the web thread.
 */
#include "web_int.h"

#include <ctype.h>
#include <string.h>

/* 1 if s is a UUID (8-4-4-4-12 hex digits). */
static int is_uuid(const char *s)
{
    if (!s || strlen(s) != 36)
        return 0;
    for (int i = 0; i < 36; i++)
        if ((i == 8 || i == 13 || i == 18 || i == 23) ? s[i] != '-'
                                                      : !isxdigit((unsigned char)s[i]))
            return 0;
    return 1;
}

/* ---- GET /api/trips/{id}/replay ---- */
void web_h_trip_replay(struct web *w, const web_req *req, web_resp *resp)
{
    const char *id = web_param(&req->params, "id");
    if (!is_uuid(id))
        return web_resp_error(resp, 404, "trip_not_found", "trip %s does not exist (not a UUID)",
                              id ? id : "");
    const char *vals[1] = {id};
    web_db_relay(resp, 200,
                 web_db_json(w->db, resp, "web_replay_trip", 1, vals, "invalid_request",
                             "the database cannot read a value"));
}

/* ---- GET /api/seals/{id}/replay[?from=T][&to=T] ---- */
void web_h_seal_replay(struct web *w, const web_req *req, web_resp *resp)
{
    const char *id = web_param(&req->params, "id");
    const char *from = web_query(req, "from"), *to = web_query(req, "to");
    const char *vals[3] = {id, from, to};
    web_db_relay(resp, 200,
                 web_db_json(w->db, resp, "web_replay_seal", 3, vals, "bad_time",
                             "from and to must be ISO 8601 times such as 2026-12-07T10:00:00Z"));
}
