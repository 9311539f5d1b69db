/*
 * main.c: corridor-verify, the offline check of a journey's evidence file (docs/evidence.md).
 * A partner state needs only the file and the centre's public key. Exit 0: every position
 * verifies (and every signed head); 1: something was changed, removed or inserted, or a
 * signature does not verify (each is named); 2: usage, or the file is not evidence.
 */
#include "verify.h"

#include <stdlib.h>
#include <string.h>

#define FILE_MAX (256u << 20)

static void usage(FILE *out)
{
    fprintf(out, "usage: corridor-verify FILE [--key PUBKEY.pem]\n"
                 "  checks the evidence file of a trip (GET /api/trips/{id}/evidence; - reads\n"
                 "  stdin): recomputes every link of the seal's hash chain, names each position\n"
                 "  changed, removed or inserted (by seq and time) and checks the Ed25519\n"
                 "  signature of every signed chain head\n"
                 "  --key FILE   the centre's public key (PEM); without it the key the file\n"
                 "               carries is used, which proves only that the file is whole\n"
                 "  -h, --help   this text\n"
                 "exit status: 0 verified, 1 tampered (or nothing chained), 2 usage error\n");
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap);
    while (b) {
        if (n == cap) {
            if (cap >= FILE_MAX) {
                free(b);
                b = NULL;
                break;
            }
            char *nb = realloc(b, cap * 2);
            if (!nb) {
                free(b);
                b = NULL;
                break;
            }
            b = nb;
            cap *= 2;
        }
        size_t r = fread(b + n, 1, cap - n, f);
        if (r == 0)
            break;
        n += r;
    }
    if (f != stdin)
        fclose(f);
    *len = n;
    return b;
}

int main(int argc, char **argv)
{
    const char *file = NULL, *keyfile = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--key") == 0) {
            if (++i == argc) {
                fprintf(stderr, "corridor-verify: --key needs a file\n");
                return 2;
            }
            keyfile = argv[i];
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "corridor-verify: unknown option %s (see --help)\n", argv[i]);
            return 2;
        } else if (file) {
            fprintf(stderr, "corridor-verify: one evidence file at a time (see --help)\n");
            return 2;
        } else {
            file = argv[i];
        }
    }
    if (!file) {
        fprintf(stderr, "corridor-verify: no evidence file given (see --help)\n");
        return 2;
    }
    char err[256];
    EVP_PKEY *key = NULL;
    if (keyfile && !(key = ver_key_load_public(keyfile, err, sizeof err))) {
        fprintf(stderr, "corridor-verify: %s\n", err);
        return 2;
    }
    size_t len = 0;
    char *text = slurp(file, &len);
    if (!text) {
        fprintf(stderr, "corridor-verify: cannot read %s\n", file);
        EVP_PKEY_free(key);
        return 2;
    }
    ver_report rep;
    int rc = ver_check(text, len, key, &rep, err, sizeof err);
    free(text);
    EVP_PKEY_free(key);
    if (rc) {
        fprintf(stderr, "corridor-verify: %s: %s\n", file, err);
        ver_report_free(&rep);
        return 2;
    }
    ver_report_print(&rep, stdout);
    int status = rep.status == VER_VERIFIED ? 0 : 1;
    ver_report_free(&rep);
    return status;
}
