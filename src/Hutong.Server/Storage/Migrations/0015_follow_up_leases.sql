-- A hub's claim on a refund, split or split return it is following (several hubs may share one database): set by a
-- conditional update before the wallet call, so no other hub sends or queries it meanwhile; lease_until lapses if the
-- hub dies mid-call, and the row is taken again. leased_by names the hub instance (for operators and the conditional
-- release). NULL: nobody holds it.
ALTER TABLE refunds ADD COLUMN lease_until BIGINT;
ALTER TABLE refunds ADD COLUMN leased_by TEXT;
ALTER TABLE splits ADD COLUMN lease_until BIGINT;
ALTER TABLE splits ADD COLUMN leased_by TEXT;
ALTER TABLE split_returns ADD COLUMN lease_until BIGINT;
ALTER TABLE split_returns ADD COLUMN leased_by TEXT;
