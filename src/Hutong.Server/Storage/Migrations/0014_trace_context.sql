-- The W3C traceparent of the request that created a payment, and of each outbox event: work that happens later (the
-- wallet's notification, the webhook delivery) continues that trace, so one trace follows a payment end to end.
ALTER TABLE payments ADD COLUMN trace_parent TEXT;
ALTER TABLE outbox ADD COLUMN trace_parent TEXT;
