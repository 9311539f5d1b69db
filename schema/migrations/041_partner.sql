-- 041_partner: the regional partners' cross-border API (docs/security.md, "Partner API").
-- A partner state sees the trips whose track enters or leaves its country, and nothing
-- else: each trip with its conveyance, declaration, route, border crossings into or out
-- of that country, status, and its track clipped to the country and about 50 km around
-- it. Every query is recorded in partner_audit, answered or refused (web/rest_partner.c
-- records the refusals).
--
-- Its functions and triggers are in schema/rules/partner.sql,
-- in their current form (docs/schema.md).

CREATE TABLE corridor.partner_audit (
    id       bigserial PRIMARY KEY,
    token_id bigint,              -- corridor.tokens.id of the caller
    country  text NOT NULL,       -- the country the query was scoped to
    query    text NOT NULL,       -- the request's path and query string
    rows     int NOT NULL,        -- trips returned
    status   int NOT NULL DEFAULT 200, -- the HTTP answer (refused queries are audited too)
    at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX partner_audit_at ON corridor.partner_audit (at);
CREATE INDEX trip_legs_country ON corridor.trip_legs (country, entered_at);
