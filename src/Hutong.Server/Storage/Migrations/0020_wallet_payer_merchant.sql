-- A mini-program back end's payer handle belongs to the merchant that exchanged the wx.login code: another merchant's
-- API key cannot place an order with it (NULL: a browser session's row, which is bound by its session instead).
ALTER TABLE wallet_payers ADD COLUMN merchant_id TEXT;
