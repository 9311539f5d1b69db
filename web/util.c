/*
 * util.c: the gateway's pure helpers: bounded buffers, JSON error bodies, refcounted
 * websocket messages, static file path mapping and content types.
 *
 * Owns no global state. Runs on whichever thread calls it (in practice the web thread);
 * web_msg reference counts are not atomic because only the web thread touches them.
 */
#include "web_int.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void web_buf_init(web_buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

void web_buf_free(web_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

static int buf_reserve(web_buf *b, size_t extra)
{
    if (extra > b->max || b->len > b->max - extra)
        return CORE_ETOOBIG;
    size_t need = b->len + extra + 1; /* room for the NUL */
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    if (cap > b->max + 1)
        cap = b->max + 1;
    char *p = realloc(b->data, cap);
    if (!p)
        return -ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

int web_buf_add(web_buf *b, const void *p, size_t n)
{
    int rc = buf_reserve(b, n);
    if (rc)
        return rc;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int web_buf_addstr(web_buf *b, const char *s)
{
    return web_buf_add(b, s, strlen(s));
}

int web_buf_printf(web_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int need = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (need < 0)
        return CORE_EINVAL;
    int rc = buf_reserve(b, (size_t)need);
    if (rc)
        return rc;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)need + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)need;
    return 0;
}

int web_error_body(web_buf *b, const char *code, const char *detail)
{
    int rc = -ENOMEM;
    json_object *o = json_object_new_object();
    if (!o)
        return rc;
    json_object_object_add(o, "error", json_object_new_string(code));
    json_object_object_add(o, "detail", json_object_new_string(detail ? detail : ""));
    const char *s =
        json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    b->len = 0;
    rc = web_buf_addstr(b, s);
    json_object_put(o);
    return rc;
}

web_msg *web_msg_new(const char *text, size_t len)
{
    web_msg *m = malloc(sizeof *m + WEB_MSG_PRE + len + 1);
    if (!m)
        return NULL;
    m->refs = 1;
    m->len = len;
    memcpy(WEB_MSG_DATA(m), text, len);
    WEB_MSG_DATA(m)[len] = '\0';
    return m;
}

web_msg *web_msg_ref(web_msg *m)
{
    m->refs++;
    return m;
}

void web_msg_unref(web_msg *m)
{
    if (m && --m->refs == 0)
        free(m);
}

int web_static_path(const char *root, const char *path, char *out, size_t n)
{
    if (path[0] != '/')
        return CORE_EINVAL;
    /* every segment must be a plain name: no "", ".", ".." (except a trailing "/") */
    const char *seg = path + 1;
    for (;;) {
        const char *end = strchr(seg, '/');
        size_t len = end ? (size_t)(end - seg) : strlen(seg);
        if (len == 0 && end)
            return CORE_EINVAL;
        if ((len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.'))
            return CORE_EINVAL;
        for (size_t i = 0; i < len; i++) {
            unsigned char c = (unsigned char)seg[i];
            if (c < 0x20 || c == 0x7f || c == '\\')
                return CORE_EINVAL;
        }
        if (!end)
            break;
        seg = end + 1;
    }
    size_t plen = strlen(path);
    int r = snprintf(out, n, "%s%s%s", root, path, path[plen - 1] == '/' ? "index.html" : "");
    if (r < 0 || (size_t)r >= n)
        return CORE_ETOOBIG;
    return 0;
}

const char *web_mime(const char *file)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".json", "application/json"},
        {".map", "application/json"},
        {".png", "image/png"},
        {".svg", "image/svg+xml"},
        {".ico", "image/x-icon"},
        {".txt", "text/plain; charset=utf-8"},
        {".woff2", "font/woff2"},
    };
    const char *dot = strrchr(file, '.');
    const char *slash = strrchr(file, '/');
    if (dot && (!slash || dot > slash))
        for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
            if (strcmp(dot, types[i].ext) == 0)
                return types[i].type;
    return "application/octet-stream";
}

void web_resp_error(web_resp *resp, int status, const char *code, const char *fmt, ...)
{
    char detail[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    resp->status = status;
    resp->ctype = "application/json";
    if (web_error_body(&resp->body, code, detail) != 0)
        resp->body.len = 0;
}

void web_resp_json(web_resp *resp, int status, const char *text, size_t len)
{
    resp->status = status;
    resp->ctype = "application/json";
    resp->body.len = 0;
    if (web_buf_add(&resp->body, text, len) != 0)
        web_resp_error(resp, 500, "too_large", "the response is larger than the gateway sends");
}
