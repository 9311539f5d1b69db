/*
 * main.c: corridord, the monitoring-centre server.
 *
 * Builds the one server context (the configuration) and wires the stages: the web
 * gateway thread, the ingest worker threads, and the main thread, which waits for
 * signals and keeps the position partitions ahead of time, and the signer of the chain
 * heads (evidence.c) when --signing-key is given. Subcommands: `migrate`, `token`
 * (token.c), `user` (user.c), `key` and `verify` (evidence.c).
 */
#include "alerts.h"
#include "core.h"
#include "evidence.h"
#include "geofence.h"
#include "ingest.h"
#include "schema.h"
#include "token.h"
#include "user.h"
#include "web.h"

#include <libpq-fe.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#define MOD "server"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: corridord [migrate] [options]\n"
            "  corridord            run the monitoring-centre server\n"
            "  corridord migrate    apply pending schema migrations and the rule files, and exit\n"
            "  corridord token ...  create, list or revoke API tokens (token --help)\n"
            "  corridord user ...   officer accounts: create, list, disable, reset, sessions\n"
            "  corridord key create --out FILE   a new Ed25519 signing key (key --help)\n"
            "  corridord verify --trip ID        check a trip's evidence (verify --help)\n"
            "options:\n");
    core_config_usage(out);
}

/* Connects and applies the schema: migrate 0 only checks it, 1 applies what is pending, 2
 * also applies the rule files when the database runs them already. Returns the connection
 * or NULL (reason logged). */
static PGconn *connect_and_migrate(const core_config *cfg, int migrate)
{
    char err[1024];
    PGconn *db = PQconnectdb(cfg->db ? cfg->db : "");
    if (PQstatus(db) != CONNECTION_OK) {
        core_error(MOD, "cannot connect to the database: %s", PQerrorMessage(db));
        PQfinish(db);
        return NULL;
    }
    /* `corridord migrate` applies the rule files always, a start-up when they differ */
    int rc = migrate ? schema_migrate_rules(db, migrate == 2, err, sizeof err)
                     : schema_ensure_partitions(db, err, sizeof err);
    if (!migrate && rc == 0 && schema_check(db, err, sizeof err) == 0)
        core_warn(MOD, "--no-migrate: the database does not run this corridord's schema (%s)", err);
    if (rc < 0) {
        core_error(MOD, "%s", err);
        PQfinish(db);
        return NULL;
    }
    if (migrate)
        core_info(MOD, "schema up to date (%d migration%s applied)", rc, rc == 1 ? "" : "s");
    return db;
}

/* The server context: the stages main() started. The gateway's hooks ask it (web.h),
 * so the web layer knows nothing of the stages behind it. Written by main() before the
 * gateway starts, read-only after. */
struct srv {
    ingest *in;         /* NULL in a process without the ingest role */
    alert_leader *lead; /* NULL in a process without the alerts role */
};

/* 1 while this instance runs the singleton stages (alerts.h); any thread. */
static int leader_hook(void *arg)
{
    const struct srv *s = arg;
    return s->lead ? alert_leader_held(s->lead) : 0;
}

static int sweep_gate(void *arg)
{
    return alert_leader_held(arg);
}

static size_t metrics_hook(void *arg, char *buf, size_t cap)
{
    const struct srv *s = arg;
    return s->in ? ingest_metrics(s->in, buf, cap) : 0;
}

static int db_ok_hook(void *arg)
{
    const struct srv *s = arg;
    return s->in ? ingest_db_ok(s->in) : 1;
}

static size_t feeds_hook(void *arg, char *buf, size_t cap)
{
    const struct srv *s = arg;
    return s->in ? ingest_feeds_json(s->in, buf, cap) : (size_t)snprintf(buf, cap, "[]");
}

int main(int argc, char **argv)
{
    core_config cfg;
    char err[512];
    int first = 1, migrate_only = 0;

    core_config_defaults(&cfg);
    if (argc > 1 && strcmp(argv[1], "token") == 0)
        return srv_token_main(argc - 2, argv + 2);
    if (argc > 1 && strcmp(argv[1], "user") == 0)
        return srv_user_main(argc - 2, argv + 2);
    if (argc > 1 && strcmp(argv[1], "key") == 0)
        return srv_key_main(argc - 2, argv + 2);
    if (argc > 1 && strcmp(argv[1], "verify") == 0)
        return srv_verify_main(argc - 2, argv + 2);
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }
    if (argc > 1 && strcmp(argv[1], "migrate") == 0) {
        migrate_only = 1;
        first = 2;
    }
    if (core_config_parse(&cfg, argc, argv, first, err, sizeof err)) {
        fprintf(stderr, "corridord: %s\n", err);
        return 2;
    }

    PGconn *db = connect_and_migrate(&cfg, migrate_only ? 2 : !cfg.no_migrate);
    if (!db)
        return 1;
    if (migrate_only) {
        PQfinish(db);
        return 0;
    }

    /* signals are taken by this thread only: block them before any thread starts */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct srv srv = {0}; /* outlives the gateway: main() stops it before returning */
    ingest *in = NULL;
    web *wb = NULL;
    geo_sweeper *sw = NULL;
    alert_dispatch *dp = NULL;
    alert_leader *lead = NULL;
    srv_signer *sg = NULL;

    if (!(cfg.roles & CORE_ROLE_WEB) && strncmp(cfg.events_url, "inproc://", 9) == 0)
        core_warn(MOD,
                  "--role %s without web: events go to %s, where no gateway listens in this "
                  "process; give --events-url tcp://GATEWAY:PORT",
                  cfg.role, cfg.events_url);
    /* the workers dial the gateway's event socket without waiting, so either may be
     * first; the workers go first because the gateway's hooks read their counters */
    if ((cfg.roles & CORE_ROLE_INGEST) && !(in = ingest_start(&cfg, err, sizeof err))) {
        core_error(MOD, "ingest: %s", err);
        goto fail;
    }
    srv.in = in;
    /* the leadership first: the gateway reports it, the singleton stages ask it */
    if ((cfg.roles & CORE_ROLE_ALERTS) && !(lead = alert_leader_start(&cfg, err, sizeof err))) {
        core_error(MOD, "leader: %s", err);
        goto fail;
    }
    srv.lead = lead;
    web_hooks hooks = {metrics_hook, db_ok_hook, feeds_hook, &srv, leader_hook};
    if ((cfg.roles & CORE_ROLE_WEB) && !(wb = web_start(&cfg, &hooks, err, sizeof err))) {
        core_error(MOD, "web gateway: %s", err);
        goto fail;
    }
    /* the alerts stage: periodic rules and dispatch to the response units */
    if (cfg.roles & CORE_ROLE_ALERTS) {
        if (!(sw = geo_sweeper_start(cfg.db, cfg.events_url, cfg.sweep_interval_s, sweep_gate, lead,
                                     err, sizeof err))) {
            core_error(MOD, "sweeper: %s", err);
            goto fail;
        }
        if (!(dp = alert_dispatch_start(&cfg, lead, err, sizeof err))) {
            core_error(MOD, "dispatch: %s", err);
            goto fail;
        }
    }
    /* the signer of the chain heads (one signs at a time, under a database lock) */
    if (cfg.signing_key && cfg.signing_key[0] && !(sg = srv_signer_start(&cfg, err, sizeof err))) {
        core_error(MOD, "signer: %s", err);
        goto fail;
    }
    if (wb)
        core_info(MOD, "corridord ready (role %s): map at %s://%s/", cfg.role,
                  cfg.tls_cert ? "https" : "http", cfg.http);
    else
        core_info(MOD, "corridord ready (role %s)", cfg.role);

    int64_t next_maintenance = core_mono_us() + 3600LL * 1000000;
    for (;;) {
        struct timespec tick = {60, 0};
        int sig = sigtimedwait(&sigs, NULL, &tick);
        if (sig == SIGINT || sig == SIGTERM) {
            core_info(MOD, "signal %d: shutting down", sig);
            break;
        }
        if (core_mono_us() >= next_maintenance) {
            if (PQstatus(db) != CONNECTION_OK)
                PQreset(db);
            if (schema_ensure_partitions(db, err, sizeof err))
                core_warn(MOD, "partition maintenance: %s", err);
            next_maintenance = core_mono_us() + 3600LL * 1000000;
        }
    }
    /* the gateway first: its hooks read the workers' counters */
    if (wb)
        web_stop(wb);
    srv_signer_stop(sg);
    alert_dispatch_stop(dp);
    geo_sweeper_stop(sw);
    alert_leader_stop(lead);
    ingest_stop(in);
    PQfinish(db);
    core_info(MOD, "stopped");
    return 0;
fail:
    if (wb)
        web_stop(wb);
    srv_signer_stop(sg);
    alert_dispatch_stop(dp);
    geo_sweeper_stop(sw);
    alert_leader_stop(lead);
    ingest_stop(in);
    PQfinish(db);
    return 1;
}
