-- The event types a webhook endpoint receives, as ",type,type," (delimited so the fan-out can match a type with LIKE
-- on both stores). NULL: every event.
ALTER TABLE webhook_endpoints ADD COLUMN enabled_events TEXT;
