/*
 * jt808_fuzz.c: libFuzzer target for the JT/T 808 codec (ingest/jt808.c). The input is a
 * TCP byte stream fed to the frame splitter in uneven pieces; every frame is parsed, its
 * body decoded as each message type, subpackages reassembled, and parsed locations and
 * registrations re-encoded and parsed again (the result must agree). Single-threaded.
 */
#include "core.h"
#include "jt808.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static ingest_jt808_reasm reasm;
static ingest_jt808_location locs[INGEST_JT808_BATCH_MAX];

static void on_item(void *arg, int id, const uint8_t *v, size_t len)
{
    size_t *n = arg;
    *n += len + (size_t)(id & 1) + (len ? v[0] & 1 : 0);
}

static void check_location(const ingest_jt808_location *l, int tz)
{
    uint8_t body[256];
    ingest_jt808_location back;
    int k = ingest_jt808_body_location(body, sizeof body, tz, l);
    if (k < 0)
        return;
    if (ingest_jt808_parse_location(body, (size_t)k, tz, &back, NULL, NULL, NULL, 0) != 0)
        abort();
    if (back.ts_us != l->ts_us - l->ts_us % 1000000 || back.alarm != l->alarm)
        abort();
    /* the e-lock items come back as they were decoded, and nothing is malformed */
    const ingest_jt808_elock *a = &l->elock, *e = &back.elock;
    if (back.items_dropped != 0 || e->n_locks != a->n_locks ||
        (e->wire_cut > 0) != (a->wire_cut > 0) || (e->cover_open > 0) != (a->cover_open > 0) ||
        ingest_jt808_location_open(&back) != ingest_jt808_location_open(l) ||
        strcmp(ingest_jt808_location_alarm(&back), ingest_jt808_location_alarm(l)) != 0)
        abort();
    for (int i = 0; i < a->n_locks; i++)
        if (e->locks[i].locked != a->locks[i].locked || strcmp(e->locks[i].card, a->locks[i].card))
            abort();
}

static void body(const ingest_jt808_head *h, const uint8_t *b, size_t n)
{
    char why[160];
    size_t items = 0;
    ingest_jt808_location l;
    ingest_jt808_register r;
    ingest_jt808_auth a;
    int count, type;
    uint16_t rs, rid;
    int res;
    char code[65];

    if (ingest_jt808_parse_location(b, n, 480, &l, on_item, &items, why, sizeof why) == 0)
        check_location(&l, 480);
    ingest_jt808_jt705 x;
    if (ingest_jt808_parse_jt705(b, n, &l, &x, why, sizeof why) == 0) {
        /* the BCD layout round-trips to the same position */
        uint8_t out[64];
        ingest_jt808_location back;
        int k = ingest_jt808_body_jt705(out, sizeof out, &l, &x);
        if (k != 35 || ingest_jt808_parse_jt705(out, 35, &back, NULL, NULL, 0) != 0 ||
            back.ts_us != l.ts_us || fabs(back.lat - l.lat) > 1e-6 || fabs(back.lon - l.lon) > 1e-6)
            abort();
    }
    if (ingest_jt808_parse_batch(b, n, -330, locs, INGEST_JT808_BATCH_MAX, &count, &type, why,
                                 sizeof why) == 0)
        for (int i = 0; i < count; i++)
            check_location(&locs[i], -330);
    if (ingest_jt808_parse_register(b, n, h->v2019, &r, why, sizeof why) == 0) {
        uint8_t out[256];
        ingest_jt808_register back;
        int k = ingest_jt808_body_register(out, sizeof out, h->v2019, &r);
        if (k > 0 && ingest_jt808_parse_register(out, (size_t)k, h->v2019, &back, NULL, 0) == 0 &&
            strcmp(back.plate, r.plate) != 0)
            abort();
    }
    ingest_jt808_parse_auth(b, n, h->v2019, &a, why, sizeof why);
    /* the device side of commands, and the answers that carry a location */
    ingest_jt808_command cmd;
    if (ingest_jt808_command_parse(h->msg_id, b, n, h->v2019, &cmd, why, sizeof why) == 0) {
        uint8_t out[512];
        ingest_jt808_command back;
        int k = ingest_jt808_command_body(&cmd, h->v2019, out, sizeof out);
        if (k >= 0 &&
            (ingest_jt808_command_parse(h->msg_id, out, (size_t)k, h->v2019, &back, NULL, 0) != 0 ||
             back.n_params != cmd.n_params || back.lock != cmd.lock))
            abort();
    }
    uint16_t answered;
    if (ingest_jt808_parse_answer_location(b, n, 480, &answered, &l, why, sizeof why) == 0)
        check_location(&l, 480);
    ingest_jt808_parse_ack(b, n, &rs, &rid, &res);
    ingest_jt808_parse_register_ack(b, n, &rs, &res, code, sizeof code);
    ingest_jt808_seal_alarm(n >= 4 ? (uint32_t)b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3] : 0);
}

static void frame(const uint8_t *f, size_t len)
{
    ingest_jt808_head h;
    const uint8_t *b;
    size_t bl;
    char why[160];
    if (ingest_jt808_parse(f, len, &h, &b, &bl, why, sizeof why) != 0)
        return;
    /* re-encoding and splitting again gives back the same frame */
    uint8_t wire[2 * (INGEST_JT808_FRAME_MAX + 1) + 2];
    int k = ingest_jt808_encode(&h, b, bl, wire, sizeof wire);
    if (k < 0)
        abort();
    ingest_jt808_splitter s2;
    ingest_jt808_splitter_init(&s2);
    const uint8_t *f2;
    size_t l2, used;
    /* (the reserved bit 15 of the properties is not kept) */
    if (ingest_jt808_split(&s2, wire, (size_t)k, &used, &f2, &l2) != 1 || l2 != len ||
        (!(f[2] & 0x80) && memcmp(f2, f, len) != 0))
        abort();
    if (h.subpackage) {
        if (ingest_jt808_reasm_add(&reasm, &h, b, bl) == 1)
            body(&h, reasm.buf, reasm.len);
        return;
    }
    body(&h, b, bl);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static ingest_jt808_splitter s;
    ingest_jt808_splitter_init(&s);
    ingest_jt808_reasm_init(&reasm);
    size_t off = 0, piece = 1;
    while (off < size) {
        size_t n = size - off < piece ? size - off : piece, used = 0, fl;
        const uint8_t *p = data + off, *f;
        size_t left = n;
        while (left > 0) {
            int rc = ingest_jt808_split(&s, p, left, &used, &f, &fl);
            if (used > left || (rc == 1 && fl > INGEST_JT808_FRAME_MAX))
                abort();
            if (rc == 1)
                frame(f, fl);
            p += used;
            left -= used;
        }
        off += n;
        piece = piece * 7 % 61 + 1;
    }
    return 0;
}
