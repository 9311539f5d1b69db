/*
 * user.c: `corridord user create|list|disable|reset|sessions`, the officer accounts of
 * docs/security.md (modelled on token.c).
 *
 * A password is read from --password-file (its first line), else from the terminal
 * (asked twice, not echoed), else from the first line of stdin; it is hashed here with
 * Argon2id (web_password_hash) and only the encoding reaches the database. Disable and
 * reset end the account's sessions at once (schema/rules/accounts.sql). Each change is
 * audited with the actor "cli:<login>" of the person running the command.
 *
 * Runs on main() of a short-lived process; owns one PGconn for the command.
 */
#include "user.h"
#include "cli.h"

#include "core.h"
#include "web.h"

#include <errno.h>
#include <libpq-fe.h>
#include <openssl/crypto.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

static const char *const usage_create =
    "usage: corridord user create NAME --role ROLE [--display \"FULL NAME\"]\n"
    "                             [--password-file FILE] [--db CONNINFO]\n"
    "  makes an account that signs in to the pages; NAME: 1 to 64 of a-z 0-9 . _ -\n"
    "  ROLE: admin, officer or arming (rru and partner stay API tokens)\n"
    "  the password (at least 10 characters) comes from --password-file (first line),\n"
    "  else the terminal (asked twice, not shown), else the first line of stdin\n";
static const char *const usage_list = "usage: corridord user list [--db CONNINFO]\n"
                                      "  the accounts: name, role, state, open sessions\n";
static const char *const usage_disable =
    "usage: corridord user disable NAME [--db CONNINFO]\n"
    "  refuses the account's sign-ins and ends all its sessions at once\n";
static const char *const usage_reset =
    "usage: corridord user reset NAME [--password-file FILE] [--db CONNINFO]\n"
    "  sets a new password (read as for create), clears a lockout, ends all sessions\n";
static const char *const usage_sessions =
    "usage: corridord user sessions NAME [--db CONNINFO]\n"
    "  the account's sessions that have not reached their absolute end\n";

static void usage(FILE *out)
{
    fprintf(out, "%s%s%s%s%s  --db  libpq conninfo (else $CORRIDOR_DB, else libpq defaults)\n",
            usage_create, usage_list, usage_disable, usage_reset, usage_sessions);
}

static int bad(const char *fmt, const char *arg)
{
    return srv_cli_bad("user", fmt, arg);
}

/* "cli:<login>", the actor of the audit trail. */
static void actor_of(char *buf, size_t n)
{
    struct passwd *pw = getpwuid(getuid());
    snprintf(buf, n, "cli:%s", pw && pw->pw_name ? pw->pw_name : "unknown");
}

/* One line of f into buf without its end of line: 0, or -1 at end of file. */
static int read_line(FILE *f, char *buf, size_t n)
{
    if (!fgets(buf, (int)n, f))
        return -1;
    buf[strcspn(buf, "\r\n")] = '\0';
    return 0;
}

/* Asks for a password on the terminal with echo off. 0 or -1. */
static int ask(FILE *tty, const char *prompt, char *buf, size_t n)
{
    struct termios old, quiet;
    int fd = fileno(tty);
    if (tcgetattr(fd, &old) != 0)
        return -1;
    quiet = old;
    quiet.c_lflag &= ~(tcflag_t)ECHO;
    fprintf(tty, "%s", prompt);
    fflush(tty);
    tcsetattr(fd, TCSAFLUSH, &quiet);
    int rc = read_line(tty, buf, n);
    tcsetattr(fd, TCSAFLUSH, &old);
    fprintf(tty, "\n");
    return rc;
}

/* The new password into pw (WEB_PASSWORD_MAX + 2 bytes): 0, or an exit status. */
static int get_password(const char *file, char *pw, size_t n)
{
    int rc = 0;
    if (file) {
        FILE *f = fopen(file, "r");
        if (!f) {
            fprintf(stderr, "corridord user: --password-file %s: %s\n", file, strerror(errno));
            return 2;
        }
        rc = read_line(f, pw, n);
        fclose(f);
    } else if (isatty(STDIN_FILENO)) {
        char again[WEB_PASSWORD_MAX + 2];
        FILE *tty = fopen("/dev/tty", "r+");
        if (!tty)
            return bad("cannot open the terminal to ask for the password%s", "");
        rc = ask(tty, "password: ", pw, n);
        if (!rc)
            rc = ask(tty, "again: ", again, sizeof again);
        fclose(tty);
        if (!rc && strcmp(pw, again) != 0) {
            OPENSSL_cleanse(again, sizeof again);
            return bad("the two passwords differ%s", "");
        }
        OPENSSL_cleanse(again, sizeof again);
    } else {
        rc = read_line(stdin, pw, n);
    }
    if (rc)
        return bad("no password given (stdin, the terminal or --password-file)%s", "");
    size_t l = strlen(pw);
    if (l < WEB_PASSWORD_MIN || l > WEB_PASSWORD_MAX) {
        char lim[64];
        snprintf(lim, sizeof lim, "%d to %d", WEB_PASSWORD_MIN, WEB_PASSWORD_MAX);
        return bad("a password has %s characters", lim);
    }
    return 0;
}

/* Hashes a password from file/tty/stdin into hash: 0 or an exit status. */
static int new_hash(const char *file, char hash[WEB_PWHASH_MAX])
{
    char pw[WEB_PASSWORD_MAX + 2];
    int st = get_password(file, pw, sizeof pw);
    if (!st && web_password_hash(pw, hash, WEB_PWHASH_MAX) != 0) {
        fprintf(stderr, "corridord user: cannot hash the password\n");
        st = 1;
    }
    OPENSSL_cleanse(pw, sizeof pw);
    return st;
}

/* Runs one rule function of accounts.sql; prints what the database refused. */
static int run(PGconn *db, const char *sql, int n, const char *const *vals, PGresult **out)
{
    PGresult *r = PQexecParams(db, sql, n, NULL, vals, NULL, NULL, 0);
    if (PQresultStatus(r) == PGRES_TUPLES_OK) {
        *out = r;
        return 0;
    }
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
    fprintf(stderr, "corridord user: %s\n", msg ? msg : PQresultErrorMessage(r));
    int st = state && strncmp(state, "CT4", 3) == 0 ? 2 : 1;
    PQclear(r);
    return st;
}

static int cmd_create(const char *conninfo, const char *name, const char *role, const char *display,
                      const char *file)
{
    char hash[WEB_PWHASH_MAX], actor[128];
    if (!role)
        return bad("create needs --role (admin, officer or arming)%s", "");
    if (strcmp(role, "admin") != 0 && strcmp(role, "officer") != 0 && strcmp(role, "arming") != 0)
        return bad("--role: expected admin, officer or arming, got \"%s\"", role);
    PGconn *db = srv_cli_connect("user", conninfo);
    if (!db)
        return 1;
    int st = new_hash(file, hash);
    if (!st) {
        actor_of(actor, sizeof actor);
        const char *vals[5] = {name, display ? display : "", role, hash, actor};
        PGresult *r = NULL;
        st = run(db, "SELECT corridor.user_create($1, $2, $3, $4, $5)", 5, vals, &r);
        if (!st)
            fprintf(stderr, "corridord user: created %s (role %s)\n", name, role);
        PQclear(r);
    }
    OPENSSL_cleanse(hash, sizeof hash);
    PQfinish(db);
    return st;
}

static int cmd_list(const char *conninfo)
{
    PGconn *db = srv_cli_connect("user", conninfo);
    if (!db)
        return 1;
    PGresult *r = NULL;
    int st = run(db,
                 "SELECT u.name, u.role, CASE WHEN u.disabled THEN 'disabled'"
                 "  WHEN u.locked_until > now() THEN 'locked' ELSE 'active' END,"
                 " (SELECT count(*) FROM corridor.sessions s WHERE s.user_id = u.id"
                 "   AND s.expires_at > now()),"
                 " to_char(u.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
                 " u.display_name FROM corridor.users u ORDER BY u.name",
                 0, NULL, &r);
    if (!st) {
        printf("%-24s %-8s %-9s %-8s %-20s %s\n", "NAME", "ROLE", "STATE", "SESSIONS", "CREATED",
               "DISPLAY");
        for (int i = 0; i < PQntuples(r); i++)
            printf("%-24s %-8s %-9s %-8s %-20s %s\n", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
                   PQgetvalue(r, i, 2), PQgetvalue(r, i, 3), PQgetvalue(r, i, 4),
                   PQgetvalue(r, i, 5));
    }
    PQclear(r);
    PQfinish(db);
    return st;
}

static int cmd_disable(const char *conninfo, const char *name)
{
    char actor[128];
    PGconn *db = srv_cli_connect("user", conninfo);
    if (!db)
        return 1;
    actor_of(actor, sizeof actor);
    const char *vals[2] = {name, actor};
    PGresult *r = NULL;
    int st = run(db, "SELECT corridor.user_disable($1, $2)", 2, vals, &r);
    if (!st)
        fprintf(stderr, "corridord user: disabled %s; its sessions are ended\n", name);
    PQclear(r);
    PQfinish(db);
    return st;
}

static int cmd_reset(const char *conninfo, const char *name, const char *file)
{
    char hash[WEB_PWHASH_MAX], actor[128];
    PGconn *db = srv_cli_connect("user", conninfo);
    if (!db)
        return 1;
    const char *v1[1] = {name};
    PGresult *r = NULL;
    int st = run(db, "SELECT corridor.user_find($1)", 1, v1, &r); /* before asking */
    PQclear(r);
    r = NULL;
    if (!st)
        st = new_hash(file, hash);
    if (!st) {
        actor_of(actor, sizeof actor);
        const char *vals[3] = {name, hash, actor};
        st = run(db, "SELECT corridor.user_reset($1, $2, $3)", 3, vals, &r);
        if (!st)
            fprintf(stderr, "corridord user: new password for %s; its sessions are ended\n", name);
        PQclear(r);
    }
    OPENSSL_cleanse(hash, sizeof hash);
    PQfinish(db);
    return st;
}

static int cmd_sessions(const char *conninfo, const char *name)
{
    PGconn *db = srv_cli_connect("user", conninfo);
    if (!db)
        return 1;
    const char *vals[1] = {name};
    PGresult *r = NULL;
    int st = run(db, "SELECT corridor.user_find($1)", 1, vals, &r);
    PQclear(r);
    r = NULL;
    if (!st)
        st = run(db,
                 "SELECT s.id, to_char(s.created_at AT TIME ZONE 'UTC', "
                 "  'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
                 " to_char(s.last_seen AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
                 " to_char(s.expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
                 " coalesce(s.ip, '-'), coalesce(s.user_agent, '-')"
                 " FROM corridor.sessions s JOIN corridor.users u ON u.id = s.user_id"
                 " WHERE u.name = $1 AND s.expires_at > now() ORDER BY s.id",
                 1, vals, &r);
    if (!st) {
        printf("%-6s %-20s %-20s %-20s %-16s %s\n", "ID", "CREATED", "LAST_SEEN", "ENDS", "IP",
               "USER_AGENT");
        for (int i = 0; i < PQntuples(r); i++)
            printf("%-6s %-20s %-20s %-20s %-16s %s\n", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
                   PQgetvalue(r, i, 2), PQgetvalue(r, i, 3), PQgetvalue(r, i, 4),
                   PQgetvalue(r, i, 5));
    }
    PQclear(r);
    PQfinish(db);
    return st;
}

int srv_user_main(int argc, char **argv)
{
    const char *cmd = NULL, *name = NULL, *role = NULL, *display = NULL, *file = NULL,
               *db = getenv("CORRIDOR_DB");
    int help = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char **dst = strcmp(a, "--role") == 0            ? &role
                           : strcmp(a, "--display") == 0       ? &display
                           : strcmp(a, "--password-file") == 0 ? &file
                           : strcmp(a, "--db") == 0            ? &db
                                                               : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            help = 1;
        } else if (dst) {
            if (i + 1 >= argc)
                return bad("%s needs a value", a);
            *dst = argv[++i];
        } else if (strncmp(a, "--", 2) == 0) {
            return bad("unknown option \"%s\" (see corridord user --help)", a);
        } else if (!cmd) {
            cmd = a;
        } else if (!name) {
            name = a;
        } else {
            return bad("unexpected argument \"%s\"", a);
        }
    }
    const struct {
        const char *name, *usage;
    } cmds[] = {{"create", usage_create},
                {"list", usage_list},
                {"disable", usage_disable},
                {"reset", usage_reset},
                {"sessions", usage_sessions}};
    const char *which = NULL;
    for (size_t i = 0; cmd && i < sizeof cmds / sizeof cmds[0]; i++)
        if (strcmp(cmd, cmds[i].name) == 0)
            which = cmds[i].usage;
    if (help) {
        if (which)
            fputs(which, stdout);
        else
            usage(stdout);
        return 0;
    }
    if (!cmd)
        return bad("expected create, list, disable, reset or sessions (see --help)%s", "");
    if (!which)
        return bad("unknown command \"%s\" (expected create, list, disable, reset, sessions)", cmd);
    int is_list = strcmp(cmd, "list") == 0;
    if (is_list && name)
        return bad("list takes no NAME, got \"%s\"", name);
    if (!is_list && !name)
        return bad("%s needs a user NAME", cmd);
    if (strcmp(cmd, "create") != 0 && (role || display))
        return bad("--role and --display are only for create (%s)", cmd);
    if (file && strcmp(cmd, "create") != 0 && strcmp(cmd, "reset") != 0)
        return bad("--password-file is only for create and reset (%s)", cmd);
    if (strcmp(cmd, "create") == 0)
        return cmd_create(db, name, role, display, file);
    if (is_list)
        return cmd_list(db);
    if (strcmp(cmd, "disable") == 0)
        return cmd_disable(db, name);
    if (strcmp(cmd, "reset") == 0)
        return cmd_reset(db, name, file);
    return cmd_sessions(db, name);
}
