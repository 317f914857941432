-- The merchant's return_url: the cashier links back to it once the payment is paid, canceled or expired.
ALTER TABLE payments ADD COLUMN return_url TEXT;
