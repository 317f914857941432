-- When a hub first claimed a refund, split or split return to make its wallet call (set with the claim, committed
-- before the call). From then on the wallet may have it: a hub that takes the row over after that claim lapsed (the
-- claimant died or stalled mid-call) queries the wallet first and sends only what the wallet says it never got.
-- NULL: no hub claimed it since this column exists (a row claimed by a previous version is sent as before).
ALTER TABLE refunds ADD COLUMN sent_at BIGINT;
ALTER TABLE splits ADD COLUMN sent_at BIGINT;
ALTER TABLE split_returns ADD COLUMN sent_at BIGINT;
