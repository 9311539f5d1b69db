/*
 * geo_batch.c: micro-batches of observations, sent to PostGIS as one call of
 * corridor.ingest_batch with one array parameter per column.
 *
 * Owned by one ingest worker thread. All memory is allocated once at geo_batch_new:
 * the observations and one text buffer per column, sized for the capacity, so adding
 * and sending never allocate.
 */
#include "geofence.h"
#include "core.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define GEO_NCOLS 11
#define GEO_STMT  "corridor_ingest_batch"

/* Longest text of one element of any column, quoted and escaped, plus its comma. */
#define GEO_ELEM_MAX (2 * GEO_ID_MAX + 8)

struct geo_batch {
    int cap, len;
    geo_obs *obs;
    char *col[GEO_NCOLS];
    size_t col_cap;
};

void geo_obs_clear(geo_obs *o)
{
    memset(o, 0, sizeof *o);
    o->speed_kmh = o->bearing = o->altitude = o->accuracy = o->battery = NAN;
}

geo_batch *geo_batch_new(int capacity)
{
    geo_batch *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->cap = capacity;
    b->col_cap = (size_t)capacity * GEO_ELEM_MAX + 4;
    b->obs = calloc((size_t)capacity, sizeof *b->obs);
    if (!b->obs)
        goto fail;
    for (int i = 0; i < GEO_NCOLS; i++)
        if (!(b->col[i] = malloc(b->col_cap)))
            goto fail;
    return b;
fail:
    geo_batch_free(b);
    return NULL;
}

void geo_batch_free(geo_batch *b)
{
    if (!b)
        return;
    for (int i = 0; i < GEO_NCOLS; i++)
        free(b->col[i]);
    free(b->obs);
    free(b);
}

int geo_batch_add(geo_batch *b, const geo_obs *o)
{
    if (b->len >= b->cap)
        return CORE_EFULL;
    b->obs[b->len] = *o;
    return b->len++;
}

int geo_batch_len(const geo_batch *b)
{
    return b->len;
}

void geo_batch_clear(geo_batch *b)
{
    b->len = 0;
}

int geo_prepare(PGconn *conn, char *err, size_t n)
{
    PGresult *r = PQprepare(conn, GEO_STMT,
                            "SELECT kind, idx, body FROM corridor.ingest_batch("
                            "$1::text[], $2::float8[], $3::float8[], $4::float8[], $5::real[], "
                            "$6::real[], $7::real[], $8::real[], $9::real[], $10::text[], "
                            "$11::text[])",
                            GEO_NCOLS, NULL);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        snprintf(err, n, "preparing the batch statement: %s", PQresultErrorMessage(r));
    PQclear(r);
    return ok ? 0 : CORE_EDB;
}

/* Appends one array element: a quoted string with " and \ escaped, or NULL for "". */
static char *put_str(char *p, const char *s)
{
    if (!*s) {
        memcpy(p, "NULL", 4);
        return p + 4;
    }
    *p++ = '"';
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            *p++ = '\\';
        *p++ = *s;
    }
    *p++ = '"';
    return p;
}

static char *put_num(char *p, double v, int decimals)
{
    if (isnan(v)) {
        memcpy(p, "NULL", 4);
        return p + 4;
    }
    return p + sprintf(p, "%.*f", decimals, v);
}

int geo_batch_send(geo_batch *b, PGconn *conn)
{
    char *p[GEO_NCOLS];
    for (int c = 0; c < GEO_NCOLS; c++) {
        p[c] = b->col[c];
        *p[c]++ = '{';
    }
    for (int i = 0; i < b->len; i++) {
        const geo_obs *o = &b->obs[i];
        if (i)
            for (int c = 0; c < GEO_NCOLS; c++)
                *p[c]++ = ',';
        p[0] = put_str(p[0], o->seal_id);
        p[1] += sprintf(p[1], "%lld.%06lld", (long long)(o->ts_us / 1000000),
                        (long long)(o->ts_us % 1000000));
        p[2] = put_num(p[2], o->lat, 7);
        p[3] = put_num(p[3], o->lon, 7);
        p[4] = put_num(p[4], o->speed_kmh, 1);
        p[5] = put_num(p[5], o->bearing, 1);
        p[6] = put_num(p[6], o->altitude, 1);
        p[7] = put_num(p[7], o->accuracy, 1);
        p[8] = put_num(p[8], o->battery, 1);
        p[9] = put_str(p[9], o->lock);
        p[10] = put_str(p[10], o->alarm);
    }
    const char *values[GEO_NCOLS];
    for (int c = 0; c < GEO_NCOLS; c++) {
        *p[c]++ = '}';
        *p[c] = 0;
        values[c] = b->col[c];
    }
    return PQsendQueryPrepared(conn, GEO_STMT, GEO_NCOLS, values, NULL, NULL, 0) ? 0 : CORE_EDB;
}

int geo_batch_result(PGresult *res, const geo_result_ops *ops, void *arg)
{
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        return CORE_EDB;
    int rows = PQntuples(res);
    for (int i = 0; i < rows; i++) {
        const char *kind = PQgetvalue(res, i, 0);
        const char *body = PQgetvalue(res, i, 2);
        if (strcmp(kind, "reject") == 0) {
            if (ops->reject)
                ops->reject(arg, atoi(PQgetvalue(res, i, 1)) - 1, body);
        } else if (strcmp(kind, "quiet") == 0) {
            if (ops->quiet)
                ops->quiet(arg, atoi(PQgetvalue(res, i, 1)));
        } else if (ops->publish) {
            ops->publish(arg, kind, body, (size_t)PQgetlength(res, i, 2));
        }
    }
    return 0;
}
