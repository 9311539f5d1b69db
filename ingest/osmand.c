/*
 * osmand.c: the OsmAnd protocol (Traccar Client compatible), served by libevent's HTTP
 * server on each ingest worker's loop.
 *
 * A ping is GET or POST to any path with id, lat, lon, timestamp, ... in the query string
 * or a form body, or a Traccar Client JSON body. The parser (ingest_osmand_parse) is a pure
 * function; the handler submits the observation to the worker and answers only from the
 * done callback: 200 after the batch committed, 400 with the reason when refused, 503
 * with Retry-After when it could not be stored (never 200 unless committed). A request whose
 * connection closed meanwhile is still answered (libevent then frees it).
 *
 * Owns: the worker's evhttp instance and its connections. Runs on the worker thread.
 */
#include "ingest_int.h"

#include <ctype.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <json-c/json.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MOD "osmand"
/* The parser's own ceiling; the served limit is --osmand-body-max (default 16 KiB). */
#define OSMAND_MAX_BODY  (1024 * 1024)
#define OSMAND_TIMEOUT_S 60
/* Retry-After of a 503 for a ping the database could not take: about the time a worker
 * needs to reconnect (every second) and libpq to find the new primary. */
#define OSMAND_RETRY_DB_S 2

/* A parsed ping waiting for room in the worker's batches (backpressure). */
struct held {
    struct held *next;
    struct evhttp_request *req;
    geo_obs obs;
};

/* Pings held while both batches are full: at most one per connection (evhttp reads a
 * connection's next request only after answering this one), and at most OSMAND_HELD_MAX
 * in all, past which devices are told 503 to retry. */
#define OSMAND_HELD_MAX 20000

struct osmand {
    ingest_worker *w;
    struct evhttp *http;
    size_t body_max;
    char *body; /* body_max + 1 bytes, reused: a request is parsed before the next */
    struct held *held_head, *held_tail;
    int n_held, waiting; /* waiting: a space callback is registered */
};

/* ---- parsing: pure ---- */

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Percent-decodes src[0..len) into dst (n bytes). Returns the length, or -1 if the text
 * is malformed or does not fit. */
static int url_decode(const char *src, size_t len, char *dst, size_t n)
{
    size_t j = 0;
    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char)src[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            int h, l;
            if (i + 2 >= len || (h = hexval(src[i + 1])) < 0 || (l = hexval(src[i + 2])) < 0)
                return -1;
            c = h * 16 + l;
            i += 2;
        }
        if (c == 0 || j + 1 >= n)
            return -1;
        dst[j++] = (char)c;
    }
    dst[j] = 0;
    return (int)j;
}

static int parse_double(const char *s, double *out)
{
    char *end;
    if (!*s)
        return -1;
    double v = strtod(s, &end);
    if (*end || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

/* Device time: Unix seconds, Unix milliseconds, or ISO 8601. */
static int parse_time(const char *s, int64_t *us)
{
    double v;
    if (parse_double(s, &v) == 0) {
        if (v > 1e11) /* milliseconds: seconds this large are year 5138 */
            v /= 1000.0;
        if (v < 0 || v > 1e11)
            return -1;
        *us = (int64_t)llround(v * 1e6);
        return 0;
    }
    return core_parse_iso8601(s, us);
}

static int check_id(const char *id, char *reason, size_t n)
{
    size_t len = strlen(id);
    if (len == 0) {
        snprintf(reason, n, "missing device id (id=...)");
        return CORE_EINVAL;
    }
    if (len > GEO_ID_MAX) {
        snprintf(reason, n, "device id longer than %d characters", GEO_ID_MAX);
        return CORE_EINVAL;
    }
    for (size_t i = 0; i < len; i++)
        if (!isgraph((unsigned char)id[i])) {
            snprintf(reason, n, "device id has a character that is not printable ASCII");
            return CORE_EINVAL;
        }
    return 0;
}

/* The checks every ping passes, whatever its encoding. */
static int check_obs(geo_obs *o, int have_lat, int have_lon, int64_t now_us, int max_future_s,
                     char *reason, size_t n)
{
    int rc;
    if ((rc = check_id(o->seal_id, reason, n)))
        return rc;
    if (!have_lat || !have_lon) {
        snprintf(reason, n, "missing %s", !have_lat ? "lat" : "lon");
        return CORE_EINVAL;
    }
    if (o->lat < -90 || o->lat > 90) {
        snprintf(reason, n, "latitude %g outside -90..90", o->lat);
        return CORE_EINVAL;
    }
    if (o->lon < -180 || o->lon > 180) {
        snprintf(reason, n, "longitude %g outside -180..180", o->lon);
        return CORE_EINVAL;
    }
    if (o->ts_us == 0)
        o->ts_us = now_us;
    if (o->ts_us > now_us + (int64_t)max_future_s * 1000000) {
        snprintf(reason, n, "timestamp more than %d s in the future", max_future_s);
        return CORE_EINVAL;
    }
    if (o->ts_us < 946684800LL * 1000000) {
        snprintf(reason, n, "timestamp before 2000-01-01");
        return CORE_EINVAL;
    }
    if (!isnan(o->battery) && (o->battery < 0 || o->battery > 100)) {
        snprintf(reason, n, "batt %g outside 0..100", o->battery);
        return CORE_EINVAL;
    }
    if (!isnan(o->speed_kmh) && (o->speed_kmh < 0 || o->speed_kmh > 2000)) {
        snprintf(reason, n, "speed %g outside 0..1080 knots", o->speed_kmh / 1.852);
        return CORE_EINVAL;
    }
    return 0;
}

static int set_lock(geo_obs *o, const char *v, char *reason, size_t n)
{
    if (strcmp(v, "locked") == 0 || strcmp(v, "open") == 0) {
        snprintf(o->lock, sizeof o->lock, "%s", v);
        return 0;
    }
    snprintf(reason, n, "lock must be locked or open");
    return CORE_EINVAL;
}

static int set_alarm(geo_obs *o, const char *v, char *reason, size_t n)
{
    size_t len = strlen(v);
    if (len >= sizeof o->alarm) {
        snprintf(reason, n, "alarm longer than %zu characters", sizeof o->alarm - 1);
        return CORE_EINVAL;
    }
    for (size_t i = 0; i < len; i++)
        if (!islower((unsigned char)v[i]) && v[i] != '_') {
            snprintf(reason, n, "alarm must be a lower-case word such as tampering");
            return CORE_EINVAL;
        }
    memcpy(o->alarm, v, len + 1);
    return 0;
}

static int parse_query(const char *text, size_t len, int64_t now_us, int max_future_s, geo_obs *o,
                       char *reason, size_t n)
{
    int have_lat = 0, have_lon = 0;
    const char *p = text, *end = text + len;

    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *pe = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(pe - p));
        char key[32], val[256];
        double d;
        if (pe == p) {
            p = pe + 1;
            continue;
        }
        if (!eq || url_decode(p, (size_t)(eq - p), key, sizeof key) < 0 ||
            url_decode(eq + 1, (size_t)(pe - eq - 1), val, sizeof val) < 0) {
            snprintf(reason, n, "malformed parameter \"%.*s\"", (int)(pe - p > 40 ? 40 : pe - p),
                     p);
            return CORE_EINVAL;
        }
        p = pe + 1;
        if (strcmp(key, "id") == 0 || strcmp(key, "deviceid") == 0) {
            if (strlen(val) > GEO_ID_MAX) {
                snprintf(reason, n, "device id longer than %d characters", GEO_ID_MAX);
                return CORE_EINVAL;
            }
            memcpy(o->seal_id, val, strlen(val) + 1);
        } else if (strcmp(key, "lat") == 0) {
            if (parse_double(val, &o->lat)) {
                snprintf(reason, n, "lat is not a number");
                return CORE_EINVAL;
            }
            have_lat = 1;
        } else if (strcmp(key, "lon") == 0) {
            if (parse_double(val, &o->lon)) {
                snprintf(reason, n, "lon is not a number");
                return CORE_EINVAL;
            }
            have_lon = 1;
        } else if (strcmp(key, "location") == 0) {
            char *comma = strchr(val, ',');
            if (!comma) {
                snprintf(reason, n, "location must be lat,lon");
                return CORE_EINVAL;
            }
            *comma = 0;
            if (parse_double(val, &o->lat) || parse_double(comma + 1, &o->lon)) {
                snprintf(reason, n, "location must be lat,lon");
                return CORE_EINVAL;
            }
            have_lat = have_lon = 1;
        } else if (strcmp(key, "timestamp") == 0) {
            if (parse_time(val, &o->ts_us)) {
                snprintf(reason, n, "unparsable timestamp \"%.40s\"", val);
                return CORE_EINVAL;
            }
        } else if (strcmp(key, "speed") == 0 || strcmp(key, "bearing") == 0 ||
                   strcmp(key, "heading") == 0 || strcmp(key, "altitude") == 0 ||
                   strcmp(key, "accuracy") == 0 || strcmp(key, "batt") == 0) {
            if (parse_double(val, &d)) {
                snprintf(reason, n, "%s is not a number", key);
                return CORE_EINVAL;
            }
            if (key[0] == 's')
                o->speed_kmh = (float)(d * 1.852); /* OsmAnd speed is in knots */
            else if (key[0] == 'b' && key[1] == 'e')
                o->bearing = (float)d;
            else if (key[0] == 'h')
                o->bearing = (float)d;
            else if (key[1] == 'l')
                o->altitude = (float)d;
            else if (key[1] == 'c')
                o->accuracy = (float)d;
            else
                o->battery = (float)d;
        } else if (strcmp(key, "lock") == 0) {
            if (set_lock(o, val, reason, n))
                return CORE_EINVAL;
        } else if (strcmp(key, "alarm") == 0) {
            if (set_alarm(o, val, reason, n))
                return CORE_EINVAL;
        }
        /* other parameters (hdop, charge, driverUniqueId, ...) are accepted and ignored */
    }
    return check_obs(o, have_lat, have_lon, now_us, max_future_s, reason, n);
}

static int json_num(json_object *obj, const char *key, double *out)
{
    json_object *v;
    if (!json_object_object_get_ex(obj, key, &v) || json_object_is_type(v, json_type_null))
        return 0;
    if (!json_object_is_type(v, json_type_double) && !json_object_is_type(v, json_type_int))
        return -1;
    *out = json_object_get_double(v);
    return isfinite(*out) ? 1 : -1;
}

/* Traccar Client 9: {"device_id": "...", "location": {"timestamp": ISO, "coords":
 * {"latitude", "longitude", "speed" (m/s), "heading", "altitude", "accuracy"},
 * "battery": {"level": 0..1}, "extras": {"lock", "alarm"}}} */
static int parse_json(const char *text, size_t len, int64_t now_us, int max_future_s, geo_obs *o,
                      char *reason, size_t n)
{
    int rc = CORE_EINVAL, have_lat = 0, have_lon = 0;
    json_tokener *tok = json_tokener_new_ex(16);
    json_object *root = NULL, *loc, *coords, *v;
    double d;

    if (!tok) {
        snprintf(reason, n, "out of memory");
        return CORE_EINVAL;
    }
    root = json_tokener_parse_ex(tok, text, (int)len);
    if (!root || json_tokener_get_parse_end(tok) < len) {
        enum json_tokener_error e = json_tokener_get_error(tok);
        snprintf(reason, n, "malformed JSON: %s",
                 e == json_tokener_success    ? "trailing data"
                 : e == json_tokener_continue ? "unexpected end of data"
                                              : json_tokener_error_desc(e));
        goto done;
    }
    if (!json_object_is_type(root, json_type_object)) {
        snprintf(reason, n, "the JSON body must be an object");
        goto done;
    }
    if (json_object_object_get_ex(root, "device_id", &v)) {
        if (!json_object_is_type(v, json_type_string)) {
            snprintf(reason, n, "device_id must be a string");
            goto done;
        }
        if (json_object_get_string_len(v) > GEO_ID_MAX) {
            snprintf(reason, n, "device id longer than %d characters", GEO_ID_MAX);
            goto done;
        }
        memcpy(o->seal_id, json_object_get_string(v), (size_t)json_object_get_string_len(v) + 1);
    }
    if (!json_object_object_get_ex(root, "location", &loc) ||
        !json_object_is_type(loc, json_type_object)) {
        snprintf(reason, n, "missing location object");
        goto done;
    }
    if (json_object_object_get_ex(loc, "timestamp", &v)) {
        if (!json_object_is_type(v, json_type_string) ||
            parse_time(json_object_get_string(v), &o->ts_us)) {
            snprintf(reason, n, "unparsable location.timestamp");
            goto done;
        }
    }
    if (!json_object_object_get_ex(loc, "coords", &coords) ||
        !json_object_is_type(coords, json_type_object)) {
        snprintf(reason, n, "missing location.coords object");
        goto done;
    }
    struct {
        const char *key;
        int *have;
        double *dst;
    } need[] = {{"latitude", &have_lat, &o->lat}, {"longitude", &have_lon, &o->lon}};
    for (int i = 0; i < 2; i++) {
        int r = json_num(coords, need[i].key, need[i].dst);
        if (r < 0) {
            snprintf(reason, n, "location.coords.%s is not a number", need[i].key);
            goto done;
        }
        *need[i].have = r;
    }
    static const char *opt[] = {"speed", "heading", "altitude", "accuracy"};
    for (int i = 0; i < 4; i++) {
        int r = json_num(coords, opt[i], &d);
        if (r < 0) {
            snprintf(reason, n, "location.coords.%s is not a number", opt[i]);
            goto done;
        }
        if (r == 0 || d < 0)
            continue; /* -1 means unknown in the background-geolocation format */
        if (i == 0)
            o->speed_kmh = (float)(d * 3.6);
        else if (i == 1)
            o->bearing = (float)d;
        else if (i == 2)
            o->altitude = (float)d;
        else
            o->accuracy = (float)d;
    }
    json_object *bat, *extras;
    if (json_object_object_get_ex(loc, "battery", &bat) &&
        json_object_is_type(bat, json_type_object)) {
        int r = json_num(bat, "level", &d);
        if (r < 0) {
            snprintf(reason, n, "location.battery.level is not a number");
            goto done;
        }
        if (r > 0 && d >= 0)
            o->battery = (float)(d <= 1.0 ? d * 100.0 : d);
    }
    if (json_object_object_get_ex(loc, "extras", &extras) &&
        json_object_is_type(extras, json_type_object)) {
        if (json_object_object_get_ex(extras, "lock", &v) &&
            (!json_object_is_type(v, json_type_string) ||
             set_lock(o, json_object_get_string(v), reason, n)))
            goto done;
        if (json_object_object_get_ex(extras, "alarm", &v) &&
            (!json_object_is_type(v, json_type_string) ||
             set_alarm(o, json_object_get_string(v), reason, n)))
            goto done;
    }
    rc = check_obs(o, have_lat, have_lon, now_us, max_future_s, reason, n);
done:
    json_object_put(root);
    json_tokener_free(tok);
    return rc;
}

int ingest_osmand_parse(const char *text, size_t len, int json, int64_t now_us, int max_future_s,
                        geo_obs *obs, char *reason, size_t n)
{
    geo_obs_clear(obs);
    if (len > OSMAND_MAX_BODY) {
        snprintf(reason, n, "request larger than %d bytes", OSMAND_MAX_BODY);
        return CORE_ETOOBIG;
    }
    return json ? parse_json(text, len, now_us, max_future_s, obs, reason, n)
                : parse_query(text, len, now_us, max_future_s, obs, reason, n);
}

/* ---- serving ---- */

static void reply_text(struct evhttp_request *req, int code, const char *why, const char *text)
{
    struct evbuffer *b = evbuffer_new();
    if (b)
        evbuffer_add_printf(b, "%s\n", text);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      "text/plain; charset=utf-8");
    evhttp_send_reply(req, code, why, b);
    if (b)
        evbuffer_free(b);
}

/* 503 with Retry-After: nothing was stored, the device should send the ping again after
 * retry_s seconds (the database comes back or fails over; the server drains). */
static void reply_retry(struct evhttp_request *req, int retry_s, const char *text)
{
    char v[16];
    snprintf(v, sizeof v, "%d", retry_s);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", v);
    reply_text(req, 503, "Service Unavailable", text);
}

/* 200 only for a committed ping (stored, or an exact duplicate of a stored one). */
static void on_done(void *arg, int status, const char *reason)
{
    struct evhttp_request *req = arg;
    if (status == 0)
        reply_text(req, 200, "OK", "OK");
    else if (status == CORE_EINVAL)
        reply_text(req, 400, "Bad Request", reason ? reason : "refused");
    else
        reply_retry(req, OSMAND_RETRY_DB_S, "cannot store the observation now; retry");
}

static void on_space(void *arg);

/* Keeps a ping until the worker has room; the device's connection is not read meanwhile
 * (evhttp waits for this answer), so storage slower than ingest slows the devices down
 * instead of growing queues. */
static void hold(struct osmand *o, struct evhttp_request *req, const geo_obs *obs)
{
    struct held *h = o->n_held < OSMAND_HELD_MAX ? malloc(sizeof *h) : NULL;
    if (!h) {
        reply_retry(req, 1, "server busy; retry");
        return;
    }
    h->next = NULL;
    h->req = req;
    h->obs = *obs;
    if (o->held_tail)
        o->held_tail->next = h;
    else
        o->held_head = h;
    o->held_tail = h;
    o->n_held++;
    if (!o->waiting) {
        o->waiting = 1;
        ingest_worker_on_space(o->w, on_space, o);
    }
}

/* Room again: submit held pings in order until the worker is full again. */
static void on_space(void *arg)
{
    struct osmand *o = arg;
    o->waiting = 0;
    while (o->held_head) {
        struct held *h = o->held_head;
        int rc = ingest_submit(o->w, INGEST_OSMAND, &h->obs, on_done, h->req);
        if (rc == CORE_EFULL) {
            o->waiting = 1;
            ingest_worker_on_space(o->w, on_space, o);
            return;
        }
        if (rc)
            reply_retry(h->req, OSMAND_RETRY_DB_S, "server shutting down; retry");
        o->held_head = h->next;
        if (!o->held_head)
            o->held_tail = NULL;
        o->n_held--;
        free(h);
    }
}

static void on_request(struct evhttp_request *req, void *arg)
{
    struct osmand *o = arg;
    ingest_counters *c = ingest_worker_counters(o->w);
    const core_config *cfg = ingest_worker_cfg(o->w);
    char reason[200], *body = o->body;
    const char *text;
    size_t len;
    int json = 0, rc;
    geo_obs obs;

    enum evhttp_cmd_type m = evhttp_request_get_command(req);
    if (m == EVHTTP_REQ_POST) {
        struct evbuffer *in = evhttp_request_get_input_buffer(req);
        len = evbuffer_get_length(in);
        if (len > o->body_max) {
            atomic_fetch_add_explicit(&c->bad_osmand, 1, memory_order_relaxed);
            snprintf(reason, sizeof reason, "body larger than %zu bytes", o->body_max);
            reply_text(req, 413, "Payload Too Large", reason);
            return;
        }
        evbuffer_remove(in, body, len);
        body[len] = 0;
        const char *ct = evhttp_find_header(evhttp_request_get_input_headers(req), "Content-Type");
        json = (ct && strstr(ct, "json")) || (len && body[0] == '{');
        text = body;
        if (len == 0) { /* POST with the parameters in the query string */
            const char *q = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
            text = q ? q : "";
            len = strlen(text);
        }
    } else if (m == EVHTTP_REQ_GET) {
        const char *q = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
        text = q ? q : "";
        len = strlen(text);
    } else {
        atomic_fetch_add_explicit(&c->bad_osmand, 1, memory_order_relaxed);
        reply_text(req, 405, "Method Not Allowed", "use GET or POST");
        return;
    }
    rc = ingest_osmand_parse(text, len, json, core_now_us(), cfg->max_future_s, &obs, reason,
                             sizeof reason);
    if (rc) {
        atomic_fetch_add_explicit(&c->bad_osmand, 1, memory_order_relaxed);
        core_debug(MOD, "refused: %s", reason);
        reply_text(req, 400, "Bad Request", reason);
        return;
    }
    if (o->held_head) { /* others wait already: keep the order */
        hold(o, req, &obs);
        return;
    }
    rc = ingest_submit(o->w, INGEST_OSMAND, &obs, on_done, req);
    if (rc == CORE_EFULL) /* both batches full: the device waits for room */
        hold(o, req, &obs);
    else if (rc)
        reply_retry(req, OSMAND_RETRY_DB_S, "server shutting down; retry");
}

int ingest_osmand_start(ingest_worker *w, int fd, void **state, char *err, size_t n)
{
    struct osmand *o = calloc(1, sizeof *o);
    if (!o) {
        snprintf(err, n, "out of memory");
        close(fd);
        return CORE_EINVAL;
    }
    o->w = w;
    o->http = evhttp_new(ingest_worker_base(w));
    if (!o->http || !evhttp_accept_socket_with_handle(o->http, fd)) {
        snprintf(err, n, "cannot serve OsmAnd on the listening socket");
        if (o->http)
            evhttp_free(o->http);
        close(fd);
        free(o);
        return CORE_EINVAL;
    }
    const core_config *cfg = ingest_worker_cfg(w);
    o->body_max = (size_t)cfg->osmand_body_max;
    if (!(o->body = malloc(o->body_max + 1))) {
        snprintf(err, n, "out of memory");
        evhttp_free(o->http);
        free(o);
        return CORE_EINVAL;
    }
    evhttp_set_max_body_size(o->http, (ev_ssize_t)o->body_max);
    evhttp_set_max_headers_size(o->http, (ev_ssize_t)cfg->osmand_header_max);
    evhttp_set_timeout(o->http, OSMAND_TIMEOUT_S);
    /* let every method reach the handler, which answers 405 with a reason */
    evhttp_set_allowed_methods(o->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                            EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                            EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
    evhttp_set_gencb(o->http, on_request, o);
    *state = o;
    return 0;
}

void ingest_osmand_stop(void *state)
{
    struct osmand *o = state;
    /* pings still held (the server stopped while full) are refused, then freed with
     * their connections */
    while (o->held_head) {
        struct held *h = o->held_head;
        o->held_head = h->next;
        reply_retry(h->req, OSMAND_RETRY_DB_S, "server shutting down; retry");
        free(h);
    }
    evhttp_free(o->http); /* closes the listening socket and every connection */
    free(o->body);
    free(o);
}
