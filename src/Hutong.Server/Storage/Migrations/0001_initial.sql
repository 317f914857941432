-- One schema for SQLite and PostgreSQL. {{identity}} becomes the dialect's auto-increment key.
-- Times are Unix milliseconds (BIGINT) in both stores; money is BIGINT minor units with a currency.

CREATE TABLE merchants (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    prefix      TEXT NOT NULL,
    key_hash    TEXT NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);

CREATE TABLE payments (
    id                    TEXT PRIMARY KEY,
    merchant_id           TEXT NOT NULL REFERENCES merchants (id),
    amount                BIGINT NOT NULL CHECK (amount > 0),
    currency              TEXT NOT NULL,
    status                TEXT NOT NULL CHECK (status IN ('created','pending','unknown','succeeded','failed','canceled','expired')),
    description           TEXT NOT NULL,
    merchant_order_id     TEXT NOT NULL,
    metadata              TEXT,
    checkout_token        TEXT NOT NULL UNIQUE,
    wallet                TEXT,
    current_attempt_id    TEXT,
    payer_id              TEXT,
    wallet_transaction_id TEXT,
    failure_code          TEXT,
    failure_message       TEXT,
    expires_at            BIGINT NOT NULL,
    created_at            BIGINT NOT NULL,
    updated_at            BIGINT NOT NULL,
    succeeded_at          BIGINT,
    version               INTEGER NOT NULL,
    UNIQUE (merchant_id, merchant_order_id)
);
CREATE INDEX ix_payments_merchant ON payments (merchant_id, id);
CREATE INDEX ix_payments_expiry ON payments (status, expires_at);

CREATE TABLE payment_attempts (
    id                    TEXT PRIMARY KEY,
    payment_id            TEXT NOT NULL REFERENCES payments (id),
    wallet                TEXT NOT NULL,
    out_trade_no          TEXT NOT NULL UNIQUE,
    status                TEXT NOT NULL CHECK (status IN ('requested','open','unknown','succeeded','failed','closed','stuck')),
    code_url              TEXT,
    wallet_transaction_id TEXT,
    error_code            TEXT,
    error_message         TEXT,
    checks                INTEGER NOT NULL DEFAULT 0,
    next_check_at         BIGINT,
    created_at            BIGINT NOT NULL,
    updated_at            BIGINT NOT NULL
);
CREATE INDEX ix_attempts_payment ON payment_attempts (payment_id);
CREATE INDEX ix_attempts_check ON payment_attempts (status, next_check_at);

CREATE TABLE outbox (
    seq           {{identity}},
    id            TEXT NOT NULL UNIQUE,
    merchant_id   TEXT NOT NULL,
    type          TEXT NOT NULL,
    payload       TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    dispatched_at BIGINT
);
CREATE INDEX ix_outbox_undispatched ON outbox (dispatched_at, seq);
CREATE INDEX ix_outbox_merchant ON outbox (merchant_id, seq);

CREATE TABLE idempotency_keys (
    merchant_id     TEXT NOT NULL,
    idem_key        TEXT NOT NULL,
    request_hash    TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('started','completed')),
    locked_at       BIGINT,
    response_status INTEGER,
    response_body   TEXT,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (merchant_id, idem_key)
);

CREATE TABLE webhook_endpoints (
    id                         TEXT PRIMARY KEY,
    merchant_id                TEXT NOT NULL REFERENCES merchants (id),
    url                        TEXT NOT NULL,
    secret                     TEXT NOT NULL,
    previous_secret            TEXT,
    previous_secret_expires_at BIGINT,
    enabled                    INTEGER NOT NULL,
    disabled_reason            TEXT,
    created_at                 BIGINT NOT NULL
);
CREATE INDEX ix_webhook_endpoints_merchant ON webhook_endpoints (merchant_id);

CREATE TABLE webhook_deliveries (
    id              {{identity}},
    event_id        TEXT NOT NULL,
    endpoint_id     TEXT NOT NULL REFERENCES webhook_endpoints (id),
    message_id      TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending','delivered','failed','canceled')),
    attempts        INTEGER NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    last_status     INTEGER,
    last_error      TEXT,
    created_at      BIGINT NOT NULL,
    delivered_at    BIGINT,
    UNIQUE (event_id, endpoint_id)
);
CREATE INDEX ix_webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);

CREATE TABLE wallet_notifications (
    id           TEXT PRIMARY KEY,
    wallet       TEXT NOT NULL,
    event_type   TEXT,
    out_trade_no TEXT,
    body         TEXT NOT NULL,
    received_at  BIGINT NOT NULL,
    processed_at BIGINT
);
