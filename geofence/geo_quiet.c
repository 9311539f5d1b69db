/*
 * geo_quiet.c: an ingest worker's copy of each seal's safe region (schema/rules/regions.sql)
 * and of the fence grid (schema/rules/fences.sql), with which the worker finds a batch's
 * quiet fixes itself; the database then only confirms that the copy is current and stores
 * them (corridor.ingest_hinted, schema/rules/ingest.sql).
 *
 * Owned by one ingest worker thread, not thread-safe. Owns: a hash table of seals (each
 * allocated on its own, so pointers survive the table growing), the grid (cells sorted by
 * key, each naming its fence pieces; a piece's WKB is parsed and prepared with GEOS the
 * first time a fix lands in its bounding box) and a GEOS context.
 *
 * The test is the database's quiet test (corridor.ingest_quiet in schema/rules/ingest.sql:
 * the same test in SQL, a change to one is a change to both), on the coordinates the database
 * reads (a batch's text rounds them to 1e-7 degrees; pg7 computes the same doubles), with
 * margins: a fix within GEO_QUIET_MARGIN degrees of a disc's edge or of a fence piece's
 * boundary is left to the database (GEOS decides inside or outside exactly, PostGIS in
 * floating point), and so is a speed or battery level within 0.06 of its limit (the text
 * rounds them to 0.1). A copy that is out of date costs its fixes the fast path, never their rules:
 * the database stores them as quiet only if the seal's latest row is still the fix, the
 * region version and the generation the copy names.
 */
#include "geo_int.h"
#include "core.h"

#include <errno.h>
#include <geos_c.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define GEO_QUIET_MARGIN 1e-9
#define GEO_QUIET_STEP   0.0089  /* ingest_quiet: a step of ~1 km is evaluated */
#define GEO_QUIET_SEALS  1000000 /* beyond this many seals the copy starts afresh */

struct geo_qseal {
    char *id;
    uint32_t hash;
    /* the region, as the database last told it (NAN / -1: NULL) */
    int64_t ver, gen, ts_us;
    double lat, lon;
    int trip;
    double slat, slon, sr;
    float min_speed, low_batt;
    signed char open, tamper, lowbatt;
    double flat, flon, fr;
    int nf; /* -1: no fence set (the region holds none) */
    int64_t *fences;
    /* a disc around a fix whose fences were found to be the region's, clear of every
     * fence piece's boundary and of its grid cell's edges: fixes inside it need no GEOS
     * (c_r 0: none; dropped with every new region and grid) */
    double c_lat, c_lon, c_r;
    int64_t c_gen;
    /* the batch being sorted (mark: its serial) */
    unsigned mark, region_mark;
    int ok, b_last;
    int64_t b_us;
    double b_lat, b_lon;
};

struct piece {
    int64_t fence;
    int full;  /* the fence covers the whole cell */
    int state; /* 0: not parsed yet, 1: prepared, -1: unusable (the database decides) */
    double xmin, ymin, xmax, ymax;
    size_t wkb_off, wkb_len;
    GEOSGeometry *g, *bound; /* the piece, and its boundary when a clearance needs it */
    const GEOSPreparedGeometry *pg, *pbound;
};

struct cell {
    int64_t key;
    int first, n;
};

struct geo_quiet {
    GEOSContextHandle_t h;
    geo_qseal **slots;
    size_t cap, count;
    unsigned serial;
    int64_t gen;    /* the grid's generation, -1: none loaded */
    int64_t db_gen; /* the newest the database reported */
    struct cell *cells;
    int ncells;
    struct piece *pieces;
    int npieces, gridless; /* pieces[gridless..npieces): fences too large for the grid */
    unsigned char *wkb;
    int64_t *ids;
    int ids_cap;
};

static void on_geos_message(const char *fmt, ...)
{
    (void)fmt; /* a piece GEOS cannot read is left to the database */
}

geo_quiet *geo_quiet_new(void)
{
    geo_quiet *q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    q->gen = q->db_gen = -1;
    q->h = GEOS_init_r();
    if (!q->h) {
        free(q);
        return NULL;
    }
    GEOSContext_setNoticeHandler_r(q->h, on_geos_message);
    GEOSContext_setErrorHandler_r(q->h, on_geos_message);
    return q;
}

static void grid_free(geo_quiet *q)
{
    for (int i = 0; i < q->npieces; i++) {
        if (q->pieces[i].pg)
            GEOSPreparedGeom_destroy_r(q->h, q->pieces[i].pg);
        if (q->pieces[i].g)
            GEOSGeom_destroy_r(q->h, q->pieces[i].g);
        if (q->pieces[i].pbound)
            GEOSPreparedGeom_destroy_r(q->h, q->pieces[i].pbound);
        if (q->pieces[i].bound)
            GEOSGeom_destroy_r(q->h, q->pieces[i].bound);
    }
    free(q->pieces);
    free(q->cells);
    free(q->wkb);
    q->pieces = NULL;
    q->cells = NULL;
    q->wkb = NULL;
    q->npieces = q->ncells = q->gridless = 0;
    q->gen = -1;
}

static void seals_clear(geo_quiet *q)
{
    for (size_t i = 0; i < q->cap; i++) {
        if (q->slots[i]) {
            free(q->slots[i]->fences);
            free(q->slots[i]->id);
            free(q->slots[i]);
            q->slots[i] = NULL;
        }
    }
    q->count = 0;
}

void geo_quiet_free(geo_quiet *q)
{
    if (!q)
        return;
    seals_clear(q);
    free(q->slots);
    grid_free(q);
    free(q->ids);
    GEOS_finish_r(q->h);
    free(q);
}

int geo_quiet_stale(const geo_quiet *q)
{
    return q->gen < 0 || q->db_gen != q->gen;
}

int64_t geo_quiet_grid_gen(const geo_quiet *q)
{
    return q->gen;
}

int64_t geo_qseal_prev_us(const geo_qseal *s)
{
    return s->ts_us;
}

int64_t geo_qseal_ver(const geo_qseal *s)
{
    return s->ver;
}

/* The double the database reads for v: the batch writes it with 7 decimals (geo_batch.c's
 * put_fixed: q = llround(|v| * 1e7)), and the nearest double to q / 1e7 is what both
 * strtod of that text and this division give. */
static double pg7(double v)
{
    double q = (double)llround(fabs(v) * 1e7) / 1e7;
    return v < 0 ? -q : q;
}

/* ---- the seals ---- */

static uint32_t hash_id(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static geo_qseal *seal_find(const geo_quiet *q, const char *id, uint32_t h)
{
    if (!q->cap)
        return NULL;
    for (size_t i = h & (q->cap - 1);; i = (i + 1) & (q->cap - 1)) {
        geo_qseal *s = q->slots[i];
        if (!s)
            return NULL;
        if (s->hash == h && strcmp(s->id, id) == 0)
            return s;
    }
}

static int seal_grow(geo_quiet *q)
{
    size_t cap = q->cap ? q->cap * 2 : 1024;
    geo_qseal **slots = calloc(cap, sizeof *slots);
    if (!slots)
        return -ENOMEM;
    for (size_t i = 0; i < q->cap; i++) {
        geo_qseal *s = q->slots[i];
        if (!s)
            continue;
        size_t j = s->hash & (cap - 1);
        while (slots[j])
            j = (j + 1) & (cap - 1);
        slots[j] = s;
    }
    free(q->slots);
    q->slots = slots;
    q->cap = cap;
    return 0;
}

static geo_qseal *seal_get(geo_quiet *q, const char *id)
{
    uint32_t h = hash_id(id);
    geo_qseal *s = seal_find(q, id, h);
    if (s)
        return s;
    if ((q->count + 1) * 2 > q->cap && seal_grow(q))
        return NULL;
    if (!(s = calloc(1, sizeof *s)) || !(s->id = strdup(id))) {
        free(s);
        return NULL;
    }
    s->hash = h;
    s->gen = -1;
    s->nf = -1;
    size_t i = h & (q->cap - 1);
    while (q->slots[i])
        i = (i + 1) & (q->cap - 1);
    q->slots[i] = s;
    q->count++;
    return s;
}

/* One field of a region row: a number, or 'n' for NULL (NAN). Advances *p past it. */
static double field(const char **p)
{
    const char *s = *p;
    char *end;
    double v = NAN;
    if (*s == 'n')
        end = (char *)s + 1;
    else
        v = strtod(s, &end);
    *p = *end == ' ' ? end + 1 : end;
    return v;
}

static int64_t field_i(const char **p)
{
    double v = field(p);
    return isnan(v) ? -1 : (int64_t)v;
}

/* The integer part of the microseconds field exactly (a double would do up to 2^53 us). */
static int64_t field_us(const char **p)
{
    char *end;
    long long v = strtoll(*p, &end, 10);
    *p = *end == ' ' ? end + 1 : end;
    return v;
}

void geo_quiet_region(geo_quiet *q, const char *text)
{
    /* ver gen ts_us lat lon trip slat slon sr min_speed open tamper low_batt lowbatt flat
     * flon fr fences seal_id */
    const char *p = text, *id = text;
    for (int spaces = 0; *id && spaces < 18; id++)
        if (*id == ' ')
            spaces++;
    if (!*id)
        return; /* not a region row this code knows: the seal simply gets no copy */
    geo_qseal *s = seal_get(q, id);
    if (!s)
        return;
    s->region_mark = q->serial;
    s->c_r = 0;
    s->ver = field_i(&p);
    s->gen = field_i(&p);
    s->ts_us = field_us(&p);
    s->lat = field(&p);
    s->lon = field(&p);
    s->trip = field_i(&p) == 1;
    s->slat = field(&p);
    s->slon = field(&p);
    s->sr = field(&p);
    s->min_speed = (float)field(&p);
    s->open = (signed char)field_i(&p);
    s->tamper = (signed char)field_i(&p);
    s->low_batt = (float)field(&p);
    s->lowbatt = (signed char)field_i(&p);
    s->flat = field(&p);
    s->flon = field(&p);
    s->fr = field(&p);
    s->nf = -1;
    if (*p == '-') {
        s->nf = 0;
    } else if (*p != 'n') {
        int n = 1;
        for (const char *c = p; *c && *c != ' '; c++)
            n += *c == ',';
        int64_t *f = realloc(s->fences, (size_t)n * sizeof *f);
        if (!f) {
            s->gen = -1; /* unusable: the database decides */
            return;
        }
        s->fences = f;
        for (int k = 0; k < n; k++) {
            char *end;
            f[k] = strtoll(p, &end, 10);
            p = *end == ',' ? end + 1 : end;
        }
        s->nf = n;
    }
}

void geo_quiet_gen_seen(geo_quiet *q, int64_t gen)
{
    q->db_gen = gen;
}

void geo_quiet_done(geo_quiet *q, const geo_obs *obs, int n, geo_qseal *const *who,
                    const unsigned char *kind)
{
    for (int i = 0; i < n; i++) {
        geo_qseal *s = who[i];
        if (kind[i] != 2 || s->region_mark == q->serial)
            continue; /* a region row said where the seal is now */
        s->ts_us = obs[i].ts_us;
        s->lat = pg7(obs[i].lat);
        s->lon = pg7(obs[i].lon);
    }
}

/* ---- the grid ---- */

static int64_t get_i8(const PGresult *r, int row, int col)
{
    const unsigned char *p = (const unsigned char *)PQgetvalue(r, row, col);
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return (int64_t)v;
}

static double get_f8(const PGresult *r, int row, int col)
{
    uint64_t v = (uint64_t)get_i8(r, row, col);
    double d;
    memcpy(&d, &v, sizeof d);
    return d;
}

/* One query of the grid's load, its result in binary; NULL with err set if it failed. */
static PGresult *load_query(PGconn *conn, const char *sql, const char *what, char *err, size_t n)
{
    PGresult *r = PQexecParams(conn, sql, 0, NULL, NULL, NULL, NULL, 1);
    if (PQresultStatus(r) == PGRES_TUPLES_OK)
        return r;
    snprintf(err, n, "reading %s: %s", what, r ? PQresultErrorMessage(r) : PQerrorMessage(conn));
    PQclear(r);
    return NULL;
}

/* Pieces from result rows (fence, full, xmin, ymin, xmax, ymax, wkb) into q->pieces from
 * index at, their WKB copied into q->wkb from *off. */
static void add_pieces(geo_quiet *q, const PGresult *r, int col, int at, size_t *off)
{
    for (int i = 0; i < PQntuples(r); i++) {
        struct piece *p = &q->pieces[at + i];
        memset(p, 0, sizeof *p);
        p->fence = get_i8(r, i, col);
        p->full = *PQgetvalue(r, i, col + 1) != 0;
        if (p->full)
            continue;
        if (PQgetisnull(r, i, col + 6)) {
            p->state = -1;
            continue;
        }
        p->xmin = get_f8(r, i, col + 2);
        p->ymin = get_f8(r, i, col + 3);
        p->xmax = get_f8(r, i, col + 4);
        p->ymax = get_f8(r, i, col + 5);
        p->wkb_off = *off;
        p->wkb_len = (size_t)PQgetlength(r, i, col + 6);
        memcpy(q->wkb + *off, PQgetvalue(r, i, col + 6), p->wkb_len);
        *off += p->wkb_len;
    }
}

static size_t wkb_bytes(const PGresult *r, int col)
{
    size_t n = 0;
    for (int i = 0; i < PQntuples(r); i++)
        n += (size_t)PQgetlength(r, i, col);
    return n;
}

int geo_quiet_load(geo_quiet *q, PGconn *conn, char *err, size_t n)
{
    PGresult *rg = NULL, *rc = NULL, *rl = NULL;
    int rc_ = CORE_EDB;

    PQclear(PQexec(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
    if (!(rg = load_query(conn, "SELECT gen FROM corridor.safe_gen", "the generation", err, n)) ||
        !(rc = load_query(conn,
                          "SELECT c.cell, c.fence_id, c.is_full, ST_XMin(c.geom), "
                          "ST_YMin(c.geom), ST_XMax(c.geom), ST_YMax(c.geom), "
                          "ST_AsBinary(c.geom) FROM corridor.geofence_cells c "
                          "ORDER BY c.cell, c.fence_id",
                          "the fence grid", err, n)) ||
        !(rl = load_query(conn,
                          "SELECT f.id, false, ST_XMin(f.geom), ST_YMin(f.geom), "
                          "ST_XMax(f.geom), ST_YMax(f.geom), ST_AsBinary(f.geom) "
                          "FROM corridor.geofences f WHERE f.deleted_at IS NULL AND f.gridless "
                          "ORDER BY f.id",
                          "the gridless fences", err, n)) ||
        PQntuples(rg) != 1) {
        if (rl) /* all three ran: corridor.safe_gen has no row */
            snprintf(err, n, "reading the generation: corridor.safe_gen is empty");
        goto done;
    }

    grid_free(q);
    int nc = PQntuples(rc), nl = PQntuples(rl);
    size_t off = 0;
    q->pieces = calloc((size_t)(nc + nl) + 1, sizeof *q->pieces);
    q->cells = calloc((size_t)nc + 1, sizeof *q->cells);
    q->wkb = malloc(wkb_bytes(rc, 7) + wkb_bytes(rl, 6) + 1);
    if (!q->pieces || !q->cells || !q->wkb) {
        snprintf(err, n, "out of memory for the fence grid (%d pieces)", nc + nl);
        grid_free(q);
        rc_ = -ENOMEM;
        goto done;
    }
    for (int i = 0; i < nc; i++) {
        int64_t key = get_i8(rc, i, 0);
        if (q->ncells == 0 || q->cells[q->ncells - 1].key != key)
            q->cells[q->ncells++] = (struct cell){key, i, 0};
        q->cells[q->ncells - 1].n++;
    }
    add_pieces(q, rc, 1, 0, &off);
    add_pieces(q, rl, 0, nc, &off);
    q->npieces = nc + nl;
    q->gridless = nc;
    q->gen = q->db_gen = get_i8(rg, 0, 0);
    rc_ = 0;
done:
    PQclear(rg);
    PQclear(rc);
    PQclear(rl);
    PQclear(PQexec(conn, "COMMIT"));
    return rc_;
}

/* Parses and prepares piece p the first time it is needed: 1, or -1 if GEOS cannot. */
static int piece_ready(geo_quiet *q, struct piece *p)
{
    if (p->state == 0) {
        GEOSWKBReader *rd = GEOSWKBReader_create_r(q->h);
        p->g = rd ? GEOSWKBReader_read_r(q->h, rd, q->wkb + p->wkb_off, p->wkb_len) : NULL;
        if (rd)
            GEOSWKBReader_destroy_r(q->h, rd);
        p->pg = p->g ? GEOSPrepare_r(q->h, p->g) : NULL;
        p->state = p->pg ? 1 : -1;
    }
    return p->state;
}

/* 1: the box lies inside the piece, 0: outside it, -1: it touches the boundary (or the
 * piece cannot be read): the database decides. */
static int piece_side(geo_quiet *q, struct piece *p, GEOSGeometry **box, double x, double y)
{
    const double m = GEO_QUIET_MARGIN;
    if (p->full)
        return 1;
    if (p->state < 0)
        return -1;
    if (x + m < p->xmin || x - m > p->xmax || y + m < p->ymin || y - m > p->ymax)
        return 0;
    if (!*box && !(*box = GEOSGeom_createRectangle_r(q->h, x - m, y - m, x + m, y + m)))
        return -1;
    if (piece_ready(q, p) < 0)
        return -1;
    char in = GEOSPreparedContainsProperly_r(q->h, p->pg, *box);
    if (in == 1)
        return 1;
    if (in != 0)
        return -1;
    return GEOSPreparedIntersects_r(q->h, p->pg, *box) == 0 ? 0 : -1;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int add_id(geo_quiet *q, int *n, int64_t id)
{
    if (*n == q->ids_cap) {
        int cap = q->ids_cap ? q->ids_cap * 2 : 16;
        int64_t *ids = realloc(q->ids, (size_t)cap * sizeof *ids);
        if (!ids)
            return -ENOMEM;
        q->ids = ids;
        q->ids_cap = cap;
    }
    q->ids[(*n)++] = id;
    return 0;
}

/* How far (lat, lon) is from the boundaries of pieces [from, to) and from its cell's
 * edges, in degrees; 0 when GEOS cannot tell. Only pieces already parsed (the caller just
 * tested the point against each) are measured; full pieces have no boundary in the cell. */
static double clearance(geo_quiet *q, double lat, double lon, int from, int to)
{
    double fx = lon * 100 - floor(lon * 100), fy = lat * 100 - floor(lat * 100);
    double best = fmin(fmin(fx, 1 - fx), fmin(fy, 1 - fy)) / 100;
    GEOSGeometry *pt = NULL;
    for (int pass = 0; pass < 2 && best > 0; pass++) {
        int a = pass ? q->gridless : from, b = pass ? q->npieces : to;
        for (int i = a; i < b && best > 0; i++) {
            struct piece *p = &q->pieces[i];
            double d;
            if (p->full)
                continue;
            /* a piece whose box is farther than best cannot be nearer */
            double dx = fmax(fmax(p->xmin - lon, lon - p->xmax), 0),
                   dy = fmax(fmax(p->ymin - lat, lat - p->ymax), 0);
            if (dx * dx + dy * dy >= best * best)
                continue;
            if (piece_ready(q, p) < 0 || (!p->bound && !(p->bound = GEOSBoundary_r(q->h, p->g))) ||
                (!p->pbound && !(p->pbound = GEOSPrepare_r(q->h, p->bound))) ||
                (!pt && !(pt = GEOSGeom_createPointFromXY_r(q->h, lon, lat))) ||
                GEOSPreparedDistance_r(q->h, p->pbound, pt, &d) != 1) {
                best = 0; /* GEOS cannot tell: no disc */
                break;
            }
            best = fmin(best, d);
        }
    }
    if (pt)
        GEOSGeom_destroy_r(q->h, pt);
    return best;
}

/* 1 if the fences containing (lat, lon) are exactly fences[0..nf) (sorted), 0 if not or
 * not sure. With s, a match leaves s a clearance disc around the point. */
static int same_fences(geo_quiet *q, geo_qseal *s, double lat, double lon, const int64_t *fences,
                       int nf)
{
    /* corridor.cell01 of the same doubles: the same cell */
    int64_t key = ((int64_t)floor(lon * 100) + 18000) * 100000 + ((int64_t)floor(lat * 100) + 9000);
    int lo = 0, hi = q->ncells - 1, c = -1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        if (q->cells[mid].key < key)
            lo = mid + 1;
        else if (q->cells[mid].key > key)
            hi = mid - 1;
        else {
            c = mid;
            break;
        }
    }
    int first = c < 0 ? 0 : q->cells[c].first, last = c < 0 ? 0 : first + q->cells[c].n;
    if (last == first && q->npieces == q->gridless) {
        if (nf != 0)
            return 0;
        if (s) { /* no fence near: clear up to the cell's edges */
            s->c_lat = lat;
            s->c_lon = lon;
            s->c_r = clearance(q, lat, lon, first, last);
            s->c_gen = q->gen;
        }
        return 1;
    }
    GEOSGeometry *box = NULL; /* the fix with its margin, made when a piece needs GEOS */
    int n = 0, ok = 1;
    for (int pass = 0; pass < 2 && ok; pass++) {
        int from = pass ? q->gridless : first, to = pass ? q->npieces : last;
        for (int i = from; i < to && ok; i++) {
            int side = piece_side(q, &q->pieces[i], &box, lon, lat);
            if (side < 0 || (side == 1 && (n == nf || add_id(q, &n, q->pieces[i].fence))))
                ok = 0; /* not sure, or more fences than the region's */
        }
    }
    if (box)
        GEOSGeom_destroy_r(q->h, box);
    if (!ok || n != nf)
        return 0;
    if (n > 0) {
        qsort(q->ids, (size_t)n, sizeof *q->ids, cmp_i64);
        if (memcmp(q->ids, fences, (size_t)n * sizeof *fences) != 0)
            return 0;
    }
    if (s) {
        s->c_lat = lat;
        s->c_lon = lon;
        s->c_r = clearance(q, lat, lon, first, last);
        s->c_gen = q->gen;
    }
    return 1;
}

/* ---- sorting a batch ---- */

static double sq(double x)
{
    return x * x;
}

/* corridor.ingest_quiet's test of one fix against seal s's region, after the fix at
 * (p_us, plat, plon). */
static int fix_quiet(geo_quiet *q, geo_qseal *s, const geo_obs *o, double lat, double lon,
                     int64_t p_us, double plat, double plon)
{
    const double m = GEO_QUIET_MARGIN;
    if (s->gen < 0 || s->gen != q->gen || o->ts_us <= p_us)
        return 0;
    if (s->trip) {
        if (!(s->sr > m && sq(lat - s->slat) + sq(lon - s->slon) < sq(s->sr - m)))
            return 0;
        if (!(sq(lat - plat) + sq(lon - plon) < sq(GEO_QUIET_STEP - m)))
            return 0;
        if (!(o->speed_kmh >= s->min_speed + 0.06f)) /* NAN either side: not quiet */
            return 0;
        if (s->open < 0 || s->tamper < 0 || s->lowbatt < 0)
            return 0;
        if (o->lock[0] && (strcmp(o->lock, "open") == 0) != s->open)
            return 0;
        if ((strcmp(o->alarm, "tampering") == 0) != s->tamper)
            return 0;
        /* the battery test is corridor.battery_low's (schema/rules/common.sql) */
        if (!isnan(o->battery) && !isnan(s->low_batt) &&
            (fabsf(o->battery - s->low_batt) < 0.06f || (o->battery < s->low_batt) != s->lowbatt))
            return 0;
    }
    if (s->fr > m && sq(lat - s->flat) + sq(lon - s->flon) < sq(s->fr - m))
        return 1; /* inside the fence disc */
    if (s->nf < 0)
        return 0;
    if (s->c_gen == q->gen && s->c_r > m &&
        sq(lat - s->c_lat) + sq(lon - s->c_lon) < sq(s->c_r - m))
        return 1; /* inside the disc where the fences were last found to be the region's */
    return same_fences(q, s, lat, lon, s->fences, s->nf);
}

int geo_quiet_pick(geo_quiet *q, const geo_obs *obs, int n, geo_qseal **who, unsigned char *kind)
{
    memset(kind, 0, (size_t)n);
    memset(who, 0, (size_t)n * sizeof *who);
    q->serial++;
    if (geo_quiet_stale(q))
        return 0;
    if (q->count > GEO_QUIET_SEALS)
        seals_clear(q);
    unsigned m = q->serial;
    for (int i = 0; i < n; i++) {
        const geo_obs *o = &obs[i];
        geo_qseal *s = seal_find(q, o->seal_id, hash_id(o->seal_id));
        if (!s)
            continue;
        who[i] = s;
        if (s->mark != m) {
            s->mark = m;
            s->ok = 1;
            s->b_last = -1;
            s->b_us = s->ts_us;
            s->b_lat = s->lat;
            s->b_lon = s->lon;
        }
        /* a seal's quiet fixes are those before its first fix that is not: the rest
         * follow in the database, as if they had come in the next batch */
        double lat = pg7(o->lat), lon = pg7(o->lon);
        if (!s->ok || !fix_quiet(q, s, o, lat, lon, s->b_us, s->b_lat, s->b_lon)) {
            s->ok = 0;
            continue;
        }
        kind[i] = 1;
        s->b_last = i;
        s->b_us = o->ts_us;
        s->b_lat = lat;
        s->b_lon = lon;
    }
    int quiet = 0;
    for (int i = 0; i < n; i++) {
        if (!kind[i])
            continue;
        quiet++;
        if (who[i]->b_last == i)
            kind[i] = 2;
    }
    return quiet;
}
