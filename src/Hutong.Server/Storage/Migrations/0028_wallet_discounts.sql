-- Wallet discounts (docs/discounts.md): how a paid order was funded, as the wallet reported it. NULL on payments from before,
-- and on payments paid without a coupon report, meaning the buyer paid the whole amount.
ALTER TABLE payments ADD COLUMN buyer_paid BIGINT;
ALTER TABLE payments ADD COLUMN wallet_discount BIGINT;
ALTER TABLE payments ADD COLUMN merchant_discount BIGINT;
