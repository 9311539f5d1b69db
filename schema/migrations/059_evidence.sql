-- 059_evidence: tamper-evident journeys (docs/evidence.md).
--
-- Every position stored from now on carries its place in its seal's hash chain: chain_seq
-- (1, 2, 3, ... per seal, in the order the centre stored them) and link = SHA-256 of the
-- position's canonical content followed by the link before it (rules/evidence.sql,
-- corridor.chain_content). Rows stored before this migration keep NULL: "before chaining".
-- The head of each chain is kept in the seal's latest row (written in the same statement as
-- the position; chain_heads is its view); the centre's signer (corridord --signing-key) signs heads into
-- chain_signatures with the Ed25519 keys of signing_keys.
--
-- Its functions and triggers are in schema/rules/evidence.sql.

ALTER TABLE corridor.positions ADD COLUMN chain_seq bigint, ADD COLUMN link bytea;

-- The head of each seal's chain lives in its latest row, which every batch probes and
-- updates anyway (a table of its own cost a probe and an update more per seal and batch);
-- chain_heads is the view of it. chain_ts: device time of the position at the head.
ALTER TABLE corridor.latest ADD COLUMN chain_seq bigint, ADD COLUMN chain_link bytea,
    ADD COLUMN chain_ts timestamptz;
CREATE VIEW corridor.chain_heads AS
    SELECT seal_id, chain_seq AS seq, chain_link AS link, chain_ts AS ts
    FROM corridor.latest WHERE chain_seq IS NOT NULL;

-- The public keys the centre signed with; the private key never enters the database.
CREATE TABLE corridor.signing_keys (
    fingerprint text PRIMARY KEY,         -- hex SHA-256 of the raw 32-byte Ed25519 public key
    public_key  text NOT NULL,            -- PEM (SubjectPublicKeyInfo)
    first_used  timestamptz NOT NULL DEFAULT now()
);

-- One signed head per row: the signature over corridor.head_message(...) (evidence.sql)
CREATE TABLE corridor.chain_signatures (
    id              bigserial PRIMARY KEY,
    signed_at       timestamptz NOT NULL,
    key_fingerprint text NOT NULL REFERENCES corridor.signing_keys (fingerprint),
    seal_id         text NOT NULL,
    seq             bigint NOT NULL,
    link            bytea NOT NULL,
    signature       bytea NOT NULL CHECK (octet_length(signature) = 64)
);
CREATE INDEX chain_signatures_seal ON corridor.chain_signatures (seal_id, seq);

-- The chain positions a trip's evidence starts after and ends at (set by evidence.sql's
-- trigger at arming and disarming); NULL for trips armed before chaining.
ALTER TABLE corridor.trips ADD COLUMN chain_from bigint, ADD COLUMN chain_to bigint;
