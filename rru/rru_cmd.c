/*
 * rru_cmd.c: the pure parts of corridor-rru: command lines and request bodies.
 * See rru.h. Owns nothing; any thread.
 */
#include "rru.h"

#include <ctype.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *skip_space(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

/* Copies the next space-delimited word into out (n bytes). Returns the rest, or NULL
 * when the word does not fit. */
static const char *word(const char *p, char *out, size_t n)
{
    size_t i = 0;
    p = skip_space(p);
    while (*p && *p != ' ' && *p != '\t' && *p != '\r' && *p != '\n') {
        if (i + 1 >= n)
            return NULL;
        out[i++] = *p++;
    }
    out[i] = '\0';
    return p;
}

static int fail(char *err, size_t n, const char *why)
{
    snprintf(err, n, "%s", why);
    return -1;
}

int rru_cmd_parse(const char *line, rru_cmd *cmd, char *err, size_t n)
{
    char id[32];
    memset(cmd, 0, sizeof *cmd);
    const char *p = skip_space(line);
    if (*p == '\0' || *p == '\n' || *p == '\r' || *p == '#')
        return 0;
    if (!(p = word(p, cmd->action, sizeof cmd->action)))
        return fail(err, n, "unknown action (known: ack, en_route, on_scene, resolved, note)");
    if (strcmp(cmd->action, "resolve") == 0)
        strcpy(cmd->action, "resolved");
    if (strcmp(cmd->action, "ack") != 0 && strcmp(cmd->action, "en_route") != 0 &&
        strcmp(cmd->action, "on_scene") != 0 && strcmp(cmd->action, "resolved") != 0 &&
        strcmp(cmd->action, "note") != 0)
        return fail(err, n, "unknown action (known: ack, en_route, on_scene, resolved, note)");
    if (!(p = word(p, id, sizeof id)) || !id[0])
        return fail(err, n, "the incident id is missing: ACTION INCIDENT [OUTCOME] [NOTE]");
    char *end;
    errno = 0;
    cmd->incident = strtoll(id, &end, 10);
    if (*end || errno || cmd->incident < 1 || !isdigit((unsigned char)id[0]))
        return fail(err, n, "the incident id must be a positive integer");
    if (strcmp(cmd->action, "resolved") == 0) {
        if (!(p = word(p, cmd->outcome, sizeof cmd->outcome)) || !cmd->outcome[0])
            return fail(err, n,
                        "resolved needs an outcome: confirmed, false_alarm, duplicate, "
                        "handled_remotely, no_trace or other");
    }
    p = skip_space(p);
    size_t len = 0;
    if (*p == '"') {
        for (p++; *p && *p != '"'; p++) {
            if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
                p++;
            if (len >= RRU_NOTE_MAX)
                return fail(err, n, "the note is longer than 2000 characters");
            cmd->note[len++] = *p;
        }
        if (*p != '"')
            return fail(err, n, "the note's closing quote is missing");
        p = skip_space(p + 1);
        if (*p && *p != '\n' && *p != '\r')
            return fail(err, n, "text after the quoted note");
    } else {
        for (; *p && *p != '\n' && *p != '\r'; p++) {
            if (len >= RRU_NOTE_MAX)
                return fail(err, n, "the note is longer than 2000 characters");
            cmd->note[len++] = *p;
        }
        while (len && (cmd->note[len - 1] == ' ' || cmd->note[len - 1] == '\t'))
            len--;
    }
    cmd->note[len] = '\0';
    if (strcmp(cmd->action, "note") == 0 && !cmd->note[0])
        return fail(err, n, "note needs text: note INCIDENT TEXT");
    return 1;
}

static char *dump(json_object *o)
{
    const char *t = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
    char *s = t ? strdup(t) : NULL;
    json_object_put(o);
    return s;
}

static json_object *base(const char *op, const char *unit, const char *token)
{
    json_object *o = json_object_new_object();
    if (!o)
        return NULL;
    json_object_object_add(o, "op", json_object_new_string(op));
    if (unit && *unit) /* the token names the unit; "unit" is only the caller's check */
        json_object_object_add(o, "unit", json_object_new_string(unit));
    json_object_object_add(o, "token", json_object_new_string(token ? token : ""));
    return o;
}

char *rru_action_request(const char *unit, const char *token, const rru_cmd *cmd)
{
    json_object *o = base("action", unit, token);
    if (!o)
        return NULL;
    json_object_object_add(o, "incident", json_object_new_int64(cmd->incident));
    json_object_object_add(o, "action", json_object_new_string(cmd->action));
    if (cmd->note[0])
        json_object_object_add(o, "note", json_object_new_string(cmd->note));
    if (cmd->outcome[0])
        json_object_object_add(o, "outcome", json_object_new_string(cmd->outcome));
    return dump(o);
}

char *rru_hello_request(const char *unit, const char *token)
{
    json_object *o = base("hello", unit, token);
    return o ? dump(o) : NULL;
}

char *rru_poll_request(const char *unit, const char *token, const long long *have, size_t n_have,
                       int wait_ms)
{
    json_object *o = base("poll", unit, token), *a = json_object_new_array();
    if (!o || !a) {
        json_object_put(o);
        json_object_put(a);
        return NULL;
    }
    for (size_t i = 0; i < n_have; i++)
        json_object_array_add(a, json_object_new_int64(have[i]));
    json_object_object_add(o, "have", a);
    json_object_object_add(o, "wait_ms", json_object_new_int(wait_ms));
    return dump(o);
}
