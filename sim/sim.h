/*
 * sim.h: the parts of corridor-sim, shared by its files and its unit tests only.
 *
 * corridor-sim is one single-threaded program: main() parses the command line and runs one
 * mode (demo-data, scenario, load) on its own libevent loop. The pure parts (geodesy along
 * a polyline, the Northern Corridor road, the places CSV, the OsmAnd URL, the HTTP response
 * parser, the latency histogram) hold no global state and are unit-tested in tests/sim/.
 * Nothing here is thread-safe unless it says so; nothing needs to be.
 */
#ifndef CORRIDOR_SIM_H
#define CORRIDOR_SIM_H

#include <stdio.h>
#include "core.h"

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct evbuffer;

/* ---- geodesy on a sphere (geo.c): degrees in, metres and degrees out ---- */
#define SIM_EARTH_R 6371008.8 /* mean Earth radius (IUGG), metres */

typedef struct sim_point {
    double lat, lon;
    double alt; /* metres above sea level; 0 when unknown */
} sim_point;

/* Great-circle distance in metres (haversine). */
double sim_geo_distance(double lat1, double lon1, double lat2, double lon2);
/* Initial bearing from point 1 to point 2, degrees clockwise from north in [0, 360). */
double sim_geo_bearing(double lat1, double lon1, double lat2, double lon2);
/* The point reached from (lat, lon) after dist_m metres on initial bearing brg degrees. */
void sim_geo_destination(double lat, double lon, double brg, double dist_m, double *out_lat,
                         double *out_lon);
/* Fills ring with a closed counter-clockwise polygon ring of n_sides + 1 points (the first
 * repeated last) at radius_m metres around (lat, lon). ring holds n_sides + 1 points. */
void sim_geo_circle(double lat, double lon, double radius_m, int n_sides, sim_point *ring);

/* A polyline with cumulative distances, for "where is a truck after d metres". */
typedef struct sim_path sim_path;
/* Copies n >= 2 points. NULL on bad input (n < 2) or allocation failure. */
sim_path *sim_path_new(const sim_point *pts, int n);
void sim_path_free(sim_path *p);
double sim_path_length(const sim_path *p); /* metres */
int sim_path_count(const sim_path *p);
const sim_point *sim_path_point(const sim_path *p, int i);
/* Where the path is at d metres from its start (clamped to [0, length]): the position
 * (lat, lon, alt interpolated linearly along the segment's great circle) and the bearing
 * of travel, forward when dir >= 0, backward otherwise. */
void sim_path_at(const sim_path *p, double d, int dir, sim_point *out, double *bearing);
/* Distance along the path of the vertex nearest to (lat, lon), in metres. */
double sim_path_offset_of(const sim_path *p, double lat, double lon);

/* ---- the Northern Corridor (corridor.c) ---- */
/* The road Mombasa port -> Kigali, following the highway (A109/A104, Uganda's Northern
 * Corridor road via Malaba, Kampala, Masaka, Mbarara, Kabale, Katuna). *n gets the count;
 * the array is static and read-only. */
const sim_point *sim_corridor_road(int *n);
/* The same road with a detour that leaves the highway between Voi and Mtito Andei, crosses
 * the restricted zone and comes back, written into out (max points). Returns the count, or
 * CORE_ETOOBIG when max is too small (SIM_CORRIDOR_MAX always suffices). */
#define SIM_CORRIDOR_MAX 128
int sim_corridor_deviation(sim_point *out, int max);
/* The restricted zone (off the highway, east of it, between Voi and Mtito Andei). */
typedef struct sim_zone {
    const char *name;
    const char *kind;
    const char *country;
    double lat, lon, radius_m;
} sim_zone;
const sim_zone *sim_corridor_restricted(void);

/* ---- the places CSV (places.c) ---- */
#define SIM_NAME_MAX   96
#define SIM_PLACES_MAX 256
typedef struct sim_place {
    char name[SIM_NAME_MAX];
    char kind[24];   /* port, icd, border_post, town, rru, anchorage */
    char country[4]; /* ISO 3166-1 alpha-2 */
    double lat, lon;
} sim_place;

/* Parses the CSV text (lines starting with '#' are comments; the first other line is the
 * header "name,kind,country,lat,lon"). Fills at most max places. Returns the count, or
 * CORE_EINVAL with "line N: reason" in err. */
int sim_places_parse(const char *text, size_t len, sim_place *out, int max, char *err, size_t n);
/* Reads and parses a file; same returns (-errno when it cannot be read). */
int sim_places_load(const char *path, sim_place *out, int max, char *err, size_t n);

/* The geofence a place becomes in the demo data: kind and radius in metres. Returns 0, or
 * CORE_ENOTFOUND when the place is not a geofence (rru bases are units, not fences). */
int sim_place_fence(const sim_place *p, const char **kind, double *radius_m);

/* ---- OsmAnd (osmand.c) ---- */
typedef struct sim_ping {
    const char *id;
    double lat, lon;
    int64_t timestamp; /* Unix seconds or milliseconds, sent as given */
    double speed_kn, bearing, altitude, accuracy, batt;
    const char *lock; /* "locked", "open", or NULL for none */
} sim_ping;

/* Writes the request target "/?id=..&lat=.." (id percent-encoded) into buf. Returns the
 * length, or CORE_ETOOBIG if it does not fit (buf is then unusable). */
int sim_osmand_target(const sim_ping *p, char *buf, size_t n);
/* Percent-encodes s (RFC 3986 unreserved characters pass) into buf. Returns the length or
 * CORE_ETOOBIG. */
int sim_url_encode(const char *s, char *buf, size_t n);

/* ---- HTTP/1.1 responses (http.c) ---- */
#define SIM_HTTP_LINE_MAX    8192 /* longest status or header line */
#define SIM_HTTP_HEADERS_MAX 100

/* An incremental response parser. The fields are public to read once it completes. */
typedef struct sim_http_resp {
    int status;            /* public: the status code */
    int close;             /* public: the server will close the connection after it */
    struct evbuffer *body; /* public: the body (owned by the parser) */
    /* private */
    int state, n_headers, chunked;
    int64_t remaining; /* body bytes (or chunk bytes) still expected; -1 until EOF */
} sim_http_resp;

int sim_http_resp_init(sim_http_resp *r);
void sim_http_resp_release(sim_http_resp *r);
/* Resets for the next response on the same connection (the body is emptied). */
void sim_http_resp_reset(sim_http_resp *r);
/* Consumes bytes of in. Returns 1 when a response is complete (the bytes after it stay
 * in in), 0 when it needs more, CORE_ETOOBIG when a line or the body exceeds its limit,
 * CORE_EINVAL when it is not HTTP. eof: the peer closed (completes a body delimited by
 * the close). */
int sim_http_parse(sim_http_resp *r, struct evbuffer *in, size_t body_max, int eof);

/* A client HTTP/1.1 keep-alive connection with pipelined requests answered in order. */
typedef struct sim_http sim_http;
/* status: the HTTP status, or a negative CORE_E* / -errno when no response came (connection
 * refused or lost, timeout, unparsable answer). body is NUL-terminated, valid during the
 * call. latency_us: from the request's send (or its due time, see sim_http_request_at). */
typedef void (*sim_http_done_fn)(void *arg, int status, const char *body, size_t len,
                                 int64_t latency_us);
/* host must be a numeric address or a resolvable name. NULL with a reason in err. */
sim_http *sim_http_new(struct event_base *base, const char *hostport, size_t body_max,
                       int timeout_s, char *err, size_t n);
void sim_http_free(sim_http *h); /* pending requests are dropped without callbacks */
/* Queues a request (connecting first when needed); done is called exactly once, later,
 * never from inside this call. extra_headers: "" or lines each ending in "\r\n".
 * Returns 0, or CORE_EFULL when SIM_HTTP_INFLIGHT_MAX requests are already waiting. */
#define SIM_HTTP_INFLIGHT_MAX 4096
int sim_http_request(sim_http *h, const char *method, const char *target, const char *extra_headers,
                     const char *body, size_t len, sim_http_done_fn done, void *arg);
/* The same, with latency counted from due_us (core_mono_us clock) instead of now. */
int sim_http_request_at(sim_http *h, const char *method, const char *target,
                        const char *extra_headers, const char *body, size_t len, int64_t due_us,
                        sim_http_done_fn done, void *arg);
int sim_http_inflight(const sim_http *h);
/* Runs the loop until this request is answered: a blocking call for the simple REST work
 * of demo-data and registration. Returns the status (or negative code); *body gets a
 * malloc'd NUL-terminated copy the caller frees (may be NULL). */
int sim_http_call(sim_http *h, const char *method, const char *target, const char *extra_headers,
                  const char *body, char **out_body);

/* ---- latency histogram (stats.c): log-linear buckets, about 3 % resolution ---- */
#define SIM_HIST_BUCKETS 1280
typedef struct sim_hist {
    uint64_t count;
    uint64_t b[SIM_HIST_BUCKETS];
} sim_hist;
void sim_hist_add(sim_hist *h, int64_t us);
/* The value (microseconds) below which a fraction q (0..1) of samples lie; 0 if empty. */
int64_t sim_hist_quantile(const sim_hist *h, double q);
int sim_hist_index(int64_t us);  /* exposed for the tests */
int64_t sim_hist_value(int idx); /* representative (midpoint) value of a bucket */

/* ---- JT/T 808 terminal connections for the load mode (load_jt808.c) ---- */
#define SIM_JT_INFLIGHT_MAX 1024 /* 0x0200 frames awaiting their 0x8001 per connection */
#define SIM_JT_PEND_MAX     2048 /* bytes of frames gathered per connection and loop turn */
struct ingest_jt808_location;
typedef struct sim_jt sim_jt;
/* status: 200 for an 0x8001 result 0, 400 + result for another result, or a negative
 * CORE_E* when no answer came (connection lost). latency_us counts from the due time. */
typedef void (*sim_jt_done_fn)(void *arg, int status, int64_t latency_us);
/* Connects to a numeric IPv4 ADDR:PORT, registers and authenticates as terminal (12
 * digits). NULL with a reason in err. */
sim_jt *sim_jt_new(struct event_base *base, const char *hostport, const char *terminal,
                   sim_jt_done_fn done, void *arg, char *err, size_t n);
int sim_jt_ready(const sim_jt *j); /* 1 authenticated, 0 not yet, negative: failed */
/* Once authenticated, replay a blind-area batch (0x0704) of positions (at most 30, one
 * frame) from the hour before; sim_jt_backfill_acked says whether its 0x8001 came. */
void sim_jt_set_backfill(sim_jt *j, int positions);
int sim_jt_backfill_acked(const sim_jt *j);
int sim_jt_inflight(const sim_jt *j);
/* Sends one 0x0200 (0, CORE_EFULL at SIM_JT_INFLIGHT_MAX, CORE_ECLOSED when not ready). */
int sim_jt_ping(sim_jt *j, const struct ingest_jt808_location *l, int64_t due_us);
/* Commands (docs/commands.md): a terminal answers them unless told to ignore them; the
 * report interval the centre set (0: none), whether it is locked, how many it answered. */
void sim_jt_set_ignore(sim_jt *j, int ignore);
int sim_jt_interval(const sim_jt *j);
int sim_jt_locked(const sim_jt *j);
unsigned sim_jt_commands(const sim_jt *j);
void sim_jt_free(sim_jt *j);
/* Every acknowledged 0x0200 (result 0) is written to f as "TERMINAL DEVICE_UNIX_S WALL_MS\n":
 * the fix's device time and when its acknowledgement came, Unix ms (NULL: not listed). */
void sim_jt_set_acked_log(FILE *f);

/* ---- modes ---- */
typedef struct sim_opts {
    const char *http, *osmand, *data, *token, *proto;
    const char *jt808;         /* load --protocol jt808: the JT/T 808 listener(s), A,B,... */
    const char *acked_out;     /* load jt808: where acknowledged pings are listed */
    const char *register_http; /* load: where to register seals, NULL: not */
    int seals, connections, pipeline;
    double speedup, interval_s, duration_s, rate;
    double device_time;  /* load jt808: Unix seconds of each seal's first ping; 0: auto */
    int backfill;        /* load jt808: positions each terminal replays as a 0x0704 batch */
    int ignore_commands; /* elocks, load jt808: terminals take no notice of commands */
} sim_opts;

/* Each returns the process exit status (0 success, 1 failure after a logged reason). */
int sim_demo_data(const sim_opts *o);
int sim_scenario(const sim_opts *o);
int sim_load(const sim_opts *o);
int sim_trips(const sim_opts *o);  /* trips.c */
int sim_elocks(const sim_opts *o); /* elock.c */
/* `corridor-sim ais ...` (ais_feed.c) parses its own flags: argv[1] is "ais". */
int sim_ais_main(int argc, char **argv);

/* The extra request headers for REST (Authorization when a token is set) in buf. */
const char *sim_rest_headers(const sim_opts *o, char *buf, size_t n);
/* Registers seals id[0..n) through POST /api/seals over h (409 counts as done).
 * Returns 0, or a negative code after logging the first failure. */
int sim_register_seals(sim_http *h, const sim_opts *o, char *const *ids, int n);

#endif
