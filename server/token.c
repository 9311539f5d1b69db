/*
 * token.c: `corridord token create|list|revoke`, the API tokens of docs/security.md.
 *
 * A token is "cor_" and 64 hex digits of getrandom(); it is printed once on stdout and
 * only its SHA-256 goes to the database (corridor.tokens, schema/rules/tokens.sql), so the
 * database never holds a usable secret. The web gateway (web/auth.c) and the dispatch
 * stage (alerts/dispatch.c) hash what a caller presents the same way and look it up.
 *
 * Runs on main() of a short-lived process; owns one PGconn for the command.
 */
#include "token.h"
#include "cli.h"

#include "core.h"

#include <ctype.h>
#include <errno.h>
#include <libpq-fe.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define TOKEN_BYTES 32

static void usage(FILE *out)
{
    fprintf(out, "usage: corridord token create --role ROLE [--country ISO2] [--unit RRU_ID] "
                 "[--name NAME] [--db CONNINFO]\n"
                 "       corridord token list [--db CONNINFO]\n"
                 "       corridord token revoke ID [--db CONNINFO]\n"
                 "  create  prints a new API token once on stdout; only its SHA-256 is stored\n"
                 "          ROLE: admin, officer, arming, rru (needs --unit), partner (needs "
                 "--country)\n"
                 "  list    the tokens without their secrets\n"
                 "  revoke  refuses the token from now on (within 30 s on a running server)\n"
                 "  --db    libpq conninfo (else $CORRIDOR_DB, else libpq defaults)\n");
}

/* The hex SHA-256 of token into hex (65 bytes). 0 or CORE_EINVAL. */
static int hash_hex(const char *token, char hex[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (!EVP_Digest(token, strlen(token), md, &n, EVP_sha256(), NULL) || n != 32)
        return CORE_EINVAL;
    for (unsigned i = 0; i < n; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    return 0;
}

/* A fresh token "cor_<64 hex>" into out (69 bytes). 0 or -errno. */
static int new_token(char out[69])
{
    unsigned char raw[TOKEN_BYTES];
    size_t got = 0;
    while (got < sizeof raw) {
        ssize_t r = getrandom(raw + got, sizeof raw - got, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        got += (size_t)r;
    }
    memcpy(out, "cor_", 4);
    for (size_t i = 0; i < sizeof raw; i++)
        snprintf(out + 4 + 2 * i, 3, "%02x", raw[i]);
    return 0;
}

static int valid_role(const char *r)
{
    static const char *const roles[] = {"admin", "officer", "arming", "rru", "partner"};
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++)
        if (strcmp(r, roles[i]) == 0)
            return 1;
    return 0;
}

static int bad(const char *fmt, const char *arg)
{
    return srv_cli_bad("token", fmt, arg);
}

static int cmd_create(const char *conninfo, const char *role, const char *country, const char *unit,
                      const char *name)
{
    char token[69], hex[67], defname[128];
    if (!role)
        return bad("create needs --role (admin, officer, arming, rru, partner)%s", "");
    if (!valid_role(role))
        return bad("--role: expected admin, officer, arming, rru or partner, got \"%s\"", role);
    if (strcmp(role, "partner") == 0) {
        if (!country || strlen(country) != 2 || !isupper((unsigned char)country[0]) ||
            !isupper((unsigned char)country[1]))
            return bad("a partner token needs --country ISO2 (two capital letters, e.g. UG)%s", "");
    } else if (country) {
        return bad("--country is only for --role partner%s", "");
    }
    if (strcmp(role, "rru") == 0) {
        if (!unit || !*unit || strlen(unit) > 64)
            return bad("an rru token needs --unit RRU_ID (1 to 64 characters)%s", "");
    } else if (unit) {
        return bad("--unit is only for --role rru%s", "");
    }
    if (name && (strlen(name) < 1 || strlen(name) > 100))
        return bad("--name: 1 to 100 characters%s", "");
    if (!name) {
        snprintf(defname, sizeof defname, "%s%s%s", role, country || unit ? "-" : "",
                 country ? country
                 : unit  ? unit
                         : "");
        name = defname;
    }
    int rc = new_token(token);
    if (rc) {
        fprintf(stderr, "corridord token: getrandom: %s\n", strerror(-rc));
        return 1;
    }
    hex[0] = '\\';
    hex[1] = 'x';
    if (hash_hex(token, hex + 2)) {
        fprintf(stderr, "corridord token: cannot hash the token\n");
        return 1;
    }
    PGconn *db = srv_cli_connect("token", conninfo);
    if (!db)
        return 1;
    const char *vals[5] = {name, role, country, unit, hex};
    PGresult *r = PQexecParams(db,
                               "INSERT INTO corridor.tokens (name, role, country, unit_id, hash)"
                               " VALUES ($1, $2, $3, $4, $5::bytea) RETURNING id",
                               5, NULL, vals, NULL, NULL, 0);
    int st = 0;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
        printf("%s\n", token);
        fflush(stdout);
        fprintf(stderr, "corridord token: created token %s (%s, role %s%s%s)\n",
                PQgetvalue(r, 0, 0), name, role,
                country ? ", country "
                : unit  ? ", unit "
                        : "",
                country ? country
                : unit  ? unit
                        : "");
    } else {
        const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        if (state && strcmp(state, "23503") == 0) {
            fprintf(stderr, "corridord token: %s\n",
                    country ? "unknown country (not in corridor.countries)"
                            : "unknown unit (not in corridor.rrus)");
            st = 2;
        } else {
            fprintf(stderr, "corridord token: %s", PQresultErrorMessage(r));
            st = 1;
        }
    }
    PQclear(r);
    PQfinish(db);
    return st;
}

static int cmd_list(const char *conninfo)
{
    PGconn *db = srv_cli_connect("token", conninfo);
    if (!db)
        return 1;
    PGresult *r =
        PQexec(db, "SELECT id, role, coalesce(country, unit_id, '-'), name,"
                   " to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
                   " coalesce(to_char(last_used_at AT TIME ZONE 'UTC',"
                   "  'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '-'),"
                   " coalesce(to_char(revoked_at AT TIME ZONE 'UTC',"
                   "  'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '-')"
                   " FROM corridor.tokens ORDER BY id");
    int st = 0;
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        fprintf(stderr, "corridord token: %s", PQresultErrorMessage(r));
        st = 1;
    } else {
        printf("%-6s %-8s %-10s %-24s %-20s %-20s %s\n", "ID", "ROLE", "SCOPE", "NAME", "CREATED",
               "LAST_USED", "REVOKED");
        for (int i = 0; i < PQntuples(r); i++)
            printf("%-6s %-8s %-10s %-24s %-20s %-20s %s\n", PQgetvalue(r, i, 0),
                   PQgetvalue(r, i, 1), PQgetvalue(r, i, 2), PQgetvalue(r, i, 3),
                   PQgetvalue(r, i, 4), PQgetvalue(r, i, 5), PQgetvalue(r, i, 6));
    }
    PQclear(r);
    PQfinish(db);
    return st;
}

static int cmd_revoke(const char *conninfo, const char *id)
{
    size_t n = strlen(id);
    int digits = n >= 1 && n <= 18;
    for (size_t i = 0; digits && i < n; i++)
        digits = isdigit((unsigned char)id[i]) != 0;
    if (!digits)
        return bad("revoke needs a token id (a number, see token list), got \"%s\"", id);
    PGconn *db = srv_cli_connect("token", conninfo);
    if (!db)
        return 1;
    const char *vals[1] = {id};
    PGresult *r = PQexecParams(db,
                               "UPDATE corridor.tokens SET revoked_at = now()"
                               " WHERE id = $1::bigint AND revoked_at IS NULL RETURNING name",
                               1, NULL, vals, NULL, NULL, 0);
    int st = 0;
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        fprintf(stderr, "corridord token: %s", PQresultErrorMessage(r));
        st = 1;
    } else if (PQntuples(r) == 0) {
        fprintf(stderr, "corridord token: no active token with id %s\n", id);
        st = 1;
    } else {
        fprintf(stderr, "corridord token: revoked token %s (%s)\n", id, PQgetvalue(r, 0, 0));
    }
    PQclear(r);
    PQfinish(db);
    return st;
}

int srv_token_main(int argc, char **argv)
{
    const char *cmd = NULL, *arg = NULL, *role = NULL, *country = NULL, *unit = NULL, *name = NULL,
               *db = getenv("CORRIDOR_DB");
    for (int i = 0; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char **dst = strcmp(a, "--role") == 0      ? &role
                           : strcmp(a, "--country") == 0 ? &country
                           : strcmp(a, "--unit") == 0    ? &unit
                           : strcmp(a, "--name") == 0    ? &name
                           : strcmp(a, "--db") == 0      ? &db
                                                         : NULL;
        if (dst) {
            if (i + 1 >= argc)
                return bad("%s needs a value", a);
            *dst = argv[++i];
        } else if (strncmp(a, "--", 2) == 0) {
            return bad("unknown option \"%s\" (see corridord token --help)", a);
        } else if (!cmd) {
            cmd = a;
        } else if (!arg) {
            arg = a;
        } else {
            return bad("unexpected argument \"%s\"", a);
        }
    }
    if (!cmd)
        return bad("expected create, list or revoke (see corridord token --help)%s", "");
    if (strcmp(cmd, "create") == 0 && !arg)
        return cmd_create(db, role, country, unit, name);
    if (strcmp(cmd, "list") == 0 && !arg && !role && !country && !unit && !name)
        return cmd_list(db);
    if (strcmp(cmd, "revoke") == 0 && !role && !country && !unit && !name) {
        if (!arg)
            return bad("revoke needs a token id%s", "");
        return cmd_revoke(db, arg);
    }
    if (strcmp(cmd, "create") != 0 && strcmp(cmd, "list") != 0 && strcmp(cmd, "revoke") != 0)
        return bad("unknown command \"%s\" (expected create, list or revoke)", cmd);
    return bad("wrong arguments for \"%s\" (see corridord token --help)", cmd);
}
