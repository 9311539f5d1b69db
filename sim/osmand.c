/*
 * osmand.c: builds OsmAnd (Traccar Client compatible) request targets:
 * /?id=..&lat=..&lon=..&timestamp=..&speed=..&bearing=..&altitude=..&accuracy=..&batt=..
 *
 * Pure functions writing into the caller's buffer; never allocates. Coordinates carry 6
 * decimals (about 0.1 m), speed in knots as OsmAnd sends it.
 */
#include "sim.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

int sim_url_encode(const char *s, char *buf, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        int plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.' || c == '~';
        if (o + (plain ? 1 : 3) >= n)
            return CORE_ETOOBIG;
        if (plain) {
            buf[o++] = (char)c;
        } else {
            buf[o++] = '%';
            buf[o++] = hex[c >> 4];
            buf[o++] = hex[c & 15];
        }
    }
    if (o >= n)
        return CORE_ETOOBIG;
    buf[o] = 0;
    return (int)o;
}

int sim_osmand_target(const sim_ping *p, char *buf, size_t n)
{
    char id[3 * 64 + 1];
    if (sim_url_encode(p->id, id, sizeof id) < 0)
        return CORE_ETOOBIG;
    int len = snprintf(buf, n,
                       "/?id=%s&lat=%.6f&lon=%.6f&timestamp=%" PRId64
                       "&speed=%.1f&bearing=%.1f&altitude=%.1f&accuracy=%.1f&batt=%.1f",
                       id, p->lat, p->lon, p->timestamp, p->speed_kn, p->bearing, p->altitude,
                       p->accuracy, p->batt);
    if (len < 0 || (size_t)len >= n)
        return CORE_ETOOBIG;
    if (p->lock) {
        int more = snprintf(buf + len, n - (size_t)len, "&lock=%s", p->lock);
        if (more < 0 || (size_t)more >= n - (size_t)len)
            return CORE_ETOOBIG;
        len += more;
    }
    return len;
}
