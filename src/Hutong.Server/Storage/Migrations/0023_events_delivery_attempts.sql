-- Events and replay (GET /v1/events, resend, range replay).
-- The id of the object an event is about (data.object.id: a payment, a refund, …), so a merchant can list one object's
-- events. NULL for events written before this migration (they age out with retention).
ALTER TABLE outbox ADD COLUMN object_id TEXT;
CREATE INDEX ix_outbox_merchant_object ON outbox (merchant_id, object_id, seq) WHERE object_id IS NOT NULL;
-- A replay of a time range reads one merchant's events by creation time.
CREATE INDEX ix_outbox_merchant_created ON outbox (merchant_id, created_at);

-- How many times the delivery was started again by a resend (bounded by Hutong:Webhooks:MaxResends): a resend puts a
-- finished delivery back to pending with a fresh schedule, keeping its event id (the webhook-id receivers dedupe on).
ALTER TABLE webhook_deliveries ADD COLUMN resends INTEGER NOT NULL DEFAULT 0;

-- Every attempt to send a delivery, as the merchant sees it in GET /v1/events/{id}: written by the dispatcher with the
-- outcome it recorded (only when its lease held), so at most one row per attempt; per delivery at most
-- (MaxResends + 1) × the schedule's length. Deleted with their event by the retention job.
CREATE TABLE webhook_delivery_attempts (
    id               {{identity}},
    delivery_id      BIGINT NOT NULL,
    event_id         TEXT NOT NULL,
    endpoint_id      TEXT NOT NULL,
    round            INTEGER NOT NULL,
    attempt          INTEGER NOT NULL,
    status_code      INTEGER,
    error            TEXT,
    latency_ms       BIGINT NOT NULL,
    response_snippet TEXT,
    attempted_at     BIGINT NOT NULL,
    next_retry_at    BIGINT
);
CREATE INDEX ix_webhook_delivery_attempts_event ON webhook_delivery_attempts (event_id, id);
