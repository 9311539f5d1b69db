/*
 * rest_export.c: GET /api/trips/{id}/track?format=geojson|gpx|kml|csv|pdf (docs/exports.md),
 * a trip's track as a file to download, and the PDF evidence report.
 *
 * The four track formats are built whole by the database (schema/rules/exports.sql) and
 * relayed; the PDF is drawn here by pdf.c from three answers of the database: the
 * reconciliation report (trip_report), the map's data (trip_map) and the hash chain's
 * verification record when the database has one (trip_verification_or_null). Every
 * answer carries Content-Disposition with a file name made from the trip's declaration.
 *
 * Owns nothing beyond a call. Runs on the web thread.
 */
#include "pdf.h"
#include "web_int.h"

#include <json-c/json.h>
#include <string.h>

static const struct {
    const char *name, *ctype;
} formats[] = {
    {"geojson", "application/geo+json"},
    {"gpx", "application/gpx+xml"},
    {"kml", "application/vnd.google-earth.kml+xml"},
    {"csv", "text/csv; charset=utf-8"},
    {"pdf", "application/pdf"},
};
#define N_FORMATS (sizeof formats / sizeof formats[0])

/* Runs stmt and returns its one-row answer, or NULL with resp set. */
static PGresult *run(struct web *w, web_resp *resp, const char *stmt, int n,
                     const char *const *vals)
{
    return web_db_json(w->db, resp, stmt, n, vals, "invalid_request",
                       "the database cannot read a value");
}

/* stmt's answer parsed as JSON (the caller puts it), or NULL with resp set. JSON null
 * comes back as NULL with *is_null set, resp untouched. */
static json_object *run_json(struct web *w, web_resp *resp, const char *stmt, const char *id,
                             int *is_null)
{
    const char *vals[1] = {id};
    PGresult *r = run(w, resp, stmt, 1, vals);
    if (!r)
        return NULL;
    json_object *o = json_tokener_parse(PQgetvalue(r, 0, 0));
    int null = strcmp(PQgetvalue(r, 0, 0), "null") == 0;
    PQclear(r);
    if (is_null)
        *is_null = null;
    if (!o && !null)
        web_resp_error(resp, 500, "db_error", "the database's answer to %s is not JSON", stmt);
    return o;
}

/* pdf.c writes into the response body. */
static int to_body(void *arg, const unsigned char *data, size_t len)
{
    return web_buf_add(arg, data, len);
}

static void track_pdf(struct web *w, const char *id, web_resp *resp)
{
    json_object *report = NULL, *map = NULL, *verif = NULL;
    int verif_null = 0;
    if (!(report = run_json(w, resp, "web_trip_report", id, NULL)) ||
        !(map = run_json(w, resp, "web_trip_map", id, NULL)))
        goto done;
    verif = run_json(w, resp, "web_trip_verification", id, &verif_null);
    if (!verif && !verif_null)
        goto done;
    resp->body.len = 0;
    int rc = pdf_evidence_report(report, map, verif, to_body, &resp->body);
    if (rc == CORE_ETOOBIG) {
        web_resp_error(resp, 500, "too_large", "the report is larger than the gateway sends");
    } else if (rc != 0) {
        core_error("web", "the evidence report of trip %s could not be drawn (%d)", id, rc);
        web_resp_error(resp, 500, "pdf_failed", "the report could not be drawn");
    } else {
        resp->status = 200;
        resp->ctype = "application/pdf";
    }
done:
    json_object_put(verif);
    json_object_put(map);
    json_object_put(report);
}

void web_h_trip_track(struct web *w, const web_req *req, web_resp *resp)
{
    const char *fmt = web_query(req, "format");
    size_t f = 0;
    while (fmt && f < N_FORMATS && strcmp(fmt, formats[f].name) != 0)
        f++;
    if (!fmt || f == N_FORMATS)
        return web_resp_error(resp, 400, "bad_format",
                              "format must be one of geojson, gpx, kml, csv, pdf%s%.40s%s",
                              fmt ? " (not \"" : " (none given)", fmt ? fmt : "", fmt ? "\")" : "");
    const char *id = web_trip_id(req, resp);
    if (!id)
        return;
    const char *vals[2] = {id, fmt};
    PGresult *r = run(w, resp, "web_export_name", 2, vals); /* 404 for an unknown trip */
    if (!r)
        return;
    snprintf(resp->disposition, sizeof resp->disposition, "attachment; filename=\"%.120s\"",
             PQgetvalue(r, 0, 0));
    PQclear(r);

    if (strcmp(fmt, "pdf") == 0) {
        track_pdf(w, id, resp);
    } else if ((r = run(w, resp, "web_track_export", 2, vals))) {
        resp->body.len = 0;
        if (web_buf_add(&resp->body, PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0)) != 0) {
            web_resp_error(resp, 500, "too_large", "the track is larger than the gateway sends");
        } else {
            resp->status = 200;
            resp->ctype = formats[f].ctype;
        }
        PQclear(r);
    }
    if (resp->status != 200)
        resp->disposition[0] = '\0'; /* an error is not the file */
}
