/*
 * geo.c: spherical geodesy for the simulator: distances, bearings, destination points,
 * circles of a metric radius, and positions along a polyline measured in metres.
 *
 * Pure functions; a sim_path owns its copy of the points. The sphere (mean radius) is
 * within 0.5 % of WGS 84 distances, plenty for driving trucks and drawing demo fences.
 */
#include "sim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define RAD (M_PI / 180.0)
#define DEG (180.0 / M_PI)

double sim_geo_distance(double lat1, double lon1, double lat2, double lon2)
{
    double p1 = lat1 * RAD, p2 = lat2 * RAD;
    double dp = (lat2 - lat1) * RAD, dl = (lon2 - lon1) * RAD;
    double a = sin(dp / 2) * sin(dp / 2) + cos(p1) * cos(p2) * sin(dl / 2) * sin(dl / 2);
    if (a > 1)
        a = 1;
    return 2 * SIM_EARTH_R * atan2(sqrt(a), sqrt(1 - a));
}

double sim_geo_bearing(double lat1, double lon1, double lat2, double lon2)
{
    double p1 = lat1 * RAD, p2 = lat2 * RAD, dl = (lon2 - lon1) * RAD;
    double y = sin(dl) * cos(p2);
    double x = cos(p1) * sin(p2) - sin(p1) * cos(p2) * cos(dl);
    double b = fmod(atan2(y, x) * DEG + 360.0, 360.0);
    return b >= 360.0 ? 0.0 : b;
}

void sim_geo_destination(double lat, double lon, double brg, double dist_m, double *out_lat,
                         double *out_lon)
{
    double d = dist_m / SIM_EARTH_R, t = brg * RAD, p1 = lat * RAD, l1 = lon * RAD;
    double sp2 = sin(p1) * cos(d) + cos(p1) * sin(d) * cos(t);
    if (sp2 > 1)
        sp2 = 1;
    if (sp2 < -1)
        sp2 = -1;
    double p2 = asin(sp2);
    double l2 = l1 + atan2(sin(t) * sin(d) * cos(p1), cos(d) - sin(p1) * sp2);
    *out_lat = p2 * DEG;
    *out_lon = fmod(l2 * DEG + 540.0, 360.0) - 180.0;
}

void sim_geo_circle(double lat, double lon, double radius_m, int n_sides, sim_point *ring)
{
    /* Bearings decrease so the ring turns counter-clockwise (RFC 7946 exterior rings). */
    for (int i = 0; i < n_sides; i++) {
        double brg = 360.0 - 360.0 * i / n_sides;
        ring[i].alt = 0;
        sim_geo_destination(lat, lon, fmod(brg, 360.0), radius_m, &ring[i].lat, &ring[i].lon);
    }
    ring[n_sides] = ring[0];
}

struct sim_path {
    int n;
    sim_point *pts;
    double *cum; /* cum[i]: metres from pts[0] to pts[i] */
};

sim_path *sim_path_new(const sim_point *pts, int n)
{
    sim_path *p = NULL;
    if (n < 2)
        goto fail;
    p = calloc(1, sizeof *p);
    if (!p)
        goto fail;
    p->pts = malloc(sizeof *p->pts * (size_t)n);
    p->cum = malloc(sizeof *p->cum * (size_t)n);
    if (!p->pts || !p->cum)
        goto fail;
    memcpy(p->pts, pts, sizeof *pts * (size_t)n);
    p->n = n;
    p->cum[0] = 0;
    for (int i = 1; i < n; i++)
        p->cum[i] = p->cum[i - 1] +
                    sim_geo_distance(pts[i - 1].lat, pts[i - 1].lon, pts[i].lat, pts[i].lon);
    return p;
fail:
    sim_path_free(p);
    return NULL;
}

void sim_path_free(sim_path *p)
{
    if (!p)
        return;
    free(p->pts);
    free(p->cum);
    free(p);
}

double sim_path_length(const sim_path *p)
{
    return p->cum[p->n - 1];
}

int sim_path_count(const sim_path *p)
{
    return p->n;
}

const sim_point *sim_path_point(const sim_path *p, int i)
{
    return &p->pts[i];
}

void sim_path_at(const sim_path *p, double d, int dir, sim_point *out, double *bearing)
{
    double len = sim_path_length(p);
    if (!(d > 0)) /* also catches NaN */
        d = 0;
    if (d > len)
        d = len;
    /* Binary search for the segment [i, i+1] holding d; skip zero-length segments. */
    int lo = 0, hi = p->n - 1;
    while (hi - lo > 1) {
        int mid = (lo + hi) / 2;
        if (p->cum[mid] <= d)
            lo = mid;
        else
            hi = mid;
    }
    const sim_point *a = &p->pts[lo], *b = &p->pts[hi];
    double seg = p->cum[hi] - p->cum[lo];
    double f = seg > 0 ? (d - p->cum[lo]) / seg : 0;
    double brg = sim_geo_bearing(a->lat, a->lon, b->lat, b->lon);
    if (seg > 0)
        sim_geo_destination(a->lat, a->lon, brg, f * seg, &out->lat, &out->lon);
    else
        *out = *a;
    out->alt = a->alt + f * (b->alt - a->alt);
    if (bearing) {
        /* The direction of travel at this point: forward is the bearing of the great
         * circle here, which drifts from the initial bearing on long segments. */
        double here;
        if (f < 1 && seg > 0)
            here = sim_geo_bearing(out->lat, out->lon, b->lat, b->lon);
        else
            here = brg;
        *bearing = dir >= 0 ? here : fmod(here + 180.0, 360.0);
    }
}

double sim_path_offset_of(const sim_path *p, double lat, double lon)
{
    int best = 0;
    double best_d = INFINITY;
    for (int i = 0; i < p->n; i++) {
        double d = sim_geo_distance(lat, lon, p->pts[i].lat, p->pts[i].lon);
        if (d < best_d) {
            best_d = d;
            best = i;
        }
    }
    return p->cum[best];
}
