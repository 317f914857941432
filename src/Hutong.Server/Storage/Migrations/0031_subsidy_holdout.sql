-- A subsidy campaign's control group (docs/subsidies.md, "Hold-out"): the percent of eligible buyers held out of the offer
-- (0: none; 0-50 checked by the API, not by a CHECK, so the previous version's hubs keep working on this schema).
ALTER TABLE subsidy_campaigns ADD COLUMN holdout_percent INTEGER NOT NULL DEFAULT 0;
-- Which arm a cashier view is of (Hutong.Domain.Subsidies.HoldoutArm): treatment (shown the offer, buyer assigned),
-- control (held out: shown the normal price where the offer would have been), unassigned (shown the offer, no buyer_id).
ALTER TABLE subsidy_views ADD COLUMN arm TEXT NOT NULL DEFAULT 'treatment';
-- Views recorded before this version whose payment has no buyer could not have been assigned either.
UPDATE subsidy_views SET arm = 'unassigned'
WHERE payment_id IN (SELECT id FROM payments WHERE buyer_id IS NULL OR buyer_id = '');
