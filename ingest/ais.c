/*
 * ais.c: the NMEA 0183 AIS codec of ingest/ (see ais.h): sentence parsing and checks, tag
 * blocks, multipart reassembly, bit-level decoding of every message type gpsd 3.22
 * decodes (with the type 6 and 8 application messages it prints as fields), the
 * gpsdecode-compatible JSON writer and the encoder.
 *
 * Owns nothing global. A decoder is one fixed-size allocation holding its reassembly
 * slots, the type 24 part A queue, a line buffer and its counters; it is used by the one
 * thread that feeds it. JSON writer and encoder are pure.
 *
 * DESIGN: one table of fields per message type drives both decoding and encoding, so the
 * two cannot disagree on a bit position. Types 6-26 keep their whole payload in the
 * message (bits): the few fields a server may want are decoded into the struct, and the
 * JSON writer reads the rest, application messages included, straight from the bits, in
 * gpsd's order and formats; the encoder sends those bits back. Length rules, text trimming and the
 * few quirks of gpsd 3.22 (type 24 output only when part B meets part A; the type 21 name extension
 * overflowing into the next fields) are reproduced on purpose, because corridor-decode's
 * output must equal gpsdecode's; docs/ais.md lists them.
 */
#include "ais.h"
#include "core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS      8
#define Q24        8
#define BITS_BYTES (INGEST_AIS_PAYLOAD_MAX * 6 / 8 + 16)

struct slot {
    int used;
    char chan;
    int seq;
    int count, next;
    int own;
    int64_t t0;
    int nchars;
    char payload[INGEST_AIS_PAYLOAD_MAX];
};

struct ingest_ais {
    int64_t timeout_ms;
    int pending;
    struct slot slots[SLOTS];
    struct {
        int32_t mmsi;
        char name[21];
    } q24[Q24];
    int q24_idx;
    ingest_ais_stats st;
    size_t linelen;
    int discarding;
    char line[INGEST_AIS_LINE_MAX + 1];
    uint8_t bits[BITS_BYTES];
};

/* ---- field tables ---- */

enum kind { K_U, K_S, K_T };
struct fld {
    uint16_t start;
    uint8_t len; /* bits, or characters for K_T */
    uint8_t kind;
    uint16_t off;
};
#define U(s, l, f)                                                                                 \
    {                                                                                              \
        s, l, K_U, offsetof(ingest_ais_msg, f)                                                     \
    }
#define S(s, l, f)                                                                                 \
    {                                                                                              \
        s, l, K_S, offsetof(ingest_ais_msg, f)                                                     \
    }
#define T(s, l, f)                                                                                 \
    {                                                                                              \
        s, l, K_T, offsetof(ingest_ais_msg, f)                                                     \
    }
#define END                                                                                        \
    {                                                                                              \
        0, 0, 0, 0                                                                                 \
    }

static const struct fld f_t1[] = {U(38, 4, status),    S(42, 8, turn),     U(50, 10, speed),
                                  U(60, 1, accuracy),  S(61, 28, lon),     S(89, 27, lat),
                                  U(116, 12, course),  U(128, 9, heading), U(137, 6, second),
                                  U(143, 2, maneuver), U(148, 1, raim),    END};
static const struct fld f_t4[] = {U(38, 14, year),
                                  U(52, 4, month),
                                  U(56, 5, day),
                                  U(61, 5, hour),
                                  U(66, 6, minute),
                                  U(72, 6, second),
                                  U(78, 1, accuracy),
                                  S(79, 28, lon),
                                  S(107, 27, lat),
                                  U(134, 4, epfd),
                                  U(148, 1, raim),
                                  U(149, 19, radio),
                                  END};
static const struct fld f_t5[] = {
    U(38, 2, ais_version),   U(40, 30, imo),      T(70, 7, callsign),
    T(112, 20, shipname),    U(232, 8, shiptype), U(240, 9, to_bow),
    U(249, 9, to_stern),     U(258, 6, to_port),  U(264, 6, to_starboard),
    U(270, 4, epfd),         U(274, 4, month),    U(278, 5, day),
    U(283, 5, hour),         U(288, 6, minute),   U(294, 8, draught),
    T(302, 20, destination), U(422, 1, dte),      END};
static const struct fld f_t18[] = {U(38, 8, reserved), U(46, 10, speed),   U(56, 1, accuracy),
                                   S(57, 28, lon),     S(85, 27, lat),     U(112, 12, course),
                                   U(124, 9, heading), U(133, 6, second),  U(139, 2, regional),
                                   U(141, 1, cs),      U(142, 1, display), U(143, 1, dsc),
                                   U(144, 1, band),    U(145, 1, msg22),   U(146, 1, assigned),
                                   U(147, 1, raim),    U(148, 20, radio),  END};
static const struct fld f_t19[] = {
    U(38, 8, reserved),  U(46, 10, speed),     U(56, 1, accuracy),      S(57, 28, lon),
    S(85, 27, lat),      U(112, 12, course),   U(124, 9, heading),      U(133, 6, second),
    U(139, 4, regional), T(143, 20, shipname), U(263, 8, shiptype),     U(271, 9, to_bow),
    U(280, 9, to_stern), U(289, 6, to_port),   U(295, 6, to_starboard), U(301, 4, epfd),
    U(305, 1, raim),     U(306, 1, dte),       U(307, 1, assigned),     END};
static const struct fld f_t21[] = {
    U(38, 5, aid_type), U(163, 1, accuracy),    S(164, 28, lon),         S(192, 27, lat),
    U(219, 9, to_bow),  U(228, 9, to_stern),    U(237, 6, to_port),      U(243, 6, to_starboard),
    U(249, 4, epfd),    U(253, 6, second),      U(259, 1, off_position), U(260, 8, regional),
    U(268, 1, raim),    U(269, 1, virtual_aid), U(270, 1, assigned),     END};
static const struct fld f_t24a[] = {T(40, 20, shipname), END};
static const struct fld f_t24b[] = {U(40, 8, shiptype), T(48, 7, vendorid), U(66, 4, model),
                                    U(70, 20, serial),  T(90, 7, callsign), END};
static const struct fld f_t24b_enc[] = {U(40, 8, shiptype), T(48, 3, vendorid), U(66, 4, model),
                                        U(70, 20, serial),  T(90, 7, callsign), END};
static const struct fld f_t24dim[] = {U(132, 9, to_bow), U(141, 9, to_stern), U(150, 6, to_port),
                                      U(156, 6, to_starboard), END};
static const struct fld f_t24mother[] = {U(132, 30, mothership_mmsi), END};
static const struct fld f_t27[] = {U(38, 1, accuracy), U(39, 1, raim), U(40, 4, status),
                                   S(44, 18, lon),     S(62, 17, lat), U(79, 6, speed),
                                   U(85, 9, course),   U(94, 1, gnss), END};

/* the fields of types 6-26 a server may want; ingest_ais_json reads the rest from bits */
static const struct fld f_t9[] = {U(38, 12, alt),
                                  U(50, 10, speed),
                                  U(60, 1, accuracy),
                                  S(61, 28, lon),
                                  S(89, 27, lat),
                                  U(116, 12, course),
                                  U(128, 6, second),
                                  U(134, 8, regional),
                                  U(142, 1, dte),
                                  U(146, 1, assigned),
                                  U(147, 1, raim),
                                  U(148, 20, radio),
                                  END};
static const struct fld f_t6[] = {U(38, 2, seqno), U(40, 30, dest_mmsi), U(70, 1, retransmit),
                                  U(72, 10, dac),  U(82, 6, fid),        END};
static const struct fld f_t8[] = {U(40, 10, dac), U(50, 6, fid), END};
static const struct fld f_t10[] = {U(40, 30, dest_mmsi), END};
static const struct fld f_t12[] = {U(38, 2, seqno), U(40, 30, dest_mmsi), U(70, 1, retransmit),
                                   END};

static const char sixchr[65] = "@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_ !\"#$%&'()*+,-./0123456789:;<=>?";

/* ---- bits ---- */

static uint32_t ubits(const uint8_t *b, unsigned start, unsigned len)
{
    uint64_t v = 0;
    unsigned byte = start >> 3, i;
    for (i = 0; i < 5; i++)
        v = (v << 8) | b[byte + i];
    v >>= 40 - (start & 7) - len;
    return (uint32_t)(v & ((len == 32) ? 0xffffffffu : ((1u << len) - 1)));
}

static int32_t sbits(const uint8_t *b, unsigned start, unsigned len)
{
    uint32_t v = ubits(b, start, len);
    if (v & (1u << (len - 1)))
        return (int32_t)(v | ~((1u << len) - 1));
    return (int32_t)v;
}

/* Six-bit text of at most count characters, cut at the first '@'. Returns its length. */
static int sixtext(const uint8_t *b, unsigned start, int count, char *to)
{
    int i;
    for (i = 0; i < count; i++) {
        char c = sixchr[ubits(b, start + 6 * (unsigned)i, 6)];
        if (c == '@')
            break;
        to[i] = c;
    }
    to[i] = '\0';
    return i;
}

static int trim_right(char *s, int n)
{
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '@'))
        s[--n] = '\0';
    return n;
}

static void apply(const struct fld *f, const uint8_t *b, ingest_ais_msg *m)
{
    for (; f->len; f++) {
        char *p = (char *)m + f->off;
        if (f->kind == K_U)
            *(int32_t *)(void *)p = (int32_t)ubits(b, f->start, f->len);
        else if (f->kind == K_S)
            *(int32_t *)(void *)p = sbits(b, f->start, f->len);
        else
            trim_right(p, sixtext(b, f->start, f->len, p));
    }
}

/* ---- decoding of one complete payload ---- */

static int dearmor(int c)
{
    if (c >= '0' && c <= 'W')
        return c - '0';
    if (c >= '`' && c <= 'w')
        return c - '`' + 40;
    return -1;
}

static void bad(ingest_ais *d, int reason)
{
    d->st.bad[reason]++;
}

/* Binary application messages (types 6 and 8) gpsd 3.22 decodes into fields instead of
 * printing their data: where dac/fid (and for some the exact length) match, gpsd prints
 * fields, so raw data would differ from gpsdecode. Measured against gpsdecode 3.22 by
 * sweeping every FID of DAC 1, 200, 235, 250 and others over many lengths. */
struct app {
    uint8_t type;
    uint16_t dac;
    uint8_t fid;
    uint16_t bitlen; /* 0: any length */
};
static const struct app apps[] = {
    {6, 1, 12, 0},     {6, 1, 14, 0},     {6, 1, 15, 0},     {6, 1, 16, 0},     {6, 1, 18, 0},
    {6, 1, 20, 0},     {6, 1, 25, 0},     {6, 1, 28, 0},     {6, 1, 30, 0},     {6, 1, 32, 0},
    {6, 200, 21, 248}, {6, 200, 22, 232}, {6, 200, 55, 168}, {6, 235, 10, 136}, {6, 250, 10, 136},
    {8, 1, 11, 0},     {8, 1, 13, 0},     {8, 1, 15, 0},     {8, 1, 17, 0},     {8, 1, 19, 0},
    {8, 1, 27, 0},     {8, 1, 29, 0},     {8, 1, 31, 0},     {8, 200, 10, 168}, {8, 200, 23, 256},
    {8, 200, 24, 168}, {8, 200, 40, 168},
};

/* Which application message m (type 6 or 8) is: an index into apps, or -1 for raw data. */
static int app_find(const ingest_ais_msg *m)
{
    size_t i;
    for (i = 0; i < sizeof apps / sizeof apps[0]; i++)
        if (apps[i].type == m->type && apps[i].dac == m->dac && apps[i].fid == m->fid &&
            (apps[i].bitlen == 0 || apps[i].bitlen == m->bitlen)) {
            /* gpsd range-checks the inland hazard class; out of range, the data is raw */
            if (m->type == 8 && m->dac == 200 && m->fid == 10 && ubits(m->bits, 141, 3) > 5)
                return -1;
            return (int)i;
        }
    return -1;
}

static int app_written(int idx);

/* 0: raw data; 1: fields gpsd prints and we write; -1: fields we do not write yet. */
static int app_kind(const ingest_ais_msg *m)
{
    int i = app_find(m);
    if (i < 0)
        return 0;
    return app_written(i) ? 1 : -1;
}

/* Returns 1 with *m filled, 0 for nothing to return, or a negative code (counted). */
static int decode_payload(ingest_ais *d, const char *pl, int n, int fill, ingest_ais_msg *m)
{
    uint8_t *b = d->bits;
    uint32_t acc = 0;
    int nacc = 0, nb = 0, i;
    size_t bitlen;

    for (i = 0; i < n; i++) {
        acc = (acc << 6) | (uint32_t)dearmor((unsigned char)pl[i]);
        nacc += 6;
        if (nacc >= 8) {
            nacc -= 8;
            b[nb++] = (uint8_t)(acc >> nacc);
        }
    }
    if (nacc)
        b[nb++] = (uint8_t)(acc << (8 - nacc));
    memset(b + nb, 0, 16); /* reads past the payload see zeros, as in gpsd */
    bitlen = (size_t)n * 6 - (size_t)fill;
    if (bitlen < 38) {
        bad(d, INGEST_AIS_BAD_TRUNCATED);
        return CORE_EINVAL;
    }
    m->type = (int32_t)ubits(b, 0, 6);
    m->repeat = (int32_t)ubits(b, 6, 2);
    m->mmsi = (int32_t)ubits(b, 8, 30);
    m->bitlen = (int32_t)bitlen;
    {
        /* the whole payload, fill bits as received: the JSON writer reads types 6-26 here */
        size_t keep = nb < (int)sizeof m->bits - 8 ? (size_t)nb : sizeof m->bits - 8;
        memcpy(m->bits, b, keep);
        memset(m->bits + keep, 0, sizeof m->bits - keep);
    }

    switch (m->type) {
    case 1:
    case 2:
    case 3:
        if (bitlen < 163)
            goto truncated;
        apply(f_t1, b, m);
        m->radio = (int32_t)ubits(b, 149, bitlen >= 168 ? 19 : (unsigned)(bitlen - 149));
        break;
    case 4:
        if (bitlen < 168)
            goto truncated;
        apply(f_t4, b, m);
        break;
    case 5:
        if (bitlen < 420)
            goto truncated;
        apply(f_t5, b, m);
        break;
    case 18:
        if (bitlen < 168)
            goto truncated;
        apply(f_t18, b, m);
        break;
    case 19:
        if (bitlen < 312)
            goto truncated;
        apply(f_t19, b, m);
        break;
    case 21: {
        int len, ext = 0;
        if (bitlen < 272)
            goto truncated;
        if (bitlen > 368)
            goto toolong;
        apply(f_t21, b, m);
        len = sixtext(b, 43, 20, m->name);
        if (len == 20 && bitlen > 272) {
            ext = sixtext(b, 272, (int)(bitlen - 272) / 6, m->name + 20);
            len += ext;
        }
        /* gpsd 3.22 keeps the name in 35 bytes: a 15- or 16-character extension runs into
         * the accuracy flag and the low byte of the longitude. Reproduced for identity. */
        {
            int full = len;
            len = trim_right(m->name, len);
            if (full >= 35)
                m->accuracy = len > 35;
            if (full >= 36)
                m->lon = (int32_t)((uint32_t)m->lon & ~0xffu);
        }
        break;
    }
    case 24: {
        int partno = (int)ubits(b, 38, 2), i2;
        if (partno == 0) {
            if (bitlen < 160)
                goto truncated;
            if (bitlen > 168)
                goto toolong;
            apply(f_t24a, b, m);
            d->q24[d->q24_idx].mmsi = m->mmsi;
            memcpy(d->q24[d->q24_idx].name, m->shipname, sizeof m->shipname);
            d->q24_idx = (d->q24_idx + 1) % Q24;
            m->part = INGEST_AIS_PART_A;
        } else if (partno == 1) {
            if (bitlen < 168)
                goto truncated;
            apply(f_t24b, b, m);
            apply((m->mmsi / 10000000 == 98) ? f_t24mother : f_t24dim, b, m);
            m->part = INGEST_AIS_PART_B;
            for (i2 = 0; i2 < Q24; i2++) {
                if (d->q24[i2].mmsi == m->mmsi) {
                    memcpy(m->shipname, d->q24[i2].name, sizeof m->shipname);
                    d->q24[i2].mmsi = 0;
                    m->part = INGEST_AIS_PART_AB;
                    break;
                }
            }
        } else {
            d->st.unsupported++;
            return 0;
        }
        break;
    }
    case 27:
        if (bitlen < 96)
            goto truncated;
        if (bitlen != 96 && bitlen != 168)
            goto toolong;
        apply(f_t27, b, m);
        break;
    /* gpsd 3.22's length rules for the types below, measured against gpsdecode */
    case 6:
        if (bitlen < 88)
            goto truncated;
        if (bitlen > 1008)
            goto toolong;
        apply(f_t6, b, m);
        if (app_kind(m) < 0)
            goto unsupported;
        break;
    case 7:
    case 13:
        if (bitlen < 72)
            goto truncated;
        if (bitlen > 168)
            goto toolong;
        break;
    case 8:
        if (bitlen < 56)
            goto truncated;
        if (bitlen > 1008)
            goto toolong;
        apply(f_t8, b, m);
        if (app_kind(m) < 0)
            goto unsupported;
        break;
    case 9:
        if (bitlen < 168)
            goto truncated;
        apply(f_t9, b, m);
        break;
    case 10:
        if (bitlen < 72)
            goto truncated;
        apply(f_t10, b, m);
        break;
    case 11:
        if (bitlen < 168)
            goto truncated;
        apply(f_t4, b, m);
        break;
    case 12:
        if (bitlen < 72)
            goto truncated;
        if (bitlen > 1008)
            goto toolong;
        apply(f_t12, b, m);
        break;
    case 14:
        if (bitlen < 40)
            goto truncated;
        if (bitlen > 1008)
            goto toolong;
        break;
    case 15:
        if (bitlen < 88)
            goto truncated;
        if (bitlen > 168)
            goto toolong;
        break;
    case 16:
        if (bitlen < 96)
            goto truncated;
        if (bitlen > 168)
            goto toolong;
        break;
    case 17:
        if (bitlen < 80)
            goto truncated;
        if (bitlen > 816)
            goto toolong;
        break;
    case 20:
        if (bitlen < 72)
            goto truncated;
        if (bitlen > 186)
            goto toolong;
        break;
    case 22:
        if (bitlen < 168)
            goto truncated;
        break;
    case 23:
        if (bitlen < 160)
            goto truncated;
        break;
    case 25:
    case 26: {
        /* 25: 40..168 bits; 26: 60..1004 bits and room for its 20-bit radio field; both
         * need room for the destination and application id their flags announce */
        int single = m->type == 25;
        if (bitlen < (single ? 40u : 60u))
            goto truncated;
        if (bitlen > (single ? 168u : 1004u))
            goto toolong;
        m->addressed = (int32_t)ubits(b, 38, 1);
        m->structured = (int32_t)ubits(b, 39, 1);
        if (bitlen < (size_t)(40 + 16 * m->structured + 30 * m->addressed + (single ? 0 : 20)))
            goto truncated;
        if (m->addressed)
            m->dest_mmsi = (int32_t)ubits(b, 40, 30);
        if (m->structured)
            m->app_id = (int32_t)ubits(b, 40 + 30 * (unsigned)m->addressed, 16);
        break;
    }
    default:
        d->st.unsupported++;
        return 0;
    }
    d->st.messages++;
    return 1;
unsupported:
    d->st.unsupported++;
    return 0;
truncated:
    bad(d, INGEST_AIS_BAD_TRUNCATED);
    return CORE_EINVAL;
toolong:
    bad(d, INGEST_AIS_BAD_LENGTH);
    return CORE_EINVAL;
}

/* ---- sentences ---- */

ingest_ais *ingest_ais_new(int64_t frag_timeout_ms)
{
    ingest_ais *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->timeout_ms = frag_timeout_ms > 0 ? frag_timeout_ms : INGEST_AIS_FRAG_TIMEOUT_MS;
    return d;
}

void ingest_ais_free(ingest_ais *d)
{
    free(d);
}

void ingest_ais_get_stats(const ingest_ais *d, ingest_ais_stats *out)
{
    *out = d->st;
}

const char *ingest_ais_bad_name(int reason)
{
    static const char *const names[INGEST_AIS_NBAD] = {
        "checksum", "orphan", "fill", "truncated", "length", "garbage", "overlong"};
    return (reason >= 0 && reason < INGEST_AIS_NBAD) ? names[reason] : "unknown";
}

void ingest_ais_expire(ingest_ais *d, int64_t now_ms)
{
    int i;
    if (!d->pending)
        return;
    for (i = 0; i < SLOTS; i++) {
        struct slot *s = &d->slots[i];
        if (s->used && now_ms - s->t0 > d->timeout_ms) {
            s->used = 0;
            d->pending--;
            bad(d, INGEST_AIS_BAD_ORPHAN);
        }
    }
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Checks "body*hh" between p and e (p after the start character). Returns the position of
 * '*' or NULL; *why says which counter. */
static const char *check_sum(const char *p, const char *e, int *why)
{
    unsigned x = 0;
    const char *q;
    int h, l;
    for (q = p; q < e && *q != '*'; q++)
        x ^= (unsigned char)*q;
    if (q + 3 > e) {
        *why = INGEST_AIS_BAD_CHECKSUM;
        return NULL;
    }
    h = hexval((unsigned char)q[1]);
    l = hexval((unsigned char)q[2]);
    if (h < 0 || l < 0 || (unsigned)(h * 16 + l) != x) {
        *why = INGEST_AIS_BAD_CHECKSUM;
        return NULL;
    }
    return q;
}

static struct slot *find_slot(ingest_ais *d, char chan, int seq, int own)
{
    int i;
    for (i = 0; i < SLOTS; i++) {
        struct slot *s = &d->slots[i];
        if (s->used && s->chan == chan && s->seq == seq && s->own == own)
            return s;
    }
    return NULL;
}

static int drop(ingest_ais *d, int reason)
{
    bad(d, reason);
    return reason == INGEST_AIS_BAD_OVERLONG ? CORE_ETOOBIG : CORE_EINVAL;
}

int ingest_ais_line(ingest_ais *d, const char *line, size_t len, int64_t now_ms,
                    ingest_ais_msg *out)
{
    const char *p = line, *e = line + len, *star, *f[7];
    int why = INGEST_AIS_BAD_GARBAGE, nf, count, number, seq, fill, own, n;
    char chan;

    d->st.lines++;
    ingest_ais_expire(d, now_ms);
    if (len > INGEST_AIS_LINE_MAX)
        return drop(d, INGEST_AIS_BAD_OVERLONG);
    while (e > p && (e[-1] == '\n' || e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
        e--;
    while (p < e && (*p == ' ' || *p == '\t'))
        p++;
    if (p == e)
        return 0;
    if (*p == '\\') { /* NMEA 4.0 tag block: \s:src,c:time*hh\ */
        const char *te = memchr(p + 1, '\\', (size_t)(e - p - 1));
        if (!te)
            return drop(d, INGEST_AIS_BAD_GARBAGE);
        const char *ts = check_sum(p + 1, te, &why);
        if (!ts || ts + 3 != te)
            return drop(d, INGEST_AIS_BAD_CHECKSUM);
        p = te + 1;
    } else if (*p != '!' && *p != '$') {
        /* a feed's own prefix (time stamps): gpsd skips to the sentence too */
        p = memchr(p, '!', (size_t)(e - p));
        if (!p)
            return drop(d, INGEST_AIS_BAD_GARBAGE);
    }
    if (p >= e || (*p != '!' && *p != '$'))
        return drop(d, INGEST_AIS_BAD_GARBAGE);
    star = check_sum(p + 1, e, &why);
    if (!star)
        return drop(d, why);
    /* What receivers append after the checksum (",s36310,d-081,T59.01777335", a stray CR,
     * a literal "\r\n") is not part of the sentence: gpsd ignores it, so do we, as long as
     * it is printable text. A control character there is garbage, as it is to gpsd. */
    for (const char *q = star + 3; q < e; q++)
        if ((*q < 0x20 || *q > 0x7e) && *q != '\r')
            return drop(d, INGEST_AIS_BAD_GARBAGE);
    if (*p != '!' || star - p < 7 || p[3] != 'V' || p[4] != 'D' || (p[5] != 'M' && p[5] != 'O') ||
        p[6] != ',') {
        d->st.ignored++; /* well-formed NMEA, not AIS */
        return 0;
    }
    own = p[5] == 'O';
    /* fields after "!AIVDM,": count, number, seq, channel, payload, fill */
    {
        const char *q = p + 7;
        nf = 0;
        f[nf++] = q;
        for (; q < star && nf < 7; q++)
            if (*q == ',')
                f[nf++] = q + 1;
        if (nf != 6)
            return drop(d, INGEST_AIS_BAD_GARBAGE);
        f[6] = star + 1; /* so f[i+1]-1 is the end of field i */
    }
#define FLEN(i) ((int)(f[(i) + 1] - 1 - f[i]))
    if (FLEN(0) != 1 || FLEN(1) != 1 || f[0][0] < '1' || f[0][0] > '9' || f[1][0] < '1' ||
        f[1][0] > '9' || FLEN(2) > 1 || FLEN(3) > 1)
        return drop(d, INGEST_AIS_BAD_GARBAGE);
    count = f[0][0] - '0';
    number = f[1][0] - '0';
    if (number > count)
        return drop(d, INGEST_AIS_BAD_GARBAGE);
    seq = FLEN(2) ? f[2][0] : -1;
    chan = FLEN(3) ? f[3][0] : 0;
    n = FLEN(4);
    for (int i = 0; i < n; i++)
        if (dearmor((unsigned char)f[4][i]) < 0)
            return drop(d, INGEST_AIS_BAD_GARBAGE);
    if (FLEN(5) == 0) {
        fill = 0;
    } else if (FLEN(5) == 1 && f[5][0] >= '0' && f[5][0] <= '5') {
        fill = f[5][0] - '0';
    } else {
        return drop(d, INGEST_AIS_BAD_FILL);
    }
#undef FLEN
    d->st.sentences++;
    if ((number < count && fill != 0) || fill > 6 * n)
        return drop(d, INGEST_AIS_BAD_FILL);
    if (n > INGEST_AIS_PAYLOAD_MAX)
        return drop(d, INGEST_AIS_BAD_LENGTH);

    /* the payload bits are filled (and their tail zeroed) by decode_payload */
    memset(out, 0, offsetof(ingest_ais_msg, bits));
    out->own = own;
    out->channel = chan;
    if (count == 1)
        return decode_payload(d, f[4], n, fill, out);

    {
        struct slot *s = find_slot(d, chan, seq, own);
        if (number == 1) {
            if (s) { /* a new message with the same key: the old one is lost */
                bad(d, INGEST_AIS_BAD_ORPHAN);
            } else {
                int i, oldest = -1;
                for (i = 0; i < SLOTS && d->slots[i].used; i++)
                    if (oldest < 0 || d->slots[i].t0 < d->slots[oldest].t0)
                        oldest = i;
                if (i == SLOTS) {
                    i = oldest;
                    bad(d, INGEST_AIS_BAD_ORPHAN);
                } else {
                    d->pending++;
                }
                s = &d->slots[i];
            }
            s->used = 1;
            s->chan = chan;
            s->seq = seq;
            s->own = own;
            s->count = count;
            s->next = 2;
            s->t0 = now_ms;
            memcpy(s->payload, f[4], (size_t)n);
            s->nchars = n;
            return 0;
        }
        if (!s || s->next != number || s->count != count)
            return drop(d, INGEST_AIS_BAD_ORPHAN);
        if (s->nchars + n > INGEST_AIS_PAYLOAD_MAX) {
            s->used = 0;
            d->pending--;
            return drop(d, INGEST_AIS_BAD_LENGTH);
        }
        memcpy(s->payload + s->nchars, f[4], (size_t)n);
        s->nchars += n;
        s->next++;
        if (number < count)
            return 0;
        s->used = 0;
        d->pending--;
        return decode_payload(d, s->payload, s->nchars, fill, out);
    }
}

int ingest_ais_feed(ingest_ais *d, const char *buf, size_t len, int64_t now_ms,
                    void (*on_msg)(void *arg, const ingest_ais_msg *msg), void *arg)
{
    ingest_ais_msg m;
    int delivered = 0;
    const char *p = buf, *e = buf + len;

    while (p < e) {
        const char *nl = memchr(p, '\n', (size_t)(e - p));
        size_t chunk = (size_t)((nl ? nl : e) - p);
        if (d->discarding) {
            if (nl)
                d->discarding = 0;
        } else if (d->linelen == 0 && nl) {
            if (chunk > INGEST_AIS_LINE_MAX) {
                d->st.lines++;
                bad(d, INGEST_AIS_BAD_OVERLONG);
            } else if (ingest_ais_line(d, p, chunk, now_ms, &m) == 1) {
                on_msg(arg, &m);
                delivered++;
            }
        } else if (d->linelen + chunk > INGEST_AIS_LINE_MAX) {
            d->st.lines++;
            bad(d, INGEST_AIS_BAD_OVERLONG);
            d->linelen = 0;
            d->discarding = !nl;
        } else {
            memcpy(d->line + d->linelen, p, chunk);
            d->linelen += chunk;
            if (nl) {
                if (ingest_ais_line(d, d->line, d->linelen, now_ms, &m) == 1) {
                    on_msg(arg, &m);
                    delivered++;
                }
                d->linelen = 0;
            }
        }
        p += chunk + (nl ? 1 : 0);
    }
    return delivered;
}

int ingest_ais_position(const ingest_ais_msg *m, double *lat, double *lon)
{
    double div;
    switch (m->type) {
    case 1:
    case 2:
    case 3:
    case 4:
    case 18:
    case 19:
    case 21:
        div = 600000.0;
        break;
    case 27:
        div = 600.0;
        break;
    default:
        return CORE_ENOTFOUND;
    }
    *lat = m->lat / div;
    *lon = m->lon / div;
    if (*lat < -90.0 || *lat > 90.0 || *lon < -180.0 || *lon > 180.0)
        return CORE_ENOTFOUND;
    return 0;
}

/* ---- JSON (gpsd 3.22 json_aivdm_dump, scaled) ---- */

static const char *const nav_legends[16] = {"Under way using engine",
                                            "At anchor",
                                            "Not under command",
                                            "Restricted manoeuverability",
                                            "Constrained by her draught",
                                            "Moored",
                                            "Aground",
                                            "Engaged in fishing",
                                            "Under way sailing",
                                            "Reserved for HSC",
                                            "Reserved for WIG",
                                            "Reserved",
                                            "Reserved",
                                            "Reserved",
                                            "Reserved",
                                            "Not defined"};

static const char *const epfd_legends[9] = {"Undefined",
                                            "GPS",
                                            "GLONASS",
                                            "Combined GPS/GLONASS",
                                            "Loran-C",
                                            "Chayka",
                                            "Integrated navigation system",
                                            "Surveyed",
                                            "Galileo"};

#define R "Reserved for future use"
static const char *const ship_type_legends[100] = {
    "Not available",
    R,
    R,
    R,
    R,
    R,
    R,
    R,
    R,
    R,
    R,
    R,
    R,
    R,
    R,
    R,
    R,
    R,
    R,
    R,
    "Wing in ground (WIG) - all ships of this type",
    "Wing in ground (WIG) - Hazardous category A",
    "Wing in ground (WIG) - Hazardous category B",
    "Wing in ground (WIG) - Hazardous category C",
    "Wing in ground (WIG) - Hazardous category D",
    "Wing in ground (WIG) - " R,
    "Wing in ground (WIG) - " R,
    "Wing in ground (WIG) - " R,
    "Wing in ground (WIG) - " R,
    "Wing in ground (WIG) - " R,
    "Fishing",
    "Towing",
    "Towing: length exceeds 200m or breadth exceeds 25m",
    "Dredging or underwater ops",
    "Diving ops",
    "Military ops",
    "Sailing",
    "Pleasure Craft",
    "Reserved",
    "Reserved",
    "High speed craft (HSC) - all ships of this type",
    "High speed craft (HSC) - Hazardous category A",
    "High speed craft (HSC) - Hazardous category B",
    "High speed craft (HSC) - Hazardous category C",
    "High speed craft (HSC) - Hazardous category D",
    "High speed craft (HSC) - " R,
    "High speed craft (HSC) - " R,
    "High speed craft (HSC) - " R,
    "High speed craft (HSC) - " R,
    "High speed craft (HSC) - No additional information",
    "Pilot Vessel",
    "Search and Rescue vessel",
    "Tug",
    "Port Tender",
    "Anti-pollution equipment",
    "Law Enforcement",
    "Spare - Local Vessel",
    "Spare - Local Vessel",
    "Medical Transport",
    "Ship according to RR Resolution No. 18",
    "Passenger - all ships of this type",
    "Passenger - Hazardous category A",
    "Passenger - Hazardous category B",
    "Passenger - Hazardous category C",
    "Passenger - Hazardous category D",
    "Passenger - " R,
    "Passenger - " R,
    "Passenger - " R,
    "Passenger - " R,
    "Passenger - No additional information",
    "Cargo - all ships of this type",
    "Cargo - Hazardous category A",
    "Cargo - Hazardous category B",
    "Cargo - Hazardous category C",
    "Cargo - Hazardous category D",
    "Cargo - " R,
    "Cargo - " R,
    "Cargo - " R,
    "Cargo - " R,
    "Cargo - No additional information",
    "Tanker - all ships of this type",
    "Tanker - Hazardous category A",
    "Tanker - Hazardous category B",
    "Tanker - Hazardous category C",
    "Tanker - Hazardous category D",
    "Tanker - " R,
    "Tanker - " R,
    "Tanker - " R,
    "Tanker - " R,
    "Tanker - No additional information",
    "Other Type - all ships of this type",
    "Other Type - Hazardous category A",
    "Other Type - Hazardous category B",
    "Other Type - Hazardous category C",
    "Other Type - Hazardous category D",
    "Other Type - " R,
    "Other Type - " R,
    "Other Type - " R,
    "Other Type - " R,
    "Other Type - no additional information"};
#undef R

static const char *const navaid_legends[32] = {"Unspecified",
                                               "Reference point",
                                               "RACON",
                                               "Fixed offshore structure",
                                               "Spare, Reserved for future use.",
                                               "Light, without sectors",
                                               "Light, with sectors",
                                               "Leading Light Front",
                                               "Leading Light Rear",
                                               "Beacon, Cardinal N",
                                               "Beacon, Cardinal E",
                                               "Beacon, Cardinal S",
                                               "Beacon, Cardinal W",
                                               "Beacon, Port hand",
                                               "Beacon, Starboard hand",
                                               "Beacon, Preferred Channel port hand",
                                               "Beacon, Preferred Channel starboard hand",
                                               "Beacon, Isolated danger",
                                               "Beacon, Safe water",
                                               "Beacon, Special mark",
                                               "Cardinal Mark N",
                                               "Cardinal Mark E",
                                               "Cardinal Mark S",
                                               "Cardinal Mark W",
                                               "Port hand Mark",
                                               "Starboard hand Mark",
                                               "Preferred Channel Port hand",
                                               "Preferred Channel Starboard hand",
                                               "Isolated danger",
                                               "Safe Water",
                                               "Special Mark",
                                               "Light Vessel / LANBY / Rigs"};

/* printf("%.0f", (t / 4.733) * (t / 4.733)) for t = 0..126, as gpsd 3.22 prints turn. */
static const uint16_t turn_table[127] = {
    0,   0,   0,   0,   1,   1,   2,   2,   3,   4,   4,   5,   6,   8,   9,   10,  11,  13,  14,
    16,  18,  20,  22,  24,  26,  28,  30,  33,  35,  38,  40,  43,  46,  49,  52,  55,  58,  61,
    64,  68,  71,  75,  79,  83,  86,  90,  94,  99,  103, 107, 112, 116, 121, 125, 130, 135, 140,
    145, 150, 155, 161, 166, 172, 177, 183, 189, 194, 200, 206, 213, 219, 225, 231, 238, 244, 251,
    258, 265, 272, 279, 286, 293, 300, 308, 315, 323, 330, 338, 346, 354, 362, 370, 378, 386, 394,
    403, 411, 420, 429, 438, 446, 455, 464, 474, 483, 492, 502, 511, 521, 530, 540, 550, 560, 570,
    580, 590, 601, 611, 622, 632, 643, 654, 664, 675, 686, 698, 709};

/* A bounded writer: every append checks room; overflow sets w->err. */
struct w {
    char *p, *e;
    int err;
};

static void ws(struct w *w, const char *s)
{
    size_t n = strlen(s);
    if ((size_t)(w->e - w->p) <= n) {
        w->err = 1;
        return;
    }
    memcpy(w->p, s, n);
    w->p += n;
}

static void wu(struct w *w, uint32_t v)
{
    char t[12];
    int i = 11;
    t[i] = '\0';
    do {
        t[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    ws(w, t + i);
}

static void wkey(struct w *w, const char *key)
{
    ws(w, ",\"");
    ws(w, key);
    ws(w, "\":");
}

static void wku(struct w *w, const char *key, int32_t v)
{
    wkey(w, key);
    wu(w, (uint32_t)v);
}

static void wkb(struct w *w, const char *key, int32_t v)
{
    wkey(w, key);
    ws(w, v ? "true" : "false");
}

static void wks(struct w *w, const char *key, const char *s)
{
    char t[2 * (INGEST_AIS_BITS_MAX / 6 + 1) + 1], *q = t;
    wkey(w, key);
    ws(w, "\"");
    for (; *s && q < t + sizeof t - 3; s++) {
        if (*s == '"' || *s == '\\')
            *q++ = '\\';
        *q++ = *s;
    }
    *q = '\0';
    ws(w, t);
    ws(w, "\"");
}

/* v / 10.0 printed "%.1f" (exact for integers). */
static void wtenths(struct w *w, const char *key, int32_t v)
{
    wkey(w, key);
    if (v < 0) {
        ws(w, "-");
        v = -v;
    }
    wu(w, (uint32_t)v / 10);
    ws(w, ".");
    wu(w, (uint32_t)v % 10);
}

/* v / 600000.0 printed "%.6f": the exact value times 1e6 is v*5/3, whose fraction is 0, 1/3
 * or 2/3, so rounding the integer quotient is what printf does to the double. */
static void wdeg(struct w *w, const char *key, int32_t v)
{
    uint64_t a = (uint64_t)(v < 0 ? -(int64_t)v : v), q = (a * 5 + 1) / 3;
    char frac[8];
    int i;
    wkey(w, key);
    if (v < 0)
        ws(w, "-");
    wu(w, (uint32_t)(q / 1000000));
    frac[0] = '.';
    for (i = 6; i >= 1; i--) {
        frac[i] = (char)('0' + q % 10);
        q /= 10;
    }
    frac[7] = '\0';
    ws(w, frac);
}

static void w2(struct w *w, int32_t v, const char *sep)
{
    if (v < 10)
        ws(w, "0");
    wu(w, (uint32_t)v);
    ws(w, sep);
}

static const char *epfd_text(int32_t v)
{
    return (v >= 0 && v < 9) ? epfd_legends[v] : "INVALID EPFD";
}

static const char *ship_text(int32_t v)
{
    return (v >= 0 && v < 100) ? ship_type_legends[v] : "INVALID SHIP TYPE";
}

static void wdims(struct w *w, const ingest_ais_msg *m)
{
    wku(w, "to_bow", m->to_bow);
    wku(w, "to_stern", m->to_stern);
    wku(w, "to_port", m->to_port);
    wku(w, "to_starboard", m->to_starboard);
}

/* ---- types 6-26: written from the payload bits, in gpsd 3.22's field order ---- */

/* A field of m's payload; bits past the stored payload read as zero, as in gpsd's buffer
 * (some application messages count their elements beyond the payload). */
static uint32_t mu(const ingest_ais_msg *m, unsigned start, unsigned len)
{
    uint32_t v = 0;
    unsigned i;
    if ((start >> 3) + 5 <= sizeof m->bits)
        return ubits(m->bits, start, len);
    for (i = 0; i < len; i++) {
        unsigned bit = start + i;
        v <<= 1;
        if (bit < 8 * sizeof m->bits)
            v |= (uint32_t)(m->bits[bit >> 3] >> (7 - (bit & 7))) & 1u;
    }
    return v;
}

static int32_t ms(const ingest_ais_msg *m, unsigned start, unsigned len)
{
    uint32_t v = mu(m, start, len);
    if (v & (1u << (len - 1)))
        return (int32_t)(v | ~((1u << len) - 1));
    return (int32_t)v;
}

static void wkbits(struct w *w, const char *key, const ingest_ais_msg *m, unsigned start,
                   unsigned len)
{
    wku(w, key, (int32_t)mu(m, start, len));
}

/* a double printed with fmt, as gpsd's printf does; quoted when q */
static void wkf(struct w *w, const char *key, const char *fmt, double v, int q)
{
    char t[64];
    wkey(w, key);
    snprintf(t, sizeof t, fmt, v);
    if (q)
        ws(w, "\"");
    ws(w, t);
    if (q)
        ws(w, "\"");
}

/* count six-bit characters from start, cut at '@', trailing spaces removed */
static void wktext(struct w *w, const char *key, const ingest_ais_msg *m, unsigned start, int count)
{
    char t[INGEST_AIS_BITS_MAX / 6 + 2];
    int i;
    if (count < 0)
        count = 0;
    if (count > (int)sizeof t - 1)
        count = (int)sizeof t - 1;
    for (i = 0; i < count; i++) {
        char c = sixchr[mu(m, start + 6 * (unsigned)i, 6)];
        if (c == '@')
            break;
        t[i] = c;
    }
    t[i] = '\0';
    trim_right(t, i);
    wks(w, key, t);
}

/* "bitcount:hex" of bitcount bits from start. gpsd copies whole bytes from copy_start (the
 * data, or for an addressed type 25/26 the data with the 30-bit destination in front, which
 * it then shifts out): the last byte shows the payload bits that follow up to the end of
 * the copied bytes, and zeros after them; with exact (type 8: gpsd 3.22 masks its last
 * byte) only the data's own bits. */
static void wkdata(struct w *w, const char *key, const ingest_ais_msg *m, unsigned start,
                   size_t bitcount, unsigned copy_start, int exact)
{
    static const char hx[] = "0123456789abcdef";
    char t[2 * (INGEST_AIS_BITS_MAX / 8 + 2) + 1];
    size_t i, n = (bitcount + 7) / 8, k = 0;
    size_t limit =
        exact ? start + bitcount : copy_start + (start - copy_start + bitcount + 7) / 8 * 8;
    wkey(w, key);
    ws(w, "\"");
    wu(w, (uint32_t)bitcount);
    ws(w, ":");
    for (i = 0; i < n && k + 2 < sizeof t; i++) {
        size_t at = start + 8 * i;
        unsigned v = mu(m, (unsigned)at, 8);
        if (at + 8 > limit) /* only the last byte can reach past the copy */
            v &= (0xffu << (at + 8 - limit)) & 0xffu;
        t[k++] = hx[v >> 4];
        t[k++] = hx[v & 15];
    }
    t[k] = '\0';
    ws(w, t);
    ws(w, "\"");
}

static const char *const station_legends[16] = {"All types of mobiles",
                                                "Reserved for future use",
                                                "All types of Class B mobile stations",
                                                "SAR airborne mobile station",
                                                "Aid to Navigation station",
                                                "Class B shipborne mobile station",
                                                "Regional use and inland waterways",
                                                "Regional use and inland waterways",
                                                "Regional use and inland waterways",
                                                "Regional use and inland waterways",
                                                "Reserved for future use",
                                                "Reserved for future use",
                                                "Reserved for future use",
                                                "Reserved for future use",
                                                "Reserved for future use",
                                                "Reserved for future use"};

static void wapp(struct w *w, const ingest_ais_msg *m, int idx);

/* types 6-17, 20, 22, 23, 25, 26 (11 is written with 4) */
static void json_more(struct w *w, const ingest_ais_msg *m)
{
    unsigned bl = (unsigned)m->bitlen, u;
    switch (m->type) {
    case 6:
        wku(w, "seqno", m->seqno);
        wku(w, "dest_mmsi", m->dest_mmsi);
        wkb(w, "retransmit", m->retransmit);
        wku(w, "dac", m->dac);
        wku(w, "fid", m->fid);
        if (app_find(m) >= 0)
            wapp(w, m, app_find(m));
        else
            wkdata(w, "data", m, 88, bl - 88, 88, 0);
        break;
    case 7:
    case 13:
        for (u = 0; u < 4; u++) {
            char key[6] = "mmsi1";
            key[4] = (char)('1' + u);
            wku(w, key, 40 + 32 * u < bl ? (int32_t)mu(m, 40 + 32 * u, 30) : 0);
        }
        break;
    case 8:
        wku(w, "dac", m->dac);
        wku(w, "fid", m->fid);
        if (app_find(m) >= 0)
            wapp(w, m, app_find(m));
        else
            wkdata(w, "data", m, 56, bl - 56, 56, 1);
        break;
    case 9:
        wkey(w, "alt");
        if (m->alt == 4095)
            ws(w, "\"nan\"");
        else if (m->alt == 4094)
            ws(w, "\"high\"");
        else
            wu(w, (uint32_t)m->alt);
        wkey(w, "speed");
        if (m->speed == 1023)
            ws(w, "\"nan\"");
        else if (m->speed == 1022)
            ws(w, "\"fast\"");
        else
            wu(w, (uint32_t)m->speed);
        wkb(w, "accuracy", m->accuracy);
        wdeg(w, "lon", m->lon);
        wdeg(w, "lat", m->lat);
        wtenths(w, "course", m->course);
        wku(w, "second", m->second);
        wku(w, "regional", m->regional);
        wku(w, "dte", m->dte);
        wkb(w, "raim", m->raim);
        wku(w, "radio", m->radio);
        break;
    case 10:
        wku(w, "dest_mmsi", m->dest_mmsi);
        break;
    case 12:
        wku(w, "seqno", m->seqno);
        wku(w, "dest_mmsi", m->dest_mmsi);
        wkb(w, "retransmit", m->retransmit);
        wktext(w, "text", m, 72, (int)(bl - 72) / 6);
        break;
    case 14:
        wktext(w, "text", m, 40, (int)(bl - 40) / 6);
        break;
    case 15:
        wkbits(w, "mmsi1", m, 40, 30);
        wkbits(w, "type1_1", m, 70, 6);
        wkbits(w, "offset1_1", m, 76, 12);
        wku(w, "type1_2", bl > 90 ? (int32_t)mu(m, 90, 6) : 0);
        wku(w, "offset1_2", bl > 90 ? (int32_t)mu(m, 96, 12) : 0);
        wku(w, "mmsi2", bl > 110 ? (int32_t)mu(m, 110, 30) : 0);
        wku(w, "type2_1", bl > 110 ? (int32_t)mu(m, 140, 6) : 0);
        wku(w, "offset2_1", bl > 110 ? (int32_t)mu(m, 146, 12) : 0);
        break;
    case 16:
        wkbits(w, "mmsi1", m, 40, 30);
        wkbits(w, "offset1", m, 70, 12);
        wkbits(w, "increment1", m, 82, 10);
        wku(w, "mmsi2", bl >= 144 ? (int32_t)mu(m, 92, 30) : 0);
        wku(w, "offset2", bl >= 144 ? (int32_t)mu(m, 122, 12) : 0);
        wku(w, "increment2", bl >= 144 ? (int32_t)mu(m, 134, 10) : 0);
        break;
    case 17:
        wkf(w, "lon", "%.1f", ms(m, 40, 18) / 600.0, 0);
        wkf(w, "lat", "%.1f", ms(m, 58, 17) / 600.0, 0);
        wkdata(w, "data", m, 80, bl - 80, 80, 0);
        break;
    case 20:
        for (u = 0; u < 4; u++) {
            char key[12];
            unsigned base = 40 + 30 * u;
            snprintf(key, sizeof key, "offset%u", u + 1);
            wkbits(w, key, m, base, 12);
            snprintf(key, sizeof key, "number%u", u + 1);
            wkbits(w, key, m, base + 12, 4);
            snprintf(key, sizeof key, "timeout%u", u + 1);
            wkbits(w, key, m, base + 16, 3);
            snprintf(key, sizeof key, "increment%u", u + 1);
            wkbits(w, key, m, base + 19, 11);
        }
        break;
    case 22: {
        int addressed = (int)mu(m, 139, 1);
        wkbits(w, "channel_a", m, 40, 12);
        wkbits(w, "channel_b", m, 52, 12);
        wkbits(w, "txrx", m, 64, 4);
        wkb(w, "power", (int32_t)mu(m, 68, 1));
        if (addressed) {
            wkbits(w, "dest1", m, 69, 30);
            wkbits(w, "dest2", m, 104, 30);
        } else {
            wkf(w, "ne_lon", "%f", ms(m, 69, 18) / 600.0, 1);
            wkf(w, "ne_lat", "%f", ms(m, 87, 17) / 600.0, 1);
            wkf(w, "sw_lon", "%f", ms(m, 104, 18) / 600.0, 1);
            wkf(w, "sw_lat", "%f", ms(m, 122, 17) / 600.0, 1);
        }
        wkb(w, "addressed", addressed);
        wkb(w, "band_a", (int32_t)mu(m, 140, 1));
        wkb(w, "band_b", (int32_t)mu(m, 141, 1));
        wkbits(w, "zonesize", m, 142, 3);
        break;
    }
    case 23:
        wkf(w, "ne_lon", "%f", ms(m, 40, 18) / 600.0, 1);
        wkf(w, "ne_lat", "%f", ms(m, 58, 17) / 600.0, 1);
        wkf(w, "sw_lon", "%f", ms(m, 75, 18) / 600.0, 1);
        wkf(w, "sw_lat", "%f", ms(m, 93, 17) / 600.0, 1);
        wkbits(w, "stationtype", m, 110, 4);
        wks(w, "stationtype_text", station_legends[mu(m, 110, 4)]);
        wkbits(w, "shiptype", m, 114, 8);
        wks(w, "shiptype_text", ship_text((int32_t)mu(m, 114, 8)));
        wkbits(w, "interval", m, 146, 4);
        wkbits(w, "quiet", m, 150, 4);
        break;
    case 25:
    case 26: {
        unsigned start = 40 + 30 * (unsigned)m->addressed + 16 * (unsigned)m->structured;
        unsigned tail = m->type == 26 ? 20 : 0;
        wkb(w, "addressed", m->addressed);
        wkb(w, "structured", m->structured);
        wku(w, "dest_mmsi", m->dest_mmsi);
        wku(w, "app_id", m->app_id);
        wkdata(w, "data", m, start, bl - start - tail, start - 30 * (unsigned)m->addressed, 0);
        if (m->type == 26)
            wku(w, "radio", 0); /* gpsd 3.22 never decodes it */
        break;
    }
    default:
        break;
    }
}

int ingest_ais_json(const ingest_ais_msg *m, const char *device, char *buf, size_t cap)
{
    struct w w = {buf, buf + cap, 0};

    if (m->type == 24 && m->part != INGEST_AIS_PART_AB) {
        if (cap)
            buf[0] = '\0';
        return 0;
    }
    ws(&w, "{\"class\":\"AIS\"");
    if (device && device[0]) {
        ws(&w, ",\"device\":\"");
        ws(&w, device);
        ws(&w, "\"");
    }
    wku(&w, "type", m->type);
    wku(&w, "repeat", m->repeat);
    wku(&w, "mmsi", m->mmsi);
    ws(&w, ",\"scaled\":true");
    switch (m->type) {
    case 1:
    case 2:
    case 3:
        wku(&w, "status", m->status);
        wks(&w, "status_text", nav_legends[m->status & 15]);
        wkey(&w, "turn");
        if (m->turn == -128)
            ws(&w, "\"nan\"");
        else if (m->turn == -127)
            ws(&w, "\"fastleft\"");
        else if (m->turn == 127)
            ws(&w, "\"fastright\"");
        else
            wu(&w, turn_table[m->turn < 0 ? -m->turn : m->turn]);
        if (m->speed == 1023) {
            wkey(&w, "speed");
            ws(&w, "\"nan\"");
        } else if (m->speed == 1022) {
            wkey(&w, "speed");
            ws(&w, "\"fast\"");
        } else {
            wtenths(&w, "speed", m->speed);
        }
        wkb(&w, "accuracy", m->accuracy);
        wdeg(&w, "lon", m->lon);
        wdeg(&w, "lat", m->lat);
        wtenths(&w, "course", m->course);
        wku(&w, "heading", m->heading);
        wku(&w, "second", m->second);
        wku(&w, "maneuver", m->maneuver);
        wkb(&w, "raim", m->raim);
        wku(&w, "radio", m->radio);
        break;
    case 4:
    case 11:
        wkey(&w, "timestamp");
        ws(&w, "\"");
        if (m->year < 1000)
            ws(&w, m->year < 10 ? "000" : m->year < 100 ? "00" : "0");
        wu(&w, (uint32_t)m->year);
        ws(&w, "-");
        w2(&w, m->month, "-");
        w2(&w, m->day, "T");
        w2(&w, m->hour, ":");
        w2(&w, m->minute, ":");
        w2(&w, m->second, "Z\"");
        wkb(&w, "accuracy", m->accuracy);
        wdeg(&w, "lon", m->lon);
        wdeg(&w, "lat", m->lat);
        wku(&w, "epfd", m->epfd);
        wks(&w, "epfd_text", epfd_text(m->epfd));
        wkb(&w, "raim", m->raim);
        wku(&w, "radio", m->radio);
        break;
    case 5:
        wku(&w, "imo", m->imo);
        wku(&w, "ais_version", m->ais_version);
        wks(&w, "callsign", m->callsign);
        wks(&w, "shipname", m->shipname);
        wku(&w, "shiptype", m->shiptype);
        wks(&w, "shiptype_text", ship_text(m->shiptype));
        wdims(&w, m);
        wku(&w, "epfd", m->epfd);
        wks(&w, "epfd_text", epfd_text(m->epfd));
        wkey(&w, "eta");
        ws(&w, "\"");
        w2(&w, m->month, "-");
        w2(&w, m->day, "T");
        w2(&w, m->hour, ":");
        w2(&w, m->minute, "Z\"");
        wtenths(&w, "draught", m->draught);
        wks(&w, "destination", m->destination);
        wku(&w, "dte", m->dte);
        break;
    case 18:
    case 19:
        wku(&w, "reserved", m->reserved);
        wtenths(&w, "speed", m->speed);
        wkb(&w, "accuracy", m->accuracy);
        wdeg(&w, "lon", m->lon);
        wdeg(&w, "lat", m->lat);
        wtenths(&w, "course", m->course);
        wku(&w, "heading", m->heading);
        wku(&w, "second", m->second);
        wku(&w, "regional", m->regional);
        if (m->type == 18) {
            wkb(&w, "cs", m->cs);
            wkb(&w, "display", m->display);
            wkb(&w, "dsc", m->dsc);
            wkb(&w, "band", m->band);
            wkb(&w, "msg22", m->msg22);
            wkb(&w, "raim", m->raim);
            wku(&w, "radio", m->radio);
        } else {
            wks(&w, "shipname", m->shipname);
            wku(&w, "shiptype", m->shiptype);
            wks(&w, "shiptype_text", ship_text(m->shiptype));
            wdims(&w, m);
            wku(&w, "epfd", m->epfd);
            wks(&w, "epfd_text", epfd_text(m->epfd));
            wkb(&w, "raim", m->raim);
            wku(&w, "dte", m->dte);
            wkb(&w, "assigned", m->assigned);
        }
        break;
    case 21:
        wku(&w, "aid_type", m->aid_type);
        wks(&w, "aid_type_text", navaid_legends[m->aid_type & 31]);
        wks(&w, "name", m->name);
        wdeg(&w, "lon", m->lon);
        wdeg(&w, "lat", m->lat);
        wkb(&w, "accuracy", m->accuracy);
        wdims(&w, m);
        wku(&w, "epfd", m->epfd);
        wks(&w, "epfd_text", epfd_text(m->epfd));
        wku(&w, "second", m->second);
        wku(&w, "regional", m->regional);
        wkb(&w, "off_position", m->off_position);
        wkb(&w, "raim", m->raim);
        wkb(&w, "virtual_aid", m->virtual_aid);
        break;
    case 24:
        wks(&w, "shipname", m->shipname);
        wku(&w, "shiptype", m->shiptype);
        wks(&w, "shiptype_text", ship_text(m->shiptype));
        wks(&w, "vendorid", m->vendorid);
        wku(&w, "model", m->model);
        wku(&w, "serial", m->serial);
        wks(&w, "callsign", m->callsign);
        if (m->mmsi / 10000000 == 98)
            wku(&w, "mothership_mmsi", m->mothership_mmsi);
        else
            wdims(&w, m);
        break;
    case 27: {
        char t[64];
        wks(&w, "status", nav_legends[m->status & 15]);
        wkb(&w, "accuracy", m->accuracy);
        snprintf(t, sizeof t, ",\"lon\":%.1f,\"lat\":%.1f", m->lon / 600.0, m->lat / 600.0);
        ws(&w, t);
        wku(&w, "speed", m->speed);
        wku(&w, "course", m->course);
        wkb(&w, "raim", m->raim);
        wkb(&w, "gnss", m->gnss);
        break;
    }
    default:
        json_more(&w, m);
        break;
    }
    ws(&w, "}\r\n");
    if (w.err) {
        if (cap)
            buf[0] = '\0';
        return CORE_ETOOBIG;
    }
    *w.p = '\0';
    return (int)(w.p - buf);
}

/* ---- application messages of types 6 and 8 (apps[]) ----
 * Field positions, text lengths, scaling and output order are gpsd 3.22's, quirks
 * included (a date printed with its fields in the wrong order, a divisor too small for the
 * field's resolution, an unsigned subtraction that wraps): each was checked against
 * gpsdecode 3.22 on random payloads. */

#define APP(t, d, f) ((t)*100000 + (d)*100 + (f))

static const char *const trend_legends[4] = {"steady", "increasing", "decreasing", "N/A"};
static const char *const precip_legends[8] = {"reserved",  "rain", "thunderstorm", "freezing rain",
                                              "mixed/ice", "snow", "reserved",     "N/A"};
static const char *const ice_legends[4] = {"no", "yes", "reserved", "N/A"};
static const char *const racon_legends[4] = {"No RACON installed", "RACON not monitored",
                                             "RACON operational", "RACON ERROR"};
static const char *const light_legends[4] = {"No light or no monitoring", "Light ON", "Light OFF",
                                             "Light ERROR"};
static const char *const rta_legends[4] = {"Operational", "Limited operation", "Out of order",
                                           "N/A"};
static const char *const position_legends[8] = {
    "Not available", "Port-side to", "Starboard-side to",       "Mediterranean (end-on) mooring",
    "Mooring buoy",  "Anchorage",    "Reserved for future use", "Reserved for future use"};
#define RF "Reserved for future use."
static const char *const route_legends[32] = {"Undefined (default)",
                                              "Mandatory",
                                              "Recommended",
                                              "Alternative",
                                              "Recommended route through ice",
                                              "Ship route plan",
                                              RF,
                                              RF,
                                              RF,
                                              RF,
                                              RF,
                                              RF,
                                              RF,
                                              RF,
                                              RF,
                                              RF,
                                              RF,
                                              RF,
                                              RF,
                                              RF,
                                              RF,
                                              RF,
                                              RF,
                                              RF,
                                              RF,
                                              RF,
                                              RF,
                                              RF,
                                              RF,
                                              RF,
                                              RF,
                                              "Cancel route identified by message linkage"};
#undef RF
static const char *const idtype_names[4] = {"mmsi", "imo", "callsign", "other"};
static const char *const hazard_legends[6] = {
    "0 blue cones/lights", "1 blue cone/light", "2 blue cones/lights",
    "3 blue cones/lights", "4 B-Flag",          "Unknown"};
static const char *const loaded_legends[3] = {"N/A (default)", "Unloaded", "Loaded"};
static const char *const emma_legends[10] = {"Not Available",
                                             "Wind",
                                             "Rain",
                                             "Snow and ice",
                                             "Thunderstorm",
                                             "Fog",
                                             "Low temperature",
                                             "High temperature",
                                             "Flood",
                                             "Forest Fire"};
static const char *const emma_class_legends[3] = {"Slight", "Medium", "Strong"};
static const char *const emma_wind_legends[9] = {"N/A",        "North",      "North East",
                                                 "East",       "South East", "South",
                                                 "South West", "West",       "North West"};
static const char *const direction_legends[5] = {"Unknown", "Upstream", "Downstream",
                                                 "To left bank", "To right bank"};
static const char *const light_status_legends[8] = {
    "Unknown", "No light", "White", "Yellow", "Green", "Red", "White flashing", "Yellow flashing."};

/* Inland ship types (DAC 200 FID 10): gpsd matches the ERI code or the AIS type it maps
 * to, first match wins, and names anything else illegal. */
static const struct {
    uint16_t code;
    uint8_t ais;
    const char *legend;
} inland_types[] = {
    {8000, 99, "Vessel, type unknown"},
    {8010, 79, "Motor freighter"},
    {8020, 89, "Motor tanker"},
    {8021, 80, "Motor tanker, liquid cargo, type N"},
    {8022, 80, "Motor tanker, liquid cargo, type C"},
    {8023, 89, "Motor tanker, dry cargo as if liquid (e.g. cement)"},
    {8030, 79, "Container vessel"},
    {8040, 80, "Gas tanker"},
    {8050, 79, "Motor freighter, tug"},
    {8060, 89, "Motor tanker, tug"},
    {8070, 79, "Motor freighter with one or more ships alongside"},
    {8080, 89, "Motor freighter with tanker"},
    {8090, 79, "Motor freighter pushing one or more freighters"},
    {8100, 89, "Motor freighter pushing at least one tank-ship"},
    {8110, 79, "Tug, freighter"},
    {8120, 89, "Tug, tanker"},
    {8130, 31, "Tug freighter, coupled"},
    {8140, 31, "Tug, freighter/tanker, coupled"},
    {8150, 99, "Freightbarge"},
    {8160, 99, "Tankbarge"},
    {8161, 90, "Tankbarge, liquid cargo, type N"},
    {8162, 90, "Tankbarge, liquid cargo, type C"},
    {8163, 99, "Tankbarge, dry cargo as if liquid (e.g. cement)"},
    {8170, 99, "Freightbarge with containers"},
    {8180, 90, "Tankbarge, gas"},
    {8210, 79, "Pushtow, one cargo barge"},
    {8220, 79, "Pushtow, two cargo barges"},
    {8230, 79, "Pushtow, three cargo barges"},
    {8240, 79, "Pushtow, four cargo barges"},
    {8250, 79, "Pushtow, five cargo barges"},
    {8260, 79, "Pushtow, six cargo barges"},
    {8270, 79, "Pushtow, seven cargo barges"},
    {8280, 79, "Pushtow, eight cargo barges"},
    {8290, 79, "Pushtow, nine or more barges"},
    {8310, 80, "Pushtow, one tank/gas barge"},
    {8320, 80, "Pushtow, two barges at least one tanker or gas barge"},
    {8330, 80, "Pushtow, three barges at least one tanker or gas barge"},
    {8340, 80, "Pushtow, four barges at least one tanker or gas barge"},
    {8350, 80, "Pushtow, five barges at least one tanker or gas barge"},
    {8360, 80, "Pushtow, six barges at least one tanker or gas barge"},
    {8370, 80, "Pushtow, seven barges at least one tanker or gas barg"},
};

static const char *legend(const char *const *t, unsigned n, uint32_t v, const char *invalid)
{
    return v < n ? t[v] : invalid;
}
#define LEGEND(t, v, inv) legend(t, (unsigned)(sizeof t / sizeof t[0]), (v), (inv))

static void wkbool(struct w *w, const char *key, const ingest_ais_msg *m, unsigned start)
{
    wkb(w, key, (int32_t)mu(m, start, 1));
}

/* a value with its legend: "key":v,"key_text":"legend" */
static void wklegend(struct w *w, const char *key, uint32_t v, const char *text)
{
    char k[32];
    wku(w, key, (int32_t)v);
    snprintf(k, sizeof k, "%s_text", key);
    wks(w, k, text);
}

/* a date-like string built from four (or three) fields with fmt */
static void wkdate(struct w *w, const char *key, const char *fmt, uint32_t a, uint32_t b,
                   uint32_t c, uint32_t d)
{
    char t[64];
    snprintf(t, sizeof t, fmt, a, b, c, d);
    wks(w, key, t);
}

/* "MM-DDTHH:MMZ" from month, day, hour, minute fields at the given positions */
static void wketa(struct w *w, const char *key, const ingest_ais_msg *m, unsigned mo, unsigned da,
                  unsigned ho, unsigned mi)
{
    wkdate(w, key, "%02u-%02uT%02u:%02uZ", mu(m, mo, 4), mu(m, da, 5), mu(m, ho, 5), mu(m, mi, 6));
}

/* a signed position field divided as gpsd does, printed with fmt */
static void wkpos(struct w *w, const char *key, const ingest_ais_msg *m, unsigned start,
                  unsigned len, double div, const char *fmt)
{
    wkf(w, key, fmt, ms(m, start, len) / div, 0);
}

/* unsigned field / div, "%.1f" */
static void wktenth(struct w *w, const char *key, const ingest_ais_msg *m, unsigned start,
                    unsigned len)
{
    wkf(w, key, "%.1f", mu(m, start, len) / 10.0, 0);
}

/* the low 32 bits of a 42-bit field (gpsd keeps it in an unsigned int) */
static uint32_t mu42(const ingest_ais_msg *m, unsigned start)
{
    return (mu(m, start + 10, 16) << 16) | mu(m, start + 26, 16);
}

static void wtidals(struct w *w, const ingest_ais_msg *m, int imo289)
{
    unsigned bl = (unsigned)m->bitlen, a, size = imo289 ? 88 : 93;
    int first = 1;
    wkbits(w, "month", m, 88, 4);
    wkbits(w, "day", m, 92, 5);
    ws(w, ",\"tidals\":[");
    for (a = 97; a <= bl; a += size) {
        int32_t lon, lat;
        unsigned o = imo289 ? 49 : 55; /* offset of from_hour */
        if (imo289) {
            lon = ms(m, a, 25);
            lat = ms(m, a + 25, 24);
        } else {
            lat = ms(m, a, 27);
            lon = ms(m, a + 27, 28);
        }
        {
            char t[80];
            snprintf(t, sizeof t, "%s{\"lon\":%.4f,\"lat\":%.4f", first ? "" : ",", lon / 60000.0,
                     lat / 60000.0);
            ws(w, t);
        }
        first = 0;
        wkbits(w, "from_hour", m, a + o, 5);
        wkbits(w, "from_min", m, a + o + 5, 6);
        wkbits(w, "to_hour", m, a + o + 11, 5);
        wkbits(w, "to_min", m, a + o + 16, 6);
        wkbits(w, "cdir", m, a + o + 22, 9);
        wkf(w, "cspeed", "%.1f", mu(m, a + o + 31, imo289 ? 8 : 7) / 10.0, 0);
        ws(w, "}");
    }
    ws(w, "]");
}

static void wroute(struct w *w, const ingest_ais_msg *m, unsigned base)
{
    uint32_t n = mu(m, base + 56, 5), i;
    wkbits(w, "linkage", m, base, 10);
    wkbits(w, "sender", m, base + 10, 3);
    wklegend(w, "rtype", mu(m, base + 13, 5), route_legends[mu(m, base + 13, 5)]);
    wketa(w, "start", m, base + 18, base + 22, base + 27, base + 32);
    wkbits(w, "duration", m, base + 38, 18);
    ws(w, ",\"waypoints\":[");
    for (i = 0; i < n; i++) {
        char t[80];
        unsigned a = base + 61 + 55 * i;
        snprintf(t, sizeof t, "%s{\"lon\":%.6f,\"lat\":%.6f}", i ? "," : "",
                 ms(m, a, 28) / 600000.0, ms(m, a + 28, 27) / 600000.0);
        ws(w, t);
    }
    ws(w, "]");
}

/* met/hydro data, IMO236 (FID 11) and IMO289 (FID 31): almost the same layout */
static void wmeteo11(struct w *w, const ingest_ais_msg *m)
{
    wkpos(w, "lat", m, 56, 24, 60000.0, "%.4f");
    wkpos(w, "lon", m, 80, 25, 60000.0, "%.4f");
    wkdate(w, "timestamp", "%02uT%02u:%02uZ", mu(m, 105, 5), mu(m, 110, 5), mu(m, 115, 6), 0);
    wkbits(w, "wspeed", m, 121, 7);
    wkbits(w, "wgust", m, 128, 7);
    wkbits(w, "wdir", m, 135, 9);
    wkbits(w, "wgustdir", m, 144, 9);
    wkbits(w, "humidity", m, 164, 7);
    wkf(w, "airtemp", "%.1f", ((int32_t)mu(m, 153, 11) - 600) / 10.0, 0);
    wkf(w, "dewpoint", "%.1f", ((int32_t)mu(m, 171, 10) - 200) / 10.0, 0);
    wku(w, "pressure", (int32_t)mu(m, 181, 9) + 800);
    wks(w, "pressuretend", trend_legends[mu(m, 190, 2)]);
    wktenth(w, "visibility", m, 192, 8);
    wkf(w, "waterlevel", "%.1f", ((int32_t)mu(m, 200, 9) - 100) / 10.0, 0);
    wks(w, "leveltrend", trend_legends[mu(m, 209, 2)]);
    wktenth(w, "cspeed", m, 211, 8);
    wkbits(w, "cdir", m, 219, 9);
    wktenth(w, "cspeed2", m, 228, 8);
    wkbits(w, "cdir2", m, 236, 9);
    wkbits(w, "cdepth2", m, 245, 5);
    wktenth(w, "cspeed3", m, 250, 8);
    wkbits(w, "cdir3", m, 258, 9);
    wkbits(w, "cdepth3", m, 267, 5);
    wktenth(w, "waveheight", m, 272, 8);
    wkbits(w, "waveperiod", m, 280, 6);
    wkbits(w, "wavedir", m, 286, 9);
    wktenth(w, "swellheight", m, 295, 8);
    wkbits(w, "swellperiod", m, 303, 6);
    wkbits(w, "swelldir", m, 309, 9);
    wkbits(w, "seastate", m, 318, 4);
    wkf(w, "watertemp", "%.1f", ((int32_t)mu(m, 322, 10) - 100) / 10.0, 0);
    wklegend(w, "preciptype", mu(m, 332, 3), precip_legends[mu(m, 332, 3)]);
    wktenth(w, "salinity", m, 335, 9);
    wklegend(w, "ice", mu(m, 344, 2), ice_legends[mu(m, 344, 2)]);
}

static void wmeteo31(struct w *w, const ingest_ais_msg *m)
{
    wkpos(w, "lat", m, 81, 24, 60000.0, "%.4f");
    wkpos(w, "lon", m, 56, 25, 60000.0, "%.4f");
    wkbool(w, "accuracy", m, 105);
    wkdate(w, "timestamp", "%02uT%02u:%02uZ", mu(m, 106, 5), mu(m, 111, 5), mu(m, 116, 6), 0);
    wkbits(w, "wspeed", m, 122, 7);
    wkbits(w, "wgust", m, 129, 7);
    wkbits(w, "wdir", m, 136, 9);
    wkbits(w, "wgustdir", m, 145, 9);
    wkbits(w, "humidity", m, 165, 7);
    wkf(w, "airtemp", "%.1f", ms(m, 154, 11) / 10.0, 0);
    wkf(w, "dewpoint", "%.1f", ms(m, 172, 10) / 10.0, 0);
    wku(w, "pressure", (int32_t)mu(m, 182, 9) + 799);
    wks(w, "pressuretend", trend_legends[mu(m, 191, 2)]);
    wkbool(w, "visgreater", m, 193);
    wktenth(w, "visibility", m, 194, 7);
    /* gpsd subtracts the offset from an unsigned field: below it, the result wraps */
    wkf(w, "waterlevel", "%.1f", (double)(uint32_t)(mu(m, 201, 12) - 1000u) / 100.0, 0);
    wks(w, "leveltrend", trend_legends[mu(m, 213, 2)]);
    wktenth(w, "cspeed", m, 215, 8);
    wkbits(w, "cdir", m, 223, 9);
    wktenth(w, "cspeed2", m, 232, 8);
    wkbits(w, "cdir2", m, 240, 9);
    wkbits(w, "cdepth2", m, 249, 5);
    wktenth(w, "cspeed3", m, 254, 8);
    wkbits(w, "cdir3", m, 262, 9);
    wkbits(w, "cdepth3", m, 271, 5);
    wktenth(w, "waveheight", m, 276, 8);
    wkbits(w, "waveperiod", m, 284, 6);
    wkbits(w, "wavedir", m, 290, 9);
    wktenth(w, "swellheight", m, 299, 8);
    wkbits(w, "swellperiod", m, 307, 6);
    wkbits(w, "swelldir", m, 313, 9);
    wkbits(w, "seastate", m, 322, 4);
    wkf(w, "watertemp", "%.1f", ms(m, 326, 10) / 10.0, 0);
    wks(w, "preciptype", precip_legends[mu(m, 336, 3)]);
    wktenth(w, "salinity", m, 339, 9);
    wks(w, "ice", ice_legends[mu(m, 348, 2)]);
}

static void wtargets(struct w *w, const ingest_ais_msg *m)
{
    unsigned bl = (unsigned)m->bitlen, a;
    ws(w, ",\"targets\":[");
    for (a = 56; a <= bl; a += 122) {
        uint32_t idt = mu(m, a, 2);
        char t[96];
        ws(w, a > 56 ? ",{" : "{");
        snprintf(t, sizeof t, "\"idtype\":%u", idt);
        ws(w, t);
        wks(w, "idtype_text", idtype_names[idt]);
        if (idt < 2) {
            snprintf(t, sizeof t, "%u", mu42(m, a + 2));
            wks(w, idtype_names[idt], t);
        } else {
            wktext(w, idtype_names[idt], m, a + 2, 7);
        }
        wkpos(w, "lat", m, a + 48, 24, 60000.0, "%.4f");
        wkpos(w, "lon", m, a + 72, 25, 60000.0, "%.4f");
        wkbits(w, "course", m, a + 97, 9);
        wkbits(w, "second", m, a + 106, 6);
        wkbits(w, "speed", m, a + 112, 10);
        ws(w, "}");
    }
    ws(w, "]");
}

/* 0.05 V steps, printed scaled unless 0 */
static void wkvolt(struct w *w, const char *key, uint32_t v)
{
    if (v)
        wkf(w, key, "%.2f", v * 0.05, 0);
    else
        wku(w, key, 0);
}

static void winland_place(struct w *w, const ingest_ais_msg *m)
{
    wktext(w, "country", m, 88, 2);
    wktext(w, "locode", m, 100, 3);
    wktext(w, "section", m, 118, 5);
    wktext(w, "terminal", m, 148, 5);
    wktext(w, "hectometre", m, 178, 5);
    wkdate(w, "eta", "%u-%uT%u:%u", mu(m, 208, 4), mu(m, 212, 5), mu(m, 217, 5), mu(m, 222, 6));
}

/* Every application message in apps[] is written, but type 8 DAC 1 FID 19: gpsd 3.22's
 * output for it is not JSON (a comma missing), so it stays unsupported. */
static int app_written(int idx)
{
    return !(apps[idx].type == 8 && apps[idx].dac == 1 && apps[idx].fid == 19);
}

/* The fields of application message apps[idx] (m is type 6 or 8), after dac and fid. */
static void wapp(struct w *w, const ingest_ais_msg *m, int idx)
{
    unsigned bl = (unsigned)m->bitlen, u;
    switch (APP(apps[idx].type, apps[idx].dac, apps[idx].fid)) {
    case APP(6, 1, 12): /* IMO236 dangerous cargo */
        wktext(w, "lastport", m, 88, 5);
        wketa(w, "departure", m, 118, 122, 127, 132);
        wktext(w, "nextport", m, 138, 5);
        wketa(w, "eta", m, 168, 172, 177, 182);
        wktext(w, "dangerous", m, 188, 20);
        wktext(w, "imdcat", m, 308, 4);
        wkbits(w, "unid", m, 332, 13);
        wkbits(w, "amount", m, 345, 10);
        wkbits(w, "unit", m, 355, 2);
        break;
    case APP(6, 1, 14): /* IMO236 tidal window */
        wtidals(w, m, 0);
        break;
    case APP(6, 1, 32): /* IMO289 tidal window */
        wtidals(w, m, 1);
        break;
    case APP(6, 1, 15): /* IMO236 extended static: gpsd reads bit 56, inside the header */
    case APP(8, 1, 15):
        wkbits(w, "airdraught", m, 56, 11);
        break;
    case APP(6, 1, 16): /* persons on board: IMO289 layout at 136 data bits, else IMO236 */
        wkbits(w, "persons", m, bl - 88 == 136 ? 88 : 55, 13);
        break;
    case APP(6, 1, 18): /* IMO289 clearance time to enter port */
        wkbits(w, "linkage", m, 88, 10);
        wketa(w, "arrival", m, 98, 102, 107, 112);
        wktext(w, "portname", m, 118, 20);
        wktext(w, "destination", m, 238, 5);
        wkpos(w, "lon", m, 268, 25, 60000.0, "%.4f");
        wkpos(w, "lat", m, 293, 24, 60000.0, "%.4f");
        break;
    case APP(6, 1, 20): { /* IMO289 berthing data */
        static const char *const svc[] = {
            "agent",       "fuel",           "chandler", "stevedore",  "electrical", "water",
            "customs",     "cartage",        "crane",    "lift",       "medical",    "navrepair",
            "provisions",  "shiprepair",     "surveyor", "steam",      "tugs",       "solidwaste",
            "liquidwaste", "hazardouswaste", "ballast",  "additional", "regional1",  "regional2",
            "future1",     "future2"};
        wkbits(w, "linkage", m, 88, 10);
        wkbits(w, "berth_length", m, 98, 9);
        wklegend(w, "position", mu(m, 115, 3), position_legends[mu(m, 115, 3)]);
        wkdate(w, "arrival", "%u-%uT%u:%u", mu(m, 118, 4), mu(m, 122, 5), mu(m, 127, 5),
               mu(m, 132, 6));
        wkbits(w, "availability", m, 138, 1);
        for (u = 0; u < sizeof svc / sizeof svc[0]; u++)
            wkbits(w, svc[u], m, 139 + 2 * u, 2);
        wktext(w, "berth_name", m, 191, 20);
        wkpos(w, "berth_lon", m, 311, 25, 60000.0, "%.4f");
        wkpos(w, "berth_lat", m, 336, 24, 60000.0, "%.4f");
        wkf(w, "berth_depth", "%.1f", mu(m, 107, 8) * 0.1, 0);
        break;
    }
    case APP(6, 1, 25): /* IMO289 dangerous cargo */
        wkbits(w, "unit", m, 88, 2);
        wkbits(w, "amount", m, 90, 10);
        ws(w, ",\"cargos\":[");
        for (u = 0; 100 + 17 * u < bl; u++) {
            char t[48];
            snprintf(t, sizeof t, "%s{\"code\":%u,\"subtype\":%u}", u ? "," : "",
                     mu(m, 100 + 17 * u, 4), mu(m, 104 + 17 * u, 13));
            ws(w, t);
        }
        ws(w, "]");
        break;
    case APP(6, 1, 28): /* IMO289 route information, addressed */
        wroute(w, m, 88);
        break;
    case APP(8, 1, 27): /* IMO289 route information, broadcast */
        wroute(w, m, 56);
        break;
    case APP(6, 1, 30): /* IMO289 text, addressed */
        wkbits(w, "linkage", m, 88, 10);
        wktext(w, "text", m, 98, (int)(bl - 98) / 6);
        break;
    case APP(8, 1, 29): /* IMO289 text, broadcast */
        wkbits(w, "linkage", m, 56, 10);
        wktext(w, "text", m, 66, (int)(bl - 66) / 6);
        break;
    case APP(6, 200, 21): /* inland ETA at lock/bridge/terminal */
        winland_place(w, m);
        wkbits(w, "tugs", m, 228, 3);
        wkbits(w, "airdraught", m, 231, 12);
        break;
    case APP(6, 200, 22): /* inland RTA at lock/bridge/terminal */
        winland_place(w, m);
        wklegend(w, "status", mu(m, 228, 2), rta_legends[mu(m, 228, 2)]);
        break;
    case APP(6, 200, 55): /* inland persons on board */
        wkbits(w, "crew", m, 88, 8);
        wkbits(w, "passengers", m, 96, 13);
        wkbits(w, "personnel", m, 109, 8);
        break;
    case APP(6, 235, 10): /* GLA AtoN monitoring */
    case APP(6, 250, 10):
        wkbool(w, "off_pos", m, 131);
        wkbool(w, "alarm", m, 122);
        wkbits(w, "stat_ext", m, 123, 8);
        wkvolt(w, "ana_int", mu(m, 88, 10));
        wkvolt(w, "ana_ext1", mu(m, 98, 10));
        wkvolt(w, "ana_ext2", mu(m, 108, 10));
        wklegend(w, "racon", mu(m, 118, 2), racon_legends[mu(m, 118, 2)]);
        wklegend(w, "light", mu(m, 120, 2), light_legends[mu(m, 120, 2)]);
        break;
    case APP(8, 1, 11): /* IMO236 met/hydro */
        wmeteo11(w, m);
        break;
    case APP(8, 1, 31): /* IMO289 met/hydro */
        wmeteo31(w, m);
        break;
    case APP(8, 1, 13): /* IMO236 fairway closed: gpsd prints month before day */
        wktext(w, "reason", m, 56, 20);
        wktext(w, "closefrom", m, 176, 20);
        wktext(w, "closeto", m, 296, 20);
        wkbits(w, "radius", m, 416, 10);
        wkbits(w, "extunit", m, 426, 2);
        wkdate(w, "from", "%02u-%02uT%02u:%02u", mu(m, 433, 4), mu(m, 428, 5), mu(m, 437, 5),
               mu(m, 442, 6));
        wkdate(w, "to", "%02u-%02uT%02u:%02u", mu(m, 453, 4), mu(m, 448, 5), mu(m, 457, 5),
               mu(m, 462, 6));
        break;
    case APP(8, 1, 17): /* IMO289 VTS targets */
        wtargets(w, m);
        break;
    case APP(8, 200, 10): { /* inland static and voyage data */
        uint32_t st = mu(m, 127, 14);
        const char *stt = "Illegal ship type value.";
        for (u = 0; u < sizeof inland_types / sizeof inland_types[0]; u++)
            if (inland_types[u].code == st || inland_types[u].ais == st) {
                stt = inland_types[u].legend;
                break;
            }
        wktext(w, "vin", m, 56, 8);
        wkbits(w, "length", m, 104, 13);
        wkbits(w, "beam", m, 117, 10);
        wklegend(w, "shiptype", st, stt);
        wklegend(w, "hazard", mu(m, 141, 3),
                 LEGEND(hazard_legends, mu(m, 141, 3), "INVALID HAZARD TYPE"));
        wkbits(w, "draught", m, 144, 11);
        wklegend(w, "loaded", mu(m, 155, 2),
                 LEGEND(loaded_legends, mu(m, 155, 2), "INVALID LOAD STATUS"));
        wkbool(w, "speed_q", m, 157);
        wkbool(w, "course_q", m, 158);
        wkbool(w, "heading_q", m, 159);
        break;
    }
    case APP(8, 200, 23): { /* EMMA warning: gpsd prints the start's hour, minute and day in
                               the day, hour and minute places */
        char t[48];
        snprintf(t, sizeof t, "%4u-%02u-%02uT%02u:%02u", mu(m, 56, 8) + 2000, mu(m, 64, 4),
                 mu(m, 90, 5), mu(m, 95, 6), mu(m, 68, 5));
        wks(w, "start", t);
        snprintf(t, sizeof t, "%4u-%02u-%02uT%02u:%02u", mu(m, 73, 8) + 2000, mu(m, 81, 4),
                 mu(m, 85, 5), mu(m, 101, 5), mu(m, 106, 6));
        wks(w, "end", t);
        wkpos(w, "start_lon", m, 112, 28, 600000.0, "%.6f");
        wkpos(w, "start_lat", m, 140, 27, 600000.0, "%.6f");
        wkpos(w, "end_lon", m, 167, 28, 600000.0, "%.6f");
        wkpos(w, "end_lat", m, 195, 27, 600000.0, "%.6f");
        wklegend(w, "type", mu(m, 222, 4),
                 LEGEND(emma_legends, mu(m, 222, 4), "INVALID EMMA TYPE"));
        snprintf(t, sizeof t, ",\"min\":%d,\"max\":%d", ms(m, 226, 9), ms(m, 235, 9));
        ws(w, t);
        wklegend(w, "class", mu(m, 244, 2),
                 LEGEND(emma_class_legends, mu(m, 244, 2), "INVALID EMMA TYPE"));
        wklegend(w, "wind", mu(m, 246, 4),
                 LEGEND(emma_wind_legends, mu(m, 246, 4), "INVALID EMMA WIND DIRECTION"));
        break;
    }
    case APP(8, 200, 24): /* inland water levels */
        wktext(w, "country", m, 56, 2);
        ws(w, ",\"gauges\":[");
        for (u = 0; 68 + 25 * u < bl; u++) {
            char t[48];
            snprintf(t, sizeof t, "%s{\"id\":%u,\"level\":%d}", u ? "," : "",
                     mu(m, 68 + 25 * u, 11), ms(m, 79 + 25 * u, 14));
            ws(w, t);
        }
        ws(w, "]");
        break;
    case APP(8, 200, 40): /* inland signal status */
        wkpos(w, "lon", m, 56, 28, 600000.0, "%.6f");
        wkpos(w, "lat", m, 84, 27, 600000.0, "%.6f");
        wkbits(w, "form", m, 111, 4);
        wkbits(w, "facing", m, 115, 9);
        wklegend(w, "direction", mu(m, 124, 3),
                 LEGEND(direction_legends, mu(m, 124, 3), "INVALID DIRECTION"));
        wklegend(w, "status", mu(m, 127, 30),
                 LEGEND(light_status_legends, mu(m, 127, 30), "INVALID STATUS"));
        break;
    default:
        break;
    }
}

/* ---- encoder ---- */

static void put(uint8_t *b, unsigned start, unsigned len, uint32_t v)
{
    unsigned i;
    for (i = 0; i < len; i++) {
        unsigned bit = start + i;
        unsigned val = (v >> (len - 1 - i)) & 1u;
        if (val)
            b[bit >> 3] |= (uint8_t)(0x80u >> (bit & 7));
        else
            b[bit >> 3] &= (uint8_t) ~(0x80u >> (bit & 7));
    }
}

static unsigned sixval(char c)
{
    if (c >= 'a' && c <= 'z')
        c = (char)(c - 32);
    if (c >= '@' && c <= '_')
        return (unsigned)(c - '@');
    if (c >= ' ' && c <= '?')
        return (unsigned)c;
    return '?';
}

static void puttext(uint8_t *b, unsigned start, int nchars, const char *s)
{
    int i, ended = 0;
    for (i = 0; i < nchars; i++) {
        unsigned v = 0; /* '@' pads */
        if (!ended && s[i])
            v = sixval(s[i]);
        else
            ended = 1;
        put(b, start + 6 * (unsigned)i, 6, v);
    }
}

static void unapply(const struct fld *f, const ingest_ais_msg *m, uint8_t *b)
{
    for (; f->len; f++) {
        const char *p = (const char *)m + f->off;
        if (f->kind == K_T)
            puttext(b, f->start, f->len, p);
        else
            put(b, f->start, f->len, (uint32_t) * (const int32_t *)(const void *)p);
    }
}

int ingest_ais_encode_bits(const uint8_t *bits, size_t bitlen, const char *talker, char channel,
                           int seq_id, char *out, size_t cap)
{
    char payload[INGEST_AIS_PAYLOAD_MAX + 1];
    size_t nchars = (bitlen + 5) / 6, i, pos = 0;
    int fill = (int)(nchars * 6 - bitlen), nparts, part;
    const size_t per = 60;

    if (!talker)
        talker = "AIVDM";
    if (nchars == 0 || nchars > INGEST_AIS_PAYLOAD_MAX || strlen(talker) != 5)
        return CORE_EINVAL;
    for (i = 0; i < nchars; i++) {
        unsigned v = 0, k;
        for (k = 0; k < 6; k++) {
            size_t bit = i * 6 + k;
            v <<= 1;
            if (bit < bitlen && (bits[bit >> 3] & (0x80u >> (bit & 7))))
                v |= 1;
        }
        payload[i] = (char)(v < 40 ? v + '0' : v + '`' - 40);
    }
    nparts = (int)((nchars + per - 1) / per);
    if (nparts > 9)
        return CORE_EINVAL;
    for (part = 1; part <= nparts; part++) {
        char body[128];
        size_t off = (size_t)(part - 1) * per, n = nchars - off < per ? nchars - off : per;
        int len, k;
        unsigned x = 0;
        char seq[2] = {0, 0}, ch[2] = {channel, 0};
        if (nparts > 1)
            seq[0] = (char)('0' + (seq_id % 10 + 10) % 10);
        len = snprintf(body, sizeof body, "%s,%d,%d,%s,%s,%.*s,%d", talker, nparts, part, seq, ch,
                       (int)n, payload + off, part == nparts ? fill : 0);
        for (k = 0; k < len; k++)
            x ^= (unsigned char)body[k];
        if (pos + (size_t)len + 7 >= cap)
            return CORE_ETOOBIG;
        pos += (size_t)snprintf(out + pos, cap - pos, "!%s*%02X\r\n", body, x);
    }
    return (int)pos;
}

int ingest_ais_encode(const ingest_ais_msg *m, const char *talker, char channel, int seq_id,
                      char *out, size_t cap)
{
    uint8_t b[64];
    size_t bitlen;

    memset(b, 0, sizeof b);
    put(b, 0, 6, (uint32_t)m->type);
    put(b, 6, 2, (uint32_t)m->repeat);
    put(b, 8, 30, (uint32_t)m->mmsi);
    switch (m->type) {
    case 1:
    case 2:
    case 3:
        unapply(f_t1, m, b);
        put(b, 149, 19, (uint32_t)m->radio);
        bitlen = 168;
        break;
    case 4:
        unapply(f_t4, m, b);
        bitlen = 168;
        break;
    case 5:
        unapply(f_t5, m, b);
        bitlen = 424;
        break;
    case 18:
        unapply(f_t18, m, b);
        bitlen = 168;
        break;
    case 19:
        unapply(f_t19, m, b);
        bitlen = 312;
        break;
    case 21: {
        size_t n = strlen(m->name), ext = n > 20 ? n - 20 : 0;
        if (ext > 14)
            ext = 14; /* the standard's maximum */
        unapply(f_t21, m, b);
        puttext(b, 43, 20, m->name);
        puttext(b, 272, (int)ext, m->name + 20);
        bitlen = 272 + 6 * ext;
        bitlen = (bitlen + 7) / 8 * 8; /* spare bits to the byte boundary */
        break;
    }
    case 24: {
        int a = m->part == INGEST_AIS_PART_A || m->part == INGEST_AIS_PART_AB;
        int bb = m->part != INGEST_AIS_PART_A;
        int n = 0, r;
        if (a) {
            put(b, 38, 2, 0);
            unapply(f_t24a, m, b);
            r = ingest_ais_encode_bits(b, 160, talker, channel, seq_id, out, cap);
            if (r < 0)
                return r;
            n = r;
        }
        if (bb) {
            memset(b, 0, sizeof b);
            put(b, 0, 6, 24);
            put(b, 6, 2, (uint32_t)m->repeat);
            put(b, 8, 30, (uint32_t)m->mmsi);
            put(b, 38, 2, 1);
            unapply(f_t24b_enc, m, b);
            unapply((m->mmsi / 10000000 == 98) ? f_t24mother : f_t24dim, m, b);
            r = ingest_ais_encode_bits(b, 168, talker, channel, seq_id, out + n, cap - (size_t)n);
            if (r < 0)
                return r;
            n += r;
        }
        return n;
    }
    case 27:
        unapply(f_t27, m, b);
        bitlen = 96;
        break;
    default: {
        /* every other type from its payload bits, the header from the fields */
        uint8_t pb[sizeof m->bits];
        if (m->type < 6 || m->type > 26 || m->bitlen < 38 || m->bitlen > INGEST_AIS_BITS_MAX)
            return CORE_EINVAL;
        memcpy(pb, m->bits, sizeof pb);
        put(pb, 0, 6, (uint32_t)m->type);
        put(pb, 6, 2, (uint32_t)m->repeat);
        put(pb, 8, 30, (uint32_t)m->mmsi);
        return ingest_ais_encode_bits(pb, (size_t)m->bitlen, talker, channel, seq_id, out, cap);
    }
    }
    return ingest_ais_encode_bits(b, bitlen, talker, channel, seq_id, out, cap);
}
