/*
 * ingest.h: device protocols and the ingest workers.
 *
 * ingest_start() starts cfg->workers threads. Each owns a libevent loop, a libpq
 * connection for its batches (and one for control look-ups), its own listening sockets
 * (SO_REUSEPORT) for every enabled protocol, and an nng push socket to the web gateway.
 * Observations are batched (cfg->batch_max or cfg->batch_ms) and each batch is one call
 * of corridor.ingest_hinted (schema/rules/ingest.sql); devices are answered only after that
 * transaction commits.
 */
#ifndef CORRIDOR_INGEST_H
#define CORRIDOR_INGEST_H

#include "core.h"

#include <stdatomic.h>
#include <stddef.h>

/* Counters of one worker; written by its thread, read by anyone (relaxed atomics). */
typedef struct ingest_counters {
    atomic_ullong obs_osmand, obs_jt808, obs_ais; /* observations stored */
    atomic_ullong bad_osmand, bad_jt808, bad_ais; /* refused input */
    atomic_ullong batches, batch_errors, db_reconnects;
    atomic_ullong batch_retries; /* held batches sent again on a new connection */
    atomic_ullong db_refused;    /* observations answered "retry": no database to store them */
    atomic_ullong batch_us_sum;  /* total batch latency */
    atomic_ullong batch_le[8];   /* latency histogram buckets */
    atomic_ullong published, publish_dropped;
    atomic_ullong quiet;     /* fixes stored without rule work: inside their safe region */
    atomic_ullong hinted;    /* of those, found quiet by the worker's copy (ingest_hinted) */
    atomic_uint queue_depth; /* observations waiting */
    atomic_uint db_up;       /* 1 while the connection works */
} ingest_counters;

typedef struct ingest ingest;

/* Starts the workers and their listeners. Returns NULL with a reason in err if a
 * listener cannot bind or the database cannot be reached. Runs on main(). */
ingest *ingest_start(const core_config *cfg, char *err, size_t n);
/* Stops accepting, flushes the open batches, answers the devices, joins the threads. */
void ingest_stop(ingest *in);
/* Appends Prometheus text for all workers to buf (at most cap bytes). Thread-safe.
 * Returns the number of bytes written. */
size_t ingest_metrics(ingest *in, char *buf, size_t cap);
/* The AIS feeds and listeners with their counters as a JSON array (docs/vessels.md);
 * "[]" without AIS. Thread-safe. Returns the bytes written. */
size_t ingest_feeds_json(ingest *in, char *buf, size_t cap);
/* 1 if every worker's database connection is up. Thread-safe. */
int ingest_db_ok(ingest *in);

#endif
