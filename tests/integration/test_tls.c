/*
 * test_tls.c: --tls-cert and --tls-key (docs/security.md, docs/operations.md). A
 * certificate for 127.0.0.1 is generated with `openssl req -x509` in the test; curl,
 * trusting only that certificate, gets /api/health and /api/seals (with a token) over
 * HTTPS and the websocket upgrade over TLS (WSS), while plain HTTP on the same port is
 * not served. A missing key file stops the start-up with a reason.
 */
#include "harness.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[256], cert[300], key[300];

/* Runs cmd and returns its stdout (static, NUL-terminated). */
static const char *run(const char *cmd)
{
    static char out[1 << 16];
    FILE *p = popen(cmd, "r");
    ck_assert_msg(p != NULL, "cannot run %s", cmd);
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    pclose(p);
    return out;
}

static void make_cert(void)
{
    snprintf(dir, sizeof dir, "%s/test-logs/tls-%d", getenv("CORRIDOR_BUILD"), (int)getpid());
    snprintf(cert, sizeof cert, "%s/cert.pem", dir);
    snprintf(key, sizeof key, "%s/key.pem", dir);
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "mkdir -p %s && openssl req -x509 -newkey rsa:2048 -nodes -days 1 -keyout %s "
             "-out %s -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2>/dev/null",
             dir, key, cert);
    ck_assert_msg(system(cmd) == 0, "openssl req failed (is openssl installed?)");
}

START_TEST(https_and_wss)
{
    harness_server srv;
    make_cert();
    const char *conninfo = harness_db_create("tls_test");
    harness_server_start(&srv, conninfo, "--tls-cert", cert, "--tls-key", key, NULL);
    char cmd[2048];

    snprintf(cmd, sizeof cmd,
             "curl -s --cacert %s -w ' %%{http_code}' https://127.0.0.1:%d/api/health", cert,
             srv.http_port);
    const char *out = run(cmd);
    ck_assert_msg(strstr(out, "\"status\":\"ok\"") && strstr(out, " 200"), "%s", out);

    /* the certificate is what curl trusts: without it the handshake is refused */
    snprintf(cmd, sizeof cmd,
             "curl -s --capath /nonexistent --cacert /dev/null -w '%%{http_code}' "
             "https://127.0.0.1:%d/api/health",
             srv.http_port);
    ck_assert_str_eq(run(cmd), "000");

    snprintf(cmd, sizeof cmd,
             "curl -s --cacert %s -H 'Authorization: Bearer %s' -w ' %%{http_code}' "
             "https://127.0.0.1:%d/api/seals",
             cert, srv.token, srv.http_port);
    ck_assert_str_eq(run(cmd), "[] 200");
    snprintf(cmd, sizeof cmd,
             "curl -s --cacert %s -w ' %%{http_code}' https://127.0.0.1:%d/api/seals", cert,
             srv.http_port);
    ck_assert_msg(strstr(run(cmd), " 401") != NULL, "no token over TLS");

    /* an officer's session cookie is Secure under TLS (docs/security.md) */
    snprintf(cmd, sizeof cmd,
             "printf 'tls sign-in pass\\n' | %s/corridord user create tls.officer --role officer"
             " --db '%s' 2>/dev/null && curl -si --cacert %s -H 'Content-Type: application/json'"
             " -d '{\"name\":\"tls.officer\",\"password\":\"tls sign-in pass\"}'"
             " https://127.0.0.1:%d/api/session",
             getenv("CORRIDOR_BUILD"), conninfo, cert, srv.http_port);
    out = run(cmd);
    ck_assert_msg(strstr(out, "set-cookie: corridor_session=") &&
                      strstr(out, "; HttpOnly; SameSite=Strict; Max-Age=43200; Secure"),
                  "%s", out);

    /* WSS: the upgrade answers 101 inside TLS */
    snprintf(cmd, sizeof cmd,
             "curl -si --http1.1 --max-time 3 --cacert %s 'https://127.0.0.1:%d/ws?token=%s' "
             "-H 'Upgrade: websocket' -H 'Connection: Upgrade' -H 'Sec-WebSocket-Version: 13' "
             "-H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' "
             "-H 'Sec-WebSocket-Protocol: corridor.v1'",
             cert, srv.http_port, srv.token);
    out = run(cmd);
    ck_assert_msg(strstr(out, "HTTP/1.1 101") && strstr(out, "corridor.v1"), "%s", out);

    /* plain HTTP on the TLS port gets no answer */
    char resp[256];
    ck_assert_int_eq(
        harness_http(srv.http_port, "GET", "/api/health", NULL, NULL, resp, sizeof resp), -1);
    harness_server_stop(&srv, 0);

    /* a key that cannot be read stops the start-up with the reason */
    char exe[512], log[512];
    snprintf(exe, sizeof exe, "%s/corridord", getenv("CORRIDOR_BUILD"));
    snprintf(log, sizeof log, "%s/missing-key.log", dir);
    snprintf(cmd, sizeof cmd,
             "%s --db '%s' --http 127.0.0.1:%d --osmand '' --jt808 '' --ais '' --dispatch "
             "tcp://127.0.0.1:%d --tls-cert %s --tls-key %s/nokey.pem > %s 2>&1",
             exe, conninfo, harness_free_port(), harness_free_port(), cert, dir, log);
    int st = system(cmd);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) != 0, "started without its key");
    snprintf(cmd, sizeof cmd, "%s --db '%s' --http 127.0.0.1:%d --tls-cert %s > %s 2>&1", exe,
             conninfo, harness_free_port(), cert, log);
    st = system(cmd);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) != 0, "started with a certificate only");
    snprintf(cmd, sizeof cmd, "cat %s", log);
    ck_assert_msg(strstr(run(cmd), "--tls-cert and --tls-key go together"), "%s", run(cmd));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tls");
    TCase *tc = tcase_create("tls");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, https_and_wss);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
