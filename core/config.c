/*
 * config.c: the server configuration. One table names every setting once; the
 * command line (--name VALUE) and the configuration file (name = value) both go
 * through core_config_set, so a file can hold every flag. Runs on main() only.
 */
#include "core.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

enum kind { K_STR, K_INT, K_LIST };

struct setting {
    const char *name;
    enum kind kind;
    size_t off;
    int min, max;
    const char *help;
};

#define S(f) offsetof(core_config, f)
static const struct setting settings[] = {
    {"db", K_STR, S(db), 0, 0, "libpq conninfo (else $CORRIDOR_DB, else libpq defaults)"},
    {"role", K_STR, S(role), 0, 0,
     "stages to run: all, or a comma list of ingest, web, alerts (split deployments dial\n"
     "                           each other over --events-url tcp://...)"},
    {"http", K_STR, S(http), 0, 0, "web gateway ADDR:PORT (map, REST, /ws, /metrics)"},
    {"osmand", K_STR, S(osmand), 0, 0, "OsmAnd HTTP listener ADDR:PORT (\"\" disables)"},
    {"jt808", K_STR, S(jt808), 0, 0, "JT/T 808 TCP listener ADDR:PORT (\"\" disables)"},
    {"ais", K_STR, S(ais), 0, 0, "AIS NMEA TCP and UDP listener ADDR:PORT (\"\" disables)"},
    {"ais-feed", K_LIST, S(ais_feeds), 0, 8, "AIS feed HOST:PORT to dial (repeatable)"},
    {"dispatch", K_STR, S(dispatch), 0, 0, "nng URL for rapid response unit dispatch"},
    {"events-url", K_STR, S(events_url), 0, 0, "nng URL where the web gateway pulls events"},
    {"static", K_STR, S(static_dir), 0, 0, "folder of the web pages"},
    {"vendor", K_STR, S(vendor_dir), 0, 0, "folder of the npm packages the pages use"},
    {"log-level", K_STR, S(log_level), 0, 0, "debug, info, warn or error"},
    {"workers", K_INT, S(workers), 1, 64, "ingest worker threads"},
    {"batch-max", K_INT, S(batch_max), 1, 10000, "observations per database batch"},
    {"batch-ms", K_INT, S(batch_ms), 1, 1000, "milliseconds a batch waits to fill"},
    {"worker-regions", K_INT, S(worker_regions), 0, 1,
     "1: ingest workers find quiet fixes from their copy of each seal's safe region\n"
     "                           (the database confirms it); 0: the database tests every fix"},
    {"max-future", K_INT, S(max_future_s), 0, 86400 * 7,
     "seconds a device time may lie ahead of the server clock"},
    {"dispatch-ack-timeout", K_INT, S(dispatch_ack_timeout_s), 1, 86400,
     "seconds before an unacknowledged dispatch escalates"},
    {"ws-queue-max", K_INT, S(ws_queue_max), 16, 1000000,
     "incidents queued for one websocket client before it is disconnected"},
    {"sweep-interval", K_INT, S(sweep_interval_s), 1, 3600,
     "seconds between runs of the periodic rules (overdue, signal loss, ...)"},
    {"osmand-body-max", K_INT, S(osmand_body_max), 512, 1024 * 1024,
     "bytes of an OsmAnd request body (413 above)"},
    {"osmand-header-max", K_INT, S(osmand_header_max), 1024, 64 * 1024,
     "bytes of an OsmAnd request's headers"},
    {"no-migrate", K_INT, S(no_migrate), 0, 1, "1: do not apply migrations at start-up"},
    {"tls-cert", K_STR, S(tls_cert), 0, 0, "PEM certificate: serve HTTPS and WSS (with --tls-key)"},
    {"tls-key", K_STR, S(tls_key), 0, 0, "PEM private key of --tls-cert"},
    {"body-max", K_INT, S(body_max), 1024, 64 * 1024 * 1024, "bytes of a request body (413)"},
    {"header-max", K_INT, S(header_max), 1024, 65536, "bytes of a request's headers (431)"},
    {"conn-per-ip", K_INT, S(conn_per_ip), 1, 100000, "open web connections per client address"},
    {"rate-per-token", K_INT, S(rate_per_token), 0, 1000000,
     "API requests per second per token, 0: unlimited (429 with Retry-After)"},
    {"rate-burst", K_INT, S(rate_burst), 1, 1000000, "API requests a token may make at once"},
    {"ws-message-max", K_INT, S(ws_message_max), 256, 1024 * 1024,
     "bytes of one websocket message from a client"},
    {"session-idle", K_INT, S(session_idle_s), 1, 7 * 86400,
     "seconds a signed-in officer's session may stay unused before it ends"},
    {"session-max", K_INT, S(session_max_s), 1, 30 * 86400,
     "seconds a signed-in officer's session lasts at most, however used"},
    {"signing-key", K_STR, S(signing_key), 0, 0,
     "Ed25519 private key PEM (corridord key create): sign the positions' chain heads"},
    {"sign-interval", K_INT, S(sign_interval_s), 1, 86400,
     "seconds between signatures of the chain heads (and at every disarm)"},
};
#undef S
#define N_SETTINGS (sizeof settings / sizeof settings[0])

void core_config_defaults(core_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->db = getenv("CORRIDOR_DB");
    cfg->role = "all";
    cfg->roles = CORE_ROLE_ALL;
    cfg->http = "127.0.0.1:8080";
    cfg->osmand = "127.0.0.1:5055";
    cfg->jt808 = "127.0.0.1:6808";
    cfg->ais = "127.0.0.1:10110";
    cfg->dispatch = "tcp://127.0.0.1:7070";
    cfg->events_url = "inproc://corridor-events";
    cfg->log_level = "info";
    cfg->workers = 2;
    cfg->batch_max = 1000;
    cfg->batch_ms = 20;
    cfg->worker_regions = 1;
    cfg->max_future_s = 3600;
    cfg->dispatch_ack_timeout_s = 300;
    cfg->ws_queue_max = 10000;
    cfg->sweep_interval_s = 5;
    cfg->osmand_body_max = 16 * 1024;
    cfg->osmand_header_max = 8 * 1024;
    cfg->body_max = 1024 * 1024;
    cfg->header_max = 8192;
    cfg->conn_per_ip = 256;
    cfg->rate_per_token = 100;
    cfg->rate_burst = 500;
    cfg->ws_message_max = 4096;
    cfg->session_idle_s = 30 * 60;
    cfg->session_max_s = 12 * 3600;
    cfg->sign_interval_s = 300;
}

int core_config_set(core_config *cfg, const char *name, const char *value, char *err, size_t n)
{
    for (size_t i = 0; i < N_SETTINGS; i++) {
        const struct setting *s = &settings[i];
        if (strcmp(s->name, name) != 0)
            continue;
        char *base = (char *)cfg + s->off;
        if (s->kind == K_STR) {
            *(const char **)base = value;
        } else if (s->kind == K_LIST) {
            if (cfg->n_ais_feeds >= s->max) {
                snprintf(err, n, "--%s: at most %d", name, s->max);
                return CORE_EINVAL;
            }
            ((const char **)base)[cfg->n_ais_feeds++] = value;
        } else {
            char *end;
            errno = 0;
            long v = strtol(value, &end, 10);
            if (errno || end == value || *end || v < s->min || v > s->max) {
                snprintf(err, n, "--%s: expected an integer from %d to %d, got \"%s\"", name,
                         s->min, s->max, value);
                return CORE_EINVAL;
            }
            *(int *)base = (int)v;
        }
        return 0;
    }
    snprintf(err, n, "unknown setting \"%s\" (see --help)", name);
    return CORE_EINVAL;
}

/* Loads "name = value" lines; '#' starts a comment. The file's text is kept for the
 * life of the process because settings point into it. */
static int config_load(core_config *cfg, const char *path, char *err, size_t n)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, n, "--config %s: %s", path, strerror(errno));
        return CORE_EINVAL;
    }
    char line[1024];
    int lineno = 0, rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        lineno++;
        char *p = line, *hash = strchr(line, '#');
        if (hash)
            *hash = 0;
        while (*p == ' ' || *p == '\t')
            p++;
        size_t len = strlen(p);
        while (len && (p[len - 1] == '\n' || p[len - 1] == '\r' || p[len - 1] == ' '))
            p[--len] = 0;
        if (!*p)
            continue;
        char *eq = strchr(p, '=');
        if (!eq) {
            snprintf(err, n, "%s:%d: expected name = value", path, lineno);
            rc = CORE_EINVAL;
            break;
        }
        char *name = p, *value = eq + 1, *e = eq;
        while (e > name && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        *e = 0;
        while (*value == ' ' || *value == '\t')
            value++;
        size_t vl = strlen(value);
        if (vl >= 2 && value[0] == '"' && value[vl - 1] == '"') {
            value[vl - 1] = 0;
            value++;
        }
        char *keep = strdup(value); /* lives as long as the process, like argv */
        if (!keep) {
            rc = -ENOMEM;
            break;
        }
        char sub[200];
        rc = core_config_set(cfg, name, keep, sub, sizeof sub);
        if (rc)
            snprintf(err, n, "%s:%d: %s", path, lineno, sub);
    }
    fclose(f);
    return rc;
}

int core_config_parse(core_config *cfg, int argc, char **argv, int first, char *err, size_t n)
{
    /* the file first, so that flags given beside it win */
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--config") == 0) {
            if (i + 1 >= argc) {
                snprintf(err, n, "--config needs a file");
                return CORE_EINVAL;
            }
            int rc = config_load(cfg, argv[i + 1], err, n);
            if (rc)
                return rc;
        } else if (strncmp(a, "--config=", 9) == 0) {
            int rc = config_load(cfg, a + 9, err, n);
            if (rc)
                return rc;
        }
    }
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0) {
            snprintf(err, n, "unexpected argument \"%s\"", a);
            return CORE_EINVAL;
        }
        char name[64];
        const char *value, *eq = strchr(a, '=');
        if (eq) {
            snprintf(name, sizeof name, "%.*s", (int)(eq - a - 2), a + 2);
            value = eq + 1;
        } else {
            snprintf(name, sizeof name, "%s", a + 2);
            if (strcmp(name, "no-migrate") == 0) {
                cfg->no_migrate = 1;
                continue;
            }
            int known = strcmp(name, "config") == 0;
            for (size_t k = 0; k < N_SETTINGS && !known; k++)
                known = strcmp(settings[k].name, name) == 0;
            if (!known) {
                snprintf(err, n, "unknown flag --%s (see --help)", name);
                return CORE_EINVAL;
            }
            if (i + 1 >= argc) {
                snprintf(err, n, "--%s needs a value", name);
                return CORE_EINVAL;
            }
            value = argv[++i];
        }
        if (strcmp(name, "config") == 0)
            continue;
        int rc = core_config_set(cfg, name, value, err, n);
        if (rc)
            return rc;
    }
    if (core_role_parse(cfg->role, &cfg->roles)) {
        snprintf(err, n, "--role: expected all, or a comma list of ingest, web, alerts; got \"%s\"",
                 cfg->role);
        return CORE_EINVAL;
    }
    enum core_log_level lvl;
    if (core_log_parse_level(cfg->log_level, &lvl)) {
        snprintf(err, n, "--log-level: expected debug, info, warn or error");
        return CORE_EINVAL;
    }
    core_log_set_level(lvl);
    return 0;
}

void core_config_usage(FILE *out)
{
    core_config d;
    core_config_defaults(&d);
    fprintf(out,
            "  --config FILE            settings as \"name = value\" lines (any flag below)\n");
    for (size_t i = 0; i < N_SETTINGS; i++) {
        const struct setting *s = &settings[i];
        char flag[40], def[64] = "";
        const char *arg = s->kind == K_INT ? "N" : "VALUE";
        snprintf(flag, sizeof flag, "--%s %s", s->name, arg);
        const char *base = (const char *)&d + s->off;
        if (s->kind == K_STR && *(const char *const *)base)
            snprintf(def, sizeof def, " (default %s)", *(const char *const *)base);
        else if (s->kind == K_INT)
            snprintf(def, sizeof def, " (default %d)", *(const int *)base);
        fprintf(out, "  %-24s %s%s\n", flag, s->help, def);
    }
}

int core_role_parse(const char *s, int *out)
{
    int mask = 0;
    const char *p = s;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == 3 && strncmp(p, "all", 3) == 0)
            mask |= CORE_ROLE_ALL;
        else if (len == 6 && strncmp(p, "ingest", 6) == 0)
            mask |= CORE_ROLE_INGEST;
        else if (len == 3 && strncmp(p, "web", 3) == 0)
            mask |= CORE_ROLE_WEB;
        else if (len == 6 && strncmp(p, "alerts", 6) == 0)
            mask |= CORE_ROLE_ALERTS;
        else
            return CORE_EINVAL;
        p += len;
        if (*p == ',')
            p++;
    }
    if (!mask)
        return CORE_EINVAL;
    *out = mask;
    return 0;
}

int core_split_hostport(const char *s, char *host, size_t n, int *port)
{
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s || (size_t)(colon - s) >= n)
        return CORE_EINVAL;
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (*end || end == colon + 1 || p < 0 || p > 65535)
        return CORE_EINVAL;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = 0;
    *port = (int)p;
    return 0;
}
