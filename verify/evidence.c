/*
 * evidence.c: the checker of an evidence file (verify.h). It mirrors the database's own
 * check (schema/rules/evidence.sql, trip_chain_problems): a position is good when its link
 * is SHA-256(canonical || the link of a position one seq before it); a seq of the segment
 * without a position was removed; a position without a seq, or a second one of a seq whose
 * first is good, was inserted; a position whose link does not follow, or whose fields are
 * not its canonical content, was changed. The canonical bytes are decoded and compared with
 * the fields shown, so a file edited by hand is caught too.
 *
 * Owns nothing past a call but the report's problem array. Any thread.
 */
#include "verify.h"

#include <json-c/json.h>
#include <math.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CANON_MAX 4096

struct pos {
    int has_seq;
    long long seq;
    const char *ts;
    unsigned char canon[CANON_MAX];
    size_t canon_len;
    unsigned char link[32];
    int has_link;
    int ok; /* 1 good, 0 bad, -1 cannot be checked (no position before it) */
    int fields_ok;
    int rank; /* order among the positions of its seq, good first */
};

static void add_problem(ver_report *rep, long long seq, const char *kind, const char *ts,
                        const char *why)
{
    if (rep->n_problems == rep->cap_problems) {
        size_t cap = rep->cap_problems ? rep->cap_problems * 2 : 16;
        ver_problem *p = realloc(rep->problems, cap * sizeof *p);
        if (!p)
            return;
        rep->problems = p;
        rep->cap_problems = cap;
    }
    ver_problem *p = &rep->problems[rep->n_problems++];
    p->seq = seq;
    snprintf(p->kind, sizeof p->kind, "%s", kind);
    snprintf(p->ts, sizeof p->ts, "%s", ts ? ts : "");
    snprintf(p->why, sizeof p->why, "%s", why ? why : "");
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes hex into out (at most cap bytes); returns the length or -1. */
static long unhex(const char *s, unsigned char *out, size_t cap)
{
    size_t n = strlen(s);
    if (n % 2 || n / 2 > cap)
        return -1;
    for (size_t i = 0; i < n / 2; i++) {
        int a = hexval(s[2 * i]), b = hexval(s[2 * i + 1]);
        if (a < 0 || b < 0)
            return -1;
        out[i] = (unsigned char)(a << 4 | b);
    }
    return (long)(n / 2);
}

static void tohex(const unsigned char *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
    out[2 * n] = '\0';
}

static const char *jstr(json_object *o, const char *k)
{
    json_object *v;
    if (!json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

/* 1 with *out when o.k is a number, 0 when null or absent, -1 when something else. */
static int jnum(json_object *o, const char *k, double *out)
{
    json_object *v;
    if (!json_object_object_get_ex(o, k, &v) || !v)
        return 0;
    if (!json_object_is_type(v, json_type_double) && !json_object_is_type(v, json_type_int))
        return -1;
    *out = json_object_get_double(v);
    return 1;
}

/* ---- the canonical content (docs/evidence.md) ---- */

struct canon {
    long long seq;
    char seal[128];
    long long ts_us;
    double lat, lon;
    int has[5];
    float f[5];
    int has_lock, has_alarm;
    char lock[64], alarm[64];
};

static uint64_t be64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* 0 when b..n is one well-formed canonical content, -1 otherwise. */
static int canon_decode(const unsigned char *b, size_t n, struct canon *c)
{
    size_t o = 0;
    memset(c, 0, sizeof *c);
#define NEED(k)                                                                                    \
    do {                                                                                           \
        if (n - o < (size_t)(k))                                                                   \
            return -1;                                                                             \
    } while (0)
    NEED(3 + 8 + 4);
    if (memcmp(b, "CP1", 3) != 0)
        return -1;
    o = 3;
    c->seq = (long long)be64(b + o);
    o += 8;
    uint32_t len = be32(b + o);
    o += 4;
    if (len >= sizeof c->seal)
        return -1;
    NEED(len);
    memcpy(c->seal, b + o, len);
    o += len;
    NEED(8 + 8 + 8);
    c->ts_us = (long long)be64(b + o);
    o += 8;
    uint64_t u = be64(b + o);
    memcpy(&c->lat, &u, 8);
    o += 8;
    u = be64(b + o);
    memcpy(&c->lon, &u, 8);
    o += 8;
    for (int i = 0; i < 5; i++) {
        NEED(1);
        if (b[o] > 1)
            return -1;
        c->has[i] = b[o++];
        if (c->has[i]) {
            NEED(4);
            uint32_t w = be32(b + o);
            memcpy(&c->f[i], &w, 4);
            o += 4;
        }
    }
    for (int i = 0; i < 2; i++) {
        int *has = i ? &c->has_alarm : &c->has_lock;
        char *s = i ? c->alarm : c->lock;
        NEED(1);
        if (b[o] > 1)
            return -1;
        *has = b[o++];
        if (*has) {
            NEED(4);
            uint32_t l = be32(b + o);
            o += 4;
            if (l >= 64)
                return -1;
            NEED(l);
            memcpy(s, b + o, l);
            s[l] = '\0';
            o += l;
        }
    }
#undef NEED
    return o == n ? 0 : -1;
}

/* "2026-12-07T10:00:00.123456Z" as microseconds since 1970, or -1. */
static long long parse_ts(const char *s)
{
    struct tm tm = {0};
    int us = 0, nd = 0;
    if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                     &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
        return -1;
    const char *p = s + 19;
    if (*p == '.')
        for (p++; *p >= '0' && *p <= '9'; p++, nd++)
            if (nd < 6)
                us = us * 10 + (*p - '0');
    for (; nd < 6; nd++)
        us *= 10;
    if (*p != 'Z')
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (long long)timegm(&tm) * 1000000 + us;
}

static int same_num(int has_json, double j, int has, double d, double rel)
{
    if (has_json != has)
        return 0;
    return !has || fabs(j - d) <= rel * fmax(1.0, fabs(d));
}

/* 1 when the fields shown are the canonical content's, for the seal of the file. */
static int fields_match(json_object *p, const struct canon *c, const char *seal, long long seq)
{
    static const char *const names[5] = {"speed_kmh", "bearing", "altitude", "accuracy", "battery"};
    double v;
    if (c->seq != seq || strcmp(c->seal, seal) != 0 || parse_ts(jstr(p, "ts")) != c->ts_us)
        return 0;
    if (jnum(p, "lat", &v) != 1 || !same_num(1, v, 1, c->lat, 1e-12))
        return 0;
    if (jnum(p, "lon", &v) != 1 || !same_num(1, v, 1, c->lon, 1e-12))
        return 0;
    for (int i = 0; i < 5; i++) {
        v = 0;
        int h = jnum(p, names[i], &v);
        if (h < 0 || !same_num(h, v, c->has[i], c->f[i], 1e-6))
            return 0;
    }
    const char *lock = jstr(p, "lock"), *alarm = jstr(p, "alarm");
    if ((lock != NULL) != c->has_lock || (lock && strcmp(lock, c->lock) != 0))
        return 0;
    if ((alarm != NULL) != c->has_alarm || (alarm && strcmp(alarm, c->alarm) != 0))
        return 0;
    return 1;
}

static int link_follows(const struct pos *x, const unsigned char prev[32])
{
    unsigned char buf[CANON_MAX + 32], md[32];
    memcpy(buf, x->canon, x->canon_len);
    memcpy(buf + x->canon_len, prev, 32);
    SHA256(buf, x->canon_len + 32, md);
    return memcmp(md, x->link, 32) == 0;
}

/* ---- keys and signatures ---- */

size_t ver_head_message(char *buf, size_t n, const char *seal_id, long long seq,
                        const char *link_hex, const char *signed_at, const char *fingerprint)
{
    int r = snprintf(buf, n, "corridor-chain-head-v1\n%s\n%lld\n%s\n%s\n%s\n", seal_id, seq,
                     link_hex, signed_at, fingerprint);
    return r < 0 || (size_t)r >= n ? 0 : (size_t)r;
}

int ver_key_fingerprint(EVP_PKEY *key, char out[65])
{
    unsigned char raw[64], md[32];
    size_t len = sizeof raw;
    if (!key || EVP_PKEY_get_raw_public_key(key, raw, &len) != 1 || len != 32)
        return -1;
    SHA256(raw, len, md);
    tohex(md, 32, out);
    return 0;
}

static EVP_PKEY *key_from_pem(const char *pem)
{
    BIO *b = BIO_new_mem_buf(pem, -1);
    EVP_PKEY *k = b ? PEM_read_bio_PUBKEY(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    if (k && EVP_PKEY_get_base_id(k) != EVP_PKEY_ED25519) {
        EVP_PKEY_free(k);
        k = NULL;
    }
    return k;
}

EVP_PKEY *ver_key_load_public(const char *path, char *err, size_t n)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, n, "cannot open %s", path);
        return NULL;
    }
    EVP_PKEY *k = PEM_read_PUBKEY(f, NULL, NULL, NULL);
    if (!k) {
        rewind(f);
        k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    }
    fclose(f);
    if (!k || EVP_PKEY_get_base_id(k) != EVP_PKEY_ED25519) {
        EVP_PKEY_free(k);
        snprintf(err, n, "%s holds no Ed25519 key in PEM form", path);
        return NULL;
    }
    return k;
}

static int sig_ok(EVP_PKEY *key, const char *msg, size_t len, const unsigned char sig[64])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, key) == 1 &&
             EVP_DigestVerify(ctx, sig, 64, (const unsigned char *)msg, len) == 1;
    EVP_MD_CTX_free(ctx);
    return ok;
}

/* ---- the check ---- */

static int by_seq(const void *a, const void *b)
{
    const struct pos *x = a, *y = b;
    if (x->has_seq != y->has_seq)
        return x->has_seq ? -1 : 1;
    if (x->has_seq && x->seq != y->seq)
        return x->seq < y->seq ? -1 : 1;
    return strcmp(x->ts ? x->ts : "", y->ts ? y->ts : "");
}

static int by_problem(const void *a, const void *b)
{
    const ver_problem *x = a, *y = b;
    if (x->seq != y->seq)
        return x->seq < y->seq ? -1 : 1;
    return strcmp(x->kind, y->kind);
}

/* The positions of seq s: [*lo, *hi) in the sorted array. */
static void seq_range(const struct pos *ps, size_t n, long long s, size_t *lo, size_t *hi)
{
    size_t a = 0, b = n;
    while (a < b) { /* first with has_seq && seq >= s */
        size_t m = (a + b) / 2;
        if (ps[m].has_seq && ps[m].seq < s)
            a = m + 1;
        else
            b = m;
    }
    *lo = a;
    while (a < n && ps[a].has_seq && ps[a].seq == s)
        a++;
    *hi = a;
}

static int has_problem(const ver_report *rep, long long seq)
{
    for (size_t i = 0; i < rep->n_problems; i++)
        if (rep->problems[i].seq == seq && strcmp(rep->problems[i].kind, "signature") != 0)
            return 1;
    return 0;
}

int ver_check(const char *text, size_t len, EVP_PKEY *key, ver_report *rep, char *err, size_t n)
{
    memset(rep, 0, sizeof *rep);
    struct pos *ps = NULL;
    int rc = -1;
    json_tokener *tok = json_tokener_new();
    json_object *root = tok ? json_tokener_parse_ex(tok, text, (int)len) : NULL;
    if (!root || json_tokener_get_error(tok) != json_tokener_success ||
        !json_object_is_type(root, json_type_object)) {
        snprintf(err, n, "not JSON (%s)",
                 tok ? json_tokener_error_desc(json_tokener_get_error(tok)) : "out of memory");
        goto done;
    }
    const char *fmt = jstr(root, "format"), *seal = jstr(root, "seal_id");
    if (!fmt || strcmp(fmt, "corridor-evidence-v1") != 0) {
        snprintf(err, n, "not an evidence file (format is not corridor-evidence-v1)");
        goto done;
    }
    if (!seal || strlen(seal) >= sizeof rep->seal_id) {
        snprintf(err, n, "the evidence file names no seal_id");
        goto done;
    }
    snprintf(rep->seal_id, sizeof rep->seal_id, "%s", seal);
    snprintf(rep->trip_id, sizeof rep->trip_id, "%s",
             jstr(root, "trip_id") ? jstr(root, "trip_id") : "");
    double d;
    int has_first = jnum(root, "first_seq", &d) == 1;
    rep->first_seq = has_first ? (long long)d : 0;
    rep->last_seq = jnum(root, "last_seq", &d) == 1 ? (long long)d : 0;
    unsigned char prev_link[32];
    const char *pl = jstr(root, "prev_link");
    int has_prev = pl && unhex(pl, prev_link, 32) == 32;

    json_object *arr;
    if (!json_object_object_get_ex(root, "positions", &arr) ||
        !json_object_is_type(arr, json_type_array)) {
        snprintf(err, n, "the evidence file has no positions array");
        goto done;
    }
    size_t np = json_object_array_length(arr);
    ps = calloc(np ? np : 1, sizeof *ps);
    if (!ps) {
        snprintf(err, n, "out of memory");
        goto done;
    }
    size_t chained = 0;
    for (size_t i = 0; i < np; i++) {
        json_object *p = json_object_array_get_idx(arr, i);
        struct pos *x = &ps[i];
        if (!json_object_is_type(p, json_type_object)) {
            snprintf(err, n, "position %zu is not an object", i + 1);
            goto done;
        }
        x->ts = jstr(p, "ts");
        int hs = jnum(p, "seq", &d);
        if (hs < 0 || (hs == 1 && (d < 1 || d > 9e15 || d != floor(d)))) {
            snprintf(err, n, "position %zu: seq is not a positive integer", i + 1);
            goto done;
        }
        x->has_seq = hs == 1;
        x->seq = x->has_seq ? (long long)d : 0;
        if (!x->has_seq)
            continue;
        chained++;
        const char *c = jstr(p, "canonical"), *l = jstr(p, "link");
        long cl = c ? unhex(c, x->canon, sizeof x->canon) : -1;
        x->has_link = l && unhex(l, x->link, 32) == 32;
        struct canon cn;
        x->canon_len = cl > 0 ? (size_t)cl : 0;
        x->fields_ok = cl > 0 && x->has_link && canon_decode(x->canon, x->canon_len, &cn) == 0 &&
                       fields_match(p, &cn, seal, x->seq);
    }
    rep->n_positions = np;
    if (np)
        qsort(ps, np, sizeof *ps, by_seq);

    /* each chained position against the positions one seq before it */
    for (size_t i = 0; i < chained; i++) {
        struct pos *x = &ps[i];
        if (!x->fields_ok) {
            x->ok = 0;
            continue;
        }
        static const unsigned char genesis[32];
        if (x->seq == 1) {
            x->ok = link_follows(x, genesis);
        } else if (has_first && x->seq == rep->first_seq) {
            x->ok = has_prev ? link_follows(x, prev_link) : -1;
        } else {
            size_t lo, hi;
            seq_range(ps, chained, x->seq - 1, &lo, &hi);
            x->ok = lo == hi ? -1 : 0;
            for (size_t k = lo; k < hi && x->ok != 1; k++)
                if (ps[k].has_link)
                    x->ok = link_follows(x, ps[k].link);
        }
    }
    /* per seq: the good one first; the rest inserted, or changed when none is good */
    for (size_t i = 0; i < chained;) {
        size_t lo, hi;
        seq_range(ps, chained, ps[i].seq, &lo, &hi);
        size_t good = hi; /* the first good (or uncheckable) one */
        for (size_t k = lo; k < hi && good == hi; k++)
            if (ps[k].ok != 0)
                good = k;
        for (size_t k = lo; k < hi; k++) {
            ps[k].rank = k == (good < hi ? good : lo) ? 0 : 1;
            if (ps[k].ok != 0)
                continue;
            add_problem(rep, ps[k].seq, ps[k].rank == 0 ? "changed" : "inserted", ps[k].ts,
                        !ps[k].fields_ok ? "its fields are not its canonical content"
                                         : "its link does not follow from its content");
        }
        i = hi;
    }
    /* seqs without a position */
    if (has_first && rep->last_seq >= rep->first_seq &&
        rep->last_seq - rep->first_seq < 100000000) {
        for (long long s = rep->first_seq; s <= rep->last_seq; s++) {
            size_t lo, hi;
            seq_range(ps, chained, s, &lo, &hi);
            if (lo == hi)
                add_problem(rep, s, "removed", NULL, "no position has this seq");
        }
    }
    /* positions without a seq: inserted after the chained one before them in time */
    for (size_t i = chained; i < np; i++) {
        long long after = rep->first_seq;
        const char *best = NULL;
        for (size_t k = 0; k < chained; k++)
            if (ps[k].ts && ps[i].ts && strcmp(ps[k].ts, ps[i].ts) < 0 &&
                (!best || strcmp(ps[k].ts, best) > 0)) {
                best = ps[k].ts;
                after = ps[k].seq;
            }
        add_problem(rep, after, "inserted", ps[i].ts, "a position outside the chain");
    }

    /* the signed heads */
    json_object *heads = NULL, *keys = NULL;
    json_object_object_get_ex(root, "signed_heads", &heads);
    json_object_object_get_ex(root, "keys", &keys);
    size_t nh =
        heads && json_object_is_type(heads, json_type_array) ? json_object_array_length(heads) : 0;
    rep->key_given = key != NULL;
    char given_fpr[65] = "";
    if (key)
        ver_key_fingerprint(key, given_fpr);
    for (size_t i = 0; i < nh; i++) {
        json_object *h = json_object_array_get_idx(heads, i);
        const char *hs = jstr(h, "seal_id"), *hl = jstr(h, "link"), *ha = jstr(h, "signed_at"),
                   *hf = jstr(h, "key_fingerprint"), *hg = jstr(h, "signature");
        long long seq = jnum(h, "seq", &d) == 1 ? (long long)d : -1;
        unsigned char sig[64], hlink[32];
        rep->n_heads++;
        if (!hs || !hl || !ha || !hf || !hg || seq < 1 || unhex(hg, sig, 64) != 64 ||
            unhex(hl, hlink, 32) != 32 || strcmp(hs, seal) != 0) {
            add_problem(rep, seq, "signature", ha, "a signed head is incomplete");
            continue;
        }
        EVP_PKEY *k = NULL;
        int own = 0;
        if (key) {
            if (strcmp(hf, given_fpr) == 0)
                k = key;
        } else if (keys && json_object_is_type(keys, json_type_array)) {
            for (size_t j = 0; j < json_object_array_length(keys) && !k; j++) {
                json_object *ko = json_object_array_get_idx(keys, j);
                const char *f = jstr(ko, "fingerprint"), *pem = jstr(ko, "public_key");
                char fp[65];
                if (f && pem && strcmp(f, hf) == 0 && (k = key_from_pem(pem)) &&
                    (ver_key_fingerprint(k, fp) || strcmp(fp, hf) != 0)) {
                    EVP_PKEY_free(k);
                    k = NULL;
                }
                own = k != NULL;
            }
        }
        char msg[512];
        size_t ml = ver_head_message(msg, sizeof msg, hs, seq, hl, ha, hf);
        int valid = k && ml && sig_ok(k, msg, ml, sig);
        if (own)
            EVP_PKEY_free(k);
        if (!valid) {
            add_problem(rep, seq, "signature", ha,
                        k ? "the signature does not verify"
                          : "signed with a key other than the one given (or a key not in the "
                            "file)");
            continue;
        }
        rep->n_heads_valid++;
        if (strcmp(ha, rep->last_signed_at) > 0) {
            snprintf(rep->last_signed_at, sizeof rep->last_signed_at, "%s", ha);
            snprintf(rep->fingerprint, sizeof rep->fingerprint, "%s", hf);
        }
        /* the position the head signs must carry the signed link */
        size_t lo, hi;
        seq_range(ps, chained, seq, &lo, &hi);
        int found = 0;
        for (size_t k2 = lo; k2 < hi; k2++)
            found |= ps[k2].rank == 0 && ps[k2].has_link && memcmp(ps[k2].link, hlink, 32) == 0;
        if (!found && lo < hi && !has_problem(rep, seq))
            add_problem(rep, seq, "changed", ps[lo].ts,
                        "the chain up to this signed head was rewritten");
    }
    if (rep->n_problems)
        qsort(rep->problems, rep->n_problems, sizeof *rep->problems, by_problem);
    rep->status = chained == 0 ? VER_UNCHAINED : rep->n_problems ? VER_BROKEN : VER_VERIFIED;
    rc = 0;
done:
    free(ps);
    json_object_put(root);
    if (tok)
        json_tokener_free(tok);
    return rc;
}

void ver_report_free(ver_report *rep)
{
    free(rep->problems);
    rep->problems = NULL;
    rep->n_problems = rep->cap_problems = 0;
}

void ver_report_print(const ver_report *rep, FILE *out)
{
    fprintf(out, "trip %s, seal %s: positions %lld..%lld of its chain (%zu in the file)\n",
            rep->trip_id, rep->seal_id, rep->first_seq, rep->last_seq, rep->n_positions);
    for (size_t i = 0; i < rep->n_problems; i++) {
        const ver_problem *p = &rep->problems[i];
        fprintf(out, "%-9s seq %lld%s%s: %s\n", p->kind, p->seq, p->ts[0] ? " at " : "", p->ts,
                p->why);
    }
    fprintf(out, "signed heads: %zu of %zu valid%s%s%s\n", rep->n_heads_valid, rep->n_heads,
            rep->n_heads_valid ? ", newest signed at " : "", rep->last_signed_at,
            rep->key_given ? " (checked against the key given)"
                           : " (checked against the key in the file: give --key to trust it)");
    if (rep->n_heads_valid && rep->fingerprint[0])
        fprintf(out, "key fingerprint: %s\n", rep->fingerprint);
    if (rep->status == VER_VERIFIED && rep->n_heads_valid == 0)
        fprintf(out, "warning: no signed head covers these positions yet\n");
    fprintf(out, "result: %s\n",
            rep->status == VER_VERIFIED    ? "VERIFIED"
            : rep->status == VER_UNCHAINED ? "UNCHAINED (no position of it is chained)"
                                           : "TAMPERED");
}
