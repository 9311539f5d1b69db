/*
 * clock.c: wall and monotonic clocks, ISO 8601 formatting and parsing. Thread-safe.
 */
#include "core.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t core_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t core_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

char *core_iso8601(int64_t us, char *buf, size_t n)
{
    time_t s = (time_t)(us >= 0 ? us / 1000000 : (us - 999999) / 1000000);
    int ms = (int)((us - (int64_t)s * 1000000) / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    snprintf(buf, n, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
    return buf;
}

static int digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)**p))
            return -1;
        v = v * 10 + (**p - '0');
        (*p)++;
    }
    *out = v;
    return 0;
}

/* Howard Hinnant's algorithms (chrono-Compatible Low-Level Date Algorithms): the one
 * copy of Corridor's calendar arithmetic, also used by the JT/T 808 codec's BCD times. */
int64_t core_days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void core_civil_from_days(int64_t z, int *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

int core_parse_iso8601(const char *s, int64_t *out_us)
{
    int Y, M, D, h = 0, mi = 0, sec = 0;
    int64_t frac = 0;
    const char *p = s;

    if (digits(&p, 4, &Y) || *p++ != '-' || digits(&p, 2, &M) || *p++ != '-' || digits(&p, 2, &D))
        return CORE_EINVAL;
    if (*p == 'T' || *p == 't' || *p == ' ') {
        p++;
        if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi))
            return CORE_EINVAL;
        if (*p == ':') {
            p++;
            if (digits(&p, 2, &sec))
                return CORE_EINVAL;
            if (*p == '.' || *p == ',') {
                p++;
                int64_t scale = 100000;
                if (!isdigit((unsigned char)*p))
                    return CORE_EINVAL;
                while (isdigit((unsigned char)*p)) {
                    frac += (*p - '0') * scale;
                    scale /= 10;
                    p++;
                }
            }
        }
    }
    int off = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p++ == '-' ? -1 : 1, oh, om = 0;
        if (digits(&p, 2, &oh))
            return CORE_EINVAL;
        if (*p == ':')
            p++;
        if (*p && digits(&p, 2, &om))
            return CORE_EINVAL;
        off = sign * (oh * 60 + om);
    }
    if (*p || M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || mi > 59 || sec > 60)
        return CORE_EINVAL;
    int64_t t =
        core_days_from_civil(Y, M, D) * 86400 + h * 3600 + mi * 60 + sec - (int64_t)off * 60;
    *out_us = t * 1000000 + frac;
    return 0;
}

int core_valid_time_or_date(const char *s)
{
    int64_t us;
    if (core_parse_iso8601(s, &us) == 0)
        return 1;
    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return 0;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && !isdigit((unsigned char)s[i]))
            return 0;
    int m = (s[5] - '0') * 10 + (s[6] - '0'), d = (s[8] - '0') * 10 + (s[9] - '0');
    return m >= 1 && m <= 12 && d >= 1 && d <= 31;
}
