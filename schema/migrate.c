/*
 * migrate.c: applies the embedded migrations. Runs on main() at start-up and in
 * `corridord migrate`, with a connection the caller owns.
 */
#include "schema.h"
#include "core.h"

#include <string.h>

static int exec_ok(PGconn *conn, const char *sql, char *err, size_t n)
{
    PGresult *r = PQexec(conn, sql);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    if (!ok)
        snprintf(err, n, "%s", PQresultErrorMessage(r));
    PQclear(r);
    return ok ? 0 : CORE_EDB;
}

int schema_migrate(PGconn *conn, char *err, size_t n)
{
    int applied = 0, rc;
    const char *lock = "SELECT pg_advisory_lock(1129270853)";
    const char *unlock = "SELECT pg_advisory_unlock(1129270853)";

    if ((rc = exec_ok(conn, "SET client_min_messages = warning", err, n)) ||
        (rc = exec_ok(conn, lock, err, n)))
        return rc;
    rc = exec_ok(conn,
                 "CREATE SCHEMA IF NOT EXISTS corridor;"
                 "CREATE TABLE IF NOT EXISTS corridor.migrations ("
                 " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())",
                 err, n);
    for (size_t i = 0; rc == 0 && i < schema_n_files; i++) {
        const char *name = schema_files[i].name;
        const char *params[1] = {name};
        PGresult *r = PQexecParams(conn, "SELECT 1 FROM corridor.migrations WHERE name = $1", 1,
                                   NULL, params, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            snprintf(err, n, "%s", PQresultErrorMessage(r));
            rc = CORE_EDB;
        }
        int done = rc == 0 && PQntuples(r) > 0;
        PQclear(r);
        if (rc || done)
            continue;
        if ((rc = exec_ok(conn, "BEGIN", err, n)))
            break;
        char sub[900];
        if ((rc = exec_ok(conn, schema_files[i].sql, sub, sizeof sub))) {
            snprintf(err, n, "migration %s: %s", name, sub);
            PQclear(PQexec(conn, "ROLLBACK"));
            break;
        }
        r = PQexecParams(conn, "INSERT INTO corridor.migrations(name) VALUES ($1)", 1, NULL,
                         params, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            snprintf(err, n, "%s", PQresultErrorMessage(r));
            rc = CORE_EDB;
        }
        PQclear(r);
        if (rc || (rc = exec_ok(conn, "COMMIT", err, n))) {
            PQclear(PQexec(conn, "ROLLBACK"));
            break;
        }
        core_info("schema", "applied migration %s", name);
        applied++;
    }
    char ignore[8];
    exec_ok(conn, unlock, ignore, sizeof ignore);
    if (rc == 0)
        rc = schema_ensure_partitions(conn, err, n);
    return rc ? rc : applied;
}

int schema_ensure_partitions(PGconn *conn, char *err, size_t n)
{
    return exec_ok(conn, "SELECT corridor.ensure_partitions(7, 7)", err, n);
}
