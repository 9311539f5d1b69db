/*
 * rest_evidence.c: the evidence of a trip (docs/evidence.md): GET /api/trips/{id}/evidence
 * for officers and GET /api/partner/trips/{id}/evidence for the partner states that see the
 * trip (a leg in their country and one outside it, as GET /api/partner/trips decides).
 * The file is built by corridor.trip_evidence (schema/rules/evidence.sql): the trip's chain
 * segment, the signed heads covering it and the public keys; corridor-verify checks it
 * offline. Every partner request is audited (corridor.partner_trip_evidence writes the
 * row; a refusal before the database is asked is recorded here).
 *
 * Owns nothing beyond a call. Runs on the web thread.
 */
#include "web_int.h"

#include <ctype.h>
#include <string.h>

/* The {id} of the path if it is a UUID, else NULL with a 404 set. */
static const char *uuid_param(const web_req *req, web_resp *resp)
{
    const char *id = web_param(&req->params, "id");
    int ok = id && strlen(id) == 36;
    for (int i = 0; ok && i < 36; i++)
        ok = (i == 8 || i == 13 || i == 18 || i == 23) ? id[i] == '-'
                                                       : isxdigit((unsigned char)id[i]) != 0;
    if (!ok) {
        web_resp_error(resp, 404, "trip_not_found", "trip %s does not exist (not a UUID)",
                       id ? id : "");
        return NULL;
    }
    return id;
}

/* Relays the one JSON value of r (NULL: 404), then clears r. */
static void relay(web_resp *resp, PGresult *r, const char *id)
{
    if (!r)
        return web_resp_error(resp, 503, "db_unavailable",
                              "the database cannot be reached; retry shortly");
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        core_error("web", "trip evidence failed: %s", PQresultErrorMessage(r));
        web_resp_error(resp, 500, "db_error", "the database refused the query");
    } else if (PQgetisnull(r, 0, 0)) {
        web_resp_error(resp, 404, "trip_not_found", "trip %s does not exist", id);
    } else {
        web_resp_json(resp, 200, PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0));
    }
    PQclear(r);
}

void web_h_trip_evidence(struct web *w, const web_req *req, web_resp *resp)
{
    const char *id = uuid_param(req, resp);
    if (!id)
        return;
    const char *vals[1] = {id};
    relay(resp, web_db_exec(w->db, "web_trip_evidence", 1, vals), id);
}

void web_h_partner_trip_evidence(struct web *w, const web_req *req, web_resp *resp)
{
    const char *country = req->who.country;
    if (req->who.role == WEB_ROLE_ADMIN)
        country = web_query(req, "country");
    char token_id[24];
    snprintf(token_id, sizeof token_id, "%lld", req->who.id);
    const char *id = NULL;
    if (!country || strlen(country) != 2 || !isupper((unsigned char)country[0]) ||
        !isupper((unsigned char)country[1]))
        web_resp_error(resp, 400, "bad_query",
                       "an admin token names the partner's country: ?country=UG");
    else
        id = uuid_param(req, resp);
    if (!id) {
        char st[8];
        snprintf(st, sizeof st, "%d", resp->status);
        const char *vals[4] = {token_id, country ? country : "", req->path, st};
        PQclear(web_db_exec(w->db, "web_partner_refused", 4, vals));
        return;
    }
    const char *vals[4] = {country, id, token_id, req->path};
    relay(resp, web_db_exec(w->db, "web_partner_trip_evidence", 4, vals), id);
}
