/*
 * cli.h: what the subcommands of corridord that manage the database share (token.c,
 * user.c). Runs on main().
 */
#ifndef CORRIDOR_SRV_CLI_H
#define CORRIDOR_SRV_CLI_H

#include <libpq-fe.h>

/* Prints "corridord CMD: " and fmt with arg on stderr, one line; returns 2, the exit
 * status of bad arguments. */
int srv_cli_bad(const char *cmd, const char *fmt, const char *arg);

/* Connects to conninfo (NULL: $CORRIDOR_DB or libpq defaults, as the caller resolved them)
 * and applies the schema, so that a fresh database needs no other step. Returns the
 * connection, or NULL with the reason on stderr under "corridord CMD: ". */
PGconn *srv_cli_connect(const char *cmd, const char *conninfo);

#endif
