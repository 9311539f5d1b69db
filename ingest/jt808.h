/*
 * jt808.h: the JT/T 808 codec (2013 and 2019 editions): frame splitting, header and body
 * decoding, and encoding of both the platform's replies and the terminal's messages (so
 * corridor-sim and the tests can speak as a device).
 *
 * Pure functions over caller-owned memory: no I/O, no allocation, no globals; every
 * function is thread-safe on distinct objects. Protocol summary and the alarm/status ->
 * seal event mapping: docs/jt808.md.
 *
 * Wire layout (unescaped, between two 0x7e flags):
 *   msg id WORD | body properties WORD | [2019: protocol version BYTE] |
 *   terminal number BCD[6] (2013) or BCD[10] (2019) | serial WORD |
 *   [subpackage: total WORD, seq WORD] | body | XOR checksum BYTE
 * Body properties: bits 0-9 body length, 10-12 encryption, 13 subpackage, 14 version flag.
 */
#ifndef CORRIDOR_INGEST_JT808_H
#define CORRIDOR_INGEST_JT808_H

#include <stddef.h>
#include <stdint.h>

/* Largest unescaped frame (header, body and checksum) the splitter accepts: a 1023-byte
 * body (the 10-bit length field's maximum), the 21-byte 2019 header with subpackage
 * fields and the checksum fit with room to spare. Anything longer is refused. */
#define INGEST_JT808_FRAME_MAX 1100
/* Largest reassembled body of a subpackaged message, and its packet count. */
#define INGEST_JT808_REASM_MAX     8192
#define INGEST_JT808_REASM_PACKETS 16
/* Terminal number digits: 12 (2013), 20 (2019). */
#define INGEST_JT808_TERMINAL_MAX 20
/* Positions in one 0x0704 batch (a reassembled 8 KiB body holds at most ~270). */
#define INGEST_JT808_BATCH_MAX 256
/* Time zone offset of a device clock when nothing else is configured: GMT+8. */
#define INGEST_JT808_TZ_DEFAULT_MIN 480

/* Message ids. */
enum {
    INGEST_JT808_TERM_ACK = 0x0001, /* terminal general response */
    INGEST_JT808_HEARTBEAT = 0x0002,
    INGEST_JT808_LOGOUT = 0x0003,
    INGEST_JT808_REGISTER = 0x0100,
    INGEST_JT808_AUTH = 0x0102,
    INGEST_JT808_LOCATION = 0x0200,
    INGEST_JT808_LOCATE_ANSWER = 0x0201,  /* answer to 0x8201: reply serial + location */
    INGEST_JT808_CONTROL_ANSWER = 0x0500, /* answer to 0x8500: reply serial + location */
    INGEST_JT808_BATCH = 0x0704,
    INGEST_JT808_PLAT_ACK = 0x8001, /* platform general response */
    INGEST_JT808_REGISTER_ACK = 0x8100,
    /* downlink commands (jt808_cmd.c, docs/commands.md) */
    INGEST_JT808_SET_PARAMS = 0x8103,
    INGEST_JT808_TERM_CONTROL = 0x8105,
    INGEST_JT808_LOCATE = 0x8201,
    INGEST_JT808_ALARM_CONFIRM = 0x8203,
    INGEST_JT808_TEXT = 0x8300,
    INGEST_JT808_VEHICLE_CONTROL = 0x8500,
    /* JT705A-style messages in JT/T 808 framing (one-byte serial, see below) */
    INGEST_JT808_JT705_LOCATION = 0x5501,
    INGEST_JT808_JT705_BLIND = 0x5502, /* a stored (blind-area) position */
    INGEST_JT808_JT705_ACK = 0x4401,   /* platform: message id WORD + result BYTE */
};

/* 0x8103 parameter ids (JT/T 808-2013 table 12; all DWORD seconds). */
enum {
    INGEST_JT808_P_HEARTBEAT = 0x0001,
    INGEST_JT808_P_SLEEP_REPORT = 0x0027,
    INGEST_JT808_P_EMERGENCY_REPORT = 0x0028,
    INGEST_JT808_P_REPORT = 0x0029, /* default time report interval */
};

/* 0x8105 command words (table 17). */
enum { INGEST_JT808_CTL_RESET = 4 };

/* 0x8001 results. */
enum {
    INGEST_JT808_OK = 0,
    INGEST_JT808_FAIL = 1,
    INGEST_JT808_BAD_MESSAGE = 2,
    INGEST_JT808_UNSUPPORTED = 3,
    INGEST_JT808_ALARM_ACK = 4,
};

/* 0x8100 results (JT/T 808-2013 table 8 wording). */
enum {
    INGEST_JT808_REG_OK = 0,
    INGEST_JT808_REG_VEHICLE_REGISTERED = 1,
    INGEST_JT808_REG_NO_VEHICLE = 2,
    INGEST_JT808_REG_TERMINAL_REGISTERED = 3,
    INGEST_JT808_REG_NO_TERMINAL = 4, /* "no such terminal in the database" */
};

/* Alarm flag bits of 0x0200 (DWORD, JT/T 808-2013 table 24). */
enum {
    INGEST_JT808_ALARM_SOS = 1u << 0,
    INGEST_JT808_ALARM_OVERSPEED = 1u << 1,
    INGEST_JT808_ALARM_FATIGUE = 1u << 2,
    INGEST_JT808_ALARM_DANGER = 1u << 3,
    INGEST_JT808_ALARM_GNSS_FAULT = 1u << 4,
    INGEST_JT808_ALARM_ANTENNA_CUT = 1u << 5,
    INGEST_JT808_ALARM_ANTENNA_SHORT = 1u << 6,
    INGEST_JT808_ALARM_POWER_LOW = 1u << 7,
    INGEST_JT808_ALARM_POWER_CUT = 1u << 8,
    INGEST_JT808_ALARM_ROUTE_DEVIATION = 1u << 23,
    INGEST_JT808_ALARM_STOLEN = 1u << 26,
    INGEST_JT808_ALARM_ILLEGAL_IGNITION = 1u << 27,
    INGEST_JT808_ALARM_ILLEGAL_MOVE = 1u << 28,
    INGEST_JT808_ALARM_COLLISION = 1u << 29,
    INGEST_JT808_ALARM_ROLLOVER = 1u << 30,
    INGEST_JT808_ALARM_DOOR_OPEN = 1u << 31, /* illegal door opening */
};

/* Status bits of 0x0200 (DWORD, table 25). */
enum {
    INGEST_JT808_ST_ACC = 1u << 0,
    INGEST_JT808_ST_FIX = 1u << 1,
    INGEST_JT808_ST_SOUTH = 1u << 2,
    INGEST_JT808_ST_WEST = 1u << 3,
    INGEST_JT808_ST_OUT_OF_SERVICE = 1u << 4,
    INGEST_JT808_ST_ENCRYPTED = 1u << 5,
    INGEST_JT808_ST_OIL_CUT = 1u << 10,
    INGEST_JT808_ST_CIRCUIT_CUT = 1u << 11,
    INGEST_JT808_ST_DOOR_LOCKED = 1u << 12,
    INGEST_JT808_ST_DOOR1_OPEN = 1u << 13,
    INGEST_JT808_ST_DOOR2_OPEN = 1u << 14,
    INGEST_JT808_ST_DOOR3_OPEN = 1u << 15,
    INGEST_JT808_ST_DOOR4_OPEN = 1u << 16,
    INGEST_JT808_ST_DOOR5_OPEN = 1u << 17,
    INGEST_JT808_ST_GPS = 1u << 18,
    INGEST_JT808_ST_BEIDOU = 1u << 19,
    INGEST_JT808_ST_GLONASS = 1u << 20,
    INGEST_JT808_ST_GALILEO = 1u << 21,
};

/* ---- frame splitter ----
 * Turns a TCP byte stream into unescaped frames. Every 0x7e is a boundary, so frames that
 * share a flag ("7e A 7e B 7e") and garbage between frames both work: bytes before the
 * first flag are skipped as garbage, a non-empty run between two flags is a candidate
 * frame for ingest_jt808_parse (garbage between frames becomes a candidate that fails
 * there). A candidate longer than INGEST_JT808_FRAME_MAX is reported once and skipped to
 * the next flag: memory never grows. A public struct the caller embeds; all fields are
 * private except the counters. */
typedef struct ingest_jt808_splitter {
    uint64_t garbage;    /* public: bytes skipped before the first flag */
    uint64_t oversized;  /* public: candidates over the limit */
    uint64_t bad_escape; /* public: candidates with 0x7d not followed by 0x01/0x02 */
    int state_;
    size_t len_;
    uint8_t buf_[INGEST_JT808_FRAME_MAX];
} ingest_jt808_splitter;

void ingest_jt808_splitter_init(ingest_jt808_splitter *s);
/* Consumes bytes of in[0..n) up to and including the end of the next complete frame and
 * sets *used to the count. Returns 1 with *frame and *len set to the unescaped frame (valid
 * until the next call), 0 when all input is consumed without completing a frame,
 * CORE_ETOOBIG when a candidate went over the limit (its rest is skipped by later calls),
 * CORE_EINVAL when a candidate with a bad escape ended (it is dropped). */
int ingest_jt808_split(ingest_jt808_splitter *s, const uint8_t *in, size_t n, size_t *used,
                       const uint8_t **frame, size_t *len);
/* 1 while a frame has begun and not ended (a slow sender is in the middle of one). */
int ingest_jt808_split_partial(const ingest_jt808_splitter *s);

/* ---- header ---- */
typedef struct ingest_jt808_head {
    uint16_t msg_id;
    uint16_t serial;
    int v2019;             /* 2019 header: version flag, protocol version, 10-byte number */
    uint8_t proto_version; /* 2019 only (1 for the 2019 edition) */
    char terminal[INGEST_JT808_TERMINAL_MAX + 1]; /* BCD digits, 12 or 20, leading zeros kept */
    int encryption;                               /* body properties bits 10-12; 0: plain */
    int subpackage;                               /* 1 when pkg_total and pkg_seq are present */
    uint16_t pkg_total, pkg_seq;
    /* JT705A-style header (ids 0x5501, 0x5502, 0x4401): id WORD, properties WORD (bits
     * 0-9 body length, 10-12 encryption, 13-14 must be clear, bit 15 acknowledgement
     * requested), terminal BCD[6], serial BYTE */
    int short_serial;
    int ack_wanted;
} ingest_jt808_head;

/* Checks an unescaped frame (as the splitter returns it): checksum, header length, body
 * length against the properties, BCD digits. Returns 0 with h filled and *body and *body_len
 * pointing into frame, or CORE_EINVAL with a reason ("bad checksum: 0x12, computed 0x34"). */
int ingest_jt808_parse(const uint8_t *frame, size_t len, ingest_jt808_head *h, const uint8_t **body,
                       size_t *body_len, char *reason, size_t n);

/* Builds a complete escaped frame, flags included, from h (msg_id, serial, v2019,
 * proto_version, terminal: up to 12/20 digits, left-padded with zeros; subpackage fields
 * when h->subpackage) and a body of at most 1023 bytes. Returns its length, CORE_ETOOBIG
 * if it does not fit in cap (2 * (21 + body_len + 1) + 2 always does), or CORE_EINVAL. */
int ingest_jt808_encode(const ingest_jt808_head *h, const uint8_t *body, size_t body_len,
                        uint8_t *out, size_t cap);

/* ---- subpackage reassembly (packets in order, 1..total, one message at a time) ---- */
typedef struct ingest_jt808_reasm {
    uint16_t msg_id, total, next;
    uint16_t first_serial;
    char terminal[INGEST_JT808_TERMINAL_MAX + 1];
    size_t len;
    uint8_t buf[INGEST_JT808_REASM_MAX];
} ingest_jt808_reasm;

void ingest_jt808_reasm_init(ingest_jt808_reasm *r);
/* Adds the body of a subpackaged frame. Returns 1 when the message is complete (its body
 * is r->buf[0..r->len), until the next call), 0 when more packets are needed,
 * CORE_EINVAL for a packet out of order or of another message (the message in progress
 * is dropped; a packet 1 starts a new one), CORE_ETOOBIG over the limits. */
int ingest_jt808_reasm_add(ingest_jt808_reasm *r, const ingest_jt808_head *h, const uint8_t *body,
                           size_t len);

/* ---- bodies ---- */

/* 0x0100 terminal registration. Strings are NUL-terminated, trailing NULs and spaces
 * of the fixed fields removed. */
typedef struct ingest_jt808_register {
    uint16_t province, city;
    char maker[12];   /* BYTE[5] (2013), BYTE[11] (2019) */
    char model[31];   /* BYTE[20] (2013), BYTE[30] (2019); 2011: BYTE[8] */
    char term_id[31]; /* BYTE[7] (2013), BYTE[30] (2019) */
    uint8_t plate_color;
    char plate[33]; /* GBK in the standard; kept as bytes, at most 32 */
} ingest_jt808_register;

/* 0x0102 authentication. 2013: the whole body is the code; 2019: length-prefixed code,
 * IMEI BYTE[15], software version BYTE[20]. */
typedef struct ingest_jt808_auth {
    char code[65];
    char imei[16];
    char software[21];
} ingest_jt808_auth;

/* Locks reported in one 0xD5 item that the decoder keeps (more are counted, not kept). */
#define INGEST_JT808_LOCKS_MAX 8

/* One lock of a multi-lock conveyance (item 0xD5, Huabao layout, docs/jt808.md). */
typedef struct ingest_jt808_lock {
    char id[11];     /* BYTE[5], as 10 hex digits (the lock's SIM or slave id) */
    char card[11];   /* BYTE[5], the RFID card last seen, as 10 hex digits */
    int battery;     /* percent, as sent (0..255) */
    uint16_t status; /* the status WORD as sent */
    int locked;      /* status bit 5 clear */
} ingest_jt808_lock;

/* The e-lock vendor items of a location. Absent: NAN, -1, 0 locks. */
typedef struct ingest_jt808_elock {
    double battery_v;   /* item 0xD5 of 2 bytes: battery voltage, 1/100 V */
    double power_v;     /* item 0xD3: external power voltage, 1/10 V */
    int wire_cut;       /* item 0xDA status bit 0: the steel cable (wire) is cut */
    int motion;         /* item 0xDA status bit 2: the lock is moving */
    int cover_open;     /* item 0xDA status bit 3: the back cover is opened */
    int wire_cut_count; /* item 0xDA WORD: times the cable was cut */
    int n_locks;        /* item 0xD5 records kept in locks[] */
    int locks_total;    /* records the item announced (may be > INGEST_JT808_LOCKS_MAX) */
    ingest_jt808_lock locks[INGEST_JT808_LOCKS_MAX];
} ingest_jt808_elock;

/* 0x0200 location, and one position of 0x0704. Absent additional items: mileage_km and
 * battery NAN, signal and satellites -1, elock as ingest_jt808_elock says. */
typedef struct ingest_jt808_location {
    uint32_t alarm, status;
    double lat, lon;   /* degrees, negative south/west per the status bits */
    double altitude;   /* metres */
    double speed_kmh;  /* from 1/10 km/h */
    int course;        /* degrees 0..359 */
    int64_t ts_us;     /* UTC microseconds */
    double mileage_km; /* item 0x01, 1/10 km */
    int signal;        /* item 0x30, wireless signal strength */
    int satellites;    /* item 0x31, GNSS satellites */
    double battery;    /* item 0xE1 (or 0xD4, 0xFE), one byte, percent 0..100 */
    ingest_jt808_elock elock;
    /* decoder stats: items dropped because they were malformed (an item whose length
     * overruns the body ends the walk; a vendor item whose inner layout does not match its
     * length is skipped). The position itself is still good. */
    int items_dropped;
    int no_lock; /* the message carries no lock state (JT705A-style location) */
} ingest_jt808_location;

/* The rest of a JT705A-style location (0x5501 / 0x5502), layout in docs/jt808.md. */
typedef struct ingest_jt808_jt705 {
    int product;     /* product type BYTE */
    uint16_t status; /* status WORD as sent */
    uint16_t alarm;  /* alarm WORD as sent */
    uint32_t cell;   /* cell id DWORD */
    uint16_t lac;    /* location area code WORD */
    int charging;    /* battery byte 0xAA */
} ingest_jt808_jt705;

void ingest_jt808_location_clear(ingest_jt808_location *l);

/* Every additional item that fits in the body goes to the walker, known or not (unknown
 * items are kept raw: the decode tool lists them); a malformed one is counted in
 * items_dropped and never fails the location. */
typedef void (*ingest_jt808_item_fn)(void *arg, int id, const uint8_t *val, size_t len);

int ingest_jt808_parse_register(const uint8_t *b, size_t len, int v2019, ingest_jt808_register *r,
                                char *reason, size_t n);
int ingest_jt808_parse_auth(const uint8_t *b, size_t len, int v2019, ingest_jt808_auth *a,
                            char *reason, size_t n);
/* tz_min: the device clock's offset from UTC in minutes (INGEST_JT808_TZ_DEFAULT_MIN for
 * GMT+8). item (may be NULL) sees every additional item. 0 or CORE_EINVAL. */
int ingest_jt808_parse_location(const uint8_t *b, size_t len, int tz_min, ingest_jt808_location *l,
                                ingest_jt808_item_fn item, void *arg, char *reason, size_t n);
/* 0x5501 / 0x5502 body: a BCD location (UTC) and the device fields into l and x (x may
 * be NULL). Bytes after the 35 of the layout are ignored. 0 or CORE_EINVAL. */
int ingest_jt808_parse_jt705(const uint8_t *b, size_t len, ingest_jt808_location *l,
                             ingest_jt808_jt705 *x, char *reason, size_t n);
/* Its encoder (corridor-sim, tests): lat, lon, speed_kmh, course, ts_us, status FIX bit,
 * signal, satellites, mileage_km and battery of l, the rest from x (may be NULL). */
int ingest_jt808_body_jt705(uint8_t *out, size_t cap, const ingest_jt808_location *l,
                            const ingest_jt808_jt705 *x);
/* 0x4401 body: the answered message id and a result. */
int ingest_jt808_body_jt705_ack(uint8_t *out, size_t cap, uint16_t msg_id, int result);

/* 0x0704: fills out[0..*count) (at most max), *type 0 normal batch, 1 blind-area backfill. */
int ingest_jt808_parse_batch(const uint8_t *b, size_t len, int tz_min, ingest_jt808_location *out,
                             int max, int *count, int *type, char *reason, size_t n);

/* Body encoders: each writes into out (cap bytes) and returns the length, or
 * CORE_ETOOBIG / CORE_EINVAL. */
int ingest_jt808_body_ack(uint8_t *out, size_t cap, uint16_t reply_serial, uint16_t reply_id,
                          int result);
int ingest_jt808_body_register_ack(uint8_t *out, size_t cap, uint16_t reply_serial, int result,
                                   const char *auth_code);
int ingest_jt808_body_register(uint8_t *out, size_t cap, int v2019, const ingest_jt808_register *r);
int ingest_jt808_body_auth(uint8_t *out, size_t cap, int v2019, const ingest_jt808_auth *a);
/* Writes the location and its items: 0x01 mileage, 0x30 signal, 0x31 satellites,
 * 0xE1 battery, and the e-lock items 0xD3 power, 0xD5 (lock records, or the battery
 * voltage when there are none) and 0xDA (when any of its three flags is set, not
 * negative) when present (not NAN / not negative). */
int ingest_jt808_body_location(uint8_t *out, size_t cap, int tz_min,
                               const ingest_jt808_location *l);
int ingest_jt808_body_batch(uint8_t *out, size_t cap, int tz_min, int type,
                            const ingest_jt808_location *l, int count);

/* 0x8001 / 0x8100 bodies for the device side. 0 or CORE_EINVAL. */
int ingest_jt808_parse_ack(const uint8_t *b, size_t len, uint16_t *reply_serial, uint16_t *reply_id,
                           int *result);
int ingest_jt808_parse_register_ack(const uint8_t *b, size_t len, uint16_t *reply_serial,
                                    int *result, char *code, size_t code_cap);

/* ---- downlink commands (jt808_cmd.c) ----
 * The platform's side encodes them; the device side (corridor-sim, the tests) parses them.
 * Pure functions like the rest of the codec. */

/* A command, decoded from its queue row (proto.c) into what a frame needs. */
typedef struct ingest_jt808_command {
    uint16_t msg_id; /* 0x8103, 0x8105, 0x8201, 0x8203, 0x8300, 0x8500 */
    /* 0x8103: up to 4 DWORD parameters */
    int n_params;
    uint32_t param_id[4], param_value[4];
    /* 0x8105 */
    uint8_t control_word;
    /* 0x8203 */
    uint16_t alarm_serial;
    uint32_t alarm_mask;
    /* 0x8300 */
    uint8_t text_flag;
    char text[256];
    /* 0x8500: 1 lock, 0 unlock */
    int lock;
} ingest_jt808_command;

/* Writes the body of c for a terminal of the given edition into out. Returns its length,
 * or CORE_ETOOBIG / CORE_EINVAL. Layouts in docs/jt808.md. */
int ingest_jt808_command_body(const ingest_jt808_command *c, int v2019, uint8_t *out, size_t cap);
/* Parses a command body of message msg_id (the device side). 0 or CORE_EINVAL with a
 * reason. */
int ingest_jt808_command_parse(uint16_t msg_id, const uint8_t *b, size_t len, int v2019,
                               ingest_jt808_command *c, char *reason, size_t n);
/* 0x0201 and 0x0500: the answered serial, then a location body. 0 or CORE_EINVAL. */
int ingest_jt808_parse_answer_location(const uint8_t *b, size_t len, int tz_min,
                                       uint16_t *reply_serial, ingest_jt808_location *l,
                                       char *reason, size_t n);
int ingest_jt808_body_answer_location(uint8_t *out, size_t cap, int tz_min, uint16_t reply_serial,
                                      const ingest_jt808_location *l);

/* ---- names ---- */

/* Name of alarm bit (0..31) or status bit, e.g. "power_cut", "door_locked"; NULL for a
 * reserved bit. */
const char *ingest_jt808_alarm_name(int bit);
const char *ingest_jt808_status_name(int bit);
/* The seal event (geo_obs alarm) for a set of alarm bits: the most severe mapped one,
 * "" when none is mapped. Table in docs/jt808.md. */
const char *ingest_jt808_seal_alarm(uint32_t alarm);
/* The seal event of a whole location: the alarm bits as above, with the e-lock items'
 * wire cut or back cover opened as "tampering" (below door_open, like the other tampering
 * bits). */
const char *ingest_jt808_location_alarm(const ingest_jt808_location *l);
/* -1 when the location carries no lock state (no_lock); else 1 when it says the seal is
 * open: alarm bit 31, or with 0xD5 lock records
 * any lock unlocked, or without them status bit 12 (door locked) clear. */
int ingest_jt808_location_open(const ingest_jt808_location *l);

/* Parses a seal time zone ("+08:00", "-05:30", "+0800", "Z", "UTC", "" means GMT+8) into
 * minutes east of UTC. 0 or CORE_EINVAL. */
int ingest_jt808_parse_tz(const char *s, int *min);

#endif
