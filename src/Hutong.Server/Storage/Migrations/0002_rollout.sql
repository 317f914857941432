-- Staged rollout: who is offered which wallet, per merchant. The buyer and product category ride on the payment.
ALTER TABLE payments ADD COLUMN buyer_id TEXT;
ALTER TABLE payments ADD COLUMN product_category TEXT;

CREATE TABLE rollout_rules (
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    wallet      TEXT NOT NULL,
    rule        TEXT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (merchant_id, wallet)
);
