/*
 * schema.h: the database schema, compiled into the binary, and the migration runner.
 * Migrations are the numbered files schema/NNN_name.sql, applied in order, each in its
 * own transaction, recorded in corridor.migrations.
 */
#ifndef CORRIDOR_SCHEMA_H
#define CORRIDOR_SCHEMA_H

#include <libpq-fe.h>
#include <stddef.h>

struct schema_file {
    const char *name; /* "001_base.sql" */
    const char *sql;  /* NUL-terminated text */
    size_t len;
};
extern const struct schema_file schema_files[];
extern const size_t schema_n_files;

/* Applies every migration not yet recorded. Serialised across processes with an advisory
 * lock, so two servers starting at once cannot both migrate. Returns the number applied
 * (>= 0), or CORE_EDB with the server's message in err. Runs on the caller's thread. */
int schema_migrate(PGconn *conn, char *err, size_t n);

/* Creates the daily position partitions around today (corridor.ensure_partitions).
 * Returns 0 or CORE_EDB. */
int schema_ensure_partitions(PGconn *conn, char *err, size_t n);

#endif
