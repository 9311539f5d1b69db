/*
 * geo_batch.c: micro-batches of observations, sent to PostGIS as one call of
 * corridor.ingest_batch with one array parameter per column, or, with the worker's copy
 * of the safe regions, of corridor.ingest_hinted: the fixes the copy finds quiet and the
 * rest as two sets of columns (corridor.ingest_hinted, schema/rules/ingest.sql).
 *
 * Owned by one ingest worker thread. All memory is allocated once at geo_batch_new:
 * the observations and one text buffer per column of each set, sized for the capacity,
 * so adding and sending never allocate.
 */
#include "geo_int.h"
#include "core.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define GEO_NCOLS  11
#define GEO_NXCOLS 5 /* f_i, f_last, f_prev, f_ver, r_i */
#define GEO_STMT   "corridor_ingest_batch"
#define GEO_STMT_H "corridor_ingest_hinted"
/* a position message, the seal id escaped at worst */
#define GEO_POSITION_JSON_MAX 1024

/* Longest text of one element of any column, quoted and escaped, plus its comma. */
#define GEO_ELEM_MAX (2 * GEO_ID_MAX + 8)

struct geo_batch {
    int cap, len;
    geo_obs *obs;
    char *col[GEO_NCOLS], *rcol[GEO_NCOLS], *xcol[GEO_NXCOLS];
    size_t col_cap;
    /* the copy the batch was sent with, and what it found (geo_quiet_pick) */
    geo_quiet *q;
    geo_qseal **who;
    unsigned char *kind;
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
    b->who = calloc((size_t)capacity, sizeof *b->who);
    b->kind = calloc((size_t)capacity, 1);
    if (!b->obs || !b->who || !b->kind)
        goto fail;
    /* large and mostly untouched: the pages of the second set are used only with a copy */
    for (int i = 0; i < GEO_NCOLS; i++)
        if (!(b->col[i] = malloc(b->col_cap)) || !(b->rcol[i] = malloc(b->col_cap)))
            goto fail;
    for (int i = 0; i < GEO_NXCOLS; i++)
        if (!(b->xcol[i] = malloc((size_t)capacity * 24 + 4)))
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
    for (int i = 0; i < GEO_NCOLS; i++) {
        free(b->col[i]);
        free(b->rcol[i]);
    }
    for (int i = 0; i < GEO_NXCOLS; i++)
        free(b->xcol[i]);
    free(b->who);
    free(b->kind);
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
    static const struct {
        const char *name, *sql;
        int nparams;
    } stmts[] = {
        {GEO_STMT,
         "SELECT kind, idx, body FROM corridor.ingest_batch("
         "$1::text[], $2::float8[], $3::float8[], $4::float8[], $5::real[], "
         "$6::real[], $7::real[], $8::real[], $9::real[], $10::text[], "
         "$11::text[])",
         GEO_NCOLS},
        {GEO_STMT_H,
         "SELECT kind, idx, body FROM corridor.ingest_hinted($1::int8, "
         "$2::text[], $3::float8[], $4::float8[], $5::float8[], $6::real[], $7::real[], "
         "$8::real[], $9::real[], $10::real[], $11::text[], $12::text[], "
         "$13::int[], $14::boolean[], $15::float8[], $16::int8[], "
         "$17::text[], $18::float8[], $19::float8[], $20::float8[], $21::real[], $22::real[], "
         "$23::real[], $24::real[], $25::real[], $26::text[], $27::text[], $28::int[])",
         2 * GEO_NCOLS + GEO_NXCOLS + 1},
    };
    for (size_t i = 0; i < sizeof stmts / sizeof *stmts; i++) {
        PGresult *r = PQprepare(conn, stmts[i].name, stmts[i].sql, stmts[i].nparams, NULL);
        int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        if (!ok)
            snprintf(err, n, "preparing %s: %s", stmts[i].name, PQresultErrorMessage(r));
        PQclear(r);
        if (!ok)
            return CORE_EDB;
    }
    return 0;
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

/* Appends a non-negative integer. */
static char *put_int(char *p, long long v)
{
    char tmp[24];
    int k = 0;
    do
        tmp[k++] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    while (k)
        *p++ = tmp[--k];
    return p;
}

/* Opens the array literals of one set of columns. */
static void open_cols(char **p, char *const *col, int n)
{
    for (int c = 0; c < n; c++) {
        p[c] = col[c];
        *p[c]++ = '{';
    }
}

static void close_cols(char **p, char *const *col, int n, const char **values)
{
    for (int c = 0; c < n; c++) {
        *p[c]++ = '}';
        *p[c] = 0;
        values[c] = col[c];
    }
}

/* Appends observation o to the columns at p; first: the set's first element. */
static void put_obs(char **p, const geo_obs *o, int first)
{
    if (!first)
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

int geo_batch_send(geo_batch *b, PGconn *conn, geo_quiet *q)
{
    char *p[GEO_NCOLS];
    b->q = q;
    if (!q) {
        const char *values[GEO_NCOLS];
        open_cols(p, b->col, GEO_NCOLS);
        for (int i = 0; i < b->len; i++)
            put_obs(p, &b->obs[i], i == 0);
        close_cols(p, b->col, GEO_NCOLS, values);
        return PQsendQueryPrepared(conn, GEO_STMT, GEO_NCOLS, values, NULL, NULL, 0) ? 0 : CORE_EDB;
    }
    /* $1 the grid's generation, $2-$16 the quiet fixes (f), $17-$28 the rest (r) */
    char *r[GEO_NCOLS], *x[GEO_NXCOLS], gen[24];
    const char *values[2 * GEO_NCOLS + GEO_NXCOLS + 1];
    int nf = 0, nr = 0;
    geo_quiet_pick(q, b->obs, b->len, b->who, b->kind);
    open_cols(p, b->col, GEO_NCOLS);
    open_cols(r, b->rcol, GEO_NCOLS);
    open_cols(x, b->xcol, GEO_NXCOLS);
    for (int i = 0; i < b->len; i++) {
        if (!b->kind[i]) {
            put_obs(r, &b->obs[i], nr == 0);
            if (nr++)
                *x[4]++ = ',';
            x[4] = put_int(x[4], i + 1);
            continue;
        }
        put_obs(p, &b->obs[i], nf == 0);
        if (nf++)
            for (int c = 0; c < 4; c++)
                *x[c]++ = ',';
        x[0] = put_int(x[0], i + 1);
        *x[1]++ = b->kind[i] == 2 ? 't' : 'f';
        x[2] = put_micros(x[2], geo_qseal_prev_us(b->who[i]));
        x[3] = put_int(x[3], geo_qseal_ver(b->who[i]));
    }
    snprintf(gen, sizeof gen, "%lld", (long long)geo_quiet_grid_gen(q));
    values[0] = gen;
    close_cols(p, b->col, GEO_NCOLS, values + 1);
    close_cols(x, b->xcol, 4, values + 1 + GEO_NCOLS);
    close_cols(r, b->rcol, GEO_NCOLS, values + 5 + GEO_NCOLS);
    close_cols(x + 4, b->xcol + 4, 1, values + 5 + 2 * GEO_NCOLS);
    return PQsendQueryPrepared(conn, GEO_STMT_H, 2 * GEO_NCOLS + GEO_NXCOLS + 1, values, NULL, NULL,
                               0)
               ? 0
               : CORE_EDB;
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
                  ",\"time\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03dZ\",\"lat\":", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
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
    geo_quiet *q = b ? b->q : NULL;
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
        } else if (strcmp(kind, "hinted") == 0) {
            if (ops->hinted)
                ops->hinted(arg, atoi(PQgetvalue(res, i, 1)));
        } else if (strcmp(kind, "region") == 0) {
            if (q)
                geo_quiet_region(q, body);
        } else if (strcmp(kind, "gen") == 0) {
            if (q)
                geo_quiet_gen_seen(q, strtoll(body, NULL, 10));
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
    if (q)
        geo_quiet_done(q, b->obs, b->len, b->who, b->kind);
    return 0;
}
