/*
 * rest_partner.c: GET /api/partner/trips, the regional partners' cross-border API
 * (docs/security.md). A partner token sees only the trips that enter or leave its own
 * country (corridor.partner_trips in schema/rules/partner.sql decides, and audits every
 * query); an admin token names the country with ?country=.
 *
 * Owns nothing beyond a call. Runs on the web thread.
 */
#include "web_int.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* 1 if s is 1..6 digits. */
static int small_number(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 6)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return 0;
    return 1;
}

/* Records a refused partner query (the answered ones are audited by partner_trips). */
static void audit_refusal(struct web *w, const web_req *req, const char *country, const char *query,
                          int status)
{
    char id[24], st[8];
    snprintf(id, sizeof id, "%lld", req->who.id);
    snprintf(st, sizeof st, "%d", status);
    const char *vals[4] = {id, country ? country : "", query, st};
    PQclear(web_db_exec(w->db, "web_partner_refused", 4, vals));
}

/* The request as asked, for the audit: path and every query argument. */
static void asked(const web_req *req, char *out, size_t n)
{
    size_t o = (size_t)snprintf(out, n, "%s", req->path);
    char sep = '?';
    for (const char *q = req->query; *q && o + 2 < n; q += strlen(q) + 1) {
        o += (size_t)snprintf(out + o, n - o, "%c%s", sep, q);
        sep = '&';
    }
}

static void run(struct web *w, const web_req *req, web_resp *resp, const char *query)
{
    const char *since = web_query(req, "since"), *until = web_query(req, "until"),
               *page = web_query(req, "page"), *country = req->who.country;
    if (req->who.role == WEB_ROLE_ADMIN) {
        country = web_query(req, "country");
        if (!country)
            return web_resp_error(resp, 400, "bad_query",
                                  "an admin token names the partner's country: ?country=UG");
    } else if (web_query(req, "country") && strcmp(web_query(req, "country"), country) != 0) {
        return web_resp_error(resp, 403, "forbidden",
                              "a partner token sees only its own country (%s)", country);
    }
    if (strlen(country) != 2 || !isupper((unsigned char)country[0]) ||
        !isupper((unsigned char)country[1]))
        return web_resp_error(resp, 400, "bad_query", "country is an ISO 3166 code like UG");
    if ((since && !core_valid_time_or_date(since)) || (until && !core_valid_time_or_date(until)))
        return web_resp_error(resp, 400, "bad_query",
                              "since and until are ISO 8601 times or dates (2026-11-26)");
    if (page && (!small_number(page) || atoi(page) < 1))
        return web_resp_error(resp, 400, "bad_query", "page is a number from 1");

    char token_id[24];
    snprintf(token_id, sizeof token_id, "%lld", req->who.id);
    const char *vals[6] = {country, since, until, page ? page : "1", token_id, query};
    PGresult *r = web_db_exec(w->db, "web_partner_trips", 6, vals);
    if (!r)
        return web_resp_error(resp, 503, "db_unavailable",
                              "the database cannot be reached; retry shortly");
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
        web_resp_json(resp, 200, PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0));
    } else {
        const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
        if (state && strncmp(state, "CT4", 3) == 0 && msg) {
            /* "code: detail" as corridor.fail raises it */
            const char *colon = strstr(msg, ": ");
            char code[64];
            snprintf(code, sizeof code, "%.*s", colon ? (int)(colon - msg) : 0, msg);
            web_resp_error(resp, atoi(state + 2), colon ? code : "bad_query", "%s",
                           colon ? colon + 2 : msg);
        } else if (state && strncmp(state, "22", 2) == 0) {
            web_resp_error(resp, 400, "bad_query", "the database cannot read the query: %s",
                           msg ? msg : "");
        } else {
            core_error("web", "partner trips failed: %s", PQresultErrorMessage(r));
            web_resp_error(resp, 500, "db_error", "the database refused the query");
        }
    }
    PQclear(r);
}

void web_h_partner_trips(struct web *w, const web_req *req, web_resp *resp)
{
    char query[WEB_PATH_MAX + WEB_QUERY_MAX + 64];
    asked(req, query, sizeof query);
    run(w, req, resp, query);
    if (resp->status != 200) {
        const char *c =
            req->who.role == WEB_ROLE_ADMIN ? web_query(req, "country") : req->who.country;
        char cc[3];
        snprintf(cc, sizeof cc, "%s", c ? c : "");
        audit_refusal(w, req, cc, query, resp->status);
    }
}
