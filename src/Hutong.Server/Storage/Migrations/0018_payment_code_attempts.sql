-- How an attempt's order was opened: NULL for a merchant-presented QR (or older rows), 'payment_code' for the buyer's
-- payment code scanned at a till. A payment-code order is never re-sent (the code is single use): it is followed by
-- query and reversed when it must not stand. The code itself is never stored.
ALTER TABLE payment_attempts ADD COLUMN flow TEXT;
