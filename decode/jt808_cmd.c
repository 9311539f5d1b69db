/*
 * jt808_cmd.c: corridor-decode jt808 [--hex] [--tz OFFSET]: JT/T 808 frames on stdin ->
 * one JSON object per frame on stdout, through the same codec the server uses
 * (ingest/jt808.h). A raw byte stream by default; with --hex one frame per line in hex
 * (the 0x7e flags may be left out). Frames that fail the checksum or length checks print
 * {"error": "..."} and are not decoded. Subpackaged messages are reassembled and decoded
 * at their last packet. Single-threaded; owns nothing beyond main's stack.
 */
#include "decode.h"
#include "core.h"
#include "jt808.h"

#include <ctype.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct state {
    ingest_jt808_splitter sp;
    ingest_jt808_reasm reasm;
    int tz_min;
} state;

static void usage(FILE *out)
{
    fprintf(out,
            "usage: corridor-decode jt808 [--hex] [--tz OFFSET] < input\n"
            "  Decodes JT/T 808 (2013 and 2019) frames into one JSON object per frame.\n"
            "  --hex        one frame per line in hex (spaces allowed, 7e flags optional)\n"
            "               instead of a raw byte stream\n"
            "  --tz OFFSET  time zone of the device clock, e.g. +03:00 (default +08:00)\n"
            "  Positions: lat, lon (negative south and west), altitude (m), speed_kmh, course,\n"
            "  time (UTC, ISO 8601), alarms and status (flag names), mileage_km, signal,\n"
            "  satellites, battery (%%), the e-lock items (battery_v, power_v, wire_cut,\n"
            "  motion, cover_open, wire_cut_count, locks), items (other additional items in\n"
            "  hex), items_dropped (malformed items; the position is still decoded).\n"
            "  A frame with a bad checksum or length prints {\"error\": \"...\"}.\n");
}

/* A number with at most `decimals` decimals, trailing zeros removed. */
static json_object *num(double v, int decimals)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%.*f", decimals, v);
    if (strchr(buf, '.')) {
        size_t k = strlen(buf);
        while (buf[k - 1] == '0')
            buf[--k] = '\0';
        if (buf[k - 1] == '.')
            buf[--k] = '\0';
    }
    if (strcmp(buf, "-0") == 0)
        snprintf(buf, sizeof buf, "0");
    return json_object_new_double_s(v, buf);
}

/* Text from a device: bytes outside printable ASCII (GBK plates) become '?'. */
static json_object *text(const char *s)
{
    char buf[128];
    size_t k = 0;
    for (; s[k] && k + 1 < sizeof buf; k++)
        buf[k] = (unsigned char)s[k] >= 0x20 && (unsigned char)s[k] < 0x7f ? s[k] : '?';
    buf[k] = '\0';
    return json_object_new_string(buf);
}

static json_object *hexstr(const uint8_t *b, size_t n)
{
    char *s = malloc(2 * n + 1);
    if (!s)
        return json_object_new_string("");
    for (size_t i = 0; i < n; i++)
        snprintf(s + 2 * i, 3, "%02x", b[i]);
    s[2 * n] = '\0';
    json_object *o = json_object_new_string(s);
    free(s);
    return o;
}

static json_object *id_str(unsigned id)
{
    char buf[8];
    snprintf(buf, sizeof buf, "0x%04x", id);
    return json_object_new_string(buf);
}

static void on_item(void *arg, int id, const uint8_t *v, size_t len)
{
    json_object *items = arg;
    char key[8];
    switch (id) {
    case 0x01:
    case 0x30:
    case 0x31:
    case 0xd3:
    case 0xd4:
    case 0xd5:
    case 0xda:
    case 0xe1:
    case 0xfe:
        return; /* shown as named fields (a malformed one under items_dropped) */
    default:
        snprintf(key, sizeof key, "0x%02x", id);
        json_object_object_add(items, key, hexstr(v, len));
    }
}

static json_object *flags(uint32_t bits, const char *(*name)(int))
{
    json_object *a = json_object_new_array();
    for (int i = 0; i < 32; i++) {
        const char *n = name(i);
        if ((bits & (1u << i)) && n)
            json_object_array_add(a, json_object_new_string(n));
    }
    return a;
}

/* The e-lock vendor items (docs/jt808.md, "E-lock items"). */
static void add_elock(json_object *o, const ingest_jt808_elock *e)
{
    if (!isnan(e->battery_v))
        json_object_object_add(o, "battery_v", num(e->battery_v, 2));
    if (!isnan(e->power_v))
        json_object_object_add(o, "power_v", num(e->power_v, 1));
    if (e->wire_cut >= 0) {
        json_object_object_add(o, "wire_cut", json_object_new_boolean(e->wire_cut));
        json_object_object_add(o, "motion", json_object_new_boolean(e->motion));
        json_object_object_add(o, "cover_open", json_object_new_boolean(e->cover_open));
        json_object_object_add(o, "wire_cut_count", json_object_new_int(e->wire_cut_count));
    }
    if (e->locks_total > 0 || e->n_locks > 0) {
        json_object *a = json_object_new_array();
        for (int i = 0; i < e->n_locks; i++) {
            const ingest_jt808_lock *k = &e->locks[i];
            json_object *r = json_object_new_object();
            json_object_object_add(r, "id", json_object_new_string(k->id));
            json_object_object_add(r, "card", json_object_new_string(k->card));
            json_object_object_add(r, "battery", json_object_new_int(k->battery));
            json_object_object_add(r, "locked", json_object_new_boolean(k->locked));
            json_object_object_add(r, "status", json_object_new_int(k->status));
            json_object_array_add(a, r);
        }
        json_object_object_add(o, "locks", a);
        if (e->locks_total > e->n_locks)
            json_object_object_add(o, "locks_total", json_object_new_int(e->locks_total));
    }
}

static void add_location(json_object *o, const ingest_jt808_location *l, json_object *items)
{
    char t[40];
    json_object_object_add(o, "lat", num(l->lat, 6));
    json_object_object_add(o, "lon", num(l->lon, 6));
    json_object_object_add(o, "altitude", num(l->altitude, 0));
    json_object_object_add(o, "speed_kmh", num(l->speed_kmh, 1));
    json_object_object_add(o, "course", json_object_new_int(l->course));
    json_object_object_add(o, "time", json_object_new_string(core_iso8601(l->ts_us, t, sizeof t)));
    json_object_object_add(o, "alarms", flags(l->alarm, ingest_jt808_alarm_name));
    json_object_object_add(o, "status", flags(l->status, ingest_jt808_status_name));
    const char *ev = ingest_jt808_location_alarm(l);
    if (*ev)
        json_object_object_add(o, "seal_alarm", json_object_new_string(ev));
    if (!isnan(l->mileage_km))
        json_object_object_add(o, "mileage_km", num(l->mileage_km, 1));
    if (l->signal >= 0)
        json_object_object_add(o, "signal", json_object_new_int(l->signal));
    if (l->satellites >= 0)
        json_object_object_add(o, "satellites", json_object_new_int(l->satellites));
    if (!isnan(l->battery))
        json_object_object_add(o, "battery", num(l->battery, 0));
    add_elock(o, &l->elock);
    if (l->items_dropped)
        json_object_object_add(o, "items_dropped", json_object_new_int(l->items_dropped));
    if (items && json_object_object_length(items) > 0)
        json_object_object_add(o, "items", json_object_get(items));
}

static void print(json_object *o)
{
    fputs(
        json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
        stdout);
    fputc('\n', stdout);
    json_object_put(o);
}

static void print_error(const char *why)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "error", json_object_new_string(why));
    print(o);
}

/* Decodes a body into o; returns 0, or CORE_EINVAL with the reason. */
static int decode_body(const state *st, const ingest_jt808_head *h, const uint8_t *b, size_t n,
                       json_object *o, char *why, size_t wn)
{
    switch (h->msg_id) {
    case INGEST_JT808_LOCATION: {
        ingest_jt808_location l;
        json_object *items = json_object_new_object();
        int rc = ingest_jt808_parse_location(b, n, st->tz_min, &l, on_item, items, why, wn);
        if (rc == 0)
            add_location(o, &l, items);
        json_object_put(items);
        return rc;
    }
    case INGEST_JT808_BATCH: {
        static ingest_jt808_location l[INGEST_JT808_BATCH_MAX];
        int count = 0, type = 0;
        int rc = ingest_jt808_parse_batch(b, n, st->tz_min, l, INGEST_JT808_BATCH_MAX, &count,
                                          &type, why, wn);
        if (rc)
            return rc;
        json_object_object_add(o, "type",
                               json_object_new_string(type == 1   ? "blind_area"
                                                      : type == 0 ? "normal"
                                                                  : "other"));
        json_object *a = json_object_new_array();
        for (int i = 0; i < count; i++) {
            json_object *p = json_object_new_object();
            add_location(p, &l[i], NULL);
            json_object_array_add(a, p);
        }
        json_object_object_add(o, "positions", a);
        return 0;
    }
    case INGEST_JT808_REGISTER: {
        ingest_jt808_register r;
        int rc = ingest_jt808_parse_register(b, n, h->v2019, &r, why, wn);
        if (rc)
            return rc;
        json_object_object_add(o, "province", json_object_new_int(r.province));
        json_object_object_add(o, "city", json_object_new_int(r.city));
        json_object_object_add(o, "maker", text(r.maker));
        json_object_object_add(o, "model", text(r.model));
        json_object_object_add(o, "terminal_id", text(r.term_id));
        json_object_object_add(o, "plate_color", json_object_new_int(r.plate_color));
        json_object_object_add(o, "plate", text(r.plate));
        return 0;
    }
    case INGEST_JT808_AUTH: {
        ingest_jt808_auth a;
        int rc = ingest_jt808_parse_auth(b, n, h->v2019, &a, why, wn);
        if (rc)
            return rc;
        json_object_object_add(o, "auth_code", text(a.code));
        if (h->v2019) {
            json_object_object_add(o, "imei", text(a.imei));
            json_object_object_add(o, "software", text(a.software));
        }
        return 0;
    }
    case INGEST_JT808_HEARTBEAT:
    case INGEST_JT808_LOGOUT:
        return 0;
    case INGEST_JT808_TERM_ACK:
    case INGEST_JT808_PLAT_ACK: {
        uint16_t rs, rid;
        int result;
        if (ingest_jt808_parse_ack(b, n, &rs, &rid, &result)) {
            snprintf(why, wn, "general response of %zu bytes, 5 expected", n);
            return CORE_EINVAL;
        }
        json_object_object_add(o, "reply_serial", json_object_new_int(rs));
        json_object_object_add(o, "reply_id", id_str(rid));
        json_object_object_add(o, "result", json_object_new_int(result));
        return 0;
    }
    case INGEST_JT808_REGISTER_ACK: {
        uint16_t rs;
        int result;
        char code[65];
        if (ingest_jt808_parse_register_ack(b, n, &rs, &result, code, sizeof code)) {
            snprintf(why, wn, "register response of %zu bytes", n);
            return CORE_EINVAL;
        }
        json_object_object_add(o, "reply_serial", json_object_new_int(rs));
        json_object_object_add(o, "result", json_object_new_int(result));
        if (result == INGEST_JT808_REG_OK)
            json_object_object_add(o, "auth_code", text(code));
        return 0;
    }
    case INGEST_JT808_JT705_LOCATION:
    case INGEST_JT808_JT705_BLIND: {
        ingest_jt808_location l;
        ingest_jt808_jt705 x;
        int rc = ingest_jt808_parse_jt705(b, n, &l, &x, why, wn);
        if (rc)
            return rc;
        json_object_object_add(o, "ack_wanted", json_object_new_boolean(h->ack_wanted));
        add_location(o, &l, NULL);
        if (x.charging)
            json_object_object_add(o, "charging", json_object_new_boolean(1));
        json_object_object_add(o, "cell", json_object_new_int64(x.cell));
        json_object_object_add(o, "lac", json_object_new_int(x.lac));
        json_object_object_add(o, "product", json_object_new_int(x.product));
        json_object_object_add(o, "device_status", json_object_new_int(x.status));
        json_object_object_add(o, "device_alarm", json_object_new_int(x.alarm));
        return 0;
    }
    case INGEST_JT808_JT705_ACK:
        if (n != 3)
            return snprintf(why, wn, "JT705 answer of %zu bytes, 3 expected", n), CORE_EINVAL;
        json_object_object_add(o, "reply_id", id_str((unsigned)(b[0] << 8 | b[1])));
        json_object_object_add(o, "result", json_object_new_int(b[2]));
        return 0;
    case INGEST_JT808_LOCATE_ANSWER:
    case INGEST_JT808_CONTROL_ANSWER: {
        ingest_jt808_location l;
        uint16_t rs;
        int rc = ingest_jt808_parse_answer_location(b, n, st->tz_min, &rs, &l, why, wn);
        if (rc)
            return rc;
        json_object_object_add(o, "reply_serial", json_object_new_int(rs));
        add_location(o, &l, NULL);
        return 0;
    }
    case INGEST_JT808_SET_PARAMS:
    case INGEST_JT808_TERM_CONTROL:
    case INGEST_JT808_LOCATE:
    case INGEST_JT808_ALARM_CONFIRM:
    case INGEST_JT808_TEXT:
    case INGEST_JT808_VEHICLE_CONTROL: {
        ingest_jt808_command c;
        int rc = ingest_jt808_command_parse(h->msg_id, b, n, h->v2019, &c, why, wn);
        if (rc)
            return rc;
        if (h->msg_id == INGEST_JT808_SET_PARAMS) {
            json_object *ps = json_object_new_array();
            for (int i = 0; i < c.n_params; i++) {
                json_object *p = json_object_new_object();
                char id[12];
                snprintf(id, sizeof id, "0x%04x", c.param_id[i]);
                json_object_object_add(p, "id", json_object_new_string(id));
                json_object_object_add(p, "value", json_object_new_int64(c.param_value[i]));
                json_object_array_add(ps, p);
            }
            json_object_object_add(o, "params", ps);
        } else if (h->msg_id == INGEST_JT808_TERM_CONTROL) {
            json_object_object_add(o, "command_word", json_object_new_int(c.control_word));
        } else if (h->msg_id == INGEST_JT808_ALARM_CONFIRM) {
            json_object_object_add(o, "alarm_serial", json_object_new_int(c.alarm_serial));
            json_object_object_add(o, "alarm_mask", json_object_new_int64(c.alarm_mask));
        } else if (h->msg_id == INGEST_JT808_TEXT) {
            json_object_object_add(o, "flag", json_object_new_int(c.text_flag));
            json_object_object_add(o, "text", text(c.text));
        } else if (h->msg_id == INGEST_JT808_VEHICLE_CONTROL) {
            json_object_object_add(o, "doors", json_object_new_string(c.lock ? "lock" : "unlock"));
        }
        return 0;
    }
    default:
        json_object_object_add(o, "body", hexstr(b, n));
        return 0;
    }
}

static void decode_frame(state *st, const uint8_t *frame, size_t len)
{
    ingest_jt808_head h;
    const uint8_t *body;
    size_t blen;
    char why[160];
    if (ingest_jt808_parse(frame, len, &h, &body, &blen, why, sizeof why)) {
        print_error(why);
        return;
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "msg_id", id_str(h.msg_id));
    json_object_object_add(o, "terminal", json_object_new_string(h.terminal));
    json_object_object_add(o, "serial", json_object_new_int(h.serial));
    json_object_object_add(o, "version",
                           json_object_new_string(h.short_serial ? "jt705"
                                                  : h.v2019      ? "2019"
                                                                 : "2013"));
    if (h.v2019)
        json_object_object_add(o, "protocol_version", json_object_new_int(h.proto_version));
    if (h.encryption) {
        json_object_object_add(o, "encryption", json_object_new_int(h.encryption));
        json_object_object_add(o, "body", hexstr(body, blen));
        print(o);
        return;
    }
    if (h.subpackage) {
        json_object *p = json_object_new_object();
        json_object_object_add(p, "total", json_object_new_int(h.pkg_total));
        json_object_object_add(p, "seq", json_object_new_int(h.pkg_seq));
        json_object_object_add(o, "packet", p);
        int rc = ingest_jt808_reasm_add(&st->reasm, &h, body, blen);
        if (rc < 0) {
            json_object_object_add(o, "error",
                                   json_object_new_string(rc == CORE_ETOOBIG
                                                              ? "subpackaged message too large"
                                                              : "packet out of order"));
            print(o);
            return;
        }
        if (rc == 0) {
            print(o); /* more packets to come */
            return;
        }
        body = st->reasm.buf;
        blen = st->reasm.len;
    }
    if (decode_body(st, &h, body, blen, o, why, sizeof why)) {
        json_object *e = json_object_new_object();
        json_object_object_add(e, "error", json_object_new_string(why));
        json_object_object_add(e, "msg_id", id_str(h.msg_id));
        json_object_object_add(e, "terminal", json_object_new_string(h.terminal));
        json_object_object_add(e, "serial", json_object_new_int(h.serial));
        json_object_put(o);
        print(e);
        return;
    }
    print(o);
}

/* Feeds bytes to the splitter and decodes every frame they complete. */
static void feed(state *st, const uint8_t *p, size_t n)
{
    while (n > 0) {
        size_t used = 0, flen = 0;
        const uint8_t *frame = NULL;
        int rc = ingest_jt808_split(&st->sp, p, n, &used, &frame, &flen);
        if (rc == 1)
            decode_frame(st, frame, flen);
        else if (rc == CORE_ETOOBIG)
            print_error("frame over the size limit");
        else if (rc == CORE_EINVAL)
            print_error("bad escape sequence");
        p += used;
        n -= used;
    }
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static void hex_line(state *st, const char *line, size_t lineno)
{
    static uint8_t bytes[2 * INGEST_JT808_FRAME_MAX + 4];
    size_t n = 1;
    int hi = -1;
    char why[96];
    bytes[0] = 0x7e;
    for (const char *s = line; *s; s++) {
        if (isspace((unsigned char)*s))
            continue;
        int v = hexval((unsigned char)*s);
        if (v < 0) {
            snprintf(why, sizeof why, "line %zu: not hex", lineno);
            print_error(why);
            return;
        }
        if (hi < 0) {
            hi = v;
            continue;
        }
        if (n + 2 > sizeof bytes) {
            snprintf(why, sizeof why, "line %zu: frame over the size limit", lineno);
            print_error(why);
            return;
        }
        bytes[n++] = (uint8_t)(hi << 4 | v);
        hi = -1;
    }
    if (hi >= 0) {
        snprintf(why, sizeof why, "line %zu: odd number of hex digits", lineno);
        print_error(why);
        return;
    }
    if (n == 1)
        return;        /* empty line */
    bytes[n++] = 0x7e; /* the line's own flags, if any, just make empty frames */
    ingest_jt808_splitter_init(&st->sp);
    feed(st, bytes, n);
}

int decode_jt808_main(int argc, char **argv)
{
    static state st;
    int hex = 0;
    st.tz_min = INGEST_JT808_TZ_DEFAULT_MIN;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--hex") == 0) {
            hex = 1;
        } else if (strcmp(argv[i], "--tz") == 0 && i + 1 < argc) {
            if (ingest_jt808_parse_tz(argv[++i], &st.tz_min)) {
                fprintf(stderr, "corridor-decode jt808: bad --tz \"%s\" (e.g. +08:00)\n", argv[i]);
                return 2;
            }
        } else {
            fprintf(stderr, "corridor-decode jt808: unknown option \"%s\" (see --help)\n", argv[i]);
            return 2;
        }
    }
    ingest_jt808_splitter_init(&st.sp);
    ingest_jt808_reasm_init(&st.reasm);
    if (hex) {
        char line[8192];
        size_t lineno = 0;
        while (fgets(line, sizeof line, stdin)) {
            lineno++;
            size_t k = strlen(line);
            if (k == sizeof line - 1 && line[k - 1] != '\n') {
                int ch;
                while ((ch = getchar()) != EOF && ch != '\n')
                    ;
                char why[64];
                snprintf(why, sizeof why, "line %zu: frame over the size limit", lineno);
                print_error(why);
                continue;
            }
            hex_line(&st, line, lineno);
        }
    } else {
        uint8_t buf[4096];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, stdin)) > 0)
            feed(&st, buf, n);
        if (ingest_jt808_split_partial(&st.sp))
            print_error("truncated frame at the end of the input");
    }
    fflush(stdout);
    return ferror(stdout) ? 1 : 0;
}
