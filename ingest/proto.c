/*
 * proto.c: the protocol modules built into the ingest workers (proto.h), each as its
 * table: how it starts on a worker from the configuration, what commands it takes, how
 * it sends one. Adding a protocol is one table here and its module.
 *
 * Owns nothing. The start functions run on main() while a worker is built.
 */
#include "proto.h"
#ifdef HAVE_INGEST_AIS
#include "ais_conn.h"
#endif

#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Opens the listener at hostport (flag named for the reason) into *fd. */
static int listen_on(const char *flag, const char *hostport, int type, int *fd, char *err, size_t n)
{
    if ((*fd = ingest_listen(hostport, type)) < 0) {
        snprintf(err, n, "--%s %s: %s", flag, hostport, core_strerror(*fd));
        return CORE_EINVAL;
    }
    return 0;
}

static int enabled(const char *hostport)
{
    return hostport && *hostport;
}

/* A protocol on one TCP listener at hostport (flag names it for the reason): opened, then
 * handed to the module's start. Disabled (*state NULL) when hostport is empty. */
static int tcp_start(ingest_worker *w, const char *flag, const char *hostport,
                     int (*start)(ingest_worker *, int, void **, char *, size_t), void **state,
                     char *err, size_t n)
{
    int fd;
    *state = NULL;
    if (!enabled(hostport))
        return 0;
    if (listen_on(flag, hostport, SOCK_STREAM, &fd, err, n))
        return CORE_EINVAL;
    return start(w, fd, state, err, n);
}

/* ---- OsmAnd: listens only ---- */
static int osmand_start(ingest_worker *w, void **state, char *err, size_t n)
{
    return tcp_start(w, "osmand", ingest_worker_cfg(w)->osmand, ingest_osmand_start, state, err, n);
}

static const ingest_protocol osmand = {
    .name = "osmand",
    .id = INGEST_OSMAND,
    .start = osmand_start,
    .stop = ingest_osmand_stop,
};

/* ---- JT/T 808: listens and takes commands (jt808_conn.c) ---- */
#ifdef HAVE_INGEST_JT808
static int jt808_start(ingest_worker *w, void **state, char *err, size_t n)
{
    return tcp_start(w, "jt808", ingest_worker_cfg(w)->jt808, ingest_jt808_start, state, err, n);
}

static const char *const jt808_commands[] = {
    "set_interval", "set_params", "locate", "seal", "unseal", "text", "reboot", "alarm_ack", NULL};

const ingest_protocol ingest_jt808_protocol = {
    .name = "jt808",
    .id = INGEST_JT808,
    .commands = jt808_commands,
    .start = jt808_start,
    .stop = ingest_jt808_stop,
    .send = ingest_jt808_send,
};
#endif

/* ---- AIS NMEA: TCP and UDP listeners and dialled feeds (ais_conn.c) ---- */
#ifdef HAVE_INGEST_AIS
static int ais_start(ingest_worker *w, void **state, char *err, size_t n)
{
    const core_config *cfg = ingest_worker_cfg(w);
    int tcp = -1, udp = -1;
    *state = NULL;
    if (!enabled(cfg->ais))
        return 0;
    /* one UDP socket a worker: datagrams are spread over workers by SO_REUSEPORT */
    if (listen_on("ais", cfg->ais, SOCK_STREAM, &tcp, err, n) ||
        listen_on("ais", cfg->ais, SOCK_DGRAM, &udp, err, n)) {
        if (tcp >= 0)
            close(tcp);
        return CORE_EINVAL;
    }
    return ingest_ais_start(w, tcp, udp, state, err, n);
}

static const ingest_protocol ais = {
    .name = "ais",
    .id = INGEST_AIS,
    .start = ais_start,
    .stop = ingest_ais_stop,
    .metrics = ingest_ais_metrics_n,
    .feeds_json = ingest_ais_feeds_json_n,
};
#endif

const ingest_protocol *const ingest_protocols[] = {
    &osmand,
#ifdef HAVE_INGEST_JT808
    &ingest_jt808_protocol,
#endif
#ifdef HAVE_INGEST_AIS
    &ais,
#endif
};
const int ingest_n_protocols = (int)(sizeof ingest_protocols / sizeof ingest_protocols[0]);

const ingest_protocol *ingest_protocol_find(const char *name)
{
    for (int i = 0; i < ingest_n_protocols; i++)
        if (strcmp(ingest_protocols[i]->name, name) == 0)
            return ingest_protocols[i];
    return NULL;
}

int ingest_protocol_takes(const ingest_protocol *p, const char *command)
{
    for (const char *const *c = p ? p->commands : NULL; c && *c; c++)
        if (strcmp(*c, command) == 0)
            return 1;
    return 0;
}
