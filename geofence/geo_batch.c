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
#include <time.h>

#define GEO_NCOLS 11
#define GEO_STMT  "corridor_ingest_batch"
/* a position message, the seal id escaped at worst */
#define GEO_POSITION_JSON_MAX 1024

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

/* v with exactly decimals (<= 9) digits after the point, as "%.*f" writes it: by hand,
 * since printf's float formatting was the largest user-space cost of sending a batch. */
static char *put_fixed(char *p, double v, int decimals)
{
    static const long long pow10[] = {1,      10,      100,      1000,      10000,
                                      100000, 1000000, 10000000, 100000000, 1000000000};
    if (!(fabs(v) < 1e9)) /* NaN is handled by the callers; huge values: printf */
        return p + sprintf(p, "%.*f", decimals, v);
    long long q = llround(fabs(v) * (double)pow10[decimals]);
    if (v < 0 && q != 0)
        *p++ = '-';
    long long ip = q / pow10[decimals], fp = q % pow10[decimals];
    char tmp[24];
    int k = 0;
    do
        tmp[k++] = (char)('0' + ip % 10);
    while ((ip /= 10) != 0);
    while (k)
        *p++ = tmp[--k];
    if (decimals) {
        *p++ = '.';
        for (int d = decimals - 1; d >= 0; d--) {
            p[d] = (char)('0' + fp % 10);
            fp /= 10;
        }
        p += decimals;
    }
    return p;
}

/* Microseconds since the epoch as seconds with six decimals. */
static char *put_micros(char *p, int64_t us)
{
    if (us < 0) {
        *p++ = '-';
        us = -us;
    }
    char tmp[24];
    int k = 0;
    for (int d = 0; d < 6; d++, us /= 10)
        tmp[k++] = (char)('0' + us % 10);
    tmp[k++] = '.';
    do
        tmp[k++] = (char)('0' + us % 10);
    while ((us /= 10) != 0);
    while (k)
        *p++ = tmp[--k];
    return p;
}

static char *put_num(char *p, double v, int decimals)
{
    if (isnan(v)) {
        memcpy(p, "NULL", 4);
        return p + 4;
    }
    return put_fixed(p, v, decimals);
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
        p[1] = put_micros(p[1], o->ts_us);
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

/* JSON text of s (ASCII control characters escaped), or null when s is empty. */
static char *json_str(char *p, char *end, const char *s)
{
    if (!*s)
        return p + snprintf(p, (size_t)(end - p), "null");
    if (p < end)
        *p++ = '"';
    for (; *s && p + 7 < end; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            *p++ = '\\';
            *p++ = (char)c;
        } else if (c < 0x20) {
            p += snprintf(p, 7, "\\u%04x", c);
        } else {
            *p++ = (char)c;
        }
    }
    if (p < end)
        *p++ = '"';
    return p;
}

/* A number as PostgreSQL writes a float (no trailing zeros), or null for NaN. */
static char *json_num(char *p, char *end, double v, int decimals)
{
    if (isnan(v))
        return p + snprintf(p, (size_t)(end - p), "null");
    if (end - p < 32)
        return p;
    char *q = put_fixed(p, v, decimals);
    while (q[-1] == '0')
        q--;
    if (q[-1] == '.')
        q--;
    if (q - p == 2 && p[0] == '-' && p[1] == '0') /* -0 */
        p[0] = '0', q--;
    return q;
}

size_t geo_position_json(const geo_obs *o, char *buf, size_t cap)
{
    char *p = buf, *end = buf + cap - 1;
    time_t secs = (time_t)(o->ts_us / 1000000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    p += snprintf(p, (size_t)(end - p), "{\"type\":\"position\",\"seal_id\":");
    p = json_str(p, end, o->seal_id);
    p += snprintf(p, (size_t)(end - p),
                  ",\"time\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03dZ\",\"lat\":",
                  tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  (int)(o->ts_us % 1000000 / 1000));
#define FIELD(name, expr)                                                                          \
    do {                                                                                           \
        if (p < end)                                                                               \
            p += snprintf(p, (size_t)(end - p), ",\"" name "\":");                                 \
        if (p < end)                                                                               \
            p = (expr);                                                                            \
    } while (0)
    p = json_num(p, end, o->lat, 7);
    FIELD("lon", json_num(p, end, o->lon, 7));
    FIELD("speed_kmh", json_num(p, end, o->speed_kmh, 1));
    FIELD("bearing", json_num(p, end, o->bearing, 1));
    FIELD("battery", json_num(p, end, o->battery, 1));
    FIELD("lock", json_str(p, end, o->lock));
    FIELD("alarm", json_str(p, end, o->alarm));
#undef FIELD
    if (p < end)
        *p++ = '}';
    *p = 0;
    return (size_t)(p - buf);
}

int geo_batch_result(PGresult *res, const geo_batch *b, const geo_result_ops *ops, void *arg)
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
        } else if (PQgetisnull(res, i, 2)) {
            /* a quiet fix's position: the message is written here, from the batch */
            int idx = atoi(PQgetvalue(res, i, 1)) - 1;
            if (b && idx >= 0 && idx < b->len && ops->publish) {
                char json[GEO_POSITION_JSON_MAX];
                size_t len = geo_position_json(&b->obs[idx], json, sizeof json);
                ops->publish(arg, kind, json, len);
            }
        } else if (ops->publish) {
            ops->publish(arg, kind, body, (size_t)PQgetlength(res, i, 2));
        }
    }
    return 0;
}
