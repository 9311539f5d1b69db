/*
 * core.h: the basics every Corridor module shares: error codes, logging, the clock,
 * the server configuration, and a bounded thread-safe queue.
 *
 * Owns nothing global except the log level and sink, which main() sets once before any
 * thread starts. Everything here is thread-safe unless a function says otherwise.
 */
#ifndef CORRIDOR_CORE_H
#define CORRIDOR_CORE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- errors: 0 is success, negative CORE_E* or -errno on failure ---- */
#define CORE_OK        0
#define CORE_EINVAL    (-1001) /* bad input: the caller's fault */
#define CORE_ETOOBIG   (-1002) /* input over a hard limit */
#define CORE_EFULL     (-1003) /* queue or buffer full: try later */
#define CORE_EDB       (-1004) /* database error */
#define CORE_ECLOSED   (-1005) /* peer or queue closed */
#define CORE_ENOTFOUND (-1006)
#define CORE_ECONFLICT (-1007)
#define CORE_EAGAIN    (-1008) /* not ready yet: incomplete frame, retry with more input */

/* Returns a static string naming err (a CORE_E* code or -errno). */
const char *core_strerror(int err);

/* ---- database connections ----
 * libpq options every connection of the server passes BEFORE the --db conninfo (given as
 * "dbname" with expand_dbname, so its own values win): a server that vanishes without
 * closing its sockets (a machine dies, a failover moves the address) is noticed within
 * about 20 s by TCP keepalives and the user timeout, not after the kernel's two hours; on
 * a unix socket they are ignored. The conninfo itself is never parsed by Corridor: a
 * multi-host string ("host=a,b target_session_attrs=read-write") reaches libpq as it is. */
#define CORE_DB_OPTION_KEYS                                                                        \
    "connect_timeout", "keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count", \
        "tcp_user_timeout"
#define CORE_DB_OPTION_VALS "5", "1", "10", "3", "3", "20000"

/* ---- logging: one machine-readable line per record on stderr ----
 * ts=2026-11-26T20:00:00.123Z level=info mod=ingest msg="..." (logfmt). */
enum core_log_level { CORE_LOG_DEBUG, CORE_LOG_INFO, CORE_LOG_WARN, CORE_LOG_ERROR };
void core_log_set_level(enum core_log_level level);
int core_log_parse_level(const char *s, enum core_log_level *out);
void core_log(enum core_log_level level, const char *mod, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#define core_debug(mod, ...) core_log(CORE_LOG_DEBUG, mod, __VA_ARGS__)
#define core_info(mod, ...)  core_log(CORE_LOG_INFO, mod, __VA_ARGS__)
#define core_warn(mod, ...)  core_log(CORE_LOG_WARN, mod, __VA_ARGS__)
#define core_error(mod, ...) core_log(CORE_LOG_ERROR, mod, __VA_ARGS__)

/* ---- clock ---- */
int64_t core_now_us(void);  /* wall clock, microseconds since the Unix epoch */
int64_t core_mono_us(void); /* monotonic, microseconds */
/* Formats a Unix time in microseconds as ISO 8601 UTC with milliseconds into buf
 * (at least 32 bytes). Returns buf. */
char *core_iso8601(int64_t us, char *buf, size_t n);
/* Parses ISO 8601 (2026-11-26T20:00:00Z, fractional seconds, +hh:mm offsets).
 * Returns 0 and the time in microseconds, or CORE_EINVAL. */
int core_parse_iso8601(const char *s, int64_t *out_us);
/* 1 if s is such a time or a calendar date YYYY-MM-DD (the API's since/until), else 0. */
int core_valid_time_or_date(const char *s);
/* Days since 1970-01-01 of the proleptic Gregorian date y-m-d (m 1..12, d 1..31, not
 * checked), negative before; and back. Exact for every date an int64_t of days holds,
 * without the C library's time zone or range limits. Thread-safe. */
int64_t core_days_from_civil(int64_t y, int m, int d);
void core_civil_from_days(int64_t days, int *y, int *m, int *d);

/* ---- configuration: built once by main(), read-only afterwards ---- */
/* The stages one corridord process runs (--role): all of them by default; split over
 * processes and machines, they talk over nng tcp:// URLs (docs/scaling.md). */
enum core_role { CORE_ROLE_INGEST = 1, CORE_ROLE_WEB = 2, CORE_ROLE_ALERTS = 4, CORE_ROLE_ALL = 7 };

typedef struct core_config {
    const char *db;           /* libpq conninfo, NULL: libpq defaults */
    const char *role;         /* "all" or a comma list of ingest, web, alerts */
    int roles;                /* the parsed role, a mask of enum core_role */
    const char *http;         /* ADDR:PORT of the web gateway */
    const char *osmand;       /* ADDR:PORT of the OsmAnd listener, "" disables */
    const char *jt808;        /* ADDR:PORT of the JT/T 808 listener, "" disables */
    const char *ais;          /* ADDR:PORT of the AIS TCP+UDP listener, "" disables */
    const char *ais_feeds[8]; /* HOST:PORT feeds to dial */
    int n_ais_feeds;
    const char *dispatch;   /* nng URL for RRU dispatch */
    const char *events_url; /* nng URL where the web gateway pulls events */
    const char *static_dir; /* the pages */
    const char *vendor_dir; /* npm packages the pages use */
    const char *log_level;
    int workers;        /* ingest worker threads */
    int batch_max;      /* observations per batch */
    int batch_ms;       /* longest a batch waits before it is sent */
    int worker_regions; /* workers keep a copy of the safe regions (057) */
    int max_future_s;   /* device times further ahead than this are refused */
    int dispatch_ack_timeout_s;
    int ws_queue_max;      /* incidents queued per websocket client before it is dropped */
    int sweep_interval_s;  /* seconds between runs of the periodic rules */
    int osmand_body_max;   /* bytes of an OsmAnd request body: 413 above */
    int osmand_header_max; /* bytes of an OsmAnd request's headers */
    int no_migrate;        /* do not migrate at start-up */
    const char *tls_cert;  /* PEM certificate (chain): the web gateway serves HTTPS/WSS */
    const char *tls_key;   /* PEM private key of tls_cert */
    int body_max;          /* bytes of a request body (413 above) */
    int header_max;        /* bytes of a request's headers (431 above) */
    int conn_per_ip;       /* open HTTP/ws connections per client address */
    int rate_per_token;    /* requests per second per API token (429 above), 0: none */
    int rate_burst;        /* requests a token may make at once before the rate applies */
    int ws_message_max;    /* bytes of one client -> server websocket message */
    int session_idle_s;    /* a sign-in session unused this long ends (session.c) */
    int session_max_s;     /* a sign-in session ends this long after it began, however used */
    /* the signer of the chain heads (server/evidence.c): an Ed25519 private key PEM, and
     * the seconds between its rounds */
    const char *signing_key;
    int sign_interval_s;
} core_config;

/* Fills cfg with the documented defaults. */
void core_config_defaults(core_config *cfg);
/* Applies one setting by its flag name without dashes ("http", "db", ...).
 * Returns 0, or CORE_EINVAL with a one-line reason in err. Strings are not copied:
 * they must outlive cfg (argv, or a file loaded with core_config_load). */
int core_config_set(core_config *cfg, const char *name, const char *value, char *err, size_t n);
/* Parses --name VALUE / --name=VALUE flags from argv[first..argc). --config FILE loads
 * "name = value" lines first-come; later flags override. Unknown flags are an error. */
int core_config_parse(core_config *cfg, int argc, char **argv, int first, char *err, size_t n);
/* Prints the flag table for --help. */
void core_config_usage(FILE *out);

/* Parses a --role value ("all", "ingest,web", ...) into a mask of enum core_role.
 * 0 or CORE_EINVAL. */
int core_role_parse(const char *s, int *out);

/* Splits "ADDR:PORT" into a host (copied into host, n bytes) and a port.
 * Returns 0 or CORE_EINVAL. */
int core_split_hostport(const char *s, char *host, size_t n, int *port);

/* ---- bounded queue: many producers, one consumer, of void* items ----
 * The consumer is woken by the caller's own mechanism (lws_cancel_service, event_active);
 * the queue only refuses when full. */
typedef struct core_queue core_queue;
core_queue *core_queue_new(size_t capacity);
void core_queue_free(core_queue *q);            /* items still queued are not freed */
int core_queue_push(core_queue *q, void *item); /* 0, or CORE_EFULL */
void *core_queue_pop(core_queue *q);            /* NULL when empty */
size_t core_queue_len(core_queue *q);

/* ---- thread ownership: a debug build checks what the headers claim ----
 * A loop or connection owned by one thread carries a core_owner. The owning thread calls
 * core_owner_take() when it starts running it; every function the header says runs on that
 * thread calls core_owner_check(), which in a debug build (NDEBUG undefined: the test
 * build) logs the function and aborts when another thread calls it. Free in a release
 * build. Before core_owner_take() any thread may call (set-up on main()). */
typedef struct core_owner {
    pthread_t id;
    int set;
} core_owner;
#ifdef NDEBUG
#define core_owner_take(o)  ((void)(o))
#define core_owner_check(o) ((void)(o))
#else
#define core_owner_take(o)  ((o)->id = pthread_self(), (o)->set = 1)
#define core_owner_check(o) core_owner_check_at((o), __func__)
#endif
void core_owner_check_at(const core_owner *o, const char *func);

#endif
