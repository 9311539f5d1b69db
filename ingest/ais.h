/*
 * ais.h: NMEA 0183 AIS codec, module-internal to ingest/ (included by ingest's own files,
 * corridor-decode, corridor-sim and the tests; no other module's code).
 *
 * Decodes AIVDM/AIVDO sentences (any two-letter talker), optional NMEA 4.0 tag blocks,
 * multipart messages (reassembled by sequential id and channel, with a timeout), every
 * message type gpsd 3.22 decodes (1-27; for types 6 and 8 the binary application messages
 * gpsd 3.22 decodes, the others as raw data, as gpsd prints them), with the same field
 * layout, length rules and text trimming as gpsd 3.22. Writes one decoded message as the
 * JSON line gpsdecode -j prints. Encodes messages back into AIVDM sentences (simulator,
 * tests).
 *
 * Ownership: an ingest_ais decoder is a fixed-size object (no allocation after
 * ingest_ais_new; no per-sentence malloc) owned by one thread, the one that feeds it.
 * Not thread-safe; use one decoder per connection or feed. Everything else here is a pure
 * function and thread-safe.
 */
#ifndef CORRIDOR_INGEST_AIS_H
#define CORRIDOR_INGEST_AIS_H

#include <stddef.h>
#include <stdint.h>

/* Hard limits. A line longer than INGEST_AIS_LINE_MAX bytes (tag block included, line end
 * excluded) is dropped and counted; a reassembled payload is at most
 * INGEST_AIS_PAYLOAD_MAX armoured characters (AIS needs at most 168). */
#define INGEST_AIS_LINE_MAX        512
#define INGEST_AIS_PAYLOAD_MAX     256
#define INGEST_AIS_FRAG_TIMEOUT_MS 5000
/* A message's payload kept whole in ingest_ais_msg.bits: gpsd accepts at most 1008 bits for
 * the binary types; longer payloads of the types without a maximum keep their first 1008. */
#define INGEST_AIS_BITS_MAX 1008
/* Room ingest_ais_json always has enough of. */
#define INGEST_AIS_JSON_MAX 4096

/* Why input was dropped. Each has a counter. */
enum ingest_ais_bad {
    INGEST_AIS_BAD_CHECKSUM,  /* missing or wrong *hh (sentence or tag block) */
    INGEST_AIS_BAD_ORPHAN,    /* fragment without its neighbours, or timed out */
    INGEST_AIS_BAD_FILL,      /* fill bits missing, not 0..5, on a non-last fragment, or
                                 more than the payload holds */
    INGEST_AIS_BAD_TRUNCATED, /* payload shorter than its message type needs */
    INGEST_AIS_BAD_LENGTH,    /* payload longer than its message type allows */
    INGEST_AIS_BAD_GARBAGE,   /* not an NMEA sentence, bad fields, bad armour chars */
    INGEST_AIS_BAD_OVERLONG,  /* line over INGEST_AIS_LINE_MAX */
    INGEST_AIS_NBAD
};

typedef struct ingest_ais_stats {
    uint64_t lines;       /* lines seen (including bad ones) */
    uint64_t sentences;   /* AIVDM/AIVDO sentences with a good checksum */
    uint64_t messages;    /* messages decoded (returned to the caller) */
    uint64_t ignored;     /* well-formed NMEA that is not AIS ($GPGGA, ...): not bad */
    uint64_t unsupported; /* AIS messages gpsd 3.22 does not print either (type 0 or 28-63,
                             type 24 part C/D), and type 8 DAC 1 FID 19, for which gpsd
                             prints invalid JSON (docs/ais.md) */
    uint64_t bad[INGEST_AIS_NBAD];
} ingest_ais_stats;

/* Parts of a type 24 message. A decoder returns part A and part B as they come; when a
 * part B follows a part A of the same MMSI (gpsd keeps the last 8 part A), the part B is
 * returned as INGEST_AIS_PART_AB with the ship name of the part A. */
enum ingest_ais_part {
    INGEST_AIS_PART_NONE,
    INGEST_AIS_PART_A,
    INGEST_AIS_PART_B,
    INGEST_AIS_PART_AB
};

/* One decoded message. Fields a type does not carry are 0/"". Raw AIS units, as gpsd:
 *   lon, lat: 1/10000 minute (181 and 91 degrees, i.e. 108600000 and 54600000, mean "not
 *             available"); type 27: 1/10 minute (181*600 / 91*600 not available)
 *   speed: 1/10 knot (1023 not available, 1022 is 102.2 knots or more); type 27: knots
 *   course: 1/10 degree (3600 not available); type 27: degrees (511 not available)
 *   heading: degrees (511 not available); draught: 1/10 metre
 *   turn: raw rate-of-turn indicator -128..127 (-128 not available)
 * Booleans are 0 or 1. Strings are NUL-terminated, trimmed as gpsd trims them (cut at the
 * first '@', trailing spaces removed). */
typedef struct ingest_ais_msg {
    int32_t type, repeat, mmsi;
    int32_t own;  /* 1 for AIVDO (own vessel) */
    char channel; /* 'A', 'B', ... or 0 when the sentence left it empty */
    int32_t status, turn, speed, accuracy, lon, lat, course, heading, second, maneuver, raim, radio;
    int32_t year, month, day, hour, minute, epfd; /* types 4, 5 */
    int32_t ais_version, imo, shiptype, to_bow, to_stern, to_port, to_starboard, draught,
        dte; /* 5, 19, 24 */
    char callsign[8], shipname[21], destination[21];
    int32_t reserved, regional, cs, display, dsc, band, msg22, assigned; /* 18, 19 */
    int32_t aid_type, off_position, virtual_aid;                         /* 21 */
    char name[37];                                                       /* 21 */
    int32_t part;                                                        /* 24 */
    char vendorid[8];
    int32_t model, serial, mothership_mmsi;
    int32_t gnss; /* 27 */
    /* Types 6-17, 20, 22, 23, 25 and 26 (and 11, which also fills the type 4 fields): the
     * few fields a server may want are decoded here; everything else, the binary data of
     * 6, 8, 17, 25 and 26 included, stays in bits, from which ingest_ais_json writes the
     * fields as gpsd does. */
    int32_t alt;                           /* 9: metres (4095 not available, 4094 higher) */
    int32_t dest_mmsi, seqno, retransmit;  /* 6, 10, 12 (and 25, 26 when addressed) */
    int32_t dac, fid;                      /* 6, 8: application identifier */
    int32_t addressed, structured, app_id; /* 25, 26 */
    int32_t bitlen; /* payload length in bits, fill bits excluded (all types) */
    /* the payload's first INGEST_AIS_BITS_MAX bits, MSB first, fill bits as received
     * (gpsd prints them in the last byte of binary data), zeros after */
    uint8_t bits[INGEST_AIS_BITS_MAX / 8 + 8];
} ingest_ais_msg;

typedef struct ingest_ais ingest_ais;

/* A decoder whose incomplete multipart messages expire after frag_timeout_ms (0: the
 * default). Returns NULL when out of memory. Free with ingest_ais_free. */
ingest_ais *ingest_ais_new(int64_t frag_timeout_ms);
void ingest_ais_free(ingest_ais *d);

/* Decodes one line (no line end needed; trailing CR/LF and spaces are ignored, and so is
 * printable text after the checksum, such as a receiver's ",s36310,d-081,T59.01777335"
 * metadata or a stray CR). now_ms is
 * any monotonic clock in milliseconds, used for the fragment timeout.
 * Returns 1 when the line completed a message, now in *out; 0 when the line was good but
 * completed nothing (a fragment was stored, non-AIS NMEA, an unsupported type, an empty
 * line); CORE_EINVAL or CORE_ETOOBIG when the line was dropped (counted by reason). */
int ingest_ais_line(ingest_ais *d, const char *line, size_t len, int64_t now_ms,
                    ingest_ais_msg *out);

/* Splits a byte stream (a TCP connection's reads) into lines and decodes each; calls
 * on_msg(arg, msg) for every message, before returning. Partial lines are kept in the
 * decoder (at most INGEST_AIS_LINE_MAX bytes; beyond that the line is counted overlong and
 * skipped up to its end). Returns the number of messages delivered. */
int ingest_ais_feed(ingest_ais *d, const char *buf, size_t len, int64_t now_ms,
                    void (*on_msg)(void *arg, const ingest_ais_msg *msg), void *arg);

/* Drops multipart messages older than the timeout (counted as orphans). Call it from a
 * timer on idle feeds; ingest_ais_line does it by itself. */
void ingest_ais_expire(ingest_ais *d, int64_t now_ms);

/* Copies the counters. */
void ingest_ais_get_stats(const ingest_ais *d, ingest_ais_stats *out);
/* "checksum", "orphan", "fill", "truncated", "length", "garbage", "overlong". */
const char *ingest_ais_bad_name(int reason);

/* Position in degrees if the message has one that is available (not 91/181, within
 * range). Returns 0, or CORE_ENOTFOUND. */
int ingest_ais_position(const ingest_ais_msg *m, double *lat, double *lon);

/* Writes m as gpsdecode -j (gpsd 3.22, scaled) would print it, with "\r\n" at the end,
 * into buf (NUL-terminated). device is the "device" value ("stdin" for gpsdecode), NULL
 * for none. Returns the length written; 0 when gpsdecode prints nothing for m (a lone
 * type 24 part A or B); CORE_ETOOBIG when cap is too small (INGEST_AIS_JSON_MAX is always
 * enough). */
int ingest_ais_json(const ingest_ais_msg *m, const char *device, char *buf, size_t cap);

/* Encodes m as one or more NMEA sentences, each ending "\r\n", into out (NUL-terminated).
 * Types 1, 2, 3, 4, 5, 18, 19, 21, 24 and 27 from their fields; every other type from
 * m->bits and m->bitlen (at most INGEST_AIS_BITS_MAX; type, repeat and mmsi from the
 * fields). For type 24, part A or B encodes that part
 * and PART_AB both (two messages). talker is "AIVDM" or "AIVDO" (NULL: AIVDM); channel
 * 'A' or 'B' (0 leaves it empty); seq_id 0..9 is used for multipart messages (payloads over
 * 60 characters). Numeric fields are masked to their bit widths; text is upper-cased and
 * characters outside the AIS six-bit set become '?'. For type 21 a name longer than 20
 * characters goes into the name extension. Returns the length written, CORE_EINVAL for an
 * unsupported type, CORE_ETOOBIG when cap is too small (512 is always enough). */
int ingest_ais_encode(const ingest_ais_msg *m, const char *talker, char channel, int seq_id,
                      char *out, size_t cap);

/* Encodes an arbitrary bit string (bitlen bits, MSB first) as AIVDM sentences; for tests
 * that need payloads of any length. Same return convention as ingest_ais_encode. */
int ingest_ais_encode_bits(const uint8_t *bits, size_t bitlen, const char *talker, char channel,
                           int seq_id, char *out, size_t cap);

#endif
