-- WeChat Pay merchant transfer (商家转账, user-confirmation mode) as a payout wallet. A payout may wait for the payee
-- to accept it in WeChat (awaiting_confirmation, with WeChat's package_info for wx.requestMerchantTransfer), be
-- withdrawn at the merchant's request (canceling while WeChat withdraws it, then canceled: the reservation goes back).
-- cancel_requested_at: when the merchant asked to cancel (POST /v1/payouts/{id}/cancel); the worker then calls the
-- wallet's cancel instead of a query. confirmation_package: package_info from the create answer (the query has none).
-- contract step: the status CHECK only widens (three new values). The previous version writes only the old values,
-- reads status as text in GET /v1/payouts, and its due query selects only the old open statuses, so it leaves the new
-- ones to upgraded hubs. SQLite cannot alter a CHECK, so its table is rebuilt with every column kept (plus two nullable
-- ones) in this migration's one transaction; nothing references payouts.
-- dialect: postgres
ALTER TABLE payouts DROP CONSTRAINT payouts_status_check;
ALTER TABLE payouts ADD CONSTRAINT payouts_status_check
    CHECK (status IN ('pending', 'processing', 'unknown', 'succeeded', 'failed', 'awaiting_confirmation', 'canceling', 'canceled'));
ALTER TABLE payouts ADD COLUMN confirmation_package TEXT;
ALTER TABLE payouts ADD COLUMN cancel_requested_at BIGINT;
-- dialect: sqlite
-- SQLite cannot change a CHECK constraint: the table is rebuilt with the new list (nothing references payouts).
CREATE TABLE payouts_new (
    id                   TEXT PRIMARY KEY,
    merchant_id          TEXT NOT NULL REFERENCES merchants (id),
    wallet               TEXT NOT NULL,
    amount               BIGINT NOT NULL CHECK (amount > 0),
    currency             TEXT NOT NULL,
    payee_type           TEXT NOT NULL,
    payee_identity       TEXT NOT NULL,
    payee_name           TEXT,
    description          TEXT NOT NULL,
    metadata             TEXT,
    out_biz_no           TEXT NOT NULL UNIQUE,
    status               TEXT NOT NULL CHECK (status IN ('pending', 'processing', 'unknown', 'succeeded', 'failed', 'awaiting_confirmation', 'canceling', 'canceled')),
    wallet_order_id      TEXT,
    error_code           TEXT,
    error_message        TEXT,
    checks               INTEGER NOT NULL DEFAULT 0,
    next_check_at        BIGINT,
    sent_at              BIGINT,
    lease_until          BIGINT,
    leased_by            TEXT,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL,
    confirmation_package TEXT,
    cancel_requested_at  BIGINT
);
INSERT INTO payouts_new (id, merchant_id, wallet, amount, currency, payee_type, payee_identity, payee_name, description, metadata, out_biz_no,
                         status, wallet_order_id, error_code, error_message, checks, next_check_at, sent_at, lease_until, leased_by, created_at, updated_at)
SELECT id, merchant_id, wallet, amount, currency, payee_type, payee_identity, payee_name, description, metadata, out_biz_no,
       status, wallet_order_id, error_code, error_message, checks, next_check_at, sent_at, lease_until, leased_by, created_at, updated_at
FROM payouts;
DROP TABLE payouts;
ALTER TABLE payouts_new RENAME TO payouts;
CREATE INDEX ix_payouts_merchant ON payouts (merchant_id, id);
CREATE INDEX ix_payouts_due ON payouts (status, next_check_at);
CREATE INDEX ix_payouts_payee_day ON payouts (merchant_id, payee_identity, created_at);
-- dialect: all
