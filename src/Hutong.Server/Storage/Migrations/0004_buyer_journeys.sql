-- Buyer journeys: ask-a-friend-to-pay links, who started each attempt (so exactly one payer wins),
-- refunds (the hub refunds a second capture by itself), cross-app links with click counts, share codes (口令).

-- The payer claim: the browser session currently allowed to pay this payment, until the lease ends.
ALTER TABLE payments ADD COLUMN payer_claim TEXT;
ALTER TABLE payments ADD COLUMN payer_claim_until BIGINT;
-- How the winning attempt was started: api, checkout (the buyer) or friend (a friend-pay link).
ALTER TABLE payments ADD COLUMN paid_via TEXT;
ALTER TABLE payments ADD COLUMN friend_link_id TEXT;

ALTER TABLE payment_attempts ADD COLUMN via TEXT;
ALTER TABLE payment_attempts ADD COLUMN payer_claim TEXT;
ALTER TABLE payment_attempts ADD COLUMN friend_link_id TEXT;

CREATE TABLE friend_pay_links (
    id             TEXT PRIMARY KEY,
    merchant_id    TEXT NOT NULL REFERENCES merchants (id),
    payment_id     TEXT NOT NULL REFERENCES payments (id),
    token          TEXT NOT NULL UNIQUE,
    requester_name TEXT NOT NULL,
    note           TEXT,
    status         TEXT NOT NULL CHECK (status IN ('active', 'revoked')),
    created_at     BIGINT NOT NULL,
    revoked_at     BIGINT
);
CREATE INDEX ix_friend_pay_links_payment ON friend_pay_links (payment_id);

CREATE TABLE refunds (
    id              TEXT PRIMARY KEY,
    merchant_id     TEXT NOT NULL REFERENCES merchants (id),
    payment_id      TEXT NOT NULL REFERENCES payments (id),
    attempt_id      TEXT NOT NULL REFERENCES payment_attempts (id),
    amount          BIGINT NOT NULL CHECK (amount > 0),
    currency        TEXT NOT NULL,
    reason          TEXT NOT NULL,
    initiated_by    TEXT NOT NULL CHECK (initiated_by IN ('merchant', 'system')),
    out_refund_no   TEXT NOT NULL UNIQUE,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'processing', 'unknown', 'succeeded', 'failed')),
    wallet_refund_id TEXT,
    error_code      TEXT,
    error_message   TEXT,
    checks          INTEGER NOT NULL DEFAULT 0,
    next_check_at   BIGINT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX ix_refunds_payment ON refunds (payment_id);
CREATE INDEX ix_refunds_due ON refunds (status, next_check_at);
-- One automatic refund per extra capture, however often the capture is reported.
CREATE UNIQUE INDEX ux_refunds_system_attempt ON refunds (attempt_id) WHERE initiated_by = 'system';

CREATE TABLE links (
    id              TEXT PRIMARY KEY,
    merchant_id     TEXT NOT NULL REFERENCES merchants (id),
    code            TEXT NOT NULL UNIQUE,
    url             TEXT NOT NULL,
    title           TEXT NOT NULL,
    description     TEXT,
    image_url       TEXT,
    ios_url         TEXT,
    android_package TEXT,
    android_url     TEXT,
    desktop_url     TEXT,
    expires_at      BIGINT,
    status          TEXT NOT NULL CHECK (status IN ('active', 'revoked')),
    created_at      BIGINT NOT NULL,
    revoked_at      BIGINT
);
CREATE INDEX ix_links_merchant ON links (merchant_id, id);

-- Aggregated by the click counter off the request path: one row per link and landing platform.
CREATE TABLE link_clicks (
    link_id  TEXT NOT NULL REFERENCES links (id),
    platform TEXT NOT NULL,
    clicks   BIGINT NOT NULL,
    PRIMARY KEY (link_id, platform)
);

CREATE TABLE share_codes (
    id          TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    code        TEXT NOT NULL UNIQUE,
    link_id     TEXT NOT NULL REFERENCES links (id),
    text        TEXT NOT NULL,
    expires_at  BIGINT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('active', 'revoked')),
    resolves    BIGINT NOT NULL DEFAULT 0,
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);
CREATE INDEX ix_share_codes_merchant ON share_codes (merchant_id, id);
