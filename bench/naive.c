/*
 * naive.c: the two baselines of bench/run.sh, on the benchmark's own data.
 *
 *   naive  what a straightforward PostGIS application does per ping (docs/performance.md): one
 * INSERT of the position, one geofence query (ST_Intersects over corridor.geofences, its GiST
 * index) and one route check (ST_DWithin on the armed trip's route as geography), three round
 * trips, each INSERT its own commit. copy   the raw storage limit: COPY of the same kind of rows
 * into corridor.positions (same table, same (seal, ts) btree), 10,000 rows per COPY and commit, no
 * evaluation.
 *
 * Pings: seal k mod 10,000 (LD-SEAL-nnnnnn), the position is point k mod N of bench.points
 * (points on the road), the device time base + round seconds, base chosen per run so runs
 * never collide (years 2000-2003 go to positions_default: the same btree). Prints one JSON
 * line. Usage: naive naive|copy SECONDS [CONNECTIONS]; libpq environment (PGHOST ...).
 *
 * Threads: one per connection, each with its own PGconn and counters; main joins them.
 */
#include <libpq-fe.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SEALS     10000
#define COPY_ROWS 10000

struct thr {
    pthread_t t;
    int id, n_threads, copy;
    double seconds;
    const double *lat, *lon;
    int n_points;
    int64_t base;
    unsigned long long done;
    int failed;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int prep(PGconn *db, const char *name, const char *sql)
{
    PGresult *r = PQprepare(db, name, sql, 0, NULL);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        fprintf(stderr, "naive: preparing %s: %s", name, PQerrorMessage(db));
    PQclear(r);
    return ok ? 0 : -1;
}

static int exec_ok(PGconn *db, const char *name, int n, const char *const *v)
{
    PGresult *r = PQexecPrepared(db, name, n, v, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);
    int ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
    if (!ok)
        fprintf(stderr, "naive: %s: %s", name, PQerrorMessage(db));
    PQclear(r);
    return ok ? 0 : -1;
}

static void run_naive(struct thr *t, PGconn *db)
{
    if (prep(db, "ins",
             "INSERT INTO corridor.positions (seal_id, ts, lat, lon, speed_kmh, bearing, battery,"
             " lock) VALUES ($1, to_timestamp($2::float8), $3::float8, $4::float8, 60, 90, 80,"
             " 'locked')") ||
        prep(db, "fence",
             "SELECT id, kind FROM corridor.geofences WHERE deleted_at IS NULL"
             " AND ST_Intersects(geom, ST_SetSRID(ST_MakePoint($2::float8, $1::float8), 4326))") ||
        prep(db, "route",
             "SELECT ST_DWithin(r.geog, ST_SetSRID(ST_MakePoint($3::float8, $2::float8), 4326)"
             "::geography, r.corridor_m) FROM corridor.trips t JOIN corridor.routes r"
             " ON r.id = t.route_id WHERE t.seal_id = $1 AND t.status = 'armed'")) {
        t->failed = 1;
        return;
    }
    double end = now_s() + t->seconds;
    for (unsigned long long k = (unsigned long long)t->id; now_s() < end;
         k += (unsigned)t->n_threads) {
        char seal[32], ts[32], lat[32], lon[32];
        int p = (int)(k % (unsigned long long)t->n_points);
        snprintf(seal, sizeof seal, "LD-SEAL-%06d", (int)(k % SEALS) + 1);
        snprintf(ts, sizeof ts, "%lld", (long long)(t->base + (int64_t)(k / SEALS)));
        snprintf(lat, sizeof lat, "%.7f", t->lat[p]);
        snprintf(lon, sizeof lon, "%.7f", t->lon[p]);
        const char *v[4] = {seal, ts, lat, lon}, *rv[3] = {seal, lat, lon};
        if (exec_ok(db, "ins", 4, v) || exec_ok(db, "fence", 2, v + 2) ||
            exec_ok(db, "route", 3, rv)) {
            t->failed = 1;
            return;
        }
        t->done++;
    }
}

static void run_copy(struct thr *t, PGconn *db)
{
    static const size_t row_max = 128;
    char *buf = malloc(row_max * COPY_ROWS);
    if (!buf) {
        t->failed = 1;
        return;
    }
    double end = now_s() + t->seconds;
    unsigned long long k = (unsigned long long)t->id;
    while (now_s() < end) {
        size_t len = 0;
        for (int i = 0; i < COPY_ROWS; i++, k += (unsigned)t->n_threads) {
            int p = (int)(k % (unsigned long long)t->n_points);
            time_t s = (time_t)(t->base + (int64_t)(k / SEALS));
            struct tm tm;
            gmtime_r(&s, &tm);
            len +=
                (size_t)snprintf(buf + len, row_max,
                                 "LD-SEAL-%06d\t%04d-%02d-%02d %02d:%02d:%02d+00\t%.7f\t%.7f"
                                 "\t60\t90\t80\tlocked\n",
                                 (int)(k % SEALS) + 1, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                                 tm.tm_hour, tm.tm_min, tm.tm_sec, t->lat[p], t->lon[p]);
        }
        PGresult *r = PQexec(db, "COPY corridor.positions (seal_id, ts, lat, lon, speed_kmh,"
                                 " bearing, battery, lock) FROM STDIN");
        int ok = PQresultStatus(r) == PGRES_COPY_IN;
        PQclear(r);
        if (!ok || PQputCopyData(db, buf, (int)len) != 1 || PQputCopyEnd(db, NULL) != 1) {
            fprintf(stderr, "naive: COPY: %s", PQerrorMessage(db));
            t->failed = 1;
            break;
        }
        r = PQgetResult(db);
        ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        if (!ok)
            fprintf(stderr, "naive: COPY: %s", PQresultErrorMessage(r));
        PQclear(r);
        while ((r = PQgetResult(db)))
            PQclear(r);
        if (!ok) {
            t->failed = 1;
            break;
        }
        t->done += COPY_ROWS;
    }
    free(buf);
}

static void quiet(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;
}

static void *thr_main(void *arg)
{
    struct thr *t = arg;
    PGconn *db = PQconnectdb("");
    PQsetNoticeProcessor(db, quiet, NULL);
    if (PQstatus(db) != CONNECTION_OK) {
        fprintf(stderr, "naive: connect: %s", PQerrorMessage(db));
        t->failed = 1;
    } else if (t->copy) {
        run_copy(t, db);
    } else {
        run_naive(t, db);
    }
    PQfinish(db);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 3 || (strcmp(argv[1], "naive") && strcmp(argv[1], "copy"))) {
        fprintf(stderr, "usage: naive naive|copy SECONDS [CONNECTIONS]\n");
        return 2;
    }
    int copy = !strcmp(argv[1], "copy");
    double seconds = atof(argv[2]);
    int n = argc > 3 ? atoi(argv[3]) : 1;
    if (seconds <= 0 || n < 1 || n > 64) {
        fprintf(stderr, "naive: bad SECONDS or CONNECTIONS\n");
        return 2;
    }
    PGconn *db = PQconnectdb("");
    if (PQstatus(db) != CONNECTION_OK) {
        fprintf(stderr, "naive: connect: %s", PQerrorMessage(db));
        return 1;
    }
    PGresult *r = PQexec(db, "SELECT lat, lon FROM bench.points ORDER BY k");
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) == 0) {
        fprintf(stderr, "naive: bench.points: %s", PQerrorMessage(db));
        return 1;
    }
    int np = PQntuples(r);
    double *lat = malloc(sizeof *lat * (size_t)np), *lon = malloc(sizeof *lon * (size_t)np);
    for (int i = 0; i < np; i++) {
        lat[i] = atof(PQgetvalue(r, i, 0));
        lon[i] = atof(PQgetvalue(r, i, 1));
    }
    PQclear(r);
    PQfinish(db);
    /* a fresh range of device seconds in 2000-2003 per run: runs start seconds apart */
    int64_t base = 946684800 + ((int64_t)time(NULL) % 100000) * 1000;
    struct thr *t = calloc((size_t)n, sizeof *t);
    double t0 = now_s();
    for (int i = 0; i < n; i++) {
        t[i] = (struct thr){.id = i,
                            .n_threads = n,
                            .copy = copy,
                            .seconds = seconds,
                            .lat = lat,
                            .lon = lon,
                            .n_points = np,
                            .base = base};
        pthread_create(&t[i].t, NULL, thr_main, &t[i]);
    }
    unsigned long long done = 0;
    int failed = 0;
    for (int i = 0; i < n; i++) {
        pthread_join(t[i].t, NULL);
        done += t[i].done;
        failed |= t[i].failed;
    }
    double el = now_s() - t0;
    printf("{\"mode\":\"%s\",\"connections\":%d,\"pings\":%llu,\"seconds\":%.3f,"
           "\"per_s\":%.1f}\n",
           argv[1], n, done, el, done / el);
    free(t);
    free(lat);
    free(lon);
    return failed ? 1 : 0;
}
