/*
 * test_ais.c: the AIS codec (ingest/ais.c). Published sentences with known values,
 * multipart, tag blocks, every bad-input class, receiver suffixes after the checksum, the
 * encoder round trip, a comparison with gpsd's own gpsdecode -j on 8000 generated messages
 * of all 27 types (field by field and byte by byte), and interleaved multipart streams
 * checked against the generator's truth.
 * Single-threaded; writes temporary files under /tmp.
 */
#include "ais.h"
#include "core.h"

#include <check.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int line(ingest_ais *d, const char *s, ingest_ais_msg *m)
{
    return ingest_ais_line(d, s, strlen(s), 0, m);
}

static uint64_t badn(ingest_ais *d, int reason)
{
    ingest_ais_stats st;
    ingest_ais_get_stats(d, &st);
    return st.bad[reason];
}

/* gpsd's and pyais's published examples */
#define T1  "!AIVDM,1,1,,B,15M67FC000G?ufbE`FepT@3n00Sa,0*5C"
#define T5A "!AIVDM,2,1,3,B,55P5TL01VIaAL@7WKO@mBplU@<PDhh000000001S;AJ::4A80?4i@E53,0*3E"
#define T5B "!AIVDM,2,2,3,B,1@0000000000000,2*55"
#define T18 "!AIVDM,1,1,,A,B6CdCm0t3`tba35f@V9faHi7kP06,0*58"

START_TEST(test_type1_known)
{
    ingest_ais *d = ingest_ais_new(0);
    ingest_ais_msg m;
    char js[1024];
    double lat, lon;

    ck_assert_int_eq(line(d, T1, &m), 1);
    ck_assert_int_eq(m.type, 1);
    ck_assert_int_eq(m.mmsi, 366053209);
    ck_assert_int_eq(m.status, 3);
    ck_assert_int_eq(m.course, 2193);
    ck_assert_int_eq(m.heading, 1);
    ck_assert_int_eq(m.second, 59);
    ck_assert_int_eq(m.radio, 2281);
    ck_assert_int_eq(m.channel, 'B');
    ck_assert_int_eq(ingest_ais_position(&m, &lat, &lon), 0);
    ck_assert(lat > 37.80211 && lat < 37.80212 && lon > -122.34162 && lon < -122.34161);
    ck_assert_int_gt(ingest_ais_json(&m, "stdin", js, sizeof js), 0);
    ck_assert_str_eq(js, "{\"class\":\"AIS\",\"device\":\"stdin\",\"type\":1,\"repeat\":0,"
                         "\"mmsi\":366053209,\"scaled\":true,\"status\":3,\"status_text\":"
                         "\"Restricted manoeuverability\",\"turn\":0,\"speed\":0.0,"
                         "\"accuracy\":false,\"lon\":-122.341618,\"lat\":37.802118,"
                         "\"course\":219.3,\"heading\":1,\"second\":59,\"maneuver\":0,"
                         "\"raim\":false,\"radio\":2281}\r\n");
    ingest_ais_free(d);
}
END_TEST

START_TEST(test_type5_multipart_and_tags)
{
    ingest_ais *d = ingest_ais_new(0);
    ingest_ais_msg m;

    ck_assert_int_eq(line(d, T5A, &m), 0);
    ck_assert_int_eq(line(d, T5B, &m), 1);
    ck_assert_int_eq(m.type, 5);
    ck_assert_int_eq(m.mmsi, 369190000);
    ck_assert_int_eq(m.imo, 6710932);
    ck_assert_str_eq(m.callsign, "WDA9674");
    ck_assert_str_eq(m.shipname, "MT.MITCHELL");
    ck_assert_str_eq(m.destination, "SEATTLE");
    ck_assert_int_eq(m.shiptype, 99);
    ck_assert_int_eq(m.to_bow, 90);
    ck_assert_int_eq(m.draught, 60);
    ck_assert_int_eq(m.month, 1);
    ck_assert_int_eq(m.day, 2);
    ck_assert_int_eq(m.hour, 8);
    /* with NMEA 4.0 tag blocks in front */
    ck_assert_int_eq(line(d, "\\g:1-2-73874,n:157036,s:r003669945,c:1241544035*4A\\" T5A, &m), 0);
    ck_assert_int_eq(line(d, "\\g:2-2-73874,n:157037*1D\\" T5B, &m), 1);
    ck_assert_str_eq(m.shipname, "MT.MITCHELL");
    /* a bad tag block checksum drops the line */
    ck_assert_int_eq(line(d, "\\s:x,c:1*00\\" T1, &m), CORE_EINVAL);
    ck_assert_int_eq(badn(d, INGEST_AIS_BAD_CHECKSUM), 1);
    /* type 18 from the published examples */
    ck_assert_int_eq(line(d, T18, &m), 1);
    ck_assert_int_eq(m.type, 18);
    ck_assert_int_eq(m.mmsi, 423302100);
    ck_assert_int_eq(m.speed, 14);
    ck_assert_int_eq(m.course, 1770);
    ck_assert_int_eq(m.heading, 177);
    ck_assert_int_eq(m.second, 34);
    ingest_ais_free(d);
}
END_TEST

START_TEST(test_bad_input)
{
    ingest_ais *d = ingest_ais_new(1000);
    ingest_ais_msg m;
    char big[INGEST_AIS_LINE_MAX + 50], enc[512];
    ingest_ais_stats st;

    /* checksum wrong, and missing */
    ck_assert_int_eq(line(d, "!AIVDM,1,1,,B,15M67FC000G?ufbE`FepT@3n00Sa,0*5D", &m), CORE_EINVAL);
    ck_assert_int_eq(line(d, "!AIVDM,1,1,,B,15M67FC000G?ufbE`FepT@3n00Sa,0", &m), CORE_EINVAL);
    ck_assert_int_eq(badn(d, INGEST_AIS_BAD_CHECKSUM), 2);
    /* orphan: part 2 with no part 1; and part 1 that times out */
    ck_assert_int_eq(line(d, T5B, &m), CORE_EINVAL);
    ck_assert_int_eq(badn(d, INGEST_AIS_BAD_ORPHAN), 1);
    ck_assert_int_eq(ingest_ais_line(d, T5A, strlen(T5A), 0, &m), 0);
    ck_assert_int_eq(ingest_ais_line(d, T5B, strlen(T5B), 2000, &m), CORE_EINVAL);
    ck_assert_int_eq(badn(d, INGEST_AIS_BAD_ORPHAN), 3); /* timed out + its part 2 */
    /* fill bits: 6, and non-zero on a non-last fragment */
    ck_assert_int_eq(line(d, "!AIVDM,1,1,,B,15M67FC000G?ufbE`FepT@3n00Sa,6*5A", &m), CORE_EINVAL);
    ck_assert_int_eq(
        line(d, "!AIVDM,2,1,3,B,55P5TL01VIaAL@7WKO@mBplU@<PDhh000000001S;AJ::4A80?4i@E53,2*3C", &m),
        CORE_EINVAL);
    ck_assert_int_eq(badn(d, INGEST_AIS_BAD_FILL), 2);
    /* truncated: a type 1 of 150 bits */
    ck_assert_int_eq(line(d, "!AIVDM,1,1,,B,15M67FC000G?ufbE`FepT@3n,0*6E", &m), CORE_EINVAL);
    ck_assert_int_eq(badn(d, INGEST_AIS_BAD_TRUNCATED), 1);
    /* garbage: no sentence, bad armour character, missing fields */
    ck_assert_int_eq(line(d, "hello world", &m), CORE_EINVAL);
    ck_assert_int_eq(line(d, "!AIVDM,1,1,,B,15M67FC000G?ufbE`FepT@3n00S{,0*46", &m), CORE_EINVAL);
    ck_assert_int_eq(line(d, "!AIVDM,1,1,B,15M67FC000G?ufbE`FepT@3n00Sa*6C", &m), CORE_EINVAL);
    ck_assert_int_eq(badn(d, INGEST_AIS_BAD_GARBAGE), 3);
    /* overlong */
    memset(big, 'x', sizeof big);
    ck_assert_int_eq(ingest_ais_line(d, big, sizeof big, 0, &m), CORE_ETOOBIG);
    ck_assert_int_eq(badn(d, INGEST_AIS_BAD_OVERLONG), 1);
    /* non-AIS NMEA is ignored, not bad; decoding carries on */
    ck_assert_int_eq(
        line(d, "$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47", &m), 0);
    ck_assert_int_eq(line(d, T1, &m), 1);
    /* a stream: overlong line split over reads, then a good line */
    ingest_ais_feed(d, big, sizeof big, 0, NULL, NULL);
    ingest_ais_feed(d, "xx\n", 3, 0, NULL, NULL);
    snprintf(enc, sizeof enc, "%s\r\n%s\r\n%s\r", T1, T5A, T5B);
    ck_assert_int_eq(ingest_ais_feed(d, enc, 10, 0, NULL, NULL), 0);
    ingest_ais_get_stats(d, &st);
    ck_assert_uint_eq(st.bad[INGEST_AIS_BAD_OVERLONG], 2);
    ck_assert_uint_eq(st.ignored, 1);
    ingest_ais_free(d);
}
END_TEST

static int fed;
static void on_msg(void *arg, const ingest_ais_msg *m)
{
    (void)arg;
    fed += m->type;
}

/* What receivers append after the checksum, as seen in feeds: gpsd ignores it. */
static const char *const suffixes[] = {",s36310,d-081,T59.01777335",
                                       ",s22643,d-103,T52.93124901,x1,r07RSTO1",
                                       "\r",
                                       " ",
                                       "\\r\\n",
                                       ",",
                                       "\r\r",
                                       ",1234567890"};
#define NSUFFIXES ((int)(sizeof suffixes / sizeof suffixes[0]))

START_TEST(test_receiver_suffix)
{
    ingest_ais *d = ingest_ais_new(0);
    ingest_ais_msg m;
    char want[1024], got[1024], ln[256];
    int i;
    const char *s;

    ck_assert_int_eq(line(d, T1, &m), 1);
    ck_assert_int_gt(ingest_ais_json(&m, "stdin", want, sizeof want), 0);
    for (i = 0; i < NSUFFIXES; i++) {
        snprintf(ln, sizeof ln, "%s%s", T1, suffixes[i]);
        ck_assert_int_eq(line(d, ln, &m), 1);
        ck_assert_int_gt(ingest_ais_json(&m, "stdin", got, sizeof got), 0);
        ck_assert_str_eq(got, want);
    }
    /* multipart, the suffix on each fragment, through the stream splitter */
    fed = 0;
    s = T5A ",s36310,d-081,T59.01777335\r\r\n" T5B ",s36310,d-081,T59.01777406\r\n";
    ingest_ais_feed(d, s, strlen(s), 0, on_msg, NULL);
    ck_assert_int_eq(fed, 5);
    /* a control character after the checksum is still garbage, as it is to gpsd */
    ck_assert_int_eq(line(d, T1 "\x01", &m), CORE_EINVAL);
    ck_assert_int_eq(badn(d, INGEST_AIS_BAD_GARBAGE), 1);
    ck_assert_int_eq(badn(d, INGEST_AIS_BAD_CHECKSUM), 0);
    ingest_ais_free(d);
}
END_TEST

START_TEST(test_feed_split)
{
    ingest_ais *d = ingest_ais_new(0);
    const char *s = T1 "\r\n" T5A "\n" T5B "\n";
    size_t i, n = strlen(s);
    fed = 0;
    for (i = 0; i < n; i += 7)
        ingest_ais_feed(d, s + i, n - i < 7 ? n - i : 7, 0, on_msg, NULL);
    ck_assert_int_eq(fed, 1 + 5);
    ingest_ais_free(d);
}
END_TEST

START_TEST(test_encode_roundtrip)
{
    ingest_ais *d = ingest_ais_new(0);
    ingest_ais_msg m, o;
    char out[1024], *p, *nl;
    int got = 0;

    memset(&m, 0, sizeof m);
    m.type = 5;
    m.mmsi = 636012345;
    m.imo = 9876543;
    strcpy(m.callsign, "D5AB7");
    strcpy(m.shipname, "MSC \"KENYA\"");
    strcpy(m.destination, "KEMBA");
    m.shiptype = 71;
    m.draught = 123;
    m.month = 11;
    m.day = 26;
    ck_assert_int_gt(ingest_ais_encode(&m, NULL, 'A', 4, out, sizeof out), 0);
    ck_assert_ptr_nonnull(strstr(out, "!AIVDM,2,1,4,A,"));
    for (p = out; (nl = strchr(p, '\n')); p = nl + 1)
        if (ingest_ais_line(d, p, (size_t)(nl - p), 0, &o) == 1)
            got++;
    ck_assert_int_eq(got, 1);
    ck_assert_str_eq(o.shipname, "MSC \"KENYA\"");
    ck_assert_str_eq(o.destination, "KEMBA");
    ck_assert_int_eq(o.imo, 9876543);
    ck_assert_int_eq(o.draught, 123);
    ingest_ais_free(d);
}
END_TEST

/* ---- comparison with gpsdecode ---- */

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

static void rname(char *s, int max)
{
    static const char cs[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .-/\"\\@";
    int n = (int)rnd((uint32_t)max + 1), i;
    for (i = 0; i < n; i++)
        s[i] = cs[rnd(sizeof cs - 1)];
    s[n] = '\0';
    if (rnd(5) == 0 && n > 2)
        s[n - 1] = ' '; /* trailing space, trimmed by gpsd */
}

static int32_t rlat(int bits, int32_t na)
{
    switch (rnd(6)) {
    case 0:
        return na;
    case 1:
        return -(int32_t)rnd(54000000);
    case 2:
        return -1;
    default:
        return (int32_t)rnd(1u << (bits - 1)) - (int32_t)(1u << (bits - 2));
    }
}

/* put v (len bits) at bit start of b, MSB first */
static void setbits(uint8_t *b, unsigned start, unsigned len, uint32_t v)
{
    unsigned i;
    for (i = 0; i < len; i++) {
        unsigned bit = start + i;
        if ((v >> (len - 1 - i)) & 1u)
            b[bit >> 3] |= (uint8_t)(0x80u >> (bit & 7));
        else
            b[bit >> 3] &= (uint8_t) ~(0x80u >> (bit & 7));
    }
}

static unsigned rlen(unsigned lo, unsigned hi)
{
    return lo + rnd(hi - lo + 1);
}

/* The binary application messages gpsd 3.22 prints as fields (type, dac, fid, length or 0
 * for any); the generator makes raw ones by avoiding these, and fielded ones from those
 * the decoder writes (ok: all but 8/1/19, whose gpsd output is not JSON). */
static const struct {
    int type, dac, fid, bitlen, ok;
} apps[] = {
    {6, 1, 12, 0, 1},     {6, 1, 14, 0, 1},     {6, 1, 15, 0, 1},     {6, 1, 16, 0, 1},
    {6, 1, 18, 0, 1},     {6, 1, 20, 0, 1},     {6, 1, 25, 0, 1},     {6, 1, 28, 0, 1},
    {6, 1, 30, 0, 1},     {6, 1, 32, 0, 1},     {6, 200, 21, 248, 1}, {6, 200, 22, 232, 1},
    {6, 200, 55, 168, 1}, {6, 235, 10, 136, 1}, {6, 250, 10, 136, 1}, {8, 1, 11, 0, 1},
    {8, 1, 13, 0, 1},     {8, 1, 15, 0, 1},     {8, 1, 17, 0, 1},     {8, 1, 19, 0, 0},
    {8, 1, 27, 0, 1},     {8, 1, 29, 0, 1},     {8, 1, 31, 0, 1},     {8, 200, 10, 168, 1},
    {8, 200, 23, 256, 1}, {8, 200, 24, 168, 1}, {8, 200, 40, 168, 1},
};
#define NAPPS ((int)(sizeof apps / sizeof apps[0]))

static int is_app(int type, int dac, int fid, unsigned bitlen)
{
    int i;
    for (i = 0; i < NAPPS; i++)
        if (apps[i].type == type && apps[i].dac == dac && apps[i].fid == fid &&
            (apps[i].bitlen == 0 || apps[i].bitlen == (int)bitlen))
            return 1;
    return 0;
}

/* Types 6-17, 20, 22, 23, 25, 26 are encoded from m->bits: random bits of a length gpsd
 * accepts, with the fields that steer decoding (DAC/FID, flags) and edge values set. */
static void gen_bits(ingest_ais_msg *m)
{
    unsigned bl, i, hdr;
    uint8_t *b = m->bits;

    for (i = 0; i < sizeof m->bits - 8; i++)
        b[i] = (uint8_t)rnd(256);
    switch (m->type) {
    case 6:
    case 8: {
        unsigned at = m->type == 6 ? 72 : 40;
        int dac, fid, k;
        hdr = m->type == 6 ? 88 : 56;
        bl = rlen(hdr, rnd(3) ? 400 : 1008);
        do
            k = (int)rnd((unsigned)NAPPS);
        while (apps[k].type != m->type || !apps[k].ok);
        if (rnd(2)) {
            dac = apps[k].dac;
            fid = apps[k].fid;
            if (apps[k].bitlen)
                bl = (unsigned)apps[k].bitlen;
        } else {
            do { /* raw: a DAC/FID gpsd has no fields for, or a known one at another length */
                static const int dacs[] = {1, 200, 235, 250, 366, 316, 0, 1023};
                dac = rnd(4) ? dacs[rnd(8)] : (int)rnd(1024);
                fid = (int)rnd(64);
            } while (is_app(m->type, dac, fid, bl));
        }
        setbits(b, at, 10, (uint32_t)dac);
        setbits(b, at + 10, 6, (uint32_t)fid);
        {
            /* gpsd prints the texts of 6/200/21, 6/200/22 and 8/200/24 unescaped, so a '"'
             * or '\\' in them makes its line invalid JSON (docs/ais.md): keep them out */
            static const unsigned t6[] = {88,  94,  100, 106, 112, 118, 124, 130, 136, 142,
                                          148, 154, 160, 166, 172, 178, 184, 190, 196, 202};
            static const unsigned t8[] = {56, 62};
            const unsigned *at_ = NULL;
            unsigned nat = 0, j;
            if (m->type == 6 && dac == 200 && (fid == 21 || fid == 22)) {
                at_ = t6;
                nat = sizeof t6 / sizeof t6[0];
            } else if (m->type == 8 && dac == 200 && fid == 24) {
                at_ = t8;
                nat = 2;
            }
            for (i = 0; i < nat; i++) {
                unsigned c = 0;
                for (j = 0; j < 6; j++)
                    c = (c << 1) | ((b[(at_[i] + j) >> 3] >> (7 - ((at_[i] + j) & 7))) & 1u);
                if (c == 34 || c == 28)
                    setbits(b, at_[i], 6, 1);
            }
        }
        break;
    }
    case 7:
    case 13:
        bl = rlen(72, 168);
        break;
    case 9:
        bl = rlen(168, 180);
        if (rnd(4) == 0)
            setbits(b, 38, 12, 4094 + rnd(2)); /* altitude not available / high */
        if (rnd(4) == 0)
            setbits(b, 50, 10, 1022 + rnd(2)); /* speed not available / fast */
        break;
    case 10:
        bl = rlen(72, 80);
        break;
    case 11:
        bl = rlen(168, 172);
        break;
    case 12:
        bl = rlen(72, rnd(3) ? 300 : 1008);
        break;
    case 14:
        bl = rlen(40, rnd(3) ? 300 : 1008);
        break;
    case 15:
        bl = rlen(88, 168);
        break;
    case 16:
        bl = rlen(96, 168);
        break;
    case 17:
        bl = rlen(80, 816);
        break;
    case 20:
        bl = rlen(72, 186);
        break;
    case 22:
        bl = rlen(168, 172);
        break;
    case 23:
        bl = rlen(160, 168);
        break;
    case 25:
    case 26: {
        unsigned a = rnd(2), st = rnd(2), need = 40 + 16 * st + 30 * a + (m->type == 26 ? 20 : 0);
        setbits(b, 38, 1, a);
        setbits(b, 39, 1, st);
        bl = m->type == 25 ? rlen(need, 168) : rlen(need < 60 ? 60 : need, 1004);
        break;
    }
    default:
        bl = 168;
        break;
    }
    /* text of types 12 and 14 mostly from the usual characters, with '@' and spaces */
    if (m->type == 12 || m->type == 14) {
        unsigned start = m->type == 12 ? 72 : 40;
        for (i = start; i + 6 <= bl; i += 6)
            if (rnd(3))
                setbits(b, i, 6, rnd(8) == 0 ? 32 : 1 + rnd(26));
    }
    for (i = bl; i < 8 * (sizeof m->bits - 8); i++)
        setbits(b, i, 1, 0); /* zero fill bits, as the encoder sends */
    m->bitlen = (int32_t)bl;
}

static void gen(ingest_ais_msg *m, int i)
{
    /* 6 and 8 three times: they carry the application messages */
    static const int types[] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16,
                                17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 6,  6,  8,  8};
    memset(m, 0, sizeof *m);
    m->type = types[rnd(sizeof types / sizeof types[0])];
    m->repeat = (int32_t)rnd(4);
    m->mmsi = (int32_t)(rnd(5) == 0 ? 980000000 + rnd(9999999) : 200000000 + rnd(600000000));
    m->status = (int32_t)rnd(16);
    m->turn = (int32_t)rnd(256) - 128;
    m->speed = rnd(4) == 0 ? 1022 + (int32_t)rnd(2) : (int32_t)rnd(1024);
    m->accuracy = (int32_t)rnd(2);
    m->lon = rlat(28, 108600000);
    m->lat = rlat(27, 54600000);
    m->course = rnd(5) == 0 ? 3600 : (int32_t)rnd(4096);
    m->heading = rnd(4) == 0 ? 511 : (int32_t)rnd(360);
    m->second = (int32_t)rnd(64);
    m->maneuver = (int32_t)rnd(3);
    m->raim = (int32_t)rnd(2);
    m->radio = (int32_t)rnd(1u << 19);
    m->year = (int32_t)rnd(16384);
    m->month = (int32_t)rnd(16);
    m->day = (int32_t)rnd(32);
    m->hour = (int32_t)rnd(32);
    m->minute = (int32_t)rnd(64);
    m->epfd = (int32_t)rnd(16);
    m->ais_version = (int32_t)rnd(4);
    m->imo = (int32_t)rnd(1u << 30);
    m->shiptype = (int32_t)rnd(256);
    m->to_bow = (int32_t)rnd(512);
    m->to_stern = (int32_t)rnd(512);
    m->to_port = (int32_t)rnd(64);
    m->to_starboard = (int32_t)rnd(64);
    m->draught = (int32_t)rnd(256);
    m->dte = (int32_t)rnd(2);
    rname(m->callsign, 7);
    rname(m->shipname, 20);
    rname(m->destination, 20);
    rname(m->name, 34);
    rname(m->vendorid, 3);
    m->reserved = (int32_t)rnd(256);
    m->regional = (int32_t)rnd(m->type == 18 ? 4 : 16);
    m->cs = (int32_t)rnd(2);
    m->display = (int32_t)rnd(2);
    m->dsc = (int32_t)rnd(2);
    m->band = (int32_t)rnd(2);
    m->msg22 = (int32_t)rnd(2);
    m->assigned = (int32_t)rnd(2);
    m->aid_type = (int32_t)rnd(32);
    m->off_position = (int32_t)rnd(2);
    m->virtual_aid = (int32_t)rnd(2);
    m->model = (int32_t)rnd(16);
    m->serial = (int32_t)rnd(1u << 20);
    m->mothership_mmsi = (int32_t)rnd(1u << 30);
    m->gnss = (int32_t)rnd(2);
    m->part = rnd(8) == 0 ? INGEST_AIS_PART_B : INGEST_AIS_PART_AB;
    if (m->type == 27) {
        m->lon = rnd(6) == 0 ? 181 * 600 : (int32_t)rnd(1u << 18) - (1 << 17);
        m->lat = rnd(6) == 0 ? 91 * 600 : (int32_t)rnd(1u << 17) - (1 << 16);
        m->speed = (int32_t)rnd(64);
        m->course = (int32_t)rnd(512);
    }
    if (m->type != 24 && (m->type >= 6 && m->type <= 26) && m->type != 18 && m->type != 19 &&
        m->type != 21)
        gen_bits(m);
    if (i == 0) { /* one fixed edge message first: all "not available" */
        m->type = 1;
        m->lon = 108600000;
        m->lat = 54600000;
        m->speed = 1023;
        m->turn = -128;
        m->course = 3600;
        m->heading = 511;
    }
}

static int cmp_obj(json_object *a, json_object *b, int ln)
{
    struct json_object_iterator ia = json_object_iter_begin(a), ea = json_object_iter_end(a);
    struct json_object_iterator ib = json_object_iter_begin(b), eb = json_object_iter_end(b);
    int diff = 0;
    while (!json_object_iter_equal(&ia, &ea) && !json_object_iter_equal(&ib, &eb)) {
        const char *ka = json_object_iter_peek_name(&ia), *kb = json_object_iter_peek_name(&ib);
        json_object *va = json_object_iter_peek_value(&ia), *vb = json_object_iter_peek_value(&ib);
        if (strcmp(ka, kb) != 0) {
            fprintf(stderr, "line %d: field order/name: gpsdecode \"%s\", ours \"%s\"\n", ln, ka,
                    kb);
            diff++;
        } else if (json_object_get_type(va) != json_object_get_type(vb) ||
                   strcmp(json_object_to_json_string(va), json_object_to_json_string(vb)) != 0) {
            fprintf(stderr, "line %d: field \"%s\": gpsdecode %s, ours %s\n", ln, ka,
                    json_object_to_json_string(va), json_object_to_json_string(vb));
            diff++;
        }
        json_object_iter_next(&ia);
        json_object_iter_next(&ib);
    }
    if (!json_object_iter_equal(&ia, &ea) || !json_object_iter_equal(&ib, &eb)) {
        fprintf(stderr, "line %d: different number of fields\n", ln);
        diff++;
    }
    return diff;
}

#define NGEN 8000

/* Sets the fill bits of enc's last sentence to ones, as some transmitters send them
 * (gpsd keeps them in the last byte of raw data, but for type 8). */
static void set_fill_bits(char *enc)
{
    size_t n = strlen(enc);
    char *last, *star, *comma, *q;
    unsigned sum = 0;
    int fill, v;
    if (n < 4)
        return;
    enc[n - 2] = '\0'; /* drop "\r\n" while looking */
    last = strrchr(enc, '\n');
    last = last ? last + 1 : enc;
    star = strrchr(last, '*');
    comma = star - 2; /* ",f*hh" */
    fill = star[-1] - '0';
    if (fill > 0 && *comma == ',') {
        char *c = comma - 1;
        v = *c >= '`' ? *c - '`' + 40 : *c - '0';
        v |= (1 << fill) - 1;
        *c = (char)(v < 40 ? v + '0' : v + '`' - 40);
        for (q = last + 1; q < star; q++)
            sum ^= (unsigned char)*q;
        snprintf(star + 1, 3, "%02X", sum);
    }
    enc[n - 2] = '\r';
}

/* Appends a receiver's suffix to every sentence of enc (lines ending "\r\n"). */
static void add_suffixes(char *enc, size_t cap)
{
    char out[2048], *p, *nl;
    size_t k = 0;
    const char *sfx = suffixes[rnd(NSUFFIXES)];
    for (p = enc; (nl = strstr(p, "\r\n")); p = nl + 2)
        k += (size_t)snprintf(out + k, sizeof out - k, "%.*s%s\r\n", (int)(nl - p), p, sfx);
    ck_assert_uint_lt(k, cap);
    memcpy(enc, out, k + 1);
}

START_TEST(test_compare_gpsdecode)
{
    char path[] = "/tmp/corridor_ais_XXXXXX", cmd[256], enc[1024], js[INGEST_AIS_JSON_MAX],
         gl[INGEST_AIS_JSON_MAX];
    ingest_ais *d = ingest_ais_new(0);
    ingest_ais_msg m;
    FILE *f, *g, *ours;
    char *obuf = NULL;
    size_t olen = 0;
    int fd, i, ln = 0, diffs = 0, sentences = 0, n, printed = 0, per_type[28] = {0}, fielded = 0;
    ingest_ais_stats st;

    ck_assert_msg(access("/usr/bin/gpsdecode", X_OK) == 0, "gpsdecode (gpsd-clients) missing");
    fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    f = fdopen(fd, "w");
    ours = open_memstream(&obuf, &olen);
    for (i = 0; i < NGEN; i++) {
        char *p, *nl;
        gen(&m, i);
        n = ingest_ais_encode(&m, rnd(10) ? "AIVDM" : "AIVDO", "AB"[rnd(2)], i % 10, enc,
                              sizeof enc);
        ck_assert_int_gt(n, 0);
        if (rnd(4) == 0)
            set_fill_bits(enc);
        if (rnd(8) == 0)
            add_suffixes(enc, sizeof enc);
        fputs(enc, f);
        for (p = enc; (nl = strchr(p, '\n')); p = nl + 1) {
            ingest_ais_msg o;
            sentences++;
            if (ingest_ais_line(d, p, (size_t)(nl - p), 0, &o) == 1 &&
                ingest_ais_json(&o, "stdin", js, sizeof js) > 0) {
                fputs(js, ours);
                printed++;
                per_type[o.type]++;
                if ((o.type == 6 || o.type == 8) && !strstr(js, "\"data\":"))
                    fielded++;
            }
        }
    }
    fclose(f);
    fclose(ours);
    ck_assert_int_gt(sentences, NGEN);
    /* every generated message decodes: none is unsupported or dropped */
    ingest_ais_get_stats(d, &st);
    ck_assert_uint_eq(st.unsupported, 0);
    for (i = 0; i < INGEST_AIS_NBAD; i++)
        ck_assert_uint_eq(st.bad[i], 0);
    for (i = 1; i <= 27; i++)
        ck_assert_msg(per_type[i] > 0, "no message of type %d compared", i);
    snprintf(cmd, sizeof cmd, "/usr/bin/gpsdecode -j < %s 2>/dev/null", path);
    g = popen(cmd, "r");
    ck_assert_ptr_nonnull(g);
    {
        FILE *o = fmemopen(obuf, olen, "r");
        char ol[INGEST_AIS_JSON_MAX];
        while (fgets(gl, sizeof gl, g)) {
            json_object *a = json_tokener_parse(gl), *b;
            ln++;
            if (!fgets(ol, sizeof ol, o)) {
                fprintf(stderr, "line %d: ours ended early\n", ln);
                diffs++;
                json_object_put(a);
                break;
            }
            b = json_tokener_parse(ol);
            ck_assert_msg(a != NULL, "line %d: gpsdecode's is not JSON: %s", ln, gl);
            ck_assert_msg(b != NULL, "line %d: ours is not JSON: %s", ln, ol);
            diffs += cmp_obj(a, b, ln);
            if (strcmp(gl, ol) != 0 && diffs == 0) {
                fprintf(stderr, "line %d: bytes differ\n%s%s", ln, gl, ol);
                diffs++;
            }
            json_object_put(a);
            json_object_put(b);
        }
        if (fgets(ol, sizeof ol, o)) {
            fprintf(stderr, "ours has more lines than gpsdecode (%d)\n", ln);
            diffs++;
        }
        fclose(o);
    }
    pclose(g);
    unlink(path);
    free(obuf);
    ingest_ais_free(d);
    ck_assert_int_gt(ln, NGEN * 8 / 10);
    ck_assert_int_eq(ln, printed);
    fprintf(stderr, "compared %d messages with gpsdecode:", ln);
    for (i = 1; i <= 27; i++)
        fprintf(stderr, " %d:%d", i, per_type[i]);
    fprintf(stderr, " (types 6 and 8: %d application messages with fields)\n", fielded);
    ck_assert_int_gt(fielded, 500);
    ck_assert_msg(diffs == 0, "%d differences from gpsdecode", diffs);
}
END_TEST

/* Where gpsd 3.22's own output is broken (docs/ais.md): 8/1/19 is counted unsupported,
 * not written as gpsd's invalid JSON, and the inland texts gpsd leaves unescaped are
 * escaped. */
START_TEST(test_gpsd_broken_output)
{
    ingest_ais *d = ingest_ais_new(0);
    ingest_ais_msg m, o;
    char enc[1024], js[INGEST_AIS_JSON_MAX];
    ingest_ais_stats st;
    json_object *j;

    memset(&m, 0, sizeof m);
    m.type = 8;
    m.mmsi = 2300061;
    m.bitlen = 360;
    setbits(m.bits, 40, 10, 1);
    setbits(m.bits, 50, 6, 19);
    ck_assert_int_gt(ingest_ais_encode(&m, NULL, 'A', 1, enc, sizeof enc), 0);
    ck_assert_int_eq(line(d, strtok(enc, "\r"), &o), 0);
    ingest_ais_get_stats(d, &st);
    ck_assert_uint_eq(st.unsupported, 1);

    memset(&m, 0, sizeof m);
    m.type = 6;
    m.mmsi = 2053507;
    m.bitlen = 248;
    setbits(m.bits, 72, 10, 200);
    setbits(m.bits, 82, 6, 21);
    setbits(m.bits, 88, 6, 34); /* country "\"\\" */
    setbits(m.bits, 94, 6, 28);
    ck_assert_int_gt(ingest_ais_encode(&m, NULL, 'A', 1, enc, sizeof enc), 0);
    ck_assert_int_eq(line(d, strtok(enc, "\r"), &o), 1);
    ck_assert_int_gt(ingest_ais_json(&o, "stdin", js, sizeof js), 0);
    j = json_tokener_parse(js);
    ck_assert_ptr_nonnull(j);
    ck_assert_str_eq(json_object_get_string(json_object_object_get(j, "country")), "\"\\");
    json_object_put(j);
    ingest_ais_free(d);
}
END_TEST

/* ---- interleaved multipart messages: never a chimera ---- */

#define IL_MAX  40 /* messages per stream */
#define IL_OPEN 8  /* at most in progress at once, as Corridor keeps 8 */
struct il_msg {
    char sent[9][128]; /* its sentences, in order */
    int nsent, next;
    char chan;
    int seq;
    char truth[INGEST_AIS_JSON_MAX]; /* its JSON, decoded alone */
    int seen;
};
static struct il_msg il[IL_MAX];
static int il_n, il_out, il_bad;

static void il_on_msg(void *arg, const ingest_ais_msg *m)
{
    char js[INGEST_AIS_JSON_MAX];
    int k;
    (void)arg;
    il_out++;
    ck_assert_int_gt(ingest_ais_json(m, "stdin", js, sizeof js), 0);
    for (k = 0; k < il_n; k++)
        if (strcmp(js, il[k].truth) == 0) {
            il[k].seen++;
            return;
        }
    il_bad++;
    fprintf(stderr, "not a message that was sent: %s", js);
}

/* A receiver's stream: up to IL_OPEN messages in progress at once, their fragments sent in
 * random order (each message's in its own order), on one channel or two. As a receiver
 * does, a multipart message takes a sequential id 0..9 not in use on its channel by a
 * message still in progress; ids are reused once free. gpsd 3.22 keeps one message in
 * progress per channel whatever its id, so it joins the first fragment of one message to
 * the second of another (docs/ais.md); every message Corridor prints must be one that was
 * sent (the generator's truth, each decoded alone), and every message must be printed. */
START_TEST(test_interleaved_multipart)
{
    int round, total_out = 0, total_sent = 0, total_multi = 0;

    for (round = 0; round < 300; round++) {
        ingest_ais *d = ingest_ais_new(0);
        int chans = 1 + round % 2, k, opened = 0, open = 0, done = 0;
        int open_k[IL_OPEN];
        il_n = 10 + (int)rnd(IL_MAX - 10 + 1);
        il_out = il_bad = 0;
        for (k = 0; k < il_n; k++) {
            struct il_msg *x = &il[k];
            ingest_ais_msg m;
            do {
                gen(&m, 1);
            } while (m.type == 24 ||
                     (rnd(4) && m.type != 5 && m.type != 6 && m.type != 8 && m.type != 12 &&
                      m.type != 14 && m.type != 17 && m.type != 26));
            m.mmsi = 100000000 + round * IL_MAX + k; /* every message differs */
            x->chan = chans == 1 ? 'A' : "AB"[rnd(2)];
            x->nsent = x->next = x->seen = 0;
            x->seq = -1;
            x->truth[0] = '\0';
            {
                ingest_ais *alone = ingest_ais_new(0);
                ingest_ais_msg o;
                char enc[1024], *p, *nl;
                ck_assert_int_gt(ingest_ais_encode(&m, "AIVDM", x->chan, 0, enc, sizeof enc), 0);
                for (p = enc; (nl = strchr(p, '\n')); p = nl + 1) {
                    snprintf(x->sent[x->nsent++], sizeof x->sent[0], "%.*s", (int)(nl - p + 1), p);
                    if (ingest_ais_line(alone, p, (size_t)(nl - p), 0, &o) == 1)
                        ingest_ais_json(&o, "stdin", x->truth, sizeof x->truth);
                }
                ck_assert_msg(x->truth[0], "generated message does not decode alone");
                ingest_ais_free(alone);
            }
        }
        while (done < il_n) {
            /* open the next message when there is room (or by chance), else send a fragment
             * of one in progress */
            if (opened < il_n && (open == 0 || (open < IL_OPEN && rnd(3) == 0))) {
                struct il_msg *x = &il[opened];
                if (x->nsent > 1) { /* a free id on its channel, put into its sentences */
                    int used[10] = {0}, j, id;
                    for (j = 0; j < open; j++)
                        if (il[open_k[j]].chan == x->chan && il[open_k[j]].seq >= 0)
                            used[il[open_k[j]].seq] = 1;
                    do
                        id = (int)rnd(10);
                    while (used[id]);
                    x->seq = id;
                    for (j = 0; j < x->nsent; j++) {
                        char *f = x->sent[j], *star = strchr(f, '*');
                        unsigned sum = 0;
                        char *q;
                        /* "!AIVDM,n,k,S,..." : S is after the third comma */
                        q = strchr(strchr(strchr(f, ',') + 1, ',') + 1, ',') + 1;
                        *q = (char)('0' + id);
                        for (q = f + 1; q < star; q++)
                            sum ^= (unsigned char)*q;
                        snprintf(star, 6, "*%02X\r\n", sum);
                    }
                    total_multi++;
                }
                open_k[open++] = opened++;
                continue;
            }
            {
                int j = (int)rnd((uint32_t)open);
                struct il_msg *x = &il[open_k[j]];
                ingest_ais_feed(d, x->sent[x->next], strlen(x->sent[x->next]), 0, il_on_msg, NULL);
                if (++x->next == x->nsent) {
                    open_k[j] = open_k[--open];
                    done++;
                }
            }
        }
        ck_assert_msg(il_bad == 0, "round %d: %d chimeras", round, il_bad);
        for (k = 0; k < il_n; k++)
            ck_assert_msg(il[k].seen == 1, "round %d: message %d printed %d times", round, k,
                          il[k].seen);
        total_out += il_out;
        total_sent += il_n;
        ingest_ais_free(d);
    }
    fprintf(stderr,
            "interleaved: %d messages sent (%d multipart), %d printed, each one that was "
            "sent\n",
            total_sent, total_multi, total_out);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ais");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, test_type1_known);
    tcase_add_test(tc, test_type5_multipart_and_tags);
    tcase_add_test(tc, test_bad_input);
    tcase_add_test(tc, test_feed_split);
    tcase_add_test(tc, test_receiver_suffix);
    tcase_add_test(tc, test_gpsd_broken_output);
    tcase_add_test(tc, test_encode_roundtrip);
    tcase_add_test(tc, test_compare_gpsdecode);
    tcase_add_test(tc, test_interleaved_multipart);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
