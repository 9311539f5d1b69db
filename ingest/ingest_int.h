/*
 * ingest_int.h: what the protocol handlers of ingest/ share with the worker. No other
 * module includes this file.
 *
 * Every function here runs on the worker's own thread (the one running its event_base).
 */
#ifndef CORRIDOR_INGEST_INT_H
#define CORRIDOR_INGEST_INT_H

#include "ingest.h"
#include "geofence.h"

#include <event2/event.h>
#include <libpq-fe.h>

typedef struct ingest_worker ingest_worker;

/* Called once per submitted observation after its batch ended: status 0 when it is
 * committed (stored, or an exact duplicate already stored), CORE_EINVAL when the database
 * refused it (reason says why, e.g. unknown seal), CORE_EDB when the batch could not be
 * stored (the device must not be acknowledged and should re-send). Runs on the worker
 * thread. */
typedef void (*ingest_done_fn)(void *arg, int status, const char *reason);

enum ingest_proto { INGEST_OSMAND, INGEST_JT808, INGEST_AIS };

/* Adds a copy of obs to the worker's open batch; done(arg, ...) is called exactly once
 * later, never from inside this call. Returns 0, or CORE_EFULL when the worker already
 * holds its limit of waiting observations: the caller must stop reading from its device
 * and call again after ingest_worker_on_space fires (backpressure, docs/performance.md); or
 * CORE_ECLOSED while the server shuts down (refuse the device: it re-sends elsewhere or
 * later). A call that fails never calls done. */
int ingest_submit(ingest_worker *w, enum ingest_proto proto, const geo_obs *obs,
                  ingest_done_fn done, void *arg);

/* Registers a callback fired (once) when the worker has room again after CORE_EFULL. */
void ingest_worker_on_space(ingest_worker *w, void (*fn)(void *arg), void *arg);

/* The worker's loop, for the handlers' own events and bufferevents. */
struct event_base *ingest_worker_base(ingest_worker *w);

/* A blocking connection for rare control look-ups (a JT/T 808 terminal registering,
 * a seal's time zone); never used for observations. May be NULL while the database is
 * down: then the handler refuses and the device retries. */
PGconn *ingest_worker_ctl(ingest_worker *w);

/* The worker's number, 0 .. cfg->workers - 1 (work done once per server, such as
 * dialling AIS feeds, belongs to worker 0). */
int ingest_worker_id(ingest_worker *w);

/* The configuration and the worker's counters. */
const core_config *ingest_worker_cfg(ingest_worker *w);
ingest_counters *ingest_worker_counters(ingest_worker *w);

/* The worker's command queue (commands.c, proto.h), NULL without one. */
typedef struct ingest_cmdq ingest_cmdq;
ingest_cmdq *ingest_worker_cmdq(ingest_worker *w);
/* Sends one JSON message (an object with "type") to the web gateway now, not with the
 * batch's messages; dropped and counted when the gateway's queue is full. */
void ingest_worker_publish(ingest_worker *w, const char *json, size_t len);

/* Opens a listening socket with SO_REUSEPORT on "ADDR:PORT" (type SOCK_STREAM or
 * SOCK_DGRAM), non-blocking. Returns the fd, or a negative CORE_E* / -errno. */
int ingest_listen(const char *hostport, int type);

/* ---- protocol handlers, each started once per worker ----
 * Each returns 0 or a negative code with a reason in err; *state is freed by the
 * matching stop function, which closes the listener and every connection. */
int ingest_osmand_start(ingest_worker *w, int fd, void **state, char *err, size_t n);
void ingest_osmand_stop(void *state);

/* JT/T 808 over TCP (ingest/jt808_conn.c), when ingest/jt808.cmake defines
 * HAVE_INGEST_JT808. fd is a listening TCP socket the handler owns from now on. */
int ingest_jt808_start(ingest_worker *w, int fd, void **state, char *err, size_t n);
void ingest_jt808_stop(void *state);

/* AIS NMEA over TCP and UDP (ingest/ais_conn.c), when ingest/ais.cmake defines
 * HAVE_INGEST_AIS. tcp_fd and udp_fd are listening sockets the handler owns. */
int ingest_ais_start(ingest_worker *w, int tcp_fd, int udp_fd, void **state, char *err, size_t n);
void ingest_ais_stop(void *state);

/* ---- decoders (pure functions, unit-tested and fuzzed) ---- */

/* Parses an OsmAnd request (query string or form body, or the Traccar Client JSON body
 * when json is non-zero) into obs. now_us and max_future_s bound the device time.
 * Returns 0, or CORE_EINVAL with a precise reason ("latitude 91.5 outside -90..90"). */
int ingest_osmand_parse(const char *text, size_t len, int json, int64_t now_us, int max_future_s,
                        geo_obs *obs, char *reason, size_t n);

#endif
