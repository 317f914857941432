-- Platform subsidy campaigns (docs/subsidies.md). The budget holds exactly under concurrency: a reservation is one
-- conditional UPDATE of committed (committed + amount <= budget), and the CHECK is the store's own backstop.
CREATE TABLE subsidy_campaigns (
    id               TEXT PRIMARY KEY,
    merchant_id      TEXT NOT NULL REFERENCES merchants (id),
    name             TEXT NOT NULL,
    currency         TEXT NOT NULL,
    amount_off       BIGINT,
    percent_off_bps  INTEGER,
    max_off          BIGINT,
    wallets          TEXT NOT NULL,
    targeting        TEXT NOT NULL,
    budget           BIGINT NOT NULL CHECK (budget > 0),
    committed        BIGINT NOT NULL DEFAULT 0 CHECK (committed >= 0 AND committed <= budget),
    overrun          BIGINT NOT NULL DEFAULT 0,
    per_buyer_count  INTEGER,
    per_buyer_amount BIGINT,
    starts_at        BIGINT NOT NULL,
    ends_at          BIGINT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('active', 'ended')),
    metadata         TEXT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    ended_at         BIGINT
);
CREATE INDEX ix_subsidy_campaigns_merchant ON subsidy_campaigns (merchant_id, status, id);

-- A buyer's use of a campaign (reserved + consumed): the per-buyer limits, as conditional UPDATEs like the budget.
-- buyer_key is a hash of the merchant's buyer id, never the id itself.
CREATE TABLE subsidy_buyers (
    campaign_id TEXT NOT NULL,
    buyer_key   TEXT NOT NULL,
    uses        INTEGER NOT NULL DEFAULT 0 CHECK (uses >= 0),
    amount      BIGINT NOT NULL DEFAULT 0 CHECK (amount >= 0),
    PRIMARY KEY (campaign_id, buyer_key)
);

-- The cashier showed this campaign's offer at this wallet for this payment (once per payment): the report's conversion base.
CREATE TABLE subsidy_views (
    campaign_id TEXT NOT NULL,
    wallet      TEXT NOT NULL,
    payment_id  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (campaign_id, wallet, payment_id)
);

-- The payment's subsidy (one reservation per payment): the campaign, the amount off the order, its state, and what refunds
-- have returned to the platform. The order amount (payments.amount) is unchanged; the wallet is asked for amount - subsidy.
ALTER TABLE payments ADD COLUMN subsidy_campaign_id TEXT;
ALTER TABLE payments ADD COLUMN subsidy_wallet TEXT;
ALTER TABLE payments ADD COLUMN subsidy_amount BIGINT NOT NULL DEFAULT 0;
ALTER TABLE payments ADD COLUMN subsidy_status TEXT;
ALTER TABLE payments ADD COLUMN subsidy_returned BIGINT NOT NULL DEFAULT 0;
CREATE INDEX ix_payments_subsidy_campaign ON payments (subsidy_campaign_id) WHERE subsidy_campaign_id IS NOT NULL;
-- What the attempt's wallet order was reduced by: the order sent (and re-sent) is amount - subsidy_amount.
ALTER TABLE payment_attempts ADD COLUMN subsidy_amount BIGINT NOT NULL DEFAULT 0;
-- ... and the campaign it is of: the paid order's subsidy is consumed from its own campaign, whatever the payment's
-- reservation moved to since (another wallet, another campaign).
ALTER TABLE payment_attempts ADD COLUMN subsidy_campaign_id TEXT;
-- A refund's share that goes back to the platform; the wallet is asked to refund amount - subsidy_amount.
ALTER TABLE refunds ADD COLUMN subsidy_amount BIGINT NOT NULL DEFAULT 0;
