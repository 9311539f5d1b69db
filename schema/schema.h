/*
 * schema.h: the database schema, compiled into the binary, and the runner that applies it.
 *
 * Two kinds of file (docs/schema.md):
 *   migrations/NNN_name.sql  what changes stored data: tables, columns, indexes, seed rows,
 *                            data moves. Applied once each, in name order, and recorded in
 *                            corridor.migrations with their SHA-256; a recorded migration is
 *                            never edited (the runner refuses one whose checksum changed).
 *   rules/NAME.sql           the code: every function and trigger of this version, one file
 *                            per rule family, applied whole on `corridord migrate` (CREATE OR
 *                            REPLACE) and recorded in corridor.rule_files with their SHA-256,
 *                            so start-up can tell that the database runs other code than the
 *                            binary. A function or trigger in schema corridor that no rule
 *                            file defines any more is dropped.
 * Pending migrations and the rules are applied in one transaction.
 */
#ifndef CORRIDOR_SCHEMA_H
#define CORRIDOR_SCHEMA_H

#include <libpq-fe.h>
#include <stddef.h>

struct schema_file {
    const char *name; /* "001_base.sql", "ingest.sql" */
    const char *sql;  /* NUL-terminated text */
    size_t len;
    const char *sha256; /* of the text, lowercase hex */
};
extern const struct schema_file schema_migrations[]; /* in name order */
extern const size_t schema_n_migrations;
extern const struct schema_file schema_rules[]; /* in the order schema/CMakeLists.txt gives */
extern const size_t schema_n_rules;

/* Applies every migration not yet recorded and, when the database does not run this
 * binary's rule files (or always, with force_rules), all of them, in one transaction.
 * Serialised across processes with an advisory lock, so two servers starting at once
 * cannot both migrate. Refuses (CORE_EDB, the reason in err) a database with a recorded
 * migration whose text changed or that this binary does not carry. Returns the number of
 * migrations applied (>= 0). Runs on the caller's thread, with a connection it owns. */
int schema_migrate(PGconn *conn, char *err, size_t n);
int schema_migrate_rules(PGconn *conn, int force_rules, char *err, size_t n);

/* 1 when the database runs exactly this binary's migrations and rule files, 0 when not
 * (what differs in err), CORE_EDB when it cannot tell. For a server started with
 * --no-migrate. */
int schema_check(PGconn *conn, char *err, size_t n);

/* Creates the daily position partitions around today (corridor.ensure_partitions).
 * Returns 0 or CORE_EDB. */
int schema_ensure_partitions(PGconn *conn, char *err, size_t n);

#endif
