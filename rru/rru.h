/*
 * rru.h: corridor-rru, a rapid response unit's dispatch client (docs/incidents.md,
 * "corridor-rru"). The pure parts live in rru_cmd.c so tests link them alone: the
 * command lines a unit types (or a script writes) on stdin, and the requests sent to
 * corridord's dispatch endpoint.
 *
 * Nothing here keeps state or touches the network; every function is thread-safe.
 */
#ifndef CORRIDOR_RRU_H
#define CORRIDOR_RRU_H

#include <stddef.h>

#define RRU_NOTE_MAX 2000 /* characters of a note, as the server allows */

/* One command: `ACTION INCIDENT [OUTCOME] [NOTE]`. */
typedef struct rru_cmd {
    char action[16]; /* ack, en_route, on_scene, resolved, note */
    long long incident;
    char outcome[32]; /* resolved only */
    char note[RRU_NOTE_MAX + 1];
} rru_cmd;

/* Parses one line. Returns 1 with *cmd filled, 0 for a blank or comment (#) line, or -1
 * with a one-line reason in err. The note is the rest of the line, or a double-quoted
 * string with \" and \\ escapes. `resolved` (or `resolve`) needs an outcome; `note` needs
 * a note. */
int rru_cmd_parse(const char *line, rru_cmd *cmd, char *err, size_t n);

/* Every request carries the token, which names the unit; "unit" is sent only when unit is
 * neither NULL nor empty (the server then refuses a token of another unit, and an admin
 * token needs it).
 *
 * The JSON request for an action: {"op":"action","unit","token","incident","action",
 * "note","outcome"}. Returns a malloc'd string, NULL on allocation failure. */
char *rru_action_request(const char *unit, const char *token, const rru_cmd *cmd);
/* {"op":"hello","unit","token"}. malloc'd. */
char *rru_hello_request(const char *unit, const char *token);
/* {"op":"poll","unit","token","have":[ids],"wait_ms"}. malloc'd. */
char *rru_poll_request(const char *unit, const char *token, const long long *have, size_t n_have,
                       int wait_ms);

#endif
