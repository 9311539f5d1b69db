/*
 * test_jt808.c: the JT/T 808 codec against vectors built by hand from the standard
 * (JT/T 808-2013 and -2019 layouts; checksums and escapes computed independently of the
 * codec), the frame splitter against bad input (garbage, truncation, endless frames),
 * and corridor-decode jt808 --hex against exact JSON. Single-threaded.
 */
#include "core.h"
#include "jt808.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 2013 heartbeat, terminal 013912345678, serial 1 */
#define HB2013 "7e000200000139123456780001337e"
/* the same with the 2019 header: version flag, protocol version 1, 10-byte number */
#define HB2019 "7e0002400001000000000139123456780001727e"
/* location, serial 7: status acc+fix+door locked, 22.547 N 114.057 E, 50 m, 60.5 km/h,
 * course 90, 2024-05-06 14:30:00 GMT+8, items mileage 111.1 km, signal 28, 10 satellites,
 * battery 85 % */
#define LOC                                                                                        \
    "7e0200002b0139123456780007000000000000100301580a3806cc5f280032025d005a24050614300001040000"   \
    "045730011c31010ae101551b7e"
/* location, serial 8: alarms power cut + illegal door open, south and west, no lock */
#define LOCSW                                                                                      \
    "7e0200001c0139123456780008800001000000000e0204cc0009034554000c00000167240101000000367e"
/* serial 0x7e7d, latitude 0x007e7d7e, altitude 0x7d: escapes 7d02 and 7d01 on the wire */
#define LOCESC                                                                                     \
    "7e0200001c0139123456787d027d010000000000001002007d027d017d0206cc5f28007d0100000000240506"     \
    "143000817e"
/* 0x0704 blind-area batch of three positions, times 14:30:02, 14:30:00, 14:30:01 */
#define BATCH                                                                                      \
    "7e0704005d0139123456780009000301001c000000000000100201580a3806cc5f28000a00000000240506143"    \
    "002001c000000000000100201580e2006cc5f28000a00640000240506143000001c0000000000001002015812"    \
    "0806cc5f28000a00c800002405061430012f7e"
/* the same batch as two subpackages (total 2), serials 10 and 11 */
#define SUB1                                                                                       \
    "7e07042028013912345678000a00020001000301001c000000000000100201580a3806cc5f28000a00000000"     \
    "240506143002001c0000000000ff7e"
#define SUB2                                                                                       \
    "7e07042035013912345678000b0002000200100201580e2006cc5f28000a00640000240506143000001c0000"     \
    "0000000010020158120806cc5f28000a00c80000240506143001a87e"
#define REG2013                                                                                    \
    "7e0100002c0139123456780002002c012c4a4f494e544a54373031000000000000000000000000000000313233"   \
    "34353637014b425831323341717e"
#define REG2019                                                                                    \
    "7e0100405301000000000139123456780002002c012c4a4f494e544543480000004a5437303941000000000000"   \
    "000000000000000000000000000000000000414243313233340000000000000000000000000000000000000000"   \
    "000000004b4258313233413d7e"
#define AUTH2013 "7e01020010013912345678000330313233343536373839616263646566267e"
#define AUTH2019                                                                                   \
    "7e0102403401000000000139123456780003103031323334353637383961626364656638363030303030303030"   \
    "303030303156312e322e3300000000000000000000000000000a7e"
/* platform replies: 0x8001 to serial 7 / 0x0200 ok; 0x8100 to serial 2, result 4 */
#define ACK8001 "7e8001000501391234567800000007020000b17e"
#define REGACK4 "7e810000030139123456780000000204b47e"
#define BADLEN  "7e00020002013912345678000100317e"

static size_t unhex(const char *h, uint8_t *out, size_t cap)
{
    size_t n = 0;
    for (; h[0] && h[1] && n < cap; h += 2) {
        unsigned v;
        sscanf(h, "%2x", &v);
        out[n++] = (uint8_t)v;
    }
    return n;
}

static void tohex(const uint8_t *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
    out[2 * n] = '\0';
}

/* Splits a whole stream; records each outcome: 'F' frame, 'T' too big, 'E' bad escape.
 * Frames are copied into frames[]. */
typedef struct split_out {
    char kinds[64];
    int n;
    uint8_t frames[16][INGEST_JT808_FRAME_MAX];
    size_t lens[16];
} split_out;

static void split_all(ingest_jt808_splitter *s, const uint8_t *p, size_t n, size_t step,
                      split_out *o)
{
    while (n > 0) {
        size_t take = n < step ? n : step, used;
        const uint8_t *p2 = p;
        size_t left = take;
        while (left > 0) {
            const uint8_t *f;
            size_t fl;
            int rc = ingest_jt808_split(s, p2, left, &used, &f, &fl);
            ck_assert_uint_le(used, left);
            if (rc == 1) {
                ck_assert_int_lt(o->n, 16);
                memcpy(o->frames[o->n], f, fl);
                o->lens[o->n] = fl;
                o->kinds[o->n++] = 'F';
            } else if (rc == CORE_ETOOBIG) {
                o->kinds[o->n++] = 'T';
            } else if (rc == CORE_EINVAL) {
                o->kinds[o->n++] = 'E';
            }
            p2 += used;
            left -= used;
        }
        p += take;
        n -= take;
    }
}

/* Parses the one frame of a hex vector. */
static const uint8_t *one(const char *hex, ingest_jt808_head *h, size_t *blen)
{
    static uint8_t wire[4096];
    static ingest_jt808_splitter s;
    size_t n = unhex(hex, wire, sizeof wire), used;
    const uint8_t *f, *body;
    size_t fl;
    char why[128] = "";
    ingest_jt808_splitter_init(&s);
    ck_assert_int_eq(ingest_jt808_split(&s, wire, n, &used, &f, &fl), 1);
    ck_assert_uint_eq(used, n);
    ck_assert_msg(ingest_jt808_parse(f, fl, h, &body, blen, why, sizeof why) == 0, "%s", why);
    return body;
}

START_TEST(headers_2013_and_2019)
{
    ingest_jt808_head h;
    size_t bl;
    one(HB2013, &h, &bl);
    ck_assert_int_eq(h.msg_id, 0x0002);
    ck_assert_int_eq(h.v2019, 0);
    ck_assert_str_eq(h.terminal, "013912345678");
    ck_assert_int_eq(h.serial, 1);
    ck_assert_uint_eq(bl, 0);
    one(HB2019, &h, &bl);
    ck_assert_int_eq(h.v2019, 1);
    ck_assert_int_eq(h.proto_version, 1);
    ck_assert_str_eq(h.terminal, "00000000013912345678");
    ck_assert_int_eq(h.serial, 1);

    /* the encoder produces exactly the hand-built bytes, both editions */
    uint8_t out[64];
    char hex[160];
    ingest_jt808_head e = {.msg_id = 2, .serial = 1};
    strcpy(e.terminal, "13912345678"); /* left-padded with zeros */
    int n = ingest_jt808_encode(&e, NULL, 0, out, sizeof out);
    ck_assert_int_gt(n, 0);
    tohex(out, (size_t)n, hex);
    ck_assert_str_eq(hex, HB2013);
    e.v2019 = 1;
    e.proto_version = 1;
    n = ingest_jt808_encode(&e, NULL, 0, out, sizeof out);
    tohex(out, (size_t)n, hex);
    ck_assert_str_eq(hex, HB2019);
    strcpy(e.terminal, "12a");
    ck_assert_int_eq(ingest_jt808_encode(&e, NULL, 0, out, sizeof out), CORE_EINVAL);
    strcpy(e.terminal, "123456789012345678901");
    ck_assert_int_eq(ingest_jt808_encode(&e, NULL, 0, out, sizeof out), CORE_EINVAL);
}
END_TEST

START_TEST(escaping_both_ways)
{
    ingest_jt808_head h;
    size_t bl;
    const uint8_t *b = one(LOCESC, &h, &bl);
    ck_assert_int_eq(h.serial, 0x7e7d); /* 7d02 7d01 on the wire */
    ingest_jt808_location l;
    char why[128];
    ck_assert_int_eq(
        ingest_jt808_parse_location(b, bl, INGEST_JT808_TZ_DEFAULT_MIN, &l, NULL, NULL, why, 128),
        0);
    ck_assert_double_eq_tol(l.lat, 0x7e7d7e / 1e6, 1e-9);
    ck_assert_double_eq(l.altitude, 0x7d);

    /* encoding escapes 0x7e as 7d 02 and 0x7d as 7d 01, and reproduces the vector */
    uint8_t body[64], out[256];
    char hex[600];
    memcpy(body, b, bl);
    ingest_jt808_head e = {.msg_id = 0x0200, .serial = 0x7e7d};
    strcpy(e.terminal, "013912345678");
    int n = ingest_jt808_encode(&e, body, bl, out, sizeof out);
    tohex(out, (size_t)n, hex);
    ck_assert_str_eq(hex, LOCESC);
    /* every byte that needs it, worst case, still fits the documented bound */
    memset(body, 0x7e, 40);
    n = ingest_jt808_encode(&e, body, 40, out, 2 * (12 + 40 + 1) + 2);
    ck_assert_int_gt(n, 0);
    ck_assert_int_eq(ingest_jt808_encode(&e, body, 40, out, 60), CORE_ETOOBIG);
    /* a bare 0x7d followed by anything but 01/02 is refused */
    uint8_t bad[] = {0x7e, 0x00, 0x02, 0x7d, 0x03, 0x00, 0x7e, 0x7e};
    ingest_jt808_splitter s;
    ingest_jt808_splitter_init(&s);
    split_out *o = calloc(1, sizeof *o);
    split_all(&s, bad, sizeof bad, sizeof bad, o);
    ck_assert_str_eq(o->kinds, "E");
    ck_assert_uint_eq(s.bad_escape, 1);
    free(o);
}
END_TEST

START_TEST(location_2013)
{
    ingest_jt808_head h;
    size_t bl;
    const uint8_t *b = one(LOC, &h, &bl);
    ingest_jt808_location l;
    char why[128], t[40];
    ck_assert_int_eq(ingest_jt808_parse_location(b, bl, INGEST_JT808_TZ_DEFAULT_MIN, &l, NULL, NULL,
                                                 why, sizeof why),
                     0);
    ck_assert_double_eq_tol(l.lat, 22.547, 1e-9);
    ck_assert_double_eq_tol(l.lon, 114.057, 1e-9);
    ck_assert_double_eq(l.altitude, 50);
    ck_assert_double_eq_tol(l.speed_kmh, 60.5, 1e-9);
    ck_assert_int_eq(l.course, 90);
    ck_assert_str_eq(core_iso8601(l.ts_us, t, sizeof t), "2024-05-06T06:30:00.000Z");
    ck_assert_double_eq_tol(l.mileage_km, 111.1, 1e-9);
    ck_assert_int_eq(l.signal, 28);
    ck_assert_int_eq(l.satellites, 10);
    ck_assert_double_eq(l.battery, 85);
    ck_assert_uint_eq(l.status,
                      INGEST_JT808_ST_ACC | INGEST_JT808_ST_FIX | INGEST_JT808_ST_DOOR_LOCKED);
    /* the same BCD time read as UTC and as -05:30 */
    ingest_jt808_parse_location(b, bl, 0, &l, NULL, NULL, why, sizeof why);
    ck_assert_str_eq(core_iso8601(l.ts_us, t, sizeof t), "2024-05-06T14:30:00.000Z");
    ingest_jt808_parse_location(b, bl, -330, &l, NULL, NULL, why, sizeof why);
    ck_assert_str_eq(core_iso8601(l.ts_us, t, sizeof t), "2024-05-06T20:00:00.000Z");

    /* the encoder round-trips it, items included, byte for byte */
    uint8_t body[128], out[256];
    char hex[600];
    ingest_jt808_parse_location(b, bl, INGEST_JT808_TZ_DEFAULT_MIN, &l, NULL, NULL, why, 128);
    int k = ingest_jt808_body_location(body, sizeof body, INGEST_JT808_TZ_DEFAULT_MIN, &l);
    ck_assert_int_eq(k, (int)bl);
    ingest_jt808_head e = {.msg_id = 0x0200, .serial = 7};
    strcpy(e.terminal, "013912345678");
    int n = ingest_jt808_encode(&e, body, (size_t)k, out, sizeof out);
    tohex(out, (size_t)n, hex);
    ck_assert_str_eq(hex, LOC);

    /* south and west from the status bits */
    b = one(LOCSW, &h, &bl);
    ck_assert_int_eq(ingest_jt808_parse_location(b, bl, 480, &l, NULL, NULL, why, 128), 0);
    ck_assert_double_eq_tol(l.lat, -33.8688, 1e-9);
    ck_assert_double_eq_tol(l.lon, -151.2093, 1e-9);
    ck_assert_str_eq(core_iso8601(l.ts_us, t, sizeof t), "2023-12-31T16:00:00.000Z");
    ck_assert(isnan(l.battery) && isnan(l.mileage_km) && l.signal == -1);
    ck_assert_str_eq(ingest_jt808_seal_alarm(l.alarm), "door_open");
}
END_TEST

START_TEST(location_bad_bodies)
{
    ingest_jt808_head h;
    size_t bl;
    const uint8_t *b = one(LOC, &h, &bl);
    uint8_t body[64];
    ingest_jt808_location l;
    char why[128];
    memcpy(body, b, bl);
    ck_assert_int_eq(ingest_jt808_parse_location(body, 27, 480, &l, NULL, NULL, why, 128),
                     CORE_EINVAL);
    /* an item whose length overruns the body is dropped and counted; the fix stands */
    ck_assert_int_eq(ingest_jt808_parse_location(body, bl - 1, 480, &l, NULL, NULL, why, 128), 0);
    ck_assert_str_eq(why, "additional item 0xe1 of 1 bytes overruns the body");
    ck_assert_int_eq(l.items_dropped, 1);
    ck_assert(isnan(l.battery));
    ck_assert_int_eq(l.satellites, 10);
    /* latitude 90.000001 */
    uint8_t bad[64];
    memcpy(bad, body, bl);
    bad[8] = 0x05, bad[9] = 0x5d, bad[10] = 0x4a, bad[11] = 0x81;
    ck_assert_int_eq(ingest_jt808_parse_location(bad, bl, 480, &l, NULL, NULL, why, 128),
                     CORE_EINVAL);
    /* 30 February */
    memcpy(bad, body, bl);
    bad[23] = 0x02, bad[24] = 0x30;
    ck_assert_int_eq(ingest_jt808_parse_location(bad, bl, 480, &l, NULL, NULL, why, 128),
                     CORE_EINVAL);
    ck_assert_str_eq(why, "invalid time 240230143000");
    /* a non-BCD minute */
    memcpy(bad, body, bl);
    bad[26] = 0x3a;
    ck_assert_int_eq(ingest_jt808_parse_location(bad, bl, 480, &l, NULL, NULL, why, 128),
                     CORE_EINVAL);
}
END_TEST

START_TEST(every_mapped_alarm_bit)
{
    static const struct {
        int bit;
        const char *name, *event;
    } m[] = {
        {0, "sos", "sos"},
        {1, "overspeed", "overspeed"},
        {4, "gnss_fault", "gnss_fault"},
        {5, "gnss_antenna_cut", "tampering"},
        {6, "gnss_antenna_short", "tampering"},
        {7, "power_low", "low_battery"},
        {8, "power_cut", "power_cut"},
        {23, "route_deviation", "route_deviation"},
        {26, "stolen", "tampering"},
        {28, "illegal_displacement", "movement"},
        {29, "collision", "accident"},
        {30, "rollover", "accident"},
        {31, "illegal_door_open", "door_open"},
        /* named, but no seal event */
        {2, "fatigue", ""},
        {3, "danger_warning", ""},
        {9, "lcd_fault", ""},
        {18, "driving_overtime", ""},
        {27, "illegal_ignition", ""},
    };
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) {
        ck_assert_str_eq(ingest_jt808_alarm_name(m[i].bit), m[i].name);
        ck_assert_str_eq(ingest_jt808_seal_alarm(1u << m[i].bit), m[i].event);
    }
    ck_assert_ptr_null(ingest_jt808_alarm_name(15));
    ck_assert_str_eq(ingest_jt808_seal_alarm(0), "");
    /* the most severe wins the one alarm slot */
    ck_assert_str_eq(
        ingest_jt808_seal_alarm(INGEST_JT808_ALARM_POWER_LOW | INGEST_JT808_ALARM_DOOR_OPEN),
        "door_open");
    ck_assert_str_eq(ingest_jt808_seal_alarm(INGEST_JT808_ALARM_OVERSPEED |
                                             INGEST_JT808_ALARM_POWER_CUT |
                                             INGEST_JT808_ALARM_ANTENNA_CUT),
                     "tampering");
    ck_assert_str_eq(
        ingest_jt808_seal_alarm(INGEST_JT808_ALARM_SOS | INGEST_JT808_ALARM_ROUTE_DEVIATION),
        "sos");
    ck_assert_str_eq(ingest_jt808_status_name(1), "fix");
    ck_assert_str_eq(ingest_jt808_status_name(2), "south");
    ck_assert_str_eq(ingest_jt808_status_name(3), "west");
    ck_assert_str_eq(ingest_jt808_status_name(12), "door_locked");
}
END_TEST

START_TEST(batch_of_three)
{
    ingest_jt808_head h;
    size_t bl;
    const uint8_t *b = one(BATCH, &h, &bl);
    ingest_jt808_location l[INGEST_JT808_BATCH_MAX];
    int count, type;
    char why[128], t[40];
    ck_assert_int_eq(h.msg_id, 0x0704);
    ck_assert_int_eq(ingest_jt808_parse_batch(b, bl, 480, l, INGEST_JT808_BATCH_MAX, &count, &type,
                                              why, sizeof why),
                     0);
    ck_assert_int_eq(count, 3);
    ck_assert_int_eq(type, 1);
    ck_assert_str_eq(core_iso8601(l[0].ts_us, t, sizeof t), "2024-05-06T06:30:02.000Z");
    ck_assert_str_eq(core_iso8601(l[1].ts_us, t, sizeof t), "2024-05-06T06:30:00.000Z");
    ck_assert_str_eq(core_iso8601(l[2].ts_us, t, sizeof t), "2024-05-06T06:30:01.000Z");
    ck_assert_double_eq_tol(l[2].lat, 22.549, 1e-9);
    ck_assert_double_eq_tol(l[2].speed_kmh, 20, 1e-9);
    /* too many for the caller's array, truncated, and trailing bytes */
    ck_assert_int_eq(ingest_jt808_parse_batch(b, bl, 480, l, 2, &count, &type, why, 128),
                     CORE_EINVAL);
    ck_assert_int_eq(ingest_jt808_parse_batch(b, bl - 3, 480, l, 8, &count, &type, why, 128),
                     CORE_EINVAL);
    uint8_t longer[256];
    memcpy(longer, b, bl);
    longer[bl] = 0;
    ck_assert_int_eq(ingest_jt808_parse_batch(longer, bl + 1, 480, l, 8, &count, &type, why, 128),
                     CORE_EINVAL);
    /* the encoder rebuilds the body exactly */
    ingest_jt808_parse_batch(b, bl, 480, l, 8, &count, &type, why, 128);
    uint8_t body[256];
    int k = ingest_jt808_body_batch(body, sizeof body, 480, 1, l, 3);
    ck_assert_int_eq(k, (int)bl);
    ck_assert_mem_eq(body, b, bl);
}
END_TEST

START_TEST(bad_checksum_and_length)
{
    uint8_t wire[64];
    size_t n = unhex(HB2013, wire, sizeof wire);
    ingest_jt808_head h;
    const uint8_t *body;
    size_t bl;
    char why[128];
    /* checksum byte changed */
    wire[n - 2] ^= 0x01;
    ck_assert_int_eq(ingest_jt808_parse(wire + 1, n - 2, &h, &body, &bl, why, sizeof why),
                     CORE_EINVAL);
    ck_assert_str_eq(why, "bad checksum: 0x32, computed 0x33");
    /* a data byte changed */
    n = unhex(HB2013, wire, sizeof wire);
    wire[5] ^= 0x10;
    ck_assert_int_eq(ingest_jt808_parse(wire + 1, n - 2, &h, &body, &bl, why, sizeof why),
                     CORE_EINVAL);
    /* the length field says 2, the body has 1 (checksum right) */
    n = unhex(BADLEN, wire, sizeof wire);
    ck_assert_int_eq(ingest_jt808_parse(wire + 1, n - 2, &h, &body, &bl, why, sizeof why),
                     CORE_EINVAL);
    ck_assert_str_eq(why, "bad length: body of 1 bytes, properties say 2");
    /* shorter than a header */
    ck_assert_int_eq(ingest_jt808_parse(wire + 1, 5, &h, &body, &bl, why, sizeof why), CORE_EINVAL);
}
END_TEST

START_TEST(truncated_frames)
{
    uint8_t wire[256], stream[512];
    size_t a = unhex(LOC, wire, sizeof wire);
    ingest_jt808_splitter s;
    ingest_jt808_splitter_init(&s);
    split_out *o = calloc(1, sizeof *o);
    /* half a frame: nothing yet, and the splitter says it is inside one */
    split_all(&s, wire, a / 2, 7, o);
    ck_assert_int_eq(o->n, 0);
    ck_assert_int_eq(ingest_jt808_split_partial(&s), 1);
    /* the rest completes it */
    split_all(&s, wire + a / 2, a - a / 2, 3, o);
    ck_assert_str_eq(o->kinds, "F");
    ck_assert_int_eq(ingest_jt808_split_partial(&s), 0);
    /* a truncated frame followed by a whole one: the cut-off piece fails parsing, the next decodes
     */
    memset(o, 0, sizeof *o);
    memcpy(stream, wire, 20);
    memcpy(stream + 20, wire, a);
    split_all(&s, stream, 20 + a, 1, o);
    ck_assert_str_eq(o->kinds, "FF");
    ingest_jt808_head h;
    const uint8_t *body;
    size_t bl;
    char why[128];
    ck_assert_int_eq(ingest_jt808_parse(o->frames[0], o->lens[0], &h, &body, &bl, why, 128),
                     CORE_EINVAL);
    ck_assert_int_eq(ingest_jt808_parse(o->frames[1], o->lens[1], &h, &body, &bl, why, 128), 0);
    ck_assert_int_eq(h.serial, 7);
    free(o);
}
END_TEST

START_TEST(garbage_between_frames)
{
    uint8_t stream[1024];
    size_t n = 0;
    memcpy(stream, "GET / HTTP/1.0\r\n", 16); /* before the first flag: skipped */
    n = 16;
    n += unhex(HB2013, stream + n, sizeof stream - n);
    if (n > sizeof stream - 3)
        ck_abort_msg("stream buffer too small");
    memcpy(stream + n, "\x01\x02\x03", 3); /* between frames: a candidate that fails */
    n += 3;
    n += unhex(LOC, stream + n, sizeof stream - n);
    /* frames sharing one flag: "7e A 7e B 7e" */
    n += unhex(HB2013, stream + n, sizeof stream - n) - 1;
    n += unhex(HB2019, stream + n, sizeof stream - n);
    for (size_t step = 1; step <= n; step = step * 3 + 1) {
        ingest_jt808_splitter s;
        ingest_jt808_splitter_init(&s);
        split_out *o = calloc(1, sizeof *o);
        split_all(&s, stream, n, step, o);
        ck_assert_str_eq(o->kinds, "FFFFF");
        ck_assert_uint_eq(s.garbage, 16);
        int ok[5];
        for (int i = 0; i < 5; i++) {
            ingest_jt808_head h;
            const uint8_t *body;
            size_t bl;
            ok[i] = ingest_jt808_parse(o->frames[i], o->lens[i], &h, &body, &bl, NULL, 0) == 0;
        }
        ck_assert(ok[0] && !ok[1] && ok[2] && ok[3] && ok[4]);
        free(o);
    }
}
END_TEST

START_TEST(endless_frame)
{
    /* a flag and then 1 MiB without another: reported once, memory stays the struct */
    size_t big = 1 << 20;
    uint8_t *p = malloc(big + 64);
    p[0] = 0x7e;
    memset(p + 1, 0x41, big - 1);
    size_t tail = unhex(HB2013, p + big, 64);
    ingest_jt808_splitter s;
    ingest_jt808_splitter_init(&s);
    split_out *o = calloc(1, sizeof *o);
    split_all(&s, p, big + tail, 4096, o);
    ck_assert_str_eq(o->kinds, "TF");
    ck_assert_uint_eq(s.oversized, 1);
    /* a frame of exactly the limit passes, one byte more does not */
    memset(o, 0, sizeof *o);
    p[0] = 0x7e;
    memset(p + 1, 0x41, INGEST_JT808_FRAME_MAX);
    p[INGEST_JT808_FRAME_MAX + 1] = 0x7e;
    split_all(&s, p, INGEST_JT808_FRAME_MAX + 2, 100, o);
    ck_assert_str_eq(o->kinds, "F");
    ck_assert_uint_eq(o->lens[0], INGEST_JT808_FRAME_MAX);
    memset(o, 0, sizeof *o);
    p[0] = 0x7e;
    memset(p + 1, 0x41, INGEST_JT808_FRAME_MAX + 1);
    p[INGEST_JT808_FRAME_MAX + 2] = 0x7e;
    split_all(&s, p, INGEST_JT808_FRAME_MAX + 3, 100, o);
    ck_assert_str_eq(o->kinds, "T");
    free(o);
    free(p);
}
END_TEST

START_TEST(subpackages)
{
    ingest_jt808_head h1, h2;
    size_t b1l, b2l;
    uint8_t b1[256];
    const uint8_t *b = one(SUB1, &h1, &b1l);
    memcpy(b1, b, b1l);
    ck_assert_int_eq(h1.subpackage, 1);
    ck_assert_int_eq(h1.pkg_total, 2);
    ck_assert_int_eq(h1.pkg_seq, 1);
    const uint8_t *b2 = one(SUB2, &h2, &b2l);
    ck_assert_int_eq(h2.pkg_seq, 2);
    ingest_jt808_reasm *r = malloc(sizeof *r);
    ingest_jt808_reasm_init(r);
    /* out of order: packet 2 first */
    ck_assert_int_eq(ingest_jt808_reasm_add(r, &h2, b2, b2l), CORE_EINVAL);
    ck_assert_int_eq(ingest_jt808_reasm_add(r, &h1, b1, b1l), 0);
    ck_assert_int_eq(ingest_jt808_reasm_add(r, &h2, b2, b2l), 1);
    ingest_jt808_location l[8];
    int count, type;
    char why[128];
    ck_assert_int_eq(
        ingest_jt808_parse_batch(r->buf, r->len, 480, l, 8, &count, &type, why, sizeof why), 0);
    ck_assert_int_eq(count, 3);
    /* the same packet 2 again does not complete anything */
    ck_assert_int_eq(ingest_jt808_reasm_add(r, &h2, b2, b2l), CORE_EINVAL);
    /* more packets than the limit */
    h1.pkg_total = INGEST_JT808_REASM_PACKETS + 1;
    ck_assert_int_eq(ingest_jt808_reasm_add(r, &h1, b1, b1l), CORE_ETOOBIG);
    /* packet fields that make no sense */
    uint8_t wire[64];
    ingest_jt808_head e = {
        .msg_id = 0x0704, .serial = 1, .subpackage = 1, .pkg_total = 2, .pkg_seq = 3};
    strcpy(e.terminal, "1");
    int n = ingest_jt808_encode(&e, (const uint8_t *)"x", 1, wire, sizeof wire);
    ingest_jt808_head h;
    const uint8_t *body;
    size_t bl;
    ck_assert_int_eq(ingest_jt808_parse(wire + 1, (size_t)n - 2, &h, &body, &bl, why, 128),
                     CORE_EINVAL);
    ck_assert_str_eq(why, "packet 3 of 2");
    free(r);
}
END_TEST

START_TEST(register_and_auth)
{
    ingest_jt808_head h;
    size_t bl;
    ingest_jt808_register r;
    ingest_jt808_auth a;
    char why[128];
    const uint8_t *b = one(REG2013, &h, &bl);
    ck_assert_int_eq(ingest_jt808_parse_register(b, bl, 0, &r, why, sizeof why), 0);
    ck_assert_int_eq(r.province, 44);
    ck_assert_int_eq(r.city, 300);
    ck_assert_str_eq(r.maker, "JOINT");
    ck_assert_str_eq(r.model, "JT701");
    ck_assert_str_eq(r.term_id, "1234567");
    ck_assert_int_eq(r.plate_color, 1);
    ck_assert_str_eq(r.plate, "KBX123A");
    uint8_t body[128], out[512];
    char hex[1024];
    int k = ingest_jt808_body_register(body, sizeof body, 0, &r);
    ck_assert_int_eq(k, (int)bl);
    ck_assert_mem_eq(body, b, bl);

    b = one(REG2019, &h, &bl);
    ck_assert_int_eq(ingest_jt808_parse_register(b, bl, 1, &r, why, sizeof why), 0);
    ck_assert_str_eq(r.maker, "JOINTECH");
    ck_assert_str_eq(r.model, "JT709A");
    ck_assert_str_eq(r.term_id, "ABC1234");
    ck_assert_str_eq(r.plate, "KBX123A");
    k = ingest_jt808_body_register(body, sizeof body, 1, &r);
    ck_assert_int_eq(k, (int)bl);
    ck_assert_mem_eq(body, b, bl);
    ck_assert_int_eq(ingest_jt808_parse_register(b, 40, 1, &r, why, sizeof why), CORE_EINVAL);

    b = one(AUTH2013, &h, &bl);
    ck_assert_int_eq(ingest_jt808_parse_auth(b, bl, 0, &a, why, sizeof why), 0);
    ck_assert_str_eq(a.code, "0123456789abcdef");
    b = one(AUTH2019, &h, &bl);
    ck_assert_int_eq(ingest_jt808_parse_auth(b, bl, 1, &a, why, sizeof why), 0);
    ck_assert_str_eq(a.code, "0123456789abcdef");
    ck_assert_str_eq(a.imei, "860000000000001");
    ck_assert_str_eq(a.software, "V1.2.3");
    k = ingest_jt808_body_auth(body, sizeof body, 1, &a);
    ck_assert_int_eq(k, (int)bl);
    ck_assert_mem_eq(body, b, bl);

    /* the platform's replies, exact bytes */
    ingest_jt808_head e = {.msg_id = 0x8001, .serial = 0};
    strcpy(e.terminal, "013912345678");
    k = ingest_jt808_body_ack(body, sizeof body, 7, 0x0200, INGEST_JT808_OK);
    int n = ingest_jt808_encode(&e, body, (size_t)k, out, sizeof out);
    tohex(out, (size_t)n, hex);
    ck_assert_str_eq(hex, ACK8001);
    e.msg_id = 0x8100;
    k = ingest_jt808_body_register_ack(body, sizeof body, 2, INGEST_JT808_REG_NO_TERMINAL,
                                       "ignored");
    ck_assert_int_eq(k, 3);
    n = ingest_jt808_encode(&e, body, (size_t)k, out, sizeof out);
    tohex(out, (size_t)n, hex);
    ck_assert_str_eq(hex, REGACK4);
    k = ingest_jt808_body_register_ack(body, sizeof body, 2, INGEST_JT808_REG_OK, "abc");
    uint16_t rs;
    int res;
    char code[65];
    ck_assert_int_eq(ingest_jt808_parse_register_ack(body, (size_t)k, &rs, &res, code, 65), 0);
    ck_assert_int_eq(rs, 2);
    ck_assert_int_eq(res, 0);
    ck_assert_str_eq(code, "abc");
}
END_TEST

START_TEST(time_zones)
{
    int m;
    ck_assert_int_eq(ingest_jt808_parse_tz("+08:00", &m), 0);
    ck_assert_int_eq(m, 480);
    ck_assert_int_eq(ingest_jt808_parse_tz("", &m), 0);
    ck_assert_int_eq(m, 480);
    ck_assert_int_eq(ingest_jt808_parse_tz("-05:30", &m), 0);
    ck_assert_int_eq(m, -330);
    ck_assert_int_eq(ingest_jt808_parse_tz("+0300", &m), 0);
    ck_assert_int_eq(m, 180);
    ck_assert_int_eq(ingest_jt808_parse_tz("+03", &m), 0);
    ck_assert_int_eq(m, 180);
    ck_assert_int_eq(ingest_jt808_parse_tz("UTC", &m), 0);
    ck_assert_int_eq(m, 0);
    ck_assert_int_eq(ingest_jt808_parse_tz("Z", &m), 0);
    ck_assert_int_eq(m, 0);
    ck_assert_int_eq(ingest_jt808_parse_tz("Africa/Nairobi", &m), CORE_EINVAL);
    ck_assert_int_eq(ingest_jt808_parse_tz("+15:00", &m), CORE_EINVAL);
    ck_assert_int_eq(ingest_jt808_parse_tz("+08:0", &m), CORE_EINVAL);
    /* encoding a UTC time into GMT+3 BCD crosses midnight and a year */
    ingest_jt808_location l, back;
    char why[128], t[40];
    uint8_t body[64];
    ingest_jt808_location_clear(&l);
    l.lat = 1;
    l.lon = 2;
    ck_assert_int_eq(core_parse_iso8601("2024-12-31T22:15:30Z", &l.ts_us), 0);
    int k = ingest_jt808_body_location(body, sizeof body, 180, &l);
    ck_assert_int_eq(k, 28);
    ck_assert_int_eq(body[22], 0x25);
    ck_assert_int_eq(body[23], 0x01);
    ck_assert_int_eq(body[24], 0x01);
    ck_assert_int_eq(body[25], 0x01);
    ck_assert_int_eq(ingest_jt808_parse_location(body, 28, 180, &back, NULL, NULL, why, 128), 0);
    ck_assert_str_eq(core_iso8601(back.ts_us, t, sizeof t), "2024-12-31T22:15:30.000Z");
}
END_TEST

/* corridor-decode jt808 --hex prints exactly this for the location vector. */
START_TEST(decode_tool)
{
    const char *build = getenv("CORRIDOR_BUILD");
    ck_assert_msg(build != NULL, "CORRIDOR_BUILD not set");
    char cmd[1024], out[8192];
    snprintf(cmd, sizeof cmd,
             "printf '%%s\\n%%s\\n%%s\\n' '%s' '%s' '%s' | %s/corridor-decode jt808 --hex", LOC,
             "7e000200000139123456780001347e", LOCSW, build);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    ck_assert_int_eq(pclose(p), 0);
    ck_assert_str_eq(
        out,
        "{\"msg_id\":\"0x0200\",\"terminal\":\"013912345678\",\"serial\":7,\"version\":\"2013\","
        "\"lat\":22.547,\"lon\":114.057,\"altitude\":50,\"speed_kmh\":60.5,\"course\":90,"
        "\"time\":\"2024-05-06T06:30:00.000Z\",\"alarms\":[],\"status\":[\"acc\",\"fix\","
        "\"door_locked\"],\"mileage_km\":111.1,\"signal\":28,\"satellites\":10,\"battery\":85}\n"
        "{\"error\":\"bad checksum: 0x34, computed 0x33\"}\n"
        "{\"msg_id\":\"0x0200\",\"terminal\":\"013912345678\",\"serial\":8,\"version\":\"2013\","
        "\"lat\":-33.8688,\"lon\":-151.2093,\"altitude\":12,\"speed_kmh\":0,\"course\":359,"
        "\"time\":\"2023-12-31T16:00:00.000Z\",\"alarms\":[\"power_cut\",\"illegal_door_open\"],"
        "\"status\":[\"fix\",\"south\",\"west\"],\"seal_alarm\":\"door_open\"}\n");
}
END_TEST

/* ---- downlink commands: bytes from the standard's layouts (docs/jt808.md) ---- */

static void body_is(const ingest_jt808_command *c, int v2019, const uint8_t *want, size_t n)
{
    uint8_t out[512];
    int k = ingest_jt808_command_body(c, v2019, out, sizeof out);
    ck_assert_int_eq(k, (int)n);
    if (n) /* an empty body compares nothing (and want may be NULL) */
        ck_assert_mem_eq(out, want, n);
    /* the device side reads back what was meant */
    ingest_jt808_command back;
    char why[128];
    ck_assert_msg(
        ingest_jt808_command_parse(c->msg_id, out, (size_t)k, v2019, &back, why, sizeof why) == 0,
        "%s", why);
    ck_assert_int_eq(back.n_params, c->n_params);
    ck_assert_int_eq(back.lock, c->lock);
    ck_assert_int_eq(back.control_word, c->control_word);
    ck_assert_int_eq(back.alarm_serial, c->alarm_serial);
    ck_assert_uint_eq(back.alarm_mask, c->alarm_mask);
    ck_assert_str_eq(back.text, c->text);
}

START_TEST(command_bodies)
{
    /* 0x8103: two DWORD parameters, report interval 0x0029 = 30 s, heartbeat 0x0001 = 60 s */
    ingest_jt808_command c = {.msg_id = INGEST_JT808_SET_PARAMS,
                              .n_params = 2,
                              .param_id = {INGEST_JT808_P_REPORT, INGEST_JT808_P_HEARTBEAT},
                              .param_value = {30, 60}};
    const uint8_t set[] = {2, 0, 0, 0, 0x29, 4, 0, 0, 0, 30, 0, 0, 0, 0x01, 4, 0, 0, 0, 60};
    body_is(&c, 0, set, sizeof set);
    /* 0x8201: empty */
    c = (ingest_jt808_command){.msg_id = INGEST_JT808_LOCATE};
    body_is(&c, 0, NULL, 0);
    /* 0x8105 reset */
    c = (ingest_jt808_command){.msg_id = INGEST_JT808_TERM_CONTROL, .control_word = 4};
    const uint8_t reset[] = {4};
    body_is(&c, 0, reset, 1);
    /* 0x8203: serial 0x1234, SOS and danger warning */
    c = (ingest_jt808_command){
        .msg_id = INGEST_JT808_ALARM_CONFIRM, .alarm_serial = 0x1234, .alarm_mask = 9};
    const uint8_t confirm[] = {0x12, 0x34, 0, 0, 0, 9};
    body_is(&c, 0, confirm, sizeof confirm);
    /* 0x8300: flag, [2019: type 1], text */
    c = (ingest_jt808_command){.msg_id = INGEST_JT808_TEXT, .text_flag = 4, .text = "Go"};
    const uint8_t text13[] = {4, 'G', 'o'}, text19[] = {4, 1, 'G', 'o'};
    body_is(&c, 0, text13, sizeof text13);
    body_is(&c, 1, text19, sizeof text19);
    /* 0x8500 unlock: 2013 flag bit 0 = 0; 2019 one item, type 0x0001 door, 1 = open */
    c = (ingest_jt808_command){.msg_id = INGEST_JT808_VEHICLE_CONTROL, .lock = 0};
    const uint8_t un13[] = {0}, un19[] = {0, 1, 0, 1, 1};
    body_is(&c, 0, un13, 1);
    body_is(&c, 1, un19, sizeof un19);
    c.lock = 1;
    const uint8_t lk13[] = {1}, lk19[] = {0, 1, 0, 1, 0};
    body_is(&c, 0, lk13, 1);
    body_is(&c, 1, lk19, sizeof lk19);
}
END_TEST

START_TEST(command_bad_bodies)
{
    ingest_jt808_command c;
    char why[128];
    const uint8_t overrun[] = {1, 0, 0, 0, 0x29, 9, 0, 0, 0, 30};
    ck_assert_int_eq(ingest_jt808_command_parse(INGEST_JT808_SET_PARAMS, overrun, sizeof overrun, 0,
                                                &c, why, sizeof why),
                     CORE_EINVAL);
    ck_assert(strstr(why, "overruns") != NULL);
    const uint8_t trailing[] = {0, 7};
    ck_assert_int_eq(
        ingest_jt808_command_parse(INGEST_JT808_SET_PARAMS, trailing, 2, 0, &c, why, sizeof why),
        CORE_EINVAL);
    ck_assert_int_eq(
        ingest_jt808_command_parse(INGEST_JT808_ALARM_CONFIRM, trailing, 2, 0, &c, why, sizeof why),
        CORE_EINVAL);
    ck_assert_int_eq(
        ingest_jt808_command_parse(INGEST_JT808_LOCATE, trailing, 2, 0, &c, why, sizeof why),
        CORE_EINVAL);
    const uint8_t notdoor[] = {0, 1, 0, 2, 1};
    ck_assert_int_eq(ingest_jt808_command_parse(INGEST_JT808_VEHICLE_CONTROL, notdoor,
                                                sizeof notdoor, 1, &c, why, sizeof why),
                     CORE_EINVAL);
    ck_assert_int_eq(ingest_jt808_command_parse(0x0200, trailing, 2, 0, &c, why, sizeof why),
                     CORE_EINVAL);
    /* a command the codec has no layout for, or an empty text */
    c = (ingest_jt808_command){.msg_id = 0x8888};
    uint8_t out[16];
    ck_assert_int_eq(ingest_jt808_command_body(&c, 0, out, sizeof out), CORE_EINVAL);
    c = (ingest_jt808_command){.msg_id = INGEST_JT808_TEXT};
    ck_assert_int_eq(ingest_jt808_command_body(&c, 0, out, sizeof out), CORE_EINVAL);
    c = (ingest_jt808_command){.msg_id = INGEST_JT808_SET_PARAMS, .n_params = 3};
    ck_assert_int_eq(ingest_jt808_command_body(&c, 0, out, sizeof out), CORE_ETOOBIG);
}
END_TEST

START_TEST(answer_with_location)
{
    /* 0x0201 / 0x0500: the answered serial, then a location body */
    ingest_jt808_location l, back;
    ingest_jt808_location_clear(&l);
    l.lat = -1.2921;
    l.lon = 36.8219;
    l.ts_us = 1796000000LL * 1000000;
    l.status = INGEST_JT808_ST_FIX;
    uint8_t b[128];
    int n = ingest_jt808_body_answer_location(b, sizeof b, 480, 0xbeef, &l);
    ck_assert_int_eq(n, 2 + 28);
    ck_assert_int_eq(b[0], 0xbe);
    ck_assert_int_eq(b[1], 0xef);
    uint16_t serial;
    char why[128];
    ck_assert_int_eq(
        ingest_jt808_parse_answer_location(b, (size_t)n, 480, &serial, &back, why, sizeof why), 0);
    ck_assert_int_eq(serial, 0xbeef);
    ck_assert(fabs(back.lat - l.lat) < 1e-6 && fabs(back.lon - l.lon) < 1e-6);
    ck_assert_int_eq(back.ts_us, l.ts_us);
    ck_assert_int_eq(ingest_jt808_parse_answer_location(b, 1, 480, &serial, &back, why, sizeof why),
                     CORE_EINVAL);
    ck_assert_int_eq(
        ingest_jt808_parse_answer_location(b, 20, 480, &serial, &back, why, sizeof why),
        CORE_EINVAL);
}
END_TEST

/* ---- e-lock vendor items (layouts in docs/jt808.md, "E-lock items") ---- */

/* The 28 bytes of a basic location: status fix + door locked, 22.547 N 114.057 E,
 * 2024-05-06 14:30:00 GMT+8 (the LOC vector's fields without its items). */
static const uint8_t BASIC[28] = {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x02, 0x01, 0x58,
                                  0x0a, 0x38, 0x06, 0xcc, 0x5f, 0x28, 0x00, 0x32, 0x02, 0x5d,
                                  0x00, 0x5a, 0x24, 0x05, 0x06, 0x14, 0x30, 0x00};

/* Items written from the layouts by hand: 0xD3 power 12.6 V; 0xD5 two locks (main lock id
 * 3300112233, card 00a1b2c3d4, 77 %, status 0x0002 locked; slave 3300112234, card
 * 00a1b2c3d5, 41 %, status 0x0020 unlocked); 0xDA cut count 2, status wire cut + back
 * cover opened (bits 0 and 3). */
static const uint8_t ELOCK_ITEMS[] = {
    0xd3, 0x02, 0x00, 0x7e,                                                       /* 126 */
    0xd5, 0x1b, 0x02,                                                             /* 2 locks */
    0x33, 0x00, 0x11, 0x22, 0x33, 0x00, 0xa1, 0xb2, 0xc3, 0xd4, 0x4d, 0x00, 0x02, /* main */
    0x33, 0x00, 0x11, 0x22, 0x34, 0x00, 0xa1, 0xb2, 0xc3, 0xd5, 0x29, 0x00, 0x20, /* slave */
    0xda, 0x03, 0x00, 0x02, 0x09,
};

static size_t elock_body(uint8_t *b, const uint8_t *items, size_t n)
{
    memcpy(b, BASIC, 28);
    memcpy(b + 28, items, n);
    return 28 + n;
}

typedef struct seen {
    int ids[16], n;
} seen;

static void see_item(void *arg, int id, const uint8_t *v, size_t len)
{
    (void)v, (void)len;
    seen *s = arg;
    if (s->n < 16)
        s->ids[s->n++] = id;
}

START_TEST(elock_lock_records_and_tamper)
{
    uint8_t b[256], out[256];
    size_t bl = elock_body(b, ELOCK_ITEMS, sizeof ELOCK_ITEMS);
    ingest_jt808_location l;
    char why[128] = "";
    seen sn = {.n = 0};
    ck_assert_int_eq(ingest_jt808_parse_location(b, bl, 480, &l, see_item, &sn, why, 128), 0);
    ck_assert_int_eq(l.items_dropped, 0);
    ck_assert_int_eq(sn.n, 3);
    ck_assert_double_eq_tol(l.elock.power_v, 12.6, 1e-9);
    ck_assert(isnan(l.elock.battery_v) && isnan(l.battery));
    ck_assert_int_eq(l.elock.locks_total, 2);
    ck_assert_int_eq(l.elock.n_locks, 2);
    ck_assert_str_eq(l.elock.locks[0].id, "3300112233");
    ck_assert_str_eq(l.elock.locks[0].card, "00a1b2c3d4");
    ck_assert_int_eq(l.elock.locks[0].battery, 77);
    ck_assert_int_eq(l.elock.locks[0].status, 0x0002);
    ck_assert_int_eq(l.elock.locks[0].locked, 1);
    ck_assert_str_eq(l.elock.locks[1].id, "3300112234");
    ck_assert_str_eq(l.elock.locks[1].card, "00a1b2c3d5");
    ck_assert_int_eq(l.elock.locks[1].battery, 41);
    ck_assert_int_eq(l.elock.locks[1].locked, 0);
    ck_assert_int_eq(l.elock.wire_cut_count, 2);
    ck_assert_int_eq(l.elock.wire_cut, 1);
    ck_assert_int_eq(l.elock.motion, 0);
    ck_assert_int_eq(l.elock.cover_open, 1);
    /* status bit 12 says locked, but a lock record says the slave is open */
    ck_assert_int_eq(ingest_jt808_location_open(&l), 1);
    ck_assert_str_eq(ingest_jt808_location_alarm(&l), "tampering");
    /* the encoder writes the same bytes back */
    int k = ingest_jt808_body_location(out, sizeof out, 480, &l);
    ck_assert_int_eq(k, (int)bl);
    ck_assert_mem_eq(out, b, bl);

    /* all locks locked: closed, whatever bit 12 says; only motion: no alarm */
    l.elock.locks[1].locked = 1;
    l.status &= ~(uint32_t)INGEST_JT808_ST_DOOR_LOCKED;
    ck_assert_int_eq(ingest_jt808_location_open(&l), 0);
    l.elock.wire_cut = l.elock.cover_open = 0;
    l.elock.motion = 1;
    ck_assert_str_eq(ingest_jt808_location_alarm(&l), "");
    /* the illegal door opening bit still wins over the tamper items */
    l.elock.cover_open = 1;
    l.alarm = INGEST_JT808_ALARM_DOOR_OPEN;
    ck_assert_str_eq(ingest_jt808_location_alarm(&l), "door_open");
    ck_assert_int_eq(ingest_jt808_location_open(&l), 1);
    /* without lock records bit 12 decides, as before */
    l.alarm = 0;
    l.elock.n_locks = 0;
    ck_assert_int_eq(ingest_jt808_location_open(&l), 1);
    l.status |= INGEST_JT808_ST_DOOR_LOCKED;
    ck_assert_int_eq(ingest_jt808_location_open(&l), 0);
}
END_TEST

START_TEST(elock_battery_items)
{
    static const struct {
        uint8_t items[8];
        size_t n;
        double battery, battery_v;
    } cases[] = {
        {{0xd4, 0x01, 0x3c}, 3, 60, NAN},
        {{0xfe, 0x01, 0x64}, 3, 100, NAN},
        {{0xe1, 0x01, 0x07}, 3, 7, NAN},
        {{0xfe, 0x01, 0x65}, 3, NAN, NAN}, /* over 100 %: not a percentage */
        {{0xd5, 0x02, 0x01, 0x9a}, 4, NAN, 4.10},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t b[64];
        size_t bl = elock_body(b, cases[i].items, cases[i].n);
        ingest_jt808_location l;
        char why[128];
        ck_assert_int_eq(ingest_jt808_parse_location(b, bl, 480, &l, NULL, NULL, why, 128), 0);
        ck_assert_int_eq(l.items_dropped, 0);
        if (isnan(cases[i].battery))
            ck_assert_msg(isnan(l.battery), "case %zu", i);
        else
            ck_assert_double_eq(l.battery, cases[i].battery);
        if (isnan(cases[i].battery_v))
            ck_assert(isnan(l.elock.battery_v));
        else
            ck_assert_double_eq_tol(l.elock.battery_v, cases[i].battery_v, 1e-9);
        ck_assert_int_eq(l.elock.n_locks, 0);
        ck_assert_str_eq(ingest_jt808_location_alarm(&l), "");
    }
}
END_TEST

/* The malformed-item rule: unknown items are kept (the walker sees them), a known item
 * whose inner layout does not fit its length is dropped and counted, and an item that
 * overruns the body ends the walk, is counted, and the fix is still decoded. */
START_TEST(elock_malformed_items)
{
    uint8_t b[256];
    ingest_jt808_location l;
    char why[128] = "";
    seen sn = {.n = 0};
    /* unknown 0x99 kept, 0xD5 claiming 2 records in 14 bytes dropped, 0xDA too short
     * dropped, 0x30 after them still read */
    static const uint8_t items[] = {0x99, 0x02, 0xab, 0xcd, 0xd5, 0x0e, 0x02, 0,    0,
                                    0,    0,    0,    0,    0,    0,    0,    0,    0,
                                    0,    0,    0xda, 0x02, 0x00, 0x01, 0x30, 0x01, 0x11};
    size_t bl = elock_body(b, items, sizeof items);
    ck_assert_int_eq(ingest_jt808_parse_location(b, bl, 480, &l, see_item, &sn, why, 128), 0);
    ck_assert_int_eq(l.items_dropped, 2);
    ck_assert_int_eq(sn.n, 4);
    ck_assert_int_eq(sn.ids[0], 0x99);
    ck_assert_int_eq(l.signal, 0x11);
    ck_assert_int_eq(l.elock.n_locks, 0);
    ck_assert_int_eq(l.elock.wire_cut, -1);

    /* 0xDA announcing 9 bytes with 3 left: dropped, the fix stands */
    static const uint8_t over[] = {0x31, 0x01, 0x08, 0xda, 0x09, 0x00, 0x01, 0x01};
    bl = elock_body(b, over, sizeof over);
    ck_assert_int_eq(ingest_jt808_parse_location(b, bl, 480, &l, NULL, NULL, why, 128), 0);
    ck_assert_str_eq(why, "additional item 0xda of 9 bytes overruns the body");
    ck_assert_int_eq(l.items_dropped, 1);
    ck_assert_int_eq(l.satellites, 8);
    ck_assert_int_eq(l.elock.wire_cut, -1);
    ck_assert_double_eq_tol(l.lat, 22.547, 1e-9);
    /* a lone id byte at the end */
    bl = elock_body(b, over, 4);
    ck_assert_int_eq(ingest_jt808_parse_location(b, bl, 480, &l, NULL, NULL, why, 128), 0);
    ck_assert_int_eq(l.items_dropped, 1);
    ck_assert_str_eq(why, "truncated additional item at byte 31");

    /* inside a 0x0704 the position with the bad item is kept too */
    uint8_t batch[128];
    batch[0] = 0, batch[1] = 1, batch[2] = 0, batch[3] = 0, batch[4] = (uint8_t)bl;
    memcpy(batch + 5, b, bl);
    ingest_jt808_location out[2];
    int cnt = 0, type = -1;
    ck_assert_int_eq(
        ingest_jt808_parse_batch(batch, 5 + bl, 480, out, 2, &cnt, &type, why, sizeof why), 0);
    ck_assert_int_eq(cnt, 1);
    ck_assert_int_eq(out[0].items_dropped, 1);

    /* more records than the decoder keeps: counted in locks_total */
    uint8_t many[2 + 1 + 13 * 10];
    memset(many, 0, sizeof many);
    many[0] = 0xd5, many[1] = 1 + 13 * 10, many[2] = 10;
    bl = elock_body(b, many, sizeof many);
    ck_assert_int_eq(ingest_jt808_parse_location(b, bl, 480, &l, NULL, NULL, why, 128), 0);
    ck_assert_int_eq(l.elock.locks_total, 10);
    ck_assert_int_eq(l.elock.n_locks, INGEST_JT808_LOCKS_MAX);
}
END_TEST

START_TEST(elock_decode_tool)
{
    const char *build = getenv("CORRIDOR_BUILD");
    ck_assert_msg(build != NULL, "CORRIDOR_BUILD not set");
    uint8_t b[256], wire[600];
    size_t bl = elock_body(b, ELOCK_ITEMS, sizeof ELOCK_ITEMS);
    b[bl++] = 0x99, b[bl++] = 0x01, b[bl++] = 0x5a; /* an unknown item */
    b[bl++] = 0xd3, b[bl++] = 0x05;                 /* overruns: dropped */
    ingest_jt808_head e = {.msg_id = 0x0200, .serial = 9};
    strcpy(e.terminal, "013912345678");
    int n = ingest_jt808_encode(&e, b, bl, wire, sizeof wire);
    ck_assert_int_gt(n, 0);
    char hex[1300], cmd[1600], out[4096];
    tohex(wire, (size_t)n, hex);
    snprintf(cmd, sizeof cmd, "echo '%s' | %s/corridor-decode jt808 --hex", hex, build);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    size_t k = fread(out, 1, sizeof out - 1, p);
    out[k] = '\0';
    ck_assert_int_eq(pclose(p), 0);
    ck_assert_str_eq(
        out,
        "{\"msg_id\":\"0x0200\",\"terminal\":\"013912345678\",\"serial\":9,\"version\":\"2013\","
        "\"lat\":22.547,\"lon\":114.057,\"altitude\":50,\"speed_kmh\":60.5,\"course\":90,"
        "\"time\":\"2024-05-06T06:30:00.000Z\",\"alarms\":[],\"status\":[\"fix\","
        "\"door_locked\"],\"seal_alarm\":\"tampering\",\"power_v\":12.6,\"wire_cut\":true,"
        "\"motion\":false,\"cover_open\":true,\"wire_cut_count\":2,\"locks\":[{\"id\":"
        "\"3300112233\",\"card\":\"00a1b2c3d4\",\"battery\":77,\"locked\":true,\"status\":2},"
        "{\"id\":\"3300112234\",\"card\":\"00a1b2c3d5\",\"battery\":41,\"locked\":false,"
        "\"status\":32}],\"items_dropped\":1,\"items\":{\"0x99\":\"5a\"}}\n");
}
END_TEST

/* JT705A-style location in JT/T 808 framing, built from the layout (docs/jt808.md):
 * 0x5501, properties 0x8023 (answer requested, 35 bytes), terminal 013912345678, serial
 * BYTE 5; body 06-05-24 14:30:00 UTC, 22 deg 32.8200' N, 114 deg 03.4200' E, flags 7
 * (fix, north, east), 30 knots, course 45 x 2, signal 28, 10 satellites, 1111 km, 85 %,
 * cell 12345, LAC 100, product 3, status 0x0020, alarm 0x0008 (low battery) */
#define JT705                                                                                      \
    "7e5501802301391234567805060524143000223282001140342007302d1c0a000004575500003039006403"       \
    "002000085a7e"
/* the same as a stored position (0x5502) without the answer bit, serial 6 */
#define JT705_BLIND                                                                                \
    "7e5502002301391234567806060524143000223282001140342007302d1c0a000004575500003039006403"       \
    "00200008da7e"
/* the platform's 0x4401 to serial 5: message 0x5501, result 0 */
#define JT705_ACK "7e4401000301391234567805550100277e"

START_TEST(jt705_location)
{
    ingest_jt808_head h;
    size_t bl;
    const uint8_t *b = one(JT705, &h, &bl);
    ck_assert_int_eq(h.msg_id, INGEST_JT808_JT705_LOCATION);
    ck_assert_int_eq(h.short_serial, 1);
    ck_assert_int_eq(h.ack_wanted, 1);
    ck_assert_int_eq(h.serial, 5);
    ck_assert_str_eq(h.terminal, "013912345678");
    ck_assert_uint_eq(bl, 35);
    ingest_jt808_location l;
    ingest_jt808_jt705 x;
    char why[128], t[40];
    ck_assert_msg(ingest_jt808_parse_jt705(b, bl, &l, &x, why, sizeof why) == 0, "%s", why);
    ck_assert_double_eq_tol(l.lat, 22.547, 1e-9);
    ck_assert_double_eq_tol(l.lon, 114.057, 1e-9);
    ck_assert_str_eq(core_iso8601(l.ts_us, t, sizeof t), "2024-05-06T14:30:00.000Z");
    ck_assert_double_eq_tol(l.speed_kmh, 30 * 1.852, 1e-9);
    ck_assert_int_eq(l.course, 90);
    ck_assert_int_eq(l.signal, 28);
    ck_assert_int_eq(l.satellites, 10);
    ck_assert_double_eq(l.mileage_km, 1111);
    ck_assert_double_eq(l.battery, 85);
    ck_assert_uint_eq(l.status, INGEST_JT808_ST_FIX);
    ck_assert_int_eq(x.cell, 12345);
    ck_assert_int_eq(x.lac, 100);
    ck_assert_int_eq(x.product, 3);
    ck_assert_int_eq(x.status, 0x0020);
    ck_assert_int_eq(x.alarm, 0x0008);
    ck_assert_int_eq(x.charging, 0);
    ck_assert_str_eq(ingest_jt808_location_alarm(&l), "low_battery");
    ck_assert_int_eq(ingest_jt808_location_open(&l), -1); /* no lock state */

    /* the encoders give back the same frame, and the answer */
    uint8_t body[64], out[256];
    char hex[600];
    ck_assert_int_eq(ingest_jt808_body_jt705(body, sizeof body, &l, &x), 35);
    ck_assert_mem_eq(body, b, 35);
    ingest_jt808_head e = {
        .msg_id = INGEST_JT808_JT705_LOCATION, .serial = 5, .short_serial = 1, .ack_wanted = 1};
    strcpy(e.terminal, "013912345678");
    int n = ingest_jt808_encode(&e, body, 35, out, sizeof out);
    tohex(out, (size_t)n, hex);
    ck_assert_str_eq(hex, JT705);
    e.msg_id = INGEST_JT808_JT705_ACK;
    e.ack_wanted = 0;
    ck_assert_int_eq(ingest_jt808_body_jt705_ack(body, sizeof body, INGEST_JT808_JT705_LOCATION,
                                                 INGEST_JT808_OK),
                     3);
    n = ingest_jt808_encode(&e, body, 3, out, sizeof out);
    tohex(out, (size_t)n, hex);
    ck_assert_str_eq(hex, JT705_ACK);
    e.serial = 256; /* a one-byte serial */
    ck_assert_int_eq(ingest_jt808_encode(&e, body, 3, out, sizeof out), CORE_EINVAL);

    /* no answer asked */
    b = one(JT705_BLIND, &h, &bl);
    ck_assert_int_eq(h.msg_id, INGEST_JT808_JT705_BLIND);
    ck_assert_int_eq(h.ack_wanted, 0);
    ck_assert_int_eq(h.serial, 6);

    /* the subpackage or version bit has no meaning in this header: refused */
    uint8_t raw[64];
    size_t rn = unhex(JT705, raw, sizeof raw);
    const uint8_t *bb;
    size_t bbl;
    raw[3] |= 0x20; /* properties bit 13 */
    uint8_t x8 = 0;
    for (size_t i = 1; i + 2 < rn; i++)
        x8 ^= raw[i];
    raw[rn - 2] = x8;
    ck_assert_int_eq(ingest_jt808_parse(raw + 1, rn - 2, &h, &bb, &bbl, why, sizeof why),
                     CORE_EINVAL);
    ck_assert_str_eq(why, "JT705 header with the subpackage or version bit");

    /* south and west when the flag bits are clear; charging; bad bodies */
    uint8_t bad[35];
    memcpy(bad, b, 35);
    bad[14] = 0x01, bad[23] = 0xaa;
    ck_assert_int_eq(ingest_jt808_parse_jt705(bad, 35, &l, &x, why, sizeof why), 0);
    ck_assert(l.lat < 0 && l.lon < 0 && isnan(l.battery) && x.charging);
    ck_assert_int_eq(ingest_jt808_parse_jt705(bad, 34, &l, &x, why, sizeof why), CORE_EINVAL);
    memcpy(bad, b, 35);
    bad[7] = 0x6a; /* minutes not BCD */
    ck_assert_int_eq(ingest_jt808_parse_jt705(bad, 35, &l, &x, why, sizeof why), CORE_EINVAL);
    memcpy(bad, b, 35);
    bad[7] = 0x62; /* 62 minutes */
    ck_assert_int_eq(ingest_jt808_parse_jt705(bad, 35, &l, &x, why, sizeof why), CORE_EINVAL);
    memcpy(bad, b, 35);
    bad[1] = 0x13; /* month 13 */
    ck_assert_int_eq(ingest_jt808_parse_jt705(bad, 35, &l, &x, why, sizeof why), CORE_EINVAL);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("jt808");
    TCase *tc = tcase_create("codec");
    tcase_add_test(tc, headers_2013_and_2019);
    tcase_add_test(tc, escaping_both_ways);
    tcase_add_test(tc, location_2013);
    tcase_add_test(tc, location_bad_bodies);
    tcase_add_test(tc, every_mapped_alarm_bit);
    tcase_add_test(tc, batch_of_three);
    tcase_add_test(tc, bad_checksum_and_length);
    tcase_add_test(tc, truncated_frames);
    tcase_add_test(tc, garbage_between_frames);
    tcase_add_test(tc, endless_frame);
    tcase_add_test(tc, subpackages);
    tcase_add_test(tc, register_and_auth);
    tcase_add_test(tc, time_zones);
    tcase_add_test(tc, decode_tool);
    suite_add_tcase(s, tc);
    TCase *cmd = tcase_create("commands");
    tcase_add_test(cmd, command_bodies);
    tcase_add_test(cmd, command_bad_bodies);
    tcase_add_test(cmd, answer_with_location);
    suite_add_tcase(s, cmd);
    TCase *el = tcase_create("elock_items");
    tcase_add_test(el, elock_lock_records_and_tamper);
    tcase_add_test(el, elock_battery_items);
    tcase_add_test(el, elock_malformed_items);
    tcase_add_test(el, elock_decode_tool);
    tcase_add_test(el, jt705_location);
    suite_add_tcase(s, el);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
