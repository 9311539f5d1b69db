/*
 * road.c: prints the Northern Corridor road of corridor-sim (sim/corridor.c) as WKT, so
 * bench/setup.sql builds the benchmark's routes and fences around the very road the load
 * generator drives. Built and run by bench/run.sh; single-threaded, no state.
 */
#include "sim.h"

#include <stdio.h>

int main(void)
{
    int n;
    const sim_point *p = sim_corridor_road(&n);
    printf("LINESTRING(");
    for (int i = 0; i < n; i++)
        printf("%s%.6f %.6f", i ? "," : "", p[i].lon, p[i].lat);
    printf(")\n");
    return 0;
}
