/*
 * jt808.c: the JT/T 808 codec (see jt808.h and docs/jt808.md).
 *
 * Pure functions: no I/O, no allocation, no globals besides constant tables. Every input
 * byte is bounds-checked against its length; lengths come from the frame, never from a
 * field that was not checked. Runs on whichever thread calls it (ingest workers,
 * corridor-decode, corridor-sim, the fuzzer).
 */
#include "jt808.h"
#include "core.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int fail(char *reason, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(char *reason, size_t n, const char *fmt, ...)
{
    if (reason && n) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(reason, n, fmt, ap);
        va_end(ap);
    }
    return CORE_EINVAL;
}

static uint16_t be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put16(uint8_t *p, unsigned v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* ---------------------------------------------------------------- splitter */

enum { SP_HUNT, SP_IN, SP_ESC, SP_SKIP, SP_BAD, SP_EMITTED };

void ingest_jt808_splitter_init(ingest_jt808_splitter *s)
{
    memset(s, 0, sizeof(*s));
    s->state_ = SP_HUNT;
}

int ingest_jt808_split(ingest_jt808_splitter *s, const uint8_t *in, size_t n, size_t *used,
                       const uint8_t **frame, size_t *len)
{
    if (s->state_ == SP_EMITTED) {
        s->state_ = SP_IN;
        s->len_ = 0;
    }
    for (size_t i = 0; i < n; i++) {
        uint8_t c = in[i];
        switch (s->state_) {
        case SP_HUNT:
            if (c == 0x7e) {
                s->state_ = SP_IN;
                s->len_ = 0;
            } else {
                s->garbage++;
            }
            continue;
        case SP_SKIP:
            if (c == 0x7e) {
                s->state_ = SP_IN;
                s->len_ = 0;
            }
            continue;
        case SP_BAD:
            if (c == 0x7e) {
                s->state_ = SP_IN;
                s->len_ = 0;
                *used = i + 1;
                return CORE_EINVAL;
            }
            continue;
        default:
            break;
        }
        if (c == 0x7e) {
            if (s->state_ == SP_ESC) { /* 0x7d 0x7e: the frame ends inside an escape */
                s->bad_escape++;
                s->state_ = SP_IN;
                s->len_ = 0;
                *used = i + 1;
                return CORE_EINVAL;
            }
            if (s->len_ == 0)
                continue; /* two flags in a row: the closing and the opening one */
            s->state_ = SP_EMITTED;
            *frame = s->buf_;
            *len = s->len_;
            *used = i + 1;
            return 1;
        }
        if (s->state_ == SP_ESC) {
            if (c != 0x01 && c != 0x02) {
                s->bad_escape++;
                s->state_ = SP_BAD;
                continue;
            }
            c = c == 0x01 ? 0x7d : 0x7e;
            s->state_ = SP_IN;
        } else if (c == 0x7d) {
            s->state_ = SP_ESC;
            continue;
        }
        if (s->len_ >= sizeof(s->buf_)) {
            s->oversized++;
            s->state_ = SP_SKIP;
            s->len_ = 0;
            *used = i + 1;
            return CORE_ETOOBIG;
        }
        s->buf_[s->len_++] = c;
    }
    *used = n;
    return 0;
}

int ingest_jt808_split_partial(const ingest_jt808_splitter *s)
{
    return s->state_ == SP_SKIP || s->state_ == SP_BAD || s->state_ == SP_ESC ||
           (s->state_ == SP_IN && s->len_ > 0);
}

/* ---------------------------------------------------------------- header */

static int bcd_to_digits(const uint8_t *p, size_t nbytes, char *out)
{
    for (size_t i = 0; i < nbytes; i++) {
        int hi = p[i] >> 4, lo = p[i] & 15;
        if (hi > 9 || lo > 9)
            return -1;
        out[2 * i] = (char)('0' + hi);
        out[2 * i + 1] = (char)('0' + lo);
    }
    out[2 * nbytes] = '\0';
    return 0;
}

int ingest_jt808_parse(const uint8_t *frame, size_t len, ingest_jt808_head *h, const uint8_t **body,
                       size_t *body_len, char *reason, size_t n)
{
    memset(h, 0, sizeof(*h));
    if (len < 13)
        return fail(reason, n, "frame of %zu bytes is shorter than a header", len);
    uint8_t x = 0;
    for (size_t i = 0; i + 1 < len; i++)
        x ^= frame[i];
    if (x != frame[len - 1])
        return fail(reason, n, "bad checksum: 0x%02x, computed 0x%02x", frame[len - 1], x);
    h->msg_id = be16(frame);
    uint16_t props = be16(frame + 2);
    size_t declared = props & 0x3ff;
    if (h->msg_id == INGEST_JT808_JT705_LOCATION || h->msg_id == INGEST_JT808_JT705_BLIND ||
        h->msg_id == INGEST_JT808_JT705_ACK) {
        /* the JT705A-style header: a one-byte serial, bit 15 asks for an answer */
        h->short_serial = 1;
        h->ack_wanted = (props >> 15) & 1;
        h->encryption = (props >> 10) & 7;
        if (props & (3u << 13))
            return fail(reason, n, "JT705 header with the subpackage or version bit");
        if (bcd_to_digits(frame + 4, 6, h->terminal) != 0)
            return fail(reason, n, "terminal number is not BCD");
        h->serial = frame[10];
        if (len - 12 != declared)
            return fail(reason, n, "bad length: body of %zu bytes, properties say %zu", len - 12,
                        declared);
        *body = frame + 11;
        *body_len = len - 12;
        return 0;
    }
    h->encryption = (props >> 10) & 7;
    h->subpackage = (props >> 13) & 1;
    h->v2019 = (props >> 14) & 1;
    size_t off = 4, tlen = 6;
    if (h->v2019) {
        if (len < 18)
            return fail(reason, n, "frame of %zu bytes is shorter than a 2019 header", len);
        h->proto_version = frame[4];
        off = 5;
        tlen = 10;
    }
    if (bcd_to_digits(frame + off, tlen, h->terminal) != 0)
        return fail(reason, n, "terminal number is not BCD");
    off += tlen;
    h->serial = be16(frame + off);
    off += 2;
    if (h->subpackage) {
        if (len < off + 4 + 1)
            return fail(reason, n, "frame of %zu bytes is too short for its packet fields", len);
        h->pkg_total = be16(frame + off);
        h->pkg_seq = be16(frame + off + 2);
        off += 4;
        if (h->pkg_total == 0 || h->pkg_seq == 0 || h->pkg_seq > h->pkg_total)
            return fail(reason, n, "packet %u of %u", h->pkg_seq, h->pkg_total);
    }
    size_t actual = len - 1 - off;
    if (actual != declared)
        return fail(reason, n, "bad length: body of %zu bytes, properties say %zu", actual,
                    declared);
    *body = frame + off;
    *body_len = actual;
    return 0;
}

static size_t put_escaped(uint8_t *out, size_t o, uint8_t c)
{
    if (c == 0x7e || c == 0x7d) {
        out[o++] = 0x7d;
        out[o++] = c == 0x7e ? 0x02 : 0x01;
    } else {
        out[o++] = c;
    }
    return o;
}

int ingest_jt808_encode(const ingest_jt808_head *h, const uint8_t *body, size_t body_len,
                        uint8_t *out, size_t cap)
{
    uint8_t hdr[21];
    size_t tlen = h->v2019 ? 10 : 6, ndig = 2 * tlen, hl = 0;
    size_t tl = strlen(h->terminal);
    if (body_len > 0x3ff || tl > ndig)
        return CORE_EINVAL;
    char digits[INGEST_JT808_TERMINAL_MAX + 1];
    memset(digits, '0', ndig);
    memcpy(digits + ndig - tl, h->terminal, tl);
    for (size_t i = 0; i < ndig; i++)
        if (digits[i] < '0' || digits[i] > '9')
            return CORE_EINVAL;
    unsigned props = (unsigned)body_len | (h->subpackage ? 1u << 13 : 0) |
                     (h->v2019 ? 1u << 14 : 0) | ((unsigned)(h->encryption & 7) << 10);
    if (h->short_serial) {
        if (h->v2019 || h->subpackage || h->serial > 0xff)
            return CORE_EINVAL;
        props = (unsigned)body_len | (h->ack_wanted ? 1u << 15 : 0) |
                ((unsigned)(h->encryption & 7) << 10);
    }
    put16(hdr, h->msg_id);
    put16(hdr + 2, props);
    hl = 4;
    if (h->v2019)
        hdr[hl++] = h->proto_version;
    for (size_t i = 0; i < tlen; i++)
        hdr[hl++] = (uint8_t)((digits[2 * i] - '0') << 4 | (digits[2 * i + 1] - '0'));
    if (h->short_serial) {
        hdr[hl++] = (uint8_t)h->serial;
    } else {
        put16(hdr + hl, h->serial);
        hl += 2;
    }
    if (h->subpackage) {
        put16(hdr + hl, h->pkg_total);
        put16(hdr + hl + 2, h->pkg_seq);
        hl += 4;
    }
    if (cap < 2 * (hl + body_len + 1) + 2) /* worst case: every byte escaped */
        return CORE_ETOOBIG;
    size_t o = 0;
    uint8_t x = 0;
    out[o++] = 0x7e;
    for (size_t i = 0; i < hl; i++) {
        x ^= hdr[i];
        o = put_escaped(out, o, hdr[i]);
    }
    for (size_t i = 0; i < body_len; i++) {
        x ^= body[i];
        o = put_escaped(out, o, body[i]);
    }
    o = put_escaped(out, o, x);
    out[o++] = 0x7e;
    return (int)o;
}

/* ---------------------------------------------------------------- reassembly */

void ingest_jt808_reasm_init(ingest_jt808_reasm *r)
{
    r->msg_id = 0;
    r->total = 0;
    r->next = 0;
    r->first_serial = 0;
    r->terminal[0] = '\0';
    r->len = 0;
}

int ingest_jt808_reasm_add(ingest_jt808_reasm *r, const ingest_jt808_head *h, const uint8_t *body,
                           size_t len)
{
    if (!h->subpackage)
        return CORE_EINVAL;
    if (h->pkg_total > INGEST_JT808_REASM_PACKETS) {
        ingest_jt808_reasm_init(r);
        return CORE_ETOOBIG;
    }
    if (h->pkg_seq == 1) {
        ingest_jt808_reasm_init(r);
        r->msg_id = h->msg_id;
        r->total = h->pkg_total;
        r->next = 1;
        r->first_serial = h->serial;
        snprintf(r->terminal, sizeof(r->terminal), "%s", h->terminal);
    } else if (r->next == 0 || h->pkg_seq != r->next || h->msg_id != r->msg_id ||
               h->pkg_total != r->total || strcmp(h->terminal, r->terminal) != 0) {
        ingest_jt808_reasm_init(r);
        return CORE_EINVAL;
    }
    if (len > sizeof(r->buf) - r->len) {
        ingest_jt808_reasm_init(r);
        return CORE_ETOOBIG;
    }
    memcpy(r->buf + r->len, body, len);
    r->len += len;
    if (r->next == r->total) {
        r->next = 0; /* complete: the next packet must be a packet 1 */
        return 1;
    }
    r->next++;
    return 0;
}

/* ---------------------------------------------------------------- time */

/* The calendar arithmetic is core's (core_days_from_civil, core_civil_from_days). */

static int bcd_byte(uint8_t b)
{
    if ((b >> 4) > 9 || (b & 15) > 9)
        return -1;
    return (b >> 4) * 10 + (b & 15);
}

static uint8_t to_bcd(int v)
{
    return (uint8_t)((v / 10) << 4 | (v % 10));
}

/* BCD[6] YYMMDDhhmmss in the device's zone -> UTC microseconds. */
static int bcd_time(const uint8_t *p, int tz_min, int64_t *us, char *reason, size_t n)
{
    int v[6];
    for (int i = 0; i < 6; i++)
        if ((v[i] = bcd_byte(p[i])) < 0)
            return fail(reason, n, "time is not BCD");
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y = 2000 + v[0];
    if (v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > mdays[v[1] - 1] ||
        (v[1] == 2 && v[2] == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))) || v[3] > 23 ||
        v[4] > 59 || v[5] > 59)
        return fail(reason, n, "invalid time %02x%02x%02x%02x%02x%02x", p[0], p[1], p[2], p[3],
                    p[4], p[5]);
    int64_t s = core_days_from_civil(y, v[1], v[2]) * 86400 + v[3] * 3600 + v[4] * 60 + v[5];
    *us = (s - (int64_t)tz_min * 60) * 1000000;
    return 0;
}

static int put_bcd_time(uint8_t *p, int64_t us, int tz_min)
{
    int64_t s = us / 1000000 - (us % 1000000 < 0) + (int64_t)tz_min * 60;
    int64_t days = s / 86400 - (s % 86400 < 0);
    int64_t sod = s - days * 86400;
    int y, m, d;
    core_civil_from_days(days, &y, &m, &d);
    if (y < 2000 || y > 2099)
        return CORE_EINVAL;
    p[0] = to_bcd(y - 2000);
    p[1] = to_bcd(m);
    p[2] = to_bcd(d);
    p[3] = to_bcd((int)(sod / 3600));
    p[4] = to_bcd((int)(sod / 60 % 60));
    p[5] = to_bcd((int)(sod % 60));
    return 0;
}

int ingest_jt808_parse_tz(const char *s, int *min)
{
    if (!s || !*s) {
        *min = INGEST_JT808_TZ_DEFAULT_MIN;
        return 0;
    }
    if (strcmp(s, "Z") == 0 || strcmp(s, "UTC") == 0 || strcmp(s, "GMT") == 0) {
        *min = 0;
        return 0;
    }
    if (s[0] != '+' && s[0] != '-')
        return CORE_EINVAL;
    int sign = s[0] == '-' ? -1 : 1, d[4], nd = 0;
    const char *p = s + 1;
    for (; *p && nd < 4; p++) {
        if (*p == ':' && nd == 2)
            continue;
        if (*p < '0' || *p > '9')
            return CORE_EINVAL;
        d[nd++] = *p - '0';
    }
    if (*p || (nd != 2 && nd != 4))
        return CORE_EINVAL;
    int h = d[0] * 10 + d[1], m = nd == 4 ? d[2] * 10 + d[3] : 0;
    if (h > 14 || m > 59 || h * 60 + m > 14 * 60)
        return CORE_EINVAL;
    *min = sign * (h * 60 + m);
    return 0;
}

/* ---------------------------------------------------------------- bodies */

/* Copies a fixed-size text field, stopping at NUL and dropping trailing spaces. */
static void fixed_str(char *dst, size_t cap, const uint8_t *src, size_t len)
{
    size_t k = 0;
    while (k < len && k + 1 < cap && src[k])
        dst[k] = (char)src[k], k++;
    while (k > 0 && dst[k - 1] == ' ')
        k--;
    dst[k] = '\0';
}

int ingest_jt808_parse_register(const uint8_t *b, size_t len, int v2019, ingest_jt808_register *r,
                                char *reason, size_t n)
{
    memset(r, 0, sizeof(*r));
    size_t maker = 5, model = 20, tid = 7;
    if (v2019) {
        maker = 11, model = 30, tid = 30;
    } else if (len < 37 && len >= 25) {
        model = 8; /* JT/T 808-2011 */
    }
    size_t fixed = 4 + maker + model + tid + 1;
    if (len < fixed)
        return fail(reason, n, "register body of %zu bytes, at least %zu expected", len, fixed);
    r->province = be16(b);
    r->city = be16(b + 2);
    size_t o = 4;
    fixed_str(r->maker, sizeof(r->maker), b + o, maker);
    o += maker;
    fixed_str(r->model, sizeof(r->model), b + o, model);
    o += model;
    fixed_str(r->term_id, sizeof(r->term_id), b + o, tid);
    o += tid;
    r->plate_color = b[o++];
    fixed_str(r->plate, sizeof(r->plate), b + o, len - o);
    return 0;
}

int ingest_jt808_parse_auth(const uint8_t *b, size_t len, int v2019, ingest_jt808_auth *a,
                            char *reason, size_t n)
{
    memset(a, 0, sizeof(*a));
    if (!v2019) {
        if (len == 0 || len >= sizeof(a->code))
            return fail(reason, n, "auth code of %zu bytes", len);
        fixed_str(a->code, sizeof(a->code), b, len);
        return 0;
    }
    if (len < 1)
        return fail(reason, n, "empty auth body");
    size_t cl = b[0];
    if (cl == 0 || cl >= sizeof(a->code) || len != 1 + cl + 15 + 20)
        return fail(reason, n, "auth body of %zu bytes with a code of %zu", len, cl);
    fixed_str(a->code, sizeof(a->code), b + 1, cl);
    fixed_str(a->imei, sizeof(a->imei), b + 1 + cl, 15);
    fixed_str(a->software, sizeof(a->software), b + 1 + cl + 15, 20);
    return 0;
}

void ingest_jt808_location_clear(ingest_jt808_location *l)
{
    memset(l, 0, sizeof(*l));
    l->mileage_km = NAN;
    l->battery = NAN;
    l->signal = -1;
    l->satellites = -1;
    l->elock.battery_v = NAN;
    l->elock.power_v = NAN;
    l->elock.wire_cut = l->elock.motion = l->elock.cover_open = -1;
    l->elock.wire_cut_count = -1;
}

static void hex_id(char *out, const uint8_t *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

/* Item 0xD5 (Huabao, "JT808 common message parsing of GPS electronic lock"): 2 bytes are
 * the battery voltage in 1/100 V; otherwise count BYTE, then per lock id BYTE[5], RFID
 * card BYTE[5], battery BYTE (percent), status WORD (bit 5 set: unlocked). 0, or -1 when
 * the length does not match the layout (the item is then dropped). */
static int item_locks(ingest_jt808_elock *e, const uint8_t *v, size_t il)
{
    if (il == 2) {
        e->battery_v = be16(v) / 100.0;
        return 0;
    }
    if (il < 1 || il != 1 + (size_t)v[0] * 13)
        return -1;
    e->locks_total = v[0];
    e->n_locks = 0;
    for (int i = 0; i < v[0] && i < INGEST_JT808_LOCKS_MAX; i++) {
        const uint8_t *r = v + 1 + (size_t)i * 13;
        ingest_jt808_lock *k = &e->locks[e->n_locks++];
        hex_id(k->id, r, 5);
        hex_id(k->card, r + 5, 5);
        k->battery = r[10];
        k->status = be16(r + 11);
        k->locked = !(k->status & (1u << 5));
    }
    return 0;
}

int ingest_jt808_parse_location(const uint8_t *b, size_t len, int tz_min, ingest_jt808_location *l,
                                ingest_jt808_item_fn item, void *arg, char *reason, size_t n)
{
    ingest_jt808_location_clear(l);
    if (len < 28)
        return fail(reason, n, "location body of %zu bytes, at least 28 expected", len);
    l->alarm = be32(b);
    l->status = be32(b + 4);
    uint32_t lat = be32(b + 8), lon = be32(b + 12);
    if (lat > 90000000u)
        return fail(reason, n, "latitude %.6f outside 0..90", lat / 1e6);
    if (lon > 180000000u)
        return fail(reason, n, "longitude %.6f outside 0..180", lon / 1e6);
    l->lat = (l->status & INGEST_JT808_ST_SOUTH ? -1.0 : 1.0) * lat / 1e6;
    l->lon = (l->status & INGEST_JT808_ST_WEST ? -1.0 : 1.0) * lon / 1e6;
    l->altitude = (int16_t)be16(b + 16); /* signed in practice: below sea level */
    l->speed_kmh = be16(b + 18) / 10.0;
    l->course = be16(b + 20) % 360;
    int rc = bcd_time(b + 22, tz_min, &l->ts_us, reason, n);
    if (rc)
        return rc;
    size_t o = 28;
    while (o < len) {
        /* An item that overruns the body cannot be skipped (nothing after it can be
         * trusted to start an item): the walk ends there, the item is counted as dropped
         * and the position stands. A reason is left for the caller's log. */
        if (len - o < 2 || b[o + 1] > len - o - 2) {
            l->items_dropped++;
            if (len - o < 2)
                fail(reason, n, "truncated additional item at byte %zu", o);
            else
                fail(reason, n, "additional item 0x%02x of %u bytes overruns the body", b[o],
                     b[o + 1]);
            break;
        }
        int id = b[o];
        size_t il = b[o + 1];
        const uint8_t *v = b + o + 2;
        switch (id) {
        case 0x01:
            if (il == 4)
                l->mileage_km = be32(v) / 10.0;
            break;
        case 0x30:
            if (il == 1)
                l->signal = v[0];
            break;
        case 0x31:
            if (il == 1)
                l->satellites = v[0];
            break;
        case 0xd4:
        case 0xe1:
        case 0xfe:
            if (il == 1 && v[0] <= 100)
                l->battery = v[0];
            break;
        case 0xd3: /* external power, 1/10 V */
            if (il == 2)
                l->elock.power_v = be16(v) / 10.0;
            else
                l->items_dropped++;
            break;
        case 0xd5:
            if (item_locks(&l->elock, v, il) != 0)
                l->items_dropped++;
            break;
        case 0xda: /* cable cut count WORD, device status BYTE */
            if (il >= 3) {
                l->elock.wire_cut_count = be16(v);
                l->elock.wire_cut = v[2] & 1;
                l->elock.motion = (v[2] >> 2) & 1;
                l->elock.cover_open = (v[2] >> 3) & 1;
            } else {
                l->items_dropped++;
            }
            break;
        default:
            break;
        }
        if (item)
            item(arg, id, v, il);
        o += 2 + il;
    }
    return 0;
}

/* ---------------------------------------------------------------- JT705A-style location
 * Layout (Traccar HuabaoProtocolDecoder decodeLocation2 with Jt600ProtocolDecoder
 * decodeBinaryLocation; docs/jt808.md): time BCD[6] DDMMYYhhmmss UTC | latitude BCD 8
 * digits DDMMmmmm (degrees, minutes / 10000) | longitude BCD 9 digits DDDMMmmmm, then a
 * nibble of flags (bit 0 fix, bit 1 north, bit 2 east) | speed BCD[1] knots | course BYTE
 * (x 2 degrees) | signal BYTE | satellites BYTE | odometer DWORD km | battery BYTE (percent,
 * 0xAA charging) | cell id DWORD | LAC WORD | product BYTE | status WORD | alarm WORD. */

#define JT705_BODY 35

/* nd BCD digits starting at the high nibble of p[0]; -1 if one is not a digit. */
static int64_t bcd_digits(const uint8_t *p, int nd)
{
    int64_t v = 0;
    for (int i = 0; i < nd; i++) {
        int d = i % 2 ? p[i / 2] & 15 : p[i / 2] >> 4;
        if (d > 9)
            return -1;
        v = v * 10 + d;
    }
    return v;
}

static void put_bcd_digits(uint8_t *p, int nd, int64_t v)
{
    for (int i = nd - 1; i >= 0; i--, v /= 10) {
        int d = (int)(v % 10);
        if (i % 2)
            p[i / 2] = (uint8_t)((p[i / 2] & 0xf0) | d);
        else
            p[i / 2] = (uint8_t)((p[i / 2] & 0x0f) | d << 4);
    }
}

int ingest_jt808_parse_jt705(const uint8_t *b, size_t len, ingest_jt808_location *l,
                             ingest_jt808_jt705 *x, char *reason, size_t n)
{
    ingest_jt808_location_clear(l);
    if (x)
        memset(x, 0, sizeof *x);
    if (len < JT705_BODY)
        return fail(reason, n, "JT705 location body of %zu bytes, at least %d expected", len,
                    JT705_BODY);
    uint8_t t[6] = {b[2], b[1], b[0], b[3], b[4], b[5]}; /* DDMMYY -> YYMMDD */
    int rc = bcd_time(t, 0, &l->ts_us, reason, n);
    if (rc)
        return rc;
    int64_t la = bcd_digits(b + 6, 8), lo = bcd_digits(b + 10, 9);
    if (la < 0 || lo < 0)
        return fail(reason, n, "JT705 coordinates are not BCD");
    if (la / 1000000 > 90 || la % 1000000 >= 600000 || lo / 1000000 > 180 || lo % 1000000 >= 600000)
        return fail(reason, n, "JT705 coordinates out of range");
    double lat = (double)(la / 1000000) + (double)(la % 1000000) / 10000.0 / 60.0;
    double lon = (double)(lo / 1000000) + (double)(lo % 1000000) / 10000.0 / 60.0;
    if (lat > 90 || lon > 180)
        return fail(reason, n, "JT705 coordinates out of range");
    int flags = b[14] & 15;
    l->lat = flags & 2 ? lat : -lat;
    l->lon = flags & 4 ? lon : -lon;
    l->status = (flags & 1 ? INGEST_JT808_ST_FIX : 0) | (flags & 2 ? 0 : INGEST_JT808_ST_SOUTH) |
                (flags & 4 ? 0 : INGEST_JT808_ST_WEST);
    int kn = bcd_byte(b[15]);
    if (kn < 0)
        return fail(reason, n, "JT705 speed is not BCD");
    l->speed_kmh = kn * 1.852;
    l->course = b[16] * 2 % 360;
    l->signal = b[17];
    l->satellites = b[18];
    l->mileage_km = be32(b + 19);
    if (b[23] <= 100)
        l->battery = b[23];
    l->no_lock = 1;
    int product = b[30];
    uint16_t alarm = be16(b + 33);
    if (((product == 1 || product == 2) && (alarm & 1)) || (product == 3 && (alarm & 0x0a)))
        l->alarm |= INGEST_JT808_ALARM_POWER_LOW;
    if (x) {
        x->charging = b[23] == 0xaa;
        x->cell = be32(b + 24);
        x->lac = be16(b + 28);
        x->product = product;
        x->status = be16(b + 31);
        x->alarm = alarm;
    }
    return 0;
}

int ingest_jt808_body_jt705(uint8_t *out, size_t cap, const ingest_jt808_location *l,
                            const ingest_jt808_jt705 *x)
{
    if (cap < JT705_BODY)
        return CORE_ETOOBIG;
    if (!(fabs(l->lat) <= 90) || !(fabs(l->lon) <= 180) || !(l->speed_kmh >= 0))
        return CORE_EINVAL;
    uint8_t b[JT705_BODY], t[6];
    memset(b, 0, sizeof b);
    if (put_bcd_time(t, l->ts_us, 0) != 0)
        return CORE_EINVAL;
    b[0] = t[2], b[1] = t[1], b[2] = t[0], b[3] = t[3], b[4] = t[4], b[5] = t[5];
    double c[2] = {fabs(l->lat), fabs(l->lon)};
    int64_t v[2];
    for (int i = 0; i < 2; i++) {
        int64_t deg = (int64_t)c[i], mm = llround((c[i] - (double)deg) * 60 * 10000);
        if (mm >= 600000)
            deg++, mm -= 600000;
        v[i] = deg * 1000000 + mm;
    }
    put_bcd_digits(b + 6, 8, v[0]);
    put_bcd_digits(b + 10, 9, v[1]);
    b[14] = (uint8_t)((b[14] & 0xf0) | ((l->status & INGEST_JT808_ST_FIX) ? 1 : 0) |
                      (l->lat >= 0 ? 2 : 0) | (l->lon >= 0 ? 4 : 0));
    long kn = lround(l->speed_kmh / 1.852);
    b[15] = to_bcd(kn > 99 ? 99 : (int)kn);
    b[16] = (uint8_t)((l->course % 360) / 2);
    b[17] = (uint8_t)(l->signal > 0 ? l->signal : 0);
    b[18] = (uint8_t)(l->satellites > 0 ? l->satellites : 0);
    put32(b + 19,
          !isnan(l->mileage_km) && l->mileage_km > 0 ? (uint32_t)llround(l->mileage_km) : 0);
    b[23] = x && x->charging ? 0xaa
            : !isnan(l->battery) && l->battery >= 0 && l->battery <= 100
                ? (uint8_t)lround(l->battery)
                : 0xff;
    if (x) {
        put32(b + 24, x->cell);
        put16(b + 28, x->lac);
        b[30] = (uint8_t)x->product;
        put16(b + 31, x->status);
        put16(b + 33, x->alarm);
    }
    memcpy(out, b, sizeof b);
    return JT705_BODY;
}

int ingest_jt808_body_jt705_ack(uint8_t *out, size_t cap, uint16_t msg_id, int result)
{
    if (cap < 3)
        return CORE_ETOOBIG;
    put16(out, msg_id);
    out[2] = (uint8_t)result;
    return 3;
}

int ingest_jt808_parse_batch(const uint8_t *b, size_t len, int tz_min, ingest_jt808_location *out,
                             int max, int *count, int *type, char *reason, size_t n)
{
    *count = 0;
    if (len < 3)
        return fail(reason, n, "batch body of %zu bytes", len);
    int cnt = be16(b);
    *type = b[2];
    if (cnt == 0 || cnt > max)
        return fail(reason, n, "batch of %d positions (1..%d)", cnt, max);
    size_t o = 3;
    for (int i = 0; i < cnt; i++) {
        if (len - o < 2)
            return fail(reason, n, "batch truncated at position %d of %d", i + 1, cnt);
        size_t il = be16(b + o);
        o += 2;
        if (il > len - o)
            return fail(reason, n, "position %d of %zu bytes overruns the batch", i + 1, il);
        char why[128];
        if (ingest_jt808_parse_location(b + o, il, tz_min, &out[i], NULL, NULL, why, sizeof(why)) !=
            0)
            return fail(reason, n, "position %d: %s", i + 1, why);
        o += il;
    }
    if (o != len)
        return fail(reason, n, "%zu bytes after the last position", len - o);
    *count = cnt;
    return 0;
}

/* ---------------------------------------------------------------- encoders */

int ingest_jt808_body_ack(uint8_t *out, size_t cap, uint16_t reply_serial, uint16_t reply_id,
                          int result)
{
    if (cap < 5)
        return CORE_ETOOBIG;
    put16(out, reply_serial);
    put16(out + 2, reply_id);
    out[4] = (uint8_t)result;
    return 5;
}

int ingest_jt808_body_register_ack(uint8_t *out, size_t cap, uint16_t reply_serial, int result,
                                   const char *auth_code)
{
    size_t cl = result == INGEST_JT808_REG_OK && auth_code ? strlen(auth_code) : 0;
    if (cl > 64)
        return CORE_EINVAL;
    if (cap < 3 + cl)
        return CORE_ETOOBIG;
    put16(out, reply_serial);
    out[2] = (uint8_t)result;
    memcpy(out + 3, auth_code ? auth_code : "", cl);
    return (int)(3 + cl);
}

static void put_fixed(uint8_t *dst, const char *s, size_t len)
{
    size_t k = strlen(s);
    memset(dst, 0, len);
    memcpy(dst, s, k < len ? k : len);
}

int ingest_jt808_body_register(uint8_t *out, size_t cap, int v2019, const ingest_jt808_register *r)
{
    size_t maker = v2019 ? 11 : 5, model = v2019 ? 30 : 20, tid = v2019 ? 30 : 7;
    size_t pl = strlen(r->plate), total = 4 + maker + model + tid + 1 + pl;
    if (cap < total)
        return CORE_ETOOBIG;
    put16(out, r->province);
    put16(out + 2, r->city);
    size_t o = 4;
    put_fixed(out + o, r->maker, maker);
    o += maker;
    put_fixed(out + o, r->model, model);
    o += model;
    put_fixed(out + o, r->term_id, tid);
    o += tid;
    out[o++] = r->plate_color;
    memcpy(out + o, r->plate, pl);
    return (int)total;
}

int ingest_jt808_body_auth(uint8_t *out, size_t cap, int v2019, const ingest_jt808_auth *a)
{
    size_t cl = strlen(a->code);
    if (cl == 0 || cl > 64)
        return CORE_EINVAL;
    if (!v2019) {
        if (cap < cl)
            return CORE_ETOOBIG;
        memcpy(out, a->code, cl);
        return (int)cl;
    }
    if (cap < 1 + cl + 35)
        return CORE_ETOOBIG;
    out[0] = (uint8_t)cl;
    memcpy(out + 1, a->code, cl);
    put_fixed(out + 1 + cl, a->imei, 15);
    put_fixed(out + 1 + cl + 15, a->software, 20);
    return (int)(1 + cl + 35);
}

int ingest_jt808_body_location(uint8_t *out, size_t cap, int tz_min, const ingest_jt808_location *l)
{
    uint8_t b[28 + 6 + 3 + 3 + 3 + 4 + 3 + 13 * INGEST_JT808_LOCKS_MAX + 5];
    if (!(fabs(l->lat) <= 90) || !(fabs(l->lon) <= 180) || !(l->speed_kmh >= 0) ||
        l->speed_kmh > 6553.5)
        return CORE_EINVAL;
    uint32_t status = l->status & ~(uint32_t)(INGEST_JT808_ST_SOUTH | INGEST_JT808_ST_WEST);
    if (l->lat < 0)
        status |= INGEST_JT808_ST_SOUTH;
    if (l->lon < 0)
        status |= INGEST_JT808_ST_WEST;
    put32(b, l->alarm);
    put32(b + 4, status);
    put32(b + 8, (uint32_t)llround(fabs(l->lat) * 1e6));
    put32(b + 12, (uint32_t)llround(fabs(l->lon) * 1e6));
    put16(b + 16, (uint16_t)(int16_t)lround(l->altitude));
    put16(b + 18, (unsigned)lround(l->speed_kmh * 10));
    put16(b + 20, (unsigned)(l->course % 360));
    if (put_bcd_time(b + 22, l->ts_us, tz_min) != 0)
        return CORE_EINVAL;
    size_t o = 28;
    if (!isnan(l->mileage_km) && l->mileage_km >= 0) {
        b[o++] = 0x01;
        b[o++] = 4;
        put32(b + o, (uint32_t)llround(l->mileage_km * 10));
        o += 4;
    }
    if (l->signal >= 0) {
        b[o++] = 0x30;
        b[o++] = 1;
        b[o++] = (uint8_t)l->signal;
    }
    if (l->satellites >= 0) {
        b[o++] = 0x31;
        b[o++] = 1;
        b[o++] = (uint8_t)l->satellites;
    }
    if (!isnan(l->battery) && l->battery >= 0 && l->battery <= 100) {
        b[o++] = 0xe1;
        b[o++] = 1;
        b[o++] = (uint8_t)lround(l->battery);
    }
    const ingest_jt808_elock *e = &l->elock;
    if (!isnan(e->power_v) && e->power_v >= 0 && e->power_v <= 6553.5) {
        b[o++] = 0xd3;
        b[o++] = 2;
        put16(b + o, (unsigned)lround(e->power_v * 10));
        o += 2;
    }
    if (e->n_locks > 0) {
        if (e->n_locks > INGEST_JT808_LOCKS_MAX)
            return CORE_EINVAL;
        b[o++] = 0xd5;
        b[o++] = (uint8_t)(1 + 13 * e->n_locks);
        b[o++] = (uint8_t)e->n_locks;
        for (int i = 0; i < e->n_locks; i++) {
            const ingest_jt808_lock *k = &e->locks[i];
            uint8_t raw[10];
            if (strlen(k->id) != 10 || strlen(k->card) != 10)
                return CORE_EINVAL;
            for (int j = 0; j < 20; j++) {
                char c = j < 10 ? k->id[j] : k->card[j - 10];
                int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
                if (d < 0)
                    return CORE_EINVAL;
                if (j % 2 == 0)
                    raw[j / 2] = (uint8_t)(d << 4);
                else
                    raw[j / 2] |= (uint8_t)d;
            }
            memcpy(b + o, raw, 10);
            b[o + 10] = (uint8_t)k->battery;
            put16(b + o + 11, (k->status & ~(1u << 5)) | (k->locked ? 0 : 1u << 5));
            o += 13;
        }
    } else if (!isnan(e->battery_v) && e->battery_v >= 0 && e->battery_v <= 655.35) {
        b[o++] = 0xd5;
        b[o++] = 2;
        put16(b + o, (unsigned)lround(e->battery_v * 100));
        o += 2;
    }
    if (e->wire_cut >= 0 || e->motion >= 0 || e->cover_open >= 0) {
        b[o++] = 0xda;
        b[o++] = 3;
        put16(b + o, (unsigned)(e->wire_cut_count > 0 ? e->wire_cut_count : 0));
        b[o + 2] = (uint8_t)((e->wire_cut > 0) | (e->motion > 0) << 2 | (e->cover_open > 0) << 3);
        o += 3;
    }
    if (cap < o)
        return CORE_ETOOBIG;
    memcpy(out, b, o);
    return (int)o;
}

int ingest_jt808_body_batch(uint8_t *out, size_t cap, int tz_min, int type,
                            const ingest_jt808_location *l, int count)
{
    if (count < 1 || count > INGEST_JT808_BATCH_MAX)
        return CORE_EINVAL;
    if (cap < 3)
        return CORE_ETOOBIG;
    put16(out, (unsigned)count);
    out[2] = (uint8_t)type;
    size_t o = 3;
    for (int i = 0; i < count; i++) {
        if (cap - o < 2)
            return CORE_ETOOBIG;
        int k = ingest_jt808_body_location(out + o + 2, cap - o - 2, tz_min, &l[i]);
        if (k < 0)
            return k;
        put16(out + o, (unsigned)k);
        o += 2 + (size_t)k;
    }
    return (int)o;
}

int ingest_jt808_parse_ack(const uint8_t *b, size_t len, uint16_t *reply_serial, uint16_t *reply_id,
                           int *result)
{
    if (len != 5)
        return CORE_EINVAL;
    *reply_serial = be16(b);
    *reply_id = be16(b + 2);
    *result = b[4];
    return 0;
}

int ingest_jt808_parse_register_ack(const uint8_t *b, size_t len, uint16_t *reply_serial,
                                    int *result, char *code, size_t code_cap)
{
    if (len < 3 || code_cap == 0)
        return CORE_EINVAL;
    *reply_serial = be16(b);
    *result = b[2];
    fixed_str(code, code_cap, b + 3, len - 3);
    return 0;
}

/* ---------------------------------------------------------------- names */

static const char *const alarm_names[32] = {
    "sos",
    "overspeed",
    "fatigue",
    "danger_warning",
    "gnss_fault",
    "gnss_antenna_cut",
    "gnss_antenna_short",
    "power_low",
    "power_cut",
    "lcd_fault",
    "tts_fault",
    "camera_fault",
    "ic_card_fault",
    "overspeed_warning",
    "fatigue_warning",
    NULL,
    NULL,
    NULL,
    "driving_overtime",
    "parking_overtime",
    "area",
    "route",
    "route_time",
    "route_deviation",
    "vss_fault",
    "fuel_abnormal",
    "stolen",
    "illegal_ignition",
    "illegal_displacement",
    "collision",
    "rollover",
    "illegal_door_open",
};

static const char *const status_names[32] = {
    "acc",        "fix",         "south",       "west",       "out_of_service",
    "encrypted",  NULL,          NULL,          NULL,         NULL,
    "oil_cut",    "circuit_cut", "door_locked", "door1_open", "door2_open",
    "door3_open", "door4_open",  "door5_open",  "gps",        "beidou",
    "glonass",    "galileo",     NULL,          NULL,
};

const char *ingest_jt808_alarm_name(int bit)
{
    return bit >= 0 && bit < 32 ? alarm_names[bit] : NULL;
}

const char *ingest_jt808_status_name(int bit)
{
    return bit >= 0 && bit < 32 ? status_names[bit] : NULL;
}

/* Most severe first: the one geo_obs.alarm slot carries the first that is set. */
static const struct {
    uint32_t bits;
    const char *event;
} seal_map[] = {
    {INGEST_JT808_ALARM_DOOR_OPEN, "door_open"},
    {INGEST_JT808_ALARM_ANTENNA_CUT | INGEST_JT808_ALARM_ANTENNA_SHORT | INGEST_JT808_ALARM_STOLEN,
     "tampering"},
    {INGEST_JT808_ALARM_POWER_CUT, "power_cut"},
    {INGEST_JT808_ALARM_SOS, "sos"},
    {INGEST_JT808_ALARM_ROUTE_DEVIATION, "route_deviation"},
    {INGEST_JT808_ALARM_ILLEGAL_MOVE, "movement"},
    {INGEST_JT808_ALARM_POWER_LOW, "low_battery"},
    {INGEST_JT808_ALARM_COLLISION | INGEST_JT808_ALARM_ROLLOVER, "accident"},
    {INGEST_JT808_ALARM_OVERSPEED, "overspeed"},
    {INGEST_JT808_ALARM_GNSS_FAULT, "gnss_fault"},
};

const char *ingest_jt808_seal_alarm(uint32_t alarm)
{
    for (size_t i = 0; i < sizeof(seal_map) / sizeof(seal_map[0]); i++)
        if (alarm & seal_map[i].bits)
            return seal_map[i].event;
    return "";
}

const char *ingest_jt808_location_alarm(const ingest_jt808_location *l)
{
    const char *ev = ingest_jt808_seal_alarm(l->alarm);
    if (strcmp(ev, "door_open") == 0 || strcmp(ev, "tampering") == 0)
        return ev;
    if (l->elock.wire_cut > 0 || l->elock.cover_open > 0)
        return "tampering";
    return ev;
}

int ingest_jt808_location_open(const ingest_jt808_location *l)
{
    if (l->no_lock)
        return -1;
    if (l->alarm & INGEST_JT808_ALARM_DOOR_OPEN)
        return 1;
    if (l->elock.n_locks > 0) {
        for (int i = 0; i < l->elock.n_locks; i++)
            if (!l->elock.locks[i].locked)
                return 1;
        return 0;
    }
    return !(l->status & INGEST_JT808_ST_DOOR_LOCKED);
}

/* ---------------------------------------------------------------- downlink commands
 * Layouts (docs/jt808.md, "Commands"):
 *   0x8103 set parameters: count BYTE, then per parameter id DWORD, length BYTE, value
 *          (every parameter Corridor sets is a DWORD of seconds)
 *   0x8105 terminal control: command word BYTE (4: reset), parameters STRING (none here)
 *   0x8201 query location: empty; answered by 0x0201 (reply serial WORD + location)
 *   0x8203 manual alarm confirmation: alarm message serial WORD (0: all), alarm type DWORD
 *   0x8300 text: flag BYTE (bit 2 display, bit 3 TTS), [2019: text type BYTE, 1 notice],
 *          text bytes
 *   0x8500 vehicle control: 2013 control flag BYTE (bit 0: 1 lock the doors, 0 unlock);
 *          2019 count WORD, then control type WORD 0x0001 (door) and its parameter BYTE
 *          (0 lock, 1 open). Answered by 0x0500 (reply serial WORD + location, whose
 *          status bit 12 tells the result). */

int ingest_jt808_command_body(const ingest_jt808_command *c, int v2019, uint8_t *out, size_t cap)
{
    size_t o = 0, tl;
    switch (c->msg_id) {
    case INGEST_JT808_SET_PARAMS:
        if (c->n_params < 1 || c->n_params > 4)
            return CORE_EINVAL;
        if (cap < 1 + (size_t)c->n_params * 9)
            return CORE_ETOOBIG;
        out[o++] = (uint8_t)c->n_params;
        for (int i = 0; i < c->n_params; i++) {
            put32(out + o, c->param_id[i]);
            out[o + 4] = 4;
            put32(out + o + 5, c->param_value[i]);
            o += 9;
        }
        return (int)o;
    case INGEST_JT808_TERM_CONTROL:
        if (cap < 1)
            return CORE_ETOOBIG;
        out[0] = c->control_word;
        return 1;
    case INGEST_JT808_LOCATE:
        return 0;
    case INGEST_JT808_ALARM_CONFIRM:
        if (cap < 6)
            return CORE_ETOOBIG;
        put16(out, c->alarm_serial);
        put32(out + 2, c->alarm_mask);
        return 6;
    case INGEST_JT808_TEXT:
        tl = strnlen(c->text, sizeof c->text);
        if (tl == 0 || tl >= sizeof c->text)
            return CORE_EINVAL;
        if (cap < tl + 2)
            return CORE_ETOOBIG;
        out[o++] = c->text_flag;
        if (v2019)
            out[o++] = 1;
        memcpy(out + o, c->text, tl);
        return (int)(o + tl);
    case INGEST_JT808_VEHICLE_CONTROL:
        if (!v2019) {
            if (cap < 1)
                return CORE_ETOOBIG;
            out[0] = c->lock ? 1 : 0;
            return 1;
        }
        if (cap < 5)
            return CORE_ETOOBIG;
        put16(out, 1);
        put16(out + 2, 0x0001);
        out[4] = c->lock ? 0 : 1;
        return 5;
    default:
        return CORE_EINVAL;
    }
}

int ingest_jt808_command_parse(uint16_t msg_id, const uint8_t *b, size_t len, int v2019,
                               ingest_jt808_command *c, char *reason, size_t n)
{
    memset(c, 0, sizeof *c);
    c->msg_id = msg_id;
    switch (msg_id) {
    case INGEST_JT808_SET_PARAMS: {
        if (len < 1)
            return fail(reason, n, "empty parameter list");
        size_t o = 1;
        for (int i = 0; i < b[0]; i++) {
            if (len - o < 5)
                return fail(reason, n, "parameter %d truncated", i + 1);
            uint32_t id = be32(b + o);
            size_t pl = b[o + 4];
            o += 5;
            if (pl > len - o)
                return fail(reason, n, "parameter 0x%04x of %zu bytes overruns the body", id, pl);
            if (pl == 4 && c->n_params < 4) {
                c->param_id[c->n_params] = id;
                c->param_value[c->n_params++] = be32(b + o);
            }
            o += pl;
        }
        if (o != len)
            return fail(reason, n, "%zu bytes after the last parameter", len - o);
        return 0;
    }
    case INGEST_JT808_TERM_CONTROL:
        if (len < 1)
            return fail(reason, n, "terminal control without a command word");
        c->control_word = b[0];
        return 0;
    case INGEST_JT808_LOCATE:
        return len == 0 ? 0 : fail(reason, n, "location query with a %zu-byte body", len);
    case INGEST_JT808_ALARM_CONFIRM:
        if (len != 6)
            return fail(reason, n, "alarm confirmation of %zu bytes, 6 expected", len);
        c->alarm_serial = be16(b);
        c->alarm_mask = be32(b + 2);
        return 0;
    case INGEST_JT808_TEXT: {
        size_t h = v2019 ? 2 : 1;
        if (len < h + 1 || len - h >= sizeof c->text)
            return fail(reason, n, "text message of %zu bytes", len);
        c->text_flag = b[0];
        memcpy(c->text, b + h, len - h);
        c->text[len - h] = 0;
        return 0;
    }
    case INGEST_JT808_VEHICLE_CONTROL:
        if (!v2019) {
            if (len != 1)
                return fail(reason, n, "vehicle control of %zu bytes, 1 expected", len);
            c->lock = b[0] & 1;
            return 0;
        }
        if (len < 2)
            return fail(reason, n, "vehicle control of %zu bytes", len);
        for (size_t o = 2, k = 0; k < be16(b); k++) {
            if (len - o < 3)
                return fail(reason, n, "vehicle control item %zu truncated", k + 1);
            if (be16(b + o) == 0x0001) {
                c->lock = b[o + 2] == 0;
                return 0;
            }
            return fail(reason, n, "vehicle control type 0x%04x is not the door", be16(b + o));
        }
        return fail(reason, n, "vehicle control without a door item");
    default:
        return fail(reason, n, "message 0x%04x is not a command", msg_id);
    }
}

int ingest_jt808_parse_answer_location(const uint8_t *b, size_t len, int tz_min,
                                       uint16_t *reply_serial, ingest_jt808_location *l,
                                       char *reason, size_t n)
{
    if (len < 2)
        return fail(reason, n, "answer of %zu bytes without its serial", len);
    *reply_serial = be16(b);
    return ingest_jt808_parse_location(b + 2, len - 2, tz_min, l, NULL, NULL, reason, n);
}

int ingest_jt808_body_answer_location(uint8_t *out, size_t cap, int tz_min, uint16_t reply_serial,
                                      const ingest_jt808_location *l)
{
    if (cap < 2)
        return CORE_ETOOBIG;
    put16(out, reply_serial);
    int k = ingest_jt808_body_location(out + 2, cap - 2, tz_min, l);
    return k < 0 ? k : k + 2;
}
