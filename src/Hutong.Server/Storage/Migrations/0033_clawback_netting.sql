-- Split clawbacks recovered (issue 16; docs/settlement-payouts.md "Split clawbacks"). clawback_outstanding is what a
-- receiver owes the merchant and no netting has taken yet: raised when a refund records a clawback, lowered by one
-- conditional UPDATE on the value read when a split share or payout nets it (clawback_offset on the line or payout),
-- or when the merchant settles or writes it off; a netting whose split line or payout fails gives it back. The ledger's
-- clawback_receivable:{receiver} is this plus the offsets still in flight (closed when the line or payout succeeds).
ALTER TABLE split_receivers ADD COLUMN clawback_outstanding BIGINT NOT NULL DEFAULT 0;
ALTER TABLE split_lines ADD COLUMN clawback_offset BIGINT NOT NULL DEFAULT 0;
ALTER TABLE payouts ADD COLUMN clawback_offset BIGINT NOT NULL DEFAULT 0;
ALTER TABLE payouts ADD COLUMN clawback_receiver_id TEXT;
UPDATE split_receivers SET clawback_outstanding = COALESCE(
    (SELECT SUM(b.balance) FROM ledger_balances b WHERE b.account = 'clawback_receivable:' || split_receivers.id), 0);
CREATE INDEX ix_split_receivers_payee ON split_receivers (merchant_id, wallet, account);
