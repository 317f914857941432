-- The notify_url an attempt's order was first sent with. A re-send (the create call went unanswered) must be the very
-- same order, and hubs sharing a database may each listen at their own PublicBaseUrl: a wallet refuses an order number
-- re-used with another notify_url (WeChat Pay: OUT_TRADE_NO_USED). NULL on older rows: the sending hub's own URL.
ALTER TABLE payment_attempts ADD COLUMN notify_url TEXT;
