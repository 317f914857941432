-- The checkout funnel's first stage (issue 15, docs/console-pages.md "Charts"): when the hosted checkout page
-- (/pay/{token}) was first served for a payment. Written once per payment by a conditional UPDATE (the page skips it
-- when the column is already set), so page views cost at most one write each payment; no buyer data, only the time.
ALTER TABLE payments ADD COLUMN cashier_opened_at BIGINT;
