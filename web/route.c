/*
 * route.c: matching a request's method and path against the route table (rest.c).
 * Pure functions over caller-owned memory; any thread.
 *
 * A pattern is literal segments, {name} captures one non-empty segment, and a final "*"
 * matches any rest (including nothing). The first route whose pattern and method match
 * wins; a path some pattern matches but no route allows the method for is 405 with the
 * allowed methods, unless a FALLBACK route (the catch-all of /api/...) comes first.
 */
#include "web_int.h"

#include <string.h>

static const struct {
    const char *name;
    int method;
} methods[] = {
    {"GET", WEB_GET},       {"POST", WEB_POST}, {"PUT", WEB_PUT},         {"PATCH", WEB_PATCH},
    {"DELETE", WEB_DELETE}, {"HEAD", WEB_HEAD}, {"OPTIONS", WEB_OPTIONS},
};
#define N_METHODS (sizeof methods / sizeof methods[0])

int web_method_parse(const char *s)
{
    for (size_t i = 0; i < N_METHODS; i++)
        if (strcmp(s, methods[i].name) == 0)
            return methods[i].method;
    return 0;
}

void web_method_list(int mask, char *buf, size_t n)
{
    size_t off = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < N_METHODS; i++) {
        if (!(mask & methods[i].method))
            continue;
        int r = snprintf(buf + off, n - off, "%s%s", off ? ", " : "", methods[i].name);
        if (r < 0 || (size_t)r >= n - off)
            return;
        off += (size_t)r;
    }
}

int web_path_match(const char *pattern, const char *path, web_params *params)
{
    const char *p = pattern, *s = path;
    params->n = 0;
    while (*p) {
        if (p[0] == '*' && p[1] == '\0')
            return 1;
        if (*p == '{') {
            const char *close = strchr(p, '}');
            if (!close || params->n >= WEB_PARAMS_MAX)
                return 0;
            const char *end = strchr(s, '/');
            size_t len = end ? (size_t)(end - s) : strlen(s);
            if (len == 0 || len >= sizeof params->p[0].value)
                return 0;
            params->p[params->n].name = p + 1;
            params->p[params->n].name_len = (size_t)(close - p - 1);
            memcpy(params->p[params->n].value, s, len);
            params->p[params->n].value[len] = '\0';
            params->n++;
            p = close + 1;
            s += len;
            continue;
        }
        if (*p != *s)
            return 0;
        p++;
        s++;
    }
    return *s == '\0';
}

int web_route_find(const web_route *table, size_t n, int method, const char *path,
                   web_params *params, int *allowed)
{
    int seen = 0;
    web_params tmp;
    for (size_t i = 0; i < n; i++) {
        if (!web_path_match(table[i].pattern, path, &tmp))
            continue;
        if ((table[i].flags & WEB_ROUTE_FALLBACK) && seen)
            break;
        if (table[i].methods & method) {
            *params = tmp;
            return (int)i;
        }
        seen |= table[i].methods;
    }
    *allowed = seen;
    return seen ? -405 : -404;
}

const char *web_param(const web_params *params, const char *name)
{
    size_t len = strlen(name);
    for (int i = 0; i < params->n; i++)
        if (params->p[i].name_len == len && memcmp(params->p[i].name, name, len) == 0)
            return params->p[i].value;
    return NULL;
}

const char *web_query(const web_req *req, const char *name)
{
    size_t len = strlen(name);
    for (const char *q = req->query; *q; q += strlen(q) + 1)
        if (strncmp(q, name, len) == 0 && q[len] == '=')
            return q + len + 1;
    return NULL;
}
