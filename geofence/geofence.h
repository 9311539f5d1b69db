/*
 * geofence.h: rule evaluation. Builds micro-batches of observations and hands each to
 * PostGIS as one call of corridor.ingest_hinted (schema/rules/ingest.sql); validates and
 * normalises shapes that users submit (GEOS).
 *
 * A geo_batch belongs to one ingest worker thread and is not thread-safe. The shape
 * functions are thread-safe (each call uses its own GEOS context).
 */
#ifndef CORRIDOR_GEOFENCE_H
#define CORRIDOR_GEOFENCE_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#define GEO_ID_MAX 64

/* One observation of a seal, as a device protocol decoded it. Absent numbers are NAN,
 * absent strings "". */
typedef struct geo_obs {
    char seal_id[GEO_ID_MAX + 1];
    int64_t ts_us;   /* device time, microseconds since the epoch, UTC */
    double lat, lon; /* WGS 84 degrees, validated by the decoder */
    float speed_kmh, bearing, altitude, accuracy, battery; /* battery in percent */
    char lock[8];                                          /* "locked", "open" or "" */
    char alarm[24];                                        /* "tampering", ... or "" */
} geo_obs;

/* Initialises o to "nothing known" (NANs and empty strings). */
void geo_obs_clear(geo_obs *o);

typedef struct geo_batch geo_batch;

/* A batch holding at most capacity observations. NULL on allocation failure. */
geo_batch *geo_batch_new(int capacity);
void geo_batch_free(geo_batch *b);
/* Appends a copy of o. Returns its index (0-based), or CORE_EFULL. */
int geo_batch_add(geo_batch *b, const geo_obs *o);
int geo_batch_len(const geo_batch *b);
void geo_batch_clear(geo_batch *b);

/* ---- the worker's copy of the safe regions (geo_quiet.c, schema/rules/regions.sql) ----
 * With it a worker finds most quiet fixes itself, and the database only confirms that the
 * copy is current. One per worker thread; not thread-safe. */
typedef struct geo_quiet geo_quiet;

/* An empty copy (no grid: nothing is found quiet until geo_quiet_load). NULL on failure. */
geo_quiet *geo_quiet_new(void);
void geo_quiet_free(geo_quiet *q);
/* Loads the fence grid of the database's current generation over conn (blocking; tens of
 * MB for 150,000 grid pieces). 0, or CORE_EDB / -ENOMEM with a reason in err (the old
 * grid is then gone too: the copy finds nothing quiet until a load succeeds). */
int geo_quiet_load(geo_quiet *q, PGconn *conn, char *err, size_t n);
/* 1 when no grid is loaded or a batch reported a newer generation: load again. */
int geo_quiet_stale(const geo_quiet *q);

/* Prepares the batch statements on conn (once per connection). 0 or CORE_EDB. */
int geo_prepare(PGconn *conn, char *err, size_t n);
/* Sends the batch as one asynchronous call (PQsendQueryPrepared); the caller collects
 * the result with PQgetResult and passes it to geo_batch_result. With q (not NULL) the
 * fixes q finds quiet go as such (corridor.ingest_hinted) and the answer renews q's
 * copy; q must then stay alive, and be used by no other batch, until the result was
 * passed to geo_batch_result. 0 or CORE_EDB. */
int geo_batch_send(geo_batch *b, PGconn *conn, geo_quiet *q);

/* What one batch result tells its caller. reject: observation idx (0-based) was refused,
 * with a reason; publish: a JSON message ("position" or "incident") for the live map (a
 * quiet fix's position row names its observation instead: geo_batch_result writes the
 * message from the batch). Called on the caller's thread, before geo_batch_result
 * returns. */
typedef struct geo_result_ops {
    void (*reject)(void *arg, int idx, const char *reason);
    void (*publish)(void *arg, const char *kind, const char *json, size_t len);
    /* quiet: n fixes of the batch were stored without rule work (schema/rules/regions.sql);
     * never published. May be NULL. */
    void (*quiet)(void *arg, int n);
    /* hinted: n of those the worker's copy had found quiet (corridor.ingest_hinted). May be NULL.
     */
    void (*hinted)(void *arg, int n);
} geo_result_ops;

/* Walks a PGRES_TUPLES_OK result of corridor.ingest_batch for batch b (the one sent;
 * NULL for results that never name an observation, like the sweep's). 0, or CORE_EDB if
 * the result is an error (then no callback is called). */
int geo_batch_result(PGresult *res, const geo_batch *b, const geo_result_ops *ops, void *arg);

/* The position message of o, what corridor.position_json says, compact (no blanks: the
 * web gateway passes compact messages on as they are), into buf (NUL terminated,
 * truncated to cap). Returns its length. */
size_t geo_position_json(const geo_obs *o, char *buf, size_t cap);

/* ---- the sweeper (geo_sweep.c): periodic rules ---- */
typedef struct geo_sweeper geo_sweeper;
/* Starts a thread that calls corridor.sweep_all(now()) every interval_s seconds on its
 * own connection (conninfo; NULL: libpq defaults) and pushes the messages it returns to
 * events_url (nng). NULL with a reason in err on failure. Runs on main(). */
/* With gate (not NULL) a round sweeps only while gate(gate_arg) says 1: the instance leads
 * (alerts.h); gate runs on the sweeper's thread and must be thread-safe. */
geo_sweeper *geo_sweeper_start(const char *conninfo, const char *events_url, int interval_s,
                               int (*gate)(void *arg), void *gate_arg, char *err, size_t n);
/* Stops and joins the thread. Runs on main(). */
void geo_sweeper_stop(geo_sweeper *s);

/* ---- shapes (geo_shape.c) ---- */

/* Validates a GeoJSON geometry that a user submitted for a geofence: it must parse, be a
 * Polygon or MultiPolygon with coordinates inside WGS 84 bounds, and be valid per GEOS.
 * Returns 0, or CORE_EINVAL with GEOS's reason ("Self-intersection[34.1 0.5]") in
 * reason. Thread-safe. */
int geo_shape_validate(const char *geojson, size_t len, char *reason, size_t n);

#endif
