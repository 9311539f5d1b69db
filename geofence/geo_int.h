/*
 * geo_int.h: what geo_batch.c and geo_quiet.c share inside the geofence module; nothing
 * outside it includes this.
 */
#ifndef CORRIDOR_GEO_INT_H
#define CORRIDOR_GEO_INT_H

#include "geofence.h"

/* A seal in a worker's copy (geo_quiet.c). Allocated one by one, so a pointer stays valid
 * while the table grows; freed only by geo_quiet_free or when the copy is cleared at the
 * start of a batch. */
typedef struct geo_qseal geo_qseal;

/* The batch's fixes sorted (geo_quiet_pick): kind[i] 0 = to the database's own test, 1 =
 * quiet by the worker's copy, 2 = quiet and its seal's newest here; who[i] its seal in
 * the copy (NULL when unknown). Returns the number of fixes of kind 1 or 2; 0 when the
 * copy cannot be used (no grid yet, or a newer generation reported). */
int geo_quiet_pick(geo_quiet *q, const geo_obs *obs, int n, geo_qseal **who, unsigned char *kind);
/* The newest stored fix (microseconds) and region version the database must still have
 * for s's fixes to be stored as quiet. */
int64_t geo_qseal_prev_us(const geo_qseal *s);
int64_t geo_qseal_ver(const geo_qseal *s);
/* The generation of the grid; the statement passes it for the database to compare. */
int64_t geo_quiet_grid_gen(const geo_quiet *q);

/* A batch's answer, in this order: each 'region' row (its body), the 'gen' row, then
 * geo_quiet_done, which moves every seal of kind 2 that got no region row to its newest
 * fix here (the database stored them as quiet). */
void geo_quiet_region(geo_quiet *q, const char *text);
void geo_quiet_gen_seen(geo_quiet *q, int64_t gen);
void geo_quiet_done(geo_quiet *q, const geo_obs *obs, int n, geo_qseal *const *who,
                    const unsigned char *kind);

#endif
