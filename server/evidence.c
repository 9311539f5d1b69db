/*
 * evidence.c: the centre's side of tamper-evident journeys (docs/evidence.md):
 *   - `corridord key create --out FILE`: a new Ed25519 signing key (PEM, mode 0600);
 *   - `corridord verify --trip ID`: the check of corridor-verify (verify/) against the
 *     database, on the evidence corridor.trip_evidence builds;
 *   - the signer: a thread of its own with its own libpq connection that signs the chain
 *     heads not signed yet (corridor.chain_to_sign) every --sign-interval seconds and when a
 *     trip is disarmed (LISTEN corridor_evidence), and stores the signatures
 *     (corridor.chain_sign_store). Only one signer signs at a time: the one holding a
 *     session advisory lock; another corridord's signer waits for it.
 *
 * The key subcommand and verify run on main() of a short-lived process. The signer owns its
 * thread, its connection and the private key; started and stopped by main().
 */
#include "evidence.h"

#include "core.h"
#include "verify.h"

#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <openssl/pem.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MOD         "evidence"
#define SIGNER_LOCK "1129270860"

/* ---- corridord key create ---- */

static void key_usage(FILE *out)
{
    fprintf(out, "usage: corridord key create --out FILE\n"
                 "  writes a new Ed25519 private key (PEM, mode 0600; an existing file is never\n"
                 "  overwritten) and prints its public key (PEM) and fingerprint: give the\n"
                 "  file to corridord --signing-key, and the public key to whoever verifies\n");
}

int srv_key_main(int argc, char **argv)
{
    const char *out = NULL;
    if (argc < 1 || strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0) {
        key_usage(argc < 1 ? stderr : stdout);
        return argc < 1 ? 2 : 0;
    }
    if (strcmp(argv[0], "create") != 0) {
        fprintf(stderr, "corridord key: unknown command %s (see key --help)\n", argv[0]);
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            key_usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc) {
            out = argv[++i];
        } else {
            fprintf(stderr, "corridord key create: unexpected %s (see key --help)\n", argv[i]);
            return 2;
        }
    }
    if (!out) {
        fprintf(stderr, "corridord key create: --out FILE is required\n");
        return 2;
    }
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    if (!k) {
        fprintf(stderr, "corridord key create: OpenSSL could not make an Ed25519 key\n");
        return 1;
    }
    int fd = open(out, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0) {
        fprintf(stderr, "corridord key create: %s: %s\n", out, strerror(errno));
        EVP_PKEY_free(k);
        return 1;
    }
    FILE *f = fdopen(fd, "w");
    int ok = f && PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL) == 1;
    ok = (f ? fclose(f) == 0 : (close(fd), 0)) && ok;
    char fpr[65];
    if (!ok || ver_key_fingerprint(k, fpr)) {
        fprintf(stderr, "corridord key create: cannot write %s\n", out);
        unlink(out);
        EVP_PKEY_free(k);
        return 1;
    }
    PEM_write_PUBKEY(stdout, k);
    printf("fingerprint %s\n", fpr);
    EVP_PKEY_free(k);
    return 0;
}

/* ---- corridord verify --trip ID ---- */

static void verify_usage(FILE *out)
{
    fprintf(out, "usage: corridord verify --trip ID [--key PUBKEY.pem] [--db CONNINFO]\n"
                 "  checks a trip's positions against their hash chain and the signed heads in\n"
                 "  the database, as corridor-verify checks an evidence file: names each\n"
                 "  position changed, removed or inserted, and each signature that fails\n"
                 "  --key   the centre's public key (else the keys recorded in the database)\n"
                 "exit status: 0 verified, 1 tampered (or nothing chained), 2 usage error or\n"
                 "no such trip, 3 the database cannot be reached\n");
}

int srv_verify_main(int argc, char **argv)
{
    const char *trip = NULL, *keyfile = NULL, *db = getenv("CORRIDOR_DB");
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            verify_usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--trip") == 0 && i + 1 < argc) {
            trip = argv[++i];
        } else if (strcmp(argv[i], "--key") == 0 && i + 1 < argc) {
            keyfile = argv[++i];
        } else if (strcmp(argv[i], "--db") == 0 && i + 1 < argc) {
            db = argv[++i];
        } else {
            fprintf(stderr, "corridord verify: unexpected %s (see verify --help)\n", argv[i]);
            return 2;
        }
    }
    if (!trip) {
        fprintf(stderr, "corridord verify: --trip ID is required\n");
        return 2;
    }
    char err[256];
    EVP_PKEY *key = NULL;
    if (keyfile && !(key = ver_key_load_public(keyfile, err, sizeof err))) {
        fprintf(stderr, "corridord verify: %s\n", err);
        return 2;
    }
    int rc = 2;
    PGresult *r = NULL;
    PGconn *c = PQconnectdb(db ? db : "");
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "corridord verify: cannot connect to the database: %s", PQerrorMessage(c));
        rc = 3;
        goto done;
    }
    const char *vals[1] = {trip};
    r = PQexecParams(c,
                     "SELECT corridor.trip_evidence(t.id)::text FROM corridor.trips t"
                     " WHERE t.id::text = lower($1)",
                     1, NULL, vals, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        fprintf(stderr, "corridord verify: %s", PQresultErrorMessage(r));
        rc = 3;
        goto done;
    }
    if (PQntuples(r) != 1 || PQgetisnull(r, 0, 0)) {
        fprintf(stderr, "corridord verify: no trip %s\n", trip);
        goto done;
    }
    ver_report rep;
    if (ver_check(PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0), key, &rep, err, sizeof err)) {
        fprintf(stderr, "corridord verify: the database's evidence is unreadable: %s\n", err);
        ver_report_free(&rep);
        rc = 1;
        goto done;
    }
    ver_report_print(&rep, stdout);
    rc = rep.status == VER_VERIFIED ? 0 : 1;
    ver_report_free(&rep);
done:
    PQclear(r);
    PQfinish(c);
    EVP_PKEY_free(key);
    return rc;
}

/* ---- the signer ---- */

struct srv_signer {
    char *conninfo;
    int interval_s;
    EVP_PKEY *key;
    char fpr[65];
    char *pub_pem;
    pthread_t thread;
    pthread_mutex_t lock;
    int stopping;
    PGconn *db;
    int leader; /* holds the signer's advisory lock */
};

static int stopping(srv_signer *s)
{
    pthread_mutex_lock(&s->lock);
    int v = s->stopping;
    pthread_mutex_unlock(&s->lock);
    return v;
}

/* Connects (again) and listens; 0 or -1. */
static int signer_connect(srv_signer *s)
{
    if (s->db && PQstatus(s->db) == CONNECTION_OK)
        return 0;
    PQfinish(s->db);
    s->leader = 0;
    s->db = PQconnectdb(s->conninfo);
    if (PQstatus(s->db) != CONNECTION_OK) {
        core_warn(MOD, "signer: cannot connect to the database: %s", PQerrorMessage(s->db));
        return -1;
    }
    PQclear(PQexec(s->db, "LISTEN corridor_evidence"));
    return 0;
}

/* Appends s to an array literal element list, double-quoted and escaped. */
static int lit_add(char **buf, size_t *len, size_t *cap, const char *s)
{
    size_t need = *len + 2 * strlen(s) + 4;
    if (need > *cap) {
        size_t c = *cap ? *cap : 4096;
        while (c < need)
            c *= 2;
        char *b = realloc(*buf, c);
        if (!b)
            return -1;
        *buf = b;
        *cap = c;
    }
    char *o = *buf + *len;
    if (*len > 1)
        *o++ = ',';
    *o++ = '"';
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            *o++ = '\\';
        *o++ = *s;
    }
    *o++ = '"';
    *o = '\0';
    *len = (size_t)(o - *buf);
    return 0;
}

/* One round: signs every head not signed yet. Returns the count, or -1. */
static int sign_round(srv_signer *s)
{
    if (signer_connect(s))
        return -1;
    if (!s->leader) {
        PGresult *l = PQexec(s->db, "SELECT pg_try_advisory_lock(" SIGNER_LOCK ")");
        s->leader = PQresultStatus(l) == PGRES_TUPLES_OK && PQgetvalue(l, 0, 0)[0] == 't';
        PQclear(l);
        if (!s->leader)
            return 0; /* another corridord signs */
    }
    const char *vals[7] = {s->fpr};
    PGresult *r = PQexecParams(s->db,
                               "SELECT seal_id, seq::text, encode(link, 'hex'), message,"
                               " to_char(signed_at AT TIME ZONE 'UTC',"
                               " 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
                               " FROM corridor.chain_to_sign($1, now())",
                               1, NULL, vals, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        core_warn(MOD, "signer: %s", PQresultErrorMessage(r));
        PQclear(r);
        return -1;
    }
    int n = PQntuples(r), rc = -1;
    char *lists[4] = {NULL, NULL, NULL, NULL};
    size_t lens[4] = {0}, caps[4] = {0};
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (n == 0 || !ctx) {
        rc = ctx ? 0 : -1;
        goto done;
    }
    for (int k = 0; k < 4; k++) {
        if (!(lists[k] = malloc(caps[k] = 4096)))
            goto done;
        strcpy(lists[k], "{");
        lens[k] = 1;
    }
    for (int i = 0; i < n; i++) {
        unsigned char sig[64];
        size_t sl = sizeof sig;
        const char *msg = PQgetvalue(r, i, 3);
        if (EVP_DigestSignInit(ctx, NULL, NULL, NULL, s->key) != 1 ||
            EVP_DigestSign(ctx, sig, &sl, (const unsigned char *)msg, strlen(msg)) != 1 ||
            sl != 64) {
            core_error(MOD, "signer: OpenSSL could not sign");
            goto done;
        }
        char hex[129];
        for (int b = 0; b < 64; b++)
            sprintf(hex + 2 * b, "%02x", sig[b]);
        if (lit_add(&lists[0], &lens[0], &caps[0], PQgetvalue(r, i, 0)) ||
            lit_add(&lists[1], &lens[1], &caps[1], PQgetvalue(r, i, 1)) ||
            lit_add(&lists[2], &lens[2], &caps[2], PQgetvalue(r, i, 2)) ||
            lit_add(&lists[3], &lens[3], &caps[3], hex))
            goto done;
    }
    for (int k = 0; k < 4; k++) {
        char *b = realloc(lists[k], lens[k] + 2);
        if (!b)
            goto done;
        lists[k] = b;
        strcpy(b + lens[k], "}");
    }
    const char *v2[7] = {s->fpr,   s->pub_pem, PQgetvalue(r, 0, 4), lists[0], lists[1],
                         lists[2], lists[3]};
    PGresult *w = PQexecParams(
        s->db,
        "SELECT corridor.chain_sign_store($1, $2, $3::timestamptz, $4::text[], $5::bigint[],"
        " ARRAY(SELECT decode(x, 'hex') FROM unnest($6::text[]) WITH ORDINALITY u(x, o)"
        " ORDER BY o),"
        " ARRAY(SELECT decode(x, 'hex') FROM unnest($7::text[]) WITH ORDINALITY u(x, o)"
        " ORDER BY o))",
        7, NULL, v2, NULL, NULL, 0);
    if (PQresultStatus(w) == PGRES_TUPLES_OK) {
        rc = n;
        core_info(MOD, "signed %d chain head%s", n, n == 1 ? "" : "s");
    } else {
        core_warn(MOD, "signer: storing the signatures failed: %s", PQresultErrorMessage(w));
    }
    PQclear(w);
done:
    for (int k = 0; k < 4; k++)
        free(lists[k]);
    EVP_MD_CTX_free(ctx);
    PQclear(r);
    return rc;
}

static void *signer_main(void *arg)
{
    srv_signer *s = arg;
    int64_t next = core_mono_us(); /* a round at start: heads left unsigned at the last stop */
    while (!stopping(s)) {
        int wake = 0;
        if (core_mono_us() >= next) {
            wake = 1;
        } else if (s->db && PQstatus(s->db) == CONNECTION_OK) {
            struct pollfd pf = {PQsocket(s->db), POLLIN, 0};
            if (poll(&pf, 1, 500) > 0) {
                PQconsumeInput(s->db);
                PGnotify *nt;
                while ((nt = PQnotifies(s->db))) {
                    wake = 1; /* a trip was disarmed */
                    PQfreemem(nt);
                }
            }
        } else {
            usleep(500000);
            signer_connect(s);
        }
        if (!wake)
            continue;
        sign_round(s);
        next = core_mono_us() + (int64_t)s->interval_s * 1000000;
    }
    return NULL;
}

srv_signer *srv_signer_start(const core_config *cfg, char *err, size_t n)
{
    srv_signer *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, n, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&s->lock, NULL);
    s->interval_s = cfg->sign_interval_s;
    s->conninfo = strdup(cfg->db ? cfg->db : "");
    FILE *f = fopen(cfg->signing_key, "r");
    if (!f) {
        snprintf(err, n, "--signing-key %s: %s", cfg->signing_key, strerror(errno));
        goto fail;
    }
    s->key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    if (!s->key || EVP_PKEY_get_base_id(s->key) != EVP_PKEY_ED25519) {
        snprintf(err, n, "--signing-key %s holds no Ed25519 private key (corridord key create)",
                 cfg->signing_key);
        goto fail;
    }
    BIO *b = BIO_new(BIO_s_mem());
    char *p = NULL;
    long len = b && PEM_write_bio_PUBKEY(b, s->key) == 1 ? BIO_get_mem_data(b, &p) : 0;
    /* the BIO's data has no NUL: copied, not strndup'd (which may read past its end) */
    s->pub_pem = len > 0 ? malloc((size_t)len + 1) : NULL;
    if (s->pub_pem) {
        memcpy(s->pub_pem, p, (size_t)len);
        s->pub_pem[len] = '\0';
    }
    BIO_free(b);
    if (!s->conninfo || !s->pub_pem || ver_key_fingerprint(s->key, s->fpr)) {
        snprintf(err, n, "cannot read the public half of --signing-key");
        goto fail;
    }
    if (pthread_create(&s->thread, NULL, signer_main, s) != 0) {
        snprintf(err, n, "cannot start the signer thread");
        goto fail;
    }
    core_info(MOD, "signing chain heads every %d s with key %s", s->interval_s, s->fpr);
    return s;
fail:
    EVP_PKEY_free(s->key);
    free(s->pub_pem);
    free(s->conninfo);
    pthread_mutex_destroy(&s->lock);
    free(s);
    return NULL;
}

void srv_signer_stop(srv_signer *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->lock);
    s->stopping = 1;
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->thread, NULL);
    PQfinish(s->db);
    EVP_PKEY_free(s->key);
    free(s->pub_pem);
    free(s->conninfo);
    pthread_mutex_destroy(&s->lock);
    free(s);
}
