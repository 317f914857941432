-- Payouts: money sent from a merchant's wallet balance to a payee (Alipay alipay.fund.trans.uni.transfer). Reserved in the
-- ledger when created, sent once (sent_at, lease_until / leased_by as refunds: a lapsed claim queries before any send),
-- and followed to succeeded or failed (the reservation then goes back). out_biz_no is the transfer's number at the wallet.
CREATE TABLE payouts (
    id              TEXT PRIMARY KEY,
    merchant_id     TEXT NOT NULL REFERENCES merchants (id),
    wallet          TEXT NOT NULL,
    amount          BIGINT NOT NULL CHECK (amount > 0),
    currency        TEXT NOT NULL,
    payee_type      TEXT NOT NULL,
    payee_identity  TEXT NOT NULL,
    payee_name      TEXT,
    description     TEXT NOT NULL,
    metadata        TEXT,
    out_biz_no      TEXT NOT NULL UNIQUE,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'processing', 'unknown', 'succeeded', 'failed')),
    wallet_order_id TEXT,
    error_code      TEXT,
    error_message   TEXT,
    checks          INTEGER NOT NULL DEFAULT 0,
    next_check_at   BIGINT,
    sent_at         BIGINT,
    lease_until     BIGINT,
    leased_by       TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX ix_payouts_merchant ON payouts (merchant_id, id);
CREATE INDEX ix_payouts_due ON payouts (status, next_check_at);
CREATE INDEX ix_payouts_payee_day ON payouts (merchant_id, payee_identity, created_at);
