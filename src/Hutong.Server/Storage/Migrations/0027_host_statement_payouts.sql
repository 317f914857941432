-- Host statements paid through payouts (issue 16). A host has a payout account (wallet, identity kind, identity, real
-- name) its statements are paid to. A statement is payable → paying (its payout is in flight, payout_id) → paid; a
-- payout that fails puts it back to payable. payouts.host_statement_id links the payout back, so the payout job moves
-- the statement with the payout's outcome in the same transaction.
-- Clawbacks: settled_sales is the attributed sales a closed month was last settled on; a refund after the month closed
-- lowers it, and the difference in pay is carried into the next statement (carried_in). A statement whose carry leaves
-- nothing to pay is carried on (carry_out, a negative amount the host owes) and not posted.
ALTER TABLE hosts ADD COLUMN payout_wallet TEXT;
ALTER TABLE hosts ADD COLUMN payout_identity_type TEXT;
ALTER TABLE hosts ADD COLUMN payout_identity TEXT;
ALTER TABLE hosts ADD COLUMN payout_name TEXT;

ALTER TABLE host_statements ADD COLUMN status TEXT NOT NULL DEFAULT 'payable'; -- payable, paying, paid (HostStatementState; no CHECK: an added CHECK waits a release)
ALTER TABLE host_statements ADD COLUMN payout_id TEXT;
ALTER TABLE host_statements ADD COLUMN settled_sales BIGINT;
ALTER TABLE host_statements ADD COLUMN carried_in BIGINT NOT NULL DEFAULT 0;
ALTER TABLE host_statements ADD COLUMN carry_out BIGINT NOT NULL DEFAULT 0;
ALTER TABLE host_statements ADD COLUMN carried_into TEXT;
UPDATE host_statements SET status = 'paid' WHERE paid_at IS NOT NULL;

ALTER TABLE payouts ADD COLUMN host_statement_id TEXT;
CREATE INDEX ix_payouts_host_statement ON payouts (host_statement_id);
CREATE INDEX ix_split_receivers_merchant_id ON split_receivers (merchant_id, id); -- GET /v1/split_receivers pages newest first
