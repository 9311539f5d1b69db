/*
 * incidents.c: reading incidents for the API and the map snapshot. The JSON shape is
 * corridor.incident_json (schema/002_ingest.sql), built in the database so the REST list,
 * the snapshot and the live messages from ingest are the same objects.
 *
 * Owns nothing; runs on the caller's thread with the caller's connection.
 */
#include "alerts.h"

#include <stdlib.h>
#include <string.h>

/* The module's statements, prepared once per connection (STYLE.md 12). */
static const struct {
    const char *name, *sql;
    int nparams;
} stmts[] = {
    {"alert_list",
     "SELECT coalesce(json_agg(corridor.incident_json(n)::json"
     "                         ORDER BY n.opened_at DESC, n.id DESC), '[]')::text"
     "  FROM (SELECT * FROM corridor.incidents i"
     "         WHERE $1::boolean IS FALSE OR i.status <> 'resolved'"
     "         ORDER BY i.opened_at DESC, i.id DESC LIMIT $2::int) n",
     2},
};

int alert_filter_parse(const char *s, enum alert_filter *out)
{
    if (!s || strcmp(s, "all") == 0)
        *out = ALERT_ALL;
    else if (strcmp(s, "open") == 0)
        *out = ALERT_OPEN;
    else
        return CORE_EINVAL;
    return 0;
}

int alert_prepare(PGconn *conn, char *err, size_t n)
{
    for (size_t i = 0; i < sizeof stmts / sizeof stmts[0]; i++) {
        PGresult *r = PQprepare(conn, stmts[i].name, stmts[i].sql, stmts[i].nparams, NULL);
        int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        if (!ok)
            snprintf(err, n, "prepare %s: %s", stmts[i].name, PQerrorMessage(conn));
        PQclear(r);
        if (!ok)
            return CORE_EDB;
    }
    return 0;
}

int alert_incidents_json(PGconn *conn, enum alert_filter filter, int limit, char **json,
                         size_t *len)
{
    char lim[16];
    if (limit < 1 || limit > ALERT_LIST_MAX)
        limit = ALERT_LIST_DEFAULT;
    snprintf(lim, sizeof lim, "%d", limit);
    const char *vals[2] = {filter == ALERT_OPEN ? "true" : "false", lim};
    PGresult *r = PQexecPrepared(conn, "alert_list", 2, vals, NULL, NULL, 0);
    int rc = CORE_EDB;
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
        goto fail;
    *len = (size_t)PQgetlength(r, 0, 0);
    *json = malloc(*len + 1);
    if (!*json)
        goto fail;
    memcpy(*json, PQgetvalue(r, 0, 0), *len + 1);
    rc = 0;
fail:
    PQclear(r);
    return rc;
}
