/*
 * proto.h: the device-protocol interface. A protocol is one module behind a table of
 * functions; the ingest workers know only the table (proto.c lists the modules built in),
 * so a new protocol plugs in by adding its table there, without touching the workers.
 *
 * What a module owns and where it runs:
 *   - start/stop: its listening sockets and every connection on one worker. Called on
 *     main() while the worker is built (start) and on the worker's thread after its loop
 *     ended (stop). Everything else of the module runs on the worker's thread.
 *   - decoding uplink frames: inside the module (its codec is a pure library: jt808.c,
 *     osmand.c, ais.c, unit-tested and fuzzed); observations go to ingest_submit().
 *   - commands: `commands` lists what the protocol can take (docs/commands.md; the
 *     database's corridor.protocol_commands must say the same, tests/ingest/test_proto.c
 *     checks it). When a seal authenticates on one of its connections the module calls
 *     ingest_seal_online(); the worker's command queue (commands.c) then calls `send` with
 *     the connection to encode a command into a downlink frame and write it, and the
 *     module matches the device's answers to what it sent by (serial, message id) and
 *     reports them with ingest_command_answer().
 */
#ifndef CORRIDOR_INGEST_PROTO_H
#define CORRIDOR_INGEST_PROTO_H

#include "ingest_int.h"

/* One queued command as the queue hands it to a module (corridor.command_due). */
typedef struct ingest_cmd {
    long long id;
    char name[16];     /* "set_interval", "locate", "seal", "unseal", "text", ... */
    char params[1024]; /* its params as JSON text, validated by corridor.command_create */
    int attempt;       /* 1 for the first send */
} ingest_cmd;

typedef struct ingest_protocol {
    const char *name; /* the value of corridor.seals.protocol ("jt808"), or a feed's name */
    enum ingest_proto id;
    const char *const *commands; /* NULL-terminated; NULL: the protocol only listens */
    /* Opens the protocol's listeners on worker w when the configuration enables it.
     * 0 with *state set (NULL when disabled), or a negative code with a reason in err. */
    int (*start)(ingest_worker *w, void **state, char *err, size_t n);
    void (*stop)(void *state);
    /* Encodes cmd for the device behind conn (as given to ingest_seal_online) and writes
     * it. 0 with the frame's *serial and *msg_id (what the device's answer names), or
     * CORE_EINVAL with a reason (the command cannot be expressed for this device; the
     * queue fails it), CORE_ECLOSED when the connection is going. May be NULL. */
    int (*send)(void *conn, const ingest_cmd *cmd, int *serial, int *msg_id, char *err, size_t n);
    /* Prometheus text of the module over every worker's state (may be NULL). */
    size_t (*metrics)(void *const *states, int n, char *buf, size_t cap);
    /* The module's feeds as a JSON array (GET /api/feeds; may be NULL). */
    size_t (*feeds_json)(void *const *states, int n, char *buf, size_t cap);
} ingest_protocol;

/* The JT/T 808 module (jt808_conn.c): its table and its send function. */
extern const ingest_protocol ingest_jt808_protocol;
int ingest_jt808_send(void *conn, const ingest_cmd *cmd, int *serial, int *msg_id, char *err,
                      size_t n);

/* The modules built in, in start order (at most INGEST_PROTOCOLS_MAX). */
#define INGEST_PROTOCOLS_MAX 8
extern const ingest_protocol *const ingest_protocols[];
extern const int ingest_n_protocols;

/* The module whose seals use protocol name, or NULL. Any thread. */
const ingest_protocol *ingest_protocol_find(const char *name);
/* 1 if protocol p takes command, else 0. Any thread. */
int ingest_protocol_takes(const ingest_protocol *p, const char *command);

/* ---- the command queue on a worker (commands.c), for the modules ---- */

/* Seal seal_id is now reachable through conn of module p on worker w: its queued
 * commands go out now and whenever one is queued. A later call for the same seal
 * replaces the earlier connection. */
void ingest_seal_online(ingest_worker *w, const ingest_protocol *p, const char *seal_id,
                        void *conn);
/* conn is going: it no longer carries seal_id (no-op when another connection took over). */
void ingest_seal_offline(ingest_worker *w, const char *seal_id, void *conn);
/* The device answered the frame (serial, msg_id) with result (JT/T 808 codes: 0 ok, 1
 * failed, 2 bad message, 3 unsupported, 4 alarm confirmed); lock is the lock state the
 * answer reports ("open", "locked", or NULL) and position 1 when it carried a position.
 * Runs before the answer's own fix is submitted, so an unseal's confirmation is recorded
 * before the opening is evaluated. 1 when it matched a command, else 0. */
int ingest_command_answer(ingest_worker *w, const char *seal_id, int serial, int msg_id, int result,
                          const char *lock, int position);

/* The queue of worker w, made and freed by worker.c: NULL when it cannot be made (then
 * nothing is sent; the commands wait in the database). Worker thread. */
ingest_cmdq *ingest_commands_new(ingest_worker *w);
void ingest_commands_free(ingest_cmdq *q);
/* The worker is about to close or re-make its control connection: the queue drops its
 * event on that socket now (an event left on a closed fd would swallow the wake-ups of
 * whichever connection gets the fd number next) and LISTENs again on the next one. */
void ingest_commands_ctl_closing(ingest_cmdq *q);

#endif
