/*
 * verify.h: checking a journey's evidence (docs/evidence.md). The evidence file is the JSON
 * of GET /api/trips/{id}/evidence (format corridor-evidence-v1): a trip's positions with
 * their canonical content, seq and link in their seal's hash chain, the signed chain heads
 * and the centre's public keys. ver_check recomputes every link, names each position
 * changed, removed or inserted, and checks each head's Ed25519 signature (OpenSSL 3).
 * Also the key helpers the centre's signer and `corridord key create` use.
 *
 * Pure functions over caller-owned memory, any thread.
 */
#ifndef CORRIDOR_VERIFY_H
#define CORRIDOR_VERIFY_H

#include <stddef.h>
#include <stdio.h>

#include <openssl/evp.h>

/* One finding: kind is "changed", "removed", "inserted" or "signature" (a head whose
 * signature does not verify); ts is empty when unknown (a removed position). */
typedef struct ver_problem {
    long long seq;
    char kind[12];
    char ts[40];
    char why[120];
} ver_problem;

typedef enum { VER_VERIFIED = 0, VER_BROKEN = 1, VER_UNCHAINED = 2 } ver_status;

typedef struct ver_report {
    ver_status status;
    char trip_id[40], seal_id[128];
    long long first_seq, last_seq;
    size_t n_positions;
    size_t n_heads, n_heads_valid;
    char last_signed_at[32];
    char fingerprint[65]; /* the key of the newest valid head, "" if none */
    int key_given;        /* 1: heads were checked against the key the caller gave */
    ver_problem *problems;
    size_t n_problems, cap_problems;
} ver_report;

/* Checks an evidence file (text, len bytes; need not be NUL-terminated). key: the centre's
 * public key to check signatures against, or NULL to use the keys the file carries (the
 * report says so). Returns 0 with rep filled (rep->status says verified or not), or -1
 * with err set when the file is not an evidence file. The report is freed with
 * ver_report_free either way. */
int ver_check(const char *text, size_t len, EVP_PKEY *key, ver_report *rep, char *err, size_t n);
void ver_report_free(ver_report *rep);
/* Writes the report, one line per finding and per signed head, then the verdict. */
void ver_report_print(const ver_report *rep, FILE *out);

/* The message a head's signature covers (schema/rules/evidence.sql, head_message): writes
 * it into buf and returns its length, or 0 when it does not fit. */
size_t ver_head_message(char *buf, size_t n, const char *seal_id, long long seq,
                        const char *link_hex, const char *signed_at, const char *fingerprint);
/* The hex SHA-256 of an Ed25519 key's raw public key (65 bytes with the NUL). 0 or -1. */
int ver_key_fingerprint(EVP_PKEY *key, char out[65]);
/* Reads a PEM public key (or a private key, whose public half is used) from a file; NULL
 * with err set. */
EVP_PKEY *ver_key_load_public(const char *path, char *err, size_t n);

#endif
