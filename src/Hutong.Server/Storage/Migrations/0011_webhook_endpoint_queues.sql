-- Each endpoint's pending deliveries in due order: the dispatcher takes the oldest few of every endpoint, so one
-- endpoint's backlog never stands in front of another's.
CREATE INDEX ix_webhook_deliveries_endpoint_pending ON webhook_deliveries (endpoint_id, next_attempt_at) WHERE status = 'pending';
