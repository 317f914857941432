-- Disputes: buyers' complaints at the wallet (WeChat Pay 消费者投诉2.0), each linked to the payment it is about (by the
-- complaint's out_trade_no). status is the hub's (needs_response, under_review, closed), wallet_status the wallet's word.
-- respond_by is the wallet's first-answer deadline; the deadline job stamps each alert once. history is the negotiation
-- as last read (JSON, bounded). version makes every update conditional on the row that was read.
CREATE TABLE disputes (
    id                     TEXT PRIMARY KEY,
    merchant_id            TEXT NOT NULL REFERENCES merchants (id),
    payment_id             TEXT NOT NULL REFERENCES payments (id),
    wallet                 TEXT NOT NULL,
    channel                TEXT NOT NULL,
    wallet_dispute_id      TEXT NOT NULL,
    status                 TEXT NOT NULL CHECK (status IN ('needs_response', 'under_review', 'closed')),
    wallet_status          TEXT NOT NULL,
    reason                 TEXT,
    problem_type           TEXT,
    detail                 TEXT NOT NULL,
    amount                 BIGINT,
    requested_refund       BIGINT,
    currency               TEXT NOT NULL,
    out_trade_no           TEXT,
    wallet_transaction_id  TEXT,
    full_refunded          INTEGER NOT NULL DEFAULT 0,
    awaiting_merchant      INTEGER NOT NULL DEFAULT 0,
    complaint_times        INTEGER NOT NULL DEFAULT 1,
    refund_id              TEXT,
    refund_reported        INTEGER NOT NULL DEFAULT 0,
    history                TEXT NOT NULL DEFAULT '[]',
    filed_at               BIGINT NOT NULL,
    respond_by             BIGINT NOT NULL,
    resolve_by             BIGINT NOT NULL,
    approaching_alerted_at BIGINT,
    overdue_alerted_at     BIGINT,
    version                INTEGER NOT NULL DEFAULT 0,
    created_at             BIGINT NOT NULL,
    updated_at             BIGINT NOT NULL,
    UNIQUE (wallet, wallet_dispute_id)
);
CREATE INDEX ix_disputes_merchant ON disputes (merchant_id, id);
CREATE INDEX ix_disputes_deadline ON disputes (status, respond_by);
CREATE INDEX ix_disputes_payment ON disputes (payment_id);
