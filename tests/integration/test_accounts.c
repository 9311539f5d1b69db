/*
 * test_accounts.c: officer accounts against the real corridord over HTTP
 * (docs/security.md): sign-in and the cookie's flags, the CSRF token required of cookie
 * requests that change state (and not of token requests), lockout after five failures
 * (429 with Retry-After, the same for a name that is no account), the idle timeout (the
 * server runs with --session-idle 2), sign-out, disable and reset ending sessions, an
 * admin's session managing accounts, the audit trails naming officer:NAME, nothing
 * secret in the server's log (at debug level); and `corridord user` itself.
 */
#include "harness.h"

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define PW_JANE  "correct horse battery staple"
#define PW_ADMIN "admin pass phrase 42"

static harness_server srv;
static char conninfo[128];
static PGconn *db;

/* An answer: status, the head (lower-cased header names as sent) and the body. */
typedef struct answer {
    int status;
    char head[4096];
    char body[1 << 16];
} answer;

/* A header line ("Origin: ...") the next requests also send, or NULL. */
static const char *extra_header;

/* One request on a new connection; cookie ("corridor_session=..."), csrf, token may be
 * NULL. Returns the status. */
static int req(answer *a, const char *method, const char *path, const char *cookie,
               const char *csrf, const char *token, const char *body)
{
    static char out[1 << 17];
    char rq[8192];
    size_t n = (size_t)snprintf(rq, sizeof rq,
                                "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n"
                                "User-Agent: test_accounts\r\n",
                                method, path, srv.http_port);
    if (cookie)
        n += (size_t)snprintf(rq + n, sizeof rq - n, "Cookie: theme=dark; %s\r\n", cookie);
    if (csrf)
        n += (size_t)snprintf(rq + n, sizeof rq - n, "X-CSRF-Token: %s\r\n", csrf);
    if (token)
        n += (size_t)snprintf(rq + n, sizeof rq - n, "Authorization: Bearer %s\r\n", token);
    if (extra_header)
        n += (size_t)snprintf(rq + n, sizeof rq - n, "%s\r\n", extra_header);
    if (body)
        n += (size_t)snprintf(rq + n, sizeof rq - n,
                              "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                              strlen(body), body);
    else
        n += (size_t)snprintf(rq + n, sizeof rq - n, "\r\n");
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)srv.http_port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert(fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0);
    ck_assert(write(fd, rq, n) == (ssize_t)n);
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    size_t got = 0;
    for (;;) {
        ssize_t r = read(fd, out + got, sizeof out - 1 - got);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    out[got] = '\0';
    memset(a, 0, sizeof *a);
    a->status = -1;
    sscanf(out, "HTTP/1.%*d %d", &a->status);
    char *sep = strstr(out, "\r\n\r\n");
    if (sep) {
        size_t hl = (size_t)(sep - out);
        if (hl >= sizeof a->head)
            hl = sizeof a->head - 1;
        memcpy(a->head, out, hl);
        snprintf(a->body, sizeof a->body, "%s", sep + 4);
    }
    return a->status;
}

/* The value of JSON string member key of text into out ("" when absent). */
static const char *json_str(const char *text, const char *key, char *out, size_t n)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":\"", key);
    const char *p = strstr(text, pat);
    out[0] = '\0';
    if (!p)
        return out;
    p += strlen(pat);
    size_t l = strcspn(p, "\"");
    if (l >= n)
        l = n - 1;
    memcpy(out, p, l);
    out[l] = '\0';
    return out;
}

/* A signed-in session: the Cookie pair and the CSRF token. */
typedef struct session {
    char cookie[128];
    char secret[80];
    char csrf[80];
} session;

/* Signs in: the status; *s filled on 200. */
static int sign_in(session *s, const char *name, const char *pw, answer *a)
{
    char body[512];
    snprintf(body, sizeof body, "{\"name\": \"%s\", \"password\": \"%s\"}", name, pw);
    memset(s, 0, sizeof *s);
    if (req(a, "POST", "/api/session", NULL, NULL, NULL, body) != 200)
        return a->status;
    const char *c = strstr(a->head, "set-cookie: corridor_session=");
    ck_assert_msg(c != NULL, "no cookie: %s", a->head);
    c += strlen("set-cookie: corridor_session=");
    size_t l = strcspn(c, ";\r");
    ck_assert_int_eq(l, 64);
    memcpy(s->secret, c, l);
    snprintf(s->cookie, sizeof s->cookie, "corridor_session=%s", s->secret);
    json_str(a->body, "csrf", s->csrf, sizeof s->csrf);
    ck_assert_int_eq(strlen(s->csrf), 64);
    return 200;
}

/* Runs corridord with args (a shell fragment), stdin from input when set: exit status. */
static int cli(const char *args, const char *input, char *out, size_t n)
{
    char cmd[2048], path[256];
    snprintf(path, sizeof path, "%s/test-logs/accounts-cli-%d.out", getenv("CORRIDOR_BUILD"),
             (int)getpid());
    snprintf(cmd, sizeof cmd, "%s%s%s '%s/corridord' %s --db '%s' > '%s' 2>&1",
             input ? "printf '%s\\n' '" : "", input ? input : "", input ? "' |" : "",
             getenv("CORRIDOR_BUILD"), args, conninfo, path);
    int st = system(cmd);
    FILE *f = fopen(path, "r");
    size_t got = f ? fread(out, 1, n - 1, f) : 0;
    if (f)
        fclose(f);
    out[got] = '\0';
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void setup(void)
{
    char out[4096];
    snprintf(conninfo, sizeof conninfo, "%s", harness_db_create("accounts_test"));
    harness_server_start(&srv, conninfo, "--session-idle", "2", "--log-level", "debug", NULL);
    db = harness_connect(conninfo);
    ck_assert_int_eq(cli("user create jane.wanjiru --role officer --display 'Jane Wanjiru'",
                         PW_JANE, out, sizeof out),
                     0);
    ck_assert_int_eq(cli("user create ops.lead --role admin", PW_ADMIN, out, sizeof out), 0);
}

static void teardown(void)
{
    if (srv.pid > 0)
        harness_server_stop(&srv, 0);
    PQfinish(db);
}

START_TEST(sign_in_cookie_and_csrf)
{
    static answer a;
    session s;
    ck_assert_int_eq(sign_in(&s, "jane.wanjiru", PW_JANE, &a), 200);
    ck_assert_ptr_nonnull(strstr(a.body, "\"role\":\"officer\""));
    ck_assert_ptr_nonnull(strstr(a.body, "\"actor\":\"officer:jane.wanjiru\""));
    /* the flags: HttpOnly, SameSite=Strict, Path=/, and no Secure without TLS */
    const char *c = strstr(a.head, "set-cookie:");
    char line[256];
    snprintf(line, sizeof line, "%.*s", (int)strcspn(c, "\r"), c);
    ck_assert_msg(strstr(line, "; HttpOnly") && strstr(line, "; SameSite=Strict") &&
                      strstr(line, "; Path=/") && strstr(line, "Max-Age=43200") &&
                      !strstr(line, "Secure"),
                  "%s", line);
    /* only hashes in the database */
    const char *v[1] = {s.secret};
    ck_assert_int_eq(
        harness_query_long_params(
            db, "SELECT count(*) FROM corridor.sessions WHERE hash = sha256($1::bytea)", 1, v),
        1);
    ck_assert_int_eq(harness_query_long(db, "SELECT count(*) FROM corridor.users"
                                            " WHERE password_hash LIKE '$argon2id$v=19$m=19456%'"),
                     2);
    /* the session: who, its role's routes, not another's */
    ck_assert_int_eq(req(&a, "GET", "/api/session", s.cookie, NULL, NULL, NULL), 200);
    ck_assert_ptr_nonnull(strstr(a.body, "\"via\":\"session\""));
    char csrf[80];
    ck_assert_str_eq(json_str(a.body, "csrf", csrf, sizeof csrf), s.csrf);
    ck_assert_int_eq(req(&a, "GET", "/api/incidents", s.cookie, NULL, NULL, NULL), 200);
    ck_assert_int_eq(req(&a, "GET", "/api/users", s.cookie, NULL, NULL, NULL), 403);
    /* another site's page cannot sign the browser in; this server's own can */
    session x;
    extra_header = "Origin: http://evil.example";
    ck_assert_int_eq(sign_in(&x, "jane.wanjiru", PW_JANE, &a), 403);
    ck_assert_ptr_nonnull(strstr(a.body, "\"error\":\"cross_origin\""));
    char origin[64];
    snprintf(origin, sizeof origin, "Origin: http://127.0.0.1:%d", srv.http_port);
    extra_header = origin;
    ck_assert_int_eq(sign_in(&x, "jane.wanjiru", PW_JANE, &a), 200);
    extra_header = NULL;
    /* a wrong password, an unknown cookie */
    ck_assert_int_eq(sign_in(&x, "jane.wanjiru", "not the password", &a), 401);
    ck_assert_ptr_nonnull(strstr(a.body, "\"error\":\"signin_failed\""));
    ck_assert_ptr_null(strstr(a.head, "set-cookie"));
    ck_assert_int_eq(req(&a, "GET", "/api/incidents",
                         "corridor_session="
                         "00000000000000000000000000000000000000000000000000000000000000ff",
                         NULL, NULL, NULL),
                     401);
    /* CSRF: refused without the header and with a wrong one; accepted with it */
    const char *watch = "{\"mmsi\": 636012345, \"reason\": \"risky declaration\","
                        " \"declaration\": \"KE-2026-1\"}";
    ck_assert_int_eq(req(&a, "POST", "/api/watchlist", s.cookie, NULL, NULL, watch), 403);
    ck_assert_ptr_nonnull(strstr(a.body, "\"error\":\"csrf\""));
    ck_assert_int_eq(req(&a, "POST", "/api/watchlist", s.cookie,
                         "0000000000000000000000000000000000000000000000000000000000000000", NULL,
                         watch),
                     403);
    ck_assert_int_eq(harness_query_long(db, "SELECT count(*) FROM corridor.watchlist"), 0);
    ck_assert_int_eq(req(&a, "POST", "/api/watchlist", s.cookie, s.csrf, NULL, watch), 201);
    /* a token request needs no CSRF token, cookie or not */
    ck_assert_int_eq(req(&a, "POST", "/api/watchlist", NULL, NULL, srv.token,
                         "{\"mmsi\": 636012346, \"reason\": \"r\", \"declaration\": \"KE-2\"}"),
                     201);
    /* the audit names the officer */
    ck_assert_int_eq(harness_query_long(db, "SELECT count(*) FROM corridor.watchlist"
                                            " WHERE actor = 'officer:jane.wanjiru'"),
                     1);
    harness_exec(db, "INSERT INTO corridor.seals(id, protocol, device_id) VALUES"
                     " ('SEAL-1', 'jt808', '013800000001')");
    ck_assert_int_eq(req(&a, "POST", "/api/seals/SEAL-1/commands", s.cookie, s.csrf, NULL,
                         "{\"command\": \"locate\"}"),
                     201);
    ck_assert_int_eq(harness_query_long(db, "SELECT count(*) FROM corridor.command_audit"
                                            " WHERE actor = 'officer:jane.wanjiru'"),
                     1);
    harness_exec(db, "INSERT INTO corridor.incidents (rule, severity, subject, seal_id, opened_at)"
                     " VALUES ('seal_tampered', 'high', 'SEAL-1', 'SEAL-1', now())");
    long inc = harness_query_long(db, "SELECT max(id) FROM corridor.incidents");
    char ipath[96];
    snprintf(ipath, sizeof ipath, "/api/incidents/%ld/actions", inc);
    ck_assert_int_eq(req(&a, "POST", ipath, s.cookie, s.csrf, NULL,
                         "{\"action\": \"ack\", \"note\": \"on it\"}"),
                     200);
    ck_assert_int_eq(harness_query_long(db, "SELECT count(*) FROM corridor.incident_audit"
                                            " WHERE action = 'ack'"
                                            " AND actor = 'officer:jane.wanjiru'"),
                     1);
    /* sign-out: needs the CSRF token too, clears the cookie, ends the session */
    ck_assert_int_eq(req(&a, "DELETE", "/api/session", s.cookie, NULL, NULL, NULL), 403);
    ck_assert_int_eq(req(&a, "DELETE", "/api/session", s.cookie, s.csrf, NULL, NULL), 200);
    ck_assert_ptr_nonnull(strstr(a.head, "set-cookie: corridor_session=; Path=/"));
    ck_assert_ptr_nonnull(strstr(a.head, "Max-Age=0"));
    ck_assert_int_eq(req(&a, "GET", "/api/incidents", s.cookie, NULL, NULL, NULL), 401);
    ck_assert_int_eq(harness_query_long(db, "SELECT count(*) FROM corridor.sessions"), 1);
    ck_assert_int_eq(harness_query_long(db, "SELECT count(*) FROM corridor.user_audit"
                                            " WHERE action IN ('sign_in', 'sign_out')"),
                     3);
}
END_TEST

START_TEST(lockout_alike_for_unknown_names)
{
    static answer a;
    session s;
    const char *names[] = {"jane.wanjiru", "no.such.officer"};
    char bodies[2][5][512];
    for (int k = 0; k < 2; k++) {
        for (int i = 0; i < 4; i++) {
            ck_assert_int_eq(sign_in(&s, names[k], "wrong password", &a), 401);
            snprintf(bodies[k][i], sizeof bodies[k][i], "%.500s", a.body);
        }
        /* the fifth failure locks the name: 429 with Retry-After */
        ck_assert_int_eq(sign_in(&s, names[k], "wrong password", &a), 429);
        ck_assert_msg(strstr(a.head, "retry-after: 30"), "%s", a.head);
        snprintf(bodies[k][4], sizeof bodies[k][4], "%.500s", a.body);
        /* locked: even the right password is refused */
        ck_assert_int_eq(sign_in(&s, names[k], PW_JANE, &a), 429);
        ck_assert_ptr_nonnull(strstr(a.head, "retry-after: "));
    }
    for (int i = 0; i < 5; i++)
        ck_assert_str_eq(bodies[0][i], bodies[1][i]); /* nothing tells the names apart */
    /* the lock ends: once its time has passed, the right password opens a session */
    harness_exec(db, "UPDATE corridor.users SET locked_until = now() - interval '1 s'");
    ck_assert_int_eq(sign_in(&s, "jane.wanjiru", PW_JANE, &a), 200);
    ck_assert_int_eq(harness_query_long(db, "SELECT failed_count FROM corridor.users"
                                            " WHERE name = 'jane.wanjiru'"),
                     0);
}
END_TEST

START_TEST(idle_timeout)
{
    static answer a;
    session s;
    ck_assert_int_eq(sign_in(&s, "jane.wanjiru", PW_JANE, &a), 200);
    ck_assert_int_eq(strstr(a.body, "\"idle_timeout_s\":2") != NULL, 1);
    /* used every second: alive past the idle limit */
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(req(&a, "GET", "/api/incidents", s.cookie, NULL, NULL, NULL), 200);
        usleep(900 * 1000);
    }
    sleep(3);
    ck_assert_int_eq(req(&a, "GET", "/api/incidents", s.cookie, NULL, NULL, NULL), 401);
    ck_assert_ptr_nonnull(strstr(a.body, "session has ended"));
}
END_TEST

START_TEST(admin_manages_accounts)
{
    static answer a;
    session admin, jane, jane2;
    char out[4096];
    ck_assert_int_eq(sign_in(&admin, "ops.lead", PW_ADMIN, &a), 200);
    ck_assert_int_eq(sign_in(&jane, "jane.wanjiru", PW_JANE, &a), 200);
    ck_assert_int_eq(sign_in(&jane2, "jane.wanjiru", PW_JANE, &a), 200);
    /* create through the API: the password is hashed by the server, the creator audited */
    ck_assert_int_eq(req(&a, "POST", "/api/users", admin.cookie, NULL, NULL,
                         "{\"name\": \"otieno.k\", \"role\": \"arming\","
                         " \"password\": \"arming team pass\"}"),
                     403); /* no CSRF token */
    ck_assert_int_eq(req(&a, "POST", "/api/users", admin.cookie, admin.csrf, NULL,
                         "{\"name\": \"otieno.k\", \"role\": \"arming\","
                         " \"display_name\": \"K. Otieno\", \"password\": \"arming team pass\"}"),
                     201);
    ck_assert_int_eq(req(&a, "POST", "/api/users", admin.cookie, admin.csrf, NULL,
                         "{\"name\": \"otieno.k\", \"role\": \"arming\","
                         " \"password\": \"arming team pass\"}"),
                     409);
    ck_assert_int_eq(req(&a, "POST", "/api/users", admin.cookie, admin.csrf, NULL,
                         "{\"name\": \"x\", \"role\": \"officer\", \"password\": \"short\"}"),
                     422);
    ck_assert_int_eq(req(&a, "POST", "/api/users", admin.cookie, admin.csrf, NULL,
                         "{\"name\": \"x\", \"role\": \"officer\", \"password\": \"long enough!\","
                         " \"is_admin\": true}"),
                     422);
    ck_assert_int_eq(harness_query_long(db, "SELECT count(*) FROM corridor.user_audit"
                                            " WHERE action = 'create' AND name = 'otieno.k'"
                                            " AND actor = 'officer:ops.lead'"),
                     1);
    ck_assert_int_eq(req(&a, "GET", "/api/users", admin.cookie, NULL, NULL, NULL), 200);
    ck_assert_ptr_nonnull(strstr(a.body, "\"otieno.k\""));
    ck_assert_ptr_null(strstr(a.body, "argon2"));
    /* jane's sessions: listed, one revoked */
    ck_assert_int_eq(
        req(&a, "GET", "/api/users/jane.wanjiru/sessions", admin.cookie, NULL, NULL, NULL), 200);
    ck_assert_ptr_nonnull(strstr(a.body, "\"test_accounts\""));
    long sid = harness_query_long(db, "SELECT max(s.id) FROM corridor.sessions s JOIN"
                                      " corridor.users u ON u.id = s.user_id"
                                      " WHERE u.name = 'jane.wanjiru'");
    char path[128];
    snprintf(path, sizeof path, "/api/users/jane.wanjiru/sessions/%ld", sid);
    ck_assert_int_eq(req(&a, "DELETE", path, admin.cookie, admin.csrf, NULL, NULL), 200);
    ck_assert_int_eq(req(&a, "DELETE", path, admin.cookie, admin.csrf, NULL, NULL), 404);
    ck_assert_int_eq(req(&a, "GET", "/api/incidents", jane2.cookie, NULL, NULL, NULL), 401);
    ck_assert_int_eq(req(&a, "GET", "/api/incidents", jane.cookie, NULL, NULL, NULL), 200);
    /* reset: a new password, every session ended */
    ck_assert_int_eq(req(&a, "POST", "/api/users/jane.wanjiru/reset", admin.cookie, admin.csrf,
                         NULL, "{\"password\": \"a brand new password\"}"),
                     200);
    ck_assert_int_eq(req(&a, "GET", "/api/incidents", jane.cookie, NULL, NULL, NULL), 401);
    ck_assert_int_eq(sign_in(&jane, "jane.wanjiru", PW_JANE, &a), 401);
    ck_assert_int_eq(sign_in(&jane, "jane.wanjiru", "a brand new password", &a), 200);
    /* disable (with an admin token: machines manage accounts too) kills the sessions */
    ck_assert_int_eq(
        req(&a, "POST", "/api/users/jane.wanjiru/disable", NULL, NULL, srv.token, NULL), 200);
    ck_assert_ptr_nonnull(strstr(a.body, "\"disabled\" : true"));
    ck_assert_int_eq(req(&a, "GET", "/api/incidents", jane.cookie, NULL, NULL, NULL), 401);
    ck_assert_int_eq(sign_in(&jane, "jane.wanjiru", "a brand new password", &a), 401);
    ck_assert_int_eq(req(&a, "POST", "/api/users/nobody/disable", NULL, NULL, srv.token, NULL),
                     404);
    /* the CLI sees the same */
    ck_assert_int_eq(cli("user list", NULL, out, sizeof out), 0);
    ck_assert_msg(strstr(out, "jane.wanjiru") && strstr(out, "disabled") && strstr(out, "otieno.k"),
                  "%s", out);
    ck_assert_int_eq(cli("user sessions ops.lead", NULL, out, sizeof out), 0);
    ck_assert_msg(strstr(out, "127.0.0.1") && strstr(out, "test_accounts"), "%s", out);
    ck_assert_int_eq(cli("user disable ops.lead", NULL, out, sizeof out), 0);
    ck_assert_int_eq(req(&a, "GET", "/api/users", admin.cookie, NULL, NULL, NULL), 401);

    /* nothing secret reached the log, though it ran at debug level */
    FILE *f = fopen(srv.log, "r");
    ck_assert_ptr_nonnull(f);
    static char log[1 << 22];
    size_t len = fread(log, 1, sizeof log - 1, f);
    fclose(f);
    log[len] = '\0';
    const char *secrets[] = {PW_JANE,      PW_ADMIN,   "a brand new password", "arming team",
                             admin.secret, admin.csrf, jane2.secret,           jane2.csrf};
    for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++)
        ck_assert_msg(strstr(log, secrets[i]) == NULL, "secret #%zu in the log", i);
    ck_assert_ptr_nonnull(strstr(log, "user ops.lead signed in (session "));
}
END_TEST

START_TEST(cli_user)
{
    char out[4096], pwfile[256], args[512];
    ck_assert_int_eq(cli("user --help", NULL, out, sizeof out), 0);
    ck_assert_ptr_nonnull(strstr(out, "corridord user create NAME --role ROLE"));
    const char *subs[] = {"create", "list", "disable", "reset", "sessions"};
    for (size_t i = 0; i < 5; i++) {
        snprintf(args, sizeof args, "user %s --help", subs[i]);
        ck_assert_int_eq(cli(args, NULL, out, sizeof out), 0);
        snprintf(args, sizeof args, "usage: corridord user %s", subs[i]);
        ck_assert_msg(strstr(out, args) != NULL, "%s", out);
    }
    /* bad arguments: a reason and status 2 */
    ck_assert_int_eq(cli("user create bob", "long enough pw", out, sizeof out), 2);
    ck_assert_ptr_nonnull(strstr(out, "--role"));
    ck_assert_int_eq(cli("user create bob --role partner", "long enough pw", out, sizeof out), 2);
    ck_assert_int_eq(cli("user create bob --role officer", "short", out, sizeof out), 2);
    ck_assert_ptr_nonnull(strstr(out, "10 to 256"));
    ck_assert_int_eq(cli("user create Bob --role officer", "long enough pw", out, sizeof out), 2);
    ck_assert_ptr_nonnull(strstr(out, "name must be"));
    ck_assert_int_eq(
        cli("user create jane.wanjiru --role officer", "long enough pw", out, sizeof out), 2);
    ck_assert_ptr_nonnull(strstr(out, "exists already"));
    ck_assert_int_eq(cli("user disable nobody", NULL, out, sizeof out), 2);
    ck_assert_int_eq(cli("user frobnicate", NULL, out, sizeof out), 2);
    ck_assert_int_eq(cli("user list extra", NULL, out, sizeof out), 2);
    /* --password-file, then reset from stdin */
    snprintf(pwfile, sizeof pwfile, "%s/test-logs/accounts-pw-%d", getenv("CORRIDOR_BUILD"),
             (int)getpid());
    FILE *f = fopen(pwfile, "w");
    fputs("file password 123\n", f);
    fclose(f);
    snprintf(args, sizeof args, "user create bob --role arming --password-file '%s'", pwfile);
    ck_assert_int_eq(cli(args, NULL, out, sizeof out), 0);
    unlink(pwfile);
    static answer a;
    session s;
    ck_assert_int_eq(sign_in(&s, "bob", "file password 123", &a), 200);
    ck_assert_int_eq(req(&a, "GET", "/api/trips", s.cookie, NULL, NULL, NULL), 200);
    ck_assert_int_eq(req(&a, "GET", "/api/incidents", s.cookie, NULL, NULL, NULL), 403);
    /* /api/me tells the account's real role (the pages offer by it), the actor officer: */
    ck_assert_int_eq(req(&a, "GET", "/api/me", s.cookie, NULL, NULL, NULL), 200);
    ck_assert_msg(strstr(a.body, "\"role\":\"arming\"") &&
                      strstr(a.body, "\"actor\":\"officer:bob\""),
                  "%s", a.body);
    ck_assert_int_eq(cli("user reset bob", "stdin password 456", out, sizeof out), 0);
    ck_assert_int_eq(req(&a, "GET", "/api/trips", s.cookie, NULL, NULL, NULL), 401);
    ck_assert_int_eq(sign_in(&s, "bob", "stdin password 456", &a), 200);
    ck_assert_int_eq(harness_query_long(db, "SELECT count(*) FROM corridor.user_audit"
                                            " WHERE name = 'bob' AND action = 'reset'"
                                            " AND actor LIKE 'cli:%'"),
                     1);
    ck_assert_ptr_null(strstr(out, "stdin password"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("accounts");
    TCase *tc = tcase_create("accounts");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, sign_in_cookie_and_csrf);
    tcase_add_test(tc, lockout_alike_for_unknown_names);
    tcase_add_test(tc, idle_timeout);
    tcase_add_test(tc, admin_manages_accounts);
    tcase_add_test(tc, cli_user);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
