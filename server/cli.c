/*
 * cli.c: the database connection and the argument errors of corridord's management
 * subcommands (cli.h).
 */
#include "cli.h"

#include "schema.h"

#include <stdio.h>

int srv_cli_bad(const char *cmd, const char *fmt, const char *arg)
{
    fprintf(stderr, "corridord %s: ", cmd);
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    return 2;
}

PGconn *srv_cli_connect(const char *cmd, const char *conninfo)
{
    char err[1024];
    PGconn *db = PQconnectdb(conninfo ? conninfo : "");
    if (PQstatus(db) != CONNECTION_OK) {
        fprintf(stderr, "corridord %s: cannot connect to the database: %s", cmd,
                PQerrorMessage(db));
        PQfinish(db);
        return NULL;
    }
    /* a fresh database gets its schema, so the first admin token needs no other step */
    if (schema_migrate(db, err, sizeof err) < 0) {
        fprintf(stderr, "corridord %s: %s\n", cmd, err);
        PQfinish(db);
        return NULL;
    }
    return db;
}
