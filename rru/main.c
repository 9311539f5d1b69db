/*
 * main.c: corridor-rru, a rapid response unit's dispatch client.
 *
 *   corridor-rru --server tcp://HOST:7070 --token TOKEN [--unit ID]
 *
 * Dials corridord's dispatch endpoint (nng REQ; the protocol is in docs/incidents.md),
 * identifies itself by its token (an rru token is tied to its unit, so the server tells
 * the unit from it; --unit only checks that it is the one meant), then prints its unit's
 * dispatches as JSON lines on stdout and sends what the unit reports: one command per
 * stdin line (`ack 42`, `en_route 42`, `on_scene 42 "at the gate"`,
 * `resolved 42 false_alarm "seal intact"`, `note 42 text`), or a single action given with
 * --action/--incident. Every line it prints is one JSON object with a "type": connected,
 * dispatch, gone, result, error.
 *
 * Threads: main() waits for SIGINT/SIGTERM; a poll thread long-polls on its own REQ
 * socket and prints dispatches; a command thread reads stdin and sends actions on another
 * REQ socket. Both sockets redial on their own, so a restarted server is found again.
 */
#include "rru.h"

#include <json-c/json.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/util/platform.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REPLY_MAX (4 * 1024 * 1024) /* one answer from the server */
#define HAVE_MAX  64                /* dispatches held at once (the server's limit too) */

static struct {
    const char *server, *token, *unit;
    int wait_ms;
    nng_socket poll_sock, cmd_sock;
    pthread_mutex_t out_lock;
    long long have[HAVE_MAX];
    size_t n_have;
} g = {.server = "tcp://127.0.0.1:7070", .wait_ms = 20000, .out_lock = PTHREAD_MUTEX_INITIALIZER};

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: corridor-rru --server URL --token TOKEN [--unit ID] [options]\n"
        "  --server URL      corridord's dispatch endpoint (default tcp://127.0.0.1:7070)\n"
        "  --token TOKEN     the unit's API token (corridord token create --role rru --unit ID);\n"
        "                    the server tells the unit from it\n"
        "  --unit ID         optional check: refuse to start unless the token is this unit's\n"
        "                    (needed only with an admin token, which belongs to no unit)\n"
        "  --wait-ms N       longest the server holds a poll (default 20000)\n"
        "one action, then exit (0 when the server accepted it):\n"
        "  --action ack|en_route|on_scene|resolved|note --incident ID\n"
        "  [--outcome confirmed|false_alarm|duplicate|handled_remotely|no_trace|other]\n"
        "  [--note TEXT]\n"
        "otherwise it runs until SIGINT/SIGTERM, printing dispatches as JSON lines and\n"
        "reading commands from stdin, one per line:\n"
        "  ack 42 | en_route 42 [NOTE] | on_scene 42 [NOTE] |\n"
        "  resolved 42 OUTCOME [NOTE] | note 42 NOTE   (NOTE: the rest of the line or \"...\")\n");
}

/* Prints one JSON line (stdout is shared by both threads). */
static void out_line(const char *json)
{
    pthread_mutex_lock(&g.out_lock);
    fputs(json, stdout);
    fputc('\n', stdout);
    fflush(stdout);
    pthread_mutex_unlock(&g.out_lock);
}

static void out_error(const char *code, const char *detail)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "type", json_object_new_string("error"));
    json_object_object_add(o, "error", json_object_new_string(code));
    json_object_object_add(o, "detail", json_object_new_string(detail));
    out_line(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
}

/* One request and its answer, parsed. NULL on a transport error (rv in *err). */
static json_object *request(nng_socket s, const char *req, int *err)
{
    char *buf = NULL;
    size_t sz = 0;
    json_object *o = NULL;
    int rv = nng_send(s, (void *)req, strlen(req), 0);
    if (rv == 0)
        rv = nng_recv(s, &buf, &sz, NNG_FLAG_ALLOC);
    if (rv == 0) {
        json_tokener *tok = json_tokener_new();
        o = tok ? json_tokener_parse_ex(tok, buf, (int)sz) : NULL;
        if (tok)
            json_tokener_free(tok);
        nng_free(buf, sz);
        if (!o || !json_object_is_type(o, json_type_object)) {
            json_object_put(o);
            o = NULL;
            rv = NNG_EPROTO;
        }
    }
    *err = rv;
    return o;
}

static int is_ok(json_object *o)
{
    json_object *v;
    return json_object_object_get_ex(o, "ok", &v) && json_object_get_boolean(v);
}

static void have_add(long long id)
{
    if (g.n_have < HAVE_MAX)
        g.have[g.n_have++] = id;
}

static int have_has(long long id)
{
    for (size_t i = 0; i < g.n_have; i++)
        if (g.have[i] == id)
            return 1;
    return 0;
}

static void have_del(long long id)
{
    for (size_t i = 0; i < g.n_have; i++)
        if (g.have[i] == id) {
            g.have[i] = g.have[--g.n_have];
            return;
        }
}

/* The poll thread: long-polls and prints what arrives. Ends when the socket closes. */
static void *poll_main(void *arg)
{
    (void)arg;
    for (;;) {
        char *req = rru_poll_request(g.unit, g.token, g.have, g.n_have, g.wait_ms);
        int rv;
        json_object *o = req ? request(g.poll_sock, req, &rv) : NULL;
        free(req);
        if (!o) {
            if (rv == NNG_ECLOSED)
                return NULL;
            if (rv != NNG_ETIMEDOUT)
                nng_msleep(1000); /* nothing to answer with yet: don't spin */
            continue;
        }
        json_object *ds, *gone;
        if (!is_ok(o)) {
            out_line(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
            nng_msleep(1000);
        }
        if (json_object_object_get_ex(o, "gone", &gone) &&
            json_object_is_type(gone, json_type_array))
            for (size_t i = 0; i < json_object_array_length(gone); i++) {
                long long id = json_object_get_int64(json_object_array_get_idx(gone, i));
                char line[96];
                snprintf(line, sizeof line, "{\"type\":\"gone\",\"dispatch_id\":%lld}", id);
                have_del(id);
                out_line(line);
            }
        if (json_object_object_get_ex(o, "dispatches", &ds) &&
            json_object_is_type(ds, json_type_array))
            for (size_t i = 0; i < json_object_array_length(ds); i++) {
                json_object *d = json_object_array_get_idx(ds, i), *id;
                if (!json_object_object_get_ex(d, "dispatch_id", &id))
                    continue;
                long long v = json_object_get_int64(id);
                if (have_has(v))
                    continue;
                have_add(v);
                out_line(json_object_to_json_string_ext(d, JSON_C_TO_STRING_PLAIN));
            }
        json_object_put(o);
    }
}

/* Sends one action; prints the answer. 1 when the server accepted it, 0 when it refused,
 * -1 when the socket closed. */
static int send_action(const rru_cmd *cmd)
{
    char *req = rru_action_request(g.unit, g.token, cmd);
    int rv, ok = 0;
    json_object *o = req ? request(g.cmd_sock, req, &rv) : NULL;
    free(req);
    if (!o) {
        if (rv == NNG_ECLOSED)
            return -1;
        out_error("no_answer", nng_strerror(rv));
        return 0;
    }
    ok = is_ok(o);
    out_line(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
    return ok;
}

/* The command thread: stdin lines to actions. Stays idle after end of input. */
static void *cmd_main(void *arg)
{
    (void)arg;
    static char line[RRU_NOTE_MAX + 256]; /* static: no heap left behind at exit */
    rru_cmd cmd;
    char err[160];
    while (fgets(line, sizeof line, stdin)) {
        if (!strchr(line, '\n') && !feof(stdin)) {
            int c;
            while ((c = getchar()) != EOF && c != '\n')
                ;
            out_error("bad_command", "the line is too long");
            continue;
        }
        int r = rru_cmd_parse(line, &cmd, err, sizeof err);
        if (r < 0)
            out_error("bad_command", err);
        else if (r > 0 && send_action(&cmd) < 0)
            break;
    }
    return NULL;
}

static int open_req(nng_socket *s, int recv_timeout_ms)
{
    int rv = nng_req0_open(s);
    if (rv)
        return rv;
    nng_socket_set_size(*s, NNG_OPT_RECVMAXSZ, REPLY_MAX);
    nng_socket_set_ms(*s, NNG_OPT_RECVTIMEO, recv_timeout_ms);
    nng_socket_set_ms(*s, NNG_OPT_SENDTIMEO, recv_timeout_ms);
    nng_socket_set_ms(*s, NNG_OPT_RECONNMINT, 100);
    nng_socket_set_ms(*s, NNG_OPT_RECONNMAXT, 2000);
    /* a request whose connection drops is resent at once on the next one; this only
     * covers an answer lost while the connection stayed up */
    nng_socket_set_ms(*s, NNG_OPT_REQ_RESENDTIME, recv_timeout_ms * 2);
    return nng_dial(*s, g.server, NULL, NNG_FLAG_NONBLOCK);
}

int main(int argc, char **argv)
{
    rru_cmd one;
    int one_shot = 0;
    const char *incident = NULL;
    memset(&one, 0, sizeof one);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "corridor-rru: %s needs a value (see --help)\n", a);
            return 2;
        }
        const char *v = argv[++i];
        if (strcmp(a, "--server") == 0) {
            g.server = v;
        } else if (strcmp(a, "--token") == 0) {
            g.token = v;
        } else if (strcmp(a, "--unit") == 0) {
            g.unit = v;
        } else if (strcmp(a, "--wait-ms") == 0) {
            char *end;
            long w = strtol(v, &end, 10);
            if (*end || w < 100 || w > 25000) {
                fprintf(stderr, "corridor-rru: --wait-ms must be 100 to 25000\n");
                return 2;
            }
            g.wait_ms = (int)w;
        } else if (strcmp(a, "--action") == 0) {
            snprintf(one.action, sizeof one.action, "%s", v);
            one_shot = 1;
        } else if (strcmp(a, "--incident") == 0) {
            incident = v;
        } else if (strcmp(a, "--outcome") == 0) {
            snprintf(one.outcome, sizeof one.outcome, "%s", v);
        } else if (strcmp(a, "--note") == 0) {
            snprintf(one.note, sizeof one.note, "%s", v);
        } else {
            fprintf(stderr, "corridor-rru: unknown option %s (see --help)\n", a);
            return 2;
        }
    }
    if (!g.token || !*g.token) {
        fprintf(stderr, "corridor-rru: --token is required\n");
        return 2;
    }
    if (g.unit && !*g.unit) {
        fprintf(stderr, "corridor-rru: --unit needs a unit id (or leave it out: the token says)\n");
        return 2;
    }
    if (one_shot) {
        /* the same checks as a stdin line */
        char line[RRU_NOTE_MAX + 256], err[160];
        snprintf(line, sizeof line, "%s %s %s%s", one.action, incident ? incident : "", one.outcome,
                 one.note[0] ? " \"-\"" : "");
        rru_cmd parsed;
        if (rru_cmd_parse(line, &parsed, err, sizeof err) != 1) {
            fprintf(stderr, "corridor-rru: %s\n", err);
            return 2;
        }
        memcpy(parsed.note, one.note, sizeof parsed.note);
        if (strcmp(parsed.action, "note") == 0 && !parsed.note[0]) {
            fprintf(stderr, "corridor-rru: --action note needs --note\n");
            return 2;
        }
        one = parsed;
    }

    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    int rv;
    if ((rv = open_req(&g.cmd_sock, 5000)) != 0 ||
        (rv = open_req(&g.poll_sock, g.wait_ms + 5000)) != 0) {
        fprintf(stderr, "corridor-rru: --server %s: %s\n", g.server, nng_strerror(rv));
        return 2;
    }

    /* identify: wait for the server as long as it takes */
    char *hello = rru_hello_request(g.unit, g.token);
    json_object *o = NULL;
    int warned = 0;
    while (hello && !(o = request(g.cmd_sock, hello, &rv))) {
        if (!warned++)
            fprintf(stderr, "corridor-rru: waiting for %s (%s)\n", g.server, nng_strerror(rv));
        if (rv != NNG_ETIMEDOUT)
            nng_msleep(500);
    }
    free(hello);
    if (!o)
        return 1;
    out_line(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    int ok = is_ok(o);
    if (!ok) {
        json_object *d;
        fprintf(stderr, "corridor-rru: refused: %s\n",
                json_object_object_get_ex(o, "detail", &d) ? json_object_get_string(d) : "?");
    }
    json_object_put(o);
    if (!ok) {
        nng_close(g.cmd_sock);
        nng_close(g.poll_sock);
        return 1;
    }
    if (one_shot) {
        int r = send_action(&one);
        nng_close(g.cmd_sock);
        nng_close(g.poll_sock);
        return r == 1 ? 0 : 1;
    }

    pthread_t poller, reader;
    if (pthread_create(&poller, NULL, poll_main, NULL) != 0 ||
        pthread_create(&reader, NULL, cmd_main, NULL) != 0) {
        fprintf(stderr, "corridor-rru: cannot start threads\n");
        return 1;
    }
    int sig = 0;
    sigwait(&sigs, &sig);
    nng_close(g.poll_sock);
    nng_close(g.cmd_sock);
    pthread_join(poller, NULL);
    /* the command thread may be blocked reading stdin: the process ends it */
    fflush(stdout);
    return 0;
}
