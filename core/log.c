/*
 * log.c: error names and logfmt log lines on stderr.
 * The level is set by main() before threads start; core_log is thread-safe (one
 * fprintf per record, which stdio locks).
 */
#include "core.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static enum core_log_level log_level = CORE_LOG_INFO;

const char *core_strerror(int err)
{
    switch (err) {
    case CORE_OK:
        return "ok";
    case CORE_EINVAL:
        return "invalid input";
    case CORE_ETOOBIG:
        return "input too large";
    case CORE_EFULL:
        return "full";
    case CORE_EDB:
        return "database error";
    case CORE_ECLOSED:
        return "closed";
    case CORE_ENOTFOUND:
        return "not found";
    case CORE_ECONFLICT:
        return "conflict";
    case CORE_EAGAIN:
        return "incomplete";
    default:
        return err < 0 && err > -4096 ? strerror(-err) : "unknown error";
    }
}

void core_log_set_level(enum core_log_level level)
{
    log_level = level;
}

int core_log_parse_level(const char *s, enum core_log_level *out)
{
    static const char *names[] = {"debug", "info", "warn", "error"};
    for (int i = 0; i < 4; i++)
        if (strcasecmp(s, names[i]) == 0) {
            *out = (enum core_log_level)i;
            return 0;
        }
    return CORE_EINVAL;
}

void core_log(enum core_log_level level, const char *mod, const char *fmt, ...)
{
    static const char *names[] = {"debug", "info", "warn", "error"};
    char ts[40], msg[1024];
    va_list ap;

    if (level < log_level)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* logfmt quoting: escape the quote and backslash so each record stays one line */
    char esc[2100];
    size_t j = 0;
    for (size_t i = 0; msg[i] && j < sizeof esc - 3; i++) {
        char c = msg[i];
        if (c == '"' || c == '\\')
            esc[j++] = '\\';
        else if (c == '\n' || c == '\r')
            c = ' ';
        esc[j++] = c;
    }
    esc[j] = 0;
    fprintf(stderr, "ts=%s level=%s mod=%s msg=\"%s\"\n",
            core_iso8601(core_now_us(), ts, sizeof ts), names[level], mod, esc);
}

void core_owner_check_at(const core_owner *o, const char *func)
{
    if (o->set && !pthread_equal(o->id, pthread_self())) {
        core_error("core", "%s ran on a thread that does not own it", func);
        abort();
    }
}
