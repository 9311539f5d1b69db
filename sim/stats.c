/*
 * stats.c: a latency histogram with log-linear buckets (32 per power of two, so about 3 %
 * resolution), constant memory however long the run: the load generator records every
 * answer in it and reads p50 and p99 at the end.
 *
 * Pure functions on a caller-owned sim_hist.
 */
#include "sim.h"

#include <math.h>

#define SUB  32                       /* buckets per power of two */
#define VMAX ((INT64_C(1) << 41) - 1) /* about 25 days in microseconds */

int sim_hist_index(int64_t us)
{
    if (us < 0)
        us = 0;
    if (us > VMAX)
        us = VMAX;
    if (us < 2 * SUB)
        return (int)us;
    int msb = 63 - __builtin_clzll((unsigned long long)us);
    int shift = msb - 5;
    int mant = (int)(us >> shift);
    return 2 * SUB + (msb - 6) * SUB + (mant - SUB);
}

int64_t sim_hist_value(int idx)
{
    if (idx < 2 * SUB)
        return idx;
    int k = idx - 2 * SUB;
    int shift = k / SUB + 1;
    int64_t low = (int64_t)(SUB + k % SUB) << shift;
    return low + ((INT64_C(1) << shift) / 2);
}

void sim_hist_add(sim_hist *h, int64_t us)
{
    h->b[sim_hist_index(us)]++;
    h->count++;
}

int64_t sim_hist_quantile(const sim_hist *h, double q)
{
    if (!h->count)
        return 0;
    if (q < 0)
        q = 0;
    if (q > 1)
        q = 1;
    uint64_t rank = (uint64_t)ceil(q * (double)h->count);
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    for (int i = 0; i < SIM_HIST_BUCKETS; i++) {
        seen += h->b[i];
        if (seen >= rank)
            return sim_hist_value(i);
    }
    return sim_hist_value(SIM_HIST_BUCKETS - 1);
}
