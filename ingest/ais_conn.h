/*
 * ais_conn.h: counters of the AIS feeds of the ingest workers (ingest/ais_conn.c), for
 * /metrics and GET /api/feeds. Module-internal to ingest/: worker.c collects the states
 * of its workers (ingest_worker's `ais` pointer) and calls these.
 *
 * Every function here is thread-safe: it reads relaxed atomics and strings that do not
 * change while the workers run. The states must stay alive during the call (call before
 * ingest_stop()).
 */
#ifndef CORRIDOR_INGEST_AIS_CONN_H
#define CORRIDOR_INGEST_AIS_CONN_H

#include <stddef.h>

/* Prometheus text of one worker's AIS handler (its TCP and UDP listeners, its feed
 * clients, its vessel batches) into buf, at most cap bytes (NUL-terminated when there is
 * room). Returns the bytes written. With several workers use ingest_ais_metrics_n, which
 * sums the listeners and keeps each metric family in one block as the format requires. */
size_t ingest_ais_metrics(void *state, char *buf, size_t cap);
size_t ingest_ais_metrics_n(void *const *states, int n, char *buf, size_t cap);

/* The feeds as a JSON array (docs/vessels.md, "Counters"): one object for the TCP
 * listener, one for UDP (both summed over the states given) and one per --ais-feed client.
 * Returns the bytes written (0 if cap is too small for even "[]"); the text is always
 * valid JSON: a feed that does not fit is left out. NULL states are skipped. */
size_t ingest_ais_feeds_json(void *state, char *buf, size_t cap);
size_t ingest_ais_feeds_json_n(void *const *states, int n, char *buf, size_t cap);

#endif
