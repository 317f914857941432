-- Profit sharing (分账): the receivers a merchant splits to (per wallet), the split orders of each payment with what
-- each receiver got, and what comes back from receivers when a split payment is refunded.

-- NULL: the payment is not split. A JSON array of rules (possibly empty): the wallet order holds the funds for
-- splitting, and non-empty rules are split automatically once the wallet allows it.
ALTER TABLE payments ADD COLUMN profit_sharing TEXT;

CREATE TABLE split_receivers (
    id          TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    wallet      TEXT NOT NULL,
    role        TEXT NOT NULL CHECK (role IN ('platform', 'host', 'agency')),
    type        TEXT NOT NULL CHECK (type IN ('merchant', 'personal')),
    account     TEXT NOT NULL,
    name        TEXT,
    host_id     TEXT,
    created_at  BIGINT NOT NULL,
    UNIQUE (merchant_id, wallet, type, account)
);

-- A receiver is added at each wallet account (channel) it is split through, once.
CREATE TABLE split_receiver_bindings (
    receiver_id TEXT NOT NULL REFERENCES split_receivers (id),
    channel     TEXT NOT NULL,
    bound_at    BIGINT NOT NULL,
    PRIMARY KEY (receiver_id, channel)
);

CREATE TABLE splits (
    id              TEXT PRIMARY KEY,
    merchant_id     TEXT NOT NULL REFERENCES merchants (id),
    payment_id      TEXT NOT NULL REFERENCES payments (id),
    attempt_id      TEXT NOT NULL REFERENCES payment_attempts (id),
    out_order_no    TEXT NOT NULL UNIQUE,
    initiated_by    TEXT NOT NULL CHECK (initiated_by IN ('rules', 'api')),
    rules           TEXT NOT NULL,
    final           INTEGER NOT NULL CHECK (final IN (0, 1)),
    status          TEXT NOT NULL CHECK (status IN ('scheduled', 'pending', 'processing', 'unknown', 'succeeded', 'failed')),
    amount          BIGINT NOT NULL,
    currency        TEXT NOT NULL,
    wallet_order_id TEXT,
    error_code      TEXT,
    error_message   TEXT,
    checks          INTEGER NOT NULL DEFAULT 0,
    next_check_at   BIGINT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX ix_splits_payment ON splits (payment_id);
CREATE INDEX ix_splits_due ON splits (status, next_check_at);
-- The payment's own rules are split once, however often its success is reported.
CREATE UNIQUE INDEX ux_splits_rules ON splits (payment_id) WHERE initiated_by = 'rules';

CREATE TABLE split_lines (
    split_id    TEXT NOT NULL REFERENCES splits (id),
    receiver_id TEXT NOT NULL REFERENCES split_receivers (id),
    amount      BIGINT NOT NULL CHECK (amount > 0),
    result      TEXT NOT NULL CHECK (result IN ('pending', 'succeeded', 'failed')),
    returned    BIGINT NOT NULL DEFAULT 0 CHECK (returned >= 0 AND returned <= amount),
    fail_reason TEXT,
    PRIMARY KEY (split_id, receiver_id)
);

CREATE TABLE split_returns (
    id            TEXT PRIMARY KEY,
    merchant_id   TEXT NOT NULL REFERENCES merchants (id),
    payment_id    TEXT NOT NULL REFERENCES payments (id),
    refund_id     TEXT NOT NULL REFERENCES refunds (id),
    split_id      TEXT NOT NULL REFERENCES splits (id),
    receiver_id   TEXT NOT NULL REFERENCES split_receivers (id),
    out_return_no TEXT NOT NULL UNIQUE,
    amount        BIGINT NOT NULL CHECK (amount > 0),
    mode          TEXT NOT NULL CHECK (mode IN ('return_order', 'with_refund', 'clawback')),
    status        TEXT NOT NULL CHECK (status IN ('awaiting_refund', 'pending', 'unknown', 'succeeded', 'failed', 'canceled')),
    error_code    TEXT,
    checks        INTEGER NOT NULL DEFAULT 0,
    next_check_at BIGINT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE INDEX ix_split_returns_refund ON split_returns (refund_id);
CREATE INDEX ix_split_returns_due ON split_returns (status, next_check_at);
