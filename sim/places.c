/*
 * places.c: reads data/northern_corridor.csv (name,kind,country,lat,lon; '#' comments)
 * and decides which places become demo geofences, of which kind and size.
 *
 * Pure functions; the caller owns the output array. Fields may be quoted ("a, b" with ""
 * for a quote). Every line is checked: a bad one names its line number and is an error,
 * because silently skipping a place would make the demo quietly wrong.
 */
#include "sim.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIELDS 5

/* Splits one line (without its newline) into up to FIELDS fields copied into f[i]
 * (each cap bytes). Returns the field count or CORE_EINVAL / CORE_ETOOBIG. */
static int split(const char *s, size_t len, char f[][SIM_NAME_MAX], int cap)
{
    int nf = 0;
    size_t i = 0;
    for (;;) {
        if (nf == FIELDS)
            return CORE_EINVAL;
        size_t o = 0;
        if (i < len && s[i] == '"') {
            i++;
            for (;;) {
                if (i >= len)
                    return CORE_EINVAL; /* unterminated quote */
                if (s[i] == '"') {
                    if (i + 1 < len && s[i + 1] == '"') {
                        i++;
                    } else {
                        i++;
                        break;
                    }
                }
                if (o + 1 >= (size_t)cap)
                    return CORE_ETOOBIG;
                f[nf][o++] = s[i++];
            }
            if (i < len && s[i] != ',')
                return CORE_EINVAL;
        } else {
            while (i < len && s[i] != ',') {
                if (o + 1 >= (size_t)cap)
                    return CORE_ETOOBIG;
                f[nf][o++] = s[i++];
            }
        }
        /* Trim surrounding blanks of unquoted text. */
        while (o > 0 && (f[nf][o - 1] == ' ' || f[nf][o - 1] == '\t' || f[nf][o - 1] == '\r'))
            o--;
        f[nf][o] = 0;
        size_t lead = strspn(f[nf], " \t");
        if (lead)
            memmove(f[nf], f[nf] + lead, o - lead + 1);
        nf++;
        if (i >= len)
            return nf;
        i++; /* the comma */
    }
}

static int number(const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno || !isfinite(v) || v < lo || v > hi)
        return CORE_EINVAL;
    *out = v;
    return 0;
}

static const char *const kinds[] = {"port", "icd", "border_post", "town", "rru", "anchorage"};

int sim_places_parse(const char *text, size_t len, sim_place *out, int max, char *err, size_t n)
{
    char f[FIELDS][SIM_NAME_MAX];
    int count = 0, line = 0, header = 0;
    size_t pos = 0;
    while (pos < len) {
        const char *s = text + pos;
        const char *nl = memchr(s, '\n', len - pos);
        size_t l = nl ? (size_t)(nl - s) : len - pos;
        pos += l + (nl ? 1 : 0);
        line++;
        while (l > 0 && (s[l - 1] == '\r' || s[l - 1] == ' '))
            l--;
        if (l == 0 || s[0] == '#')
            continue;
        int nf = split(s, l, f, SIM_NAME_MAX);
        if (nf == CORE_ETOOBIG) {
            snprintf(err, n, "line %d: a field is longer than %d bytes", line, SIM_NAME_MAX - 1);
            return CORE_EINVAL;
        }
        if (nf != FIELDS) {
            snprintf(err, n, "line %d: expected 5 fields name,kind,country,lat,lon", line);
            return CORE_EINVAL;
        }
        if (!header) {
            if (strcmp(f[0], "name") || strcmp(f[1], "kind") || strcmp(f[2], "country") ||
                strcmp(f[3], "lat") || strcmp(f[4], "lon")) {
                snprintf(err, n, "line %d: header must be name,kind,country,lat,lon", line);
                return CORE_EINVAL;
            }
            header = 1;
            continue;
        }
        if (count == max) {
            snprintf(err, n, "line %d: more than %d places", line, max);
            return CORE_EINVAL;
        }
        sim_place *p = &out[count];
        memset(p, 0, sizeof *p);
        if (!f[0][0]) {
            snprintf(err, n, "line %d: empty name", line);
            return CORE_EINVAL;
        }
        size_t k;
        for (k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
            if (!strcmp(f[1], kinds[k]))
                break;
        if (k == sizeof kinds / sizeof kinds[0]) {
            snprintf(err, n, "line %d: unknown kind \"%.30s\"", line, f[1]);
            return CORE_EINVAL;
        }
        if (strlen(f[2]) != 2 || f[2][0] < 'A' || f[2][0] > 'Z' || f[2][1] < 'A' || f[2][1] > 'Z') {
            snprintf(err, n, "line %d: country \"%.30s\" is not an ISO 3166 alpha-2 code", line,
                     f[2]);
            return CORE_EINVAL;
        }
        if (number(f[3], -90, 90, &p->lat)) {
            snprintf(err, n, "line %d: latitude \"%.30s\" is not a number in -90..90", line, f[3]);
            return CORE_EINVAL;
        }
        if (number(f[4], -180, 180, &p->lon)) {
            snprintf(err, n, "line %d: longitude \"%.30s\" is not a number in -180..180", line,
                     f[4]);
            return CORE_EINVAL;
        }
        memcpy(p->name, f[0], sizeof p->name);
        memcpy(p->kind, kinds[k], strlen(kinds[k]) + 1);
        memcpy(p->country, f[2], 3);
        count++;
    }
    if (!header) {
        snprintf(err, n, "no header line name,kind,country,lat,lon");
        return CORE_EINVAL;
    }
    return count;
}

#define FILE_MAX (1 << 20)

int sim_places_load(const char *path, sim_place *out, int max, char *err, size_t n)
{
    FILE *f = NULL;
    char *buf = NULL;
    int ret;
    f = fopen(path, "rb");
    if (!f) {
        ret = -errno;
        snprintf(err, n, "%s: %s", path, strerror(errno));
        goto fail;
    }
    buf = malloc(FILE_MAX);
    if (!buf) {
        ret = -ENOMEM;
        snprintf(err, n, "out of memory");
        goto fail;
    }
    size_t len = fread(buf, 1, FILE_MAX, f);
    if (ferror(f)) {
        ret = -EIO;
        snprintf(err, n, "%s: read error", path);
        goto fail;
    }
    if (len == FILE_MAX) {
        ret = CORE_ETOOBIG;
        snprintf(err, n, "%s: larger than %d bytes", path, FILE_MAX);
        goto fail;
    }
    char why[200];
    ret = sim_places_parse(buf, len, out, max, why, sizeof why);
    if (ret < 0)
        snprintf(err, n, "%s: %s", path, why);
fail:
    free(buf);
    if (f)
        fclose(f);
    return ret;
}

int sim_place_fence(const sim_place *p, const char **kind, double *radius_m)
{
    if (!strcmp(p->kind, "port")) {
        *kind = "port";
        *radius_m = 2500; /* Kilindini's quays and container terminals */
    } else if (!strcmp(p->kind, "anchorage")) {
        *kind = "anchorage";
        *radius_m = 3000;
    } else if (!strcmp(p->kind, "icd")) {
        *kind = "customs_office";
        *radius_m = 1500;
    } else if (!strcmp(p->kind, "border_post")) {
        *kind = "border_post";
        *radius_m = 1500;
    } else if (!strcmp(p->kind, "town")) {
        /* Capitals have the customs offices where transit ends; other towns on the road
         * are weighbridge or police checkpoints. */
        if (!strcmp(p->name, "Kampala") || !strcmp(p->name, "Kigali")) {
            *kind = "customs_office";
            *radius_m = 3000;
        } else {
            *kind = "checkpoint";
            *radius_m = 1000;
        }
    } else {
        return CORE_ENOTFOUND; /* rru: a unit's base, loaded with the units later */
    }
    return 0;
}
