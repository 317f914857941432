-- The payment worker's lease and back-off per item (expiry on payments; re-query and stray close on attempts).
-- work_after: nobody works on the row before this (a hub's claim while it works on it, then the back-off after a pass
-- that changed nothing); NULL: due whenever its own state says so. work_failures: passes in a row that changed nothing.
ALTER TABLE payments ADD COLUMN work_after BIGINT;
ALTER TABLE payments ADD COLUMN work_failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE payment_attempts ADD COLUMN work_after BIGINT;
ALTER TABLE payment_attempts ADD COLUMN work_failures INTEGER NOT NULL DEFAULT 0;
