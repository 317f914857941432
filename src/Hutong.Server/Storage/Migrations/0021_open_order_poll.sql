-- When the hub next queries an open wallet order of a pending payment whose outcome nobody told it (a lost
-- notification; a cancel whose check went unanswered). NULL: not polled (closed, paid, payment-code orders, which their
-- own job follows). Orders open at upgrade are polled from now on.
ALTER TABLE payment_attempts ADD COLUMN poll_at BIGINT;
UPDATE payment_attempts SET poll_at = updated_at WHERE status = 'open' AND (flow IS NULL OR flow <> 'payment_code');
CREATE INDEX ix_attempts_poll ON payment_attempts (poll_at) WHERE status = 'open';
