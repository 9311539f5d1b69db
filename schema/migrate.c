/*
 * migrate.c: applies the embedded schema (schema.h). Runs on main() at start-up, in
 * `corridord migrate` and `corridord token`, with a connection the caller owns.
 */
#include "schema.h"
#include "core.h"

#include <stdlib.h>
#include <string.h>

#define MOD      "schema"
#define LOCK_KEY "1129270853"

/* The code the database runs, as one digest: every function and trigger of schema
 * corridor. Recorded after the rule files are applied (the rule_files row "catalogue"), so
 * a function changed by hand since then is seen as well as a database migrated by another
 * corridord. */
#define CATALOGUE_MD5                                                                              \
    "SELECT md5(coalesce(string_agg(d, E'\\n' ORDER BY d), '')) FROM ("                            \
    " SELECT pg_get_functiondef(p.oid) AS d FROM pg_proc p"                                        \
    " WHERE p.pronamespace = 'corridor'::regnamespace AND p.prokind IN ('f', 'p')"                 \
    " UNION ALL SELECT pg_get_triggerdef(t.oid) FROM pg_trigger t"                                 \
    " JOIN pg_class c ON c.oid = t.tgrelid"                                                        \
    " WHERE c.relnamespace = 'corridor'::regnamespace AND NOT t.tgisinternal) x"

static int exec_ok(PGconn *conn, const char *sql, char *err, size_t n)
{
    PGresult *r = PQexec(conn, sql);
    /* a migration whose code moved to the rule files may hold comments only */
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK ||
             PQresultStatus(r) == PGRES_EMPTY_QUERY;
    if (!ok)
        snprintf(err, n, "%s", PQresultErrorMessage(r));
    PQclear(r);
    return ok ? 0 : CORE_EDB;
}

static int exec_params(PGconn *conn, const char *sql, int np, const char *const *vals, char *err,
                       size_t n)
{
    PGresult *r = PQexecParams(conn, sql, np, NULL, vals, NULL, NULL, 0);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    if (!ok)
        snprintf(err, n, "%s", PQresultErrorMessage(r));
    PQclear(r);
    return ok ? 0 : CORE_EDB;
}

static const struct schema_file *find(const struct schema_file *files, size_t nfiles,
                                      const char *name)
{
    for (size_t i = 0; i < nfiles; i++)
        if (strcmp(files[i].name, name) == 0)
            return &files[i];
    return NULL;
}

/* What the database records, next to what the binary carries. */
struct state {
    unsigned char *applied;  /* per schema_migrations[i]: recorded */
    unsigned char *unsummed; /* recorded by a runner that kept no checksum */
    size_t pending;
    size_t nunsummed;
    int rules_same;
};

/* Reads the records and judges them. Returns 0, or CORE_EDB with the reason in err: a
 * query failed, a recorded migration changed, or the database is newer than the binary. */
static int read_state(PGconn *conn, struct state *st, char *err, size_t n)
{
    memset(st, 0, sizeof *st);
    st->applied = calloc(schema_n_migrations + 1, 1);
    st->unsummed = calloc(schema_n_migrations + 1, 1);
    if (!st->applied || !st->unsummed) {
        snprintf(err, n, "out of memory");
        return CORE_EDB;
    }
    PGresult *r = PQexec(conn, "SELECT name, checksum FROM corridor.migrations");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        snprintf(err, n, "%s", PQresultErrorMessage(r));
        PQclear(r);
        return CORE_EDB;
    }
    int rc = 0;
    for (int i = 0; rc == 0 && i < PQntuples(r); i++) {
        const char *name = PQgetvalue(r, i, 0);
        const struct schema_file *f = find(schema_migrations, schema_n_migrations, name);
        if (!f) {
            snprintf(err, n,
                     "the database has migration %s, which this corridord does not carry: "
                     "it was migrated by a newer version",
                     name);
            rc = CORE_EDB;
        } else if (PQgetisnull(r, i, 1)) {
            st->unsummed[f - schema_migrations] = 1;
            st->nunsummed++;
        } else if (strcmp(PQgetvalue(r, i, 1), f->sha256) != 0) {
            snprintf(err, n,
                     "migration %s was changed after it was applied (the database recorded "
                     "sha256 %.16s..., this corridord carries %.16s...): a migration is never "
                     "edited, a new one is added",
                     name, PQgetvalue(r, i, 1), f->sha256);
            rc = CORE_EDB;
        }
        if (f)
            st->applied[f - schema_migrations] = 1;
    }
    PQclear(r);
    for (size_t i = 0; i < schema_n_migrations; i++)
        st->pending += !st->applied[i];
    if (rc)
        return rc;

    r = PQexec(conn,
               "SELECT name, checksum, checksum = CASE name WHEN 'catalogue' THEN (" CATALOGUE_MD5
               ") END FROM corridor.rule_files");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        snprintf(err, n, "%s", PQresultErrorMessage(r));
        PQclear(r);
        return CORE_EDB;
    }
    /* every rule file with this binary's checksum, and the catalogue as it was left */
    st->rules_same = (size_t)PQntuples(r) == schema_n_rules + 1;
    for (int i = 0; st->rules_same && i < PQntuples(r); i++) {
        const char *name = PQgetvalue(r, i, 0);
        const struct schema_file *f = find(schema_rules, schema_n_rules, name);
        if (f)
            st->rules_same = strcmp(PQgetvalue(r, i, 1), f->sha256) == 0;
        else
            st->rules_same = strcmp(name, "catalogue") == 0 && PQgetvalue(r, i, 2)[0] == 't';
    }
    PQclear(r);
    return 0;
}

static void state_free(struct state *st)
{
    free(st->applied);
    free(st->unsummed);
}

/* Drops the functions and triggers of schema corridor that this transaction did not
 * (re)create: the rule files define all the code, so anything else is a leftover of an
 * older version. CREATE OR REPLACE rewrites the catalogue row, which then carries this
 * transaction's id. Triggers go first: a trigger's function cannot be dropped under it. */
static int drop_leftovers(PGconn *conn, char *err, size_t n)
{
    static const char *const lists[] = {
        "SELECT format('DROP TRIGGER %I ON %s', t.tgname, t.tgrelid::regclass)"
        " FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
        " WHERE c.relnamespace = 'corridor'::regnamespace AND NOT t.tgisinternal"
        "   AND t.xmin <> pg_current_xact_id()::xid",
        "SELECT format('DROP FUNCTION %s', p.oid::regprocedure) FROM pg_proc p"
        " WHERE p.pronamespace = 'corridor'::regnamespace"
        "   AND p.xmin <> pg_current_xact_id()::xid",
    };
    for (size_t l = 0; l < sizeof lists / sizeof lists[0]; l++) {
        PGresult *r = PQexec(conn, lists[l]);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            snprintf(err, n, "%s", PQresultErrorMessage(r));
            PQclear(r);
            return CORE_EDB;
        }
        for (int i = 0; i < PQntuples(r); i++) {
            const char *sql = PQgetvalue(r, i, 0);
            char sub[600];
            if (exec_ok(conn, sql, sub, sizeof sub)) {
                snprintf(err, n, "%s: %s", sql, sub);
                PQclear(r);
                return CORE_EDB;
            }
            core_info(MOD, "%s: no rule file defines it any more", sql);
        }
        PQclear(r);
    }
    return 0;
}

/* The pending migrations, then (when asked) the rule files; in the caller's transaction. */
static int apply(PGconn *conn, const struct state *st, int rules, char *err, size_t n)
{
    char sub[900];
    for (size_t i = 0; i < schema_n_migrations; i++) {
        const struct schema_file *f = &schema_migrations[i];
        const char *vals[2] = {f->name, f->sha256};
        if (st->unsummed[i]) {
            if (exec_params(conn, "UPDATE corridor.migrations SET checksum = $2 WHERE name = $1", 2,
                            vals, err, n))
                return CORE_EDB;
            continue;
        }
        if (st->applied[i])
            continue;
        if (exec_ok(conn, f->sql, sub, sizeof sub)) {
            snprintf(err, n, "migration %s: %s", f->name, sub);
            return CORE_EDB;
        }
        if (exec_params(conn, "INSERT INTO corridor.migrations(name, checksum) VALUES ($1, $2)", 2,
                        vals, err, n))
            return CORE_EDB;
        core_info(MOD, "applied migration %s", f->name);
    }
    if (!rules)
        return 0;
    /* rule files may name each other's functions in any order: SQL-language bodies are
     * checked when they run (and by the pgTAP suites), as pg_dump restores them */
    if (exec_ok(conn, "SET LOCAL check_function_bodies = off", err, n) ||
        exec_ok(conn, "DELETE FROM corridor.rule_files", err, n))
        return CORE_EDB;
    for (size_t i = 0; i < schema_n_rules; i++) {
        const struct schema_file *f = &schema_rules[i];
        const char *vals[2] = {f->name, f->sha256};
        if (exec_ok(conn, f->sql, sub, sizeof sub)) {
            snprintf(err, n, "rules/%s: %s", f->name, sub);
            return CORE_EDB;
        }
        if (exec_params(conn, "INSERT INTO corridor.rule_files(name, checksum) VALUES ($1, $2)", 2,
                        vals, err, n))
            return CORE_EDB;
    }
    if (drop_leftovers(conn, err, n) ||
        exec_ok(
            conn,
            "INSERT INTO corridor.rule_files(name, checksum) VALUES ('catalogue', (" CATALOGUE_MD5
            "))",
            err, n))
        return CORE_EDB;
    core_info(MOD, "applied the %zu rule files", schema_n_rules);
    return 0;
}

static int bootstrap(PGconn *conn, char *err, size_t n)
{
    return exec_ok(conn,
                   "CREATE SCHEMA IF NOT EXISTS corridor;"
                   "CREATE TABLE IF NOT EXISTS corridor.migrations ("
                   " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now());"
                   "ALTER TABLE corridor.migrations ADD COLUMN IF NOT EXISTS checksum text;"
                   "CREATE TABLE IF NOT EXISTS corridor.rule_files ("
                   " name text PRIMARY KEY, checksum text NOT NULL,"
                   " applied_at timestamptz NOT NULL DEFAULT now())",
                   err, n);
}

int schema_migrate_rules(PGconn *conn, int force_rules, char *err, size_t n)
{
    struct state st = {0};
    int rc;

    if ((rc = exec_ok(conn, "SET client_min_messages = warning", err, n)) ||
        (rc = exec_ok(conn, "SELECT pg_advisory_lock(" LOCK_KEY ")", err, n)))
        return rc;
    if ((rc = bootstrap(conn, err, n)) == 0 && (rc = read_state(conn, &st, err, n)) == 0) {
        int rules = force_rules || !st.rules_same || st.pending > 0;
        if (!st.rules_same && !force_rules)
            core_warn(MOD, "the database runs other code than this corridord's rule files "
                           "(another version's, or a function changed by hand): applying "
                           "this corridord's");
        if (rules || st.nunsummed) {
            if ((rc = exec_ok(conn, "BEGIN", err, n)) == 0 &&
                (rc = apply(conn, &st, rules, err, n)) == 0)
                rc = exec_ok(conn, "COMMIT", err, n);
            if (rc)
                PQclear(PQexec(conn, "ROLLBACK"));
        }
    }
    size_t applied = st.pending;
    state_free(&st);
    char ignore[8];
    exec_ok(conn, "SELECT pg_advisory_unlock(" LOCK_KEY ")", ignore, sizeof ignore);
    if (rc == 0)
        rc = schema_ensure_partitions(conn, err, n);
    return rc ? rc : (int)applied;
}

int schema_migrate(PGconn *conn, char *err, size_t n)
{
    return schema_migrate_rules(conn, 0, err, n);
}

int schema_check(PGconn *conn, char *err, size_t n)
{
    struct state st = {0};
    int rc = read_state(conn, &st, err, n);
    if (rc == 0) {
        rc = st.pending == 0 && st.nunsummed == 0 && st.rules_same;
        if (!rc)
            snprintf(err, n, "%zu migration%s pending, rule files %s", st.pending,
                     st.pending == 1 ? "" : "s", st.rules_same ? "the same" : "differ");
    }
    state_free(&st);
    return rc;
}

int schema_ensure_partitions(PGconn *conn, char *err, size_t n)
{
    return exec_ok(conn, "SELECT corridor.ensure_partitions(7, 7)", err, n);
}
